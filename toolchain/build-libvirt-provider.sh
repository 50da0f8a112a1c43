#!/usr/bin/env bash
# Build the Pulumi resource plugin `libvirt` (pulumi-resource-libvirt) from Go modules only: the
# Terraform libvirt provider (github.com/dmacvicar/terraform-provider-libvirt) behind
# pulumi-terraform-bridge, with the ProviderInfo of toolchain/libvirt-provider, as upstream
# pulumi-libvirt does (whose own provider module the module proxy does not serve; see
# toolchain/libvirt-provider/README.md).
#
#   toolchain/build-libvirt-provider.sh OUTDIR VERSION       e.g. ... /tmp/out 0.5.4
#
#   OUTDIR    gets pulumi-resource-libvirt and the schema.json it serves (and a .key file: what
#             they were built from; a second run with the same inputs builds nothing)
#   VERSION   the version the plugin reports: the pulumi-libvirt pin (e.g. 0.5.4)
#
# Then: pulumi plugin install resource libvirt VERSION --file OUTDIR/pulumi-resource-libvirt
# The plugin's path is printed on stdout; progress goes to stderr, the go commands' output to
# OUTDIR/build-libvirt-provider.log. The versions of the Terraform provider and the bridge are
# those of libvirt-provider/go.mod.
# Needs: go 1.26+ (on PATH, /usr/local/go/bin or $GO), sha256sum; network: the Go module proxy
# only. The plugin itself needs mkisofs (genisoimage) on the machine that runs it, for CloudInitDisk.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/libvirt-provider
UPSTREAM_PATH=github.com/dmacvicar/terraform-provider-libvirt
MOD=ha-swarm/libvirt-provider

log() { printf '[libvirt-provider] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

case ${1:-} in -h | --help) usage; exit 0 ;; esac
if [ $# -ne 2 ]; then usage; exit 2; fi
OUTDIR=$1
VERSION=${2#v} # the engine wants a plain semver: 0.5.4, not v0.5.4
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "VERSION must look like 0.5.4, not '$2'"

GO=${GO:-$(command -v go || true)}
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "no go toolchain (looked on PATH and at /usr/local/go/bin/go); set GO=/path/to/go"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
# go.mod and go.sum are complete: nothing is resolved anew, every module comes from the proxy
# (no `direct` fallback to version-control hosts).
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
GOPROXY=$("$GO" env GOPROXY | sed 's/[,|]direct$//')
[ -n "$GOPROXY" ] && [ "$GOPROXY" != direct ] || GOPROXY=https://proxy.golang.org
export GOPROXY

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
OUT=$OUTDIR/pulumi-resource-libvirt
KEYFILE=$OUTDIR/.pulumi-resource-libvirt.key
LOGF=$OUTDIR/build-libvirt-provider.log
BUILD=$OUTDIR/.build-libvirt-provider

# -- up to date? The key: VERSION, the Go version, this script and every file of the Go source folder.
key=$(
    {
        printf 'version=%s go=%s\n' "$VERSION" "$("$GO" env GOVERSION)"
        sha256sum "${BASH_SOURCE[0]}"
        (cd "$SRC" && find . -type f ! -name schema.json ! -name bridge-metadata.json -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
)
if [ -x "$OUT" ] && [ -s "$OUTDIR/schema.json" ] && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$key" ]; then
    log "$OUT is up to date (version $VERSION)"
    printf '%s\n' "$OUT"
    exit 0
fi

T0=$(date +%s)
: >"$LOGF"
run() { # run DIR CMD...: a command in DIR, its output to the log
    local dir=$1
    shift
    printf '\n$ (cd %s && %s)\n' "$dir" "$*" >>"$LOGF"
    if ! (cd "$dir" && "$@") >>"$LOGF" 2>&1; then
        tail -n 25 "$LOGF" >&2
        die "'$*' failed in $dir (log: $LOGF; build folder kept: $BUILD)"
    fi
}

rm -rf "$BUILD"
mkdir -p "$BUILD/bin" "$BUILD/schema"
cp -r "$SRC" "$BUILD/src"
chmod -R u+w "$BUILD/src"
rm -f "$BUILD/src/cmd/pulumi-resource-libvirt/schema.json" "$BUILD/src/cmd/pulumi-resource-libvirt/bridge-metadata.json"

upstream_version=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Version}}' "$UPSTREAM_PATH" 2>>"$LOGF") \
    || die "cannot tell the version of $UPSTREAM_PATH from $SRC/go.mod (log: $LOGF)"
bridge_version=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Version}}' github.com/pulumi/pulumi-terraform-bridge/v3 2>>"$LOGF") \
    || die "cannot tell the bridge's version from $SRC/go.mod (log: $LOGF)"
log "building pulumi-resource-libvirt $VERSION from $UPSTREAM_PATH@$upstream_version, bridge $bridge_version (go $("$GO" env GOVERSION); log: $LOGF)"

# The schema (and the bridge metadata), then the plugin embedding both.
ldflags="-s -w -X $MOD/provider.Version=$VERSION -X $MOD/provider.UpstreamVersion=${upstream_version#v}"
log "go build ./cmd/pulumi-tfgen-libvirt (the first build compiles the bridge and the provider: minutes)"
run "$BUILD/src" "$GO" build -ldflags "$ldflags" -o "$BUILD/bin/pulumi-tfgen-libvirt" ./cmd/pulumi-tfgen-libvirt
log "generating schema.json"
run "$BUILD/src" "$BUILD/bin/pulumi-tfgen-libvirt" schema --out "$BUILD/schema" --skip-docs --skip-examples
for f in schema.json bridge-metadata.json; do
    [ -s "$BUILD/schema/$f" ] || die "tfgen wrote no $f (log: $LOGF)"
    cp "$BUILD/schema/$f" "$BUILD/src/cmd/pulumi-resource-libvirt/$f"
done
log "go build ./cmd/pulumi-resource-libvirt"
run "$BUILD/src" "$GO" build -ldflags "$ldflags" -o "$BUILD/bin/pulumi-resource-libvirt" ./cmd/pulumi-resource-libvirt
reported=$("$BUILD/bin/pulumi-resource-libvirt" -version)
[ "$reported" = "$VERSION" ] || die "the plugin reports version '$reported', wanted $VERSION"

cp "$BUILD/schema/schema.json" "$OUTDIR/schema.json.tmp"
mv -f "$OUTDIR/schema.json.tmp" "$OUTDIR/schema.json"
chmod 0755 "$BUILD/bin/pulumi-resource-libvirt"
mv -f "$BUILD/bin/pulumi-resource-libvirt" "$OUT"
printf '%s\n' "$key" >"$KEYFILE"
rm -rf "$BUILD"
command -v mkisofs >/dev/null 2>&1 || log "note: no mkisofs here; the plugin runs it to make CloudInitDisk images (Debian: genisoimage)"
log "built $OUT ($(du -h "$OUT" | cut -f1), version $VERSION) and $OUTDIR/schema.json in $(($(date +%s) - T0)) s"
printf '%s\n' "$OUT"
