#!/usr/bin/env bash
# swarm-rotate-tokens.sh
# On a manager: rotate the worker and the manager join tokens. The old tokens stop working at once
# (a `docker swarm join` with one of them is refused); nodes already in the swarm stay, untouched.
# Prints nothing on stdout: the program reads the new tokens afterwards.
# Each run rotates again: the program runs it once per generation (swarm.rotateTokens).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-rotate-tokens.sh (no arguments)"
hs_require_manager

for role in worker manager; do
    # `--rotate -q` prints the new token: hs_docker_update never shows it.
    hs_docker_update swarm join-token --rotate -q "$role" ||
        hs_die "docker swarm join-token --rotate ${role} failed: ${HS_DOCKER_ERR}"
done
hs_log "rotated the worker and manager join tokens; the old ones are refused from now on"
