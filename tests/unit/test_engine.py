"""Rolling Docker Engine upgrades (`engine.version`): the setting, and the commands under mocks,
their order (one node at a time, the first manager last among managers, then the workers) and
their triggers."""

from __future__ import annotations

import itertools
import shlex
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, Program, Registered, base_config, run_program

VERSION = "27.3.1"
STEPS = ("drain", "install", "activate")


def lab(managers: int, workers: int, **overrides: Any) -> Program:
    config = base_config(**overrides)
    config["lab"] = {**config["lab"], "managers": managers, "workers": workers}
    return run_program(config)


def words(res: Registered) -> list[str]:
    """`[sudo -n] bash -c PROGRAM NAME ARG...` as [NAME, ARG...]."""
    argv = shlex.split(res.inputs["create"])
    if argv[:2] == ["sudo", "-n"]:
        argv = argv[2:]
    return argv[3:]


def engine_commands(p: Program) -> list[Registered]:
    return [r for r in p.of_type("command:remote:Command") if "-engine-" in r.name]


def chain(p: Program) -> list[Registered]:
    """The engine commands in dependency order (each depends on the one before it)."""
    commands = engine_commands(p)
    return sorted(commands, key=lambda r: sum(1 for other in commands if p.depends_on(r, other)))


def settings_with(engine: Any) -> Any:
    raw = {
        "target": "lab",
        "lab": {"image": "https://example.test/x.qcow2", "domainType": "kvm"},
        "sshPublicKey": TEST_PUBLIC_KEY,
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "engine": engine,
    }
    return parse_settings(raw)


# --------------------------------------------------------------------------- the setting


@pytest.mark.parametrize("version", ["27.3.1", "20.10.24+dfsg1", "26.1.5~deb12", " 28.0.0 "])
def test_engine_version_accepts_the_versions_docker_reports(version: str) -> None:
    assert settings_with({"version": version}).engine.version == version.strip()


def test_without_engine_version_upgrades_are_off() -> None:
    assert settings_with(None).engine.version is None
    assert settings_with({}).engine.version is None


@pytest.mark.parametrize("version", ["latest", "27", "27.3", "v27.3.1", "27.3.1; reboot", 27.3, "1.2.3+", ""])
def test_engine_version_refuses_what_is_not_a_version_naming_key_value_and_form(version: Any) -> None:
    with pytest.raises(SettingsError) as info:
        settings_with({"version": version})
    message = str(info.value)
    assert "ha-swarm:engine.version" in message
    assert str(version) in message
    assert "27.3.1" in message and "20.10.24+dfsg1" in message


def test_engine_refuses_an_unknown_key_and_a_non_object() -> None:
    with pytest.raises(SettingsError, match=r"ha-swarm:engine\.channel .*allowed keys: version"):
        settings_with({"channel": "stable"})
    with pytest.raises(SettingsError, match=r"ha-swarm:engine = '27.3.1' is refused: an object"):
        settings_with("27.3.1")


# --------------------------------------------------------------------------- the program


def test_no_engine_commands_without_engine_version() -> None:
    p = lab(3, 2)
    assert engine_commands(p) == []
    assert p.of_type("ha-swarm:engine:EngineUpgrades") == []


def test_each_node_gets_drain_install_activate_with_the_version_and_its_name() -> None:
    p = lab(3, 2, engine={"version": VERSION})
    for node, address in (("manager-1", "10.17.3.11"), ("manager-2", "10.17.3.12"), ("worker-2", "10.17.3.22")):
        drain, install, activate = (p.named(f"{node}-engine-{step}") for step in STEPS)
        assert words(drain) == ["engine-drain.sh", node, VERSION]
        assert words(install) == ["engine-install.sh", VERSION]
        assert words(activate) == ["engine-activate.sh", node, VERSION]
        # drain and activate run on the first manager, the install on the node itself, as root
        assert drain.inputs["connection"]["host"] == "10.17.3.11" and activate.inputs["connection"]["host"] == "10.17.3.11"
        assert install.inputs["connection"]["host"] == address
        assert install.inputs["create"].startswith("sudo -n bash -c ")
        assert p.depends_on(install, drain) and p.depends_on(activate, install)
        for res in (drain, install, activate):
            assert f"engine:{VERSION}" in res.inputs["triggers"]
            assert "delete" not in res.inputs or not res.inputs["delete"], "an upgrade has no undo"


def test_nodes_are_upgraded_one_at_a_time_other_managers_then_first_manager_then_workers() -> None:
    p = lab(3, 2, engine={"version": VERSION})
    order = [r.name for r in chain(p)]
    nodes = ["manager-2", "manager-3", "manager-1", "worker-1", "worker-2"]
    assert order == [f"{n}-engine-{s}" for n in nodes for s in STEPS]
    # strictly one at a time: a node's drain waits for the previous node's activate, and never the reverse
    for before, after in itertools.pairwise(nodes):
        assert p.depends_on(p.named(f"{after}-engine-drain"), p.named(f"{before}-engine-activate"))
        assert not p.depends_on(p.named(f"{before}-engine-drain"), p.named(f"{after}-engine-activate"))


def test_the_chain_starts_after_the_swarm_traefik_and_the_stacks_and_verify_waits_for_it() -> None:
    p = lab(3, 1, engine={"version": VERSION}, verify=True)
    start = p.named("manager-2-engine-drain")
    for name in ("manager-1-settle", "manager-3-settle", "worker-1-settle", "demo_whoami0", "demo_whoami1"):
        assert p.depends_on(start, p.named(name)), f"the first drain must wait for {name}"
    traefik = next(r for r in p.of_type("docker:index/service:Service") if r.name == "traefik")
    assert p.depends_on(start, traefik), "the first drain must wait for the Traefik service"
    verify = next(r for r in p.of_type("command:remote:Command") if r.name == "verify")
    assert p.depends_on(verify, p.named("worker-1-engine-activate"))
    for res in engine_commands(p):
        assert p.by_urn(res.parent).type == "ha-swarm:engine:EngineUpgrades"


def test_a_single_manager_lab_upgrades_the_manager_first_then_each_worker() -> None:
    p = lab(1, 2, engine={"version": VERSION})
    assert [r.name for r in chain(p)] == [f"{n}-engine-{s}" for n in ("manager-1", "worker-1", "worker-2") for s in STEPS]


def test_a_new_version_changes_every_trigger() -> None:
    old = lab(3, 1, engine={"version": VERSION})
    new = lab(3, 1, engine={"version": "28.0.1"})
    for res in engine_commands(old):
        assert res.inputs["triggers"] != new.named(res.name).inputs["triggers"]
        assert "engine:28.0.1" in new.named(res.name).inputs["triggers"]
