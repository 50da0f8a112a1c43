#!/usr/bin/env bash
# node-remove.sh NAME ADDR
# On a manager, after the node left: remove the swarm node(s) labelled
# ha-swarm.name=NAME (or, if none, the unlabelled nodes whose address is ADDR)
# once they are down. Prints nothing on stdout.
# Timeout: HS_REMOVE_TIMEOUT seconds (default 90).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then hs_die "usage: node-remove.sh NAME ADDR"; fi
name=$1 addr=$2

hs_require_manager
timeout_s=$(hs_timeout_from HS_REMOVE_TIMEOUT 90)

ids=$(hs_docker node ls -q --filter "node.label=ha-swarm.name=${name}") ||
    hs_die "cannot list swarm nodes (docker node ls failed)"
if [ -z "$ids" ]; then
    # Fallback: a node that never got its name label (it left before node-settle
    # ran). Match it by address; a node labelled with another name (a
    # replacement at the same address) and this node itself are never matched.
    # Its state is not required to be down yet: a node that has just left is
    # reported down only some seconds later; the wait below covers that.
    self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
    all=$(hs_docker node ls -q) || hs_die "cannot list swarm nodes (docker node ls failed)"
    if [ -n "$all" ]; then
        # shellcheck disable=SC2086 # word splitting of the ID list is intended
        rows=$(hs_docker node inspect --format '{{.ID}} {{.Status.Addr}} {{index .Spec.Labels "ha-swarm.name"}}' $all) ||
            hs_die "cannot inspect swarm nodes"
        while read -r id node_addr label; do
            if [ "$node_addr" = "$addr" ] && [ -z "$label" ] && [ "$id" != "$self_id" ]; then
                ids+="${ids:+$'\n'}${id}"
            fi
        done <<<"$rows"
    fi
fi

if [ -z "$ids" ]; then
    hs_log "no swarm node named ${name} (or unlabelled at ${addr}); nothing to do"
    exit 0
fi

state="" role=""
node_down() {
    local out
    out=$(hs_docker node inspect --format '{{.Status.State}} {{.Spec.Role}}' -- "$1") ||
        hs_die "cannot inspect node $1"
    read -r state role <<<"$out"
    [ "$role" != manager ] ||
        hs_die "node ${name} ($1) is still a manager: it must be demoted first (node-drain.sh)"
    [ "$state" = down ]
}

while read -r id; do
    [ -n "$id" ] || continue
    if ! node_down "$id"; then
        hs_log "waiting up to ${timeout_s}s for node ${name} (${id}) to be down"
        hs_wait "$timeout_s" 2 node_down "$id" ||
            hs_die "node ${name} (${id}) is still '${state}' after ${timeout_s}s: it has not left the swarm (run swarm-leave.sh on it first)"
    fi
    hs_log "removing node ${name} (${id})"
    hs_docker node rm -- "$id" >/dev/null || hs_die "docker node rm ${id} failed"
done <<<"$ids"
