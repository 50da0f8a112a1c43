"""N test hosts on one private bridge, and the guard that tears them down on a signal or at exit."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.hosts.common import CTL_ADDRESS_SUFFIX, IMAGE, NO_DOCKER_GROUP, PREFIX, SSH_OPTIONS, SSH_USER, STATE_DIR, SUBNET, HarnessError
from tests.support.hosts.host import Host, HostSpec, default_specs
from tests.support.hosts.image import IMPORT_CHANGES, build_hostname_http, rootfs_tar
from tests.support.hosts.prerequisites import ensure_packages, vxlan_available
from tests.support.hosts.processes import cleanup, sh

# ---------------------------------------------------------------------------------------------
# the harness


class Harness:
    """N hosts on one private bridge.  `up()` cleans stale state first; `down()` removes everything."""

    def __init__(
        self,
        specs: Sequence[HostSpec] | None = None,
        *,
        prefix: str = PREFIX,
        subnet: str = SUBNET,
        state_dir: Path = STATE_DIR,
        ssh: bool = True,
        images: bool = True,
        no_docker_group: str | None = NO_DOCKER_GROUP,
    ) -> None:
        if not prefix.endswith("-") or len(prefix) > 6:
            raise ValueError("the prefix ends with '-' and is short (interface and namespace names)")
        self.prefix = prefix
        self.subnet = subnet
        self.state_dir = Path(state_dir)
        self.with_ssh = ssh
        self.with_images = images
        self.no_docker_group = no_docker_group
        specs = list(specs) if specs is not None else default_specs(5, subnet)
        names = [s.name for s in specs]
        if len(set(names)) != len(names) or {"net", "ctl"} & set(names):
            raise ValueError(f"host names must be unique and not 'net' or 'ctl': {names}")
        self.hosts: dict[str, Host] = {s.name: Host(self, s) for s in specs}
        self.bridge_ns = f"{prefix}net"
        self.ctl_ns = f"{prefix}ctl"
        self.ctl_address = f"{subnet}.{CTL_ADDRESS_SUFFIX}"
        self.key_path = self.state_dir / "id_ed25519"
        self.image_tar: bytes | None = None
        self.vxlan: bool | None = None
        self.timings: dict[str, float] = {}
        self.installed: list[str] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __iter__(self):
        return iter(self.hosts.values())

    @property
    def managers(self) -> list[Host]:
        return [h for h in self if h.name.startswith("m")]

    @property
    def workers(self) -> list[Host]:
        return [h for h in self if not h.name.startswith("m")]

    def host(self, host: Host | str) -> Host:
        return host if isinstance(host, Host) else self.hosts[host]

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self) -> None:
        if os.geteuid() != 0:
            raise HarnessError("the test hosts need root: network namespaces, a bridge, mounts, dockerd and sshd")
        start = time.monotonic()
        self.installed = ensure_packages(ssh=self.with_ssh, images=self.with_images)
        cleanup(self.prefix, self.state_dir)
        self.state_dir.mkdir(parents=True)
        self.state_dir.chmod(0o700)
        image_build = None
        pool = ThreadPoolExecutor(max_workers=max(4, len(self.hosts)))
        try:
            if self.with_images:
                image_build = pool.submit(build_hostname_http, self.state_dir)
            if self.with_ssh:
                sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.prefix}harness", "-f", str(self.key_path))
            self._bridge()
            self.vxlan = vxlan_available(self.bridge_ns)
            for host in self:
                host.create()
            list(pool.map(self._boot, self))
            if image_build is not None:
                self.image_tar = rootfs_tar(image_build.result())
                list(pool.map(lambda h: h.import_image(self.image_tar, IMAGE, IMPORT_CHANGES), self))
        finally:
            pool.shutdown(wait=True)
        self.save_state()
        self.timings["up"] = time.monotonic() - start

    def _bridge(self) -> None:
        sh("ip", "netns", "add", self.bridge_ns)
        sh("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        sh("ip", "-n", self.bridge_ns, "link", "set", "lo", "up")
        if self.with_ssh:
            sh("ip", "netns", "add", self.ctl_ns)
            sh("ip", "-n", self.bridge_ns, "link", "add", "p-ctl", "type", "veth", "peer", "name", "eth0", "netns", self.ctl_ns)
            sh("ip", "-n", self.bridge_ns, "link", "set", "p-ctl", "master", "br0", "up")
            sh("ip", "-n", self.ctl_ns, "addr", "add", f"{self.ctl_address}/24", "dev", "eth0")
            sh("ip", "-n", self.ctl_ns, "link", "set", "eth0", "up")
            sh("ip", "-n", self.ctl_ns, "link", "set", "lo", "up")

    def _boot(self, host: Host) -> None:
        if self.with_ssh:
            host.setup_users()
        host.start_docker()
        if self.with_ssh:
            host.start_sshd()

    def down(self) -> None:
        start = time.monotonic()
        for host in self:
            host.dockerd = host.sshd = host.holder = None
            host.holder_pid = None
        steps = cleanup(self.prefix, self.state_dir)
        self.timings["down"] = time.monotonic() - start
        self.timings.update({f"down.{k}": v for k, v in steps.items()})

    # -- SSH ---------------------------------------------------------------------------------

    def ssh_argv(self, host: Host | str, user: str = SSH_USER) -> list[str]:
        """The ssh client command for a host (to run inside the control namespace)."""
        h = self.host(host)
        return ["ssh", *SSH_OPTIONS, "-i", str(self.key_path), f"{user}@{h.address}"]

    def ssh(
        self,
        host: Host | str,
        command: str,
        stdin: str | None = None,
        user: str = SSH_USER,
        timeout: float = 300,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run COMMAND (one string, as the program sends it) on a host over SSH, from the control namespace."""
        argv = ["nsenter", f"--net=/run/netns/{self.ctl_ns}", *self.ssh_argv(host, user), command]
        res = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"ssh {user}@{self.host(host).hostname} {command[:120]!r} failed ({res.returncode}):\n{res.stderr.strip()}")
        return res

    def in_ctl(self, argv: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command in the control namespace (the place the developer's tools would be)."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.ctl_ns}", *argv], capture_output=True, text=True, timeout=timeout, check=False)

    # -- state file (for the command line) ----------------------------------------------------

    def save_state(self) -> None:
        state = {
            "prefix": self.prefix,
            "subnet": self.subnet,
            "ctl_netns": self.ctl_ns,
            "key": str(self.key_path) if self.with_ssh else None,
            "no_docker_group": self.no_docker_group,
            "vxlan": self.vxlan,
            "hosts": [
                {
                    "name": h.name,
                    "hostname": h.hostname,
                    "address": h.address,
                    "netns": h.netns,
                    "holder_pid": h.holder_pid,
                    "host_key": h.host_key,
                    "docker_group": h.in_docker_group,
                }
                for h in self
            ],
        }
        (self.state_dir / "state.json").write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def attach(cls, state_dir: Path = STATE_DIR) -> Harness:
        """The hosts of a running harness (started by `up` on the command line)."""
        state = json.loads((Path(state_dir) / "state.json").read_text())
        harness = cls(
            [HostSpec(h["name"], h["address"]) for h in state["hosts"]],
            prefix=state["prefix"],
            subnet=state["subnet"],
            state_dir=state_dir,
            ssh=state["key"] is not None,
            no_docker_group=state["no_docker_group"],
        )
        harness.vxlan = state["vxlan"]
        for h in state["hosts"]:
            host = harness.hosts[h["name"]]
            host.holder_pid = h["holder_pid"]
            host.host_key = h["host_key"]
        return harness

    def describe(self) -> str:
        lines = [f"{'host':<8} {'address':<15} {'swarm in docker group':<22} {'PID 1':<8} ssh"]
        for h in self:
            group = "yes" if h.in_docker_group else "NO"
            lines.append(f"{h.hostname:<8} {h.address:<15} {group:<22} {h.holder_pid!s:<8} python -m tests.support.hosts ssh {h.name}")
        first = next(iter(self))
        lines += [
            f"by hand (the bridge is reached from the namespace {self.ctl_ns}, {self.ctl_address}):",
            f"  ip netns exec {self.ctl_ns} {shlex.join(self.ssh_argv(first))}",
            f"a root shell on a host: nsenter --target <PID 1> --mount --uts --net --pid bash; key: {self.key_path}",
            f"image on every host: {IMAGE}; vxlan: {'yes' if self.vxlan else 'NO'}; state: {self.state_dir / 'state.json'}",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# teardown on exit, for the command line and the pytest fixture


class TeardownGuard:
    """Until released, tear the harness down at interpreter exit and on SIGTERM/SIGHUP/SIGINT."""

    def __init__(self, teardown: Callable[[], None]) -> None:
        self._teardown = teardown
        self._done = threading.Event()
        self._previous: dict[int, Any] = {}
        atexit.register(self._run)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # As Ctrl-C: pytest stops the session and runs the finalizers; the command line tears down.
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def _run(self) -> None:
        if not self._done.is_set():
            self._done.set()
            self._teardown()

    def run(self) -> None:
        """Tear down now (once)."""
        self._run()
        self.release()

    def release(self) -> None:
        """Keep what is up: no teardown at exit."""
        self._done.set()
        atexit.unregister(self._run)
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()
