#!/usr/bin/env bash
# acme-key.sh create|delete
# On a manager, for traefik.acme.issuer: swarm (ha_swarm/ingress/acme.py).
# create: make the swarm secret traefik-acme-key unless it exists (32 random bytes made here, on
#         the node: never printed, never in Pulumi's state) and print its ID. The key seals the
#         replicated ACME store (swarm configs traefik-acme-store-SEQ-SHA, written by the issuer).
# delete: remove the replicated store and the key. Each manager's traefik-acme volume keeps its
#         copy of the store (acme.json, the same file today's single Traefik uses), from which the
#         store is published again when the mode is turned on again. A node that is no longer a
#         manager, or gone, is no error: the swarm takes its secrets and configs with it.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_docker >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fi

KEY=traefik-acme-key
STORE_LABEL=ha-swarm.acme-store.seq

[ "$#" -eq 1 ] || hs_die "usage: acme-key.sh create|delete"
case "$1" in
    create)
        hs_require_manager
        if ! hs_docker secret inspect "$KEY" >/dev/null 2>&1; then
            hs_log "creating the swarm secret $KEY"
            head -c 32 /dev/urandom | hs_docker secret create --label ha-swarm.acme=key "$KEY" - >/dev/null ||
                hs_docker secret inspect "$KEY" >/dev/null 2>&1 || hs_die "docker secret create $KEY failed"
        fi
        id=$(hs_docker secret inspect --format '{{.ID}}' "$KEY") || hs_die "docker secret inspect $KEY failed"
        [[ "$id" =~ ^[a-z0-9]+$ ]] || hs_die "docker secret inspect $KEY returned no ID"
        printf '%s\n' "$id"
        ;;
    delete)
        if [ "$(hs_control_available 2>/dev/null || true)" != true ]; then
            hs_log "not a manager (or no Docker daemon): nothing to remove here"
            exit 0
        fi
        for config in $(hs_docker config ls --filter "label=$STORE_LABEL" --format '{{.ID}}'); do
            hs_docker config rm "$config" >/dev/null || hs_log "could not remove the store config $config"
        done
        if hs_docker secret inspect "$KEY" >/dev/null 2>&1; then
            hs_docker secret rm "$KEY" >/dev/null || hs_log "could not remove the secret $KEY (still in use?)"
        fi
        ;;
    *) hs_die "usage: acme-key.sh create|delete (got '$1')" ;;
esac
