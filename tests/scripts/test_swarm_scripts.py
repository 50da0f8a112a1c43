"""Behaviour of the node-side scripts against real Docker daemons (see conftest.py for the hosts).

Host a is the first manager, b the manager-to-be, c the worker. The lifecycle tests run in order on
one swarm (init, tokens, join, settle, drain, leave, remove); the quorum tests form fresh swarms.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import BASE, SUBNET, Cluster, Host, wait_for

if os.geteuid() != 0:
    pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd", allow_module_level=True)

TOKEN_RE = re.compile(r"SWMTKN-1-[A-Za-z0-9]+-[A-Za-z0-9]+")


def ok(res, what: str = "") -> str:
    assert res.returncode == 0, f"{what} failed with {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res.stdout


def failed(res, *needles: str) -> str:
    """The run failed with a clear message on stderr (containing every needle) and printed nothing on stdout."""
    assert res.returncode != 0, f"expected a failure\nstdout: {res.stdout}\nstderr: {res.stderr}"
    assert res.stdout == "", f"stdout must stay empty on failure: {res.stdout!r}"
    err = res.stderr.strip()
    assert err, "no message on stderr"
    for needle in needles:
        assert needle in err, f"{needle!r} not in stderr: {err!r}"
    return err


def no_token(res, *tokens: str) -> None:
    for token in tokens:
        assert token not in res.stdout, "token leaked on stdout"
        assert token not in res.stderr, "token leaked on stderr"
    assert "SWMTKN" not in res.stderr


def node_id(host: Host) -> str:
    return host.info("{{.Swarm.NodeID}}")


def spec(manager: Host, nid: str) -> dict:
    """What the scripts control of a node: its role, availability and labels.

    A script's no-op is proven by its Spec and by the docker commands it ran (run_watched), never by
    the node's Version.Index: the swarm itself updates the node object on its own (status, a new
    certificate after a join or a demotion), so the version moves while no script does anything.
    """
    return manager.node(nid)["Spec"]


# docker commands that change the swarm; any command with --rotate as well (join-token, unlock-key, ca).
CHANGING = {
    "node": {"update", "demote", "promote", "rm"},
    "swarm": {"init", "join", "leave", "update", "unlock"},
    "service": {"create", "update", "rm", "scale", "rollback"},
}


def run_watched(host: Host, tmp_path: Path, script: str, *args: str, env: dict[str, str] | None = None, **kw) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run a node script with a `docker` first on PATH that logs each command line and runs the real one.

    Returns the result and the command lines (without "docker") that changed the swarm."""
    real = shutil.which("docker")
    assert real, "no docker on PATH"
    shim = Path(tmp_path) / f"docker-shim-{time.monotonic_ns()}"
    shim.mkdir(parents=True)
    log = shim / "calls"
    (shim / "docker").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >>'{log}'\nexec '{real}' \"$@\"\n")
    (shim / "docker").chmod(0o755)
    res = host.run(script, *args, env={**(env or {}), "PATH": f"{shim}:{os.environ['PATH']}"}, **kw)
    calls = log.read_text().splitlines() if log.exists() else []
    assert calls, f"{script} ran no docker command through the shim: the check would prove nothing"
    return res, [c for c in calls if changes_the_swarm(c.split())]


def changes_the_swarm(words: list[str]) -> bool:
    return (len(words) > 1 and words[1] in CHANGING.get(words[0], ())) or "--rotate" in words


def cluster_id(host: Host) -> str:
    return host.info("{{.Swarm.Cluster.ID}}")


def nodes(manager: Host) -> dict[str, dict]:
    ids = manager.docker("node", "ls", "-q").split()
    return {nid: manager.node(nid) for nid in ids}


def wait_ready(manager: Host, nid: str, timeout: float = 60) -> None:
    wait_for(lambda: manager.node(nid)["Status"]["State"] == "ready", timeout, f"node {nid} ready")


def wait_reachability(manager: Host, nid: str, value: str, timeout: float = 90) -> None:
    wait_for(
        lambda: manager.node(nid).get("ManagerStatus", {}).get("Reachability") == value,
        timeout,
        f"manager {nid} {value}",
    )


# --------------------------------------------------------------------------------------------------
# wait-ready.sh


def test_wait_ready_returns_quickly_against_a_running_daemon(cluster: Cluster):
    start = time.monotonic()
    res = cluster["a"].run("wait-ready.sh", "30")
    assert ok(res, "wait-ready") == ""
    assert time.monotonic() - start < 10


def test_wait_ready_times_out_with_a_clear_message_without_daemon(cluster: Cluster):
    start = time.monotonic()
    res = cluster["a"].run("wait-ready.sh", "3", env={"DOCKER_HOST": f"unix://{BASE}/no-daemon.sock"})
    elapsed = time.monotonic() - start
    err = failed(res, "timed out after 3s waiting for the Docker daemon")
    assert "timed out after 3s waiting for the Docker daemon to answer 'docker info'" in err.splitlines()[-1]
    assert "no-daemon.sock" in err.splitlines()[-1], "the last error is part of the message"
    assert 2.5 < elapsed < 20


@pytest.mark.parametrize(
    ("behaviour", "rc", "needle"),
    [
        ("echo; echo 'status: done'; exit 0", 0, None),
        ("echo; echo 'status: error'; exit 2", 0, "recoverable errors (exit 2)"),
        ("echo; echo 'status: error'; exit 1", 1, "cloud-init failed (cloud-init status --wait exited 1: status: error)"),
        ("exec sleep 60", 1, "timed out after 2s waiting for cloud-init to finish"),
    ],
    ids=["done", "recoverable-errors", "failed", "hangs"],
)
def test_wait_ready_waits_for_cloud_init_and_judges_its_exit_code(cluster: Cluster, tmp_path, behaviour, rc, needle):
    # cloud-init itself cannot run here: a stand-in on PATH plays its `status --wait` (the daemon is real).
    stub = tmp_path / "cloud-init"
    stub.write_text(f'#!/bin/sh\n[ "$1 $2" = "status --wait" ] || exit 99\n{behaviour}\n')
    stub.chmod(0o755)
    start = time.monotonic()
    res = cluster["a"].run("wait-ready.sh", "2", env={"PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert time.monotonic() - start < 15
    assert res.stdout == ""
    if rc == 0:
        ok(res, "wait-ready")
    else:
        failed(res)
    if needle:
        assert needle in res.stderr


def test_wait_ready_rejects_a_bad_timeout(cluster: Cluster):
    failed(cluster["a"].run("wait-ready.sh", "soon"), "TIMEOUT_SECONDS must be a positive integer")


# --------------------------------------------------------------------------------------------------
# Lifecycle on one swarm: the tests below run in order and share this state.

STATE: dict[str, str] = {}


class TestLifecycle:
    @pytest.fixture(autouse=True)
    def _in_order(self, request):
        if request.node.name != "test_init_prints_node_id_and_rerun_changes_nothing" and "a" not in STATE:
            pytest.fail("the TestLifecycle tests build on each other: run the class as a whole, in order")

    def test_init_prints_node_id_and_rerun_changes_nothing(self, cluster: Cluster, tmp_path):
        cluster.reset()
        a = cluster["a"]
        res = a.run("swarm-init.sh", a.ip)
        out = ok(res, "swarm-init")
        nid = node_id(a)
        assert out == nid + "\n"
        no_token(res)
        STATE["a"] = nid
        swarm = cluster_id(a)
        before = spec(a, nid)
        # Again, as sent by the Python side and as a plain file: same ID, same swarm, nothing updated.
        for as_file in (False, True):
            again, changed = run_watched(a, tmp_path, "swarm-init.sh", a.ip, as_file=as_file)
            assert ok(again, "second swarm-init") == nid + "\n"
            assert "already a swarm manager" in again.stderr
            assert changed == []
        assert cluster_id(a) == swarm
        assert spec(a, nid) == before
        assert list(nodes(a)) == [nid]
        assert a.node(nid)["ManagerStatus"]["Addr"] == f"{a.ip}:2377"

    def test_tokens_prints_one_json_line_with_two_distinct_tokens(self, cluster: Cluster):
        a = cluster["a"]
        res = a.run("swarm-tokens.sh")
        out = ok(res, "swarm-tokens")
        assert out.endswith("\n") and out.count("\n") == 1
        tokens = json.loads(out)
        assert set(tokens) == {"worker", "manager"}
        assert TOKEN_RE.fullmatch(tokens["worker"]) and TOKEN_RE.fullmatch(tokens["manager"])
        assert tokens["worker"] != tokens["manager"]
        assert tokens["worker"] == a.docker("swarm", "join-token", "-q", "worker")
        assert tokens["manager"] == a.docker("swarm", "join-token", "-q", "manager")
        assert "SWMTKN" not in res.stderr
        STATE.update(worker_token=tokens["worker"], manager_token=tokens["manager"])

    def test_join_manager_and_worker_with_the_token_on_stdin(self, cluster: Cluster):
        a, b, c = cluster["a"], cluster["b"], cluster["c"]
        res_b = b.run("swarm-join.sh", "manager", a.ip, b.ip, stdin=STATE["manager_token"] + "\n")
        assert ok(res_b, "join b") == node_id(b) + "\n"
        no_token(res_b, STATE["manager_token"])
        # A token without trailing newline (and a CR) is read as well.
        res_c = c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin=STATE["worker_token"] + "\r")
        assert ok(res_c, "join c") == node_id(c) + "\n"
        no_token(res_c, STATE["worker_token"])
        STATE.update(b=node_id(b), c=node_id(c))
        for nid in (STATE["a"], STATE["b"], STATE["c"]):
            wait_ready(a, nid)
        listed = nodes(a)
        assert set(listed) == {STATE["a"], STATE["b"], STATE["c"]}
        roles = sorted(n["Spec"]["Role"] for n in listed.values())
        assert roles == ["manager", "manager", "worker"]
        assert listed[STATE["b"]]["Status"]["Addr"] == b.ip
        assert listed[STATE["c"]]["Status"]["Addr"] == c.ip
        assert listed[STATE["b"]]["ManagerStatus"]["Addr"] == f"{b.ip}:2377"

    def test_join_again_is_a_noop(self, cluster: Cluster, tmp_path):
        a, b, c = cluster["a"], cluster["b"], cluster["c"]
        swarm = cluster_id(a)
        before = {nid: spec(a, nid) for nid in (STATE["b"], STATE["c"])}
        res_b, changed_b = run_watched(b, tmp_path, "swarm-join.sh", "manager", a.ip, b.ip, stdin=STATE["manager_token"] + "\n")
        assert ok(res_b, "second join b") == STATE["b"] + "\n"
        res_c, changed_c = run_watched(c, tmp_path, "swarm-join.sh", "worker", a.ip, c.ip, stdin=STATE["worker_token"] + "\n", as_file=True)
        assert ok(res_c, "second join c") == STATE["c"] + "\n"
        assert changed_b == changed_c == []
        assert cluster_id(b) == swarm  # a worker has no cluster info: its node ID and state are checked instead
        assert c.info("{{.Swarm.NodeID}} {{.Swarm.LocalNodeState}}") == f"{STATE['c']} active"
        assert len(nodes(a)) == 3
        assert {nid: spec(a, nid) for nid in before} == before

    def test_manager_check_accepts_a_manager_and_refuses_a_worker(self, cluster: Cluster):
        ok(cluster["a"].run("manager-check.sh"), "manager-check on the first manager")
        ok(cluster["b"].run("manager-check.sh"), "manager-check on the second manager")
        failed(cluster["c"].run("manager-check.sh"), "worker, not a manager")

    def test_join_with_the_wrong_role_on_an_active_node_fails_without_leaking_the_token(self, cluster: Cluster):
        a, b, c = cluster["a"], cluster["b"], cluster["c"]
        res = b.run("swarm-join.sh", "worker", a.ip, b.ip, stdin=STATE["worker_token"] + "\n")
        failed(res, "already in a swarm as a manager")
        no_token(res, STATE["worker_token"])
        res = c.run("swarm-join.sh", "manager", a.ip, c.ip, stdin=STATE["manager_token"] + "\n")
        failed(res, "already in a swarm as a worker")
        no_token(res, STATE["manager_token"])
        assert c.info("{{.Swarm.ControlAvailable}}") == "false"

    def test_join_refuses_an_empty_stdin_and_a_bad_role(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        for stdin in ("", "\n", "  \n"):
            failed(c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin=stdin), "no join token on stdin")
        res = c.run("swarm-join.sh", "admin", a.ip, c.ip, stdin=STATE["worker_token"] + "\n")
        failed(res, "ROLE must be 'manager' or 'worker'")
        no_token(res, STATE["worker_token"])

    def test_tokens_refuses_on_a_worker(self, cluster: Cluster):
        res = cluster["c"].run("swarm-tokens.sh")
        failed(res, "not a manager")
        no_token(res)

    def test_settle_sets_name_and_user_labels_and_a_second_run_changes_nothing(self, cluster: Cluster, tmp_path):
        a = cluster["a"]
        ok(a.run("node-settle.sh", STATE["a"], "node-a", "manager"), "settle a")
        ok(a.run("node-settle.sh", STATE["b"], "node-b", "manager", "zone=z1", "note=a=b c"), "settle b")
        ok(a.run("node-settle.sh", STATE["c"], "node-c", "worker", "zone=z2", "empty="), "settle c")
        assert a.node(STATE["a"])["Spec"]["Labels"] == {"ha-swarm.name": "node-a"}
        assert a.node(STATE["b"])["Spec"]["Labels"] == {"ha-swarm.name": "node-b", "zone": "z1", "note": "a=b c"}
        assert a.node(STATE["c"])["Spec"]["Labels"] == {"ha-swarm.name": "node-c", "zone": "z2", "empty": ""}
        before = {nid: spec(a, STATE[nid]) for nid in "abc"}
        res, changed = run_watched(a, tmp_path, "node-settle.sh", STATE["b"], "node-b", "manager", "zone=z1", "note=a=b c")
        assert ok(res, "settle b again") == ""
        assert changed == []
        res, changed = run_watched(a, tmp_path, "node-settle.sh", STATE["c"], "node-c", "worker", "zone=z2", "empty=", as_file=True)
        ok(res, "settle c again")
        assert changed == []
        res, changed = run_watched(a, tmp_path, "node-settle.sh", STATE["a"], "node-a", "manager")
        ok(res, "settle a again")
        assert changed == []
        assert {nid: spec(a, STATE[nid]) for nid in "abc"} == before
        # A changed value is updated (and only then).
        res, changed = run_watched(a, tmp_path, "node-settle.sh", STATE["c"], "node-c", "worker", "zone=z3", "empty=")
        ok(res, "settle c with a new zone")
        assert [c.split()[:2] for c in changed] == [["node", "update"]], changed
        assert a.node(STATE["c"])["Spec"]["Labels"]["zone"] == "z3"

    def test_settle_removes_program_labels_no_longer_asked_for_and_keeps_hand_set_ones(self, cluster: Cluster):
        a = cluster["a"]
        a.docker("node", "update", "--label-add", "by-hand=yes", STATE["c"])
        ok(a.run("node-settle.sh", STATE["c"], "node-c", "worker", "zone=z3", "empty=", "ha-swarm.traefik-acme=true"), "settle c with a program label")
        assert a.node(STATE["c"])["Spec"]["Labels"]["ha-swarm.traefik-acme"] == "true"
        res = a.run("node-settle.sh", STATE["c"], "node-c", "worker", "zone=z3", "empty=")
        ok(res, "settle c without it")
        assert "updating 1 label(s)" in res.stderr
        labels = a.node(STATE["c"])["Spec"]["Labels"]
        assert "ha-swarm.traefik-acme" not in labels
        assert labels["by-hand"] == "yes" and labels["ha-swarm.name"] == "node-c"
        a.docker("node", "update", "--label-rm", "by-hand", STATE["c"])

    def test_settle_refuses_a_wrong_role_and_bad_labels(self, cluster: Cluster, tmp_path):
        a = cluster["a"]
        before = spec(a, STATE["c"])
        start = time.monotonic()
        res, changed = run_watched(a, tmp_path, "node-settle.sh", STATE["c"], "node-c", "manager")
        failed(res, "is a worker, expected a manager")
        assert changed == []
        assert time.monotonic() - start < 15, "a role mismatch must not wait for the timeout"
        # Refused before any docker command: run without the shim.
        failed(a.run("node-settle.sh", STATE["c"], "node-c", "worker", "=v"), "empty key")
        failed(a.run("node-settle.sh", STATE["c"], "node-c", "worker", "novalue"), "is not KEY=VALUE")
        failed(a.run("node-settle.sh", STATE["c"], "node-c", "worker", "ha-swarm.name=x"), "reserved")
        failed(a.run("node-settle.sh", STATE["c"], "node-c", "boss"), "ROLE must be")
        assert spec(a, STATE["c"]) == before

    def test_settle_times_out_clearly_for_an_unknown_node(self, cluster: Cluster):
        res = cluster["a"].run("node-settle.sh", "nosuchnode0000000000000000", "ghost", "worker", env={"HS_SETTLE_TIMEOUT": "3"})
        failed(res, "did not settle within 3s", "not found")

    def test_remove_refuses_a_node_that_has_not_left(self, cluster: Cluster):
        a = cluster["a"]
        res = a.run("node-remove.sh", "node-c", cluster["c"].ip, env={"HS_REMOVE_TIMEOUT": "3"})
        failed(res, "has not left the swarm")
        res = a.run("node-remove.sh", "node-b", cluster["b"].ip)
        failed(res, "still a manager", "demoted")
        assert len(nodes(a)) == 3

    def test_drain_worker_drains_and_waits_for_its_task_to_stop(self, cluster: Cluster, tmp_path):
        a, c = cluster["a"], cluster["c"]
        image = cluster.ensure_image(c)
        a.docker(
            "service", "create", "--detach", "--quiet", "--name", "hs-sleeper", "--no-resolve-image",
            "--network", "host", "--constraint", f"node.id=={STATE['c']}", "--stop-signal", "SIGKILL",
            image, "/bin/sleep", "100000",
        )  # fmt: skip
        try:
            wait_for(
                lambda: a.docker("node", "ps", STATE["c"], "--filter", "desired-state=running", "--format", "{{.CurrentState}}").startswith("Running"),
                60,
                "the task on c to run",
            )
            assert c.docker("ps", "-q"), "the task's container runs on c"
            res = a.run("node-drain.sh", STATE["c"])
            assert ok(res, "drain c") == ""
            node = a.node(STATE["c"])
            assert node["Spec"]["Availability"] == "drain"
            assert node["Spec"]["Role"] == "worker"
            assert a.docker("node", "ps", STATE["c"], "--filter", "desired-state=running", "-q") == ""
            assert c.docker("ps", "-q") == "", "the drain waited until the container stopped"
            before = spec(a, STATE["c"])
            again, changed = run_watched(a, tmp_path, "node-drain.sh", STATE["c"])
            assert ok(again, "drain c again") == ""
            assert changed == []
            assert "setting availability" not in again.stderr, again.stderr
            assert spec(a, STATE["c"]) == before
        finally:
            a.docker("service", "rm", "hs-sleeper", check=False)

    def test_leave_on_a_worker_and_remove_by_name(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        assert ok(c.run("swarm-leave.sh"), "leave c") == ""
        assert c.info("{{.Swarm.LocalNodeState}}") == "inactive"
        assert ok(c.run("swarm-leave.sh"), "leave c again") == ""
        res = a.run("node-remove.sh", "node-c", c.ip)
        assert ok(res, "remove c") == ""
        assert STATE["c"] not in nodes(a)
        assert ok(a.run("node-remove.sh", "node-c", c.ip), "remove c again") == ""
        # Draining a node that no longer exists is a no-op too (destroy re-run).
        assert ok(a.run("node-drain.sh", STATE["c"]), "drain removed c") == ""
        assert len(nodes(a)) == 2

    def test_failing_join_never_shows_the_token(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        real = STATE["worker_token"]
        wrong = real[:-6] + ("aaaaaa" if not real.endswith("aaaaaa") else "bbbbbb")
        res = c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin=wrong + "\n", env={"HS_JOIN_TIMEOUT": "20"})
        failed(res, "could not join the swarm at", "valid join token is necessary")
        no_token(res, wrong, real, wrong.rsplit("-", 1)[1])
        assert c.info("{{.Swarm.LocalNodeState}}") == "inactive"
        res = c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin="not-a-token\n")
        failed(res, "not a SWMTKN token")
        assert "not-a-token" not in res.stderr

    def test_join_to_an_unreachable_manager_fails_and_is_cancelled(self, cluster: Cluster):
        # Nobody owns this address on the bridge: docker's join times out and the node ends up in
        # 'pending'/'error'; the script cancels its own attempt so that a retry starts from inactive.
        c = cluster["c"]
        res = c.run("swarm-join.sh", "worker", f"{SUBNET}.99", c.ip, stdin=STATE["worker_token"] + "\n", env={"HS_JOIN_TIMEOUT": "10"})
        failed(res, f"could not join the swarm at {SUBNET}.99", "the attempt was cancelled")
        no_token(res, STATE["worker_token"])
        assert c.info("{{.Swarm.LocalNodeState}}") == "inactive"

    def test_remove_falls_back_to_the_address_of_a_down_unlabelled_node(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        out = ok(c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin=STATE["worker_token"] + "\n"), "rejoin c")
        rejoined = out.strip()
        assert rejoined != STATE["c"]
        wait_ready(a, rejoined)
        ok(c.run("swarm-leave.sh"), "leave c")
        # Right after leaving, the node is still reported ready for some seconds: the script waits for down.
        res = a.run("node-remove.sh", "never-settled", c.ip)
        ok(res, "remove by address")
        assert rejoined not in nodes(a)
        # The fallback never matches a node that carries a name label (b is node-b) nor the node it runs on.
        ok(a.run("node-remove.sh", "other-name", cluster["b"].ip), "remove by address of a labelled node")
        ok(a.run("node-remove.sh", "other-name", a.ip), "remove by own address")
        assert set(nodes(a)) == {STATE["a"], STATE["b"]}

    def test_leave_on_an_active_manager_is_refused(self, cluster: Cluster):
        b = cluster["b"]
        failed(b.run("swarm-leave.sh"), "manager", "demote it first")
        assert b.info("{{.Swarm.LocalNodeState}}") == "active"
        failed(b.run("swarm-leave.sh", "--now"), "usage")

    def test_drain_of_a_manager_demotes_it_then_it_leaves_and_is_removed(self, cluster: Cluster, tmp_path):
        # Two managers, both reachable: removing b leaves 1 of 1 reachable, a strict majority.
        a, b = cluster["a"], cluster["b"]
        res = a.run("node-drain.sh", STATE["b"])
        assert ok(res, "drain b") == ""
        assert "quorum check passed: 2 managers (2 reachable) -> 1 (1 reachable)" in res.stderr
        # The drain returns once the demotion is complete: no more manager status, b may leave at once.
        node = a.node(STATE["b"])
        assert node["Spec"]["Role"] == "worker" and node["Spec"]["Availability"] == "drain"
        assert "ManagerStatus" not in node
        # Drained again: a no-op, by what the script controls (the swarm itself keeps updating the
        # demoted node's object for a while: a new certificate, its status; its version moves).
        before = spec(a, STATE["b"])
        again, changed = run_watched(a, tmp_path, "node-drain.sh", STATE["b"])
        ok(again, "drain b again")
        assert "setting availability" not in again.stderr and "demoting" not in again.stderr, again.stderr
        assert changed == []
        assert spec(a, STATE["b"]) == before
        ok(b.run("swarm-leave.sh"), "leave b")
        assert b.info("{{.Swarm.LocalNodeState}}") == "inactive"
        ok(a.run("node-remove.sh", "node-b", b.ip), "remove b")
        assert list(nodes(a)) == [STATE["a"]]

    def test_leave_force_on_the_last_manager(self, cluster: Cluster):
        a = cluster["a"]
        assert ok(a.run("swarm-leave.sh", "--force"), "leave --force a") == ""
        assert a.info("{{.Swarm.LocalNodeState}}") == "inactive"
        assert ok(a.run("swarm-leave.sh", "--force"), "leave --force a again") == ""


# --------------------------------------------------------------------------------------------------
# Raft quorum guard of node-drain.sh


def form_swarm(cluster: Cluster, managers: list[str], workers: list[str] = ()) -> dict[str, str]:
    """A fresh swarm formed with the scripts: managers[0] inits, the others join."""
    cluster.reset()
    first = cluster[managers[0]]
    ids = {managers[0]: ok(first.run("swarm-init.sh", first.ip), "init").strip()}
    tokens = json.loads(ok(first.run("swarm-tokens.sh"), "tokens"))
    for name in managers[1:] + list(workers):
        role = "manager" if name in managers else "worker"
        host = cluster[name]
        ids[name] = ok(host.run("swarm-join.sh", role, first.ip, host.ip, stdin=tokens[role] + "\n"), f"join {name}").strip()
    for name in managers + list(workers):
        role = "manager" if name in managers else "worker"
        ok(first.run("node-settle.sh", ids[name], f"node-{name}", role), f"settle {name}")
    return ids


class TestQuorum:
    @pytest.fixture(autouse=True)
    def _in_order(self, request):
        first = ("test_drain_refuses_the_last_manager", "test_drain_refuses_the_node_it_runs_on")
        if request.node.name not in first and "q_a" not in STATE:
            pytest.fail("the TestQuorum tests build on each other: run the class as a whole, in order")

    def test_drain_refuses_the_last_manager(self, cluster: Cluster):
        ids = form_swarm(cluster, ["a"])
        a = cluster["a"]
        failed(a.run("node-drain.sh", ids["a"]), "last manager", "Raft quorum")
        assert a.node(ids["a"])["Spec"]["Availability"] == "active"

    def test_drain_refuses_the_node_it_runs_on(self, cluster: Cluster):
        ids = form_swarm(cluster, ["a", "b", "c"])
        STATE.update(q_a=ids["a"], q_b=ids["b"], q_c=ids["c"])
        a = cluster["a"]
        failed(a.run("node-drain.sh", ids["a"]), "the node this script runs on")
        assert a.node(ids["a"])["Spec"]["Availability"] == "active"
        assert a.node(ids["a"])["Spec"]["Role"] == "manager"

    def test_drain_refuses_when_the_remaining_reachable_managers_are_no_majority(self, cluster: Cluster, tmp_path):
        # 3 managers, c crashes: a and b reachable. Removing b would leave {a, c} with 1 of 2 reachable.
        a = cluster["a"]
        cluster["c"].stop(kill=True)
        wait_reachability(a, STATE["q_c"], "unreachable")
        before = spec(a, STATE["q_b"])
        res, changed = run_watched(a, tmp_path, "node-drain.sh", STATE["q_b"])
        err = failed(res, "Raft quorum")
        assert changed == []
        assert "3 total, 2 reachable" in err
        assert "2 would remain with only 1 reachable" in err
        assert "strict majority needs 2" in err
        assert spec(a, STATE["q_b"]) == before
        assert before["Availability"] == "active" and before["Role"] == "manager"

    def test_drain_allows_removing_the_crashed_manager_and_remove_cleans_it_up(self, cluster: Cluster):
        # Removing the unreachable c leaves {a, b}, both reachable: allowed; c is demoted, then removed.
        a = cluster["a"]
        res = a.run("node-drain.sh", STATE["q_c"])
        ok(res, "drain crashed c")
        assert "3 managers (2 reachable) -> 2 (2 reachable)" in res.stderr
        node = a.node(STATE["q_c"])
        assert node["Spec"]["Availability"] == "drain"
        assert node["Spec"]["Role"] == "worker"
        assert "ManagerStatus" not in node
        ok(a.run("node-remove.sh", "node-c", cluster["c"].ip), "remove crashed c")
        assert STATE["q_c"] not in nodes(a)
        managers = a.docker("node", "ls", "-q", "--filter", "role=manager").split()
        assert sorted(managers) == sorted([STATE["q_a"], STATE["q_b"]])
