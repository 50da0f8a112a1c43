# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # check, MISSING, TC, SRC, GO...: variables of build.sh
# The `acme` part of toolchain/build.sh (sourced by it; uses its helpers fresh, record, gobuild,
# image, log, st, size, timed_*), as toolchain/socket-proxy/part.sh is.
# Traefik's binary, taken from the traefik part's image, beside toolchain/traefik-acme (standard
# library only: no module download), whose entry point runs Traefik in its `issuer` or `serve` role.
build_acme() {
    local v=$TRAEFIK_VERSION key logf=$TC/logs/acme.log src tag tar ttar bin=$TC/build/traefik-acme.bin tbin=$TC/build/traefik-for-acme.bin epoch
    ttar=$(sed -n 's/^built [^ ]* (\([^,]*\), .*$/\1/p' "$(st traefik status)" 2>/dev/null || true)
    if [ -z "$ttar" ] || [ ! -f "$ttar" ]; then log "acme: needs the traefik part first"; MISSING=1; return 0; fi
    src=$(cd "$SRC/traefik-acme" && cat go.mod ./*.go | sha256sum | cut -c1-16)
    tag=ha-swarm/traefik-acme:$v-$TRAEFIK_ACME_VERSION
    tar=$TC/images/traefik-acme-$v-$TRAEFIK_ACME_VERSION.tar
    key="traefik=$v acme=$TRAEFIK_ACME_VERSION/$src go=$GOVERSION recipe=$TOOLCHAIN_RECIPE"
    if fresh acme "$key" "$tar"; then log "acme: $(status_of acme) (cached)"; return 0; fi
    [ "$check" = 0 ] || { log "acme: MISSING (would build $tag)"; MISSING=1; return 0; }
    timed_start
    : >"$logf"
    (cd "$SRC/traefik-acme" && "$GO" vet ./... && "$GO" test -count=1 ./...) >>"$logf" 2>&1 || { tail -n 20 "$logf" >&2; die "acme: go vet/test failed, see $logf"; }
    gobuild "$logf" "$SRC/traefik-acme" "$bin" . "-X main.version=$TRAEFIK_ACME_VERSION" || die "acme: build failed, see $logf"
    python3 - "$ttar" "$tbin" <<'PY' || die "acme: no /usr/local/bin/traefik in $ttar"
import io, json, sys, tarfile
with tarfile.open(sys.argv[1]) as outer:
    manifest = json.load(outer.extractfile("manifest.json"))
    for layer in manifest[0]["Layers"]:
        with tarfile.open(fileobj=io.BytesIO(outer.extractfile(layer).read())) as inner:
            try:
                data = inner.extractfile("usr/local/bin/traefik").read()
            except KeyError:
                continue
            open(sys.argv[2], "wb").write(data)
            sys.exit(0)
sys.exit(1)
PY
    epoch=$(git -C "$REPO" log -1 --format=%ct -- toolchain/traefik-acme 2>/dev/null || true)
    image "$tag" "$tar" "${epoch:-0}" --file "$tbin:/usr/local/bin/traefik:0755" --file "$bin:/usr/local/bin/traefik-acme:0755" \
        --file "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:0644" --dir /tmp \
        --entrypoint '["/usr/local/bin/traefik-acme"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --expose 80/tcp --label "org.opencontainers.image.version=$v-$TRAEFIK_ACME_VERSION" --label "org.opencontainers.image.source=toolchain/traefik-acme + github.com/traefik/traefik/v3@$v"
    rm -f "$bin" "$tbin"
    record acme "$key" "built $tag ($tar, $(size "$tar"))"
    timed_end acme
    log "acme: $(status_of acme) in $(cat "$(st acme seconds)") s"
}
