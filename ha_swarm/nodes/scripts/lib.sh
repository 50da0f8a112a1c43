# shellcheck shell=bash
# ha-swarm node-side helpers.
#
# This file only defines functions: sourcing it has no side effects (no output,
# no exit, no change of shell options). The Python side sends it in front of
# each script as `bash -c '<lib.sh>\n<SCRIPT.sh>' SCRIPT.sh ARG...`; the
# scripts source it themselves when run as plain files.

# hs_log MESSAGE...: one line on stderr, prefixed with the script name.
hs_log() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# hs_die MESSAGE...: log MESSAGE and exit 1.
hs_die() {
    hs_log "$*"
    exit 1
}

# hs_docker_argv: set the array HS_DOCKER_ARGV to the command that reaches the
# Docker daemon. Plain `docker` if DOCKER_HOST is set, if we are root or if the
# socket is writable for this process; otherwise `sudo -n docker` (first SSH
# session after cloud-init added the user to the docker group).
hs_docker_argv() {
    if [ -n "${DOCKER_HOST:-}" ] || [ "${EUID:-$(id -u)}" -eq 0 ] || [ -w /var/run/docker.sock ]; then
        HS_DOCKER_ARGV=(docker)
    else
        HS_DOCKER_ARGV=(sudo -n docker)
    fi
}

# hs_docker ARG...: run `docker ARG...` (through sudo -n when needed).
hs_docker() {
    local -a HS_DOCKER_ARGV
    hs_docker_argv
    "${HS_DOCKER_ARGV[@]}" "$@"
}

# hs_swarm_state: print this node's swarm state
# (inactive, pending, active, error, locked).
hs_swarm_state() {
    hs_docker info --format '{{.Swarm.LocalNodeState}}'
}

# hs_self_node_id: print this node's swarm node ID (empty when not in a swarm).
hs_self_node_id() {
    hs_docker info --format '{{.Swarm.NodeID}}'
}

# hs_control_available: print true when this node is a manager, else false.
hs_control_available() {
    hs_docker info --format '{{.Swarm.ControlAvailable}}'
}

# hs_locked_advice: what to do about a node whose swarm state is 'locked' (autolock).
hs_locked_advice() {
    printf '%s' "the swarm is locked on this node (autolock: its Docker daemon restarted); unlock it first: docker swarm unlock, with the key from 'pulumi stack output --show-secrets unlockKey'"
}

# hs_docker_update ARG...: run `docker ARG...`, a change of the swarm's cluster object (a swarm update,
# a token rotation), with its stdout discarded (it may print a token or the unlock key). Two such
# changes at once make one fail with "update out of sequence": it is tried again, up to 5 times.
# On failure, HS_DOCKER_ERR holds docker's error on one line.
HS_DOCKER_ERR=""
# shellcheck disable=SC2034 # HS_DOCKER_ERR is read by the scripts that source this file
hs_docker_update() {
    local attempt err
    for attempt in 1 2 3 4 5; do
        if err=$(hs_docker "$@" 2>&1 >/dev/null); then
            HS_DOCKER_ERR=""
            return 0
        fi
        HS_DOCKER_ERR=$(printf '%s' "$err" | tr -s '\n\t ' '   ')
        case "$err" in
            *"out of sequence"*) hs_log "the swarm changed meanwhile (update out of sequence); trying again (${attempt}/5)" ;;
            *) return 1 ;;
        esac
        sleep 1
    done
    return 1
}

# hs_require_manager: exit 1 unless this node is an active swarm manager.
hs_require_manager() {
    local state ctl
    state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
    [ "$state" != locked ] || hs_die "$(hs_locked_advice)"
    [ "$state" = active ] || hs_die "this node is not in an active swarm (state: ${state:-unknown}); run this on a manager"
    ctl=$(hs_control_available) || hs_die "cannot query the Docker daemon (docker info failed)"
    [ "$ctl" = true ] || hs_die "this node is a swarm worker, not a manager; run this on a manager"
}

# hs_is_uint VALUE: true if VALUE is a non-negative decimal integer.
hs_is_uint() {
    case "${1:-}" in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

# hs_timeout_from NAME DEFAULT: print the value of environment variable NAME if
# it is a non-negative integer, else DEFAULT.
hs_timeout_from() {
    local value="${!1:-}"
    if hs_is_uint "$value"; then
        printf '%s\n' "$value"
    else
        printf '%s\n' "$2"
    fi
}

# hs_wait TIMEOUT INTERVAL COMMAND...: run COMMAND every INTERVAL seconds until
# it succeeds (return 0) or until TIMEOUT seconds have passed (return 1).
# COMMAND runs in the current shell, so it may set variables for the caller.
hs_wait() {
    local timeout=$1 interval=$2 deadline
    shift 2
    # $SECONDS ticks on wall-clock second boundaries (up to 1 s early): +1 makes
    # the wait last at least TIMEOUT seconds.
    deadline=$((SECONDS + timeout + 1))
    while :; do
        if "$@"; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            return 1
        fi
        sleep "$interval"
    done
}

# hs_hostport ADDR PORT: print ADDR:PORT, bracketing a bare IPv6 address.
hs_hostport() {
    case "$1" in
        \[*) printf '%s:%s\n' "$1" "$2" ;;
        *:*) printf '[%s]:%s\n' "$1" "$2" ;;
        *) printf '%s:%s\n' "$1" "$2" ;;
    esac
}

# hs_node_exists NODE_ID: true if NODE_ID (full ID) is listed by `docker node ls`.
# Exits 1 if the node list cannot be read.
hs_node_exists() {
    local ids
    ids=$(hs_docker node ls -q) || hs_die "cannot list swarm nodes (docker node ls failed)"
    printf '%s\n' "$ids" | grep -qxF -- "$1"
}

# hs_wait_tasks_stopped NODE_ID LABEL NODE_STATE TIMEOUT: after a drain, wait until no task of the
# node is desired running and none is still running, starting or preparing there (a down node
# cannot report its tasks stopping: then only the desired state counts). Dies after TIMEOUT s.
hs_wait_tasks_stopped() {
    local node_id=$1 label=$2 node_state=$3 timeout_s=$4
    HS_TASKS_BUSY=""
    _hs_tasks_gone() {
        local desired current
        desired=$(hs_docker node ps --filter desired-state=running -q -- "$node_id") ||
            hs_die "docker node ps ${label} failed"
        if [ -n "$desired" ]; then
            HS_TASKS_BUSY="$(printf '%s\n' "$desired" | wc -l) task(s) still desired running"
            return 1
        fi
        [ "$node_state" != down ] || return 0
        current=$(hs_docker node ps --format '{{.CurrentState}}' -- "$node_id") ||
            hs_die "docker node ps ${label} failed"
        if printf '%s\n' "$current" | grep -qE '^(Running|Starting|Preparing)'; then
            HS_TASKS_BUSY="task(s) still stopping"
            return 1
        fi
        return 0
    }
    if ! _hs_tasks_gone; then
        hs_log "waiting up to ${timeout_s}s for the tasks of node ${label} to stop (${HS_TASKS_BUSY})"
        hs_wait "$timeout_s" 2 _hs_tasks_gone ||
            hs_die "node ${label} still runs tasks after ${timeout_s}s of drain (${HS_TASKS_BUSY})"
    fi
}
