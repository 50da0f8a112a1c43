#!/usr/bin/env bash
# verify.sh [TIMEOUT_SECONDS [SETTLE_SECONDS]] < PLAN
# On a manager: check the cluster the way the tutorial does by hand, print a table
# CHECK | TARGET | RESULT | DETAIL on stdout and exit 1 if any check failed. Changes nothing.
#
# PLAN (stdin), one item a line, fields separated by blanks ('#' lines and blank lines skipped):
#   node NAME                  a node of the stack: its ha-swarm.name label (else its hostname)
#   service NAME COUNT         a service and its running tasks: a number, or `global` (one task on
#                              every node the swarm deems eligible)
#   endpoint SCHEME HOST SERVICE STICKY ADDR...
#                              Traefik answers for HOST (http or https) on every ADDR; STICKY is
#                              `plain`, `sticky` (any cookie) or `sticky:COOKIE`; SERVICE is the
#                              swarm service behind HOST
# Checks:
#   node      every node of the swarm (and of the plan) Ready and Active;
#   managers  every manager reachable, exactly one leader;
#   service   every service of the swarm (and of the plan) with as many running tasks, on Ready
#             nodes, as the plan declares (else as the swarm wants);
#   endpoint  one request per address answers with a status below 400 (http: `-H Host:HOST`
#             to http://ADDR/; https: `--resolve HOST:443:ADDR`, an untrusted certificate is
#             noted, not failed);
#   sticky    with a cookie jar, STICKY_REQUESTS requests answer from one task (its `Hostname:`
#             line, else the sticky cookie's value); without cookies, from more than one when
#             the service runs more than one task.
# A fresh deploy converges: failed checks are run again every 3 s for up to TIMEOUT_SECONDS
# (default HS_VERIFY_TIMEOUT, else 60) before the table is printed. Right after a deploy, Traefik
# may still route by the services' previous labels (its swarm provider reads them every 15 s):
# SETTLE_SECONDS (default 0) are waited before the first check, so that stale routes cannot pass.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -le 2 ] || hs_die "usage: verify.sh [TIMEOUT_SECONDS [SETTLE_SECONDS]] < PLAN"
timeout_s=${1:-$(hs_timeout_from HS_VERIFY_TIMEOUT 60)}
hs_is_uint "$timeout_s" || hs_die "TIMEOUT_SECONDS must be a whole number of seconds, got '${timeout_s}'"
settle_s=${2:-0}
hs_is_uint "$settle_s" || hs_die "SETTLE_SECONDS must be a whole number of seconds, got '${settle_s}'"
STICKY_REQUESTS=6

# ------------------------------------------------------------------------------------- the plan

declare -a plan_nodes=() plan_service_names=() plan_endpoints=()
declare -A plan_services=()
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
    line_no=$((line_no + 1))
    read -r -a words <<<"$line"
    [ "${#words[@]}" -gt 0 ] || continue
    case "${words[0]}" in
        '#'*) ;;
        node)
            [ "${#words[@]}" -eq 2 ] || hs_die "plan line ${line_no}: expected 'node NAME', got '${line}'"
            plan_nodes+=("${words[1]}")
            ;;
        service)
            [ "${#words[@]}" -eq 3 ] || hs_die "plan line ${line_no}: expected 'service NAME COUNT', got '${line}'"
            [ "${words[2]}" = global ] || hs_is_uint "${words[2]}" ||
                hs_die "plan line ${line_no}: COUNT must be a number or 'global', got '${words[2]}'"
            [ -n "${plan_services[${words[1]}]+set}" ] || plan_service_names+=("${words[1]}")
            plan_services[${words[1]}]=${words[2]}
            ;;
        endpoint)
            [ "${#words[@]}" -ge 6 ] || hs_die "plan line ${line_no}: expected 'endpoint SCHEME HOST SERVICE STICKY ADDR...', got '${line}'"
            case "${words[1]}" in http | https) ;; *) hs_die "plan line ${line_no}: SCHEME must be http or https, got '${words[1]}'" ;; esac
            case "${words[4]}" in plain | sticky | sticky:?*) ;; *) hs_die "plan line ${line_no}: STICKY must be plain, sticky or sticky:COOKIE, got '${words[4]}'" ;; esac
            plan_endpoints+=("${words[*]:1}")
            ;;
        *) hs_die "plan line ${line_no}: unknown item '${words[0]}' (node, service or endpoint)" ;;
    esac
done

hs_require_manager
if [ "${#plan_endpoints[@]}" -gt 0 ] && ! command -v curl >/dev/null; then
    hs_die "curl is not installed on this manager: the endpoints cannot be checked (install the curl package)"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ------------------------------------------------------------------------------------- the rows

declare -a r_check=() r_target=() r_result=() r_detail=()
failures=0

row() {
    r_check+=("$1") r_target+=("$2") r_result+=("$3") r_detail+=("$4")
    [ "$3" = OK ] || failures=$((failures + 1))
}

print_table() {
    local i w1=5 w2=6 w3=6
    for i in "${!r_check[@]}"; do
        [ "${#r_check[i]}" -le "$w1" ] || w1=${#r_check[i]}
        [ "${#r_target[i]}" -le "$w2" ] || w2=${#r_target[i]}
        [ "${#r_result[i]}" -le "$w3" ] || w3=${#r_result[i]}
    done
    printf '%-*s  %-*s  %-*s  %s\n' "$w1" CHECK "$w2" TARGET "$w3" RESULT DETAIL
    for i in "${!r_check[@]}"; do
        printf '%-*s  %-*s  %-*s  %s\n' "$w1" "${r_check[i]}" "$w2" "${r_target[i]}" "$w3" "${r_result[i]}" "${r_detail[i]}"
    done
}

# ------------------------------------------------------------------------------------- nodes and managers

US=$'\x1f'
declare -A node_ready=() # node ID -> 1 when Ready

check_nodes() {
    local ids out id name hostname role state availability reach leader label detail result
    local managers=0 reachable=0 leaders=0 leader_name="" unreachable=""
    declare -A found=()
    node_ready=()
    # shellcheck disable=SC2086 # one node ID a word
    if ! ids=$(hs_docker node ls -q 2>"$work/error") ||
        ! out=$(hs_docker node inspect --format "{{.ID}}${US}{{index .Spec.Labels \"ha-swarm.name\"}}${US}{{.Description.Hostname}}${US}{{.Spec.Role}}${US}{{.Status.State}}${US}{{.Spec.Availability}}${US}{{if .ManagerStatus}}{{.ManagerStatus.Reachability}}${US}{{.ManagerStatus.Leader}}{{else}}-${US}false{{end}}" $ids 2>"$work/error"); then
        row node swarm FAIL "cannot list the nodes: $(head -n 1 "$work/error")"
        return
    fi
    while IFS="$US" read -r id name hostname role state availability reach leader; do
        [ -n "$id" ] || continue
        label=${name:-$hostname}
        found[$label]=1
        result=OK
        detail="${state}, ${availability}, ${role}"
        [ "$state" = ready ] || result=FAIL
        [ "$availability" = active ] || result=FAIL
        if [ "$role" = manager ]; then
            managers=$((managers + 1))
            detail+=" (${reach}"
            if [ "$reach" = reachable ]; then reachable=$((reachable + 1)); else unreachable+=" ${label}"; fi
            if [ "$leader" = true ]; then
                leaders=$((leaders + 1)) leader_name=$label
                detail+=", leader"
            fi
            detail+=")"
        fi
        [ "$state" != ready ] || node_ready[$id]=1
        if [ "${#plan_nodes[@]}" -gt 0 ] && ! printf '%s\n' "${plan_nodes[@]}" | grep -qxF -- "$label"; then
            detail+="; not a node of the stack"
        fi
        row node "$label" "$result" "$detail"
    done <<<"$out"
    for name in "${plan_nodes[@]}"; do
        [ -n "${found[$name]+set}" ] || row node "$name" FAIL "not in the swarm (no node labelled ha-swarm.name=${name} or named so)"
    done
    detail="${reachable} of ${managers} reachable"
    if [ "$leaders" -eq 1 ]; then detail+=", leader ${leader_name}"; else detail+=", ${leaders} leaders"; fi
    [ -z "$unreachable" ] || detail+="; not reachable:${unreachable}"
    if [ "$managers" -gt 0 ] && [ "$reachable" -eq "$managers" ] && [ "$leaders" -eq 1 ]; then
        row managers "${managers} manager(s)" OK "$detail"
    else
        row managers "${managers} manager(s)" FAIL "$detail"
    fi
}

# ------------------------------------------------------------------------------------- services

declare -A service_running=() # service name -> running tasks on Ready nodes

# count_tasks SERVICE: set `running` (tasks running on a Ready node) and `placed` (tasks the swarm
# wants running on a Ready node) for SERVICE.
count_tasks() {
    local ids out node state
    running=0 placed=0
    ids=$(hs_docker service ps -q --no-trunc --filter desired-state=running -- "$1") || return 1
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086 # one task ID a word
    out=$(hs_docker inspect --type task --format '{{.NodeID}} {{.Status.State}}' $ids) || return 1
    while read -r node state; do
        [ -n "${node_ready[$node]+set}" ] || continue
        placed=$((placed + 1))
        [ "$state" != running ] || running=$((running + 1))
    done <<<"$out"
}

check_services() {
    local listed name mode want detail
    service_running=()
    if ! listed=$(hs_docker service ls --format '{{.Name}}' 2>"$work/error"); then
        row service swarm FAIL "cannot list the services: $(head -n 1 "$work/error")"
        return
    fi
    declare -A in_swarm=()
    local -a names=("${plan_service_names[@]}")
    while read -r name; do
        [ -n "$name" ] || continue
        in_swarm[$name]=1
        [ -n "${plan_services[$name]+set}" ] || names+=("$name")
    done <<<"$(printf '%s\n' "$listed" | sort)"
    for name in "${names[@]}"; do
        want=${plan_services[$name]:-}
        if [ -z "${in_swarm[$name]+set}" ]; then
            row service "$name" FAIL "not in the swarm"
            continue
        fi
        if ! mode=$(hs_docker service inspect --format '{{if .Spec.Mode.Global}}global{{else if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{else}}job{{end}}' -- "$name" 2>/dev/null) ||
            ! count_tasks "$name"; then
            row service "$name" FAIL "cannot read the service or its tasks"
            continue
        fi
        service_running[$name]=$running
        if [ "$mode" = job ]; then
            row service "$name" OK "a job: its runs are not checked"
        elif [ "$mode" = global ]; then
            detail="${running} of ${placed} running (global: one on every eligible Ready node)"
            if [ -n "$want" ] && [ "$want" != global ]; then
                row service "$name" FAIL "${detail}; the stack declares ${want} replicas, the swarm runs it global"
            elif [ "$placed" -ge 1 ] && [ "$running" -eq "$placed" ]; then
                row service "$name" OK "$detail"
            else
                row service "$name" FAIL "$detail"
            fi
        else
            want=${want:-$mode}
            if [ "$want" = global ]; then
                row service "$name" FAIL "${running} running; the stack declares it global, the swarm runs ${mode} replica(s)"
                continue
            fi
            detail="${running} of ${want} running"
            [ "$mode" = "$want" ] || detail+=" (the swarm wants ${mode})"
            if [ "$running" -eq "$want" ] && [ "$mode" = "$want" ]; then
                row service "$name" OK "$detail"
            else
                row service "$name" FAIL "$detail"
            fi
        fi
    done
}

# ------------------------------------------------------------------------------------- endpoints

# fetch SCHEME HOST ADDR [CURL_ARG...]: one request for HOST through ADDR. Sets `code` (000 when
# nothing answered), `trusted` (https: 0 when the certificate verified) and `curl_error`; the
# body and the headers are in $work/body and $work/headers.
fetch() {
    local scheme=$1 host=$2 addr=$3 bracketed status
    shift 3
    case "$addr" in *:*) bracketed="[${addr}]" ;; *) bracketed=$addr ;; esac
    local -a target
    if [ "$scheme" = https ]; then
        target=(--insecure --resolve "${host}:443:${bracketed}" "https://${host}/")
    else
        target=(-H "Host: ${host}" "http://${bracketed}/")
    fi
    : >"$work/body"
    : >"$work/headers"
    curl_error=""
    if ! status=$(curl --globoff --noproxy '*' -sS --connect-timeout 5 --max-time 10 \
        -o "$work/body" -D "$work/headers" -w '%{http_code} %{ssl_verify_result}' "$@" "${target[@]}" 2>"$work/error"); then
        curl_error=$(head -n 1 "$work/error")
    fi
    read -r code trusted <<<"${status:-000 0}"
}

answered() {
    [ -z "$curl_error" ] && [ "$code" -ge 200 ] && [ "$code" -lt 400 ]
}

# answer_failure: why the last request did not count as an answer.
answer_failure() {
    if [ -n "$curl_error" ]; then printf '%s' "$curl_error"; else printf 'HTTP %s' "$code"; fi
}

# set_cookie COOKIE: print the value the last response set for cookie COOKIE ('' = the first
# cookie it set), or nothing.
set_cookie() {
    local name=$1 header pair
    while IFS= read -r header; do
        header=${header%$'\r'}
        case "${header,,}" in set-cookie:*) ;; *) continue ;; esac
        pair=${header#*:}
        pair=${pair# }
        pair=${pair%%;*}
        if [ -z "$name" ] || [ "${pair%%=*}" = "$name" ]; then
            printf '%s\n' "$pair"
            return 0
        fi
    done <"$work/headers"
}

# task_of COOKIE: which task answered the last request: its `Hostname:` line, else the sticky
# cookie it set (Traefik's value names one server), else nothing.
task_of() {
    local hostname
    hostname=$(sed -n 's/^Hostname: *//p' "$work/body" | head -n 1 | tr -d '\r')
    if [ -n "$hostname" ]; then
        printf 'task %s\n' "$hostname"
    else
        set_cookie "$1"
    fi
}

check_plain() {
    local scheme=$1 host=$2 addr=$3 detail
    fetch "$scheme" "$host" "$addr"
    if ! answered; then
        row endpoint "${scheme}://${host} @ ${addr}" FAIL "$(answer_failure)"
        return
    fi
    detail="HTTP ${code}"
    [ "$scheme" != https ] || [ "$trusted" = 0 ] || detail+=", certificate not trusted here (verify result ${trusted})"
    row endpoint "${scheme}://${host} @ ${addr}" OK "$detail"
}

check_sticky() {
    local scheme=$1 host=$2 service=$3 sticky=$4 addr=$5 cookie="" first="" task i target
    [ "$sticky" = sticky ] || cookie=${sticky#sticky:}
    target="${scheme}://${host} @ ${addr}"
    rm -f "$work/jar"
    declare -A pinned=() spread=()
    for ((i = 1; i <= STICKY_REQUESTS; i++)); do
        fetch "$scheme" "$host" "$addr" --cookie-jar "$work/jar" --cookie "$work/jar"
        if ! answered; then
            row sticky "$target" FAIL "request ${i} with the cookie jar: $(answer_failure)"
            return
        fi
        if [ "$i" -eq 1 ]; then
            first=$(set_cookie "$cookie")
            if [ -z "$first" ]; then
                row sticky "$target" FAIL "the first answer set no ${cookie:+${cookie} }cookie"
                return
            fi
        fi
        task=$(task_of "$cookie")
        [ -z "$task" ] || pinned[$task]=1
    done
    if [ "${#pinned[@]}" -ne 1 ]; then
        row sticky "$target" FAIL "with the cookie jar ${STICKY_REQUESTS} answers came from ${#pinned[@]} tasks"
        return
    fi
    local replicas=${service_running[$service]:-0} tries
    if [ "$replicas" -le 1 ]; then
        row sticky "$target" OK "${STICKY_REQUESTS} answers from one task (cookie ${first%%=*}); ${replicas} task(s) running, so no spread to see"
        return
    fi
    tries=$((2 * replicas < 4 ? 4 : 2 * replicas))
    for ((i = 1; i <= tries; i++)); do
        fetch "$scheme" "$host" "$addr"
        answered || continue
        task=$(task_of "$cookie")
        [ -z "$task" ] || spread[$task]=1
    done
    if [ "${#spread[@]}" -gt 1 ]; then
        row sticky "$target" OK "${STICKY_REQUESTS} answers from one task (cookie ${first%%=*}); without it ${#spread[@]} tasks answered"
    else
        row sticky "$target" FAIL "with the cookie one task answered, but without it ${tries} requests reached ${#spread[@]} task(s) of ${replicas} running"
    fi
}

check_endpoints() {
    local spec scheme host service sticky addr
    local -a addrs
    for spec in "${plan_endpoints[@]}"; do
        read -r scheme host service sticky addr <<<"$spec"
        read -r -a addrs <<<"$addr"
        for addr in "${addrs[@]}"; do
            if [ "$sticky" = plain ]; then
                check_plain "$scheme" "$host" "$addr"
            else
                check_sticky "$scheme" "$host" "$service" "$sticky" "$addr"
            fi
        done
    done
}

# ------------------------------------------------------------------------------------- main

all_checks_pass() {
    r_check=() r_target=() r_result=() r_detail=()
    failures=0
    check_nodes
    check_services
    check_endpoints
    [ "$failures" -eq 0 ] && return 0
    if [ -z "$announced" ] && [ "$timeout_s" -gt 0 ]; then
        hs_log "${failures} check(s) failing; checking again every 3 s for up to ${timeout_s}s in all (a fresh deploy converges)"
        announced=1
    fi
    return 1
}

if [ "$settle_s" -gt 0 ]; then
    hs_log "waiting ${settle_s}s for Traefik to read the deployed services (its swarm provider polls every 15 s)"
    sleep "$settle_s"
fi
announced="" status=0 deadline=$((SECONDS + timeout_s))
until all_checks_pass; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        status=1
        break
    fi
    sleep 3
done
print_table
if [ "$status" -eq 0 ]; then
    printf 'verify: all %d checks passed\n' "${#r_check[@]}"
else
    printf 'verify: %d of %d checks failed\n' "$failures" "${#r_check[@]}"
fi
exit "$status"
