#!/usr/bin/env bash
# Prepare a host for Docker Swarm, as root: Docker Engine installed, enabled and
# running, USER in the docker group, the swarm ports open where a host firewall
# is active.  Idempotent: on a prepared host it changes nothing and exits 0.
#
# Usage: prepare-node.sh USER [SOURCE]
#   SOURCE  where Docker Engine comes from when it is missing:
#           distro (default): the distribution's own packages (docker.io, moby-engine)
#           docker: Docker's package repository (docker-ce)
# Refuses, with a message, a distribution it cannot install on and a Docker
# Engine older than MIN_DOCKER.
set -euo pipefail

user=${1:?usage: prepare-node.sh USER [distro|docker]}
source_kind=${2:-distro}
MIN_DOCKER=20.10
os_release=${HA_SWARM_OS_RELEASE:-/etc/os-release}

say() { printf 'prepare-node: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case "$source_kind" in
    distro | docker) ;;
    *) die "unknown Docker source '$source_kind': use distro or docker" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (use sudo)"
id "$user" >/dev/null 2>&1 || die "user $user does not exist"

# Swarm: 2377/tcp cluster management, 7946/tcp+udp node gossip, 4789/udp overlay (VXLAN).
swarm_ports="2377/tcp 7946/tcp 7946/udp 4789/udp"

# The distribution family: debian (Debian, Ubuntu and derivatives) or rhel (RHEL, Rocky, Alma, CentOS, Fedora).
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
        *) die "unsupported distribution '$id': ha-swarm installs Docker on Debian, Ubuntu and RHEL-family hosts; install Docker Engine $MIN_DOCKER or later by hand" ;;
    esac
}

distro_id() {
    # shellcheck disable=SC1090
    (. "$os_release" && printf '%s' "${ID:-}")
}

install_from_apt() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$source_kind" = distro ]; then
        say "installing docker.io from the distribution's packages"
        apt-get update -q
        apt-get install -y -q docker.io
        return
    fi
    local id codename arch
    id=$(distro_id)
    # shellcheck disable=SC1090
    codename=$(. "$os_release" && printf '%s' "${VERSION_CODENAME:-}")
    arch=$(dpkg --print-architecture)
    [ -n "$codename" ] || die "no VERSION_CODENAME in $os_release: cannot choose Docker's apt repository"
    say "installing docker-ce from Docker's apt repository ($id $codename)"
    apt-get update -q
    apt-get install -y -q ca-certificates curl
    install -m 0755 -d /etc/apt/keyrings
    curl -fsSL "https://download.docker.com/linux/$id/gpg" -o /etc/apt/keyrings/docker.asc
    chmod a+r /etc/apt/keyrings/docker.asc
    printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/%s %s stable\n' \
        "$arch" "$id" "$codename" >/etc/apt/sources.list.d/docker.list
    apt-get update -q
    apt-get install -y -q docker-ce docker-ce-cli containerd.io
}

install_from_dnf() {
    local id
    id=$(distro_id)
    if [ "$source_kind" = distro ]; then
        [ "$id" = fedora ] || die "$id has no Docker Engine in its own packages: set cloud.dockerSource to docker"
        say "installing moby-engine from the distribution's packages"
        dnf install -y moby-engine
        return
    fi
    local repo=centos
    case "$id" in fedora | rhel) repo=$id ;; esac
    say "installing docker-ce from Docker's dnf repository ($repo)"
    dnf install -y dnf-plugins-core
    dnf config-manager --add-repo "https://download.docker.com/linux/$repo/docker-ce.repo"
    dnf install -y docker-ce docker-ce-cli containerd.io
}

install_docker() {
    command -v dockerd >/dev/null 2>&1 && return 0
    case "$(distro_family)" in
        debian) install_from_apt ;;
        rhel) install_from_dnf ;;
    esac
    command -v dockerd >/dev/null 2>&1 || die "Docker Engine was installed but dockerd is not on PATH"
}

# Succeeds when version $1 (like 20.10.24 or 26.1.5+dfsg1) is at least $2 (major.minor).
version_at_least() {
    local have_major have_minor want_major want_minor
    IFS=. read -r have_major have_minor _ <<<"$1"
    IFS=. read -r want_major want_minor <<<"$2"
    have_minor=${have_minor%%[!0-9]*}
    [ "$have_major" -gt "$want_major" ] || { [ "$have_major" -eq "$want_major" ] && [ "${have_minor:-0}" -ge "$want_minor" ]; }
}

check_docker_version() {
    local line version
    line=$(dockerd --version)
    version=$(sed -n 's/^Docker version \([0-9][0-9]*\.[0-9][0-9]*[^, ]*\).*/\1/p' <<<"$line")
    [ -n "$version" ] || die "cannot read the Docker Engine version from: $line"
    version_at_least "$version" "$MIN_DOCKER" ||
        die "Docker Engine $version is too old for this cluster: swarm mode here needs $MIN_DOCKER or later; upgrade it (or remove it and set cloud.dockerSource)"
}

start_docker() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl is-enabled --quiet docker 2>/dev/null || systemctl enable docker
        systemctl is-active --quiet docker || systemctl start docker
    fi
}

join_docker_group() {
    getent group docker >/dev/null || groupadd --system docker
    local groups
    groups=" $(id -nG "$user") "
    if [[ "$groups" != *" docker "* ]]; then
        say "adding $user to the docker group"
        usermod -aG docker "$user"
    fi
}

open_ports() {
    local port rules
    if command -v ufw >/dev/null 2>&1 && rules=$(ufw status 2>/dev/null) && [[ "$rules" == *"Status: active"* ]]; then
        for port in $swarm_ports; do
            if ! grep -Eq "^${port}[[:space:]]+ALLOW" <<<"$rules"; then
                say "ufw: allowing $port"
                ufw allow "$port" >/dev/null
            fi
        done
    fi
    if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then
        local changed=0
        for port in $swarm_ports; do
            if ! firewall-cmd --permanent --query-port="$port" >/dev/null 2>&1; then
                say "firewalld: allowing $port"
                firewall-cmd --permanent --add-port="$port" >/dev/null
                changed=1
            fi
        done
        if [ "$changed" -eq 1 ]; then
            firewall-cmd --reload >/dev/null
        fi
    fi
}

install_docker
check_docker_version
start_docker
join_docker_group
open_ports
