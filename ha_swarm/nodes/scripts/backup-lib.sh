# shellcheck shell=bash
# ha-swarm node-side helpers of the backup and the restore (sent after lib.sh, before the script).
#
# Like lib.sh, this file only defines functions. The Python side sends it in front of the scripts
# that name it (ha_swarm/nodes/remote.py, HELPERS); the scripts source it themselves when run as
# plain files.

# hs_manager_quorum NODE_ID LABEL WHAT: on a manager, refuse (exit 1) unless the swarm has a leader
# and the managers other than NODE_ID keep a strict majority while NODE_ID's daemon is stopped.
# WHAT says what stops it ("back up", "upgrade"). One manager alone: a note that the control plane
# stops meanwhile. The same check as engine-drain.sh's (which keeps its own copy: its text is part
# of every deployed engine step, and a change there would show on every stack's next preview).
hs_manager_quorum() {
    local node_id=$1 label=$2 what=$3 manager_ids status_list total=0 others=0 leaders=0 id reach leader
    manager_ids=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
    # shellcheck disable=SC2086 # word splitting of the ID list is intended
    status_list=$(hs_docker node inspect --format '{{.ID}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}{{else}}none false{{end}}' $manager_ids) ||
        hs_die "cannot inspect the managers"
    while read -r id reach leader; do
        [ -n "$id" ] || continue
        total=$((total + 1))
        [ "$leader" != true ] || leaders=$((leaders + 1))
        if [ "$reach" = reachable ] && [ "$id" != "$node_id" ]; then
            others=$((others + 1))
        fi
    done <<<"$status_list"
    [ "$leaders" -eq 1 ] || hs_die "refusing to ${what} manager ${label}: the swarm has no leader (Raft quorum lost or an election under way)"
    if [ "$total" -eq 1 ]; then
        hs_log "${label} is the only manager: while its Docker daemon is stopped the swarm cannot be managed (running tasks on the other nodes keep serving)"
    elif [ $((2 * others)) -le "$total" ]; then
        hs_die "refusing to ${what} manager ${label}: Raft quorum would be lost while its Docker daemon is stopped (managers: ${total}; the others reachable: ${others}; a strict majority needs $((total / 2 + 1)))"
    else
        hs_log "quorum check passed: ${total} managers, a leader, ${others} others reachable while ${label} is stopped"
    fi
}

# hs_inventory: on a manager, what a restore must bring back, one item a line:
#   node ID HOSTNAME NAME ROLE ADDR    (NAME: the ha-swarm.name label, else -)
#   service|network|secret|config ID NAME    (networks: the swarm-scoped ones)
hs_inventory() {
    local ids kind
    ids=$(hs_docker node ls -q) || hs_die "cannot list swarm nodes (docker node ls failed)"
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086 # word splitting of the ID list is intended
        hs_docker node inspect --format 'node {{.ID}} {{.Description.Hostname}} {{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}-{{end}} {{.Spec.Role}} {{.Status.Addr}}' $ids ||
            hs_die "cannot inspect swarm nodes"
    fi
    hs_docker service ls --format 'service {{.ID}} {{.Name}}' || hs_die "docker service ls failed"
    hs_docker network ls --no-trunc --filter scope=swarm --format 'network {{.ID}} {{.Name}}' || hs_die "docker network ls failed"
    for kind in secret config; do
        hs_docker "$kind" ls --format "${kind} {{.ID}} {{.Name}}" || hs_die "docker ${kind} ls failed"
    done
}

# hs_docker_service stop|start: stop or start this machine's Docker daemon (systemd when it is the
# init system, else the service command and /etc/init.d/docker). Run as root. A stop also removes
# the overlay VXLAN links the daemon left behind (hs_forget_vxlan_links).
hs_docker_service() {
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        # docker.socket would start the daemon again at the first request: stop it too.
        if [ "$1" = stop ]; then
            systemctl stop docker.socket docker >&2 || return 1
        else
            systemctl start docker >&2 || return 1
        fi
    else
        service docker "$1" >&2 || return 1
    fi
    [ "$1" != stop ] || hs_forget_vxlan_links
}

# hs_forget_vxlan_links: with the Docker daemon stopped, remove the overlay networks' VXLAN links
# (vx-<VNI>-<id>, libnetwork's names) that it left in this network namespace. A stopped daemon
# sometimes leaves one (measured on the test hosts: 1 stop in 6), and until it goes every task of
# that overlay on this node is rejected with "error creating vxlan interface: file exists"
# (moby/libnetwork#1765). The daemon makes them again when it needs them.
hs_forget_vxlan_links() {
    local link
    command -v ip >/dev/null 2>&1 || return 0
    for link in $(ip -o link show type vxlan 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
        case "$link" in
            vx-*)
                if ip link delete "$link" 2>/dev/null; then
                    hs_log "removed the VXLAN link ${link} that the stopped Docker daemon left (moby/libnetwork#1765)"
                fi
                ;;
            *) ;;
        esac
    done
}

# hs_docker_answers: true when the Docker daemon answers `docker info`.
hs_docker_answers() {
    hs_docker info --format '{{.ServerVersion}}' >/dev/null 2>&1
}

# hs_unlock_from KEY: unlock this manager (autolock) with KEY, given on stdin, never in argv.
hs_unlock_from() {
    printf '%s\n' "$1" | hs_docker swarm unlock >/dev/null 2>&1
}

# The scheduled backup's values, checked whole where they reach a path, a unit file or a command
# (backup-schedule.sh, backup-job.sh, backup-archives.sh):
# hs_plain_dir PATH: an absolute folder path of plain names, without a `.` or `..` part.
hs_plain_dir() { [[ "$1" =~ ^(/[A-Za-z0-9._-]+)+$ ]] && [[ ! "$1/" =~ /\.\.?/ ]]; }
# hs_stack_name NAME: a Pulumi stack name as the archives' names begin with it.
hs_stack_name() { [[ "$1" =~ ^[A-Za-z0-9._-]+$ ]]; }
# hs_age_recipient TEXT: an age X25519 recipient (age1..., Bech32).
hs_age_recipient() { [[ "$1" =~ ^age1[02-9ac-hj-np-z]{58}$ ]]; }
# hs_keep N: a count of archives to keep, at least 1.
hs_keep() { hs_is_uint "$1" && [ "$1" -ge 1 ]; }

# hs_backup_last_label: the node label that holds the time of a manager's last backup (seconds
# since the epoch): swarm-backup.sh sets it, the scheduled job reads it. It is outside the ha-swarm.
# labels, which node-settle.sh owns (it removes those it was not asked for).
hs_backup_last_label() { printf '%s' ha-swarm-backup.last; }
# hs_backup_pick: on stdin, a line per manager "NAME REACHABILITY LEADER LAST" (LAST: the time of
# its last backup in seconds since the epoch, or '-' for none); prints the name of the reachable
# manager that is not the leader and was backed up least recently (never: first), the first by
# name among equals, so that the scheduled backups take turns over the managers and a restore can
# go on any of them (an archive restores only on the address it was taken on). Prints nothing
# when no manager qualifies.
hs_backup_pick() {
    local name reach leader last
    while read -r name reach leader last; do
        if [ -z "$name" ] || [ "$reach" != reachable ] || [ "$leader" = true ]; then
            continue
        fi
        hs_is_uint "${last:-}" || last=0
        printf '%020d %s\n' "$last" "$name"
    done | LC_ALL=C sort | sed -n '1s/^[0-9]* //p'
}
