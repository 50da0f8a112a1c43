#!/usr/bin/env bash
# swarm-tokens.sh
# On a manager: print {"worker":"SWMTKN-...","manager":"SWMTKN-..."} on one line.
# Tokens only ever go to stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-tokens.sh (no arguments)"
hs_require_manager

worker=$(hs_docker swarm join-token -q worker) || hs_die "docker swarm join-token worker failed"
manager=$(hs_docker swarm join-token -q manager) || hs_die "docker swarm join-token manager failed"
for token in "$worker" "$manager"; do
    [[ "$token" =~ ^SWMTKN-[A-Za-z0-9-]+$ ]] ||
        hs_die "docker swarm join-token returned something that is not a SWMTKN token"
done
printf '{"worker":"%s","manager":"%s"}\n' "$worker" "$manager"
