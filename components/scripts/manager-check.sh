#!/usr/bin/env bash
# Check that this node is an active swarm manager, able to admit and remove nodes.
# Run on the first manager before a node joins; changes nothing.
# Usage: manager-check.sh
set -euo pipefail
# shellcheck source=lib.sh
if ! declare -F hs_docker >/dev/null; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

state=$(hs_swarm_state)
[ "$state" = active ] || hs_die "this node is not in a swarm (state: $state)"
control=$(hs_docker info --format '{{.Swarm.ControlAvailable}}')
[ "$control" = true ] || hs_die "this node is a swarm worker, not a manager"
