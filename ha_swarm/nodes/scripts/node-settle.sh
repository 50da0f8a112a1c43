#!/usr/bin/env bash
# node-settle.sh NODE_ID NAME ROLE [KEY=VALUE ...]
# On a manager: wait until node NODE_ID is ready (and, for a manager, reachable),
# check its role, and set the labels ha-swarm.name=NAME and KEY=VALUE... where
# their current value differs. The ha-swarm. prefix belongs to the program: a
# label under it that is not asked for any more is removed (labels set by hand
# under other names are left alone). Prints nothing on stdout.
# Timeout: HS_SETTLE_TIMEOUT seconds (default 300).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -ge 3 ] || hs_die "usage: node-settle.sh NODE_ID NAME ROLE [KEY=VALUE ...]"
node_id=$1 name=$2 role=$3
shift 3
[ -n "$node_id" ] || hs_die "NODE_ID is empty"
[ -n "$name" ] || hs_die "NAME is empty"
case "$role" in
    manager | worker) ;;
    *) hs_die "ROLE must be 'manager' or 'worker', got '${role}'" ;;
esac

# Desired labels, in argument order (a repeated key: the last value wins).
declare -A want=()
declare -a keys=()
want[ha-swarm.name]=$name
keys+=(ha-swarm.name)
for kv in "$@"; do
    [[ "$kv" == *=* ]] || hs_die "label argument '${kv}' is not KEY=VALUE"
    key=${kv%%=*}
    value=${kv#*=}
    [ -n "$key" ] || hs_die "label argument '${kv}' has an empty key"
    [[ "$key" != *[[:space:]]* ]] || hs_die "label key '${key}' contains whitespace"
    [ "$key" != ha-swarm.name ] || hs_die "label ha-swarm.name is reserved (it is set from NAME)"
    [ -n "${want[$key]+set}" ] || keys+=("$key")
    want[$key]=$value
done

hs_require_manager
timeout_s=$(hs_timeout_from HS_SETTLE_TIMEOUT 300)

status="" spec_role="" reach=""
node_settled() {
    local out
    if ! out=$(hs_docker node inspect --format \
        '{{.Status.State}} {{.Spec.Role}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}}{{else}}none{{end}}' \
        -- "$node_id" 2>/dev/null); then
        status="not found" spec_role="" reach=""
        return 1
    fi
    read -r status spec_role reach <<<"$out"
    [ "$spec_role" = "$role" ] ||
        hs_die "node ${name} (${node_id}) is a ${spec_role}, expected a ${role}"
    [ "$status" = ready ] || return 1
    [ "$role" = worker ] || [ "$reach" = reachable ]
}

if ! node_settled; then
    hs_log "waiting up to ${timeout_s}s for node ${name} (${node_id}) to be ready"
    hs_wait "$timeout_s" 2 node_settled ||
        hs_die "node ${name} (${node_id}) did not settle within ${timeout_s}s: state ${status:-unknown}${reach:+, manager reachability ${reach}}"
fi

# Current labels as KEY<US>VALUE<RS> records.
US=$'\x1f' RS=$'\x1e'
current_raw=$(hs_docker node inspect --format "{{range \$k, \$v := .Spec.Labels}}{{\$k}}${US}{{\$v}}${RS}{{end}}" -- "$node_id") ||
    hs_die "cannot read the labels of node ${node_id}"
declare -A have=()
while IFS="$US" read -r -d "$RS" key value; do
    have[$key]=$value
done <<<"$current_raw"

declare -a update=()
for key in "${keys[@]}"; do
    if [ -z "${have[$key]+set}" ] || [ "${have[$key]}" != "${want[$key]}" ]; then
        update+=(--label-add "${key}=${want[$key]}")
    fi
done
for key in "${!have[@]}"; do
    if [[ "$key" == ha-swarm.* ]] && [ -z "${want[$key]+set}" ]; then
        update+=(--label-rm "$key")
    fi
done

if [ "${#update[@]}" -eq 0 ]; then
    hs_log "node ${name} (${node_id}) is ready and its labels are up to date"
    exit 0
fi
hs_log "updating $((${#update[@]} / 2)) label(s) on node ${name} (${node_id})"
hs_docker node update "${update[@]}" -- "$node_id" >/dev/null ||
    hs_die "docker node update of node ${node_id} failed"
