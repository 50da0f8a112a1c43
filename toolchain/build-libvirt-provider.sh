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
NAME=libvirt
SRC=$HERE/libvirt-provider
UPSTREAM_PATH=github.com/dmacvicar/terraform-provider-libvirt
# shellcheck source-path=SCRIPTDIR source=bridge-provider.sh
. "$HERE/bridge-provider.sh"

case ${1:-} in -h | --help) usage; exit 0 ;; esac
if [ $# -ne 2 ]; then usage; exit 2; fi
VERSION=${2#v} # the engine wants a plain semver: 0.5.4, not v0.5.4
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "VERSION must look like 0.5.4, not '$2'"

# go.mod and go.sum are complete: nothing is resolved anew, every module comes from the proxy
# (no `direct` fallback to version-control hosts).
bridge_go -mod=readonly
GOPROXY=$("$GO" env GOPROXY | sed 's/[,|]direct$//')
[ -n "$GOPROXY" ] && [ "$GOPROXY" != direct ] || GOPROXY=https://proxy.golang.org
export GOPROXY

bridge_outdir "$1"
if bridge_fresh "version=$VERSION"; then
    log "$OUT is up to date (version $VERSION)"
    printf '%s\n' "$OUT"
    exit 0
fi

bridge_start
upstream_version=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Version}}' "$UPSTREAM_PATH" 2>>"$LOGF") \
    || die "cannot tell the version of $UPSTREAM_PATH from $SRC/go.mod (log: $LOGF)"
bridge_version=$(cd "$BUILD/src" && "$GO" list -m -f '{{.Version}}' github.com/pulumi/pulumi-terraform-bridge/v3 2>>"$LOGF") \
    || die "cannot tell the bridge's version from $SRC/go.mod (log: $LOGF)"
log "building pulumi-resource-libvirt $VERSION from $UPSTREAM_PATH@$upstream_version, bridge $bridge_version (go $("$GO" env GOVERSION); log: $LOGF)"

# The schema and the bridge metadata, then the plugin embedding both.
bridge_build "${upstream_version#v}" schema.json bridge-metadata.json
command -v mkisofs >/dev/null 2>&1 || log "note: no mkisofs here; the plugin runs it to make CloudInitDisk images (Debian: genisoimage)"
printf '%s\n' "$OUT"
