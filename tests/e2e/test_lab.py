"""Issue 7: the lab for real.  `up` of 1 manager and 2 workers as libvirt VMs (qemu software
emulation) from the locally built image, Traefik answering through the routing mesh on every VM,
sticky sessions, a no-change preview, and `destroy` leaving nothing in libvirt.

Slow (VMs under emulation): it runs with `make e2e-lab`, or in `make test` only when
HA_SWARM_E2E_LAB=1 and the lab image is already built.  Each step prints how long it took."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import say, started
from tests.e2e.deployment import answers, hostnames, routed
from tests.e2e.lab import MANAGER, WORKERS, LabDeployment, lab_image_env
from tests.e2e.toolchain import find_toolchain
from tests.integration.cluster import wait_for

pytestmark = pytest.mark.skipif(os.environ.get("HA_SWARM_E2E_LAB", "") in ("", "0"), reason="the lab e2e runs with make e2e-lab (HA_SWARM_E2E_LAB=1)")
VMS = (MANAGER, *WORKERS)


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[LabDeployment]:
    if os.geteuid() != 0:
        pytest.skip("needs root: libvirtd, its bridge, VMs")
    toolchain, why = find_toolchain(("pulumi", "langhost", "command", "docker", "libvirt", "traefik", "whoami"))
    if toolchain is None:
        pytest.skip(f"lab e2e not run: {why}")
    start = time.monotonic()
    image, why = lab_image_env(toolchain, build=os.environ.get("HA_SWARM_E2E_LAB_BUILD", "1") != "0")
    if image is None:
        pytest.skip(f"lab e2e not run: {why}")
    say(request.config, f"[e2e-lab] lab image ready in {time.monotonic() - start:.1f}s: {image['HA_SWARM_LAB_IMAGE']}")
    dep = LabDeployment(toolchain, image, Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-lab-")), echo=lambda line: say(request.config, line))
    with started(request, dep, dep.start_libvirt) as running:
        yield running


def test_up_boots_three_vms_and_forms_the_swarm(lab: LabDeployment) -> None:
    start = time.monotonic()
    result = lab.up("up from nothing (3 VMs)")
    assert result.summary.result == "succeeded"
    nodes = lab.nodes()
    assert sorted(n["Hostname"] for n in nodes) == ["manager-1", "worker-1", "worker-2"]
    assert all(n["Status"] == "Ready" for n in nodes), nodes
    for service in ("traefik", "demo_whoami0", "demo_whoami1", "demo_visualizer"):
        wait_for(lambda s=service: lab.running(s), 300, f"{service} to run")
    wait_for(lambda: routed(lab.curl, MANAGER, "whoami0", 2), 300, "the first whoami0 answers through Traefik")
    first_answer = time.monotonic() - start
    lab.times.lines.append(("until the first whoami answers (from the start of up)", first_answer))
    lab.times.echo(f"[e2e] until the first whoami answers: {first_answer:.1f}s")


def test_traefik_answers_through_the_routing_mesh_on_every_vm(lab: LabDeployment) -> None:
    for address in VMS:
        wait_for(lambda a=address: routed(lab.curl, a, "whoami0", 2), 120, f"whoami0 through the routing mesh on {address}")


def test_whoami1_is_sticky_with_its_cookie(lab: LabDeployment) -> None:
    jar = lab.run_dir / "cookies"
    wait_for(lambda: routed(lab.curl, MANAGER, "whoami1", 2), 120, "whoami1 on both tasks")
    pinned = hostnames(answers(lab.curl, WORKERS[0], "whoami1", 6, "-c", str(jar), "-b", str(jar)))
    assert len(set(pinned)) == 1, pinned


def test_a_preview_after_up_changes_nothing(lab: LabDeployment) -> None:
    lab.preview("preview with no change", expect_no_changes=True)


def test_destroy_leaves_no_domain_volume_or_network(lab: LabDeployment) -> None:
    lab.destroy("destroy")
    assert lab.libvirt_leftovers() == []
    lab.remove_stack()
    lab.stack = None
