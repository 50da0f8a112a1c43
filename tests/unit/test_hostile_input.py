"""Issue 17, first part: values that reach a shell, an ssh argv or a file the program writes are matched
whole and refused before any resource is declared, in one line. Each case below was accepted before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ha_swarm.config import parse_settings
from tests.support.mocks import base_config, refused_before_any_resource
from tests.unit.test_settings import BCRYPT_LINE, TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, lab, refused

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


# ----------------------------------------------------------------------- issue 17, second part


def test_a_public_key_given_as_the_private_key_is_refused_without_echoing_it() -> None:
    raw = lab()
    raw["sshPrivateKey"] = TEST_PUBLIC_KEY
    message = refused(raw)
    assert "ha-swarm:sshPrivateKey = '<hidden>'" in message and "PRIVATE KEY" in message
    assert TEST_PUBLIC_KEY not in message


def test_a_private_key_kept_in_plain_text_is_refused_before_any_resource() -> None:
    message = refused_before_any_resource(base_config(), plain_private_key=True)
    assert "ha-swarm:sshPrivateKey" in message and "--secret" in message
    assert "TEST-ONLY-NOT-A-REAL-KEY" not in message


def test_the_private_key_kept_as_a_secret_is_accepted() -> None:
    settings = parse_settings(lab())
    assert settings.ssh_private_key == TEST_PRIVATE_KEY


@pytest.mark.parametrize("image", ["traefik:v3.6.1 --api.insecure=true", "Traefik:v3", "traefik:v3;x", ""])
def test_a_traefik_image_that_is_no_image_reference_is_refused(image: str) -> None:
    assert "ha-swarm:traefik.image" in refused({**lab(), "traefik": {"image": image}})


@pytest.mark.parametrize("image", ["traefik:v3.6.1", "registry.example.com:5000/proxy/traefik:v3", "traefik@sha256:" + "a" * 64])
def test_image_references_docker_takes_are_accepted(image: str) -> None:
    assert parse_settings({**lab(), "traefik": {"image": image}}).traefik.image == image


@pytest.mark.parametrize("address", ["0.0.0.0", "127.0.0.1", "::", "224.0.0.1", ["10.0.0.1"]])
def test_a_private_address_other_nodes_cannot_reach_is_refused(address: Any) -> None:
    assert "cloud.hosts[0].privateAddress" in refused(cloud(privateAddress=address))


def test_dashboard_users_without_https_are_refused_unless_allowed_explicitly() -> None:
    users = {"users": [BCRYPT_LINE]}
    message = refused({**lab(), "traefik": {"dashboard": users}})
    assert "ha-swarm:traefik.dashboard.users = '<hidden>'" in message and "HTTPS" in message and BCRYPT_LINE not in message
    assert parse_settings({**lab(), "traefik": {"dashboard": {**users, "allowHttp": True}}}).traefik.dashboard_users == (BCRYPT_LINE,)
    acme = {"email": "ops@example.com"}
    assert parse_settings({**lab(), "traefik": {"dashboard": users, "acme": acme}}).traefik.dashboard_users == (BCRYPT_LINE,)


def test_an_nfs_volume_outside_the_export_is_refused_before_any_resource(tmp_path: Path) -> None:
    stack = tmp_path / "outside.yml"
    stack.write_text(
        "services:\n  app:\n    image: traefik/whoami\n    volumes: [data:/data]\n"
        "volumes:\n  data:\n    driver_opts: {type: nfs, o: 'addr=${NFS_ADDR},rw', device: ':/etc'}\n"
    )
    config = base_config(storage={"nfs": True}, stacks=[str(stack)])
    assert "volumes.data.driver_opts.device" in refused_before_any_resource(config)


def test_a_host_rule_with_a_blank_is_refused_before_any_resource(tmp_path: Path) -> None:
    stack = tmp_path / "blank.yml"
    stack.write_text(
        "services:\n  app:\n    image: traefik/whoami\n    networks: [traefik-net]\n"
        "    deploy:\n      labels:\n        traefik.http.routers.app.rule: 'Host(`app.example.com --resolve x`)'\n"
        "networks:\n  traefik-net:\n    external: true\n"
    )
    message = refused_before_any_resource(base_config(verify=True, stacks=[str(stack)]))
    assert "service app: deploy.labels.traefik.http.routers.app.rule" in message and "blanks" in message


@pytest.mark.parametrize("image", ["traefik/whoami:v1.10 --privileged", "traefik/whoami\n:v1", "Traefik/whoami"])
def test_a_compose_image_that_is_no_image_reference_is_refused_before_any_resource(image: str, tmp_path: Path) -> None:
    stack = tmp_path / "images.yml"
    stack.write_text(yaml.safe_dump({"services": {"app": {"image": image}}}))
    assert "service app: image" in refused_before_any_resource(base_config(stacks=[str(stack)]))
