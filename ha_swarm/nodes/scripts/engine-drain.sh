#!/usr/bin/env bash
# engine-drain.sh NAME VERSION
# On a manager, the first step of a node's Docker Engine upgrade: find the node
# labelled ha-swarm.name=NAME; if its engine already runs VERSION, do nothing.
# Otherwise, for a manager, refuse unless the swarm has a leader and the other
# managers keep a strict majority while this one restarts; then set availability
# drain, mark the node with the label ha-swarm-engine-upgrade=drained (so that
# engine-activate.sh gives back only a drain it made) and wait until its tasks
# stopped. Running it again changes nothing. Prints nothing on stdout.
# Timeout: HS_ENGINE_TIMEOUT seconds (default 300).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 2 ] || [ -z "$1" ] || [ -z "$2" ]; then hs_die "usage: engine-drain.sh NAME VERSION"; fi
name=$1 version=$2
mark=ha-swarm-engine-upgrade

hs_require_manager
timeout_s=$(hs_timeout_from HS_ENGINE_TIMEOUT 300)

# runs_version ENGINE_VERSION: true if it is VERSION, or VERSION with a distribution suffix (+dfsg1, ~deb12).
runs_version() {
    case "$1" in
        "$version" | "$version"+* | "$version"~* | "$version"-*) return 0 ;;
        *) return 1 ;;
    esac
}

ids=$(hs_docker node ls -q --filter "node.label=ha-swarm.name=${name}") || hs_die "cannot list swarm nodes (docker node ls failed)"
[ -n "$ids" ] || hs_die "no swarm node is labelled ha-swarm.name=${name}"
[ "$(printf '%s\n' "$ids" | wc -l)" -eq 1 ] || hs_die "more than one swarm node is labelled ha-swarm.name=${name}: ${ids//$'\n'/ }"
node_id=$ids

info=$(hs_docker node inspect --format '{{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} {{.Description.Engine.EngineVersion}}' -- "$node_id") ||
    hs_die "cannot inspect node ${name} (${node_id})"
read -r role availability node_state engine <<<"$info"

if runs_version "$engine"; then
    hs_log "node ${name} already runs Docker Engine ${engine}; nothing to do"
    exit 0
fi

if [ "$role" = manager ]; then
    manager_ids=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
    # shellcheck disable=SC2086 # word splitting of the ID list is intended
    status_list=$(hs_docker node inspect --format '{{.ID}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}{{else}}none false{{end}}' $manager_ids) ||
        hs_die "cannot inspect the managers"
    total=0 others=0 leaders=0
    while read -r id reach leader; do
        [ -n "$id" ] || continue
        total=$((total + 1))
        [ "$leader" != true ] || leaders=$((leaders + 1))
        if [ "$reach" = reachable ] && [ "$id" != "$node_id" ]; then
            others=$((others + 1))
        fi
    done <<<"$status_list"
    [ "$leaders" -eq 1 ] || hs_die "refusing to upgrade manager ${name}: the swarm has no leader (Raft quorum lost or an election under way)"
    if [ "$total" -eq 1 ]; then
        hs_log "${name} is the only manager: while its Docker Engine restarts the swarm cannot be managed (running tasks on the other nodes keep serving)"
    elif [ $((2 * others)) -le "$total" ]; then
        hs_die "refusing to upgrade manager ${name}: Raft quorum would be lost while it restarts (managers: ${total}; the others reachable: ${others}; a strict majority needs $((total / 2 + 1)))"
    else
        hs_log "quorum check passed: ${total} managers, a leader, ${others} others reachable while ${name} restarts"
    fi
fi

if [ "$availability" != drain ]; then
    hs_log "node ${name} runs Docker Engine ${engine}, not ${version}: setting its availability to drain"
    hs_docker node update --availability drain --label-add "${mark}=drained" -- "$node_id" >/dev/null ||
        hs_die "docker node update --availability drain ${name} failed"
fi

hs_wait_tasks_stopped "$node_id" "${name}" "$node_state" "$timeout_s"
hs_log "node ${name} is drained for its Docker Engine upgrade to ${version}"
