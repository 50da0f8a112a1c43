"""Issue 4, test 3: removing a worker and then a manager with the delete scripts, in the order
Pulumi deletes a node's commands (settle: node-drain.sh, join: swarm-leave.sh on the node,
register: node-remove.sh), leaves a healthy swarm with the right counts; a removal that would
break the Raft quorum is refused."""

from __future__ import annotations

from tests.support.cluster import Swarm, all_running, attempt, wait_for


def counts(swarm: Swarm, via=None) -> dict[str, object]:
    summary = swarm.summary(via)
    return {
        "managers": sorted(s[3] for s in summary.values() if s[0] == "manager"),
        "workers": sum(1 for s in summary.values() if s[0] == "worker"),
        "not ready": sorted(name for name, s in summary.items() if s[1:3] != ("ready", "active")),
    }


def test_draining_a_manager_that_would_break_the_quorum_is_refused(swarm: Swarm):
    # 3 managers, one daemon stopped: removing another one would leave 2 managers with only 1 reachable.
    # The stopped one is never the leader (no election in the way of the check), the first manager
    # runs the script as the program does.
    first = swarm.first
    leader = swarm.leader()
    stopped = next(m for m in reversed(swarm.managers[1:]) if m is not leader)
    target = next(m for m in swarm.managers[1:] if m is not stopped)
    stopped.stop_docker()
    try:
        wait_for(attempt(lambda: swarm.summary()[stopped.hostname][3] == "unreachable"), 90, f"{stopped.hostname} unreachable")
        before = first.node(swarm.ids[target.name])
        refused = swarm.script(first, "node-drain.sh", swarm.ids[target.name])
        assert refused.returncode != 0 and refused.stdout == ""
        assert "Raft quorum would be lost" in refused.stderr
        assert "3 total, 2 reachable" in refused.stderr
        assert "2 would remain with only 1 reachable" in refused.stderr
        after = first.node(swarm.ids[target.name])
        # The Spec, not Version.Index: the swarm updates the node object by itself (status, certificates).
        assert after["Spec"] == before["Spec"], f"nothing changed on {target.hostname}"
        assert (after["Spec"]["Role"], after["Spec"]["Availability"]) == ("manager", "active")
    finally:
        stopped.start_docker()
    wait_for(attempt(lambda: swarm.summary()[stopped.hostname][1:] == ("ready", "active", "reachable")), 90, f"{stopped.hostname} back")
    wait_for(lambda: swarm.problem() is None, 90, "every node Ready again")


def test_removing_a_worker_then_a_manager_leaves_a_healthy_swarm_with_the_right_counts(swarm: Swarm):
    first = swarm.first
    worker, manager = swarm.harness["w2"], swarm.harness["m3"]
    assert counts(swarm) == {"managers": ["leader", "reachable", "reachable"], "workers": 2, "not ready": []}

    runs = swarm.remove(worker)
    assert [r.script for r in runs] == ["node-drain.sh", "swarm-leave.sh", "node-remove.sh"]
    assert all(r.stdout == "" for r in runs)
    assert worker.info("{{.Swarm.LocalNodeState}}") == "inactive"
    assert worker.hostname not in swarm.summary()
    assert counts(swarm) == {"managers": ["leader", "reachable", "reachable"], "workers": 1, "not ready": []}
    # Every delete script again (a destroy that is re-run): exit 0, nothing changes.
    before = swarm.nodes()
    again = [
        swarm.script(first, "node-drain.sh", swarm.ids["w2"]),
        swarm.script(worker, "swarm-leave.sh"),
        swarm.script(first, "node-remove.sh", worker.hostname, worker.address),
    ]
    assert [r.returncode for r in again] == [0, 0, 0], [r.stderr for r in again]
    assert swarm.nodes() == before

    runs = swarm.remove(manager)
    assert "quorum check passed: 3 managers (3 reachable) -> 2 (2 reachable)" in runs[0].stderr
    assert manager.info("{{.Swarm.LocalNodeState}}") == "inactive"
    remaining = [m for m in swarm.managers if m is not manager]
    for via in remaining:
        assert counts(swarm, via) == {"managers": ["leader", "reachable"], "workers": 1, "not ready": []}
        assert set(swarm.summary(via)) == {first.hostname, swarm.harness["m2"].hostname, swarm.harness["w1"].hostname}
    # Healthy: the remaining managers still schedule work.
    swarm.create_service(first, "hs-after-removal", replicas=3)
    try:
        wait_for(lambda: all_running(swarm.running_tasks(first, "hs-after-removal"), 3), 90, "3 running tasks after the removals")
    finally:
        first.docker("service", "rm", "hs-after-removal", check=False)
