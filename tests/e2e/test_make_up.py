"""Issue 15: the README's own commands for the default stack, as a newcomer runs them: `make up`,
`make up` again, `make verify`, `make destroy`, in a fresh clone, with a fresh HOME and a cache that
holds only the offline toolchain (no pulumi on PATH, no lab image, no Debian image). `make up` then
has everything to do: the pulumi CLI (the toolchain: the release server is not reachable here),
libvirt, `lab.domainType: auto` (qemu: no KVM here) and `lab.image: auto` (the image built here, the
demo's images carried), the VMs, the swarm and the demo.

Only what this machine requires is changed in the clone's Pulumi.dev.yaml, as a user edits it: the
lab network is isolated (libvirt's NAT mode would add rules to this machine's firewall) on a subnet
of the tests, and the VMs are smaller. Runs with `make e2e-lab` (HA_SWARM_E2E_LAB=1), root.

Printed: minutes to the first whoami answer, `make up` in all, the second `make up`, `make verify`,
`make destroy`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import say
from tests.e2e.deployment import curl_argv
from tests.e2e.lab import sweep_libvirt
from tests.e2e.toolchain import REPO, find_toolchain

pytestmark = pytest.mark.skipif(os.environ.get("HA_SWARM_E2E_LAB", "") in ("", "0"), reason="the lab e2e runs with make e2e-lab (HA_SWARM_E2E_LAB=1)")
CIDR = "10.231.95.0/24"
MANAGER = "10.231.95.11"
PREFIX = "ha-swarm-dev"  # the dev stack's libvirt names


class Newcomer:
    def __init__(self, root: Path, toolchain_dir: Path) -> None:
        self.root = root
        self.clone = root / "ha-swarm"
        self.home = root / "home"
        self.cache = root / "home" / ".cache" / "ha-swarm"
        self.toolchain_dir = toolchain_dir
        self.times: dict[str, float] = {}
        self.output: list[str] = []

    def prepare(self) -> None:
        subprocess.run(["git", "clone", "-q", str(REPO), str(self.clone)], check=True)
        # The toolchain's files, linked one by one: its env.sh is written anew for this HOME (the
        # toolchain writes it on every run), so the real one keeps its own paths.
        own = self.cache / "toolchain"
        own.mkdir(parents=True)
        for entry in self.toolchain_dir.iterdir():
            if entry.name != "env.sh":
                (own / entry.name).symlink_to(entry)
        dev = self.clone / "Pulumi.dev.yaml"
        doc = yaml.safe_load(dev.read_text())
        doc["config"]["ha-swarm:lab"] |= {"cidr": CIDR, "networkMode": "isolated", "vcpus": 1, "memoryMiB": 1536, "diskGiB": 8}
        dev.write_text(yaml.safe_dump(doc, sort_keys=False))

    def env(self) -> dict[str, str]:
        path = ":".join(p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if not (Path(p) / "pulumi").exists())
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "USER", "LOGNAME", "TMPDIR")}
        # The release server is not reachable here; a closed loopback port makes that quick.
        return {**keep, "PATH": path, "HOME": str(self.home), "HA_SWARM_PULUMI_RELEASES": "http://127.0.0.1:9/releases/sdk", "PULUMI_FLAGS": "--yes"}

    def make(self, target: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        res = subprocess.run(["make", target], cwd=self.clone, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False)
        self.times[target if target not in self.times else f"{target} again"] = time.monotonic() - start
        self.output.append(res.stdout + res.stderr)
        return res


def first_answer(stop: threading.Event, started: float, found: list[float]) -> None:
    while not stop.is_set():
        res = subprocess.run(curl_argv(MANAGER, "whoami0.traefik", "--fail"), capture_output=True, text=True, timeout=30, check=False)
        if res.returncode == 0 and "Hostname:" in res.stdout:
            found.append(time.monotonic() - started)
            return
        stop.wait(10)


@pytest.fixture(scope="module")
def newcomer(request: pytest.FixtureRequest) -> Iterator[Newcomer]:
    if os.geteuid() != 0:
        pytest.skip("needs root: libvirtd, its bridge, VMs")
    toolchain, why = find_toolchain(("pulumi", "langhost", "command", "docker", "libvirt", "traefik", "whoami"))
    if toolchain is None:
        pytest.skip(f"not run: {why}")
    person = Newcomer(Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-newcomer-")), toolchain.root)
    person.prepare()
    try:
        yield person
    finally:
        say(request.config, "[e2e-newcomer] times: " + "; ".join(f"{k} {v / 60:.1f} min" for k, v in person.times.items()))
        if "destroy" not in person.times:
            person.make("destroy", timeout=1800)
        sweep_libvirt(PREFIX)
        subprocess.run(["bash", str(REPO / "lab" / "libvirt-down.sh")], check=False, timeout=300)
        shutil.rmtree(person.root, ignore_errors=True)


def test_make_up_from_nothing_brings_whoami_up(newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    stop, found = threading.Event(), []
    watcher = threading.Thread(target=first_answer, args=(stop, time.monotonic(), found), daemon=True)
    watcher.start()
    try:
        res = newcomer.make("up")
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert res.returncode == 0, res.stderr[-3000:] + "\n--- stdout (the end: verify's table) ---\n" + res.stdout[-4000:]
    text = res.stdout + res.stderr
    assert "lab.domainType auto -> qemu" in text and "lab.image auto -> the image built here" in text, text[-5000:]
    assert "verify: all" in text and "checks passed" in text, text[-5000:]  # make up ends with verify's table
    assert "ha-swarm@v1.0.0" in res.stdout, "make up did not run the policy pack: " + res.stdout[-3000:]
    if not found:
        first_answer(threading.Event(), time.monotonic() - newcomer.times["up"], found)
    say(request.config, f"[e2e-newcomer] first whoami answer {found[0] / 60:.1f} min after make up started; make up {newcomer.times['up'] / 60:.1f} min")


def test_a_second_make_up_changes_nothing_and_takes_seconds(newcomer: Newcomer) -> None:
    res = newcomer.make("up")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "as chosen before (labAuto)" in res.stderr
    assert "unchanged" in res.stdout and not any(word in res.stdout for word in (" created", " updated", " replaced", " deleted")), res.stdout[-3000:]


def test_make_verify_prints_its_table_and_passes(newcomer: Newcomer) -> None:
    res = newcomer.make("verify", timeout=900)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "endpoint" in res.stdout and "verify: all" in res.stdout and "checks passed" in res.stdout, res.stdout[-3000:]


def test_make_destroy_leaves_nothing_in_libvirt(newcomer: Newcomer) -> None:
    res = newcomer.make("destroy", timeout=1800)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert sweep_libvirt(PREFIX) == []
