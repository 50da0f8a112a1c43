"""Real Docker daemons, each a "host" of the integration harness, for the node-side scripts (no SSH).

The hosts come from `tests/support/hosts/` (one piece of code for test hosts): network,
mount, UTS and PID namespaces on a private bridge, each with its own dockerd and its own
/var/run/docker.sock.  Here they are ``a`` (first manager), ``b`` (manager-to-be) and ``c``
(worker) at 10.231.77.1{1,2,3}, named ``hst-*`` with their state in /tmp/hst-hosts, apart from
the integration tests' ``hs-*`` hosts; no sshd, no users, no images.

The scripts run as root inside a host (``Host.run``: ``nsenter`` into its namespaces), so the swarm
traffic (2377/tcp, 7946, 4789/udp) crosses the bridge.  The hosts live for this package only: they
are gone before the integration tests start theirs.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import wait_for
from tests.support.hosts import Harness, HarnessError, Host, HostSpec, TeardownGuard, cleanup, find_tool

__all__ = ["BASE", "SUBNET", "Cluster", "Host", "wait_for"]

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "ha_swarm" / "nodes" / "scripts"

PREFIX = "hst-"
SUBNET = "10.231.77"
BASE = Path("/tmp/hst-hosts")
HOSTS = {"a": f"{SUBNET}.11", "b": f"{SUBNET}.12", "c": f"{SUBNET}.13"}
SLEEP_IMAGE = "hs-test/sleep:1"
# What the fixture of an earlier version left after a killed run (daemons in the machine's mount namespace).
LEGACY = ("hs-test-", Path("/tmp/hs-test-swarm"))


def _sleep_image_tar() -> bytes:
    """A minimal root filesystem: /bin/sleep, /bin/cat (what a task reads its secrets with) and the
    shared objects they need (no registry here)."""
    files: dict[str, str] = {}
    for tool in ("sleep", "cat"):
        binary = shutil.which(tool) or f"/bin/{tool}"
        files[os.path.realpath(binary)] = f"bin/{tool}"
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for line in ldd.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
            if path.startswith("/"):
                files[os.path.realpath(path)] = path.lstrip("/")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for src, dst in files.items():
            tar.add(src, arcname=dst)
    return buf.getvalue()


class Cluster:
    """Three hosts on one bridge: a (first manager), b (manager-to-be), c (worker)."""

    def __init__(self) -> None:
        specs = [HostSpec(name, ip) for name, ip in HOSTS.items()]
        self.harness = Harness(specs, prefix=PREFIX, subnet=SUBNET, state_dir=BASE, ssh=False, images=False, no_docker_group=None)
        self.hosts = self.harness.hosts
        self._image_tar: bytes | None = None

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def setup(self) -> None:
        self.harness.up()

    def reset(self) -> None:
        """All daemons running, none in a swarm."""
        for host in self.hosts.values():
            if not host.running:
                host.start()
        for host in self.hosts.values():
            host.leave_swarm()

    def teardown(self) -> None:
        self.harness.down()

    def ensure_image(self, host: Host) -> str:
        if self._image_tar is None:
            self._image_tar = _sleep_image_tar()
        if not host.docker("image", "ls", "-q", SLEEP_IMAGE):
            host.import_image(self._image_tar, SLEEP_IMAGE)
        return SLEEP_IMAGE


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd")
    cleanup(*LEGACY)
    cluster = Cluster()
    guard = TeardownGuard(cluster.teardown)
    try:
        cluster.setup()
    except HarnessError as error:
        guard.run()
        pytest.fail(str(error))
    except BaseException:
        guard.run()
        raise
    try:
        yield cluster
    finally:
        guard.run()


def pytest_report_header(config) -> list[str]:
    """Record the client and daemon versions: the docker CLI on PATH may be newer than dockerd."""
    lines = []
    for tool in ("docker", "dockerd"):
        path = find_tool(tool, "/usr/sbin/dockerd", "/usr/bin/dockerd")
        if path:
            res = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
            lines.append(f"{tool}: {path}: {res.stdout.strip() or res.stderr.strip()}")
        else:
            lines.append(f"{tool}: not found")
    return lines
