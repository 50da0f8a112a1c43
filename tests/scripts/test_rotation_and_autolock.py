"""Day two on real Docker daemons: join-token rotation (swarm-rotate-tokens.sh) and autolock
(swarm-autolock.sh), see conftest.py for the hosts. a is the first manager, b and c join or try to.
Each class forms its own swarm and its tests build on each other, in order."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import Cluster, Host, wait_for
from .test_swarm_scripts import failed, form_swarm, no_token, node_id, nodes, ok, run_watched, spec, wait_ready

if os.geteuid() != 0:
    pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd", allow_module_level=True)

KEY_RE = re.compile(r"SWMKEY-1-[A-Za-z0-9+/=]+")
STATE: dict[str, str] = {}


def tokens(manager: Host) -> dict[str, str]:
    return json.loads(ok(manager.run("swarm-tokens.sh"), "swarm-tokens"))


def swarm_spec(manager: Host) -> dict:
    """The swarm's settings, what the scripts change (not its version: the swarm updates its cluster object itself)."""
    return json.loads(manager.info("{{json .Swarm.Cluster.Spec}}"))


def autolock(manager: Host) -> str:
    return manager.info("{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}")


def restart(host: Host) -> None:
    """Stop the host's Docker daemon like `systemctl restart docker` would, and start it again."""
    host.stop()
    host.start()


class TestTokenRotation:
    @pytest.fixture(autouse=True)
    def _in_order(self, request):
        if request.node.name != "test_rotation_makes_new_tokens_and_prints_none" and "rot_old" not in STATE:
            pytest.fail("the TestTokenRotation tests build on each other: run the class as a whole, in order")

    def test_rotation_makes_new_tokens_and_prints_none(self, cluster: Cluster):
        ids = form_swarm(cluster, ["a"], ["b"])
        a = cluster["a"]
        old = tokens(a)
        res = a.run("swarm-rotate-tokens.sh")
        assert ok(res, "rotate") == "", "the rotation prints nothing on stdout"
        new = tokens(a)
        no_token(res, *old.values(), *new.values())
        assert "rotated the worker and manager join tokens" in res.stderr
        assert new["worker"] != old["worker"] and new["manager"] != old["manager"]
        # The swarm is the same one: only the secret part of a token changes.
        assert new["worker"].rsplit("-", 1)[0] == old["worker"].rsplit("-", 1)[0]
        STATE.update(rot_b=ids["b"], rot_old=json.dumps(old), rot_new=json.dumps(new))

    def test_the_old_worker_and_manager_tokens_are_refused_by_the_manager(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        old = json.loads(STATE["rot_old"])
        for role in ("worker", "manager"):
            res = c.run("swarm-join.sh", role, a.ip, c.ip, stdin=old[role] + "\n", env={"HS_JOIN_TIMEOUT": "20"})
            failed(res, "could not join the swarm at", "valid join token is necessary")
            no_token(res, old[role])
            assert c.info("{{.Swarm.LocalNodeState}}") == "inactive"
        # docker swarm join itself, as a user would type it, is refused the same way.
        res = c.exec(["docker", "swarm", "join", "--token", old["worker"], f"{a.ip}:2377"], timeout=60)
        assert res.returncode != 0 and "valid join token is necessary" in res.stderr, res.stderr
        assert c.info("{{.Swarm.LocalNodeState}}") == "inactive"

    def test_a_node_already_joined_stays_and_its_join_run_again_with_the_new_token_changes_nothing(self, cluster: Cluster, tmp_path):
        a, b = cluster["a"], cluster["b"]
        new = json.loads(STATE["rot_new"])
        wait_ready(a, STATE["rot_b"])
        before = spec(a, STATE["rot_b"])
        res, changed = run_watched(b, tmp_path, "swarm-join.sh", "worker", a.ip, b.ip, stdin=new["worker"] + "\n")
        assert ok(res, "join b again") == STATE["rot_b"] + "\n"
        assert "already in the swarm as a worker; nothing to do" in res.stderr
        assert changed == []
        assert spec(a, STATE["rot_b"]) == before
        assert b.info("{{.Swarm.NodeID}} {{.Swarm.LocalNodeState}}") == f"{STATE['rot_b']} active"

    def test_a_node_joins_with_the_new_token(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        new = json.loads(STATE["rot_new"])
        res = c.run("swarm-join.sh", "worker", a.ip, c.ip, stdin=new["worker"] + "\n")
        nid = ok(res, "join c with the new token").strip()
        assert nid == node_id(c)
        wait_ready(a, nid)
        assert len(nodes(a)) == 3

    def test_rotation_is_refused_on_a_worker_and_takes_no_arguments(self, cluster: Cluster):
        before = tokens(cluster["a"])
        res = cluster["b"].run("swarm-rotate-tokens.sh")
        failed(res, "not a manager")
        no_token(res)
        failed(cluster["a"].run("swarm-rotate-tokens.sh", "now"), "usage")
        assert tokens(cluster["a"]) == before

    def test_a_rotation_and_an_autolock_change_at_the_same_time_both_succeed(self, cluster: Cluster):
        # Both change the cluster object; at once, Docker refuses one ("update out of sequence"): tried again.
        a = cluster["a"]
        for want in ("on", "off", "on", "off"):
            before = tokens(a)
            with ThreadPoolExecutor(2) as pool:
                rotated = pool.submit(a.run, "swarm-rotate-tokens.sh")
                locked = pool.submit(a.run, "swarm-autolock.sh", want)
            ok(rotated.result(), "rotate while autolock changes")
            ok(locked.result(), f"autolock {want} while the tokens rotate")
            assert autolock(a) == ("true" if want == "on" else "false")
            after = tokens(a)
            assert after["worker"] != before["worker"] and after["manager"] != before["manager"]


class TestAutolock:
    @pytest.fixture(autouse=True)
    def _in_order(self, request):
        if request.node.name != "test_on_prints_the_unlock_key_and_a_second_run_changes_nothing" and "key" not in STATE:
            pytest.fail("the TestAutolock tests build on each other: run the class as a whole, in order")

    def test_on_prints_the_unlock_key_and_a_second_run_changes_nothing(self, cluster: Cluster, tmp_path):
        form_swarm(cluster, ["a"], ["c"])
        a = cluster["a"]
        assert autolock(a) == "false"
        res = a.run("swarm-autolock.sh", "on")
        out = ok(res, "autolock on")
        assert KEY_RE.fullmatch(out.strip()) and out.endswith("\n") and out.count("\n") == 1, "one line: the unlock key"
        key = out.strip()
        assert "SWMKEY" not in res.stderr, "the key only ever goes to stdout"
        assert autolock(a) == "true"
        assert key == a.docker("swarm", "unlock-key", "-q")
        before = swarm_spec(a)
        for as_file in (False, True):
            again, changed = run_watched(a, tmp_path, "swarm-autolock.sh", "on", as_file=as_file)
            assert ok(again, "autolock on again") == key + "\n", "the same key, not a new one"
            assert "autolock is already on; nothing to do" in again.stderr
            assert changed == [], "a second run changed the swarm"
        assert swarm_spec(a) == before
        STATE["key"] = key

    def test_a_restarted_manager_stays_locked_and_the_scripts_say_how_to_unlock_it(self, cluster: Cluster):
        a = cluster["a"]
        restart(a)
        assert a.info("{{.Swarm.LocalNodeState}}") == "locked"
        for script in ("manager-check.sh", "swarm-tokens.sh", "swarm-autolock.sh"):
            res = a.run(script, *(("on",) if script == "swarm-autolock.sh" else ()))
            failed(res, "the swarm is locked on this node", "docker swarm unlock", "unlockKey")
            assert "SWMKEY" not in res.stderr
        wrong = STATE["key"][:-4] + ("AAAA" if not STATE["key"].endswith("AAAA") else "BBBB")
        res = a.exec(["docker", "swarm", "unlock"], input=wrong + "\n", timeout=60)
        assert res.returncode != 0, "a wrong key unlocked the manager"
        assert a.info("{{.Swarm.LocalNodeState}}") == "locked"

    def test_the_key_unlocks_the_manager(self, cluster: Cluster):
        a = cluster["a"]
        res = a.exec(["docker", "swarm", "unlock"], input=STATE["key"] + "\n", timeout=60)
        assert res.returncode == 0, res.stderr
        wait_for(lambda: a.info("{{.Swarm.LocalNodeState}}") == "active", 30, "the manager active after unlock")
        ok(a.run("manager-check.sh"), "manager-check after unlock")
        assert ok(a.run("swarm-autolock.sh", "on"), "autolock on after unlock") == STATE["key"] + "\n"

    def test_off_prints_nothing_a_second_run_changes_nothing_and_a_restart_needs_no_key(self, cluster: Cluster, tmp_path):
        a = cluster["a"]
        res = a.run("swarm-autolock.sh", "off")
        assert ok(res, "autolock off") == ""
        assert "SWMKEY" not in res.stderr
        assert autolock(a) == "false"
        before = swarm_spec(a)
        again, changed = run_watched(a, tmp_path, "swarm-autolock.sh", "off")
        assert ok(again, "autolock off again") == ""
        assert "autolock is already off; nothing to do" in again.stderr
        assert changed == []
        assert swarm_spec(a) == before
        restart(a)
        wait_for(lambda: a.info("{{.Swarm.LocalNodeState}}") == "active", 30, "the manager active after a restart without autolock")

    def test_autolock_is_refused_on_a_worker_and_with_a_bad_argument(self, cluster: Cluster):
        a, c = cluster["a"], cluster["c"]
        failed(c.run("swarm-autolock.sh", "on"), "not a manager")
        failed(a.run("swarm-autolock.sh", "yes"), "usage: swarm-autolock.sh on|off")
        failed(a.run("swarm-autolock.sh"), "usage")
        assert autolock(a) == "false"
