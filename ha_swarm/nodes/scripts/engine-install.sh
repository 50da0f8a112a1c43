#!/usr/bin/env bash
# engine-install.sh VERSION
# On the node itself, as root, the second step of its Docker Engine upgrade:
# if the daemon already runs VERSION (or VERSION with a distribution suffix such
# as +dfsg1), do nothing. Otherwise install that version from the node's own
# package source (apt: docker-ce and docker-ce-cli when docker-ce is installed,
# else docker.io; dnf: docker-ce or moby-engine), restart the daemon and wait
# until it answers with VERSION. A swarm manager that comes back locked
# (autolock) is reported with what to do. Prints nothing on stdout.
# HS_ENGINE_INSTALLER: a program to run as `PROGRAM VERSION` instead of the
# package manager and the restart (another installation method; the tests).
# Timeout: HS_ENGINE_TIMEOUT seconds (default 300) for the daemon to answer.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

if [ "$#" -ne 1 ] || [ -z "$1" ]; then hs_die "usage: engine-install.sh VERSION"; fi
version=$1
case "$version" in
    *[!0-9A-Za-z.+~-]*) hs_die "VERSION '${version}' is not a Docker Engine version such as 27.3.1" ;;
esac
timeout_s=$(hs_timeout_from HS_ENGINE_TIMEOUT 300)

runs_version() {
    case "$1" in
        "$version" | "$version"+* | "$version"~* | "$version"-*) return 0 ;;
        *) return 1 ;;
    esac
}

running=""
daemon_at_version() {
    running=$(hs_docker version --format '{{.Server.Version}}' 2>/dev/null) || return 1
    runs_version "$running"
}

if daemon_at_version; then
    hs_log "the Docker Engine here already runs ${running}; nothing to do"
    exit 0
fi
hs_log "upgrading the Docker Engine here from ${running:-unknown} to ${version}"

# apt_version PACKAGE: the candidate version string of PACKAGE whose upstream part is VERSION.
apt_version() {
    apt-cache madison "$1" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | while read -r v; do
        upstream=${v#*:}
        upstream=${upstream%-*}
        case "$upstream" in
            "$version" | "$version"+* | "$version"~*)
                printf '%s\n' "$v"
                break
                ;;
        esac
    done
}

install_with_apt() {
    local -a packages=()
    local pkg v
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || hs_die "apt-get update failed"
    if dpkg-query -W -f '${Status}' docker-ce 2>/dev/null | grep -q 'install ok installed'; then
        for pkg in docker-ce docker-ce-cli; do
            v=$(apt_version "$pkg")
            [ -n "$v" ] || hs_die "the package source has no ${pkg} ${version} (apt-cache madison ${pkg})"
            packages+=("${pkg}=${v}")
        done
    else
        v=$(apt_version docker.io)
        [ -n "$v" ] || hs_die "the package source has no docker.io ${version} (apt-cache madison docker.io); set cloud.dockerSource docker for Docker's own versions"
        packages+=("docker.io=${v}")
    fi
    hs_log "installing ${packages[*]}"
    apt-get install -y -qq --allow-downgrades -o Dpkg::Options::=--force-confold "${packages[@]}" >&2 ||
        hs_die "apt-get install ${packages[*]} failed"
}

install_with_dnf() {
    local -a packages=()
    if rpm -q docker-ce >/dev/null 2>&1; then
        packages=("docker-ce-${version}" "docker-ce-cli-${version}")
    elif rpm -q moby-engine >/dev/null 2>&1; then
        packages=("moby-engine-${version}")
    else
        hs_die "neither docker-ce nor moby-engine is installed: cannot tell which package to upgrade"
    fi
    hs_log "installing ${packages[*]}"
    dnf install -y -q --allowerasing "${packages[@]}" >&2 || dnf downgrade -y -q "${packages[@]}" >&2 ||
        hs_die "dnf install ${packages[*]} failed"
}

restart_docker() {
    if command -v systemctl >/dev/null 2>&1; then
        systemctl restart docker >&2 || hs_die "systemctl restart docker failed"
    else
        service docker restart >&2 || hs_die "service docker restart failed"
    fi
}

if [ -n "${HS_ENGINE_INSTALLER:-}" ]; then
    hs_log "installing with ${HS_ENGINE_INSTALLER}"
    "$HS_ENGINE_INSTALLER" "$version" >&2 || hs_die "${HS_ENGINE_INSTALLER} ${version} failed"
else
    [ "${EUID:-$(id -u)}" -eq 0 ] || hs_die "this script installs packages: run it as root"
    if command -v apt-get >/dev/null 2>&1; then
        install_with_apt
    elif command -v dnf >/dev/null 2>&1; then
        install_with_dnf
    else
        hs_die "no apt-get or dnf here: install Docker Engine ${version} by hand (or with HS_ENGINE_INSTALLER)"
    fi
    restart_docker
fi

if ! daemon_at_version; then
    hs_log "waiting up to ${timeout_s}s for the Docker daemon to answer with ${version}"
    hs_wait "$timeout_s" 2 daemon_at_version ||
        hs_die "the Docker daemon does not answer with version ${version} ${timeout_s}s after the installation (it answers: ${running:-nothing})"
fi
state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
[ "$state" != locked ] || hs_die "$(hs_locked_advice)"
hs_log "the Docker Engine here runs ${running}"
