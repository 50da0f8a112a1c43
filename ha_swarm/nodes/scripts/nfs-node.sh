#!/usr/bin/env bash
# NFS for the setting storage.nfs, as root.
#
# Usage: nfs-node.sh client
#        nfs-node.sh server EXPORT CIDR [DIR...]
#
#   client  this node can mount NFS volumes (nfs-common; nfs-utils on RHEL-family hosts).
#   server  the client part, and the kernel's NFS server exports the folder EXPORT read-write to
#           the network CIDR, with no_root_squash (containers write as root); the folders DIR...
#           (relative, the stacks' NFS volumes) exist under EXPORT. The export goes to its own
#           file, /etc/exports.d/ha-swarm.exports.
#
# Idempotent: on a node in that state it changes nothing and exits 0. Packages are installed
# only when missing (the lab image has them: an isolated lab reaches no package mirror).
set -euo pipefail

os_release=${HA_SWARM_OS_RELEASE:-/etc/os-release}
exports_file=${HA_SWARM_EXPORTS_FILE:-/etc/exports.d/ha-swarm.exports}
systemd_dir=${HA_SWARM_SYSTEMD_DIR:-/run/systemd/system}
EXPORT_OPTIONS=rw,sync,no_subtree_check,no_root_squash
USAGE="usage: nfs-node.sh client | nfs-node.sh server EXPORT CIDR [DIR...]"

say() { printf 'nfs-node: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

mode=${1:-}
case "$mode" in
    client) [ "$#" -eq 1 ] || die "$USAGE" ;;
    server) [ "$#" -ge 3 ] || die "$USAGE" ;;
    *) die "$USAGE" ;;
esac
shift

# A folder path: absolute (or, with RELATIVE=1, relative), of plain names, no '.' or '..' step.
valid_path() {
    local path=$1 relative=${2:-0} step
    case "$path" in
        *[!A-Za-z0-9._/-]* | *//* | */ | '') return 1 ;;
    esac
    if [ "$relative" = 1 ]; then
        case "$path" in /*) return 1 ;; esac
    else
        case "$path" in /?*) ;; *) return 1 ;; esac
    fi
    local IFS=/
    for step in ${path#/}; do
        case "$step" in . | .. | '') return 1 ;; esac
    done
    return 0
}

distro_family() {
    local id="" like=""
    [ -r "$os_release" ] || die "cannot read $os_release: unsupported distribution"
    # shellcheck disable=SC1090
    id=$(. "$os_release" && printf '%s' "${ID:-}")
    # shellcheck disable=SC1090
    like=$(. "$os_release" && printf '%s' "${ID_LIKE:-}")
    case " $id $like " in
        *" debian "* | *" ubuntu "*) echo debian ;;
        *" rhel "* | *" fedora "* | *" centos "*) echo rhel ;;
        *) die "unsupported distribution '$id': install the NFS packages by hand (nfs-common, or nfs-kernel-server for the server)" ;;
    esac
}

# install_for ROLE: the NFS packages of the distribution for ROLE (client or server).
install_for() {
    case "$(distro_family)" in
        debian)
            local package=nfs-common
            [ "$1" = client ] || package=nfs-kernel-server
            say "installing $package"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q >&2
            apt-get install -y -q --no-install-recommends "$package" >&2
            ;;
        rhel)
            say "installing nfs-utils"
            dnf install -y nfs-utils >&2
            ;;
    esac
}

ensure_client() {
    command -v mount.nfs >/dev/null 2>&1 && return 0
    install_for client
    command -v mount.nfs >/dev/null 2>&1 || die "the NFS client was installed but mount.nfs is not on PATH"
}

ensure_server_packages() {
    command -v exportfs >/dev/null 2>&1 && return 0
    install_for server
    command -v exportfs >/dev/null 2>&1 || die "the NFS server was installed but exportfs is not on PATH"
}

have_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d "$systemd_dir" ]; }

# The exports file holds exactly our line; sets exports_changed=1 when it had to be written.
exports_changed=0
write_exports() {
    local line=$1 current=""
    if [ -r "$exports_file" ]; then current=$(cat "$exports_file"); fi
    [ "$current" != "$line" ] || return 0
    mkdir -p "$(dirname "$exports_file")"
    printf '%s\n' "$line" >"$exports_file.tmp"
    mv -f "$exports_file.tmp" "$exports_file"
    say "wrote $exports_file: $line"
    exports_changed=1
}

start_server() {
    have_systemd || die "no systemd here: start the kernel NFS server (rpc.nfsd, exportfs -ra) by hand"
    systemctl is-enabled --quiet nfs-server 2>/dev/null || systemctl enable nfs-server >&2
    if ! systemctl is-active --quiet nfs-server; then
        say "starting nfs-server"
        systemctl start nfs-server >&2 ||
            die "nfs-server did not start (does this kernel have nfsd? see: journalctl -u nfs-server)"
    fi
}

exported() { exportfs -v 2>/dev/null | awk -v e="$1" '$1 == e { found = 1 } END { exit !found }'; }

open_firewall() {
    local cidr=$1 rules
    if command -v ufw >/dev/null 2>&1 && rules=$(ufw status 2>/dev/null) && [[ "$rules" == *"Status: active"* ]]; then
        if ! grep -Eq "^2049/tcp[[:space:]]+ALLOW( IN)?[[:space:]]+${cidr//./\\.}([[:space:]]|$)" <<<"$rules"; then
            say "ufw: allowing 2049/tcp from $cidr"
            ufw allow from "$cidr" to any port 2049 proto tcp >/dev/null
        fi
    fi
    if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then
        if ! firewall-cmd --permanent --query-service=nfs >/dev/null 2>&1; then
            say "firewalld: allowing nfs"
            firewall-cmd --permanent --add-service=nfs >/dev/null
            firewall-cmd --reload >/dev/null
        fi
    fi
}

serve() {
    local export=$1 cidr=$2 dir
    shift 2
    valid_path "$export" || die "EXPORT must be an absolute folder path of plain names (such as /srv/nfs), got '$export'"
    [[ "$cidr" =~ ^[0-9A-Fa-f:.]+/[0-9]{1,3}$ ]] || die "CIDR must be a network such as 10.17.3.0/24, got '$cidr'"
    for dir in "$@"; do
        valid_path "$dir" 1 || die "DIR must be a relative folder path of plain names (such as app/data), got '$dir'"
    done

    ensure_client
    ensure_server_packages
    if [ ! -d "$export" ]; then
        say "creating $export"
        mkdir -p "$export"
    fi
    for dir in "$@"; do
        if [ ! -d "$export/$dir" ]; then
            say "creating $export/$dir"
            mkdir -p "$export/$dir"
        fi
    done
    write_exports "$export $cidr($EXPORT_OPTIONS)"
    open_firewall "$cidr"
    start_server
    if [ "$exports_changed" = 1 ] || ! exported "$export"; then
        exportfs -ra >&2
    fi
    exported "$export" || die "$export is not exported after exportfs -ra (see exportfs -v and $exports_file)"
}

[ "$(id -u)" -eq 0 ] || die "must run as root (use sudo)"
case "$mode" in
    client) ensure_client ;;
    server) serve "$@" ;;
esac
