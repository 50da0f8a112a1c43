#!/usr/bin/env bash
# node-drain.sh NODE_ID
# On a manager, before a node is removed: refuse if removing it would break the
# Raft quorum or if it is the node this runs on; set availability drain, wait
# until its tasks stopped running, demote it if it is a manager.
# Prints nothing on stdout. Timeout: HS_DRAIN_TIMEOUT seconds (default 120).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 1 ] || [ -z "$1" ]; then hs_die "usage: node-drain.sh NODE_ID"; fi
node_id=$1

hs_require_manager
timeout_s=$(hs_timeout_from HS_DRAIN_TIMEOUT 120)

if ! hs_node_exists "$node_id"; then
    hs_log "node ${node_id} is not in the swarm; nothing to do"
    exit 0
fi

info=$(hs_docker node inspect --format '{{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}}' -- "$node_id") ||
    hs_die "cannot inspect node ${node_id}"
read -r spec_role availability node_state <<<"$info"

if [ "$spec_role" = manager ]; then
    # Raft quorum: after this node is removed the remaining managers must keep
    # a strict majority of reachable members.
    manager_ids=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
    # shellcheck disable=SC2086 # word splitting of the ID list is intended
    reach_list=$(hs_docker node inspect --format '{{.ID}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{else}}none{{end}}' $manager_ids) ||
        hs_die "cannot inspect the managers"
    total=0 reachable=0 target_reachable=0
    while read -r id reach; do
        [ -n "$id" ] || continue
        total=$((total + 1))
        if [ "$reach" = reachable ]; then
            reachable=$((reachable + 1))
            [ "$id" != "$node_id" ] || target_reachable=1
        fi
    done <<<"$reach_list"
    remaining=$((total - 1))
    remaining_reachable=$((reachable - target_reachable))
    if [ "$remaining" -lt 1 ]; then
        hs_die "refusing to remove node ${node_id}: it is the last manager (Raft quorum: ${total} manager(s), ${remaining} would remain)"
    fi
    if [ $((2 * remaining_reachable)) -le "$remaining" ]; then
        hs_die "refusing to remove manager ${node_id}: Raft quorum would be lost (managers: ${total} total, ${reachable} reachable; after removal ${remaining} would remain with only ${remaining_reachable} reachable, a strict majority needs $((remaining / 2 + 1)))"
    fi
    hs_log "quorum check passed: ${total} managers (${reachable} reachable) -> ${remaining} (${remaining_reachable} reachable)"
fi

self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
[ "$node_id" != "$self_id" ] ||
    hs_die "refusing to drain node ${node_id}: it is the node this script runs on; run it on another manager"

if [ "$availability" != drain ]; then
    hs_log "setting availability of node ${node_id} to drain"
    hs_docker node update --availability drain -- "$node_id" >/dev/null ||
        hs_die "docker node update --availability drain ${node_id} failed"
fi

hs_wait_tasks_stopped "$node_id" "${node_id}" "$node_state" "$timeout_s"

if [ "$spec_role" = manager ]; then
    hs_log "demoting node ${node_id}"
    hs_docker node demote -- "$node_id" >/dev/null ||
        hs_die "docker node demote ${node_id} failed"
fi

# The demotion completes asynchronously (Raft membership, then the node's own
# certificate): wait until the swarm no longer lists it as a manager, so that
# swarm-leave.sh on the node and node-remove.sh find a worker.
demoted() {
    local out
    out=$(hs_docker node inspect --format '{{if .ManagerStatus}}manager{{else}}worker{{end}}' -- "$node_id") ||
        hs_die "cannot inspect node ${node_id}"
    [ "$out" = worker ]
}
if ! demoted; then
    hs_wait "$timeout_s" 1 demoted ||
        hs_die "node ${node_id} is still listed as a manager ${timeout_s}s after its demotion"
fi
hs_log "node ${node_id} is drained"
