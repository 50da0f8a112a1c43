#!/usr/bin/env bash
# engine-activate.sh NAME VERSION
# On a manager, the last step of a node's Docker Engine upgrade: wait until the
# node labelled ha-swarm.name=NAME is ready (a manager: reachable too) and its
# engine reports VERSION; if engine-drain.sh drained it (label
# ha-swarm-engine-upgrade), set its availability back to active and remove the
# label (a drain made by hand stays); then wait until the services converge:
# every replicated and global service runs as many tasks as it wants.
# Running it again changes nothing. Prints nothing on stdout.
# Timeout: HS_ENGINE_TIMEOUT seconds (default 300) for each of the two waits.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then hs_die "usage: engine-activate.sh NAME VERSION"; fi
name=$1 version=$2
mark=ha-swarm-engine-upgrade

runs_version() {
    case "$1" in
        "$version" | "$version"+* | "$version"~* | "$version"-*) return 0 ;;
        *) return 1 ;;
    esac
}

# The manager this runs on may itself have just restarted: give its daemon and its Raft time.
timeout_s=$(hs_timeout_from HS_ENGINE_TIMEOUT 300)
manager_up() {
    local state ctl
    state=$(hs_swarm_state 2>/dev/null) || return 1
    [ "$state" != locked ] || hs_die "$(hs_locked_advice)"
    [ "$state" = active ] || return 1
    ctl=$(hs_control_available 2>/dev/null) || return 1
    [ "$ctl" = true ] && hs_docker node ls -q >/dev/null 2>&1
}
hs_wait "$timeout_s" 2 manager_up || hs_require_manager

ids=$(hs_docker node ls -q --filter "node.label=ha-swarm.name=${name}") || hs_die "cannot list swarm nodes (docker node ls failed)"
[ -n "$ids" ] || hs_die "no swarm node is labelled ha-swarm.name=${name}"
[ "$(printf '%s\n' "$ids" | wc -l)" -eq 1 ] || hs_die "more than one swarm node is labelled ha-swarm.name=${name}: ${ids//$'\n'/ }"
node_id=$ids

status="" reach="" engine="" drained=""
node_back() {
    local out role
    out=$(hs_docker node inspect --format \
        '{{.Status.State}} {{.Spec.Role}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{else}}none{{end}} {{.Description.Engine.EngineVersion}} {{index .Spec.Labels "'"$mark"'"}}' \
        -- "$node_id" 2>/dev/null) || return 1
    read -r status role reach engine drained <<<"$out"
    [ "$status" = ready ] || return 1
    [ "$role" = worker ] || [ "$reach" = reachable ] || return 1
    runs_version "$engine"
}
if ! node_back; then
    hs_log "waiting up to ${timeout_s}s for node ${name} to be ready with Docker Engine ${version}"
    hs_wait "$timeout_s" 2 node_back ||
        hs_die "node ${name} is not back within ${timeout_s}s: state ${status:-unknown}, reachability ${reach:-unknown}, engine ${engine:-unknown} (wanted ${version}); it stays drained"
fi

if [ -n "$drained" ]; then
    hs_log "node ${name} runs Docker Engine ${engine}: setting its availability to active"
    hs_docker node update --availability active --label-rm "$mark" -- "$node_id" >/dev/null ||
        hs_die "docker node update --availability active ${name} failed"
fi

pending=""
converged() {
    local out svc mode replicas running wanted
    out=$(hs_docker service ls --format '{{.Name}} {{.Mode}} {{.Replicas}}') || hs_die "docker service ls failed"
    pending=""
    while read -r svc mode replicas _; do
        [ -n "$svc" ] || continue
        case "$mode" in
            replicated | global) ;;
            *) continue ;; # jobs run to completion: nothing to converge to
        esac
        running=${replicas%%/*} wanted=${replicas#*/}
        [ "$running" = "$wanted" ] || pending="${pending:+$pending, }${svc} ${replicas}"
    done <<<"$out"
    [ -z "$pending" ]
}
if ! converged; then
    hs_log "waiting up to ${timeout_s}s for the services to converge (${pending})"
    hs_wait "$timeout_s" 2 converged ||
        hs_die "the services did not converge within ${timeout_s}s after node ${name} came back: ${pending}"
fi
hs_log "node ${name} runs Docker Engine ${engine}; the services have converged"
