"""One ha-swarm stack driven end to end: the real Pulumi CLI and plugins, through the Automation API,
against the test hosts of `tests/support/hosts/`.

* The hosts: their own namespaces (prefix ``he-``, subnet 10.231.79.0/24, state in /tmp/he-hosts),
  so an e2e run never meets the integration tests' hosts.  The toolchain's Traefik, whoami and
  socket proxy images are loaded on every host (the program's image settings point at them).
* The program: a work directory under the run's temporary folder that links the repository's
  ``Pulumi.yaml``, ``__main__.py``, ``ha_swarm/``, ``stacks/`` and ``.venv``, so that the stack's
  config file and nothing else is written there (never into the repository).
* The CLI: the hosts are reachable only from the control namespace (``he-ctl``), so the
  Automation API runs a ``pulumi`` that is the toolchain's CLI started inside that namespace; the
  language host, the program, the plugins and the ``ssh`` they start all live there too.
* The backend: a ``file://`` folder of the run, a passphrase, no update check, no plugin download.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from tests.e2e.toolchain import REPO, Toolchain
from tests.support.cluster import wait_for
from tests.support.hosts import Harness, Host, HostSpec

# HE_PREFIX, HE_SUBNET and HE_HOSTS_DIR: another set of hosts, for a second run beside this one.
PREFIX = os.environ.get("HE_PREFIX", "he-")
SUBNET = os.environ.get("HE_SUBNET", "10.231.79")
STATE_DIR = Path(os.environ.get("HE_HOSTS_DIR", "/tmp/he-hosts"))
STACK = "e2e"
DOMAIN = "e2e.test"
PASSPHRASE = "ha-swarm e2e passphrase"
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "ha_swarm", "stacks", ".venv")
# The hosts: three managers and one worker to start with; w2 joins and leaves in the tests.
HOSTS = (("m1", "manager"), ("m2", "manager"), ("m3", "manager"), ("w1", "worker"), ("w2", "worker"))
FIRST_WORKERS = ("w1",)
VERIFY_TIMEOUT = "120"


def host_specs() -> list[HostSpec]:
    numbers = {"m": 10, "w": 20}
    return [HostSpec(name, f"{SUBNET}.{numbers[name[0]] + int(name[1:])}") for name, _ in HOSTS]


DIAGNOSTIC_LINES = 60


@contextmanager
def diagnostics_first() -> Iterator[None]:
    """A failed CLI command's error opens with the end of its output (the engine's "Diagnostics:",
    the failed resources), before its thousands of progress lines: a CI log that keeps only the
    head and the tail of a run still shows why it failed."""
    try:
        yield
    except auto.CommandError as err:
        text = str(err)
        lines = text.splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("Diagnostics:")), None)
        tail = lines[start:] if start is not None else lines[-DIAGNOSTIC_LINES:]
        shown = "\n".join(tail[:DIAGNOSTIC_LINES])
        err.args = (f"the end of the output first:\n{shown}\n\nthe whole output ({len(lines)} lines):\n{text}",)
        raise


@dataclass
class StepTimes:
    """How long each step took, printed as it ends and kept for the summary."""

    lines: list[tuple[str, float]] = field(default_factory=list)
    echo: Callable[[str], None] = print

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            seconds = time.monotonic() - start
            self.lines.append((what, seconds))
            self.echo(f"[e2e] {what}: {seconds:.1f}s")


class StackRun:
    """The program's work directory, the backend, the workspace and the stack: what every e2e run has.
    Subclasses say where the CLI runs (`pulumi_command`) and what the stack's config is (`configure`)."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        self.toolchain = toolchain
        self.run_dir = run_dir
        self.times = StepTimes(echo=echo)
        self.work_dir = run_dir / "program"
        self.backend = run_dir / "state"
        self.home = run_dir / "ha-swarm-home"  # HA_SWARM_HOME: the Docker provider's key file
        self.stack_file = run_dir / "demo.yml"
        self.outputs: list[str] = []  # everything the CLI printed, to look for secrets in
        self.stack: auto.Stack | None = None
        self.stack_name = STACK
        self.whoami0_replicas = 2

    def prepare_program(self) -> None:
        self.work_dir.mkdir(parents=True)
        for name in PROGRAM_FILES:
            (self.work_dir / name).symlink_to(REPO / name)
        self.backend.mkdir()
        self.home.mkdir(mode=0o700)
        self.write_stack_file()

    def write_stack_file(self) -> None:
        self.stack_file.write_text(yaml.safe_dump(self.stack_document(), sort_keys=False))

    def stack_document(self) -> dict[str, Any]:
        doc = yaml.safe_load((REPO / "stacks" / "demo.yml").read_text())
        doc["services"]["whoami0"]["deploy"]["replicas"] = self.whoami0_replicas
        return doc

    def pulumi_command(self) -> auto.PulumiCommand:
        return auto.PulumiCommand(root=str(self.toolchain.root))

    def configure(self) -> None:
        raise NotImplementedError

    def set_config(self, values: dict[str, str], private_key: str, secret: Sequence[str] = ()) -> None:
        """Keys as they are (objects as JSON text; those named in SECRET encrypted), `stacks` as a
        list, the private key as a secret."""
        assert self.stack is not None
        self.stack.set_all_config({f"ha-swarm:{k}": auto.ConfigValue(v, secret=k in secret) for k, v in values.items()})
        # `stacks` is typed (array of strings) in Pulumi.yaml: set as a list, not as JSON text.
        self.stack.set_config("ha-swarm:stacks[0]", auto.ConfigValue(str(self.stack_file)), path=True)
        self.stack.set_config("ha-swarm:sshPrivateKey", auto.ConfigValue(private_key, secret=True))

    def env_vars(self) -> dict[str, str]:
        env = {k: v for k, v in self.toolchain.env.items() if k.startswith("PULUMI_")}
        env.update(
            PATH=f"{self.toolchain.bin_dir}:{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            PULUMI_BACKEND_URL=f"file://{self.backend}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            HA_SWARM_HOME=str(self.home),
            # How long `python -m tools.verify` waits for a fresh deploy to converge (the `verify: true`
            # step of `up` reads the stack setting verifyTimeout instead).
            HA_SWARM_VERIFY_TIMEOUT=VERIFY_TIMEOUT,
        )
        return env

    def create_stack(self) -> auto.Stack:
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(self.work_dir),
            pulumi_home=self.toolchain.pulumi_home,
            env_vars=self.env_vars(),
            secrets_provider="passphrase",
            pulumi_command=self.pulumi_command(),
        )
        with self.times.step("stack created and configured"):
            self.stack = auto.create_or_select_stack(self.stack_name, work_dir=str(self.work_dir), opts=opts)
            self.configure()
        return self.stack

    # -- the operations ------------------------------------------------------------------------

    def _record(self, line: str) -> None:
        self.outputs.append(line)

    def up(self, what: str) -> auto.UpResult:
        assert self.stack is not None
        with self.times.step(what), diagnostics_first():
            return self.stack.up(on_output=self._record, show_secrets=False, color="never")

    def preview(self, what: str, expect_no_changes: bool = False) -> auto.PreviewResult:
        assert self.stack is not None
        with self.times.step(what), diagnostics_first():
            return self.stack.preview(on_output=self._record, expect_no_changes=expect_no_changes, color="never")

    def destroy(self, what: str) -> auto.DestroyResult:
        assert self.stack is not None
        with self.times.step(what), diagnostics_first():
            return self.stack.destroy(on_output=self._record, color="never")

    def remove_stack(self) -> None:
        assert self.stack is not None
        self.stack.workspace.remove_stack(self.stack_name)

    def destroy_quietly(self) -> None:
        """When tearing down: destroy what the stack still holds, reporting (not raising) a failure."""
        if self.stack is None:
            return
        try:
            self.stack.destroy(on_output=self._record, color="never")
        except auto.CommandError as err:
            print(f"[e2e] destroy while tearing down failed: {str(err)[-2000:]}", file=sys.stderr)

    def state_files(self) -> list[Path]:
        """Every file the backend holds for the stack (the checkpoint and its backups and history)."""
        return [p for p in self.backend.rglob("*") if p.is_file()]


class Deployment(StackRun):
    """The cloud target on the integration harness's hosts (he-*), the CLI in their control namespace."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Callable[[str], None] = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.harness = Harness(host_specs(), prefix=PREFIX, subnet=SUBNET, state_dir=STATE_DIR, images=False)
        self.cli_root = run_dir / "cli"
        self.managers = [n for n, r in HOSTS if r == "manager"]
        self.workers = list(FIRST_WORKERS)
        self.traefik_extra: dict[str, Any] = {}  # more traefik settings (HTTPS); with certificates, kept secret
        self.swarm_extra: dict[str, Any] = {}  # the `swarm` settings (token rotation, autolock)
        self.verify_on_up = False  # the `verify` setting: verify.sh as the last step of every `up`

    # -- setting up ------------------------------------------------------------------------

    def start_hosts(self) -> None:
        with self.times.step(f"test hosts up ({len(self.harness.hosts)})"):
            self.harness.up()
        with self.times.step("Traefik, whoami and socket proxy images loaded on every host"):
            images = [self.toolchain.traefik[1].read_bytes(), self.toolchain.whoami[1].read_bytes(), self.toolchain.socket_proxy[1].read_bytes()]
            for host in self.harness:
                for tar in images:
                    host.exec(["docker", "load"], input=tar, timeout=300, check=True)

    def prepare_program(self) -> None:
        super().prepare_program()
        # The CLI as the Automation API runs it: the toolchain's pulumi inside the control namespace.
        wrapper = self.cli_root / "bin" / "pulumi"
        wrapper.parent.mkdir(parents=True)
        # (tests/e2e/cli_in_netns.py also relays the engine events to the Automation API's listener.)
        netns = f"/run/netns/{self.harness.ctl_ns}"
        relay = Path(__file__).resolve().parent / "cli_in_netns.py"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {relay} {netns} {self.toolchain.pulumi} "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)

    def pulumi_command(self) -> auto.PulumiCommand:
        return auto.PulumiCommand(root=str(self.cli_root))

    def host_entry(self, name: str, role: str) -> dict[str, Any]:
        host = self.harness[name]
        return {"name": host.hostname, "address": host.address, "role": role, "hostKey": host.host_key}

    def configure(self) -> None:
        assert self.stack is not None
        hosts = [self.host_entry(n, "manager") for n in self.managers] + [self.host_entry(n, "worker") for n in self.workers]
        traefik_image, _ = self.toolchain.traefik
        whoami_image, _ = self.toolchain.whoami
        proxy_image, _ = self.toolchain.socket_proxy
        values = {
            "target": "cloud",
            "cloud": json.dumps({"hosts": hosts}),
            "sshUser": "swarm",
            "domain": DOMAIN,
            # No IPVS on this machine: Traefik publishes port 80 in host mode, so it runs on every manager.
            # tecnativa's socket proxy cannot be pulled here: the toolchain's stand-in takes its place.
            "traefik": json.dumps({"image": traefik_image, "publishMode": "host", "socketProxyImage": proxy_image, **self.traefik_extra}),
            # The visualizer's image cannot be had here: the whoami image stands in for it.
            "stackVariables": json.dumps({"WHOAMI_IMAGE": whoami_image, "VISUALIZER_IMAGE": whoami_image}),
        }
        if self.swarm_extra:
            values["swarm"] = json.dumps(self.swarm_extra)
        if self.verify_on_up:
            values["verify"] = "true"
            values["verifyTimeout"] = VERIFY_TIMEOUT
        # Certificates' keys and the DNS provider's credentials: the whole traefik object kept encrypted.
        secret = "certificates" in self.traefik_extra or "dns" in self.traefik_extra.get("acme", {})
        self.set_config(values, self.private_key(), secret=("traefik",) if secret else ())

    def private_key(self) -> str:
        return self.harness.key_path.read_text()

    # -- looking at the hosts ------------------------------------------------------------------

    @property
    def first(self) -> Host:
        return self.harness["m1"]

    def nodes(self) -> list[dict[str, str]]:
        return json_lines(self.first.docker("node", "ls", "--format", "{{json .}}"))

    def tasks(self, service: str) -> list[dict[str, str]]:
        return json_lines(self.first.docker("service", "ps", service, "--filter", "desired-state=running", "--format", "{{json .}}", "--no-trunc"))

    def running(self, service: str) -> list[dict[str, str]]:
        return [t for t in self.tasks(service) if t["CurrentState"].startswith("Running")]

    def wait_running(self, service: str, count: int, timeout: float) -> None:
        """Wait until SERVICE runs COUNT tasks; on a timeout, say what its tasks and the nodes were."""
        try:
            wait_for(lambda: len(self.running(service)) == count, timeout, f"{count} running task(s) of {service}")
        except AssertionError as error:
            tasks = self.first.docker("service", "ps", "--no-trunc", "--format", "{{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}", service, check=False)
            nodes = self.first.docker("node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}", check=False)
            raise AssertionError(f"{error}\ntasks of {service}:\n{tasks}\nnodes:\n{nodes}") from None

    def curl(self, address: str, host_header: str, *extra: str) -> subprocess.CompletedProcess:
        """An HTTP request from the control namespace, as a user's browser would send it."""
        return self.harness.in_ctl(curl_argv(address, host_header, *extra), timeout=30)

    def verify(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`python -m tools.verify` for the stack, as a user runs it, from the control namespace (where the hosts are reachable)."""
        tool = [sys.executable, "-m", "tools.verify", "--stack", self.stack_name, "--cwd", str(self.work_dir), *args]
        argv = ["nsenter", f"--net=/run/netns/{self.harness.ctl_ns}", *tool]
        env = {**os.environ, **self.env_vars()}
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    def join_tokens(self) -> list[str]:
        return [self.first.docker("swarm", "join-token", "-q", role) for role in ("worker", "manager")]

    # -- tearing down -----------------------------------------------------------------------

    def close(self) -> None:
        """Destroy what the stack still holds (best effort), stop the hosts, remove the run's folder."""
        if any(h.holder_pid for h in self.harness):
            self.destroy_quietly()
        self.harness.down()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def changes(summary_changes: dict[str, int] | None) -> dict[str, int]:
    """The operations of a preview's or an up's summary that change something, with their counts."""
    return {op: n for op, n in (summary_changes or {}).items() if op != "same" and n}


def json_lines(text: str) -> list[dict[str, Any]]:
    """`docker ... --format '{{json .}}'` output: one object a line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def curl_argv(address: str, host_header: str, *extra: str) -> list[str]:
    """An HTTP request as a user's browser would send it to a node, with the demo's Host header."""
    return ["curl", "--noproxy", "*", "-sS", "--max-time", "10", "-H", f"Host: {host_header}", *extra, f"http://{address}/"]


def answers(curl: Callable[..., subprocess.CompletedProcess], address: str, service: str, count: int, *extra: str) -> list[str]:
    """COUNT answers of SERVICE.DOMAIN through the Traefik at ADDRESS (each a 200 with a body), by CURL."""
    out = []
    for _ in range(count):
        res = curl(address, f"{service}.{DOMAIN}", "--fail", *extra)
        assert res.returncode == 0, f"http://{address}/ with Host: {service}.{DOMAIN}: curl exited {res.returncode}: {res.stderr.strip()}"
        out.append(res.stdout)
    return out


def routed(curl: Callable[..., subprocess.CompletedProcess], address: str, service: str, replicas: int) -> bool:
    """Traefik at ADDRESS routes SERVICE to all its REPLICAS tasks (its swarm provider reads them every 15 s)."""
    seen = set()
    for _ in range(2 * replicas):
        res = curl(address, f"{service}.{DOMAIN}", "--fail")
        if res.returncode != 0 or "Hostname:" not in res.stdout:
            return False
        seen.update(hostnames([res.stdout]))
    return len(seen) == replicas


def hostnames(answers: Sequence[str]) -> list[str]:
    """The `Hostname:` line of each whoami answer."""
    names = []
    for answer in answers:
        lines = [line.split(":", 1)[1].strip() for line in answer.splitlines() if line.startswith("Hostname:")]
        assert lines, f"not a whoami answer: {answer[:300]!r}"
        names.append(lines[0])
    return names
