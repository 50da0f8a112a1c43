"""Issue 17, first part: values that reach a shell, an ssh argv or a file the program writes are matched
whole and refused before any resource is declared, in one line. Each case below was accepted before."""

from __future__ import annotations

from typing import Any

import pytest

from ha_swarm.config import parse_settings
from tests.unit.test_settings import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, lab, refused

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"


def cloud(**host: Any) -> dict[str, Any]:
    entry = {"name": "m1", "address": "203.0.113.11", "role": "manager", **host}
    return {"target": "cloud", "sshPrivateKey": TEST_PRIVATE_KEY, "cloud": {"hosts": [entry]}}


@pytest.mark.parametrize(
    "uri",
    [
        "qemu+ssh://ops$(touch x)@hv.example.com/system",  # the user and host go into a ProxyCommand a shell runs
        "qemu+ssh://ops`touch x`@hv.example.com/system",
        "qemu+ssh://ops@hv.example.com;touch x/system",
        "qemu+ssh://-oProxyCommand=x@hv.example.com/system",
        "qemu:///system extra",
    ],
)
def test_a_hostile_lab_uri_is_refused(uri: str) -> None:
    assert "ha-swarm:lab.uri" in refused(lab(uri=uri))


def test_a_plain_remote_lab_uri_is_accepted() -> None:
    settings = parse_settings(lab(uri="qemu+ssh://ops@hv.example.com:2222/system"))
    assert settings.lab is not None and settings.lab.hypervisor_ssh is not None


@pytest.mark.parametrize("user", ["-oProxyCommand=touch x", "ops; touch /tmp/x", "Ops", "a b"])
def test_a_cloud_hosts_user_is_a_linux_user_name(user: str) -> None:
    assert "cloud.hosts[0].user" in refused(cloud(user=user)) or "cloud.hosts.0.user" in refused(cloud(user=user))


@pytest.mark.parametrize(
    "host_key",
    [
        HOST_KEY + "\n@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther",  # a second known_hosts entry
        HOST_KEY + " comment\nsecond line",
    ],
)
def test_a_host_key_of_two_lines_is_refused(host_key: str) -> None:
    assert "hostKey" in refused(cloud(hostKey=host_key))


def test_a_public_key_of_two_lines_is_refused() -> None:
    raw = lab()
    raw["sshPublicKey"] = TEST_PUBLIC_KEY + '\ncommand="touch /tmp/x" ' + TEST_PUBLIC_KEY
    assert "ha-swarm:sshPublicKey" in refused(raw)


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("cloud.hosts", cloud(name="m1\n")),
        ("nodeLabels", {**lab(), "nodeLabels": {"manager-1": {"zone\n": "a"}}}),
        ("stackVariables", {**lab(), "stackVariables": {"IMAGE\n": "x"}}),
    ],
)
def test_a_trailing_newline_does_not_pass_a_name_check(key: str, raw: dict[str, Any]) -> None:
    # (Scalar settings are stripped before use; map keys and list items are taken as given.)
    assert key.split(".")[0] in refused(raw)
