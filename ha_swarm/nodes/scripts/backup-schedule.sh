#!/usr/bin/env bash
# backup-schedule.sh install STACK SCHEDULE RECIPIENT KEEP DIR   (as root, on a manager)
#     stdin: the job's files (backup-job.sh and the scripts it runs: lib.sh, backup-lib.sh,
#     swarm-backup.sh), a tar in base64, as the program sends them (ha_swarm/day2/backup_schedule.py)
# backup-schedule.sh remove DIR
# install: puts the job in DIR/job/ with its settings (DIR/job/job.env), installs `age` when it is
# missing, and the systemd timer ha-swarm-backup.timer that runs ha-swarm-backup.service (the job,
# backup-job.sh) at SCHEDULE, a systemd calendar expression; Persistent=true: a run missed while
# the node was off happens when it is back. Archives go to DIR (backup-job.sh). Running it again
# with the same arguments changes nothing.
# remove: the timer, the service and DIR/job go; the archives in DIR stay (they are backups).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
if ! declare -F hs_plain_dir >/dev/null; then
    # shellcheck source=lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
    # shellcheck source=backup-lib.sh
    . "$(dirname "${BASH_SOURCE[0]}")/backup-lib.sh"
fi

UNITS=/etc/systemd/system
NAME=ha-swarm-backup
JOB_FILES=(backup-job.sh lib.sh backup-lib.sh swarm-backup.sh)

usage() { hs_die "usage: backup-schedule.sh install STACK SCHEDULE RECIPIENT KEEP DIR | remove DIR (as root)"; }
check_dir() { hs_plain_dir "$1" || hs_die "not an absolute folder path of plain names: '$1'"; }
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# write_if_changed PATH MODE: stdin into PATH, only when it differs (a second run changes nothing).
write_if_changed() {
    local new
    new=$(cat)
    if [ ! -f "$1" ] || [ "$(cat -- "$1")" != "$new" ]; then
        printf '%s\n' "$new" >"$1.new"
        chmod "$2" -- "$1.new"
        mv -- "$1.new" "$1"
        changed=true
    fi
}

install_age() {
    command -v age >/dev/null && return 0
    hs_log "installing age (the archives' encryption)"
    if command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q age >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q age >&2; }
    elif command -v dnf >/dev/null; then
        dnf install -y age >&2
    fi
    command -v age >/dev/null || hs_die "cannot install age on this manager: install the distribution's package age"
}

[ "${EUID:-$(id -u)}" -eq 0 ] || usage
[ "$#" -ge 1 ] || usage
action=$1
shift
changed=false
case "$action" in
    install)
        [ "$#" -eq 5 ] || usage
        stack=$1 schedule=$2 recipient=$3 keep=$4 dir=$5
        hs_stack_name "$stack" || hs_die "not a stack name: '${stack}'"
        [[ "$schedule" =~ ^[A-Za-z0-9*,./:~\ -]{1,80}$ ]] || hs_die "not a calendar expression: '${schedule}'"
        hs_age_recipient "$recipient" || hs_die "not an age recipient: '${recipient}'"
        hs_keep "$keep" || hs_die "not a whole number of at least 1: '${keep}'"
        check_dir "$dir"
        systemd_runs || hs_die "backup.schedule needs systemd on the managers, and $(hostname) does not run it: remove backup.schedule and run make backup from a scheduler of yours"
        if command -v systemd-analyze >/dev/null; then
            systemd-analyze calendar -- "$schedule" >/dev/null 2>&1 ||
                hs_die "systemd refuses the calendar expression '${schedule}' (systemd-analyze calendar '${schedule}')"
        fi
        install_age
        job="${dir}/job"
        mkdir -p -- "$job"
        chmod 0700 -- "$dir" "$job"
        unpacked=$(mktemp -d /run/ha-swarm-backup-job.XXXXXX)
        trap 'rm -rf -- "$unpacked"' EXIT
        base64 -d | tar -x -C "$unpacked" -f - || hs_die "the job's files on stdin are not a tar in base64"
        for file in "${JOB_FILES[@]}"; do
            [ -f "${unpacked}/${file}" ] || hs_die "the job's files lack ${file}"
            write_if_changed "${job}/${file}" 0700 <"${unpacked}/${file}"
        done
        write_if_changed "${job}/job.env" 0600 <<ENV
# ha-swarm's scheduled backup (backup-schedule.sh): read by backup-job.sh
STACK=${stack}
RECIPIENT=${recipient}
KEEP=${keep}
ARCHIVES=${dir}
ENV
        write_if_changed "${UNITS}/${NAME}.service" 0644 <<UNIT
[Unit]
Description=ha-swarm: back up the swarm's Raft store (the job runs on one manager of the swarm)
After=docker.service

[Service]
Type=oneshot
ExecStart=/bin/bash ${job}/backup-job.sh
UNIT
        write_if_changed "${UNITS}/${NAME}.timer" 0644 <<UNIT
[Unit]
Description=ha-swarm: scheduled backup of the swarm (backup.schedule of stack ${stack})

[Timer]
OnCalendar=${schedule}
Persistent=true

[Install]
WantedBy=timers.target
UNIT
        if [ "$changed" = true ]; then
            systemctl daemon-reload >&2
            systemctl restart "${NAME}.timer" >&2 2>/dev/null || true
        fi
        systemctl enable --now "${NAME}.timer" >&2 || hs_die "systemctl enable --now ${NAME}.timer failed"
        hs_log "$([ "$changed" = true ] && echo "installed" || echo "already installed:") the timer ${NAME}.timer (${schedule}); archives in ${dir}"
        ;;
    remove)
        [ "$#" -eq 1 ] || usage
        dir=$1
        check_dir "$dir"
        if systemd_runs; then
            systemctl disable --now "${NAME}.timer" >&2 2>/dev/null || true
        fi
        if [ -e "${UNITS}/${NAME}.timer" ] || [ -e "${UNITS}/${NAME}.service" ]; then
            rm -f -- "${UNITS}/${NAME}.timer" "${UNITS}/${NAME}.service"
            ! systemd_runs || systemctl daemon-reload >&2
            hs_log "removed the timer ${NAME}.timer"
        fi
        rm -rf -- "${dir}/job"
        hs_log "the archives in ${dir} stay"
        ;;
    *) usage ;;
esac
