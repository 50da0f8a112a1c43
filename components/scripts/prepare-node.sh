#!/usr/bin/env bash
# Prepare a host for Docker Swarm, as root: Docker Engine installed and running,
# USER in the docker group, the swarm ports open where a host firewall is active.
# Idempotent: on a prepared host it changes nothing and exits 0.
# Usage: prepare-node.sh USER
set -euo pipefail

user=${1:?usage: prepare-node.sh USER}
say() { printf 'prepare-node: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (use sudo)"
id "$user" >/dev/null 2>&1 || die "user $user does not exist"

# Swarm: 2377/tcp cluster management, 7946/tcp+udp node gossip, 4789/udp overlay (VXLAN).
swarm_ports="2377/tcp 7946/tcp 7946/udp 4789/udp"

install_docker() {
    if command -v dockerd >/dev/null 2>&1; then
        return 0
    fi
    if command -v apt-get >/dev/null 2>&1; then
        say "installing docker.io from the distribution's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q docker.io
    elif command -v dnf >/dev/null 2>&1; then
        say "installing moby-engine with dnf"
        dnf install -y moby-engine
    else
        die "no dockerd and no apt-get or dnf to install it: install Docker Engine by hand"
    fi
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
    local port
    local rules
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
start_docker
join_docker_group
open_ports
