#!/usr/bin/env bash
# Before `pulumi up` of a lab stack: make this machine's libvirt ready, or say in one line what the
# user must do. Nothing happens for a cloud stack.
#
#   tools/lab-ready.sh STACK      (the pulumi CLI on PATH; `make up` and `make preview` run it)
#
# - A local hypervisor (lab.uri qemu:///system, the default): as root, lab/libvirt-up.sh installs
#   libvirt, QEMU and mkisofs when missing and starts virtlogd/libvirtd when they are not running;
#   as another user, access to the URI is checked and, when refused, the advice is printed.
# - A remote hypervisor (qemu+ssh://...): access is checked with virsh when it is installed.
# - Everywhere: the libvirt provider builds each VM's cloud-init disk with this machine's mkisofs
#   (Debian/Ubuntu package genisoimage).
set -euo pipefail

stack=${1:?usage: lab-ready.sh STACK}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBVIRT_UP=${HA_SWARM_LIBVIRT_UP:-$REPO/lab/libvirt-up.sh}
uid=${HS_LAB_READY_UID:-$(id -u)}

log() { printf 'lab-ready: %s\n' "$*" >&2; }

config() { pulumi config get --stack "$stack" "$@" 2>/dev/null || true; }

target=$(config ha-swarm:target)
[ "${target:-lab}" = lab ] || exit 0
uri=$(config --path ha-swarm:lab.uri)
uri=${uri:-qemu:///system}

if [ "$uri" = qemu:///system ] && [ "$uid" -eq 0 ]; then
    "$LIBVIRT_UP"
    exit 0
fi

missing=()
command -v mkisofs >/dev/null 2>&1 || missing+=(genisoimage)
command -v virsh >/dev/null 2>&1 || { [ "$uri" = qemu:///system ] && missing+=(libvirt-daemon-system qemu-system-x86 qemu-utils dnsmasq-base libvirt-clients); }
if [ ${#missing[@]} -gt 0 ]; then
    log "missing ${missing[*]}: run as root 'make up', or install them (sudo apt-get install ${missing[*]})"
    exit 1
fi
if command -v virsh >/dev/null 2>&1; then
    if ! out=$(virsh -c "$uri" uri 2>&1); then
        case $uri in
            qemu:///system)
                log "cannot use $uri ($(printf '%s' "$out" | head -n 1)): join the libvirt group (sudo usermod -aG libvirt \"\$USER\", then log in again) or run as root" ;;
            *)
                log "cannot use $uri ($(printf '%s' "$out" | head -n 1)): check that 'virsh -c $uri uri' works for you (SSH key, the libvirt group on the hypervisor)" ;;
        esac
        exit 1
    fi
fi
