#!/usr/bin/env bash
# backup-job.sh   (as root, on a manager; what ha-swarm-backup.service runs, from DIR/job/)
# The scheduled backup (`backup.schedule`, installed by backup-schedule.sh). Every manager's timer
# fires; one manager backs up: of the reachable managers that are not the leader, the one backed up
# least recently (its node label ha-swarm-backup.last; never: first; the first by name among
# equals), so that the managers take turns and each keeps archives a restore can use (one manager
# alone: that one); unless another manager started a backup in the last 15 minutes (its node label
# ha-swarm-backup.started) or a manager was backed up in that time (ha-swarm-backup.last: a timer
# that fires late, or `make backup` just before, makes no second archive; HS_BACKUP_WINDOW seconds
# instead of 900). It runs swarm-backup.sh (quorum check, daemon stopped
# while the swarm folder is archived, started again, reachable again), encrypts the archive on the
# way with age to the stack's recipient (the node never holds the key that opens it), writes
# DIR/<stack>-<UTC time>-<node>.swarm.age (mode 0600; the name `make backup` gives) and keeps the
# last KEEP there. `make backup-pull` copies them to the operator's machine.
# Settings: DIR/job/job.env (STACK, RECIPIENT, KEEP, ARCHIVES), written by backup-schedule.sh.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=lib.sh
. "${here}/lib.sh"
# shellcheck source=backup-lib.sh
. "${here}/backup-lib.sh"

[ "${EUID:-$(id -u)}" -eq 0 ] || hs_die "the backup stops the Docker daemon: run it as root"
STACK="" RECIPIENT="" KEEP="" ARCHIVES=""
while IFS='=' read -r key value; do
    case "$key" in
        STACK) STACK=$value ;;
        RECIPIENT) RECIPIENT=$value ;;
        KEEP) KEEP=$value ;;
        ARCHIVES) ARCHIVES=$value ;;
        '' | '#'*) ;;
        *) hs_die "${here}/job.env: unknown setting ${key}" ;;
    esac
done <"${here}/job.env"
hs_stack_name "$STACK" || hs_die "${here}/job.env: STACK is not a stack name"
hs_age_recipient "$RECIPIENT" || hs_die "${here}/job.env: RECIPIENT is not an age recipient"
hs_keep "$KEEP" || hs_die "${here}/job.env: KEEP is not a whole number of at least 1"
hs_plain_dir "$ARCHIVES" || hs_die "${here}/job.env: ARCHIVES is not an absolute folder path"
command -v age >/dev/null || hs_die "age is not installed on this manager (backup-schedule.sh installs it)"

# The mark of a backup under way. Like ha-swarm-backup.last, it is outside the ha-swarm. labels,
# which node-settle.sh owns: a `pulumi up` during a backup removes those it was not asked for.
started_label=ha-swarm-backup.started
state=$(hs_swarm_state) || hs_die "cannot query the Docker daemon (docker info failed)"
[ "$state" != locked ] || hs_die "$(hs_locked_advice)"
if [ "$state" != active ] || [ "$(hs_control_available)" != true ]; then
    hs_log "this node is not an active manager (state: ${state:-unknown}): nothing to do"
    exit 0
fi
self_id=$(hs_self_node_id) || hs_die "cannot query the Docker daemon (docker info failed)"
ids=$(hs_docker node ls -q --filter role=manager) || hs_die "cannot list the managers"
# shellcheck disable=SC2086 # word splitting of the ID list is intended
rows=$(hs_docker node inspect --format '{{.ID}} {{with index .Spec.Labels "ha-swarm.name"}}{{.}}{{else}}{{$.Description.Hostname}}{{end}} {{if .ManagerStatus}}{{.ManagerStatus.Reachability}} {{.ManagerStatus.Leader}}{{else}}none false{{end}} {{with index .Spec.Labels "'"${started_label}"'"}}{{.}}{{else}}-{{end}} {{with index .Spec.Labels "'"$(hs_backup_last_label)"'"}}{{.}}{{else}}-{{end}}' $ids) ||
    hs_die "cannot inspect the managers"
now=$(date +%s)
window=$(hs_timeout_from HS_BACKUP_WINDOW 900)
me="" candidates="" count=0
while read -r id name reach leader started last; do
    [ -n "$id" ] || continue
    count=$((count + 1))
    [ "$id" != "$self_id" ] || me=$name
    if [ "$id" != "$self_id" ] && hs_is_uint "$started" && [ $((now - started)) -lt "$window" ]; then
        hs_log "${name} started a backup $((now - started))s ago: nothing to do"
        exit 0
    fi
    if hs_is_uint "$last" && [ $((now - last)) -lt "$window" ]; then
        hs_log "${name} was backed up $((now - last))s ago: nothing to do"
        exit 0
    fi
    candidates+="${name} ${reach} ${leader} ${last}"$'\n'
done <<<"$rows"
[ -n "$me" ] || hs_die "this manager (${self_id}) is not in the managers' list"
chosen=$(printf '%s' "$candidates" | hs_backup_pick)
[ "$count" -gt 1 ] || chosen=$me
if [ "$chosen" != "$me" ]; then
    hs_log "${chosen:-no manager} backs up (of the reachable managers that are not the leader, the one backed up least recently): nothing to do on ${me}"
    exit 0
fi

# The node object changes on its own too (its status, when the daemon restarts after the backup):
# a label change then meets "update out of sequence", and is tried again.
mark() { hs_docker_update node update "$@" -- "$self_id"; }
mark --label-add "${started_label}=${now}" || hs_die "cannot label ${me} as backing up: ${HS_DOCKER_ERR}"
umask 077
mkdir -p -- "$ARCHIVES"
final="${ARCHIVES}/${STACK}-$(date -u +%Y%m%dT%H%M%SZ)-${me}.swarm.age"
part="${final}.part"
done_ok=false
finish() {
    rm -f -- "$part"
    mark --label-rm "$started_label" || hs_log "could not remove the label ${started_label} of ${me}: ${HS_DOCKER_ERR}"
    [ "$done_ok" = true ] || hs_log "the scheduled backup on ${me} failed"
}
trap finish EXIT
# The archive goes from swarm-backup.sh straight into age: never on a disk unencrypted.
set +e
bash "${here}/swarm-backup.sh" | age --encrypt -r "$RECIPIENT" >"$part"
status=("${PIPESTATUS[@]}")
set -e
[ "${status[0]}" -eq 0 ] || hs_die "swarm-backup.sh failed on ${me} (see its messages above)"
[ "${status[1]}" -eq 0 ] || hs_die "age could not encrypt the archive"
chmod 0600 -- "$part"
mv -- "$part" "$final"
# The last KEEP archives of the stack (names sort by time).
mapfile -t found < <(find "$ARCHIVES" -maxdepth 1 -type f -name "${STACK}-2*.swarm.age" -printf '%f\n' | LC_ALL=C sort)
for ((i = 0; i < ${#found[@]} - KEEP; i++)); do
    rm -f -- "${ARCHIVES}/${found[$i]}"
done
done_ok=true
hs_log "wrote ${final} ($(stat -c %s -- "$final") bytes, encrypted); keeping the last ${KEEP}"
