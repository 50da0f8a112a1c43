#!/usr/bin/env bash
# acme-key.sh create|delete|import|unimport
# On a manager, for traefik.acme.issuer: swarm (ha_swarm/ingress/acme.py).
# create:   make the swarm secret traefik-acme-key unless it exists (32 random bytes made here, on
#           the node: never printed, never in Pulumi's state) and print its ID. The key seals the
#           replicated ACME store (swarm configs traefik-acme-store-SEQ-SHA, written by the issuer).
# delete:   remove the replicated store and the key. Each manager's traefik-acme volume keeps its
#           copy of the store (acme.json, the same file today's single Traefik uses), from which the
#           store is published again when the mode is turned on again. A node that is no longer a
#           manager, or gone, is no error: the swarm takes its secrets and configs with it.
# import:   on traefik.acme.node: make the swarm secret traefik-acme-import unless it exists, from
#           this node's copy of the store (today's single-Traefik store, or the copy its serving
#           task keeps), else from an empty store, and print its ID. The issuer, on any manager,
#           starts from it when no store is published yet: a stack moved from issuer: node, or
#           brought up again after destroy, orders nothing it has. Never printed, never in the state.
# unimport: remove traefik-acme-import.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

KEY=traefik-acme-key
IMPORT=traefik-acme-import
STORE_LABEL=ha-swarm.acme-store.seq
STORE_VOLUME=traefik-acme
# What swarm takes in a secret.
SECRET_MAX=500000

usage="usage: acme-key.sh create|delete|import|unimport"

secret_id() {
    local id
    id=$(hs_docker secret inspect --format '{{.ID}}' "$1") || hs_die "docker secret inspect $1 failed"
    [[ "$id" =~ ^[a-z0-9]+$ ]] || hs_die "docker secret inspect $1 returned no ID"
    printf '%s\n' "$id"
}

# remove_secret NAME: when this node can still manage the swarm and the secret is there.
remove_secret() {
    if [ "$(hs_control_available 2>/dev/null || true)" != true ]; then
        hs_log "not a manager (or no Docker daemon): nothing to remove here"
        return 1
    fi
    if hs_docker secret inspect "$1" >/dev/null 2>&1; then
        hs_docker secret rm "$1" >/dev/null || hs_log "could not remove the secret $1 (still in use?)"
    fi
}

[ "$#" -eq 1 ] || hs_die "$usage"
case "$1" in
    create)
        hs_require_manager
        if ! hs_docker secret inspect "$KEY" >/dev/null 2>&1; then
            hs_log "creating the swarm secret $KEY"
            head -c 32 /dev/urandom | hs_docker secret create --label ha-swarm.acme=key "$KEY" - >/dev/null ||
                hs_docker secret inspect "$KEY" >/dev/null 2>&1 || hs_die "docker secret create $KEY failed"
        fi
        secret_id "$KEY"
        ;;
    delete)
        if [ "$(hs_control_available 2>/dev/null || true)" = true ]; then
            for config in $(hs_docker config ls --filter "label=$STORE_LABEL" --format '{{.ID}}'); do
                hs_docker config rm "$config" >/dev/null || hs_log "could not remove the store config $config"
            done
        fi
        remove_secret "$KEY" || true
        ;;
    import)
        hs_require_manager
        if ! hs_docker secret inspect "$IMPORT" >/dev/null 2>&1; then
            store=""
            if mountpoint=$(hs_docker volume inspect --format '{{.Mountpoint}}' "$STORE_VOLUME" 2>/dev/null) && [ -s "$mountpoint/acme.json" ]; then
                store="$mountpoint/acme.json"
            fi
            if [ -n "$store" ] && [ "$(stat -c %s "$store")" -gt "$SECRET_MAX" ]; then
                hs_log "$store is larger than a swarm secret takes ($SECRET_MAX bytes): the issuer starts without it"
                store=""
            fi
            if [ -n "$store" ]; then
                hs_log "creating the swarm secret $IMPORT from this node's copy of the ACME store"
                hs_docker secret create --label ha-swarm.acme=import "$IMPORT" "$store" >/dev/null ||
                    hs_docker secret inspect "$IMPORT" >/dev/null 2>&1 || hs_die "docker secret create $IMPORT failed"
            else
                hs_log "no ACME store on this node: creating the swarm secret $IMPORT empty"
                printf '{}\n' | hs_docker secret create --label ha-swarm.acme=import "$IMPORT" - >/dev/null ||
                    hs_docker secret inspect "$IMPORT" >/dev/null 2>&1 || hs_die "docker secret create $IMPORT failed"
            fi
        fi
        secret_id "$IMPORT"
        ;;
    unimport) remove_secret "$IMPORT" || true ;;
    *) hs_die "$usage (got '$1')" ;;
esac
