"""Issue 4, test 5: stacks/demo.yml deployed by `docker stack deploy` on the test hosts carries, field
by field, what `ha_swarm.apps.compose.load.load_stack` makes of the same file with the same variables.

The images come from variables (WHOAMI_IMAGE = the local stand-in image; DOMAIN as the program sets
it), which both sides read; both read one copy of demo.yml, which the test checks is the same as the
file (the visualizer, whose port needed `host` mode here, left the demo for stacks/visualizer.yml,
which needs ha-swarm's Docker API proxy: the e2e tests deploy it).  The whoami services keep their
default `vip` endpoint mode: their tasks run without IPVS, only the virtual IP does not balance (the
overlay test uses dnsrr).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ha_swarm.apps.compose.load import load_stack
from tests.support.cluster import Swarm, ensure_traefik_net, wait_for
from tests.support.hosts import IMAGE
from tests.support.parity import compare, deploy, differences, remove

DEMO = Path(__file__).resolve().parents[2] / "stacks" / "demo.yml"
FEATURES = Path(__file__).resolve().parent / "stacks" / "features.yml"
VARIABLES = {"DOMAIN": "traefik", "WHOAMI_IMAGE": IMAGE}
STACK = "demo"


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    original = yaml.safe_load(DEMO.read_text())
    doc = copy.deepcopy(original)
    assert differences(original, doc) == [], "the copy is demo.yml"
    path = tmp_path_factory.mktemp("stack") / "demo.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def deployed_demo(_swarm: Swarm, demo_copy: Path):
    swarm = _swarm.ensure()
    ensure_traefik_net(swarm)
    deploy(swarm, demo_copy, VARIABLES, STACK)
    try:
        yield demo_copy
    finally:
        remove(swarm, STACK)


def test_demo_stack_deployed_by_docker_carries_the_translations_fields(swarm: Swarm, deployed_demo: Path):
    spec = load_stack(deployed_demo, VARIABLES, stack_name=STACK)
    assert [s.key for s in spec.services] == ["whoami0", "whoami1"]
    assert [n.name for n in spec.networks] == ["traefik-net"]
    compare(swarm, spec)


def test_a_stack_of_the_other_deploy_keys_deployed_by_docker_carries_the_translations_fields(swarm: Swarm):
    """Global mode, dnsrr, resources, rollback_config, every update and restart key, preferences,
    a host-mode port, a named volume, a bind mount, container labels: what demo.yml does not use."""
    variables = {"IMAGE": IMAGE}
    spec = load_stack(FEATURES, variables, stack_name="features")
    deploy(swarm, FEATURES, variables, "features")
    try:
        compare(swarm, spec)
        tasks = swarm.running_tasks(swarm.first, "features_spread")
        assert sorted(node for node, _ in tasks) == sorted(h.hostname for h in swarm.workers), "one task on each worker"
    finally:
        remove(swarm, "features")


def test_the_demo_stack_runs(swarm: Swarm, deployed_demo: Path):
    first = swarm.first
    for name in ("demo_whoami0", "demo_whoami1"):
        wait_for(lambda n=name: len([t for t in swarm.running_tasks(first, n) if t[1].startswith("Running")]) == 2, 120, f"{name} to run")
        tasks = swarm.running_tasks(first, name)
        assert len(tasks) == 2 and all(state.startswith("Running") for _, state in tasks)
