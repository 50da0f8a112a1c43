#!/usr/bin/env bash
# swarm-leave.sh [--force]
# Make this node leave its swarm. A worker leaves; a manager is refused unless
# --force is given (only for the last manager on a full destroy).
# Prints nothing on stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

force=false
case "$#:${1:-}" in
    0:) ;;
    1:--force) force=true ;;
    *) hs_die "usage: swarm-leave.sh [--force]" ;;
esac

state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
case "$state" in
    inactive)
        hs_log "not in a swarm; nothing to do"
        exit 0
        ;;
    active)
        ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
        if [ "$ctl" = true ] && [ "$force" = false ]; then
            # Demoted by node-drain.sh but the demotion has not reached this node yet?
            self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
            desired=$(hs_docker node inspect --format '{{.Spec.Role}}' -- "$self_id" 2>/dev/null || true)
            if [ "$desired" = worker ]; then
                hs_log "this node is being demoted; waiting for it to become a worker"
                worker_now() {
                    ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
                    [ "$ctl" != true ]
                }
                hs_wait "$(hs_timeout_from HS_LEAVE_TIMEOUT 60)" 1 worker_now ||
                    hs_die "this node was demoted but is still a manager; refusing to leave"
            fi
        fi
        if [ "$ctl" = true ]; then
            [ "$force" = true ] ||
                hs_die "this node is a swarm manager: demote it first (node-drain.sh on another manager), or use --force only for the last manager"
            hs_log "leaving the swarm as a manager (--force)"
            hs_docker swarm leave --force >/dev/null || hs_die "docker swarm leave --force failed"
        else
            hs_log "leaving the swarm"
            hs_docker swarm leave >/dev/null || hs_die "docker swarm leave failed"
        fi
        ;;
    *)
        [ "$force" = true ] ||
            hs_die "swarm state of this node is '${state}'; refusing to leave without --force"
        hs_log "swarm state is '${state}'; leaving with --force"
        hs_docker swarm leave --force >/dev/null || hs_die "docker swarm leave --force failed"
        ;;
esac
