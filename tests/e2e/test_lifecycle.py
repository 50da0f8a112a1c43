"""Issue 6: the whole program for real.  One stack through its life, in file order: `up` from
nothing, Traefik routing, a no-change preview and `up`, a config change (scale and a new worker),
the worker's removal, the state's secrets, `destroy`.  Each step prints how long it took."""

from __future__ import annotations

import json
import re

from tests.e2e.deployment import DOMAIN, STACK, Deployment, answers, hostnames, routed
from tests.integration.cluster import wait_for

SERVICES = ("traefik", "demo_whoami0", "demo_whoami1", "demo_visualizer")
REQUESTS = 8
TOKEN = re.compile(r"SWMTKN-1-[0-9a-z]{20,}")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def managers(dep: Deployment) -> list[str]:
    return [h.address for h in dep.harness.managers]


def changes(summary_changes: dict[str, int] | None) -> dict[str, int]:
    return {op: n for op, n in (summary_changes or {}).items() if op != "same" and n}


def test_up_from_nothing_forms_the_swarm_and_runs_traefik_and_the_demo(deployment: Deployment) -> None:
    result = deployment.up("up from nothing")
    assert result.summary.result == "succeeded"
    nodes = {n["Hostname"]: n for n in deployment.nodes()}
    assert sorted(nodes) == ["he-m1", "he-m2", "he-m3", "he-w1"]
    assert all(n["Status"] == "Ready" and n["Availability"] == "Active" for n in nodes.values()), nodes
    assert sorted(n["ManagerStatus"] for n in nodes.values()) == ["", "Leader", "Reachable", "Reachable"]
    network = json.loads(deployment.first.docker("network", "inspect", "traefik-net"))[0]
    assert (network["Driver"], network["Scope"], network["Attachable"]) == ("overlay", "swarm", True)
    expected = {"traefik": 3, "demo_whoami0": 2, "demo_whoami1": 2, "demo_visualizer": 1}
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


def test_scaling_whoami0_and_adding_a_worker(deployment: Deployment) -> None:
    deployment.whoami0_replicas = 5
    deployment.write_stack_file()
    deployment.workers = ["w1", "w2"]
    deployment.configure()
    result = deployment.up("up: whoami0 2 -> 5 replicas, worker w2 added")
    assert changes(result.summary.resource_changes), "the change was not applied"
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
