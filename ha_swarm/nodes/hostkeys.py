"""SSH host keys: generated for the lab's VMs, recorded at the first contact for the other hosts.

Every connection the program makes pins the host key of the machine it reaches (the remote
commands' `connection.hostKey`, the Docker provider's known_hosts file, `make verify`). The key
comes from one of three places:

* **configured**: `cloud.hosts[].hostKey` (or `lab.hostKey` for the qemu+ssh hypervisor);
* **generated**: each lab VM's ed25519 host key is made by the program (`GeneratedHostKey`, with
  `ssh-keygen` on the operator's machine) and installed by cloud-init, so it is known before the
  VM first answers; the private half is a Pulumi secret, kept in the stack's state only;
* **recorded at the first contact** (trust on first use): for a host with no configured key,
  `RecordedHostKey` reads the key the host presents (`ssh-keyscan`) the first time the stack
  meets it, keeps it in the stack's state and pins it from then on. On every later `preview` and
  `up` it reads the key again: a host that presents another key stops the run before anything is
  changed, with a message that names the host, both fingerprints and what to do.

Both are Pulumi dynamic resources: they run in the program's own Python (the CLI starts
`pulumi-resource-pulumi-python`, which ships with it), so no provider plugin is needed, online or
offline. The state refers to the provider classes by name (`ha_swarm.nodes.hostkeys.*`): keep
these names, or old stacks cannot be updated or destroyed.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi import dynamic

from ha_swarm.nodes.node import CONFIGURED, FIRST_CONTACT, PinnedKey, SshEndpoint

# The key kinds asked of a host at the first contact, the preferred first.
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "ssh-rsa")
KEYSCAN_TYPES = "ed25519,ecdsa,rsa"
SCAN_TIMEOUT = 10  # seconds ssh-keyscan waits for a host
SCAN_ATTEMPTS = 3
CHECK_TIMEOUT = 5  # seconds a preview or up waits for a host's key before going on (see `decide`)


class HostKeyError(RuntimeError):
    """A host's key could not be read or is not the one recorded; the message says which and why."""


def fingerprint(key: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line ("TYPE BASE64 [comment]")."""
    blob = base64.b64decode(key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _type_and_blob(key: str) -> tuple[str, str]:
    kind, blob = key.split()[:2]
    return kind, blob


def scan(host: str, port: int, *, timeout: int = SCAN_TIMEOUT, attempts: int = SCAN_ATTEMPTS) -> tuple[list[str], str]:
    """The host keys HOST:PORT presents ("TYPE BASE64" each), read with ssh-keyscan, and what
    ssh-keyscan said; no keys when the host does not answer."""
    said = ""
    for _ in range(attempts):
        try:
            res = subprocess.run(
                ["ssh-keyscan", "-T", str(timeout), "-p", str(port), "-t", KEYSCAN_TYPES, "--", host],
                capture_output=True,
                text=True,
                timeout=timeout * 3 + 5,
                check=False,
            )
        except FileNotFoundError:
            raise HostKeyError("ssh-keyscan is not installed (OpenSSH's client: Debian's openssh-client)") from None
        except subprocess.TimeoutExpired:
            said = f"no answer in {timeout * 3 + 5} s"
            continue
        keys = [" ".join(line.split()[1:3]) for line in res.stdout.splitlines() if len(line.split()) >= 3 and not line.startswith("#")]
        if keys:
            return keys, ""
        said = " ".join(res.stderr.split()) or "no key in its answer"
    return [], said


def preferred(keys: list[str]) -> str:
    """The key to pin among those a host presents: ed25519 first, then ECDSA, then RSA."""
    return min(keys, key=lambda k: KEY_TYPES.index(k.split()[0]) if k.split()[0] in KEY_TYPES else len(KEY_TYPES))


def first_contact(name: str, host: str, port: int) -> str:
    keys, said = scan(host, port)
    if not keys:
        raise HostKeyError(
            f"{name}: no SSH host key could be read from {host}:{port} (ssh-keyscan: {said}): the key is recorded at the "
            f"first contact (trust on first use), so the host must answer on SSH; or give its key in the settings"
        )
    return preferred(keys)


def changed_key_message(name: str, host: str, port: int, recorded: str, presented: list[str], setting: str) -> str:
    seen = ", ".join(f"{k.split()[0]} {fingerprint(k)}" for k in presented)
    kind = recorded.split()[0]
    return (
        f"{name}: the SSH host key of {host}:{port} has changed: the stack recorded {kind} {fingerprint(recorded)} at the first "
        f"contact, the host now presents {seen}. Nothing was changed. If the host was reinstalled and this is its new key "
        f"(check it on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), set {setting} to it and run up again; "
        f"otherwise someone may be in the middle: do not connect"
    )


@dataclass(frozen=True)
class Checked:
    """What `RecordedHostKeyProvider.check` decided: the key to keep, or why the run must stop."""

    key: str | None
    failure: str | None = None


def decide(olds: dict[str, Any], news: dict[str, Any]) -> Checked:
    """In `check`, on every run: the key recorded for the host, compared with the one it presents.

    At the first contact (or at a new address) the key is read if the host answers at once, and
    kept in the checked inputs, where later runs find it; a host that does not answer yet (a
    preview before the hosts exist) leaves it to `create`, which reads it with retries."""
    name, host, port, setting = news["name"], news["host"], int(news["port"]), news.get("setting") or "its hostKey"
    same_address = olds.get("host") == host and olds.get("port") is not None and int(olds["port"]) == port
    recorded = olds.get("key") if same_address else None
    try:
        presented, _ = scan(host, port, timeout=CHECK_TIMEOUT, attempts=1)
    except HostKeyError as error:
        return Checked(None, str(error))
    if not recorded:
        return Checked(preferred(presented) if presented else None)
    if not presented:
        # No answer: nothing to compare; every connection still pins the recorded key.
        return Checked(recorded)
    if _type_and_blob(recorded) in {_type_and_blob(k) for k in presented}:
        return Checked(recorded)
    return Checked(None, changed_key_message(name, host, port, recorded, presented, setting))


def _same_address(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    return bool(olds.get("host") == news.get("host") and olds.get("port") is not None and news.get("port") is not None and int(olds["port"]) == int(news["port"]))


class RecordedHostKeyProvider(dynamic.ResourceProvider):
    """Trust on first use: the key is filled in by `check` (the checked inputs are what the state
    keeps, and what the next `check` compares with), else read by `create`."""

    serialize_as_secret_always = False  # it holds no secret

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        checked = decide(_olds or {}, news)
        if checked.failure is not None:
            return dynamic.CheckResult(news, [dynamic.CheckFailure("key", checked.failure)])
        return dynamic.CheckResult({**news, "key": checked.key}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        recorded, read = olds.get("key"), news.get("key")
        if _same_address(olds, news) and recorded and read and _type_and_blob(recorded) != _type_and_blob(read):
            # Only when the record was made by `create` (the host did not answer `check` then), so
            # that `check` had no key to compare with: the record still stands, the run stops.
            raise HostKeyError(changed_key_message(news["name"], news["host"], int(news["port"]), recorded, [read], news.get("setting") or "its hostKey"))
        changed = [k for k in ("host", "port") if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        key = props.get("key") or first_contact(props["name"], props["host"], int(props["port"]))
        return dynamic.CreateResult(f"{props['host']}:{props['port']}", {**{k: props.get(k) for k in ("name", "host", "port", "setting")}, "key": key})


class RecordedHostKey(dynamic.Resource, module="ha-swarm", name="RecordedHostKey"):
    """The host key of NAME at HOST:PORT, recorded at the first contact and checked on every run."""

    key: pulumi.Output[str]

    def __init__(self, resource_name: str, *, name: str, host: str, port: int, setting: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RecordedHostKeyProvider(), resource_name, {"name": name, "host": host, "port": port, "setting": setting, "key": None}, opts)


def generate_ed25519(comment: str) -> tuple[str, str]:
    """A new ed25519 key pair (OpenSSH private key, public key line without comment), by ssh-keygen."""
    with tempfile.TemporaryDirectory(prefix="ha-swarm-hostkey-") as tmp:
        path = Path(tmp) / "key"
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], capture_output=True, check=True)
        except FileNotFoundError:
            raise HostKeyError("ssh-keygen is not installed (OpenSSH's client: Debian's openssh-client)") from None
        private = path.read_text(encoding="utf-8")
        public = " ".join(path.with_suffix(".pub").read_text(encoding="utf-8").split()[:2])
    return private, public


class GeneratedHostKeyProvider(dynamic.ResourceProvider):
    """A lab VM's host key pair, made once; a new one only when the resource is replaced."""

    serialize_as_secret_always = False  # the provider holds no secret; the private key is a secret output

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = olds.get("node") != news.get("node")
        return dynamic.DiffResult(changes=changed, replaces=["node"] if changed else [], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        private, public = generate_ed25519(f"root@{props['node']}")
        return dynamic.CreateResult(fingerprint(public), {"node": props["node"], "private_key": private, "public_key": public})


class GeneratedHostKey(dynamic.Resource, module="ha-swarm", name="GeneratedHostKey"):
    """The ed25519 host key of lab VM NODE: `public_key`, and `private_key` (a secret)."""

    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(self, resource_name: str, *, node: str, opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(GeneratedHostKeyProvider(), resource_name, {"node": node, "private_key": None, "public_key": None}, pulumi.ResourceOptions.merge(opts, secret))


def pinned_key(resource_name: str, *, name: str, host: str, port: int, configured: str | None, setting: str, parent: pulumi.Resource) -> PinnedKey:
    """The key a host's connections pin: the configured one, else the one recorded at the first contact."""
    if configured is not None:
        return PinnedKey(configured, CONFIGURED)
    recorded = RecordedHostKey(resource_name, name=name, host=host, port=port, setting=setting, opts=pulumi.ResourceOptions(parent=parent))
    return PinnedKey(recorded.key, FIRST_CONTACT)


def jump_host_key(jump: SshEndpoint | None, *, parent: pulumi.Resource) -> PinnedKey | None:
    """The pinned key of the qemu+ssh hypervisor that the lab's VMs are reached through, if any."""
    if jump is None:
        return None
    name = f"the hypervisor {jump.host}"
    return pinned_key("hypervisor-host-key", name=name, host=jump.host, port=jump.port, configured=jump.host_key, setting="lab.hostKey", parent=parent)


def say_first_contact(names: list[str]) -> None:
    """Say plainly, on every run, which keys are trusted on first use."""
    if names:
        pulumi.log.info(
            f"host keys of {', '.join(names)}: recorded at the first contact (trust on first use) and pinned from then on; "
            "a changed key stops `up`. Give each key in the settings (hostKey) to pin keys you checked yourself."
        )
