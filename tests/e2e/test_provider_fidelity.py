"""Issue 13: the toolchain's stand-in plugins behave as upstream's, diffs included, so that what makes
users' previews show changes forever shows in our tests too.  Two behaviours of the upstream
providers, each reproduced through our plugin with the program's fix taken away, and gone with it:

* Docker (pulumi-docker over kreuzwerker's Terraform provider): a service whose restart policy
  leaves out `delay` or `window` is read back with "0s" and updated on every `up`
  (pulumi/pulumi-docker#1285).  ha-swarm gives both (`ha_swarm.apps.compose.deploy.RESTART_DEFAULTS`).
* libvirt (pulumi-libvirt 0.5.4 over dmacvicar's Terraform provider): a domain's kernel command
  line is written sorted and read back grouped, and a network interface's `addresses` are read
  from DHCP leases: given in another form (or given at all, for a VM with a static address), the
  next preview replaces the VM.  ha-swarm gives `ha_swarm.machines.lab.kernel_cmdlines` and no addresses.

Each part runs a small program (tests/e2e/fidelity_programs) through the real CLI: up, preview,
then the fixed form: up, a preview with no changes, destroy.  The libvirt part needs libvirtd
(lab/libvirt-up.sh starts it, lab/libvirt-down.sh stops what it started) and `mkisofs`."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import say, started
from tests.e2e.deployment import Deployment, StackRun, changes
from tests.e2e.lab import LibvirtRun
from tests.e2e.toolchain import Toolchain, find_toolchain
from tests.support.hosts import Harness, HostSpec
from tools.lab_auto import multiboot_halt_kernel

PROGRAMS = Path(__file__).resolve().parent / "fidelity_programs"
DOCKER_PREFIX, DOCKER_SUBNET = "hf-", "10.231.83"
LIBVIRT_PREFIX, LIBVIRT_CIDR, LIBVIRT_ADDRESS = "ha-swarm-fidelity", "10.231.94.0/24", "10.231.94.11"


def use_program(run: StackRun, name: str) -> None:
    """The run's work folder with the fidelity program NAME in place of ha-swarm's own."""
    for file in ("Pulumi.yaml", "__main__.py"):
        link = run.work_dir / file
        link.unlink()
        link.symlink_to(PROGRAMS / name / file)


class DockerFidelity(Deployment):
    """One test host with its own dockerd, a one-node swarm, the program of fidelity_programs/docker."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.harness = Harness([HostSpec("f1", f"{DOCKER_SUBNET}.11")], prefix=DOCKER_PREFIX, subnet=DOCKER_SUBNET, state_dir=Path("/tmp/hf-hosts"), images=False)
        self.stack_name = "fidelity-docker"

    def start_hosts(self) -> None:
        super().start_hosts()
        host = self.harness["f1"]
        host.docker("swarm", "init", "--advertise-addr", host.address)

    def prepare_program(self) -> None:
        super().prepare_program()
        use_program(self, "docker")

    def configure(self) -> None:
        self.set_fixed(False)

    def set_fixed(self, fixed: bool) -> None:
        assert self.stack is not None
        values = {"host": self.harness["f1"].address, "keyFile": str(self.harness.key_path), "image": self.toolchain.whoami[0], "fixed": str(fixed).lower()}
        self.stack.set_all_config({f"fidelity:{k}": auto.ConfigValue(v) for k, v in values.items()})


class LibvirtFidelity(LibvirtRun):
    """The local libvirtd, the program of fidelity_programs/libvirt."""

    libvirt_prefix = LIBVIRT_PREFIX

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.stack_name = "fidelity-libvirt"

    def prepare_program(self) -> None:
        super().prepare_program()
        use_program(self, "libvirt")

    def configure(self) -> None:
        self.set_fixed(False)

    def set_fixed(self, fixed: bool) -> None:
        assert self.stack is not None
        kernel = multiboot_halt_kernel(self.run_dir / "halt.bin")
        values = {"prefix": LIBVIRT_PREFIX, "cidr": LIBVIRT_CIDR, "address": LIBVIRT_ADDRESS, "kernel": str(kernel), "fixed": str(fixed).lower()}
        self.stack.set_all_config({f"fidelity:{k}": auto.ConfigValue(v) for k, v in values.items()})


def root_toolchain(parts: tuple[str, ...]) -> Toolchain:
    if os.geteuid() != 0:
        pytest.skip("needs root: test hosts in network namespaces, libvirtd")
    toolchain, why = find_toolchain(parts)
    if toolchain is None:
        pytest.skip(f"e2e not run: {why}")
    return toolchain


@pytest.fixture(scope="module")
def docker_run(request: pytest.FixtureRequest) -> Iterator[DockerFidelity]:
    toolchain = root_toolchain(("pulumi", "langhost", "docker", "whoami"))
    run = DockerFidelity(toolchain, Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-fidelity-")), echo=lambda line: say(request.config, line))
    with started(request, run, run.start_hosts) as running:
        yield running


@pytest.fixture(scope="module")
def libvirt_run(request: pytest.FixtureRequest) -> Iterator[LibvirtFidelity]:
    toolchain = root_toolchain(("pulumi", "langhost", "libvirt"))
    if shutil.which("mkisofs") is None:
        pytest.fail("mkisofs is missing: the libvirt provider builds cloud-init disks with it (lab/libvirt-up.sh installs genisoimage)")
    run = LibvirtFidelity(toolchain, Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-fidelity-")), echo=lambda line: say(request.config, line))
    with started(request, run, run.start_libvirt) as running:
        yield running


def test_docker_a_service_without_restart_delay_and_window_is_updated_on_every_preview(docker_run: DockerFidelity) -> None:
    docker_run.up("up: a service without restart delay and window")
    preview = docker_run.preview("preview after up (without the fix)")
    assert changes(preview.change_summary) == {"update": 1}, preview.stdout[-3000:]
    assert "taskSpec" in preview.stdout, preview.stdout[-3000:]


def test_docker_with_delay_and_window_given_a_preview_after_up_changes_nothing(docker_run: DockerFidelity) -> None:
    docker_run.set_fixed(True)
    docker_run.up("up with the fix")
    docker_run.preview("preview after up (with the fix)", expect_no_changes=True)
    docker_run.destroy("destroy")


def test_libvirt_a_domain_in_the_old_form_is_replaced_on_every_preview(libvirt_run: LibvirtFidelity) -> None:
    libvirt_run.up("up: a domain in the old form")
    preview = libvirt_run.preview("preview after up (old form)")
    assert changes(preview.change_summary).get("replace"), preview.stdout[-3000:]
    assert "cmdlines" in preview.stdout, preview.stdout[-3000:]


def test_libvirt_a_domain_in_the_programs_form_changes_nothing_after_up(libvirt_run: LibvirtFidelity) -> None:
    libvirt_run.set_fixed(True)
    libvirt_run.up("up in the program's form")
    libvirt_run.preview("preview after up (program's form)", expect_no_changes=True)
    libvirt_run.destroy("destroy")
