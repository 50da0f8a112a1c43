#!/usr/bin/env bash
# swarm-backup.sh   (as root, on a manager that is not the leader)
# Back up the swarm's Raft store: refuse unless the swarm keeps its quorum while this manager is
# stopped (backup-lib.sh, hs_manager_quorum) and unless this manager is not the leader (one manager
# alone: said plainly, the control plane stops meanwhile); record the time, the swarm, the nodes,
# services, networks, secrets and configs and, with autolock, the unlock key; stop the Docker
# daemon, archive <DockerRootDir>/swarm, start the daemon again (unlocked with the key under
# autolock), wait until this node is a reachable manager again and record the time of this backup
# in its node label ha-swarm-backup.last (the scheduled backups take turns by it).
# stdout: the archive only, a tar.gz of record.txt and swarm/ (the caller encrypts it at once: it
# holds the swarm's keys, and with autolock the unlock key). The daemon is started again whatever
# happens after it was stopped. Timeout: HS_BACKUP_TIMEOUT seconds (default 300) for each wait.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_manager_quorum >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    # shellcheck source=backup-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/backup-lib.sh"
fi

[ "$#" -eq 0 ] || hs_die "usage: swarm-backup.sh (no arguments; as root)"
[ "${EUID:-$(id -u)}" -eq 0 ] || hs_die "this script stops the Docker daemon: run it as root"
[ ! -t 1 ] || hs_die "stdout is a terminal: the archive goes to stdout (redirect it, or pipe it to an encryption tool)"
timeout_s=$(hs_timeout_from HS_BACKUP_TIMEOUT 300)

hs_require_manager
self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
me=$(hs_docker node inspect --format '{{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}{{$.Description.Hostname}}{{end}} {{.ManagerStatus.Leader}}' -- "$self_id") ||
    hs_die "cannot inspect this node (${self_id})"
read -r name leader <<<"$me"
managers=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
if [ "$leader" = true ] && [ "$(printf '%s\n' "$managers" | wc -l)" -gt 1 ]; then
    hs_die "refusing to back up on ${name}: it is the leader; back up on another manager (stopping the leader forces an election)"
fi
hs_manager_quorum "$self_id" "$name" "back up on"

root_dir=$(hs_docker info --format '{{.DockerRootDir}}') || hs_die "cannot query the Docker daemon (docker info failed)"
[ -d "${root_dir}/swarm/raft" ] || hs_die "no Raft store in ${root_dir}/swarm: is this a manager's Docker root?"
autolock=$(hs_docker info --format '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}') ||
    hs_die "cannot query the Docker daemon (docker info failed)"
key=""
if [ "$autolock" = true ]; then
    key=$(hs_docker swarm unlock-key -q 2>/dev/null) || hs_die "docker swarm unlock-key failed"
    [[ "$key" =~ ^SWMKEY-[A-Za-z0-9+/=-]+$ ]] || hs_die "docker swarm unlock-key returned something that is not a SWMKEY key"
fi

work=$(mktemp -d /run/ha-swarm-backup.XXXXXX) || hs_die "cannot make a private folder under /run"
chmod 0700 "$work"
stopped=false
finish() {
    rm -rf -- "$work"
    if [ "$stopped" = true ]; then
        hs_log "starting the Docker daemon again"
        hs_docker_service start || hs_log "could not start the Docker daemon: start it by hand (systemctl start docker)"
    fi
}
trap finish EXIT

{
    printf 'format 1\n'
    printf 'time %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'swarm %s\n' "$(hs_docker info --format '{{.Swarm.Cluster.ID}}')"
    printf 'taken-on %s %s\n' "$self_id" "$name"
    printf 'engine %s\n' "$(hs_docker version --format '{{.Server.Version}}')"
    printf 'autolock %s\n' "$autolock"
    hs_inventory
    [ -z "$key" ] || printf 'unlock-key %s\n' "$key"
} >"${work}/record.txt" || hs_die "cannot record the swarm's inventory"

taken=$(date +%s)
hs_log "stopping the Docker daemon of ${name} to archive ${root_dir}/swarm"
stopped=true
hs_docker_service stop || hs_die "could not stop the Docker daemon"
tar -czf - -C "$work" record.txt -C "$root_dir" swarm || hs_die "tar of ${root_dir}/swarm failed"
rm -rf -- "$work"
stopped=false
hs_log "starting the Docker daemon of ${name} again"
hs_docker_service start || hs_die "could not start the Docker daemon again: start it by hand (systemctl start docker)"
hs_wait "$timeout_s" 1 hs_docker_answers || hs_die "the Docker daemon does not answer ${timeout_s}s after its start"

if [ -n "$key" ]; then
    locked() { [ "$(hs_swarm_state 2>/dev/null)" = locked ]; }
    hs_wait 30 1 locked || true
    if locked; then
        hs_log "unlocking ${name} (autolock) with the swarm's unlock key"
        hs_unlock_from "$key" || hs_die "docker swarm unlock failed on ${name}: $(hs_locked_advice)"
    fi
fi
reach=""
back() {
    [ "$(hs_swarm_state 2>/dev/null)" = active ] || return 1
    reach=$(hs_docker node inspect --format '{{.ManagerStatus.Reachability}}' -- "$self_id" 2>/dev/null) || return 1
    [ "$reach" = reachable ]
}
hs_wait "$timeout_s" 1 back ||
    hs_die "${name} is not a reachable manager ${timeout_s}s after its restart (reachability: ${reach:-unknown})"
hs_docker_update node update --label-add "$(hs_backup_last_label)=${taken}" -- "$self_id" ||
    hs_log "could not record this backup in the label $(hs_backup_last_label) of ${name}: ${HS_DOCKER_ERR}"
hs_log "backed up the swarm on ${name}; it is a reachable manager again"
