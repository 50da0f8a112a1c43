"""Issue 7: the lab for real.  `up` of 1 manager and 2 workers as libvirt VMs (qemu software
emulation) from the locally built image, Traefik answering through the routing mesh on every VM,
sticky sessions, a no-change preview, and `destroy` leaving nothing in libvirt.  Issue 8
(persistent data): with storage.nfs the first manager serves NFS, and the counter of
stacks/counter.yml keeps counting from where it was when its task moves to another node.

Slow (VMs under emulation): it runs with `make e2e-lab`, or in `make test` only when
HA_SWARM_E2E_LAB=1 and the lab image is already built.  Each step prints how long it took."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import KEEP, say, started
from tests.e2e.deployment import answers, changes, hostnames, routed
from tests.e2e.lab import COUNTER_SERVICE, MANAGER, NFS_EXPORT, WORKERS, LabDeployment, lab_image_env
from tests.e2e.toolchain import find_toolchain
from tests.support.cluster import wait_for

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
    keep = f"[e2e-lab] HE_KEEP set: the VMs, libvirt and {dep.run_dir} are kept (ssh -i {dep.key} swarm@{MANAGER}; remove with virsh and lab/libvirt-down.sh)"
    with started(request, dep, dep.start_libvirt, keep if KEEP else "") as running:
        yield running


def test_up_boots_three_vms_and_forms_the_swarm(lab: LabDeployment) -> None:
    start = time.monotonic()
    result = lab.up("up from nothing (3 VMs)")
    assert result.summary.result == "succeeded"
    nodes = lab.nodes()
    assert sorted(n["Hostname"] for n in nodes) == ["manager-1", "worker-1", "worker-2"]
    assert all(n["Status"] == "Ready" for n in nodes), nodes
    for service in ("traefik", "docker-api-proxy", "demo_whoami0", "demo_whoami1"):
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


def test_the_first_manager_serves_nfs_to_the_lab_and_every_vm_can_mount_it(lab: LabDeployment) -> None:
    exports = lab.manager("sudo -n exportfs -v")
    assert NFS_EXPORT in exports and "10.231.92.0/24" in exports and "no_root_squash" in exports, exports
    if lab.counter_image is not None:
        lab.manager(f"test -d {NFS_EXPORT}/counter")  # made by the program before the counter was deployed
    for address in WORKERS:
        res = lab.ssh(address, "command -v mount.nfs || test -x /sbin/mount.nfs")
        assert res.returncode == 0, f"no NFS client on {address}: {res.stderr}"


def test_a_preview_and_a_second_up_after_up_change_nothing(lab: LabDeployment) -> None:
    # Through the libvirt stand-in that bridges upstream's Terraform provider: a domain input that
    # it reads back in another form (the kernel command line, DHCP-leased addresses) would show here.
    preview = lab.preview("preview with no change", expect_no_changes=True)
    assert changes(preview.change_summary) == {}, preview.stdout[-3000:]
    result = lab.up("second up with no change")
    assert changes(result.summary.resource_changes) == {}, result.stdout[-3000:]


def test_the_counter_goes_on_from_its_count_when_its_task_moves_to_another_node(lab: LabDeployment) -> None:
    if lab.counter_image is None:
        pytest.skip("the toolchain's whoami image is not ha-swarm's whoami-lite: no counter mode")
    wait_for(lambda: lab.running(COUNTER_SERVICE), 300, "the counter to run")
    wait_for(lab.counter_host, 180, "the counter to answer through Traefik")
    old_host = lab.counter_host()
    counts = [lab.count() for _ in range(3)]
    assert [n for n, _ in counts] == [1, 2, 3], counts
    assert {h for _, h in counts} == {old_host}
    old_node = lab.counter_node()
    assert old_node is not None

    # Take the task's node away: drain it (a worker), or keep the service off it (the only manager,
    # which Traefik needs); swarm starts a new task elsewhere, which mounts the same NFS folder.
    drain = old_node != "manager-1"
    with lab.times.step(f"counter moved off {old_node} ({'drain' if drain else 'constraint'}) and answering again"):
        if drain:
            lab.manager(f"docker node update --availability drain {old_node}")
        else:
            lab.manager(f"docker service update --detach --constraint-add 'node.hostname!={old_node}' {COUNTER_SERVICE}")
        wait_for(lambda: lab.counter_node() not in (None, old_node), 300, f"the counter to run on another node than {old_node}", interval=3)
        wait_for(lambda: lab.counter_host() not in (None, old_host), 180, "Traefik to route to the new counter task", interval=2)
    new_node = lab.counter_node()
    count, host = lab.count()
    assert (count, host != old_host) == (4, True), f"after the move to {new_node}: count {count} from {host} (old task {old_host})"
    assert lab.manager(f"sudo -n cat {NFS_EXPORT}/counter/count").strip() == "4", "the count is kept in the NFS server's folder"

    if drain:  # the node takes tasks again (the constraint, if any, goes with the service at destroy)
        lab.manager(f"docker node update --availability active {old_node}")


def test_destroy_leaves_no_domain_volume_or_network(lab: LabDeployment) -> None:
    lab.destroy("destroy")
    assert lab.libvirt_leftovers() == []
    lab.remove_stack()
    lab.stack = None
