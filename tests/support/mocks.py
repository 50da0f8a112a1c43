"""Running `__main__.py` under `pulumi.runtime.set_mocks`, the way the language host
runs it (config set, the program file executed), and recording every resource
registration: type, name, parent, provider, dependencies, inputs, which inputs
are secret, and the resource options that matter to us."""

from __future__ import annotations

import base64
import hashlib
import json
import runpy
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TEST_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJbZ3JvdW5kdHJ1dGgtdGVzdC1rZXktZm9yLWhhLXN3YXJt test@ha-swarm"
TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-ONLY-NOT-A-REAL-KEY\n-----END OPENSSH PRIVATE KEY-----\n"
WORKER_TOKEN = "SWMTKN-1-testworkertoken"
MANAGER_TOKEN = "SWMTKN-1-testmanagertoken"
UNLOCK_KEY = "SWMKEY-1-testunlockkey"


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    id: str
    parent: str
    provider: str
    dependencies: set[str]
    inputs: dict[str, Any]
    secret_inputs: set[str]
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    replace_on_changes: list[str]
    custom: bool


@dataclass
class Program:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)  # the stack outputs that are secrets

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Registered:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, found {len(found)}"
        return found[0]

    def by_urn(self, urn: str) -> Registered:
        return next(r for r in self.resources if r.urn == urn)

    def ancestors(self, res: Registered) -> Iterator[Registered]:
        """Every resource that `res` depends on, directly or not (dependencies and parents' dependencies)."""
        seen: set[str] = set()
        todo = list(res.dependencies)
        while todo:
            urn = todo.pop()
            if urn in seen:
                continue
            seen.add(urn)
            dep = next((r for r in self.resources if r.urn == urn), None)
            if dep is None:
                continue
            yield dep
            todo.extend(dep.dependencies)

    def depends_on(self, res: Registered, other: Registered) -> bool:
        return any(a.urn == other.urn for a in self.ancestors(res))

    def depth(self, res: Registered) -> int:
        """Length of the longest chain of dependencies below `res`."""
        memo: dict[str, int] = {}

        def walk(urn: str) -> int:
            if urn not in memo:
                node = next((r for r in self.resources if r.urn == urn), None)
                deps = node.dependencies if node else set()
                memo[urn] = 1 + max((walk(d) for d in deps), default=0)
            return memo[urn]

        return walk(res.urn)


def fake_stdout(inputs: Mapping[str, Any], name: str) -> str:
    """What the node scripts print, for the mocked remote commands."""
    create = str(inputs.get("create", ""))
    if "swarm-autolock.sh" in create:
        return UNLOCK_KEY + "\n"
    if "swarm-tokens.sh" in create:
        return json.dumps({"worker": WORKER_TOKEN, "manager": MANAGER_TOKEN})
    if "acme-key.sh import" in create:
        return "acmeimportsecretid\n"
    if "acme-key.sh" in create:
        return "acmekeysecretid\n"
    if "swarm-init.sh" in create or "swarm-join.sh" in create:
        return f"nodeid-{name.rsplit('-', 1)[0]}"
    return ""


GENERATED_HOST_KEY = "pulumi-python:dynamic/ha-swarm:GeneratedHostKey"
RECORDED_HOST_KEY = "pulumi-python:dynamic/ha-swarm:RecordedHostKey"


def fake_host_key(seed: str) -> str:
    """A public ed25519 key line made up for SEED (the key blob of an ed25519 key has 51 bytes)."""
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + hashlib.sha256(seed.encode()).digest()
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


def fake_private_host_key(node: str) -> str:
    return f"-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-ONLY-HOST-KEY-OF-{node}\n-----END OPENSSH PRIVATE KEY-----\n"


class ProgramMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == "command:remote:Command":
            state["stdout"] = fake_stdout(args.inputs, args.name)
            state["stderr"] = ""
        if args.typ == GENERATED_HOST_KEY:  # what ssh-keygen would make
            state["public_key"] = fake_host_key(f"generated {args.inputs['node']}")
            state["private_key"] = fake_private_host_key(args.inputs["node"])
        if args.typ == RECORDED_HOST_KEY:  # what the host would present at the first contact
            state["key"] = fake_host_key(f"presented by {args.inputs['host']}:{int(args.inputs['port'])}")
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: ProgramMocks, program: Program) -> None:
        super().__init__(mocks)
        self.program = program

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs, _ = rpc.deserialize_properties_unwrap_secrets(request.object)
        secret_inputs = set()
        for key in request.object.fields:
            sub = struct_pb2.Struct()
            sub.fields[key].CopyFrom(request.object.fields[key])
            _, is_secret = rpc.deserialize_properties_unwrap_secrets(sub)
            if is_secret:
                secret_inputs.add(key)
        self.program.resources.append(
            Registered(
                type=request.type,
                name=request.name,
                urn=response.urn,
                id=response.id,
                parent=request.parent,
                provider=request.provider,
                dependencies=set(request.dependencies),
                inputs=inputs,
                secret_inputs=secret_inputs,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=list(request.replaceOnChanges),
                custom=bool(request.custom),
            )
        )
        return response


def refused_before_any_resource(config: Mapping[str, Any], **options: Any) -> str:
    """The one-line refusal of the program run with CONFIG, proving that no resource was declared first."""
    program = Program()
    try:
        run_program(config, program=program, **options)
    except pulumi.RunError as error:
        message = str(error)
    else:
        raise AssertionError("the program was not refused")
    assert program.resources == [], f"declared before the refusal: {[r.name for r in program.resources]}"
    assert "\n" not in message.strip(), "a refusal is one line"
    return message


def base_config(**overrides: Any) -> dict[str, Any]:
    """The dev stack's config (Pulumi.dev.yaml) with test keys and a local image."""
    config: dict[str, Any] = {
        "target": "lab",
        "lab": {"managers": 1, "workers": 2, "image": "https://example.test/debian-12-genericcloud-amd64.qcow2", "domainType": "kvm"},
        "sshPublicKey": TEST_PUBLIC_KEY,
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "domain": "traefik",
    }
    config.update(overrides)
    return config


def run_program(
    config: Mapping[str, Any],
    *,
    preview: bool = False,
    stack: str = "dev",
    secret: Sequence[str] = (),
    plain_private_key: bool = False,
    program: Program | None = None,
) -> Program:
    """Run __main__.py under mocks with `config` as the ha-swarm namespace; `secret` names the
    keys (besides sshPrivateKey, unless `plain_private_key`) that the stack keeps encrypted.
    `program`: where to record the resources (to see what was declared before an error)."""
    program = program if program is not None else Program()
    mocks = ProgramMocks()
    raw = {f"ha-swarm:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    secret_keys = [k for k in raw if (k == "ha-swarm:sshPrivateKey" and not plain_private_key) or k.removeprefix("ha-swarm:") in secret]
    runtime_settings.ROOT.set(None)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    pulumi.runtime.set_all_config(raw, secret_keys)
    pulumi.runtime.set_mocks(mocks, project="ha-swarm", stack=stack, preview=preview, monitor=RecordingMonitor(mocks, program))
    root = runtime_settings.get_root_resource()
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))
    outputs = getattr(root, "outputs", {}) or {}
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        program.outputs[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            program.secret_outputs.add(key)
    return program
