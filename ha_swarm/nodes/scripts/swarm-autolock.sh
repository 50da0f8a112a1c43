#!/usr/bin/env bash
# swarm-autolock.sh on|off
# On a manager: turn the swarm's autolock on or off, where it is not already so.
# With autolock on, a manager whose Docker daemon restarts stays locked (it takes no part in Raft
# and runs no tasks) until `docker swarm unlock` is given the unlock key.
# `on` prints the unlock key (SWMKEY-1-...) on stdout, and only there; `off` prints nothing.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 1 ] || hs_die "usage: swarm-autolock.sh on|off"
case "$1" in
    on) want=true ;;
    off) want=false ;;
    *) hs_die "usage: swarm-autolock.sh on|off (got '$1')" ;;
esac
hs_require_manager

current=$(hs_docker info --format '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}') ||
    hs_die "cannot query the Docker daemon (docker info failed)"
if [ "$current" = "$want" ]; then
    hs_log "autolock is already ${1}; nothing to do"
else
    hs_log "turning autolock ${1}"
    # `swarm update --autolock=true` prints the unlock key: hs_docker_update never shows it.
    hs_docker_update swarm update --autolock="$want" ||
        hs_die "docker swarm update --autolock=${want} failed: ${HS_DOCKER_ERR}"
fi

if [ "$want" = true ]; then
    key=$(hs_docker swarm unlock-key -q 2>/dev/null) || hs_die "docker swarm unlock-key failed"
    [[ "$key" =~ ^SWMKEY-[A-Za-z0-9+/=-]+$ ]] ||
        hs_die "docker swarm unlock-key returned something that is not a SWMKEY key"
    printf '%s\n' "$key"
fi
