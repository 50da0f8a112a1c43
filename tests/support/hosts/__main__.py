"""The test hosts by hand (as root): python -m tests.support.hosts up [N] | status | ssh NAME | down."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from tests.support.hosts.common import PREFIX, SSH_USER, STATE_DIR
from tests.support.hosts.harness import Harness, TeardownGuard
from tests.support.hosts.host import default_specs
from tests.support.hosts.processes import cleanup, pid_alive


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.hosts", description="Test hosts for ha-swarm (needs root).")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start N test hosts (default 5) and keep them running")
    up.add_argument("count", nargs="?", type=int, default=5)
    sub.add_parser("down", help="stop and remove the test hosts (also the leftovers of a killed run)")
    sub.add_parser("status", help="show the test hosts and whether their daemons answer")
    ssh = sub.add_parser("ssh", help="ssh into a test host (as swarm, or -u root)")
    ssh.add_argument("-u", "--user", default=SSH_USER)
    ssh.add_argument("name")
    ssh.add_argument("remote", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the test hosts need root (namespaces, a bridge, mounts, dockerd, sshd)", file=sys.stderr)
        return 2

    if args.command == "down":
        start = time.monotonic()
        cleanup(PREFIX, STATE_DIR)
        print(f"test hosts removed in {time.monotonic() - start:.1f}s")
        return 0

    if args.command == "up":
        harness = Harness(default_specs(args.count))
        guard = TeardownGuard(harness.down)
        try:
            harness.up()
        except BaseException as error:
            print(f"harness up failed: {error!r}; tearing down", file=sys.stderr)
            guard.run()
            return 1
        guard.release()
        print(harness.describe())
        if harness.installed:
            print(f"installed: {', '.join(harness.installed)}")
        print(f"up in {harness.timings['up']:.1f}s; remove them with: python -m tests.support.hosts down")
        return 0

    if not (STATE_DIR / "state.json").exists():
        print(f"no test hosts (no {STATE_DIR / 'state.json'}); start them with: python -m tests.support.hosts up", file=sys.stderr)
        return 1
    harness = Harness.attach(STATE_DIR)

    if args.command == "status":
        print(harness.describe())
        healthy = True
        for h in harness:
            alive = h.holder_pid is not None and pid_alive(h.holder_pid)
            docker = h.exec(["docker", "info", "--format", "{{.ServerVersion}} swarm={{.Swarm.LocalNodeState}}"], timeout=20) if alive else None
            ssh_ok = harness.ssh(h, "true", user="root", timeout=15).returncode == 0 if alive else False
            state = docker.stdout.strip() if docker is not None and docker.returncode == 0 else "not answering"
            healthy &= alive and ssh_ok and docker is not None and docker.returncode == 0
            print(f"{h.hostname:<8} PID 1 {h.holder_pid} {'up' if alive else 'GONE'}; dockerd {state}; sshd {'answers' if ssh_ok else 'NOT answering'}")
        return 0 if healthy else 1

    # ssh
    h = harness.host(args.name.removeprefix(harness.prefix))
    cmd = ["nsenter", f"--net=/run/netns/{harness.ctl_ns}", *harness.ssh_argv(h, args.user), *args.remote]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
