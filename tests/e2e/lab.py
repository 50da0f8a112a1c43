"""The lab target for real: libvirt VMs on this machine (qemu software emulation), from the image
that `lab/build-image.sh` builds (Debian with cloud-init and docker.io, the toolchain's
Traefik, whoami and socket proxy images preloaded, direct kernel boot), driven through the Automation API.

The VMs sit on an isolated libvirt network (`lab.networkMode: isolated`, 10.231.92.0/24): this
machine reaches them through libvirt's bridge, they reach nothing else.  `lab/libvirt-up.sh`
starts libvirtd when it is not running, `lab/libvirt-down.sh` stops what it started.

`storage.nfs` is on (the first manager serves NFS) and the example stateful stack
`stacks/counter.yml` is deployed with the toolchain's whoami-lite image, which has the counter mode.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pulumi import automation as auto

from tests.e2e.deployment import DOMAIN, StackRun, curl_argv, json_lines
from tests.e2e.toolchain import REPO, Toolchain
from tests.support.hosts import SSH_OPTIONS

LAB_STACK = "e2elab"
CIDR = "10.231.92.0/24"
MANAGER = "10.231.92.11"
WORKERS = ("10.231.92.21", "10.231.92.22")
PREFIX = f"ha-swarm-{LAB_STACK}"
LAB_IMAGE_SCRIPT = REPO / "lab" / "build-image.sh"
COUNTER_STACK = REPO / "stacks" / "counter.yml"
COUNTER_SERVICE = "counter_counter"
NFS_EXPORT = "/srv/nfs"


def lab_image_env(toolchain: Toolchain, build: bool) -> tuple[dict[str, str] | None, str]:
    """The lab image's files (HA_SWARM_LAB_*), built when `build`; else only when cached."""
    preload = [str(toolchain.traefik[1]), str(toolchain.whoami[1]), str(toolchain.socket_proxy[1])]
    argv = ["bash", str(LAB_IMAGE_SCRIPT), *([] if build else ["--check"]), "--preload", *preload]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, f"the lab image is not built ({tail[0]}); `make lab-image` builds it (about 10 minutes)"
    env = {}
    for line in res.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export ") :].split("=", 1)
            env[key] = subprocess.run(["bash", "-c", f"printf %s {value}"], capture_output=True, text=True, check=True).stdout
    missing = [k for k in ("HA_SWARM_LAB_IMAGE", "HA_SWARM_LAB_KERNEL", "HA_SWARM_LAB_INITRD", "HA_SWARM_LAB_KERNEL_ARGS") if not env.get(k)]
    if missing:
        return None, f"{LAB_IMAGE_SCRIPT.name} printed no {', '.join(missing)}"
    return env, ""


class LibvirtRun(StackRun):
    """A run on this machine's libvirt: lab/libvirt-up.sh starts it when it is not running, and at
    the end what the run left in libvirt under `libvirt_prefix` is swept and libvirt stopped again
    if the run started it (unless HE_KEEP)."""

    libvirt_prefix = PREFIX
    libvirt_started = False

    def start_libvirt(self) -> None:
        with self.times.step("libvirt ready"):
            subprocess.run(["bash", str(REPO / "lab" / "libvirt-up.sh")], check=True, timeout=1200)
            self.libvirt_started = True

    def close(self) -> None:
        self.destroy_quietly()
        if not os.environ.get("HE_KEEP"):
            sweep_libvirt(self.libvirt_prefix)  # whatever a failed destroy left: never orphan VMs when libvirtd stops
        if self.libvirt_started and not os.environ.get("HE_KEEP"):
            subprocess.run(["bash", str(REPO / "lab" / "libvirt-down.sh")], check=False, timeout=300)
        shutil.rmtree(self.run_dir, ignore_errors=True)


class LabDeployment(LibvirtRun):
    """1 manager and 2 workers as libvirt domains of type qemu."""

    def __init__(self, toolchain: Toolchain, image: dict[str, str], run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.image = image
        self.key = run_dir / "id_ed25519"
        self.stack_name = LAB_STACK
        # The counter needs ha-swarm's whoami-lite (its counter mode), not the upstream traefik/whoami.
        whoami_image, _ = toolchain.whoami
        self.counter_image = whoami_image if whoami_image.startswith("ha-swarm/whoami:lite") else None

    def prepare_program(self) -> None:
        super().prepare_program()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ha-swarm-e2e-lab", "-f", str(self.key)], check=True)

    def configure(self) -> None:
        traefik_image, _ = self.toolchain.traefik
        whoami_image, _ = self.toolchain.whoami
        proxy_image, _ = self.toolchain.socket_proxy
        lab = {
            "managers": 1,
            "workers": 2,
            "uri": "qemu:///system",
            "image": self.image["HA_SWARM_LAB_IMAGE"],
            "kernel": self.image["HA_SWARM_LAB_KERNEL"],
            "initrd": self.image["HA_SWARM_LAB_INITRD"],
            "kernelArgs": self.image["HA_SWARM_LAB_KERNEL_ARGS"],
            "cidr": CIDR,
            "networkMode": "isolated",
            "domainType": "qemu",
            "vcpus": 1,
            "memoryMiB": 1536,
            "diskGiB": 8,
        }
        values = {
            "target": "lab",
            "lab": json.dumps(lab),
            "sshPublicKey": self.key.with_suffix(".pub").read_text().strip(),
            "domain": DOMAIN,
            # The VMs' kernels have IPVS: Traefik behind the routing mesh, as the product's default.
            "traefik": json.dumps({"image": traefik_image, "socketProxyImage": proxy_image}),
            "stackVariables": json.dumps({"WHOAMI_IMAGE": whoami_image, "VISUALIZER_IMAGE": whoami_image, "COUNTER_IMAGE": self.counter_image or whoami_image}),
            # The first manager serves NFS; the counter's volume lives there.
            "storage": json.dumps({"nfs": True}),
        }
        self.set_config(values, self.key.read_text())
        if self.counter_image is not None:
            assert self.stack is not None
            self.stack.set_config("ha-swarm:stacks[1]", auto.ConfigValue(str(COUNTER_STACK)), path=True)

    # -- looking at the VMs --------------------------------------------------------------------

    def ssh(self, address: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = ["ssh", *SSH_OPTIONS, "-i", str(self.key), f"swarm@{address}", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def nodes(self) -> list[dict[str, str]]:
        res = self.ssh(MANAGER, "docker node ls --format '{{json .}}'")
        assert res.returncode == 0, res.stderr
        return json_lines(res.stdout)

    def running(self, service: str) -> list[str]:
        res = self.ssh(MANAGER, f"docker service ps {service} --filter desired-state=running --format '{{{{.CurrentState}}}}'")
        return [line for line in res.stdout.splitlines() if line.startswith("Running")]

    def curl(self, address: str, host_header: str, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(curl_argv(address, host_header, *extra), capture_output=True, text=True, timeout=30, check=False)

    # -- the counter (stacks/counter.yml) --------------------------------------------------------

    def counter_get(self, path: str, address: str = MANAGER) -> subprocess.CompletedProcess:
        """GET http://counter.DOMAIN/PATH through the Traefik at ADDRESS (`/count` counts, `/` does not)."""
        argv = ["curl", "--noproxy", "*", "-sS", "--fail", "--max-time", "10", "-H", f"Host: counter.{DOMAIN}", f"http://{address}{path}"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    def count(self) -> tuple[int, str]:
        """One more count: the number and the hostname of the task that answered."""
        res = self.counter_get("/count")
        assert res.returncode == 0, f"GET /count: curl exited {res.returncode}: {res.stderr.strip()}"
        fields = dict(line.split(": ", 1) for line in res.stdout.splitlines() if ": " in line)
        assert "Count" in fields and "Hostname" in fields, f"not a counter answer: {res.stdout[:300]!r}"
        return int(fields["Count"]), fields["Hostname"]

    def counter_host(self) -> str | None:
        """The hostname of the counter task that Traefik routes to now (GET /, which does not count)."""
        res = self.counter_get("/")
        names = [line.split(":", 1)[1].strip() for line in res.stdout.splitlines() if line.startswith("Hostname:")]
        return names[0] if res.returncode == 0 and names else None

    def counter_node(self) -> str | None:
        """The node of the counter's running task, when exactly one runs."""
        res = self.ssh(MANAGER, f"docker service ps {COUNTER_SERVICE} --filter desired-state=running --format '{{{{.Node}}}} {{{{.CurrentState}}}}'")
        nodes = [line.split()[0] for line in res.stdout.splitlines() if " Running" in line]
        return nodes[0] if len(nodes) == 1 else None

    def manager(self, command: str, timeout: float = 120) -> str:
        res = self.ssh(MANAGER, command, timeout=timeout)
        assert res.returncode == 0, f"{command}: {res.stderr.strip()}"
        return res.stdout

    def libvirt_leftovers(self) -> list[str]:
        """Domains, networks, pools and volumes of this stack that libvirt still has."""
        left = []
        for kind, listing in (("domain", ["list", "--all", "--name"]), ("network", ["net-list", "--all", "--name"]), ("pool", ["pool-list", "--all", "--name"])):
            out = subprocess.run(["virsh", "-c", "qemu:///system", *listing], capture_output=True, text=True, check=False).stdout
            left += [f"{kind} {name}" for name in out.split() if name.startswith(PREFIX)]
        pool_dir = Path("/var/lib/libvirt/images") / PREFIX
        if pool_dir.exists() and any(pool_dir.iterdir()):
            left.append(f"volumes in {pool_dir}")
        return left


def sweep_libvirt(prefix: str, uri: str = "qemu:///system") -> list[str]:
    """Remove the domains, networks and pools (with their volumes) whose names start with PREFIX;
    returns what was removed. Best effort: each step's failure is reported, not raised."""

    def virsh(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["virsh", "-q", "-c", uri, *args], capture_output=True, text=True, timeout=120, check=False)

    def names(*args: str) -> list[str]:
        res = virsh(*args)
        return [n.strip() for n in res.stdout.splitlines() if n.strip().startswith(prefix)] if res.returncode == 0 else []

    removed = []
    for domain in names("list", "--all", "--name"):
        virsh("destroy", domain)
        virsh("undefine", domain, "--nvram")
        removed.append(f"domain {domain}")
    for network in names("net-list", "--all", "--name"):
        virsh("net-destroy", network)
        virsh("net-undefine", network)
        removed.append(f"network {network}")
    for pool in names("pool-list", "--all", "--name"):
        for line in virsh("vol-list", pool).stdout.splitlines():
            if line.split():
                virsh("vol-delete", line.split()[0], "--pool", pool)
        virsh("pool-destroy", pool)
        virsh("pool-delete", pool)
        virsh("pool-undefine", pool)
        removed.append(f"pool {pool}")
    if removed:
        print(f"[e2e] removed what destroy left in libvirt: {', '.join(removed)}")
    return removed
