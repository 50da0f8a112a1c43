#!/usr/bin/env bash
# tools/test-deps.sh: install the system packages the tests need (`make test` runs it first,
# and so does .ci/run). Idempotent: when everything is there it installs nothing and is quick.
#
# Debian/Ubuntu: each package must be fully installed by dpkg (db:Status-Abbrev "ii"), not only
# have its binary on disk: a package left unpacked or half-configured (its post-install never
# ran, e.g. openssh-server without its sshd user) is repaired with `dpkg --configure -a`, or
# reinstalled; a missing one is installed (`apt-get update` once, only then). Installing runs
# under a temporary policy-rc.d, so that it does not start this machine's own sshd or dockerd:
# the tests start their own, in namespaces.
# dnf systems (Fedora): the equivalent packages, through rpm -q and dnf.
# Not root: prints one line saying what is missing and the command to run, exits 1.
#
# Go is not among them: the distributions' Go is older than toolchain/*/go.mod needs (Debian 12 has
# 1.19, Ubuntu 24.04 1.22), so `make go-test`, toolchain/build.sh and the test hosts' image build
# take the local go when it is new enough and otherwise fetch Go once from the module proxy
# (toolchain/ensure_go.py).
#
# For the tests of this script: HS_TEST_DEPS_UID stands for the user ID, HS_TEST_DEPS_POLICY for
# /usr/sbin/policy-rc.d; the tools come from PATH.
set -euo pipefail

me=${0}
uid=${HS_TEST_DEPS_UID:-$(id -u)}
policy=${HS_TEST_DEPS_POLICY:-/usr/sbin/policy-rc.d}

say() { printf 'test-deps: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# What the tests use, by Debian package:
#   - docker.io       the test hosts' dockerd (integration, scripts, e2e)
#   - shellcheck      `make lint` and tests/scripts/test_shellcheck.py
#   - util-linux      nsenter/unshare into the test hosts' namespaces
#   - iproute2        `ip` for the hosts' bridge, veths and network namespaces
#   - openssh-client  ssh and ssh-keygen (stack keys, the Python side reaching the hosts)
#   - openssh-server  the integration test hosts' sshd
#   - sudo, passwd    the test hosts' deploy user (useradd, usermod, sudo)
#   - make, curl      the README's commands; requests to the nodes in the e2e tests
#   - openssl         the e2e test ACME server's HTTPS certificate (tests/e2e/pebble.py)
#   - genisoimage     mkisofs: the libvirt provider plugin makes the lab's cloud-init ISOs with it
#   - python3-venv    `make venv` (Debian's python3 has no ensurepip without it)
#   - age             `make backup` / `make restore` encrypt the archives with it (tests/unit/test_backup.py, e2e)
deb_packages=(docker.io shellcheck util-linux iproute2 openssh-client openssh-server sudo passwd make curl openssl genisoimage python3-venv age)

# --------------------------------------------------------------------------------------------------
# dnf systems: rpm has no half-configured state to repair; install what rpm -q does not know.
if ! have dpkg-query; then
    rpm_name() {
        case $1 in
            docker.io) echo moby-engine ;;
            shellcheck) echo ShellCheck ;;
            iproute2) echo iproute ;;
            openssh-client) echo openssh-clients ;;
            passwd) echo shadow-utils ;; # useradd, usermod
            python3-venv) ;; # part of python3
            *) echo "$1" ;;
        esac
    }
    if ! have rpm || ! have dnf; then
        die "neither dpkg nor dnf here: install by hand the equivalents of the Debian packages ${deb_packages[*]}"
    fi
    missing=()
    for pkg in "${deb_packages[@]}"; do
        name=$(rpm_name "$pkg")
        [ -n "$name" ] || continue
        rpm -q "$name" >/dev/null 2>&1 || missing+=("$name")
    done
    [ "${#missing[@]}" -gt 0 ] || exit 0
    if [ "$uid" != 0 ]; then
        die "missing: ${missing[*]}; run as root: dnf install -y ${missing[*]}"
    fi
    dnf install -y "${missing[@]}" ||
        die "dnf could not install ${missing[*]} (moby-engine is Fedora's Docker Engine; elsewhere install Docker Engine and the rest by hand)"
    exit 0
fi

# --------------------------------------------------------------------------------------------------
# Debian/Ubuntu.

# The dpkg state of a package: "ii" installed, "" not installed at all, else the two-letter state
# and its error flag (iU unpacked, iF half-configured, iH half-installed, ...; see dpkg-query(1)).
state() {
    local s
    s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || s=
    s=${s:0:3}
    s=${s%% }
    case $s in
        ii | hi) echo ii ;;    # installed (hi: installed and held)
        "" | ?n | ?c) echo ;;  # not installed, or only its configuration files left
        *) echo "$s" ;;
    esac
}

# missing: not installed; broken: present but not fully installed ("pkg(state)" in broken_desc).
check() {
    missing=() broken=() broken_desc=()
    local pkg s
    for pkg in "${deb_packages[@]}"; do
        s=$(state "$pkg")
        if [ -z "$s" ]; then
            missing+=("$pkg")
        elif [ "$s" != ii ]; then
            broken+=("$pkg")
            broken_desc+=("${pkg}(${s})")
        fi
    done
}

check
if [ "${#missing[@]}" -eq 0 ] && [ "${#broken[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$uid" != 0 ]; then
    what=
    [ "${#missing[@]}" -eq 0 ] || what="missing: ${missing[*]}; "
    [ "${#broken[@]}" -eq 0 ] || what+="not fully installed: ${broken_desc[*]}; "
    die "${what}run as root: sudo ${me}"
fi

export DEBIAN_FRONTEND=noninteractive
# Installing must not start this machine's services (openssh-server would start its sshd,
# docker.io its dockerd): a policy-rc.d that forbids it, for the time of this script.
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

if [ "${#broken[@]}" -gt 0 ]; then
    say "not fully installed: ${broken_desc[*]}; running dpkg --configure -a"
    dpkg --configure -a || say "dpkg --configure -a failed; reinstalling instead"
    check
fi

updated=0
apt_update() {
    [ "$updated" = 1 ] || apt-get update -q
    updated=1
}
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt_update
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ "${#broken[@]}" -gt 0 ]; then
    say "reinstalling: ${broken_desc[*]}"
    apt_update
    apt-get install -y -q --no-install-recommends --reinstall "${broken[@]}"
fi

check
if [ "${#missing[@]}" -gt 0 ] || [ "${#broken[@]}" -gt 0 ]; then
    die "still not installed after apt-get: ${missing[*]}${missing[*]:+ }${broken_desc[*]}"
fi
say "all test packages installed"
