#!/usr/bin/env bash
# swarm-forget-stale.sh
# On a manager, after a restore once the nodes joined again: remove the stale node entries, the
# entries of the backup whose node left and joined again under a new node ID (same ha-swarm.name
# label). Waits until each such name has one entry that is not down (a node that has just left is
# reported down some seconds later), then removes the down ones (a stale manager entry is demoted
# first). Prints nothing on stdout. Timeout: HS_FORGET_TIMEOUT seconds (default 120).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-forget-stale.sh (no arguments)"
hs_require_manager
timeout_s=$(hs_timeout_from HS_FORGET_TIMEOUT 120)

rows="" busy=""
# settled: true when every name label carried by more than one entry has exactly one entry not down.
settled() {
    local ids id state role name
    ids=$(hs_docker node ls -q) || hs_die "cannot list swarm nodes (docker node ls failed)"
    # shellcheck disable=SC2086 # word splitting of the ID list is intended
    rows=$(hs_docker node inspect --format '{{.ID}} {{.Status.State}} {{.Spec.Role}} {{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}-{{end}}' $ids) ||
        hs_die "cannot inspect swarm nodes"
    declare -A count=() up=()
    while read -r id state role name; do
        [ "$name" != - ] || continue
        count[$name]=$((${count[$name]:-0} + 1))
        [ "$state" = down ] || up[$name]=$((${up[$name]:-0} + 1))
    done <<<"$rows"
    busy=""
    for name in "${!count[@]}"; do
        if [ "${count[$name]}" -gt 1 ] && [ "${up[$name]:-0}" -ne 1 ]; then busy="${busy:+$busy, }${name}"; fi
    done
    [ -z "$busy" ]
}
if ! settled; then
    hs_log "waiting up to ${timeout_s}s for the old entries of ${busy} to be down"
    hs_wait "$timeout_s" 2 settled || hs_die "node(s) ${busy} still have more than one entry that is not down after ${timeout_s}s"
fi

declare -A twins=()
while read -r id state role name; do
    if [ "$name" != - ] && [ "$state" != down ]; then twins[$name]=$id; fi
done <<<"$rows"
removed=0
while read -r id state role name; do
    if [ "$state" != down ] || [ "$name" = - ] || [ -z "${twins[$name]+set}" ]; then continue; fi
    if [ "$role" = manager ]; then
        hs_docker node demote -- "$id" >/dev/null || hs_die "docker node demote ${id} failed"
    fi
    hs_log "removing the stale entry ${id} of node ${name} (it joined again as ${twins[$name]})"
    hs_docker node rm --force -- "$id" >/dev/null || hs_die "docker node rm ${id} failed"
    removed=$((removed + 1))
done <<<"$rows"
hs_log "removed ${removed} stale node entr$([ "$removed" -eq 1 ] && echo y || echo ies)"
