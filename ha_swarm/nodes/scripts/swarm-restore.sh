#!/usr/bin/env bash
# swarm-restore.sh ADVERTISE_ADDR NAME [--force]   (as root; stdin: the unlock key line, then the archive)
# Restore a swarm from a backup (swarm-backup.sh's archive, decrypted) on this manager, node NAME:
# stdin is one line, the unlock key of the backup (autolock) or '-', then the tar.gz of
# record.txt and swarm/. Refused when this node is a manager of a working swarm (--force: go on).
# Stop the Docker daemon, keep the current <DockerRootDir>/swarm as swarm.before-restore-<time>, put
# the archive's swarm/ in its place, start the daemon, unlock it with the key (autolock),
# `docker swarm init --force-new-cluster --advertise-addr ADVERTISE_ADDR`, remove the other
# managers of the backup (their Raft membership is gone; `pulumi up` joins them again), label this
# node ha-swarm.name=NAME (it now has the node ID, and the labels, of the manager the backup was
# taken on), rotate the unlock key (autolock) and both join tokens (the backup's copies stop working).
# Prints nothing on stdout. Timeout: HS_RESTORE_TIMEOUT seconds (default 300) for each wait.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_manager_quorum >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    # shellcheck source=backup-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/backup-lib.sh"
fi

force=false
case "$#:${3:-}" in
    2:) ;;
    3:--force) force=true ;;
    *) hs_die "usage: swarm-restore.sh ADVERTISE_ADDR NAME [--force] (as root; unlock key line and archive on stdin)" ;;
esac
addr=$1 name=$2
[ -n "$addr" ] || hs_die "ADVERTISE_ADDR is empty"
[ -n "$name" ] || hs_die "NAME is empty"
[ "${EUID:-$(id -u)}" -eq 0 ] || hs_die "this script stops the Docker daemon and writes its root: run it as root"
timeout_s=$(hs_timeout_from HS_RESTORE_TIMEOUT 300)

key=""
IFS= read -r key || hs_die "no unlock key line on stdin (the key, or '-')"
[ "$key" != - ] || key=""
[ -z "$key" ] || [[ "$key" =~ ^SWMKEY-[A-Za-z0-9+/=-]+$ ]] || hs_die "the unlock key line is not a SWMKEY key (nor '-')"

if ! hs_docker_answers; then
    hs_log "the Docker daemon does not answer: starting it"
    hs_docker_service start || hs_die "could not start the Docker daemon"
    hs_wait "$timeout_s" 1 hs_docker_answers || hs_die "the Docker daemon does not answer ${timeout_s}s after its start"
fi
state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
if [ "$state" = active ] && [ "$(hs_control_available)" = true ] && hs_docker node ls -q >/dev/null 2>&1 && [ "$force" = false ]; then
    hs_die "this node is a manager of a working swarm: a restore would replace that swarm (give --force to go on)"
fi
root_dir=$(hs_docker info --format '{{.DockerRootDir}}') || hs_die "cannot query the Docker daemon (docker info failed)"

staging=$(mktemp -d "${root_dir}/swarm.restore.XXXXXX") || hs_die "cannot make a folder in ${root_dir}"
chmod 0700 "$staging"
trap 'rm -rf -- "$staging"' EXIT
tar -xzf - -C "$staging" swarm || hs_die "the archive on stdin is not a swarm backup (tar.gz with swarm/)"
[ -d "${staging}/swarm/raft" ] || hs_die "the archive holds no Raft store (swarm/raft)"

hs_log "stopping the Docker daemon to put the backup in place"
hs_docker_service stop || hs_die "could not stop the Docker daemon"
if [ -e "${root_dir}/swarm" ]; then
    aside="${root_dir}/swarm.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    mv -- "${root_dir}/swarm" "$aside" || hs_die "cannot move ${root_dir}/swarm aside"
    hs_log "the swarm state that was here is kept as ${aside}"
fi
mv -- "${staging}/swarm" "${root_dir}/swarm" || hs_die "cannot move the backup into ${root_dir}/swarm"
hs_docker_service start || hs_die "could not start the Docker daemon"
hs_wait "$timeout_s" 1 hs_docker_answers || hs_die "the Docker daemon does not answer ${timeout_s}s after its start"

state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
if [ "$state" = locked ]; then
    [ -n "$key" ] || hs_die "the restored swarm is locked (autolock) and the backup recorded no unlock key"
    hs_log "unlocking the restored swarm with the backup's unlock key"
    # Docker answers an unlock only once the node's Raft has a leader: with the other managers of
    # the backup gone, that is never (the daemon holds its swarm lock meanwhile, and `swarm init
    # --force-new-cluster` waits behind it; moby/moby#36852). A single manager's backup unlocks.
    # (root: plain docker; the key on stdin, never in argv)
    timeout "$(hs_timeout_from HS_UNLOCK_TIMEOUT 60)" docker swarm unlock <<<"$key" >/dev/null 2>&1 ||
        hs_die "docker swarm unlock of the restored swarm did not finish: with autolock, Docker unlocks a manager only once its Raft has a leader, which a backup of several managers cannot have before --force-new-cluster (moby/moby#36852); restart this node's Docker daemon, and see docs/backup.md (autolock)"
fi

# An autolocked backup stays autolocked: init writes the cluster's settings from its own flags, and
# without --autolock it would turn autolock off.
autolock=()
[ -z "$key" ] || autolock=(--autolock)
hs_log "docker swarm init --force-new-cluster ${autolock[*]:+${autolock[*]} }advertising ${addr}"
# Its stdout holds a join token (and with --autolock the new unlock key): never shown.
hs_docker swarm init --force-new-cluster "${autolock[@]}" --advertise-addr "$addr" --listen-addr "$(hs_hostport "$addr" 2377)" >/dev/null ||
    hs_die "docker swarm init --force-new-cluster failed"
manager_up() {
    [ "$(hs_swarm_state 2>/dev/null)" = active ] && [ "$(hs_control_available 2>/dev/null)" = true ] && hs_docker node ls -q >/dev/null 2>&1
}
hs_wait "$timeout_s" 1 manager_up || hs_die "this node is not an answering manager ${timeout_s}s after the restore"
self_id=$(hs_self_node_id)

# The other managers of the backup: not members of the new cluster; their entries go, so that no
# quorum check counts them (pulumi up joins them again, as new nodes).
others=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
for id in $others; do
    [ "$id" != "$self_id" ] || continue
    hs_log "removing the backup's manager ${id} (it joins again on the next pulumi up)"
    hs_docker node demote -- "$id" >/dev/null 2>&1 || hs_log "demote ${id} failed; removing it anyway"
    hs_docker node rm --force -- "$id" >/dev/null || hs_die "docker node rm --force ${id} failed"
done

# The archive's identity is the one of the manager the backup was taken on: so are its labels.
# (Tried again on "update out of sequence": the node's status changes on its own in the new cluster.)
hs_docker_update node update --label-add "ha-swarm.name=${name}" -- "$self_id" ||
    hs_die "docker node update --label-add ha-swarm.name=${name} failed: ${HS_DOCKER_ERR}"

if [ -n "$key" ] || [ "$(hs_docker info --format '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}')" = true ]; then
    hs_docker_update swarm unlock-key --rotate -q || hs_die "docker swarm unlock-key --rotate failed: ${HS_DOCKER_ERR}"
    hs_log "rotated the unlock key (pulumi up records the new one as unlockKey)"
fi
for role in worker manager; do
    hs_docker_update swarm join-token --rotate -q "$role" ||
        hs_die "docker swarm join-token --rotate ${role} failed: ${HS_DOCKER_ERR}"
done
hs_log "rotated the join tokens; the swarm is restored on ${name} (node ID ${self_id}, the backup's own)"
