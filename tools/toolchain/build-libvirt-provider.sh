#!/usr/bin/env bash
# Build ha-swarm's own `libvirt` resource plugin (tools/toolchain/libvirt-provider: Network, Pool,
# Volume, CloudInitDisk and Domain of the pulumi-libvirt SDK, over a pure-Go libvirt RPC client)
# as OUTDIR/pulumi-resource-libvirt, reporting VERSION to the engine.
#
#   tools/toolchain/build-libvirt-provider.sh OUTDIR VERSION     e.g. ... /tmp/out 0.5.4
#
# Then: pulumi plugin install resource libvirt VERSION --file OUTDIR/pulumi-resource-libvirt
# Needs go (on PATH, or /usr/local/go/bin, or $GO) and the Go module proxy; safe to rerun.
set -euo pipefail

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

if [ $# -ne 2 ]; then
    usage >&2
    exit 2
fi
outdir=$1
version=${2#v} # the engine wants a plain semver: 0.5.4, not v0.5.4
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
    echo "build-libvirt-provider: VERSION must be a semver such as 0.5.4 (got '$2')" >&2
    exit 2
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/libvirt-provider" && pwd)
go_bin=${GO:-$(command -v go || true)}
if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
fi
if [ -z "$go_bin" ]; then
    echo "build-libvirt-provider: go not found (put it on PATH or set GO)" >&2
    exit 1
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
target=$outdir/pulumi-resource-libvirt
tmp=$(mktemp "$outdir/.pulumi-resource-libvirt.XXXXXX")
trap 'rm -f "$tmp"' EXIT

(
    cd "$src"
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
    "$go_bin" build -mod=readonly -ldflags "-s -w -X main.version=$version" -o "$tmp" .
)
chmod 0755 "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
echo "$target"
