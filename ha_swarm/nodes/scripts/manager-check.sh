#!/usr/bin/env bash
# manager-check.sh: check that this node is an active swarm manager, able to
# admit and remove nodes.  Run on the first manager before a node joins;
# changes nothing.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

hs_require_manager
