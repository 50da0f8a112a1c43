#!/usr/bin/env bash
# Undo lab/libvirt-up.sh, as root: stop the daemons that IT started (libvirtd, then virtlogd),
# as recorded in its state file, and nothing else. Packages stay installed. Idempotent: with no
# state file, or daemons already gone, it has nothing to do. Running VMs are not touched (their
# qemu processes outlive libvirtd); it warns about them: destroy them first.
set -euo pipefail

case ${1:-} in
    "") ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "$(basename "$0"): no arguments expected (see --help)" >&2; exit 2 ;;
esac

STATE=${HA_SWARM_LIBVIRT_STATE:-/run/ha-swarm/libvirt-up.state}

log() { printf '[libvirt-down] %s\n' "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { log "ERROR: must run as root"; exit 1; }
if [ ! -s "$STATE" ]; then
    log "nothing to stop: libvirt-up started nothing ($STATE is empty or missing)"
    rm -f "$STATE"
    exit 0
fi

# pid of a daemon this script may stop: the recorded pid, only if it is still that program
recorded_pid() {
    awk -v n="$1" '$1 == "daemon" && $2 == n { p = $3 } END { if (p != "") print p }' "$STATE"
}

stop_daemon() {
    local name=$1 pid
    pid=$(recorded_pid "$name")
    [ -n "$pid" ] || return 0
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "$name" ]; then
        log "$name (pid $pid) is no longer running"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 75); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$name" ] || break
        sleep 0.2
    done
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$name" ]; then
        log "$name (pid $pid) did not stop within 15 s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
}

if [ -n "$(recorded_pid libvirtd)" ] && command -v virsh >/dev/null 2>&1; then
    running=$(virsh -c qemu:///system list --name 2>/dev/null | sed '/^$/d' || true)
    if [ -n "$running" ]; then
        log "WARNING: domains still running, left as they are: $(echo "$running" | tr '\n' ' ')"
    fi
fi
stop_daemon libvirtd
stop_daemon virtlogd
rm -f "$STATE"
log "done"
