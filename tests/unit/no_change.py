"""The no-change proof: the resources the program registers for three stacks, recorded.

Every stack deployed before a change of the code must preview with no changes after it: the
type, name, parent and inputs of every resource stay the same. `record(scenario)` runs
`__main__.py` under mocks (tests/support/mocks.py) and returns those four per resource, made
deterministic: the user's key folder (`HA_SWARM_HOME`) and the repository's path are replaced by
placeholders, secrets are recorded as their (test) values with a mark. test_no_change.py
compares a fresh run with the record in tests/unit/records/.

Regenerate the record ONLY when a change of resources is intended (and say so in the commit):

    .venv/bin/python -m tests.unit.no_change
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.mocks import ROOT, TEST_PRIVATE_KEY, base_config, run_program

RECORDS = Path(__file__).resolve().parent / "records"

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVGb3JUZXN0cw==\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgU2VjcmV0S2V5Rm9yVGVzdHM=\n-----END PRIVATE KEY-----\n"
CA = CERT.replace("Q2Vyd", "Q0FDQ")
HTPASSWD = "admin:$2y$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"


def dev_lab() -> dict[str, Any]:
    """The dev stack (Pulumi.dev.yaml): one manager, two workers."""
    return base_config()


def cloud() -> dict[str, Any]:
    """A cloud stack of three managers and two workers (users, ports, a host key, Docker's repository)."""
    return {
        "target": "cloud",
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "cloud": {
            "dockerSource": "docker",
            "hosts": [
                {"name": "m1", "address": "203.0.113.11", "privateAddress": "10.0.0.11", "role": "manager", "hostKey": HOST_KEY},
                {"name": "m2", "address": "203.0.113.12", "privateAddress": "10.0.0.12", "role": "manager"},
                {"name": "m3", "address": "203.0.113.13", "privateAddress": "10.0.0.13", "role": "manager"},
                {"name": "w1", "address": "203.0.113.21", "role": "worker", "user": "admin", "port": 2222},
                {"name": "w2", "address": "203.0.113.22", "privateAddress": "10.0.0.22", "role": "worker", "user": "root"},
            ],
        },
    }


def full_lab() -> dict[str, Any]:
    """Three managers, ten workers, every feature on."""
    return base_config(
        lab={**base_config()["lab"], "managers": 3, "workers": 10, "vcpus": 1, "memoryMiB": 1536, "networkMode": "isolated"},
        sshUser="ops",
        domain="example.test",
        traefik={
            "acme": {"email": "ops@example.test", "challenge": "http", "caServer": "https://10.0.0.5:14000/dir", "caBundle": CA, "node": "manager-2"},
            "certificates": [{"cert": CERT, "key": KEY}],
            "redirectHttps": True,
            "encryptedNetwork": True,
            "dashboard": {"users": [HTPASSWD]},
        },
        stacks=["stacks/demo.yml", "stacks/counter.yml"],
        stackVariables={"WHOAMI_IMAGE": "traefik/whoami:v1.10", "COUNTER_IMAGE": "ha-swarm/whoami:lite-2"},
        storage={"nfs": True, "export": "/srv/data"},
        swarm={"autolock": True, "rotateTokens": "2026-03"},
        engine={"version": "27.3.1"},
        verify=True,
        nodeLabels={"worker-1": {"zone": "a", "disk": "ssd"}, "manager-3": {"zone": "b"}},
    )


SCENARIOS: dict[str, tuple[Callable[[], dict[str, Any]], tuple[str, ...]]] = {
    "dev-lab": (dev_lab, ()),
    "cloud": (cloud, ()),
    "full-lab": (full_lab, ("traefik",)),
}


def _normalise(value: Any, replacements: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _normalise(v, replacements) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_normalise(v, replacements) for v in value]
    return value


def record(scenario: str) -> list[dict[str, Any]]:
    """(type, name, parent, provider, inputs, secret inputs) of every resource the scenario registers
    (in the order of registration, which is not fixed: compare after `load(dump(...))`)."""
    make, secret = SCENARIOS[scenario]
    saved = os.environ.get("HA_SWARM_HOME")
    with tempfile.TemporaryDirectory() as home:
        os.environ["HA_SWARM_HOME"] = home
        try:
            program = run_program(make(), secret=secret)
        finally:
            if saved is None:
                os.environ.pop("HA_SWARM_HOME", None)
            else:
                os.environ["HA_SWARM_HOME"] = saved
        replacements = [(os.path.realpath(home), "<HA_SWARM_HOME>"), (home, "<HA_SWARM_HOME>"), (str(ROOT), "<ROOT>")]
        return [
            {
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "provider": r.provider,
                "inputs": _normalise(r.inputs, replacements),
                "secret": sorted(r.secret_inputs),
            }
            for r in program.resources
        ]


def path_of(scenario: str) -> Path:
    return RECORDS / f"{scenario}.json"


LONG = 400  # strings longer than this (scripts, cloud-init documents) are kept as pieces, under "texts"


def _shorten(value: Any, texts: dict[str, str]) -> Any:
    """A long string as the digests of its paragraphs, each paragraph kept once in `texts` (the
    node scripts share lib.sh; without this a record would repeat it in every command)."""
    if isinstance(value, str) and len(value) > LONG:
        refs = []
        for piece in re.split(r"(?<=\n\n)", value):
            digest = hashlib.sha256(piece.encode()).hexdigest()[:16]
            texts[digest] = piece
            refs.append(digest)
        return "<text " + " ".join(refs) + ">"
    if isinstance(value, dict):
        return {k: _shorten(v, texts) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, texts) for v in value]
    return value


def _identity(resource: dict[str, Any]) -> tuple[str, str, str]:
    return (resource["parent"], resource["type"], resource["name"])


def dump(resources: list[dict[str, Any]]) -> str:
    """The record as a file: one resource a line, long texts once each at the end."""
    texts: dict[str, str] = {}
    lines = [json.dumps(_shorten(r, texts), sort_keys=True) for r in sorted(resources, key=_identity)]
    body = ",\n".join(lines)
    return '{"resources": [\n' + body + '\n],\n"texts": ' + json.dumps(dict(sorted(texts.items())), indent=0) + "}\n"


def load(text: str) -> list[dict[str, Any]]:
    """The resources of a record, long texts put back."""
    doc = json.loads(text)
    texts: dict[str, str] = doc["texts"]

    def expand(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("<text ") and value.endswith(">"):
            return "".join(texts[d] for d in value[6:-1].split())
        if isinstance(value, dict):
            return {k: expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    return sorted((expand(r) for r in doc["resources"]), key=_identity)


def main(argv: list[str]) -> int:
    RECORDS.mkdir(exist_ok=True)
    for scenario in argv or list(SCENARIOS):
        resources = record(scenario)
        path_of(scenario).write_text(dump(resources))
        print(f"{path_of(scenario).relative_to(ROOT)}: {len(resources)} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
