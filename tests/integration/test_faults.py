"""Issue 4, test 4: a stopped manager daemon leaves a working control plane; a stopped worker's
tasks move to other nodes within a bounded time; restarted, both come back Ready."""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import Swarm, all_running, attempt, ssh_ok, wait_for
from tests.support.hosts import IMAGE

ANSWER_WITHIN = 90  # a new leader is usually elected in 10-30 s (swarmkit election timeout, split votes)
SCHEDULE_WITHIN = 120
RESCHEDULE_WITHIN = 120  # a stopped node is marked down after its heartbeats are missed
BACK_WITHIN = 90


def report(request: pytest.FixtureRequest, line: str) -> None:
    from tests.integration.conftest import _say

    _say(request.config, line)


def test_with_one_manager_stopped_the_other_two_answer_and_schedule_and_it_comes_back_ready(request, swarm: Swarm):
    stopped = swarm.leader()  # the hardest case: the leader goes away
    others = [m for m in swarm.managers if m is not stopped]
    service = "hs-fault-managers"
    start = time.monotonic()
    stopped.stop_docker()
    try:
        for manager in others:
            wait_for(lambda m=manager: swarm.harness.ssh(m, "docker node ls -q").returncode == 0, ANSWER_WITHIN, f"docker node ls on {manager.hostname}")
        answered = time.monotonic() - start
        new_leader = wait_for(attempt(lambda: swarm.leader(others[0])), ANSWER_WITHIN, "a new leader")
        assert new_leader in others
        ssh_ok(
            swarm.harness.ssh(others[0], f"docker service create --detach --quiet --name {service} --replicas 3 --endpoint-mode dnsrr --no-resolve-image {IMAGE}"),
            "docker service create with one manager down",
        )
        wait_for(lambda: all_running(swarm.running_tasks(others[1], service), 3, avoid=stopped.hostname), SCHEDULE_WITHIN, "3 running tasks")
        scheduled = time.monotonic() - start
    finally:
        if not stopped.docker_running:
            stopped.start_docker()
    wait_for(
        attempt(lambda: swarm.summary(others[0])[stopped.hostname][1:] == ("ready", "active", "reachable")), BACK_WITHIN, f"{stopped.hostname} Ready and Reachable again"
    )
    back = time.monotonic() - start
    # After a leader change every node reports again: the whole swarm is Ready, with one leader.
    wait_for(lambda: swarm.problem() is None, BACK_WITHIN, "every node Ready again")
    healed = time.monotonic() - start
    assert ssh_ok(swarm.harness.ssh(stopped, "docker node ls -q"), "docker node ls on the restarted manager").split()
    others[0].docker("service", "rm", service)
    report(
        request,
        f"faults: leader {stopped.hostname} stopped; others answer after {answered:.0f}s, 3 tasks run after {scheduled:.0f}s, "
        f"it is back Ready after {back:.0f}s, every node after {healed:.0f}s",
    )


def test_the_tasks_of_a_stopped_worker_move_to_other_nodes_and_the_worker_comes_back_ready(request, swarm: Swarm):
    first = swarm.first
    worker = swarm.harness["w1"]
    service = "hs-fault-worker"
    count = len(swarm.harness.hosts)
    swarm.create_service(first, service, replicas=count)
    try:
        wait_for(lambda: all_running(swarm.running_tasks(first, service), count), SCHEDULE_WITHIN, f"{count} running tasks")
        assert worker.hostname in [node for node, _ in swarm.running_tasks(first, service)], "the scheduler spreads the tasks: one on the worker"
        start = time.monotonic()
        worker.stop_docker()
        wait_for(lambda: all_running(swarm.running_tasks(first, service), count, avoid=worker.hostname), RESCHEDULE_WITHIN, "the worker's task on another node")
        moved = time.monotonic() - start
        assert swarm.summary()[worker.hostname][1] == "down"
    finally:
        if not worker.docker_running:
            worker.start_docker()
        back_start = time.monotonic()
    wait_for(attempt(lambda: swarm.summary()[worker.hostname][1:3] == ("ready", "active")), BACK_WITHIN, f"{worker.hostname} Ready again")
    back = time.monotonic() - back_start
    wait_for(lambda: swarm.problem() is None, BACK_WITHIN, "every node Ready again")
    first.docker("service", "rm", service)
    report(request, f"faults: worker {worker.hostname} stopped; its task runs elsewhere after {moved:.0f}s; Ready {back:.0f}s after its restart")
