#!/usr/bin/env bash
# Build the Pulumi resource plugin `docker` (pulumi-resource-docker) from Go modules only: the
# Terraform docker provider behind pulumi-terraform-bridge, with the ProviderInfo of
# toolchain/docker-provider (pulumi-docker's own provider module is not served by the
# module proxy here; see toolchain/docker-provider/README.md).
#
#   toolchain/build-docker-provider.sh OUTDIR VERSION [UPSTREAM_MODULE@VERSION]
#
#   OUTDIR    gets pulumi-resource-docker and the schema.json it serves (and a .key file: what
#             they were built from; a second run with the same inputs builds nothing)
#   VERSION   the version the plugin reports: the pulumi-docker pin (e.g. 5.2.0)
#   UPSTREAM  the Terraform provider's module, default DOCKER_UPSTREAM of versions.env
#
# Then: pulumi plugin install resource docker VERSION --file OUTDIR/pulumi-resource-docker
# Progress goes to stderr, the go commands' output to OUTDIR/build-docker-provider.log.
# Needs: go 1.26+ (on PATH or /usr/local/go/bin), sha256sum; network: the Go module proxy only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/docker-provider
UPSTREAM_PATH=github.com/terraform-providers/terraform-provider-docker   # the path its go.mod declares
SDK_PATH=github.com/hashicorp/terraform-plugin-sdk/v2
BRIDGE_PATH=github.com/pulumi/pulumi-terraform-bridge/v3
PLUGIN_GO_PATH=github.com/hashicorp/terraform-plugin-go
# docker_compose (the only resource upstream builds on docker/compose/v2) is a Plugin Framework
# resource, which this SDKv2-only bridge does not serve: leave it (and its dependencies) out.
BUILD_TAGS=no_compose

log() { printf '[docker-provider] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

case ${1:-} in -h | --help) usage; exit 0 ;; esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; exit 2; fi
OUTDIR=$1
VERSION=${2#v}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "VERSION must look like 5.2.0, not '$2'"
if [ $# -ge 3 ]; then
    UPSTREAM=$3
else
    # shellcheck source-path=SCRIPTDIR source=versions.env
    . "$HERE/versions.env"
    UPSTREAM=${DOCKER_UPSTREAM:?versions.env sets no DOCKER_UPSTREAM}
fi
case $UPSTREAM in *@*) ;; *) die "UPSTREAM must be MODULE@VERSION, not '$UPSTREAM'" ;; esac
UPSTREAM_VERSION=${UPSTREAM##*@}

GO=${GO:-$(command -v go || true)}
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "no go toolchain (looked on PATH and at /usr/local/go/bin/go); set GO=/path/to/go"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
# -mod=mod: the build folder's go.mod may be adjusted (another UPSTREAM); nothing else changes it.
export GOFLAGS="-trimpath -buildvcs=false -mod=mod"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
OUT=$OUTDIR/pulumi-resource-docker
KEYFILE=$OUTDIR/.pulumi-resource-docker.key
LOGF=$OUTDIR/build-docker-provider.log
BUILD=$OUTDIR/.build-docker-provider

# -- up to date? The key: the inputs named on the command line, the Go version, this script and
# every file of the Go source folder.
key=$(
    {
        printf 'version=%s upstream=%s go=%s tags=%s\n' "$VERSION" "$UPSTREAM" "$("$GO" env GOVERSION)" "$BUILD_TAGS"
        sha256sum "${BASH_SOURCE[0]}"
        (cd "$SRC" && find . -type f ! -name schema.json -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
)
if [ -x "$OUT" ] && [ -s "$OUTDIR/schema.json" ] && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$key" ]; then
    log "$OUT is up to date (version $VERSION, $UPSTREAM)"
    exit 0
fi

T0=$(date +%s)
: >"$LOGF"
run() { # run DIR CMD...: a go command in DIR, its output to the log
    local dir=$1
    shift
    printf '\n$ (cd %s && %s)\n' "$dir" "$*" >>"$LOGF"
    if ! (cd "$dir" && "$@") >>"$LOGF" 2>&1; then
        tail -n 25 "$LOGF" >&2
        die "'$*' failed in $dir (log: $LOGF; build folder kept: $BUILD)"
    fi
}
# moddir MODULE@VERSION: download a module (into the module cache) and print its folder.
moddir() {
    local json dir
    json=$(cd "$BUILD" && GOFLAGS='' "$GO" mod download -json "$1" 2>&1) || true
    dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
        log "the module proxy did not give $1:"
        sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/  \1/p' <<<"$json" | sed 's/\\n/ /g; s/\\t/ /g' >&2
        return 1
    fi
    printf '%s\n' "$dir"
}
# copy_module DIR DEST: a writable copy of a (read-only) module cache folder.
copy_module() { rm -rf "$2"; cp -r "$1" "$2"; chmod -R u+w "$2"; }

log "building pulumi-resource-docker $VERSION from $UPSTREAM (go $("$GO" env GOVERSION); log: $LOGF)"
rm -rf "$BUILD"
mkdir -p "$BUILD/bin" "$BUILD/schema"
copy_module "$SRC" "$BUILD/src"
rm -f "$BUILD/src/cmd/pulumi-resource-docker/schema.json"

# 1. The Terraform provider: a copy with the pulumishim package (it may import internal/provider).
updir=$(moddir "$UPSTREAM") || die "cannot fetch the Terraform provider $UPSTREAM"
copy_module "$updir" "$BUILD/src/upstream"
declared=$(sed -n 's/^module[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$BUILD/src/upstream/go.mod" | head -n 1)
[ "$declared" = "$UPSTREAM_PATH" ] || die "$UPSTREAM declares its module path as '$declared', the shim expects $UPSTREAM_PATH"
[ -d "$BUILD/src/upstream/internal/provider" ] || die "$UPSTREAM has no internal/provider package"
mkdir -p "$BUILD/src/upstream/pulumishim"
cp "$SRC/shim/shim.go.tmpl" "$BUILD/src/upstream/pulumishim/shim.go"
run "$BUILD/src" "$GO" mod edit -require="$UPSTREAM_PATH@$UPSTREAM_VERSION"

# 2. Pulumi's fork of terraform-plugin-sdk/v2, at the version the bridge's go.mod replaces it with.
bridge_version=$(sed -n "s#^[[:space:]]*$BRIDGE_PATH \(v[^[:space:]]*\).*#\1#p" "$BUILD/src/go.mod" | head -n 1)
[ -n "$bridge_version" ] || die "cannot tell the version of $BRIDGE_PATH from $SRC/go.mod"
bridgedir=$(moddir "$BRIDGE_PATH@$bridge_version") || die "cannot fetch $BRIDGE_PATH@$bridge_version"
fork=$(sed -n "s#^replace $SDK_PATH => \([^[:space:]]*\) \(v[^[:space:]]*\).*#\1@\2#p" "$bridgedir/go.mod" | head -n 1)
[ -n "$fork" ] || die "$BRIDGE_PATH@$bridge_version's go.mod replaces no $SDK_PATH (expected Pulumi's fork)"
forkdir=$(moddir "$fork") || die "cannot fetch $fork (the plugin SDK fork of $BRIDGE_PATH@$bridge_version)"
copy_module "$forkdir" "$BUILD/src/sdkv2"
log "bridge $bridge_version, plugin SDK $fork"

# The fork predates terraform-plugin-go's GenerateResourceConfig RPC; when the module graph
# selects a terraform-plugin-go that has it, add the stub (shim/sdkv2_compat.go.tmpl).
plugin_go_dir=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Dir}}' "$PLUGIN_GO_PATH" 2>>"$LOGF") || true
if [ -z "$plugin_go_dir" ]; then
    run "$BUILD/src" "$GO" mod download "$PLUGIN_GO_PATH"
    plugin_go_dir=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Dir}}' "$PLUGIN_GO_PATH")
fi
if grep -qs 'type GenerateResourceConfigRequest ' "$plugin_go_dir"/tfprotov5/*.go \
    && ! grep -qs 'func (s \*GRPCProviderServer) GenerateResourceConfig(' "$BUILD/src/sdkv2/helper/schema/"*.go; then
    cp "$SRC/shim/sdkv2_compat.go.tmpl" "$BUILD/src/sdkv2/helper/schema/zz_ha_swarm_compat.go"
    log "added GenerateResourceConfig to the plugin SDK fork ($(basename "$plugin_go_dir") wants it)"
fi

# 3. The schema, then the plugin embedding it.
ldflags="-s -w -X ha-swarm/docker-provider/provider.Version=$VERSION -X ha-swarm/docker-provider/provider.UpstreamVersion=$UPSTREAM_VERSION"
log "go build ./cmd/pulumi-tfgen-docker (the first build compiles the bridge and the provider: about 15 min on 2 cores)"
run "$BUILD/src" "$GO" build -tags "$BUILD_TAGS" -ldflags "$ldflags" -o "$BUILD/bin/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker
log "generating schema.json"
run "$BUILD/src" "$BUILD/bin/pulumi-tfgen-docker" schema --out "$BUILD/schema" --skip-docs --skip-examples
[ -s "$BUILD/schema/schema.json" ] || die "tfgen wrote no schema.json (log: $LOGF)"
cp "$BUILD/schema/schema.json" "$BUILD/src/cmd/pulumi-resource-docker/schema.json"
log "go build ./cmd/pulumi-resource-docker"
run "$BUILD/src" "$GO" build -tags "$BUILD_TAGS" -ldflags "$ldflags" -o "$BUILD/bin/pulumi-resource-docker" ./cmd/pulumi-resource-docker
reported=$("$BUILD/bin/pulumi-resource-docker" -version)
[ "$reported" = "$VERSION" ] || die "the plugin reports version '$reported', wanted $VERSION"

cp "$BUILD/schema/schema.json" "$OUTDIR/schema.json.tmp"
mv -f "$OUTDIR/schema.json.tmp" "$OUTDIR/schema.json"
mv -f "$BUILD/bin/pulumi-resource-docker" "$OUT"
printf '%s\n' "$key" >"$KEYFILE"
rm -rf "$BUILD"
log "built $OUT ($(du -h "$OUT" | cut -f1), version $VERSION) and $OUTDIR/schema.json in $(($(date +%s) - T0)) s"
