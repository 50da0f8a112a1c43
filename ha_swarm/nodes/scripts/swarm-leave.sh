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
            # Demoted by node-drain.sh but the demotion has not reached this node yet? While it is
            # being torn down, this node may also fail to answer `node inspect` for a moment: only a
            # role read as "manager" is a real refusal; "worker" or no answer means wait and see.
            self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
            said=false
            # Done when this node is a worker (ctl=false) or its role reads "manager" (ctl stays true).
            settled() {
                ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
                [ "$ctl" != true ] && return 0
                desired=$(hs_docker node inspect --format '{{.Spec.Role}}' -- "$self_id" 2>/dev/null || true)
                [ "$desired" != manager ] || return 0
                [ "$said" = true ] || hs_log "this node is being demoted; waiting for it to become a worker"
                said=true
                return 1
            }
            hs_wait "$(hs_timeout_from HS_LEAVE_TIMEOUT 60)" 1 settled ||
                hs_die "this node is still a manager (demoted, or its role cannot be read) after the wait; refusing to leave"
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
