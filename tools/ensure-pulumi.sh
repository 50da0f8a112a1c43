#!/usr/bin/env bash
# Find or install the Pulumi CLI that `make up`, `make preview` and `make destroy` run, and print the
# environment that puts it on PATH (shell `export` lines on stdout; progress on stderr):
#
#   1. the `pulumi` already on PATH: nothing to print;
#   2. else the official release of the `pulumi` pin of requirements.txt, downloaded once into
#      ${HA_SWARM_CACHE:-~/.cache/ha-swarm}/pulumi/VERSION/ and checked against the checksums that
#      Pulumi publishes beside it, when this machine can reach the release server; its plugins are
#      then installed by Pulumi itself on first use, as usual;
#   3. else (no route to the release server: an air-gapped machine) the offline toolchain, built from
#      Go modules by toolchain/build.sh (about 40 minutes the first time, a progress line per
#      part; seconds once built), with ha-swarm's builds of the plugins.
#
#   eval "$(tools/ensure-pulumi.sh)"
#
# A download whose checksum does not match is refused (exit 1), never used nor replaced by the
# toolchain silently. HA_SWARM_PULUMI_RELEASES names another release server (a mirror), with the
# same file names as https://get.pulumi.com/releases/sdk/.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}
RELEASES=${HA_SWARM_PULUMI_RELEASES:-https://get.pulumi.com/releases/sdk}
BUILD_TOOLCHAIN=${HA_SWARM_BUILD_TOOLCHAIN:-$REPO/toolchain/build.sh}

log() { printf 'ensure-pulumi: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if command -v pulumi >/dev/null 2>&1; then
    log "using $(command -v pulumi) ($(pulumi version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

version=$(sed -n 's/^pulumi==\([0-9][0-9.]*\)[[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$REPO/requirements.txt" | head -n 1)
[ -n "$version" ] || die "requirements.txt pins no pulumi==X.Y.Z"
case $(uname -m) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "no Pulumi release for this machine's architecture ($(uname -m)); install the pulumi CLI yourself" ;;
esac
tarball=pulumi-v$version-linux-$arch.tar.gz
sums=pulumi-$version-checksums.txt
dest=$CACHE/pulumi/$version

# The caller's $PATH is expanded where the line is evaluated, not here.
# shellcheck disable=SC2016
print_env() { printf 'export PATH=%q:"$PATH"\n' "$1"; }

if [ -x "$dest/pulumi/pulumi" ]; then
    log "using the official Pulumi CLI $version in $dest"
    print_env "$dest/pulumi"
    exit 0
fi

fetch() { curl -fsSL --retry 2 --connect-timeout 10 --max-time 600 -o "$2" "$1"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ensure-pulumi.XXXXXX")
trap 'rm -rf "$work"' EXIT
if fetch "$RELEASES/$sums" "$work/$sums" 2>"$work/error"; then
    log "downloading the official Pulumi CLI $version ($RELEASES/$tarball)"
    fetch "$RELEASES/$tarball" "$work/$tarball" || die "could not download $RELEASES/$tarball"
    want=$(awk -v f="$tarball" '$2 == f || $2 == "*" f { print $1; exit }' "$work/$sums")
    [ -n "$want" ] || die "$RELEASES/$sums lists no checksum for $tarball"
    got=$(sha256sum "$work/$tarball" | awk '{ print $1 }')
    [ "$got" = "$want" ] || die "checksum mismatch for $tarball: published $want, downloaded $got; nothing installed"
    mkdir -p "$work/unpacked"
    tar -xzf "$work/$tarball" -C "$work/unpacked"
    [ -x "$work/unpacked/pulumi/pulumi" ] || die "$tarball holds no pulumi/pulumi"
    mkdir -p "$(dirname "$dest")"
    rm -rf "$dest"
    mv "$work/unpacked" "$dest"
    log "installed the official Pulumi CLI $version into $dest (checksum verified)"
    print_env "$dest/pulumi"
    exit 0
fi
log "the Pulumi release server is not reachable ($(head -c 200 "$work/error" | tr '\n' ' '))"

# Offline: the toolchain. It prints its env lines on stdout and a line per part on stderr.
if "$BUILD_TOOLCHAIN" --check >/dev/null 2>&1; then
    log "using the offline toolchain in $CACHE/toolchain"
else
    log "building the offline toolchain (pulumi CLI, language host, plugins, images) from Go modules:"
    log "about 40 minutes on 2 cores the first time, a line per part below; later runs take seconds"
fi
"$BUILD_TOOLCHAIN" || die "the offline toolchain could not be built (see its messages above); 'make toolchain' retries"
