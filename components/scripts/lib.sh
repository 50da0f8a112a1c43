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
