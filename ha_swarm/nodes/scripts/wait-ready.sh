#!/usr/bin/env bash
# wait-ready.sh [TIMEOUT_SECONDS=900]
# Wait for cloud-init (if installed) to finish and for the Docker daemon to
# answer `docker info`. Prints nothing on stdout.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

[ "$#" -le 1 ] || hs_die "usage: wait-ready.sh [TIMEOUT_SECONDS]"
timeout_s=${1:-900}
if ! hs_is_uint "$timeout_s" || [ "$timeout_s" -eq 0 ]; then
    hs_die "TIMEOUT_SECONDS must be a positive integer, got '${timeout_s}'"
fi
deadline=$((SECONDS + timeout_s))

if command -v cloud-init >/dev/null 2>&1; then
    hs_log "waiting for cloud-init to finish"
    rc=0
    out=$(timeout "$timeout_s" cloud-init status --wait 2>&1) || rc=$?
    last=$(printf '%s\n' "$out" | tr -d '.' | sed '/^[[:space:]]*$/d' | tail -n 1)
    case "$rc" in
        0) ;;
        2) hs_log "cloud-init finished with recoverable errors (exit 2); continuing" ;;
        124) hs_die "timed out after ${timeout_s}s waiting for cloud-init to finish (cloud-init status --wait)" ;;
        *) hs_die "cloud-init failed (cloud-init status --wait exited ${rc}${last:+: ${last}}); see /var/log/cloud-init-output.log" ;;
    esac
fi

last_error=""
docker_answers() {
    local -a HS_DOCKER_ARGV
    local left out
    left=$((deadline - SECONDS))
    [ "$left" -ge 1 ] || left=1
    [ "$left" -le 30 ] || left=30
    hs_docker_argv
    if out=$(timeout "$left" "${HS_DOCKER_ARGV[@]}" info --format '{{.ServerVersion}}' 2>&1); then
        return 0
    fi
    last_error=$(printf '%s' "$out" | tr -s '\n\t ' '   ' | cut -c1-200)
    last_error=${last_error# }
    last_error=${last_error% }
    return 1
}

hs_log "waiting for the Docker daemon to answer"
remaining=$((deadline - SECONDS))
[ "$remaining" -ge 0 ] || remaining=0
if ! hs_wait "$remaining" 2 docker_answers; then
    hs_die "timed out after ${timeout_s}s waiting for the Docker daemon to answer 'docker info'${last_error:+ (last error: ${last_error})}"
fi
hs_log "Docker daemon is ready"
