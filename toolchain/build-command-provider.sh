#!/usr/bin/env bash
# Build ha-swarm's own `command` resource plugin (toolchain/command-provider: it implements
# command:remote:Command only) as OUTDIR/pulumi-resource-command, reporting VERSION to the engine.
#
#   toolchain/build-command-provider.sh OUTDIR VERSION     e.g. ... /tmp/out 1.2.1
#
# Then: pulumi plugin install resource command VERSION --file OUTDIR/pulumi-resource-command
# Needs go (on PATH, or /usr/local/go/bin, or $GO) and the Go module proxy; safe to rerun.
set -euo pipefail

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

if [ $# -ne 2 ]; then
    usage >&2
    exit 2
fi
outdir=$1
version=${2#v} # the engine wants a plain semver: 1.2.1, not v1.2.1
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
    echo "build-command-provider: VERSION must be a semver such as 1.2.1 (got '$2')" >&2
    exit 2
fi

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/command-provider" && pwd)
go_bin=${GO:-$(command -v go || true)}
if [ -z "$go_bin" ] && [ -x /usr/local/go/bin/go ]; then
    go_bin=/usr/local/go/bin/go
fi
if [ -z "$go_bin" ]; then
    echo "build-command-provider: go not found (put it on PATH or set GO)" >&2
    exit 1
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
target=$outdir/pulumi-resource-command
tmp=$(mktemp "$outdir/.pulumi-resource-command.XXXXXX")
trap 'rm -f "$tmp"' EXIT

(
    cd "$src"
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
    "$go_bin" build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=$version" \
        -o "$tmp" .
)
chmod 0755 "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
echo "$target"
