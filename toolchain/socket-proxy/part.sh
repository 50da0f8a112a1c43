# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # check, MISSING, TC, SRC...: variables of build.sh
# The `socketproxy` part of toolchain/build.sh (sourced by it; uses its helpers fresh, record,
# gobuild, image, log, st, size, timed_*): the stand-in for tecnativa/docker-socket-proxy built from
# toolchain/socket-proxy (standard library only, so nothing is fetched) into a FROM-scratch image
# ha-swarm/socket-proxy:$SOCKET_PROXY_LITE_VERSION, written as images/socket-proxy-TAG.tar.
# Rebuilt when its sources, the Go version or TOOLCHAIN_RECIPE change.

# Bump with a change of behaviour of the stand-in (the image tag names it).
SOCKET_PROXY_LITE_VERSION=${SOCKET_PROXY_LITE_VERSION:-lite-1}

build_socketproxy() {
    local key logf=$TC/logs/socketproxy.log src tag tar bin=$TC/build/socket-proxy.bin epoch
    src=$(cd "$SRC/socket-proxy" && cat go.mod ./*.go | sha256sum | cut -c1-16)
    key="lite=$SOCKET_PROXY_LITE_VERSION/$src go=$GOVERSION recipe=$TOOLCHAIN_RECIPE"
    tag=ha-swarm/socket-proxy:$SOCKET_PROXY_LITE_VERSION
    tar=$TC/images/socket-proxy-$SOCKET_PROXY_LITE_VERSION.tar
    if fresh socketproxy "$key" "$tar"; then log "socketproxy: $(status_of socketproxy) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "socketproxy: MISSING (would build $tag from toolchain/socket-proxy)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    gobuild "$logf" "$SRC/socket-proxy" "$bin" . "-X main.version=$SOCKET_PROXY_LITE_VERSION" || die "socketproxy: build failed, see $logf"
    epoch=$(git -C "$REPO" log -1 --format=%ct -- toolchain/socket-proxy 2>/dev/null || true)
    # tecnativa's image: port 2375, the socket at SOCKET_PATH; the same defaults come from the program.
    image "$tag" "$tar" "${epoch:-0}" --file "$bin:/socket-proxy:0755" --entrypoint '["/socket-proxy"]' --expose 2375/tcp \
        --env SOCKET_PATH=/var/run/docker.sock \
        --label "org.opencontainers.image.source=toolchain/socket-proxy (stand-in for tecnativa/docker-socket-proxy)"
    rm -f "$bin"
    record socketproxy "$key" "built $tag ($tar, $(size "$tar"))"
    timed_end socketproxy
    log "socketproxy: $(status_of socketproxy) in $(cat "$(st socketproxy seconds)") s"
}
