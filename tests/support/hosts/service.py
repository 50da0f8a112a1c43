"""A test host's Docker daemon as a service: `/etc/init.d/docker start|stop|restart|status`.

The node scripts that stop their own daemon (swarm-backup.sh, swarm-restore.sh) run `systemctl` where
systemd is the init system and `service docker ...` elsewhere; a test host has no systemd (its PID 1
is tini), and its /etc is its own, so this init script is what `service docker stop` runs there.
It starts dockerd with the argv the harness uses, detached from the SSH session that asked."""

from __future__ import annotations

import shlex

from tests.support.hosts.common import SYSTEM_PATH
from tests.support.hosts.host import Host

INIT_SCRIPT = """#!/bin/sh
# /etc/init.d/docker of an ha-swarm test host (tests/support/hosts/service.py)
set -eu
export PATH={path} HOME=/root
pidfile=/run/docker.pid
running() {{ [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }}
stop() {{
    running || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    i=0
    while kill -0 "$pid" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    done
}}
start() {{
    running && return 0
    rm -f "$pidfile" /run/docker/containerd/containerd.pid
    setsid nohup {argv} >>/var/log/dockerd.log 2>&1 </dev/null &
    i=0
    until docker info --format '{{{{.ServerVersion}}}}' >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || {{ echo "dockerd did not answer" >&2; exit 1; }}
        sleep 0.2
    done
}}
case "${{1:-}}" in
    start) start ;;
    stop) stop ;;
    restart) stop; start ;;
    status) running ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
"""


def install_docker_service(host: Host) -> None:
    """Write the host's /etc/init.d/docker (its /etc is a folder of the harness's state dir)."""
    path = host.dir / "etc" / "init.d" / "docker"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(INIT_SCRIPT.format(path=SYSTEM_PATH, argv=shlex.join(host.dockerd_argv())))
    path.chmod(0o755)


# A test host has no systemd.  For the scheduled backup (backup-schedule.sh installs a systemd
# timer) a host can be given a stand-in: /run/systemd/system exists (the scripts' test for systemd
# as the init system) and `systemctl`, first on sudo's secure_path, keeps each call in a log and
# which units are enabled, and starts and stops the Docker daemon through /etc/init.d/docker (as
# `service` would, which itself turns to systemctl once /run/systemd/system exists).  No timer
# fires: the tests run the service's ExecStart themselves, as systemd would at the calendar time.
SYSTEMCTL_STUB = """#!/bin/sh
# systemctl of an ha-swarm test host (tests/support/hosts/service.py): no systemd here
set -eu
log=/run/systemctl-stub.log
enabled=/run/systemctl-stub.enabled
printf '%s\\n' "$*" >>"$log"
touch "$enabled"
verb=${1:-}
shift || true
units=""
for word in "$@"; do
    case "$word" in
        -*) ;;
        *) units="$units $word" ;;
    esac
done
docker_too() {
    for unit in $units; do
        case "$unit" in
            docker | docker.service) /etc/init.d/docker "$1" ;;
            *) ;;
        esac
    done
}
case "$verb" in
    daemon-reload) ;;
    enable) for unit in $units; do grep -qxF "$unit" "$enabled" || printf '%s\\n' "$unit" >>"$enabled"; done ;;
    disable) for unit in $units; do grep -vxF "$unit" "$enabled" >"$enabled.new" || true; mv "$enabled.new" "$enabled"; done ;;
    is-enabled) for unit in $units; do grep -qxF "$unit" "$enabled"; done ;;
    is-active) docker_too status ;;
    start | stop | restart) docker_too "$verb" ;;
    *) echo "systemctl stand-in: $verb is not handled" >&2; exit 1 ;;
esac
"""
STUB_BIN = "/etc/ha-swarm-test/bin"


def install_systemctl_stub(host: Host) -> None:
    """Give the host the systemctl stand-in (and /etc/init.d/docker, which it calls)."""
    install_docker_service(host)
    (host.dir / "run" / "systemd" / "system").mkdir(parents=True, exist_ok=True)
    stub = host.dir / "etc" / STUB_BIN.removeprefix("/etc/") / "systemctl"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text(SYSTEMCTL_STUB)
    stub.chmod(0o755)
    sudoers = host.dir / "etc" / "sudoers.d" / "ha-swarm-test"
    line = f'Defaults secure_path="{STUB_BIN}:{SYSTEM_PATH}"\n'
    if line not in sudoers.read_text():
        with sudoers.open("a") as out:
            out.write(line)


def systemctl_calls(host: Host) -> list[str]:
    log = host.dir / "run" / "systemctl-stub.log"
    return log.read_text().splitlines() if log.exists() else []


def enabled_units(host: Host) -> list[str]:
    path = host.dir / "run" / "systemctl-stub.enabled"
    return path.read_text().split() if path.exists() else []
