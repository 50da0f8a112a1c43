#!/usr/bin/env bash
# swarm-join.sh ROLE MANAGER_ADDR ADVERTISE_ADDR   (join token on stdin)
# Join this node to the swarm managed at MANAGER_ADDR as ROLE (manager|worker)
# unless it already is an active member with that role. Prints the node ID.
# The token is never echoed: not on stdout, not on stderr, not in messages.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 3 ] || hs_die "usage: swarm-join.sh ROLE MANAGER_ADDR ADVERTISE_ADDR (token on stdin)"
role=$1 manager_addr=$2 addr=$3
case "$role" in
    manager | worker) ;;
    *) hs_die "ROLE must be 'manager' or 'worker', got '${role}'" ;;
esac
[ -n "$manager_addr" ] || hs_die "MANAGER_ADDR is empty"
[ -n "$addr" ] || hs_die "ADVERTISE_ADDR is empty"

token=""
IFS= read -r token || true
token=${token//$'\r'/}
token=${token//[[:space:]]/}
[ -n "$token" ] || hs_die "no join token on stdin (expected one line)"
[[ "$token" =~ ^SWMTKN-[A-Za-z0-9-]+$ ]] || hs_die "the join token read from stdin is not a SWMTKN token"

join_timeout=$(hs_timeout_from HS_JOIN_TIMEOUT 120)

state=""
state_settled() {
    state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
    [ "$state" != pending ]
}

state_settled || {
    hs_log "swarm state is pending; waiting up to ${join_timeout}s for it to settle"
    hs_wait "$join_timeout" 2 state_settled ||
        hs_die "swarm state of this node stayed 'pending' for ${join_timeout}s (a join in progress cannot reach the managers?); 'docker swarm leave --force' cancels it"
}

case "$state" in
    active)
        ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
        current=worker
        [ "$ctl" != true ] || current=manager
        [ "$current" = "$role" ] ||
            hs_die "this node is already in a swarm as a ${current}, not as a ${role}; join does not change roles (promote/demote it from a manager)"
        hs_log "already in the swarm as a ${role}; nothing to do"
        ;;
    inactive)
        hs_log "joining the swarm at ${manager_addr} as a ${role}, advertising ${addr}"
        rc=0
        err=$(hs_docker swarm join --token "$token" \
            --advertise-addr "$addr" --listen-addr "$(hs_hostport "$addr" 2377)" \
            "$(hs_hostport "$manager_addr" 2377)" 2>&1 >/dev/null) || rc=$?
        err=$(printf '%s' "${err//"$token"/<token>}" | tr -s '\n\t ' '   ')
        [ "$rc" -eq 0 ] || hs_log "docker swarm join returned ${rc}; checking the swarm state"
        # Done waiting once the join succeeded (active) or failed (inactive, error).
        hs_wait "$join_timeout" 2 state_settled || true
        if [ "$state" != active ]; then
            swarm_err=$(hs_docker info --format '{{.Swarm.Error}}' 2>/dev/null || true)
            swarm_err=$(printf '%s' "${swarm_err//"$token"/<token>}" | tr -s '\n\t ' '   ')
            # Our own attempt failed or hangs: cancel it, so that a retry starts from inactive.
            if [ "$state" != inactive ]; then
                hs_docker swarm leave --force >/dev/null 2>&1 || true
            fi
            hs_die "could not join the swarm at ${manager_addr} (state ${state}${swarm_err:+: ${swarm_err}}${err:+; docker: ${err}}); the attempt was cancelled"
        fi
        ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
        if [ "$role" = manager ] && [ "$ctl" != true ]; then
            hs_die "joined the swarm but not as a manager: was the worker token given for ROLE=manager?"
        fi
        if [ "$role" = worker ] && [ "$ctl" = true ]; then
            hs_die "joined the swarm as a manager although ROLE=worker: was the manager token given?"
        fi
        ;;
    locked)
        hs_die "cannot check this node's membership: $(hs_locked_advice)"
        ;;
    error)
        swarm_err=$(hs_docker info --format '{{.Swarm.Error}}' 2>/dev/null || true)
        hs_die "cannot join: swarm state of this node is 'error'${swarm_err:+ (${swarm_err//"$token"/<token>})}; if it is a failed join, run 'docker swarm leave --force' on it and retry"
        ;;
    *)
        hs_die "cannot join: swarm state of this node is '${state}' (expected inactive or active); fix it by hand"
        ;;
esac

node_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
[ -n "$node_id" ] || hs_die "swarm node ID is empty after join"
printf '%s\n' "$node_id"
