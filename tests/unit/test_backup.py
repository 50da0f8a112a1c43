"""Issue 19, backup and restore, without nodes: the settings (backupKey, backup, swarm.restored,
swarm.restoredOn), what the program re-runs after a restore (and only then), and the operator's
side of an archive (its name, the last N kept, age, the record, the comparison after a restore)."""

from __future__ import annotations

import io
import re
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.day2.backup import (
    BackupError,
    Inventory,
    archive_name,
    archives,
    compare,
    decrypt,
    new_identity,
    newest_taken_on,
    parse_record,
    prune,
    recipient,
    record_of,
    taken_on,
)
from ha_swarm.nodes.remote import script_command
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, Program, base_config, refused_before_any_resource, run_program
from tools.backup import arguments, choose, restore_target

IDENTITY = "AGE-SECRET-KEY-1" + "Q" * 58
RECORD = """format 1
time 2026-12-04T14:00:00Z
swarm abc
taken-on n2 manager-2
engine 20.10.24
autolock true
node n1 host-1 manager-1 manager 10.17.3.11
node n2 host-2 manager-2 manager 10.17.3.12
node w1 host-3 worker-1 worker 10.17.3.21
service s1 demo_whoami0
network t1 traefik-net
secret x1 app_password
config c1 app_config
unlock-key SWMKEY-1-notarealkey
"""


def raw(**more: Any) -> dict[str, Any]:
    lab = {"image": "https://example.test/i.qcow2", "domainType": "kvm", "managers": 3}
    return {"target": "lab", "lab": lab, "sshPublicKey": TEST_PUBLIC_KEY, "sshPrivateKey": TEST_PRIVATE_KEY, **more}


def refused(secret: tuple[str, ...] = (), **more: Any) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw(**more), secret)
    assert "\n" not in str(info.value), "a refusal is one line"
    return str(info.value)


# -------------------------------------------------------------------------------- settings


def test_backup_settings_default_to_seven_archives_in_the_cache() -> None:
    settings = parse_settings(raw())
    assert (settings.backup.keep, settings.backup.dir) == (7, None)
    assert parse_settings(raw(backup={"keep": 3, "dir": "/srv/backups"})).backup.keep == 3


def test_a_backup_key_in_plain_text_or_not_an_age_identity_is_refused_and_never_shown() -> None:
    plain = refused(backupKey=IDENTITY)
    assert plain.startswith("config ha-swarm:backupKey = '<hidden>' is refused: an age identity") and "plain text" in plain
    assert IDENTITY not in plain
    other = refused(("backupKey",), backupKey="hunter2")
    assert "hunter2" not in other and "AGE-SECRET-KEY-1" in other
    assert parse_settings(raw(backupKey=IDENTITY), ("backupKey",)).backup.keep == 7


BAD_BACKUPS = [({"keep": 0}, "backup.keep"), ({"keep": "many"}, "backup.keep"), ({"every": "day"}, "backup.every"), ({"dir": ""}, "backup.dir")]


@pytest.mark.parametrize(("backup", "key"), BAD_BACKUPS)
def test_bad_backup_settings_are_refused_naming_the_key(backup: dict[str, Any], key: str) -> None:
    assert refused(backup=backup).startswith(f"config ha-swarm:{key} = ")


def test_a_restore_on_a_node_that_is_no_manager_or_a_bad_generation_is_refused() -> None:
    message = refused(swarm={"restored": "20261204T140000Z", "restoredOn": "worker-1"})
    assert message.startswith("config ha-swarm:swarm.restoredOn = 'worker-1' is refused: the manager") and "manager-1, manager-2, manager-3" in message
    assert refused(swarm={"restored": "not a generation"}).startswith("config ha-swarm:swarm.restored = 'not a generation' is refused")


def test_a_bad_backup_setting_is_refused_before_any_resource() -> None:
    assert "backup.keep" in refused_before_any_resource(base_config(backup={"keep": -1}))


# -------------------------------------------------------------------------------- the program after a restore


def program(swarm: dict[str, Any]) -> Program:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": 3, "workers": 2}
    config["swarm"] = swarm
    return run_program(config)


def triggers(p: Program, name: str) -> list[Any]:
    return list(p.named(name).inputs.get("triggers") or [])


def test_after_a_restore_every_node_but_the_first_manager_and_the_restored_one_joins_again() -> None:
    p = program({"restored": "g1", "restoredOn": "manager-2"})
    for name in ["manager-3-join", "worker-1-join", "worker-2-join", "tokens", "restored-id", "restored-forget"]:
        assert "restored:g1" in triggers(p, name), name
    # The settles run again through their node ID (an update: no drain of the old entry); the registers stay.
    for name in ("init", "manager-2-register", "manager-2-join", "manager-2-settle", "worker-1-register", "worker-1-settle", "manager-3-register"):
        assert "restored:g1" not in triggers(p, name), name
    # The stale entries go once every node settled again, before anything that needs the swarm formed.
    forget = p.named("restored-forget")
    assert all(p.depends_on(forget, p.named(f"{n}-settle")) for n in ("manager-1", "manager-2", "manager-3", "worker-1", "worker-2"))
    traefik = next(r for r in p.resources if r.name == "traefik" and r.custom)
    assert p.depends_on(traefik, forget)
    # The first manager settles under its node ID as it is now (restored-id), not init's.
    settle = p.named("manager-1-settle")
    assert p.depends_on(settle, p.named("restored-id"))
    assert "nodeid-restored" in settle.inputs["create"]


def test_a_restore_without_autolock_reads_no_unlock_key_and_with_autolock_reads_it_as_a_secret() -> None:
    assert "unlock-key" not in {r.name for r in program({"restored": "g1"}).resources}
    p = program({"restored": "g1", "autolock": True})
    key = p.named("unlock-key")
    assert "restored:g1" in triggers(p, "unlock-key") and "stdout" in key.additional_secret_outputs
    assert "unlockKey" in p.secret_outputs


def test_without_a_restore_nothing_is_declared_for_it() -> None:
    names = {r.name for r in program({}).resources}
    assert not {"restored-id", "unlock-key", "restored-forget"} & names
    for r in program({}).resources:
        assert not any("restored:" in str(t) for t in r.inputs.get("triggers") or []), r.name


def test_only_the_backup_scripts_get_the_backup_helpers() -> None:
    assert "hs_manager_quorum()" in script_command("swarm-backup.sh")
    assert "hs_manager_quorum()" not in script_command("engine-drain.sh")
    assert "hs_inventory()" not in script_command("node-settle.sh")


# -------------------------------------------------------------------------------- the operator's side


def test_archives_are_named_by_time_and_only_the_last_n_are_kept(tmp_path: Path) -> None:
    for hour in (3, 1, 2, 4):
        (tmp_path / archive_name("dev", datetime(2026, 12, 4, hour, tzinfo=UTC), "manager-2")).write_bytes(b"x")
    (tmp_path / "other-20261204T000000Z-m.swarm.age").write_bytes(b"x")
    gone = prune(tmp_path, "dev", 2)
    assert [p.name for p in gone] == ["dev-20261204T010000Z-manager-2.swarm.age", "dev-20261204T020000Z-manager-2.swarm.age"]
    assert [p.name[:20] for p in archives(tmp_path, "dev")] == ["dev-20261204T030000Z", "dev-20261204T040000Z"]
    assert (tmp_path / "other-20261204T000000Z-m.swarm.age").exists()


def test_make_restore_node_takes_the_newest_archive_taken_on_that_manager(tmp_path: Path) -> None:
    for hour, node in ((1, "manager-2"), (2, "manager-3"), (3, "manager-2"), (4, "manager-3-b")):
        (tmp_path / archive_name("dev", datetime(2026, 12, 4, hour, tzinfo=UTC), node)).write_bytes(b"x")
    (tmp_path / archive_name("other", datetime(2026, 12, 4, 5, tzinfo=UTC), "manager-3")).write_bytes(b"x")
    assert [taken_on(p, "dev") for p in archives(tmp_path, "dev")] == ["manager-2", "manager-3", "manager-2", "manager-3-b"]
    assert taken_on(tmp_path / "dev-2026-manager-2.swarm.age", "dev") is None
    assert taken_on(tmp_path / "dev-2026124T030000Z-manager-2.swarm.age", "dev") is None  # a one-digit day
    assert taken_on(tmp_path / "dev-20261304T030000Z-manager-2.swarm.age", "dev") is None  # month 13
    assert taken_on(tmp_path / "dev-20261204T030000Z.swarm.age", "dev") is None  # no manager
    assert newest_taken_on(tmp_path, "dev", "manager-2").name == "dev-20261204T030000Z-manager-2.swarm.age"
    assert newest_taken_on(tmp_path, "dev", "manager-3").name == "dev-20261204T020000Z-manager-3.swarm.age"
    with pytest.raises(BackupError, match=re.escape("no archive taken on manager-1: ") + ".* holds archives taken on manager-2, manager-3, manager-3-b"):
        newest_taken_on(tmp_path, "dev", "manager-1")
    with pytest.raises(BackupError, match="holds no archive of the stack prod"):
        newest_taken_on(tmp_path, "prod", "manager-1")


def test_a_restore_goes_only_on_the_manager_the_archive_was_taken_on_at_its_address() -> None:
    """Docker keeps the manager's address in the Raft store (docker/docs#7931, moby/swarmkit#642):
    a restore elsewhere, or there at a new address, is refused saying so."""
    settings = parse_settings(raw())
    record = parse_record(RECORD)
    assert restore_target(settings, record).name == "manager-2"
    assert restore_target(settings, record, "manager-2").name == "manager-2"
    with pytest.raises(BackupError, match=re.escape("taken on manager-2, not on manager-3: Docker restores a swarm only on the address")):
        restore_target(settings, record, "manager-3")
    moved = parse_record(RECORD.replace("manager-2 manager 10.17.3.12", "manager-2 manager 10.9.9.9"))
    with pytest.raises(BackupError, match=re.escape("had the swarm address 10.9.9.9 in the backup") + ".*docker/docs#7931"):
        restore_target(settings, moved)


def test_the_record_holds_the_inventory_and_hides_the_unlock_key_from_its_repr() -> None:
    record = parse_record(RECORD)
    assert (record.taken_on, record.autolock, record.unlock_key) == ("manager-2", True, "SWMKEY-1-notarealkey")
    assert record.inventory.of("secret") == {"app_password": "x1"}
    assert "SWMKEY" not in repr(record)
    with pytest.raises(BackupError):
        parse_record("time x\n")


def test_the_restore_check_fails_on_a_missing_or_recreated_object_and_a_missing_node() -> None:
    record = parse_record(RECORD)
    live = Inventory(
        nodes=record.inventory.nodes[:2],
        items=(("service", "s1", "demo_whoami0"), ("network", "t1", "traefik-net"), ("secret", "x2", "app_password"), ("service", "s9", "new")),
    )
    rows = {(r.check, r.target): r for r in compare(record, live)}
    assert rows[("restored-service", "demo_whoami0")].result == "OK"
    assert rows[("restored-secret", "app_password")].result == "FAIL" and "x2" in rows[("restored-secret", "app_password")].detail
    assert rows[("restored-config", "app_config")].result == "FAIL"
    assert rows[("restored-service", "new")].result == "OK"
    assert rows[("restored-node", "worker-1")].result == "FAIL"
    assert rows[("restored-node", "manager-2")].result == "OK"


def test_the_backup_runs_on_the_first_reachable_manager_that_is_not_the_leader() -> None:
    settings = parse_settings(raw())
    rows = [["manager-1", "a", "x", "reachable", "true"], ["manager-2", "b", "y", "unreachable", "false"], ["manager-3", "c", "z", "reachable", "false"]]
    assert choose(settings, rows).name == "manager-3"
    with pytest.raises(BackupError, match="not the leader"):
        choose(settings, [rows[0], ["manager-2", "b", "y", "unreachable", "false"]])
    single = parse_settings({**raw(), "lab": {**raw()["lab"], "managers": 1}})
    assert choose(single, [["manager-1", "a", "x", "reachable", "true"]]).name == "manager-1"
    assert choose(single, [["manager-1", "a", "x", "reachable", "true"]], "manager-1").name == "manager-1"


def test_make_backup_node_backs_up_on_the_manager_named_when_it_is_reachable_and_not_the_leader() -> None:
    """An archive restores on the manager it was taken on: NODE= is how the operator chooses where."""
    settings = parse_settings(raw())
    rows = [["manager-1", "a", "x", "reachable", "true"], ["manager-2", "b", "y", "reachable", "false"], ["manager-3", "c", "z", "reachable", "false"]]
    assert choose(settings, rows).name == "manager-2"
    assert choose(settings, rows, "manager-3").name == "manager-3"
    for wanted, why in (
        ("manager-1", "is the leader"),
        ("worker-1", "a manager of this stack (manager-1, manager-2, manager-3)"),
        ("manager-9", "a manager of this stack"),
    ):
        with pytest.raises(BackupError, match=re.escape(why)):
            choose(settings, rows, wanted)
    with pytest.raises(BackupError, match="it is unreachable, not reachable"):
        choose(settings, [rows[0], rows[1], ["manager-3", "c", "z", "unreachable", "false"]], "manager-3")
    with pytest.raises(BackupError, match="not a manager of the swarm"):
        choose(settings, rows[:2], "manager-3")


@pytest.mark.skipif(shutil.which("age") is None, reason="age is not installed (apt-get install age)")
def test_an_archive_encrypted_to_the_stacks_key_decrypts_only_with_it(tmp_path: Path) -> None:
    import subprocess

    identity = new_identity()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("record.txt")
        info.size = len(RECORD)
        tar.addfile(info, io.BytesIO(RECORD.encode()))
    path = tmp_path / "a.swarm.age"
    subprocess.run(["age", "--encrypt", "-r", recipient(identity), "-o", str(path)], input=buf.getvalue(), check=True)
    assert b"SWMKEY" not in path.read_bytes()
    assert record_of(decrypt(identity, path)).unlock_key == "SWMKEY-1-notarealkey"
    with pytest.raises(BackupError, match="cannot decrypt"):
        decrypt(new_identity(), path)


def test_each_command_line_takes_what_its_command_needs() -> None:
    """backup and pull take a folder (backup also NODE=), check an archive, restore an archive or a
    manager whose newest archive in the folder it takes (the e2e caught `pull` asking for an
    archive once)."""
    cli = arguments()
    assert cli.parse_args(["pull", "--dir", "/tmp/b"]).dir == "/tmp/b"
    assert cli.parse_args(["backup", "--node", "manager-2", "--keep", "3"]).node == "manager-2"
    assert cli.parse_args(["restore", "a.swarm.age", "--force"]).archive == "a.swarm.age"
    by_node = cli.parse_args(["restore", "--node", "manager-3", "--dir", "/tmp/b"])
    assert (by_node.archive, by_node.node, by_node.dir) == (None, "manager-3", "/tmp/b")
    assert cli.parse_args(["check", "a.swarm.age"]).archive == "a.swarm.age"
    for wrong in (["pull", "a.swarm.age"], ["pull", "--node", "manager-2"], ["check", "--dir", "/tmp/b", "a.swarm.age"], ["check"]):
        with pytest.raises(SystemExit):
            cli.parse_args(wrong)
