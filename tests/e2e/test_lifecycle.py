"""Issue 6: the whole program for real.  One stack through its life, in file order: `up` from
nothing, Traefik routing, a no-change preview and `up`, verify (issue 9: green, red with a stopped
worker and a service scaled to zero, an `up` that does not serve fails), a config change (scale and
a new worker), the worker's removal, the state's secrets, `destroy`.  Each step prints how long it
took.  The stack has `verify: true`: every `up` that changes something ends with verify.sh."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from pulumi import automation as auto

from tests.e2e.deployment import DOMAIN, STACK, VERIFY_TIMEOUT, Deployment, answers, changes, hostnames, json_lines, routed
from tests.support.cluster import wait_for

SERVICES = ("traefik", "docker-api-proxy", "demo_whoami0", "demo_whoami1")
REQUESTS = 8
TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]{20,}")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def managers(dep: Deployment) -> list[str]:
    return [h.address for h in dep.harness.managers]


def verify_rows(stdout: str) -> dict[tuple[str, str], str]:
    """verify.sh's table: (CHECK, TARGET) -> RESULT."""
    lines = stdout.splitlines()
    assert lines and lines[0].split() == ["CHECK", "TARGET", "RESULT", "DETAIL"], stdout
    rows = {}
    for line in lines[1:-1]:
        match = re.match(r"^(\S+)\s{2,}(.+?)\s{2,}(OK|FAIL)\s{2,}", line)
        assert match, f"not a table row: {line!r}"
        rows[(match[1], match[2])] = match[3]
    return rows


def still_running(dep: Deployment, service: str, down: str) -> list[str]:
    """The tasks of SERVICE still running, whatever their desired state (a scale down stops them), but
    on the node DOWN (whose tasks keep the last state it reported)."""
    tasks = json_lines(dep.first.docker("service", "ps", service, "--format", "{{json .}}"))
    return [t["Name"] for t in tasks if t["Node"] != down and t["CurrentState"].startswith("Running")]


def test_up_from_nothing_forms_the_swarm_and_runs_traefik_and_the_demo(deployment: Deployment) -> None:
    deployment.verify_on_up = True
    deployment.configure()
    result = deployment.up("up from nothing")
    assert result.summary.result == "succeeded"
    assert re.search(r"verify: all \d+ checks passed", result.stdout), "the up did not end with a green verify"
    nodes = {n["Hostname"]: n for n in deployment.nodes()}
    assert sorted(nodes) == ["he-m1", "he-m2", "he-m3", "he-w1"]
    assert all(n["Status"] == "Ready" and n["Availability"] == "Active" for n in nodes.values()), nodes
    assert sorted(n["ManagerStatus"] for n in nodes.values()) == ["", "Leader", "Reachable", "Reachable"]
    network = json.loads(deployment.first.docker("network", "inspect", "traefik-net"))[0]
    assert (network["Driver"], network["Scope"], network["Attachable"]) == ("overlay", "swarm", True)
    expected = {"traefik": 3, "docker-api-proxy": 3, "demo_whoami0": 2, "demo_whoami1": 2}
    for service, count in expected.items():
        wait_for(lambda s=service, c=count: len(deployment.running(s)) == c, 120, f"{count} running task(s) of {service}")
    # Traefik runs on every manager (host mode), never on the worker.
    assert sorted(t["Node"] for t in deployment.running("traefik")) == ["he-m1", "he-m2", "he-m3"]
    outputs = result.outputs
    assert outputs["managerAddress"].value == deployment.first.address
    assert outputs["dockerHost"].value == f"ssh://swarm@{deployment.first.address}"


def test_traefik_routes_whoami0_on_every_manager_across_its_replicas(deployment: Deployment) -> None:
    for address in managers(deployment):
        wait_for(lambda a=address: routed(deployment.curl, a, "whoami0", 2), 90, f"Traefik on {address} to route whoami0.{DOMAIN}")
        seen = set(hostnames(answers(deployment.curl, address, "whoami0", REQUESTS)))
        assert len(seen) == 2, f"{address}: {REQUESTS} requests answered by {sorted(seen)}, not by both replicas"


def test_whoami1_sticks_to_one_task_with_its_cookie_and_spreads_without(deployment: Deployment) -> None:
    for address in managers(deployment):
        wait_for(lambda a=address: routed(deployment.curl, a, "whoami1", 2), 90, f"Traefik on {address} to route whoami1.{DOMAIN}")
        jar = deployment.run_dir / f"cookies-{address}"
        pinned = hostnames(answers(deployment.curl, address, "whoami1", REQUESTS, "-c", str(jar), "-b", str(jar)))
        assert len(set(pinned)) == 1, f"{address}: with the cookie jar the answers came from {sorted(set(pinned))}"
        assert "whoami1_sticky" in jar.read_text(), "Traefik set no sticky cookie"
        spread = hostnames(answers(deployment.curl, address, "whoami1", REQUESTS))
        assert len(set(spread)) == 2, f"{address}: without cookies the answers came from {sorted(set(spread))} only"


def test_a_second_run_changes_nothing(deployment: Deployment) -> None:
    preview = deployment.preview("preview with no change", expect_no_changes=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-3000:]
    result = deployment.up("second up with no change")
    assert changes(result.summary.resource_changes) == {}, result.stdout[-3000:]


def test_verify_is_green_on_the_healthy_stack(deployment: Deployment) -> None:
    with deployment.times.step("verify, green"):
        res = deployment.verify()
    assert res.returncode == 0, res.stdout + res.stderr
    rows = verify_rows(res.stdout)
    assert set(rows.values()) == {"OK"}
    assert {t for c, t in rows if c == "node"} == {"he-m1", "he-m2", "he-m3", "he-w1"}
    assert {t for c, t in rows if c == "service"} == set(SERVICES)
    for address in managers(deployment):
        assert ("endpoint", f"http://whoami0.{DOMAIN} @ {address}") in rows
        assert ("sticky", f"http://whoami1.{DOMAIN} @ {address}") in rows
    assert ("managers", "3 manager(s)") in rows


def test_verify_is_red_with_a_stopped_worker_and_a_service_scaled_to_zero(deployment: Deployment) -> None:
    w1 = deployment.harness["w1"]
    w1.stop()
    try:
        wait_for(lambda: {n["Hostname"]: n["Status"] for n in deployment.nodes()}["he-w1"] == "Down", 90, "he-w1 down")
        deployment.first.docker("service", "scale", "--detach", "demo_whoami0=0")
        wait_for(lambda: not still_running(deployment, "demo_whoami0", "he-w1"), 60, "every task of demo_whoami0 stopped")
        with deployment.times.step("verify, red"):
            res = deployment.verify("--timeout", "5")
        assert res.returncode == 1, res.stdout + res.stderr
        failed = {key for key, result in verify_rows(res.stdout).items() if result == "FAIL"}
        expected = {("node", "he-w1"), ("service", "demo_whoami0"), *(("endpoint", f"http://whoami0.{DOMAIN} @ {a}") for a in managers(deployment))}
        assert expected <= failed, res.stdout
        assert ("managers", "3 manager(s)") not in failed, res.stdout
    finally:
        w1.start()
        deployment.first.docker("service", "scale", "--detach", f"demo_whoami0={deployment.whoami0_replicas}")
    wait_for(lambda: {n["Hostname"]: n["Status"] for n in deployment.nodes()}["he-w1"] == "Ready", 120, "he-w1 ready again")
    with deployment.times.step("verify, green again"):
        res = deployment.verify()
    assert res.returncode == 0, res.stdout + res.stderr


def test_an_up_whose_service_does_not_serve_fails_at_verify(deployment: Deployment) -> None:
    # whoami0's tasks run, but Traefik is sent to a port where nothing listens: 502 on every manager.
    doc = deployment.stack_document()
    labels = doc["services"]["whoami0"]["deploy"]["labels"]
    doc["services"]["whoami0"]["deploy"]["labels"] = [label.replace("server.port=80", "server.port=81") for label in labels]
    deployment.stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    stack = deployment.stack
    assert stack is not None
    stack.set_config("ha-swarm:verifyTimeout", auto.ConfigValue("20"))
    try:
        with pytest.raises(auto.CommandError) as failure:
            deployment.up("up that does not serve (fails at verify)")
    finally:
        stack.set_config("ha-swarm:verifyTimeout", auto.ConfigValue(VERIFY_TIMEOUT))
        deployment.write_stack_file()
    message = str(failure.value)
    assert "verify.sh" in message and re.search(rf"endpoint\s+http://whoami0\.{re.escape(DOMAIN)} @ \S+\s+FAIL\s+HTTP 502", message), message[-3000:]
    result = deployment.up("up that serves again")
    assert re.search(r"verify: all \d+ checks passed", result.stdout), "verify did not run again after the failed one"


def test_rotating_the_join_tokens_refuses_the_old_worker_token_and_keeps_every_node(deployment: Deployment) -> None:
    # Issue 9: a swarm.rotateTokens generation rotates the join tokens on the next up; swarm.autolock.
    old = deployment.join_tokens()
    members = {n["ID"]: n["Hostname"] for n in deployment.nodes()}
    deployment.swarm_extra = {"rotateTokens": 1, "autolock": True}
    deployment.configure()
    ops: dict[str, set[str]] = {}

    def on_event(event: auto.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            meta = event.resource_pre_event.metadata
            ops.setdefault(meta.urn.rsplit("::", 1)[-1], set()).add(str(meta.op.value))

    with deployment.times.step("up: join tokens rotated, autolock on"):
        result = deployment.stack.up(on_output=deployment.outputs.append, on_event=on_event, show_secrets=False, color="never")  # type: ignore[union-attr]
    new = deployment.join_tokens()
    assert new[0] != old[0] and new[1] != old[1], "the tokens did not change"
    assert ops.get("rotate-tokens") == {"create"} and ops.get("autolock") == {"create"}, ops
    assert "replace" in ops.get("tokens", set()), f"the tokens were not read again: {ops.get('tokens')}"
    # The nodes stay: their commands are at most updated in place (a join run again with the new
    # token, which changes nothing on a node already in the swarm), never replaced or deleted.
    for name, done in ops.items():
        if name.endswith(("-join", "-register", "-settle", "-prepare", "-ready")) or name == "init":
            assert done <= {"same", "update"}, f"{name}: {done}"
    assert {n["ID"]: n["Hostname"] for n in deployment.nodes()} == members
    assert all(n["Status"] == "Ready" for n in deployment.nodes())
    # The old worker token is refused by the managers; w2 stays out (it joins with the new one next).
    w2 = deployment.harness["w2"]
    for manager in (deployment.first, deployment.harness["m2"]):
        res = w2.exec(["docker", "swarm", "join", "--token", old[0], f"{manager.address}:2377"], timeout=90)
        assert res.returncode != 0 and "valid join token is necessary" in res.stderr, res.stdout + res.stderr
        assert w2.info("{{.Swarm.LocalNodeState}}") == "inactive"
    # The unlock key: a secret output, the swarm's own, and like the tokens never in plain text.
    unlock_key = result.outputs["unlockKey"]
    assert unlock_key.secret and unlock_key.value == deployment.first.docker("swarm", "unlock-key", "-q")
    for where, text in [*((str(f), f.read_text(errors="replace")) for f in deployment.state_files()), ("CLI output", "\n".join(deployment.outputs))]:
        for secret in (*old, *new, unlock_key.value):
            assert secret not in text, f"a join token or the unlock key in plain text in {where}"


def test_a_restarted_manager_stays_locked_until_unlocked_with_the_stacks_unlock_key(deployment: Deployment) -> None:
    key = deployment.stack.outputs()["unlockKey"].value  # type: ignore[union-attr]
    m3 = deployment.harness["m3"]
    with deployment.times.step("manager m3 restarted (locked), unlocked with unlockKey"):
        m3.stop()
        m3.start()
        assert m3.info("{{.Swarm.LocalNodeState}}") == "locked"
        res = m3.exec(["docker", "swarm", "unlock"], input=key + "\n", timeout=60)
        assert res.returncode == 0, res.stderr
        wait_for(lambda: m3.info("{{.Swarm.LocalNodeState}}") == "active", 60, "he-m3 active after the unlock")
        wait_for(lambda: {n["Hostname"]: n["ManagerStatus"] for n in deployment.nodes()}["he-m3"] in ("Reachable", "Leader"), 90, "he-m3 reachable")
        wait_for(lambda: len(deployment.running("traefik")) == 3, 120, "Traefik running on he-m3 again")
        # Every service back at its count (the tasks that stopped with m3's daemon are replaced).
        res = deployment.verify()
        assert res.returncode == 0, f"verify after the unlock:\n{res.stdout[-3000:]}\n{res.stderr[-1000:]}"
    preview = deployment.preview("preview after the rotation and the restart", expect_no_changes=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-3000:]


def test_scaling_whoami0_and_adding_a_worker(deployment: Deployment) -> None:
    deployment.whoami0_replicas = 5
    deployment.write_stack_file()
    deployment.workers = ["w1", "w2"]
    deployment.configure()
    result = deployment.up("up: whoami0 2 -> 5 replicas, worker w2 added")
    assert changes(result.summary.resource_changes), "the change was not applied"
    assert re.search(r"verify: all \d+ checks passed", result.stdout), "verify did not run after the change"
    wait_for(lambda: len(deployment.running("demo_whoami0")) == 5, 120, "5 running tasks of demo_whoami0")
    nodes = {n["Hostname"]: n for n in deployment.nodes()}
    assert "he-w2" in nodes and nodes["he-w2"]["Status"] == "Ready", nodes
    assert deployment.harness["w2"].info("{{.Swarm.LocalNodeState}}") == "active"
    preview = deployment.preview("preview after the change", expect_no_changes=True)
    assert changes(preview.change_summary) == {}


def test_removing_the_worker_drains_it_and_takes_it_out_of_the_swarm(deployment: Deployment) -> None:
    deployment.workers = ["w1"]
    deployment.configure()
    result = deployment.up("up: worker w2 removed")
    assert result.summary.resource_changes.get("delete", 0) >= 3, result.summary.resource_changes
    assert "he-w2" not in {n["Hostname"] for n in deployment.nodes()}
    assert deployment.harness["w2"].info("{{.Swarm.LocalNodeState}}") == "inactive"
    assert deployment.harness["w2"].docker("ps", "-q") == "", "tasks are left on the removed worker"
    # Its tasks went elsewhere: whoami0 still has 5 running tasks.
    wait_for(lambda: len(deployment.running("demo_whoami0")) == 5, 120, "5 running tasks of demo_whoami0 without w2")


def test_the_state_and_the_cli_output_hold_no_join_token_or_private_key(deployment: Deployment) -> None:
    tokens = deployment.join_tokens()
    key_lines = [line for line in deployment.private_key().splitlines() if line and not line.startswith("-----")]
    files = deployment.state_files()
    assert any(f.name == f"{STACK}.json" for f in files), [str(f) for f in files]
    # (the Automation API's export_stack() decrypts the secrets: the files themselves are what count)
    for where, text in [*((str(f), f.read_text(errors="replace")) for f in files), ("CLI output", "\n".join(deployment.outputs))]:
        # (the node scripts' text mentions the SWMTKN- prefix when they check a token's form)
        assert not TOKEN.search(text), f"a swarm join token in plain text in {where}"
        for token in tokens:
            assert token not in text, f"a join token in {where}"
        assert not PRIVATE_KEY.search(text), f"a private key in {where}"
        for line in key_lines:
            assert line not in text, f"a line of the private key in {where}"
    # and the secrets are there, encrypted
    (checkpoint,) = [f for f in files if f.name == f"{STACK}.json"]
    assert '"ciphertext"' in checkpoint.read_text()


def test_destroy_leaves_no_service_network_or_membership_and_removes_the_stack(deployment: Deployment) -> None:
    deployment.destroy("destroy")
    for host in deployment.harness:
        assert host.info("{{.Swarm.LocalNodeState}}") == "inactive", f"{host.hostname} is still in a swarm"
        assert host.docker("ps", "-aq") == "", f"containers left on {host.hostname}"
        assert "traefik-net" not in host.docker("network", "ls", "--format", "{{.Name}}")
    workspace = deployment.stack.workspace  # type: ignore[union-attr]
    deployment.remove_stack()
    deployment.stack = None  # nothing left for the fixture to destroy
    assert STACK not in [s.name for s in workspace.list_stacks()]
    # (the file backend keeps a `.bak` copy of a removed stack's last checkpoint beside it)
    assert not [f for f in deployment.state_files() if f.parent.name == "ha-swarm" and f.name == f"{STACK}.json"], "the stack's checkpoint is still there"
