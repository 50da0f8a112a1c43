"""Fixtures of the integration tests: the test hosts (harness.py) and the swarm on them (cluster.py).

The hosts live for the whole package (`hosts`); the swarm is formed once with the node scripts and
made whole again before a test that needs it (`swarm`), so only a test that breaks it pays for a
repair.  HS_KEEP_HOSTS=1 keeps the hosts after the run (remove them with `make hosts-down`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Swarm, ensure_traefik_net
from tests.support.hosts import STATE_DIR, Harness, TeardownGuard, ensure_packages, find_tool

HERE = Path(__file__).resolve().parent
KEEP = os.environ.get("HS_KEEP_HOSTS", "") not in ("", "0")
REPORT: list[str] = []

# Files of the machine that the hosts must never change (each host has its own copy of /etc).
WATCHED_ETC = ("passwd", "group", "shadow", "gshadow", "sudoers", "hostname", "hosts", "ssh/sshd_config")

# The order the modules run in: formation first, the tests that break the swarm last.
MODULE_ORDER = ("test_harness", "test_formation", "test_preparation", "test_stacks", "test_overlay", "test_faults", "test_node_removal")


def _say(config: pytest.Config, line: str) -> None:
    REPORT.append(line)
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"[integration] {line}")


def etc_fingerprint() -> dict[str, str]:
    out = {}
    for name in WATCHED_ETC:
        path = Path("/etc") / name
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"
    for path in sorted(Path("/etc/sudoers.d").glob("*")) + sorted(Path("/etc/ssh").glob("ssh_host_*")):
        out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def versions() -> str:
    parts = []
    for tool in ("docker", "dockerd"):
        path = find_tool(tool, "/usr/sbin/dockerd")
        res = subprocess.run([path, "--version"], capture_output=True, text=True, check=False) if path else None
        parts.append(f"{tool} {path}: {res.stdout.strip() if res else 'not found'}")
    return "; ".join(parts)


@pytest.fixture(scope="package")
def machine_before() -> dict[str, object]:
    """What the machine looked like before the hosts came up (after any package install)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: network namespaces, a bridge, mounts, dockerd and sshd for the test hosts")
    installed = ensure_packages()
    return {"etc": etc_fingerprint(), "hostname": os.uname().nodename, "installed": installed}


@pytest.fixture(scope="package")
def hosts(request: pytest.FixtureRequest, machine_before: dict[str, object]) -> Iterator[Harness]:
    harness = Harness()
    guard = TeardownGuard(harness.down)
    try:
        harness.up()
    except BaseException:
        guard.run()
        raise
    if machine_before["installed"]:
        _say(request.config, f"installed: {', '.join(machine_before['installed'])}")  # type: ignore[arg-type]
    _say(request.config, f"harness up: {len(harness.hosts)} hosts in {harness.timings['up']:.1f}s; vxlan: {'yes' if harness.vxlan else 'NO'}; {versions()}")
    yield harness
    if KEEP:
        guard.release()
        _say(request.config, f"hosts kept (HS_KEEP_HOSTS): state in {STATE_DIR}\n{harness.describe()}")
        return
    guard.run()
    steps = ", ".join(f"{k.removeprefix('down.')} {v:.1f}s" for k, v in harness.timings.items() if k.startswith("down."))
    _say(request.config, f"harness down: {harness.timings['down']:.1f}s ({steps})")


@pytest.fixture(scope="package")
def _swarm(hosts: Harness) -> Swarm:
    return Swarm(hosts)


@pytest.fixture
def swarm(request: pytest.FixtureRequest, _swarm: Swarm) -> Swarm:
    """The 5-node swarm, formed with the node scripts over SSH, whole and healthy."""
    start = time.monotonic()
    formed = _swarm.first_formation is not None
    problem = _swarm.problem()
    _swarm.ensure()
    if problem is not None:
        _say(request.config, f"swarm {'repaired' if formed else 'formed'} in {time.monotonic() - start:.1f}s ({problem})")
    return _swarm


@pytest.fixture
def traefik_net(swarm: Swarm) -> str:
    """The attachable overlay network the program's ingress step creates."""
    return ensure_traefik_net(swarm)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run this package's modules in MODULE_ORDER; leave every other test where it is."""
    slots = [i for i, item in enumerate(items) if Path(str(item.path)).parent == HERE]

    def rank(item: pytest.Item) -> int:
        stem = Path(str(item.path)).stem
        return MODULE_ORDER.index(stem) if stem in MODULE_ORDER else len(MODULE_ORDER)

    ordered = sorted((items[i] for i in slots), key=rank)  # stable: the order inside a module stays
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if REPORT:
        terminalreporter.section("integration hosts")
        for line in REPORT:
            terminalreporter.write_line(line)
