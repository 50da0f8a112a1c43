"""Issue 4, tests 1 and 2: the node scripts, sent over SSH as the program sends them, form a swarm of
three managers and two workers; every script run a second time exits 0 and changes nothing."""

from __future__ import annotations

import json

from tests.support.cluster import Swarm, ssh_ok


def node_ls(swarm: Swarm, via) -> dict[str, tuple[str, str, str, str]]:
    """`docker node ls` on a manager, over SSH as the swarm user: hostname -> (ID, status, availability, manager status)."""
    out = ssh_ok(swarm.harness.ssh(via, "docker node ls --format '{{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}'"), "docker node ls")
    rows = [line.split("\t") for line in out.splitlines()]
    return {row[1]: (row[0], row[2], row[3], row[4]) for row in rows}


def test_three_managers_one_leader_two_reachable_and_two_workers_all_ready(swarm: Swarm):
    runs = swarm.first_formation
    assert runs is not None
    order = [(r.script, r.host) for r in runs if r.script in ("swarm-init.sh", "swarm-tokens.sh", "swarm-join.sh")]
    assert order[:4] == [("swarm-init.sh", "m1"), ("swarm-tokens.sh", "m1"), ("swarm-join.sh", "m2"), ("swarm-join.sh", "m3")]
    assert sorted(order[4:]) == [("swarm-join.sh", "w1"), ("swarm-join.sh", "w2")]
    for run in runs:
        assert "SWMTKN" not in run.stderr, f"a token on the stderr of {run.script}"
        if run.script != "swarm-tokens.sh":
            assert "SWMTKN" not in run.stdout
    for via in swarm.managers:
        listed = node_ls(swarm, via)
        assert set(listed) == {h.hostname for h in swarm.harness}
        for host in swarm.harness:
            node_id, status, availability, manager = listed[host.hostname]
            assert node_id == swarm.ids[host.name], "the ID the script printed is the node's ID"
            assert (status, availability) == ("Ready", "Active"), host.hostname
            assert (manager != "") == (host in swarm.managers), host.hostname
        statuses = sorted(listed[h.hostname][3] for h in swarm.managers)
        assert statuses == ["Leader", "Reachable", "Reachable"]
    labels = {n["Description"]["Hostname"]: n["Spec"]["Labels"] for n in swarm.nodes()}
    assert labels == {h.hostname: {"ha-swarm.name": h.hostname} for h in swarm.harness}
    # The managers advertise the addresses the program gives them.
    for node in swarm.nodes():
        host = swarm.host_of(node["ID"])
        assert node["Status"]["Addr"] == host.address
        if host in swarm.managers:
            assert node["ManagerStatus"]["Addr"] == f"{host.address}:2377"


def state(swarm: Swarm) -> dict:
    first = swarm.first
    nodes = swarm.nodes()
    return {
        "cluster": first.info("{{.Swarm.Cluster.ID}}"),
        "ids": {n["Description"]["Hostname"]: n["ID"] for n in nodes},
        # What the scripts set (role, availability, labels), not Version.Index: the swarm itself updates
        # node objects in the background (certificates, status), which moves the index.
        "specs": {n["ID"]: n["Spec"] for n in nodes},
        "leader": swarm.leader().hostname,
        "tokens": {role: first.docker("swarm", "join-token", "-q", role) for role in ("worker", "manager")},
        "local": {h.name: h.info("{{.Swarm.NodeID}} {{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}") for h in swarm.harness},
    }


def test_every_formation_script_run_a_second_time_exits_0_and_changes_nothing(swarm: Swarm):
    before = state(swarm)
    ids = dict(swarm.ids)
    tokens = dict(swarm.tokens)
    runs = swarm.form()  # every create script of the program again: readiness, init, tokens, register, join, settle
    assert {r.script for r in runs} == {"wait-ready.sh", "swarm-init.sh", "swarm-tokens.sh", "manager-check.sh", "swarm-join.sh", "node-settle.sh"}
    assert all(r.returncode == 0 for r in runs)
    for run in runs:
        if run.script == "swarm-init.sh":
            assert run.stdout == ids["m1"] + "\n" and "already a swarm manager" in run.stderr
        elif run.script == "swarm-join.sh":
            assert run.stdout == ids[run.host] + "\n" and "nothing to do" in run.stderr
        elif run.script == "swarm-tokens.sh":
            assert json.loads(run.stdout) == tokens, "no new tokens"
        elif run.script == "node-settle.sh":
            assert run.stdout == "" and "setting" not in run.stderr, run.stderr
    assert swarm.ids == ids
    assert state(swarm) == before
