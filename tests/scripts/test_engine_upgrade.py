"""Rolling Docker Engine upgrades, the node side, against real Docker daemons (see conftest.py).

The test hosts share this machine's one dockerd binary, so no host can really change its engine
version.  What runs for real here: engine-drain.sh (its quorum and leader guard, its drain and its
wait for the tasks to stop, its no-op for a node that already runs the version), engine-activate.sh
(its wait for the node and its own manager to come back, the availability it gives back, its wait
for the services to converge) and engine-install.sh around the package manager (its no-op at the
version, the installer call, its refusal to trust an installer whose daemon does not answer with
the version).  The package installation itself is not exercised.

The recorded plan runs the order that ha_swarm/day2/engine.py declares over a swarm of three managers
(a first) and one worker (d, a fourth host added for this module): for each node, drain (told the
node should run a version it does not run), a real daemon restart through the harness (standing in
for the package upgrade), activate (told the version the daemon answers with).  At every step it
records where the services' containers run, and asserts that they never all stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.support.hosts import HostSpec

from .conftest import SUBNET, Cluster, Host, wait_for
from .test_swarm_scripts import failed, form_swarm, ok, run_watched, spec, wait_reachability

if os.geteuid() != 0:
    pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd", allow_module_level=True)

WANTED = "99.0.0"  # a version that no test host runs: the drain treats every node as out of date
GLOBAL = "hs-engine-global"
REPLICATED = "hs-engine-replicated"
MANAGERS = ["a", "b", "c"]
ORDER = ["b", "c", "a", "d"]  # ha_swarm.day2.engine.upgrade_order: other managers, first manager, workers
FAST = {"HS_ENGINE_TIMEOUT": "90"}
STATE: dict[str, str] = {}


def real_version(host: Host) -> str:
    """The upstream part of the daemon's version (20.10.24 of 20.10.24+dfsg1)."""
    return host.docker("version", "--format", "{{.Server.Version}}").split("+")[0].split("~")[0]


@pytest.fixture(scope="module")
def swarm(cluster: Cluster) -> Iterator[Cluster]:
    """a, b, c managers and d a worker, labelled node-<name>, running a global and a replicated service."""
    d = Host(cluster.harness, HostSpec("d", f"{SUBNET}.14"))
    cluster.harness.hosts["d"] = d
    try:
        d.create()
        d.start_docker()
        ids = form_swarm(cluster, MANAGERS, ["d"])
        STATE.update(ids)
        a = cluster["a"]
        for name in ids:
            image = cluster.ensure_image(cluster[name])
        for service, mode in ((GLOBAL, ["--mode", "global"]), (REPLICATED, ["--replicas", "2"])):
            a.docker(
                "service", "create", "--detach", "--quiet", "--name", service, "--no-resolve-image", *mode,
                "--network", "host", "--stop-signal", "SIGKILL", "--stop-grace-period", "1s", image, "/bin/sleep", "100000",
            )  # fmt: skip
        wait_for(lambda: converged(a), 120, "the services to run all their tasks")
        yield cluster
    finally:
        cluster["a"].docker("service", "rm", GLOBAL, REPLICATED, check=False)
        if d.holder_pid is not None:
            d.stop_docker()
        del cluster.harness.hosts["d"]
        cluster.reset()


def converged(manager: Host) -> bool:
    out = manager.docker("service", "ls", "--format", "{{.Replicas}}", check=False)
    counts = [line.split()[0].split("/") for line in out.splitlines() if line.strip()]
    return len(counts) == 2 and all(r == w and r != "0" for r, w in counts)


def containers(cluster: Cluster) -> dict[str, int]:
    """Running containers of the two services, per host whose daemon answers."""
    found = {}
    for name in [*MANAGERS, "d"]:
        host = cluster[name]
        if host.running:
            out = host.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name", check=False)
            found[name] = len(out.split())
    return found


def availability(manager: Host, name: str) -> str:
    return manager.node(STATE[name])["Spec"]["Availability"]


# --------------------------------------------------------------------------------------------------


class TestEngineUpgrade:
    @pytest.fixture(autouse=True)
    def _in_order(self, request):
        if request.node.name != "test_drain_does_nothing_for_a_node_that_already_runs_the_version" and "plan" not in STATE:
            pytest.fail("the TestEngineUpgrade tests build on each other: run the class as a whole, in order")

    def test_drain_does_nothing_for_a_node_that_already_runs_the_version(self, swarm: Cluster, tmp_path):
        a, d = swarm["a"], swarm["d"]
        version = real_version(d)
        for name in ("d", "b"):
            before = spec(a, STATE[name])
            res, changed = run_watched(a, tmp_path, "engine-drain.sh", f"node-{name}", version, env=FAST)
            assert ok(res, f"drain {name} at its version") == ""
            assert "already runs Docker Engine" in res.stderr
            assert changed == [], "the node was not touched"
            assert spec(a, STATE[name]) == before
            assert availability(a, name) == "active"
        STATE["plan"] = ""

    def test_drain_refuses_a_manager_while_another_manager_is_down_and_touches_nothing(self, swarm: Cluster, tmp_path):
        a, c = swarm["a"], swarm["c"]
        c.stop(kill=True)
        try:
            wait_reachability(a, STATE["c"], "unreachable")
            before = spec(a, STATE["b"])
            res, changed = run_watched(a, tmp_path, "engine-drain.sh", "node-b", WANTED, env=FAST)
            err = failed(res, "refusing to upgrade manager node-b", "Raft quorum would be lost")
            assert "managers: 3; the others reachable: 1; a strict majority needs 2" in err
            assert changed == []
            assert spec(a, STATE["b"]) == before
            assert availability(a, "b") == "active"
        finally:
            c.start()
        wait_reachability(a, STATE["c"], "reachable")
        wait_for(lambda: converged(a), 120, "the services to converge again")

    def test_drain_and_activate_refuse_an_unknown_node(self, swarm: Cluster):
        a = swarm["a"]
        failed(a.run("engine-drain.sh", "node-x", WANTED), "no swarm node is labelled ha-swarm.name=node-x")
        failed(a.run("engine-activate.sh", "node-x", WANTED, env={"HS_ENGINE_TIMEOUT": "3"}), "no swarm node is labelled ha-swarm.name=node-x")

    def test_install_does_nothing_at_the_version_and_does_not_trust_an_installer(self, swarm: Cluster, tmp_path):
        d = swarm["d"]
        record = tmp_path / "installed"
        installer = tmp_path / "installer"
        installer.write_text(f'#!/bin/sh\necho "$1" >> {record}\n')
        installer.chmod(0o755)
        env = {"HS_ENGINE_INSTALLER": str(installer), "HS_ENGINE_TIMEOUT": "3"}
        res = d.run("engine-install.sh", real_version(d), env=env)
        assert ok(res, "install at the version") == ""
        assert "already runs" in res.stderr
        assert not record.exists(), "no installation at the version"
        # Another version: the installer is called with it, and the script waits for the daemon to
        # answer with it; this one still answers with its own version, so the step fails.
        err = failed(d.run("engine-install.sh", WANTED, env=env), f"does not answer with version {WANTED}", "it answers: ")
        assert record.read_text() == f"{WANTED}\n"
        assert real_version(d) in err
        installer.write_text("#!/bin/sh\nexit 3\n")
        failed(d.run("engine-install.sh", WANTED, env=env), f"{installer} {WANTED} failed")
        failed(d.run("engine-install.sh", "27.0.0;reboot"), "is not a Docker Engine version")

    def test_activate_leaves_a_node_that_does_not_come_back_at_the_version_drained(self, swarm: Cluster):
        a = swarm["a"]
        ok(a.run("engine-drain.sh", "node-d", WANTED, env=FAST), "drain d")
        assert availability(a, "d") == "drain"
        err = failed(a.run("engine-activate.sh", "node-d", WANTED, env={"HS_ENGINE_TIMEOUT": "4"}), "node node-d is not back within 4s", "it stays drained")
        assert f"wanted {WANTED}" in err
        assert availability(a, "d") == "drain"
        res = a.run("engine-activate.sh", "node-d", real_version(swarm["d"]), env=FAST)
        ok(res, "activate d")
        assert availability(a, "d") == "active"
        assert "ha-swarm-engine-upgrade" not in a.node(STATE["d"])["Spec"]["Labels"]

    def test_activate_keeps_a_drain_made_by_hand(self, swarm: Cluster):
        a = swarm["a"]
        a.docker("node", "update", "--availability", "drain", STATE["d"])
        try:
            # The global service then wants one task less: converged all the same.
            ok(a.run("engine-activate.sh", "node-d", real_version(swarm["d"]), env=FAST), "activate d")
            assert availability(a, "d") == "drain"
        finally:
            a.docker("node", "update", "--availability", "active", STATE["d"])
        wait_for(lambda: converged(a), 120, "the services to converge again")

    def test_rolling_upgrade_plan_one_node_at_a_time_keeps_the_services_running(self, swarm: Cluster):
        a = swarm["a"]
        version = real_version(a)
        plan: list[tuple[str, str, dict[str, int]]] = []

        def record(step: str, name: str) -> None:
            running = containers(swarm)
            plan.append((step, name, running))
            assert sum(running.values()) >= 1, f"after {step} of {name} no container of the services runs: {plan}"

        record("start", "-")
        for name in ORDER:
            host = swarm[name]
            driver = a  # drain and activate run on the first manager (on itself, in its own turn)
            start = time.monotonic()
            res = driver.run("engine-drain.sh", f"node-{name}", WANTED, env=FAST)
            ok(res, f"drain {name}")
            if name in MANAGERS:
                assert "quorum check passed: 3 managers, a leader, 2 others reachable" in res.stderr
            assert availability(a, name) == "drain"
            assert a.node(STATE[name])["Spec"]["Labels"].get("ha-swarm-engine-upgrade") == "drained"
            record("drain", name)
            assert containers(swarm)[name] == 0, f"the drain waited until the tasks on {name} stopped"
            # The package upgrade and the daemon restart: here a real restart through the harness.
            host.stop()
            record("restart:stopped", name)
            host.start()
            res = driver.run("engine-activate.sh", f"node-{name}", version, env=FAST)
            ok(res, f"activate {name}")
            assert "the services have converged" in res.stderr
            assert availability(a, name) == "active"
            assert "ha-swarm-engine-upgrade" not in a.node(STATE[name])["Spec"]["Labels"]
            assert converged(a)
            record(f"activate ({time.monotonic() - start:.0f}s)", name)
            if name in MANAGERS:
                wait_reachability(a, STATE[name], "reachable", timeout=10)
        print("\nrecorded plan (step, node, running service containers per host):")
        for step, name, running in plan:
            print(f"  {step:<22} {name:<2} {running}")
        assert [(s, n) for s, n, _ in plan][1::3] == [("drain", n) for n in ORDER]
        assert a.docker("node", "ls", "--filter", "role=manager", "-q").count("\n") == 2
        # Every node, asked again at the version it runs, is left alone.
        for name in ORDER:
            res = a.run("engine-drain.sh", f"node-{name}", version, env=FAST)
            assert "already runs Docker Engine" in ok(res, f"drain {name} again") + res.stderr
