#!/usr/bin/env bash
# Make a Pulumi stack ready to run: the local state folder, a passphrase, the stack
# itself, and an SSH key pair for the nodes when the stack has none configured.
# Idempotent: what exists is kept.  Usage: tools/stack-init.sh STACK
set -euo pipefail

stack=${1:?usage: stack-init.sh STACK}
home=${HA_SWARM_HOME:-$HOME/.ha-swarm}
command -v pulumi >/dev/null || { echo "stack-init: the pulumi CLI is not on PATH (see docs/lab.md, Prerequisites)" >&2; exit 1; }

mkdir -p "$home"
chmod 700 "$home"
if [[ "${PULUMI_BACKEND_URL:-}" == file://* ]]; then
    mkdir -p "${PULUMI_BACKEND_URL#file://}"
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ ! -s "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$PULUMI_CONFIG_PASSPHRASE_FILE")
    echo "stack-init: new passphrase for stack secrets in $PULUMI_CONFIG_PASSPHRASE_FILE (keep it)" >&2
fi

pulumi stack select --create "$stack" >/dev/null

if ! pulumi config get --stack "$stack" ha-swarm:sshPrivateKey >/dev/null 2>&1; then
    key="$home/id_ed25519"
    if [ ! -f "$key" ]; then
        ssh-keygen -q -t ed25519 -N "" -C "ha-swarm" -f "$key"
        echo "stack-init: new SSH key pair $key(.pub)" >&2
    fi
    pulumi config set --stack "$stack" --secret ha-swarm:sshPrivateKey -- <"$key"
    current_public=$(pulumi config get --stack "$stack" ha-swarm:sshPublicKey 2>/dev/null || true)
    if [ -z "$current_public" ]; then
        pulumi config set --stack "$stack" ha-swarm:sshPublicKey "$(cat "$key.pub")"
    fi
fi
