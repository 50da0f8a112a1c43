# shellcheck shell=bash
# The build steps the two bridged stand-ins share: sourced by build-docker-provider.sh and
# build-libvirt-provider.sh (not run on its own). Each builds, from a Go module of its own
# (toolchain/NAME-provider, which uses the local module toolchain/bridgeglue), the schema
# generator cmd/pulumi-tfgen-NAME, the schema, and the plugin cmd/pulumi-resource-NAME that embeds
# it. The sourcing script sets NAME (docker, libvirt) and SRC (its module folder), then calls:
#
#   bridge_go MODFLAG      GO, and the go environment: GOTOOLCHAIN=local, CGO_ENABLED=0, GOWORK=off,
#                          GOFLAGS="-trimpath -buildvcs=false MODFLAG"
#   bridge_outdir OUTDIR   OUTDIR (made, absolute), OUT (the plugin), KEYFILE, LOGF (the log), BUILD
#                          (the build folder)
#   bridge_fresh INPUTS    KEY: what the plugin is built from (INPUTS, a line of the script's
#                          inputs; the Go version; the script, this file, SRC and bridgeglue);
#                          returns 0 when OUT, OUTDIR/schema.json and the key file say it is built
#   bridge_start           starts the log; BUILD/src is a writable copy of SRC (without the
#                          generated files), BUILD/bridgeglue one of toolchain/bridgeglue
#   run DIR CMD...         a command in DIR, its output to the log; on failure the log's tail and exit
#   bridge_build UPSTREAM_VERSION EMBED... [-- GOBUILDFLAG...]
#                          tfgen, its output files EMBED... (schema.json first) copied beside
#                          cmd/pulumi-resource-NAME, the plugin (which must report VERSION), then
#                          OUT, OUTDIR/schema.json and the key file in place and BUILD removed; both
#                          commands are linked with bridgeglue.Version=VERSION and
#                          bridgeglue.UpstreamVersion=UPSTREAM_VERSION (the Terraform provider's)
#
# Progress goes to stderr (log), the commands' output to LOGF.
# shellcheck disable=SC2034 # the variables set here are the sourcing script's

BRIDGE_LIB=${BASH_SOURCE[0]}
GLUE=$(cd "$(dirname "$BRIDGE_LIB")/bridgeglue" && pwd)

log() { printf '[%s-provider] %s\n' "$NAME" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
# usage: the header comment of the sourcing script.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; }

# copy_module DIR DEST: a writable copy of a (possibly read-only) module folder.
copy_module() {
    rm -rf "$2"
    cp -r "$1" "$2"
    chmod -R u+w "$2"
}

bridge_go() {
    GO=${GO:-$(command -v go || true)}
    [ -n "$GO" ] || GO=/usr/local/go/bin/go
    [ -x "$GO" ] || die "no go toolchain (looked on PATH and at /usr/local/go/bin/go); set GO=/path/to/go"
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
    export GOFLAGS="-trimpath -buildvcs=false $1"
}

bridge_outdir() {
    mkdir -p "$1"
    OUTDIR=$(cd "$1" && pwd)
    OUT=$OUTDIR/pulumi-resource-$NAME
    KEYFILE=$OUTDIR/.pulumi-resource-$NAME.key
    LOGF=$OUTDIR/build-$NAME-provider.log
    BUILD=$OUTDIR/.build-$NAME-provider
}

# sources DIR: a hash line a file of DIR, the generated ones left out.
sources() { (cd "$1" && find . -type f ! -name schema.json ! -name bridge-metadata.json -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

bridge_fresh() {
    KEY=$(
        {
            printf '%s go=%s\n' "$1" "$("$GO" env GOVERSION)"
            sha256sum "$0" "$BRIDGE_LIB"
            sources "$SRC"
            sources "$GLUE"
        } | sha256sum | cut -d' ' -f1
    )
    [ -x "$OUT" ] && [ -s "$OUTDIR/schema.json" ] && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$KEY" ]
}

run() {
    local dir=$1
    shift
    printf '\n$ (cd %s && %s)\n' "$dir" "$*" >>"$LOGF"
    if ! (cd "$dir" && "$@") >>"$LOGF" 2>&1; then
        tail -n 25 "$LOGF" >&2
        die "'$*' failed in $dir (log: $LOGF; build folder kept: $BUILD)"
    fi
}

bridge_start() {
    T0=$(date +%s)
    : >"$LOGF"
    rm -rf "$BUILD"
    mkdir -p "$BUILD/bin" "$BUILD/schema"
    copy_module "$SRC" "$BUILD/src"
    copy_module "$GLUE" "$BUILD/bridgeglue"
    rm -f "$BUILD/src/cmd/pulumi-resource-$NAME/schema.json" "$BUILD/src/cmd/pulumi-resource-$NAME/bridge-metadata.json"
}

bridge_build() {
    local ldflags="-s -w -X ha-swarm/bridgeglue.Version=$VERSION -X ha-swarm/bridgeglue.UpstreamVersion=$1" embed=() flags=() f
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        embed+=("$1")
        shift
    done
    [ $# -eq 0 ] || flags=("${@:2}")
    log "go build ./cmd/pulumi-tfgen-$NAME (the first build compiles the bridge and the provider: minutes)"
    run "$BUILD/src" "$GO" build "${flags[@]}" -ldflags "$ldflags" -o "$BUILD/bin/pulumi-tfgen-$NAME" "./cmd/pulumi-tfgen-$NAME"
    log "generating ${embed[*]}"
    run "$BUILD/src" "$BUILD/bin/pulumi-tfgen-$NAME" schema --out "$BUILD/schema" --skip-docs --skip-examples
    for f in "${embed[@]}"; do
        [ -s "$BUILD/schema/$f" ] || die "tfgen wrote no $f (log: $LOGF)"
        cp "$BUILD/schema/$f" "$BUILD/src/cmd/pulumi-resource-$NAME/$f"
    done
    log "go build ./cmd/pulumi-resource-$NAME"
    run "$BUILD/src" "$GO" build "${flags[@]}" -ldflags "$ldflags" -o "$BUILD/bin/pulumi-resource-$NAME" "./cmd/pulumi-resource-$NAME"
    local reported
    reported=$("$BUILD/bin/pulumi-resource-$NAME" -version)
    [ "$reported" = "$VERSION" ] || die "the plugin reports version '$reported', wanted $VERSION"

    cp "$BUILD/schema/schema.json" "$OUTDIR/schema.json.tmp"
    mv -f "$OUTDIR/schema.json.tmp" "$OUTDIR/schema.json"
    chmod 0755 "$BUILD/bin/pulumi-resource-$NAME"
    mv -f "$BUILD/bin/pulumi-resource-$NAME" "$OUT"
    printf '%s\n' "$KEY" >"$KEYFILE"
    rm -rf "$BUILD"
    log "built $OUT ($(du -h "$OUT" | cut -f1), version $VERSION) and $OUTDIR/schema.json in $(($(date +%s) - T0)) s"
}
