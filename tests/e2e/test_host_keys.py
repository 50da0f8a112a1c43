"""Issue 17, item 6, for real: hosts given without `hostKey` are trusted on first use, and a host whose
key changes after the first `up` stops the next `up` with the message, before anything changes.

The real CLI and plugins (the dynamic providers run in the program's Python through the
toolchain's `pulumi-resource-pulumi-python`), two test hosts (one manager, one worker), nothing
configured but their addresses. The steps build on each other, in file order:

1. `up`: the keys the hosts present are recorded (output `hostKeys`), the run says so, and
   `make verify` reaches the manager with that key pinned;
2. a preview changes nothing (each key is read again and matches);
3. the worker's sshd gets a new host key; `up` stops with the message naming it, and nothing was
   changed (the state still holds the key of the first contact);
4. the remedy the message names: the worker's `hostKey` set to its new key; `up` passes, then a
   preview changes nothing; destroy;
5. a preview with a host that does not answer (yet) goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import KEEP, say, started
from tests.e2e.deployment import PREFIX, STATE_DIR, SUBNET, Deployment, changes, host_specs
from tests.e2e.toolchain import Toolchain
from tests.support.hosts import Harness, Host

FIRST_CONTACT = "recorded at the first contact (trust on first use)"
HOSTS = ("m1", "w1")


class FirstContactDeployment(Deployment):
    """One manager and one worker given by their addresses only; `pinned`: hostKeys set later."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Any = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.harness = Harness([s for s in host_specs() if s.name in HOSTS], prefix=PREFIX, subnet=SUBNET, state_dir=STATE_DIR, images=False)
        self.managers = ["m1"]
        self.workers = ["w1"]
        self.pinned: dict[str, str] = {}

    def host_entry(self, name: str, role: str) -> dict[str, Any]:
        entry = super().host_entry(name, role)
        del entry["hostKey"]
        if name in self.pinned:
            entry["hostKey"] = self.pinned[name]
        return entry

    def recorded_keys(self) -> dict[str, str]:
        """The keys the stack's state holds for the hosts (RecordedHostKey), by host name."""
        assert self.stack is not None
        state = self.stack.export_stack().deployment
        return {
            r["outputs"]["name"]: r["outputs"]["key"]
            for r in state.get("resources", [])
            if r["type"] == "pulumi-python:dynamic/ha-swarm:RecordedHostKey" and r.get("outputs")
        }


def new_host_key(host: Host) -> str:
    """Give the host's sshd a new ed25519 host key (as a reinstalled host, or someone in the middle, would show); the key."""
    key = "/etc/ssh/ssh_host_ed25519_key"
    host.exec(["rm", "-f", key, f"{key}.pub"], check=True)
    host.exec(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.hostname}-reinstalled", "-f", key], check=True)
    new = " ".join(host.exec(["cat", f"{key}.pub"], check=True).stdout.split()[:2])
    host.exec(["sh", "-c", "kill -HUP $(cat /run/sshd.pid)"], check=True)  # sshd executes itself again and reads its keys
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        scanned = host.harness.in_ctl(["ssh-keyscan", "-T", "5", "-t", "ed25519", host.address], timeout=30)
        if new.split()[1] in scanned.stdout:
            return new
        time.sleep(0.5)
    raise AssertionError(f"the sshd of {host.hostname} does not present its new key")


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[FirstContactDeployment]:
    import tempfile

    run_dir = Path(tempfile.mkdtemp(prefix="ha-swarm-e2e-hostkeys-"))
    dep = FirstContactDeployment(toolchain, run_dir, echo=lambda line: say(request.config, line))
    keep = f"[e2e] HE_KEEP set: hosts and {run_dir} kept (remove the hosts: HS_HOSTS_DIR={STATE_DIR} python -m tests.support.hosts down)"
    with started(request, dep, dep.start_hosts, keep if KEEP else "") as running:
        yield running


def test_the_first_up_records_and_pins_the_keys_the_hosts_present(deployment: FirstContactDeployment) -> None:
    result = deployment.up("up: first contact with two hosts without hostKey")
    assert result.summary.result == "succeeded"
    keys = result.outputs["hostKeys"].value["nodes"]
    for name in HOSTS:
        host = deployment.harness[name]
        assert keys[host.hostname] == {"key": host.host_key, "pinned": FIRST_CONTACT}, name
    assert deployment.recorded_keys() == {deployment.harness[n].hostname: deployment.harness[n].host_key for n in HOSTS}
    said = "".join(deployment.outputs)
    assert "recorded at the first contact (trust on first use) and pinned from then on" in said, "the run says so plainly"
    checked = deployment.verify()
    assert checked.returncode == 0, f"make verify with the recorded key pinned:\n{checked.stdout}\n{checked.stderr}"


def test_a_preview_reads_the_keys_again_and_changes_nothing(deployment: FirstContactDeployment) -> None:
    result = deployment.preview("preview: keys unchanged", expect_no_changes=True)
    assert set(changes(result.change_summary)) <= {"same"}


def test_a_host_whose_key_changed_stops_the_next_up_before_anything_changes(deployment: FirstContactDeployment) -> None:
    worker = deployment.harness["w1"]
    old = worker.host_key
    deployment.pinned["_new_w1"] = new_host_key(worker)
    with pytest.raises(auto.CommandError) as stopped:
        deployment.up("up: w1 presents another key")
    message = str(stopped.value)
    deployment.times.echo("[e2e] up stopped: " + next((line.strip() for line in message.splitlines() if "has changed" in line), message[-500:]))
    assert f"{worker.hostname}: the SSH host key of {worker.address}:22 has changed" in message, message[-3000:]
    from ha_swarm.nodes.hostkeys import fingerprint

    assert fingerprint(old) in message and fingerprint(deployment.pinned["_new_w1"]) in message
    assert f"set the hostKey of cloud host {worker.hostname} to it" in message
    assert deployment.recorded_keys()[worker.hostname] == old, "the recorded key stays"
    assert deployment.stack is not None
    (last,) = deployment.stack.history(page_size=1)
    assert last.result == "failed"
    assert set((last.resource_changes or {}).keys()) <= {"same"}, f"nothing may change: {last.resource_changes}"
    assert {n["Hostname"] for n in deployment.nodes()} == {deployment.harness[n].hostname for n in HOSTS}, "the swarm is as it was"


def test_the_new_key_given_as_host_key_is_pinned_and_up_passes(deployment: FirstContactDeployment) -> None:
    worker = deployment.harness["w1"]
    deployment.pinned["w1"] = deployment.pinned.pop("_new_w1")
    deployment.configure()
    result = deployment.up("up: w1's new key set as its hostKey")
    assert result.summary.result == "succeeded"
    keys = result.outputs["hostKeys"].value["nodes"]
    assert keys[worker.hostname] == {"key": deployment.pinned["w1"], "pinned": "configured"}
    assert keys[deployment.harness["m1"].hostname]["pinned"] == FIRST_CONTACT
    assert worker.hostname not in deployment.recorded_keys()
    deployment.preview("preview after the new key", expect_no_changes=True)


def test_destroy_removes_everything(deployment: FirstContactDeployment) -> None:
    result = deployment.destroy("destroy")
    assert result.summary.result == "succeeded"
    assert deployment.recorded_keys() == {}


def test_a_preview_before_a_host_answers_goes_on(deployment: FirstContactDeployment) -> None:
    """A stack previewed before its hosts exist (or the policy pack's previews of TEST-NET hosts):
    the first contact waits a few seconds for a key, then leaves it to the `up`."""
    assert deployment.stack is not None
    hosts = [deployment.host_entry("m1", "manager"), deployment.host_entry("w1", "worker"), {"name": f"{PREFIX}w9", "address": f"{SUBNET}.99", "role": "worker"}]
    deployment.stack.set_config("ha-swarm:cloud", auto.ConfigValue(json.dumps({"hosts": hosts})))
    result = deployment.preview("preview: a host that does not answer yet")
    assert changes(result.change_summary).get("create", 0) > 10
