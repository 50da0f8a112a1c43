#!/usr/bin/env bash
# Prove the offline toolchain works: toolchain/selftest.sh [pulumi] [images]  (default: both)
#
# pulumi: `pulumi version`, `pulumi plugin ls`, then a throwaway Python project in /tmp (local file
#         backend, passphrase, the repository's .venv as virtualenv) runs `pulumi up`, a no-change
#         `pulumi preview` and `pulumi destroy` of a stack output, and checks that the command and
#         docker plugins are installed (the e2e tests, `make e2e`, exercise them).
# images: (root) starts its own dockerd (vfs, no bridge, no iptables) in a network namespace of
#         its own, `docker load`s both tarballs, runs whoami with --network host and asks it over
#         HTTP on that namespace's loopback, then Traefik in front of it (docker provider), and
#         stops everything it started.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TC=${HA_SWARM_CACHE:-$HOME/.cache/ha-swarm}/toolchain
[ -f "$TC/env.sh" ] || { echo "selftest: no $TC/env.sh: run toolchain/build.sh first" >&2; exit 1; }
# shellcheck disable=SC1091
. "$TC/env.sh"
what=("$@")
[ ${#what[@]} -gt 0 ] || what=(pulumi images)
say() { printf '[selftest] %s\n' "$*" >&2; }
# t LOG CMD...: run CMD with its output in LOG (shown on failure), say how long it took.
t() {
    local logf=$1 s ms rc=0
    shift
    s=$(date +%s%N)
    "$@" >"$logf" 2>&1 || rc=$?
    ms=$((($(date +%s%N) - s) / 1000000))
    say "  $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s: $*"
    [ "$rc" = 0 ] || { cat "$logf" >&2; say "FAIL: $*"; }
    return "$rc"
}

selftest_pulumi() {
    local v dir program plugins
    v=$(pulumi version)
    say "pulumi version: $v (built for pin: $HA_SWARM_PULUMI_VERSION)"
    [ "$v" = "v$HA_SWARM_PULUMI_VERSION" ] || { say "FAIL: pulumi version"; return 1; }
    plugins=$(pulumi plugin ls)
    printf '%s\n' "$plugins" >&2
    dir=$(mktemp -d /tmp/tcst-project.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$dir'" RETURN
    mkdir -p "$dir/state" "$dir/prog"
    cat >"$dir/prog/Pulumi.yaml" <<EOF
name: toolchain-selftest
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: $REPO/.venv
EOF
    # The plugins are exercised by the end-to-end tests (make e2e); here they must be installed.
    local name
    for name in command docker; do
        case " ${HA_SWARM_TOOLCHAIN_MISSING:-} " in
            *" $name "*) say "no $name plugin in this toolchain (see HA_SWARM_TOOLCHAIN_MISSING)" ;;
            *) grep -q "^$name " <<<"$plugins" || { say "FAIL: the $name plugin is not installed"; return 1; } ;;
        esac
    done
    program='import pulumi
pulumi.export("stdout", "hi")'
    printf '%s\n' "$program" >"$dir/prog/__main__.py"
    (
        cd "$dir/prog"
        export PULUMI_BACKEND_URL="file://$dir/state" PULUMI_CONFIG_PASSPHRASE=x
        pulumi stack init selftest --non-interactive >/dev/null 2>&1
        t "$dir/up.log" pulumi up --yes --skip-preview --non-interactive
        out=$(pulumi stack output stdout)
        say "stack output stdout = '$out'"
        [ "$out" = hi ] || { say "FAIL: wanted 'hi'"; exit 1; }
        t "$dir/preview.log" pulumi preview --expect-no-changes --non-interactive
        t "$dir/destroy.log" pulumi destroy --yes --non-interactive
        pulumi stack rm selftest --yes --non-interactive >/dev/null
    )
    say "pulumi: OK (up, no-change preview, destroy)"
}

selftest_images() {
    [ "$(id -u)" = 0 ] || { say "images: needs root (network namespace, dockerd)"; return 1; }
    if [ -z "$HA_SWARM_TRAEFIK_TAR" ] || [ -z "$HA_SWARM_WHOAMI_TAR" ]; then say "images: not built"; return 1; fi
    # Not named hs-*: tests/support/hosts/ sweeps every namespace of that prefix.
    local ns="tcst-$$" d sock pid
    d=$(mktemp -d /tmp/tcst-docker.XXXXXX)
    sock=unix://$d/docker.sock
    ip netns add "$ns"
    # shellcheck disable=SC2317  # called by the RETURN trap
    cleanup_images() {
        set +e
        docker -H "$sock" rm -f hs-who hs-traefik >/dev/null 2>&1
        if [ -f "$d/docker.pid" ]; then
            pid=$(cat "$d/docker.pid")
            kill "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
        ip netns delete "$ns" 2>/dev/null
        # a daemon that did not stop cleanly leaves its bind mounts (data root, netns) behind
        awk -v d="$d" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n 1 umount -l
        rm -rf "$d"
    }
    trap cleanup_images RETURN
    ip netns exec "$ns" ip link set lo up
    # nsenter (not `ip netns exec`, which remounts /sys and hides the cgroup mounts from dockerd)
    nsenter --net="/var/run/netns/$ns" dockerd --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --bridge=none --storage-driver=vfs --data-root "$d/data" --exec-root "$d/exec" -H "$sock" --pidfile "$d/docker.pid" \
        >"$d/dockerd.log" 2>&1 &
    for _ in $(seq 60); do docker -H "$sock" version >/dev/null 2>&1 && break; sleep 0.5; done
    say "docker: $(docker -H "$sock" version --format 'client {{.Client.Version}}, daemon {{.Server.Version}}')"
    t "$d/load-whoami.log" docker -H "$sock" load -i "$HA_SWARM_WHOAMI_TAR"
    t "$d/load-traefik.log" docker -H "$sock" load -i "$HA_SWARM_TRAEFIK_TAR"
    docker -H "$sock" image ls >&2
    docker -H "$sock" run -d --name hs-who --network host \
        -l traefik.enable=true -l 'traefik.http.routers.who.rule=Host(`whoami0.traefik`)' -l traefik.http.routers.who.entrypoints=web \
        -l traefik.http.services.who.loadbalancer.server.port=8000 "$HA_SWARM_WHOAMI_IMAGE" --port 8000 >/dev/null
    docker -H "$sock" run -d --name hs-traefik --network host -v "$d/docker.sock:/var/run/docker.sock:ro" "$HA_SWARM_TRAEFIK_IMAGE" \
        --providers.docker=true --providers.docker.exposedByDefault=false --entrypoints.web.address=:8081 --ping=true >/dev/null
    local n=(nsenter --net="/var/run/netns/$ns") direct="" routed=""
    for _ in $(seq 40); do
        direct=$("${n[@]}" curl -fsS --max-time 2 http://127.0.0.1:8000/ 2>/dev/null || true)
        routed=$("${n[@]}" curl -fsS --max-time 2 -H 'Host: whoami0.traefik' http://127.0.0.1:8081/ 2>/dev/null || true)
        [ -n "$direct" ] && [ -n "$routed" ] && break
        sleep 0.5
    done
    say "whoami, asked directly on 127.0.0.1:8000 in $ns:"; printf '%s\n' "$direct" | head -n 4 >&2
    say "whoami through Traefik (Host: whoami0.traefik, 127.0.0.1:8081):"; printf '%s\n' "$routed" | head -n 4 >&2
    docker -H "$sock" exec hs-traefik traefik healthcheck --ping >&2
    if ! grep -q '^Hostname: ' <<<"$direct" || ! grep -q '^Hostname: ' <<<"$routed"; then
        say "FAIL: no answer"
        docker -H "$sock" logs hs-traefik >&2
        return 1
    fi
    say "images: OK (load, run, HTTP direct and through Traefik, traefik healthcheck)"
}

for w in "${what[@]}"; do "selftest_$w"; done
