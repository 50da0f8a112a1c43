"""The cloud target under mocks: preparation, readiness and swarm steps on the user's hosts."""

from __future__ import annotations

import shlex

import pytest

from ha_swarm.config import SettingsError
from tests.support.mocks import TEST_PRIVATE_KEY, Program, Registered, run_program

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"


def cloud_config(**cloud: object) -> dict:
    return {
        "target": "cloud",
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "cloud": {
            "hosts": [
                {"name": "m1", "address": "203.0.113.11", "privateAddress": "10.0.0.11", "role": "manager", "hostKey": HOST_KEY},
                {"name": "m2", "address": "203.0.113.12", "privateAddress": "10.0.0.12", "role": "manager"},
                {"name": "m3", "address": "203.0.113.13", "privateAddress": "10.0.0.13", "role": "manager"},
                {"name": "w1", "address": "203.0.113.21", "role": "worker", "user": "admin", "port": 2222},
                {"name": "w2", "address": "203.0.113.22", "privateAddress": "10.0.0.22", "role": "worker", "user": "root"},
            ],
            **cloud,
        },
    }


def words(res: Registered, key: str = "create") -> list[str]:
    return shlex.split(res.inputs[key])


def script_args(res: Registered) -> list[str]:
    """The script's own arguments, after `[sudo -n] bash -c PROGRAM NAME`."""
    w = words(res)
    if w[:2] == ["sudo", "-n"]:
        w = w[2:]
    return w[4:]


@pytest.fixture(scope="module")
def program() -> Program:
    return run_program(cloud_config())


def test_no_libvirt_resource_is_declared_for_the_cloud(program: Program) -> None:
    assert not [r for r in program.resources if "libvirt" in r.type]
    assert len(program.of_type("ha-swarm:machines:Cloud")) == 1


def test_every_command_connects_to_its_hosts_address_user_and_port(program: Program) -> None:
    expected = {
        "m1": ("203.0.113.11", "swarm", 22),
        "m2": ("203.0.113.12", "swarm", 22),
        "w1": ("203.0.113.21", "admin", 2222),
        "w2": ("203.0.113.22", "root", 22),
    }
    for name, (host, user, port) in expected.items():
        for step in ("prepare", "ready", "join") if name != "m1" else ("prepare", "ready"):
            conn = program.named(f"{name}-{step}").inputs["connection"]
            assert (conn["host"], conn["user"], conn["port"]) == (host, user, port), f"{name}-{step}"


def test_preparation_runs_as_root_through_sudo_with_the_docker_source(program: Program) -> None:
    prepare = program.named("w1-prepare")
    assert words(prepare)[:2] == ["sudo", "-n"]
    assert words(prepare)[5] == "prepare-node.sh"
    assert script_args(prepare) == ["admin", "distro"]
    root = program.named("w2-prepare")
    assert words(root)[0] == "bash", "root needs no sudo"
    other = run_program(cloud_config(dockerSource="docker")).named("m2-prepare")
    assert script_args(other) == ["swarm", "docker"]


def test_readiness_waits_for_preparation_and_the_swarm_for_readiness(program: Program) -> None:
    for name in ("m1", "m2", "w1"):
        ready = program.named(f"{name}-ready")
        assert program.depends_on(ready, program.named(f"{name}-prepare"))
    assert program.depends_on(program.named("init"), program.named("m1-ready"))
    assert program.depends_on(program.named("w1-join"), program.named("w1-ready"))
    assert program.depends_on(program.named("m3-join"), program.named("m2-settle"))


def test_init_advertises_the_private_address_and_joins_use_it(program: Program) -> None:
    assert script_args(program.named("init")) == ["10.0.0.11"]
    assert script_args(program.named("m2-join")) == ["manager", "10.0.0.11", "10.0.0.12"]
    assert script_args(program.named("w1-join")) == ["worker", "10.0.0.11", "203.0.113.21"], "no privateAddress: the address"


def test_a_configured_host_key_is_verified_on_every_connection_to_that_host(program: Program) -> None:
    for res in program.of_type("command:remote:Command"):
        conn = res.inputs["connection"]
        if conn["host"] == "203.0.113.11":
            assert conn["hostKey"] == HOST_KEY, res.name
        else:
            assert conn["hostKey"] != HOST_KEY, f"{res.name}: the others pin the key recorded at their first contact (test_host_keys)"


def test_unknown_docker_source_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"ha-swarm:cloud.dockerSource = 'snap' is refused: one of distro, docker"):
        run_program(cloud_config(dockerSource="snap"))
