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
NAME=docker
SRC=$HERE/docker-provider
UPSTREAM_PATH=github.com/terraform-providers/terraform-provider-docker   # the path its go.mod declares
SDK_PATH=github.com/hashicorp/terraform-plugin-sdk/v2
BRIDGE_PATH=github.com/pulumi/pulumi-terraform-bridge/v3
PLUGIN_GO_PATH=github.com/hashicorp/terraform-plugin-go
# docker_compose (the only resource upstream builds on docker/compose/v2) is a Plugin Framework
# resource, which this SDKv2-only bridge does not serve: leave it (and its dependencies) out.
BUILD_TAGS=no_compose
# shellcheck source-path=SCRIPTDIR source=bridge-provider.sh
. "$HERE/bridge-provider.sh"

case ${1:-} in -h | --help) usage; exit 0 ;; esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; exit 2; fi
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

# -mod=mod: the build folder's go.mod may be adjusted (another UPSTREAM); nothing else changes it.
bridge_go -mod=mod
bridge_outdir "$1"
if bridge_fresh "version=$VERSION upstream=$UPSTREAM tags=$BUILD_TAGS"; then
    log "$OUT is up to date (version $VERSION, $UPSTREAM)"
    exit 0
fi

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

log "building pulumi-resource-docker $VERSION from $UPSTREAM (go $("$GO" env GOVERSION); log: $LOGF)"
bridge_start

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
bridge_build "$UPSTREAM_VERSION" schema.json -- -tags "$BUILD_TAGS"
