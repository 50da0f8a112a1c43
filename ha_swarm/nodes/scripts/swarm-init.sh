#!/usr/bin/env bash
# swarm-init.sh ADVERTISE_ADDR
# Initialise a swarm on this node unless it already is a manager of one.
# Prints this node's swarm node ID on stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 1 ] || [ -z "$1" ]; then hs_die "usage: swarm-init.sh ADVERTISE_ADDR"; fi
addr=$1

state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
case "$state" in
    active)
        ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
        [ "$ctl" = true ] ||
            hs_die "this node is already a worker in a swarm; refusing to initialise a new swarm (leave it first)"
        hs_log "already a swarm manager; nothing to do"
        ;;
    inactive)
        hs_log "initialising swarm, advertising ${addr}"
        # stdout of `swarm init` contains a join token: never show it.
        hs_docker swarm init --advertise-addr "$addr" --listen-addr "$(hs_hostport "$addr" 2377)" >/dev/null ||
            hs_die "docker swarm init failed (advertise address ${addr})"
        ;;
    *)
        hs_die "cannot initialise: swarm state of this node is '${state}' (expected inactive or active); fix it by hand"
        ;;
esac

node_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
[ -n "$node_id" ] || hs_die "swarm node ID is empty after init"
printf '%s\n' "$node_id"
