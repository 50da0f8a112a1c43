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
