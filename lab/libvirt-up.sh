#!/usr/bin/env bash
# Make a local libvirt ready for the lab target on a machine without systemd (a container, a CI
# runner), as root. Idempotent: what is there already is left alone.
#   1. installs, when missing, libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base genisoimage with
#      apt-get, behind a temporary /usr/sbin/policy-rc.d that exits 101 so that no service is
#      started by the packages (an existing policy-rc.d is put back afterwards). When it installs
#      libvirt itself, it turns off the autostart of libvirt's `default` NAT network
#      (192.168.122.0/24): the lab defines its own network (HA_SWARM_KEEP_DEFAULT_NET=1 keeps it).
#   2. starts `virtlogd -d` and `libvirtd -d` when they are not running;
#   3. waits for /var/run/libvirt/libvirt-sock and checks `virsh -c qemu:///system`.
# What it started (daemons with their pids, packages) is recorded in $HA_SWARM_LIBVIRT_STATE
# (default /run/ha-swarm/libvirt-up.state); lab/libvirt-down.sh stops only that.
set -euo pipefail

case ${1:-} in
    "") ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "$(basename "$0"): no arguments expected (see --help)" >&2; exit 2 ;;
esac

STATE=${HA_SWARM_LIBVIRT_STATE:-/run/ha-swarm/libvirt-up.state}
SOCK=/var/run/libvirt/libvirt-sock
# genisoimage: mkisofs, with which the libvirt provider (upstream's and the toolchain's) builds cloud-init disks.
PACKAGES=(libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base genisoimage)
WAIT_SECONDS=${HA_SWARM_LIBVIRT_WAIT:-60}

log() { printf '[libvirt-up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
mkdir -p "$(dirname "$STATE")"
touch "$STATE"

record() { # KEY VALUE: one line per thing this script started or installed
    printf '%s %s\n' "$1" "$2" >>"$STATE"
}

# -- packages -------------------------------------------------------------------------------------
installed() { [ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done

POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=""
restore_policy() {
    if [ -n "$POLICY_SAVED" ]; then
        mv -f "$POLICY_SAVED" "$POLICY"
        POLICY_SAVED=""
    else
        rm -f "$POLICY"
    fi
}
if [ ${#missing[@]} -gt 0 ]; then
    had_libvirt=0
    installed libvirt-daemon-config-network && had_libvirt=1
    if [ -e "$POLICY" ]; then
        POLICY_SAVED=$(mktemp "$POLICY.ha-swarm.XXXXXX")
        cp -p "$POLICY" "$POLICY_SAVED"
    fi
    trap restore_policy EXIT
    printf '#!/bin/sh\n# ha-swarm libvirt-up: no service starts while packages install\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
    log "installing ${missing[*]} (services are not started by apt)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2; then
        log "apt-get install failed; updating the package lists and trying again"
        apt-get update -q >&2
        apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2 || die "could not install ${PACKAGES[*]}"
    fi
    restore_policy
    trap - EXIT
    for p in "${missing[@]}"; do record package "$p"; done
    autostart=/etc/libvirt/qemu/networks/autostart/default.xml
    if [ "$had_libvirt" = 0 ] && [ -L "$autostart" ] && [ "${HA_SWARM_KEEP_DEFAULT_NET:-0}" != 1 ]; then
        rm -f "$autostart"
        log "libvirt's default NAT network no longer starts with libvirtd (virsh net-autostart default to undo)"
    fi
fi

# -- daemons --------------------------------------------------------------------------------------
# The pid of a running NAME, from its pid file, or nothing.
running_pid() {
    local name=$1 pidfile pid
    for pidfile in "/run/$name.pid" "/var/run/$name.pid"; do
        [ -r "$pidfile" ] || continue
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$name" ]; then
            echo "$pid"
            return 0
        fi
    done
    pid=$(pgrep -x -o "$name" 2>/dev/null || true)
    [ -z "$pid" ] || echo "$pid"
}

start_daemon() {
    local name=$1 pid
    pid=$(running_pid "$name")
    if [ -n "$pid" ]; then
        log "$name already runs (pid $pid)"
        return 0
    fi
    command -v "$name" >/dev/null 2>&1 || die "$name is not installed"
    "$name" -d
    for _ in $(seq 1 50); do
        pid=$(running_pid "$name")
        [ -z "$pid" ] || break
        sleep 0.2
    done
    [ -n "$pid" ] || die "$name -d did not stay up"
    record daemon "$name $pid"
    log "started $name (pid $pid)"
}

start_daemon virtlogd
start_daemon libvirtd

for _ in $(seq 1 "$((WAIT_SECONDS * 5))"); do
    [ -S "$SOCK" ] && break
    sleep 0.2
done
[ -S "$SOCK" ] || die "no $SOCK after ${WAIT_SECONDS}s"
virsh -c qemu:///system version >/dev/null 2>&1 || die "libvirtd runs but virsh -c qemu:///system does not answer"
log "libvirt is ready: $SOCK ($(virsh -c qemu:///system version 2>/dev/null | awk '/Running hypervisor/ { print $3, $4 }'); state: $STATE)"
