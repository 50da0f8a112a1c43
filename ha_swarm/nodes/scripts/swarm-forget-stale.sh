#!/usr/bin/env bash
# swarm-forget-stale.sh
# On a manager, after a restore once the nodes joined again: remove the stale node entries, those
# that are down and carry the ha-swarm.name label of a node that is ready (the same machine, joined
# again under a new node ID). A stale manager entry is demoted first. Prints nothing on stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-forget-stale.sh (no arguments)"
hs_require_manager
ids=$(hs_docker node ls -q) || hs_die "cannot list swarm nodes (docker node ls failed)"
# shellcheck disable=SC2086 # word splitting of the ID list is intended
rows=$(hs_docker node inspect --format '{{.ID}} {{.Status.State}} {{.Spec.Role}} {{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}-{{end}}' $ids) ||
    hs_die "cannot inspect swarm nodes"
declare -A ready=()
while read -r id state role name; do
    [ "$state" != ready ] || [ "$name" = - ] || ready[$name]=$id
done <<<"$rows"
removed=0
while read -r id state role name; do
    if [ "$state" != down ] || [ "$name" = - ] || [ -z "${ready[$name]+set}" ]; then continue; fi
    if [ "$role" = manager ]; then
        hs_docker node demote -- "$id" >/dev/null || hs_die "docker node demote ${id} failed"
    fi
    hs_log "removing the stale entry ${id} of node ${name} (it joined again as ${ready[$name]})"
    hs_docker node rm --force -- "$id" >/dev/null || hs_die "docker node rm ${id} failed"
    removed=$((removed + 1))
done <<<"$rows"
hs_log "removed ${removed} stale node entr$([ "$removed" -eq 1 ] && echo y || echo ies)"
