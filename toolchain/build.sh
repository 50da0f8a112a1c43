#!/usr/bin/env bash
# Build ha-swarm's offline toolchain from Go modules, into a cache outside the repository:
# the pulumi CLI and Python language host (at the `pulumi` pin of requirements.txt), the
# `command`, `docker` and `libvirt` resource plugins (at the pulumi-command / pulumi-docker /
# pulumi-libvirt pins: upstream's when the module proxy serves it, else ha-swarm's own), the
# Traefik and whoami images (docker-archive tarballs for `docker load`), and Let's Encrypt's test
# ACME server pebble with pebble-challtestsrv (for the e2e tests). Only what is missing is built;
# a second run builds nothing. See toolchain/README.md.
#
#   toolchain/build.sh            build what is missing, then print the env (stdout)
#   toolchain/build.sh --check    build nothing; exit 0 if nothing is left to build, else 1
#   toolchain/build.sh --only pulumi,langhost,traefik   just these parts (and what they need)
#   toolchain/build.sh --only traefik,acme   the image of traefik.acme.issuer: swarm
#   toolchain/build.sh --retry    try again parts found unavailable within the last 24 h
#
#   eval "$(toolchain/build.sh)"   or   . "${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}/toolchain/env.sh"
#
# Progress goes to stderr, build logs to $TC/logs/; stdout carries only the env lines.
# Needs: python3, flock; network: the Go module proxy. Go: the local one when it is new enough for
# toolchain/*/go.mod, else fetched once from the module proxy (toolchain/ensure_go.py).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$REPO/toolchain
CACHE=${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}
TC=$CACHE/toolchain
ALL_PARTS=(pulumi langhost command docker libvirt traefik whoami socketproxy pebble acme)
NEGATIVE_TTL=$((24 * 3600))   # seconds an "unavailable" verdict is trusted before trying again

# shellcheck source-path=SCRIPTDIR source=versions.env
. "$SRC/versions.env"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

check=0 retry=0 only=""
while [ $# -gt 0 ]; do
    case $1 in
        --check) check=1 ;;
        --retry) retry=1 ;;
        --only) only=${2:?--only needs a list}; shift ;;
        --only=*) only=${1#--only=} ;;
        -h | --help) usage; exit 0 ;;
        *) echo "build-toolchain: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
parts=("${ALL_PARTS[@]}")
if [ -n "$only" ]; then
    IFS=, read -r -a parts <<<"$only"
    for p in "${parts[@]}"; do
        case " ${ALL_PARTS[*]} " in *" $p "*) ;; *) echo "build-toolchain: unknown part: $p (parts: ${ALL_PARTS[*]})" >&2; exit 2 ;; esac
    done
fi

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# -- versions from requirements.txt (the only place they are written) --------------------------
pin() {
    local v
    v=$(sed -n "s/^$1==\([0-9][0-9.]*\)[[:space:]]*\(#.*\)\{0,1\}$/\1/p" "$REPO/requirements.txt" | head -n 1)
    [ -n "$v" ] || die "requirements.txt pins no $1==X.Y.Z"
    printf '%s\n' "$v"
}
PULUMI_PIN=$(pin pulumi)
COMMAND_PIN=$(pin pulumi-command)
DOCKER_PIN=$(pin pulumi-docker)
LIBVIRT_PIN=$(pin pulumi-libvirt)

# -- Go ------------------------------------------------------------------------------------------
# A go new enough for the go.mod files of toolchain/: $GO, go on PATH or /usr/local/go/bin/go when
# one is, else Go fetched from the module proxy (GOTOOLCHAIN, or the golang.org/toolchain module
# checked against the checksum database); see ensure_go.py. --check fetches nothing. Exported: the
# build-*-provider.sh scripts use the same go.
if [ "$check" = 1 ]; then
    GO=$(python3 "$SRC/ensure_go.py" --offline) || { log "go: MISSING (the build fetches it)"; exit 1; }
else
    GO=$(python3 "$SRC/ensure_go.py") || die "no Go new enough for toolchain/*/go.mod (see above); set GO=/path/to/go"
fi
export GO
GOVERSION=$("$GO" env GOVERSION)
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
# Modules come from the module proxy only: no `direct` fallback to version-control hosts.
GOPROXY=$("$GO" env GOPROXY | sed 's/[,|]direct$//')
[ -n "$GOPROXY" ] && [ "$GOPROXY" != direct ] || GOPROXY=https://proxy.golang.org
export GOPROXY
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME=$TC/pulumi-home

mkdir -p "$TC"/{bin,images,logs,state,build,plugins} "$PULUMI_HOME"
exec 9>"$TC/.lock"
if ! flock -n 9; then
    log "another build-toolchain runs on $TC; waiting for it"
    flock 9
fi

# -- state: one key per part (what it was built from), a status line, the time it took ----------
st() { printf '%s/state/%s.%s' "$TC" "$1" "$2"; }
status_of() { cat "$(st "$1" status)" 2>/dev/null || true; }
key_matches() { [ -f "$(st "$1" key)" ] && [ "$(cat "$(st "$1" key)")" = "$2" ]; }
# fresh PART KEY OUTPUT...: the part was built from KEY and its outputs exist, or it was found
# unavailable from KEY less than NEGATIVE_TTL ago (and --retry was not given).
fresh() {
    local part=$1 key=$2 f
    shift 2
    key_matches "$part" "$key" || return 1
    case $(status_of "$part") in
        built*)
            for f in "$@"; do [ -e "$f" ] || return 1; done
            return 0 ;;
        unavailable*)
            [ "$retry" = 0 ] || return 1
            [ $(($(date +%s) - $(stat -c %Y "$(st "$part" status)"))) -lt "$NEGATIVE_TTL" ] ;;
        *) return 1 ;;
    esac
}
record() { # PART KEY STATUS... ; the key last, so a crash never leaves a key without its status
    local part=$1 key=$2
    shift 2
    printf '%s\n' "$*" >"$(st "$part" status)"
    printf '%s\n' "$key" >"$(st "$part" key)"
}
timed_start() { T0=$(date +%s); }
timed_end() { echo "$(($(date +%s) - T0))" >"$(st "$1" seconds)"; }

# -- module helpers ------------------------------------------------------------------------------
GOWORK_EMPTY=$TC/build/.modless   # `go mod download M@V` runs outside any module
mkdir -p "$GOWORK_EMPTY"
# fetch M@V: download the module; prints its JSON (Dir, Info, Error); status 0 when it is there.
fetch() {
    local out
    out=$(cd "$GOWORK_EMPTY" && GOFLAGS='' "$GO" mod download -json "$1" 2>/dev/null) || true
    printf '%s\n' "$out"
    ! grep -q '"Error"' <<<"$out" && grep -q '"Dir"' <<<"$out"
}
json_field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read() or "{}"); print(d.get(sys.argv[1], "") if not isinstance(d.get(sys.argv[1]), dict) else "")' "$1"; }
fetch_error() { sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$1" | sed 's/\\n\\t/ /g; s/\\t/ /g' | head -n 1; }
# origin INFO_FILE: "<hash> <time>" of the commit a version was made from, when the proxy says.
origin() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); o=d.get("Origin") or {}; print(o.get("Hash") or "-", d.get("Time") or "-")' "$1"; }
# pseudo MAJOR HASH TIME: the pseudo-version vMAJOR.0.0-yyyymmddhhmmss-hash12 of an untagged module.
pseudo() { printf 'v%s.0.0-%s-%s\n' "$1" "$(date -u -d "$3" +%Y%m%d%H%M%S)" "${2:0:12}"; }
# copy_module DIR DEST: a writable copy of a (read-only) module cache folder.
copy_module() { rm -rf "$2"; mkdir -p "$(dirname "$2")"; cp -r "$1" "$2"; chmod -R u+w "$2"; }
# gobuild LOG DIR OUT PKG [LDFLAGS]: go build in DIR, appending to LOG.
gobuild() {
    local logf=$1 dir=$2 out=$3 pkg=$4 ldflags=${5:-}
    log "  go build $pkg (log: $logf)"
    if ! (cd "$dir" && "$GO" build -o "$out.tmp" -ldflags "-s -w $ldflags" "$pkg") >>"$logf" 2>&1; then
        tail -n 20 "$logf" >&2
        return 1
    fi
    mv -f "$out.tmp" "$out"
}
size() { du -h "$1" | cut -f1; }

# -- part: pulumi CLI ----------------------------------------------------------------------------
PKG=github.com/pulumi/pulumi/pkg/v3
SDK=github.com/pulumi/pulumi/sdk/v3
# candidates for the CLI version: the pin, then the proxy's other releases, nearest first
# (newer ones before older ones: a CLI newer than the SDK is supported, an older one may not be).
pulumi_candidates() {
    local all
    all=$(cd "$GOWORK_EMPTY" && GOFLAGS='' "$GO" list -m -versions "$PKG" 2>/dev/null) || true
    python3 - "$PULUMI_PIN" "$all" <<'PY'
import sys
def key(v):
    return tuple(int(x) for x in v.lstrip("v").split("-")[0].split("."))
pin = key(sys.argv[1])
vs = sorted({v for v in sys.argv[2].split()[1:] if v.startswith("v3.") and "-" not in v}, key=key)
newer = [v for v in vs if key(v) > pin][:4]
older = [v for v in reversed(vs) if key(v) < pin][:4]
print("\n".join(["v" + sys.argv[1], *newer, *older]))
PY
}
build_pulumi() {
    local key="pin=$PULUMI_PIN go=$GOVERSION recipe=$TOOLCHAIN_RECIPE" logf=$TC/logs/pulumi.log v out tried="" pkgj sdkj
    if fresh pulumi "$key" "$TC/bin/pulumi"; then log "pulumi: $(status_of pulumi) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "pulumi: MISSING (would build from the pin $PULUMI_PIN)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    log "pulumi: CLI for the pin $PULUMI_PIN"
    for v in $(pulumi_candidates); do
        tried="$tried $v"
        if pkgj=$(fetch "$PKG@$v") && sdkj=$(fetch "$SDK@$v"); then
            [ "$v" = "v$PULUMI_PIN" ] || log "pulumi: WARNING: $PKG@v$PULUMI_PIN is not served by the module proxy ($(fetch_error "$(fetch "$PKG@v$PULUMI_PIN")")); building the nearest release it serves, $v"
            local b=$TC/build/pulumi-$v
            copy_module "$(json_field Dir <<<"$pkgj")" "$b/pkg"
            copy_module "$(json_field Dir <<<"$sdkj")" "$b/sdk"   # pkg's go.mod: replace sdk/v3 => ../sdk
            gobuild "$logf" "$b/pkg" "$TC/bin/pulumi" ./cmd/pulumi "-X $SDK/go/common/version.Version=$v" || die "pulumi: build failed, see $logf"
            out=$("$TC/bin/pulumi" version)
            [ "$out" = "$v" ] || die "pulumi: built CLI says '$out', wanted $v"
            rm -rf "$b"
            echo "${v#v}" >"$(st pulumi version)"
            json_field Info <<<"$pkgj" >"$(st pulumi info)"
            local note=""; [ "$v" = "v$PULUMI_PIN" ] || note=" (pin $PULUMI_PIN not served by the module proxy)"
            record pulumi "$key" "built $v$note, $(size "$TC/bin/pulumi")"
            timed_end pulumi
            log "pulumi: $(status_of pulumi) in $(cat "$(st pulumi seconds)") s"
            return 0
        fi
    done
    die "pulumi: none of$tried could be fetched from the module proxy"
}

# -- part: Python language host + pulumi-language-python-exec ------------------------------------
# patch_fallback_host DIR: the fallback host predates today's RunPlugin request, with which the CLI
# starts a Python policy pack; its own RunPlugin becomes runPluginProgram, called by the RunPlugin of
# toolchain/langhost-fallback/runplugin.go (see there).
patch_fallback_host() {
    local main=$1/main.go
    grep -q '^func (host \*pythonLanguageHost) RunPlugin($' "$main" || return 1
    sed -i 's/^func (host \*pythonLanguageHost) RunPlugin($/func (host *pythonLanguageHost) runPluginProgram(/' "$main"
    install -m 0644 "$SRC/langhost-fallback/runplugin.go" "$1/zz_ha_swarm_runplugin.go"
}
LANGHOST=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
# install_dynamic_shim: `pulumi-resource-pulumi-python`, the plugin that serves the program's Python
# dynamic providers (ha-swarm's host keys), beside the CLI as Pulumi's releases ship it: a shell
# script of the sdk at the Python SDK's pin (python/dist/), which runs `python -m pulumi.dynamic` in
# the project's virtualenv. Installed when missing, also into a toolchain built before it was needed.
install_dynamic_shim() {
    local shim=$TC/bin/pulumi-resource-pulumi-python sdkj v
    [ -x "$shim" ] && return 0
    [ "$check" = 0 ] || { log "langhost: MISSING $shim"; MISSING=1; return 0; }
    for v in "v$PULUMI_PIN" "v$(cat "$(st pulumi version)" 2>/dev/null)"; do
        if sdkj=$(fetch "$SDK@$v") && [ -f "$(json_field Dir <<<"$sdkj")/python/dist/pulumi-resource-pulumi-python" ]; then
            install -m 0755 "$(json_field Dir <<<"$sdkj")/python/dist/pulumi-resource-pulumi-python" "$shim"
            log "langhost: pulumi-resource-pulumi-python (dynamic providers) from $SDK@$v"
            return 0
        fi
    done
    die "langhost: no sdk/v3 module to take pulumi-resource-pulumi-python from"
}
build_langhost() {
    local cli key logf=$TC/logs/langhost.log hj sdkj pkgj ps hash time b how=""
    cli=$(cat "$(st pulumi version)" 2>/dev/null || true)
    [ -n "$cli" ] || { log "langhost: needs the pulumi part first"; MISSING=1; return 0; }
    key="cli=$cli sdkpin=$PULUMI_PIN fallback=$LANGHOST_FALLBACK_SDK go=$GOVERSION recipe=$TOOLCHAIN_RECIPE runplugin=$(tree_hash "$SRC/langhost-fallback")"
    if fresh langhost "$key" "$TC/bin/pulumi-language-python" "$TC/bin/pulumi-language-python-exec"; then
        log "langhost: $(status_of langhost) (cached)"
        install_dynamic_shim
        return 0
    fi
    [ "$check" = 0 ] || { log "langhost: MISSING (would build for CLI $cli)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    rm -f "$TC/bin/pulumi-language-python" "$TC/bin/pulumi-language-python-host"
    # 1. the host's own module at the pseudo-version of the CLI's release commit, when the proxy
    #    tells that commit (Origin of pkg/v3@vCLI) and serves the module there.
    # (state/pulumi.info names a file of the module cache the CLI was built with: fetch it again
    # when that cache is gone or another one is in use.)
    local infof
    infof=$(cat "$(st pulumi info)" 2>/dev/null || true)
    if [ ! -f "$infof" ] && pkgj=$(fetch "$PKG@v$cli"); then infof=$(json_field Info <<<"$pkgj"); fi
    read -r hash time < <(origin "$infof" 2>/dev/null || echo "- -")
    if [ "$hash" != - ]; then
        ps=$(pseudo 3 "$hash" "$time")
        if hj=$(fetch "$LANGHOST@$ps") && pkgj=$(fetch "$PKG@v$cli") && sdkj=$(fetch "$SDK@v$cli"); then
            b=$TC/build/langhost-$ps
            copy_module "$(json_field Dir <<<"$pkgj")" "$b/pkg"
            copy_module "$(json_field Dir <<<"$sdkj")" "$b/sdk"
            copy_module "$(json_field Dir <<<"$hj")" "$b/sdk/python/cmd/pulumi-language-python"   # replaces ../../../../pkg, ../../..
            gobuild "$logf" "$b/sdk/python/cmd/pulumi-language-python" "$TC/bin/pulumi-language-python" . "-X $SDK/go/common/version.Version=v$cli" \
                || die "langhost: build failed, see $logf"
            rm -rf "$b"
            how="$LANGHOST@$ps"
        else
            log "langhost: $LANGHOST@$ps: $(fetch_error "$(fetch "$LANGHOST@$ps")")"
        fi
    else
        log "langhost: the proxy does not say which commit pkg/v3@v$cli was made from, so no pseudo-version of $LANGHOST can be named"
    fi
    # 2. else the host as it was inside the sdk module, last in sdk/v3@LANGHOST_FALLBACK_SDK.
    if [ -z "$how" ]; then
        log "langhost: WARNING: building the Python host of $SDK@$LANGHOST_FALLBACK_SDK (the last release that held it in the sdk module)"
        sdkj=$(fetch "$SDK@$LANGHOST_FALLBACK_SDK") || die "langhost: $SDK@$LANGHOST_FALLBACK_SDK: $(fetch_error "$sdkj")"
        b=$TC/build/langhost-sdk-$LANGHOST_FALLBACK_SDK
        copy_module "$(json_field Dir <<<"$sdkj")" "$b"
        patch_fallback_host "$b/python/cmd/pulumi-language-python" || die "langhost: cannot patch RunPlugin into the host of $SDK@$LANGHOST_FALLBACK_SDK"
        gobuild "$logf" "$b" "$TC/bin/pulumi-language-python-host" ./python/cmd/pulumi-language-python "-X $SDK/go/common/version.Version=$LANGHOST_FALLBACK_SDK" \
            || die "langhost: build failed, see $logf"
        rm -rf "$b"
        install -m 0755 "$SRC/pulumi-language-python.sh" "$TC/bin/pulumi-language-python"
        how="$SDK@$LANGHOST_FALLBACK_SDK/python/cmd/pulumi-language-python (fallback; reads runtime.options.virtualenv through the front script; RunPlugin of today's CLI, for policy packs)"
    fi
    # The exec shim comes from the sdk at the Python SDK's pin (it runs that SDK), else the CLI's.
    local execsrc=""
    for v in "v$PULUMI_PIN" "v$cli"; do
        if sdkj=$(fetch "$SDK@$v"); then execsrc=$(json_field Dir <<<"$sdkj")/python/cmd/pulumi-language-python-exec; how="$how; exec shim from sdk/v3@$v"; break; fi
    done
    [ -n "$execsrc" ] || die "langhost: no sdk/v3 module to take pulumi-language-python-exec from"
    install -m 0755 "$execsrc" "$TC/bin/pulumi-language-python-exec"
    install_dynamic_shim
    record langhost "$key" "built $how"
    timed_end langhost
    log "langhost: $(status_of langhost) in $(cat "$(st langhost seconds)") s"
}

# -- parts: resource plugins ---------------------------------------------------------------------
# provider_part PART NAME PIN OWN [OWN_ARG] -- MODULE... : find a module version of the provider for
# the pin, build pulumi-resource-NAME, install it into PULUMI_HOME. When the proxy serves no version
# of it, build ha-swarm's own replacement instead (toolchain/OWN/, built by
# toolchain/build-OWN.sh OUTDIR PIN [OWN_ARG]); when that fails too, the part is recorded
# "unavailable" with the proxy's answer, and the other parts go on.
plugin_installed() { [ -n "$(ls -d "$PULUMI_HOME/plugins/resource-$1-v$2" 2>/dev/null)" ]; }
# tree_hash PATH...: a hash of the sources an own provider is built from, the files of each PATH (a
# folder or a file) in turn, named relative to this folder, so that a move of the folder changes no key.
tree_hash() {
    local p
    for p in "$@"; do find "$p" -type f -not -name '*.test' -print0 | sort -z | xargs -0 sha256sum; done \
        | sed "s|  $SRC/|  |" | sha256sum | cut -c1-16
}
# own_sources OWN: what toolchain/build-OWN.sh builds from besides toolchain/OWN/ and itself: the
# bridged stand-ins share bridge-provider.sh and the Go module bridgeglue/.
own_sources() { case $1 in docker-provider | libvirt-provider) printf '%s\n' "$SRC/bridge-provider.sh" "$SRC/bridgeglue" ;; esac; }
provider_part() {
    local part=$1 name=$2 pin=$3 own=$4 own_arg="" cli key logf=$TC/logs/$1.log m v j tried=() errs=() dir="" mod="" ver=""
    shift 4
    if [ "$1" != -- ]; then own_arg=$1; shift; fi
    shift   # --
    cli=$(cat "$(st pulumi version)" 2>/dev/null || true)
    [ -n "$cli" ] || { log "$part: needs the pulumi part first"; MISSING=1; return 0; }
    local shared=()
    mapfile -t shared < <(own_sources "$own")
    key="pin=$pin cli=$cli go=$GOVERSION recipe=$TOOLCHAIN_RECIPE own=$(tree_hash "$SRC/$own" "$SRC/build-$own.sh" "${shared[@]}")${own_arg:+ $own_arg}"
    if fresh "$part" "$key" "$PULUMI_HOME/plugins/resource-$name-v$pin"; then log "$part: $(status_of "$part") (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "$part: MISSING (would try to build pulumi-resource-$name $pin)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    # Candidate versions: the pin as a tag of the provider module, then the pseudo-version of the
    # commit the repository's vPIN tag names (a provider/ submodule is usually untagged).
    local roots=() rj hash time
    for m in "$@"; do
        tried+=("$m@v$pin")
        if j=$(fetch "$m@v$pin"); then dir=$(json_field Dir <<<"$j"); mod=$m; ver=v$pin; break; fi
        errs+=("$m@v$pin: $(fetch_error "$j")")
    done
    if [ -z "$dir" ]; then
        roots=("${1%/provider*}" "${1%/provider*}/sdk" "${1%/provider*}/sdk/v${pin%%.*}")
        for m in "${roots[@]}"; do
            rj=$(fetch "$m@v$pin") || continue
            read -r hash time < <(origin "$(json_field Info <<<"$rj")")
            [ "$hash" != - ] || continue
            for m2 in "$@"; do
                local major=0; [[ $m2 =~ /v([0-9]+)$ ]] && major=${BASH_REMATCH[1]}
                v=$(pseudo "$major" "$hash" "$time")
                tried+=("$m2@$v")
                if j=$(fetch "$m2@$v"); then dir=$(json_field Dir <<<"$j"); mod=$m2; ver=$v; break 2; fi
                errs+=("$m2@$v: $(fetch_error "$j")")
            done
        done
    fi
    if [ -z "$dir" ]; then
        printf '%s\n' "${errs[@]}" >>"$logf"
        local why="the module proxy serves no version of ${*} for $pin"
        log "$part: WARNING: $why (tried ${tried[*]}; first answer: ${errs[0]:-none})"
        log "$part: building ha-swarm's own pulumi-resource-$name $pin from toolchain/$own (log: $logf)"
        if "$SRC/build-$own.sh" "$TC/build/$part-own" "$pin" ${own_arg:+"$own_arg"} >>"$logf" 2>&1 \
            && install -m 0755 "$TC/build/$part-own/pulumi-resource-$name" "$TC/plugins/pulumi-resource-$name" \
            && "$TC/bin/pulumi" plugin install resource "$name" "$pin" --file "$TC/plugins/pulumi-resource-$name" --reinstall >>"$logf" 2>&1; then
            # a generated package schema (the docker bridge writes one) is kept for the schema check
            [ ! -f "$TC/build/$part-own/schema.json" ] || install -m 0644 "$TC/build/$part-own/schema.json" "$TC/plugins/$name-schema.json"
            rm -rf "$TC/build/$part-own"
            record "$part" "$key" "built pulumi-resource-$name $pin from toolchain/$own (ha-swarm's own: $why), $(size "$TC/plugins/pulumi-resource-$name")"
        else
            tail -n 20 "$logf" >&2
            record "$part" "$key" "unavailable: $why; ha-swarm's own build (toolchain/$own) failed, see $logf"
        fi
        timed_end "$part"
        log "$part: $(status_of "$part") in $(cat "$(st "$part" seconds)") s"
        return 0
    fi
    log "$part: building pulumi-resource-$name from $mod@$ver"
    local b=$TC/build/$part-$ver
    copy_module "$dir" "$b"
    local cmd=./cmd/pulumi-resource-$name
    [ -d "$b/$cmd" ] || die "$part: $mod@$ver has no $cmd"
    if [ "$part" = docker ]; then
        # schema-embed.json is generated (go:generate in cmd/pulumi-resource-docker) from schema.json;
        # the Terraform provider comes from a module instead of the ../upstream submodule.
        (cd "$b/$cmd" && VERSION=$pin GOFLAGS=-mod=mod "$GO" run ./generate.go) >>"$logf" 2>&1 || die "$part: schema generation failed, see $logf"
        (cd "$b" && "$GO" mod edit -replace "github.com/terraform-providers/terraform-provider-docker=$DOCKER_UPSTREAM") >>"$logf" 2>&1
    fi
    local verpkg
    verpkg=$(grep -rl --include=*.go '^package version' "$b/pkg/version" 2>/dev/null | head -n 1 || true)
    GOFLAGS="$GOFLAGS -mod=mod" gobuild "$logf" "$b" "$TC/plugins/pulumi-resource-$name" "$cmd" \
        "${verpkg:+-X $mod/pkg/version.Version=$pin}" || die "$part: build failed, see $logf"
    rm -rf "$b"
    "$TC/bin/pulumi" plugin install resource "$name" "$pin" --file "$TC/plugins/pulumi-resource-$name" --reinstall >>"$logf" 2>&1 \
        || die "$part: pulumi plugin install failed, see $logf"
    record "$part" "$key" "built pulumi-resource-$name $pin from $mod@$ver, $(size "$TC/plugins/pulumi-resource-$name")"
    timed_end "$part"
    log "$part: $(status_of "$part") in $(cat "$(st "$part" seconds)") s"
}
build_command() { provider_part command command "$COMMAND_PIN" command-provider -- github.com/pulumi/pulumi-command/provider; }
build_docker() {
    local major=${DOCKER_PIN%%.*}
    provider_part docker docker "$DOCKER_PIN" docker-provider "$DOCKER_UPSTREAM" -- "github.com/pulumi/pulumi-docker/provider/v$major"
}

build_libvirt() { provider_part libvirt libvirt "$LIBVIRT_PIN" libvirt-provider -- github.com/pulumi/pulumi-libvirt/provider; }

# -- parts: images -------------------------------------------------------------------------------
# image NAME TAG TAR EPOCH FILE... : a FROM-scratch image as a docker-archive tarball (mkimage.py).
image() {
    local tag=$1 tar=$2 epoch=$3
    shift 3
    SOURCE_DATE_EPOCH=$epoch python3 "$SRC/mkimage.py" --tag "$tag" --out "$tar" "$@" >/dev/null
}
build_traefik() {
    local v=$TRAEFIK_VERSION key logf=$TC/logs/traefik.log tj b bin=$TC/build/traefik-$TRAEFIK_VERSION.bin epoch
    local tag=ha-swarm/traefik:$v tar=$TC/images/traefik-$v.tar
    key="v=$v go=$GOVERSION recipe=$TOOLCHAIN_RECIPE"
    if fresh traefik "$key" "$tar"; then log "traefik: $(status_of traefik) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "traefik: MISSING (would build $v)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    tj=$(fetch "github.com/traefik/traefik/v3@$v") || die "traefik: github.com/traefik/traefik/v3@$v: $(fetch_error "$tj")"
    b=$TC/build/traefik-$v
    copy_module "$(json_field Dir <<<"$tj")" "$b"   # its go.mod has replace directives: build it as the main module
    # The module zip's webui/static holds no built dashboard: the binary builds and runs, the API
    # answers, only the dashboard's pages are missing (ha-swarm's dashboard is optional).
    gobuild "$logf" "$b" "$bin" ./cmd/traefik \
        "-X github.com/traefik/traefik/v3/pkg/version.Version=$v -X github.com/traefik/traefik/v3/pkg/version.Codename=ha-swarm" \
        || die "traefik: build failed, see $logf"
    rm -rf "$b"
    "$bin" version >>"$logf" 2>&1 || die "traefik: the built binary does not run, see $logf"
    epoch=$(date -u -d "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Time"])' "$(json_field Info <<<"$tj")")" +%s)
    # /usr/local/bin/traefik and PATH as in the official image, so `traefik healthcheck --ping` works;
    # the CA bundle for ACME; /tmp for Traefik's temporary files.
    image "$tag" "$tar" "$epoch" --file "$bin:/usr/local/bin/traefik:0755" \
        --file "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:0644" --dir /tmp \
        --entrypoint '["/usr/local/bin/traefik"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --expose 80/tcp --label "org.opencontainers.image.version=$v" --label "org.opencontainers.image.source=github.com/traefik/traefik/v3@$v"
    rm -f "$bin"
    record traefik "$key" "built $tag ($tar, $(size "$tar"))"
    timed_end traefik
    log "traefik: $(status_of traefik) in $(cat "$(st traefik seconds)") s"
}
build_whoami() {
    local key logf=$TC/logs/whoami.log wj b tag tar bin=$TC/build/whoami.bin src how epoch=0
    src=$(cd "$SRC/whoami-lite" && cat go.mod ./*.go | sha256sum | cut -c1-16)
    key="v=$WHOAMI_VERSION lite=$WHOAMI_LITE_VERSION/$src go=$GOVERSION recipe=$TOOLCHAIN_RECIPE"
    tar=$(sed -n 's/^built [^ ]* (\([^,]*\), .*$/\1/p' "$(st whoami status)" 2>/dev/null || true)
    if fresh whoami "$key" "${tar:-/nonexistent}"; then log "whoami: $(status_of whoami) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "whoami: MISSING (would build $WHOAMI_VERSION or the stand-in)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    if wj=$(fetch "github.com/traefik/whoami@$WHOAMI_VERSION"); then
        tag=ha-swarm/whoami:$WHOAMI_VERSION
        b=$TC/build/whoami-$WHOAMI_VERSION
        copy_module "$(json_field Dir <<<"$wj")" "$b"
        gobuild "$logf" "$b" "$bin" . || die "whoami: build failed, see $logf"
        rm -rf "$b"
        how="github.com/traefik/whoami@$WHOAMI_VERSION"
    else
        log "whoami: github.com/traefik/whoami@$WHOAMI_VERSION: $(fetch_error "$wj")"
        log "whoami: WARNING: building the stand-in toolchain/whoami-lite (same answers: Hostname, IP, RemoteAddr, request, headers)"
        tag=ha-swarm/whoami:$WHOAMI_LITE_VERSION
        gobuild "$logf" "$SRC/whoami-lite" "$bin" . "-X main.version=$WHOAMI_LITE_VERSION" || die "whoami: build failed, see $logf"
        how="toolchain/whoami-lite (stand-in: traefik/whoami is not served by the module proxy)"
        epoch=$(git -C "$REPO" log -1 --format=%ct -- toolchain/whoami-lite 2>/dev/null || true)
        epoch=${epoch:-0}
    fi
    tar=$TC/images/whoami-${tag##*:}.tar
    image "$tag" "$tar" "$epoch" --file "$bin:/whoami:0755" --entrypoint '["/whoami"]' --expose 80/tcp \
        --label "org.opencontainers.image.source=$how"
    rm -f "$bin"
    record whoami "$key" "built $tag ($tar, $(size "$tar")) from $how"
    timed_end whoami
    log "whoami: $(status_of whoami) in $(cat "$(st whoami seconds)") s"
}

# -- part: socketproxy (the stand-in for tecnativa/docker-socket-proxy) ---------------------------
# shellcheck source-path=SCRIPTDIR source=socket-proxy/part.sh
. "$SRC/socket-proxy/part.sh"

# -- part: pebble (Let's Encrypt's test ACME server) and pebble-challtestsrv (its mock DNS) ------
PEBBLE=github.com/letsencrypt/pebble/v2
build_pebble() {
    local v=$PEBBLE_VERSION key logf=$TC/logs/pebble.log pj b
    key="v=$v go=$GOVERSION recipe=$TOOLCHAIN_RECIPE"
    if fresh pebble "$key" "$TC/bin/pebble" "$TC/bin/pebble-challtestsrv"; then log "pebble: $(status_of pebble) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "pebble: MISSING (would build $PEBBLE@$v)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    pj=$(fetch "$PEBBLE@$v") || die "pebble: $PEBBLE@$v: $(fetch_error "$pj")"
    b=$TC/build/pebble-$v
    copy_module "$(json_field Dir <<<"$pj")" "$b"
    gobuild "$logf" "$b" "$TC/bin/pebble" ./cmd/pebble "-X main.version=$v" || die "pebble: build failed, see $logf"
    gobuild "$logf" "$b" "$TC/bin/pebble-challtestsrv" ./cmd/pebble-challtestsrv || die "pebble: build failed, see $logf"
    rm -rf "$b"
    "$TC/bin/pebble" -version >>"$logf" 2>&1 || die "pebble: the built binary does not run, see $logf"
    record pebble "$key" "built $PEBBLE@$v (bin/pebble $(size "$TC/bin/pebble"), bin/pebble-challtestsrv $(size "$TC/bin/pebble-challtestsrv"))"
    timed_end pebble
    log "pebble: $(status_of pebble) in $(cat "$(st pebble seconds)") s"
}

# shellcheck source-path=SCRIPTDIR source=traefik-acme/part.sh
. "$SRC/traefik-acme/part.sh"

# -- run -----------------------------------------------------------------------------------------
MISSING=0
log "cache: $TC  (pins: pulumi $PULUMI_PIN, pulumi-command $COMMAND_PIN, pulumi-docker $DOCKER_PIN, pulumi-libvirt $LIBVIRT_PIN; $GOVERSION)"
for p in "${parts[@]}"; do "build_$p"; done

# -- env -----------------------------------------------------------------------------------------
image_field() { sed -n "s/^built \([^ ]*\) (\([^,]*\), .*/\\$2/p" "$(st "$1" status)" 2>/dev/null || true; }
unavailable="" missing=""
for p in "${ALL_PARTS[@]}"; do
    case $(status_of "$p") in
        built*) ;;
        unavailable*) unavailable="$unavailable $p"; missing="$missing $p" ;;
        *) missing="$missing $p" ;;
    esac
done
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    echo "# ha-swarm offline toolchain, written by toolchain/build.sh; use: . $TC/env.sh"
    echo "export HA_SWARM_TOOLCHAIN=$(q "$TC")"
    # shellcheck disable=SC2016
    echo 'case ":$PATH:" in *":$HA_SWARM_TOOLCHAIN/bin:"*) ;; *) export PATH="$HA_SWARM_TOOLCHAIN/bin:$PATH" ;; esac'
    echo "export PULUMI_HOME=$(q "$PULUMI_HOME")"
    echo "export PULUMI_SKIP_UPDATE_CHECK=true"
    echo "export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    # which parts are not there (built later, or not available from the module proxy)
    echo "export HA_SWARM_TOOLCHAIN_MISSING=$(q "${missing# }")"
    echo "export HA_SWARM_PULUMI_VERSION=$(q "$(cat "$(st pulumi version)" 2>/dev/null || true)")"
    echo "export HA_SWARM_TRAEFIK_IMAGE=$(q "$(image_field traefik 1)")"
    echo "export HA_SWARM_TRAEFIK_TAR=$(q "$(image_field traefik 2)")"
    echo "export HA_SWARM_WHOAMI_IMAGE=$(q "$(image_field whoami 1)")"
    echo "export HA_SWARM_WHOAMI_TAR=$(q "$(image_field whoami 2)")"
    echo "export HA_SWARM_SOCKET_PROXY_IMAGE=$(q "$(image_field socketproxy 1)")"
    echo "export HA_SWARM_SOCKET_PROXY_TAR=$(q "$(image_field socketproxy 2)")"
    # pebble and pebble-challtestsrv (empty while the part is not built)
    pebble_bin=""; case $(status_of pebble) in built*) pebble_bin=$TC/bin/pebble ;; esac
    echo "export HA_SWARM_PEBBLE=$(q "$pebble_bin")"
    echo "export HA_SWARM_PEBBLE_CHALLTESTSRV=$(q "${pebble_bin:+$pebble_bin-challtestsrv}")"
    echo "export HA_SWARM_ACME_IMAGE=$(q "$(image_field acme 1)")"
    echo "export HA_SWARM_ACME_TAR=$(q "$(image_field acme 2)")"
    # Lines of parts this script does not know (another branch's build.sh, sharing the cache): kept.
    if [ -f "$TC/env.sh" ]; then
        written=" HA_SWARM_TOOLCHAIN HA_SWARM_TOOLCHAIN_MISSING HA_SWARM_PULUMI_VERSION HA_SWARM_TRAEFIK_IMAGE HA_SWARM_TRAEFIK_TAR HA_SWARM_WHOAMI_IMAGE HA_SWARM_WHOAMI_TAR HA_SWARM_SOCKET_PROXY_IMAGE HA_SWARM_SOCKET_PROXY_TAR HA_SWARM_PEBBLE HA_SWARM_PEBBLE_CHALLTESTSRV HA_SWARM_ACME_IMAGE HA_SWARM_ACME_TAR "
        while IFS= read -r line; do
            name=${line#export }; name=${name%%=*}
            case $line in "export HA_SWARM_"*) case $written in *" $name "*) ;; *) printf '%s\n' "$line" ;; esac ;; esac
        done <"$TC/env.sh"
    fi
} >"$TC/env.sh.tmp"
mv -f "$TC/env.sh.tmp" "$TC/env.sh"

log "summary:"
for p in "${ALL_PARTS[@]}"; do
    s=$(status_of "$p"); t=$(cat "$(st "$p" seconds)" 2>/dev/null || true)
    log "  $(printf '%-11s' "$p") ${s:-not built}${t:+  [last build ${t}s]}"
done
[ -z "$unavailable" ] || log "NOT AVAILABLE here:$unavailable (the module proxy does not serve them; see $TC/logs/ and toolchain/README.md)"
log "env: $TC/env.sh (also printed on stdout: eval \"\$(toolchain/build.sh)\")"
cat "$TC/env.sh"
[ "$check" = 0 ] || exit "$MISSING"
