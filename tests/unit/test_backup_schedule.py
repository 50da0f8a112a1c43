"""Issue 19, "an optional schedule declared in the stack": `backup.schedule` and `backup.nodeDir`
refused when wrong, the recipient of `backupKey` as age computes it, and the program's timer on
every manager, with the job's files on stdin and nothing secret in any input."""

from __future__ import annotations

import base64
import io
import shlex
import subprocess
import tarfile
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.agekey import AgeKeyError, recipient_of
from ha_swarm.day2.backup_schedule import JOB_FILES, job_bundle
from ha_swarm.nodes.remote import script_text
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, Program, base_config, refused_before_any_resource, run_program

# A key made for these tests (age-keygen) and its recipient (age-keygen -y).
IDENTITY = "AGE-SECRET-KEY-1XJQUH6JLLFU4AFSK6RZD0Z263K4JE7RS559M04D7W2PE63ERHFMSPLFDF0"
RECIPIENT = "age1yzex8z2zthprd8a40ewkgyjv9rjyv6dansjpasgnxn7z6dzgdfgqgsaptu"


def raw(**more: Any) -> dict[str, Any]:
    lab = {"image": "https://example.test/i.qcow2", "domainType": "kvm", "managers": 3}
    return {"target": "lab", "lab": lab, "sshPublicKey": TEST_PUBLIC_KEY, "sshPrivateKey": TEST_PRIVATE_KEY, **more}


def refused(secret: tuple[str, ...] = ("backupKey",), **more: Any) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw(**more), secret)
    assert "\n" not in str(info.value), "a refusal is one line"
    return str(info.value)


def test_the_recipient_is_the_one_age_keygen_gives() -> None:
    assert recipient_of(IDENTITY) == RECIPIENT
    made = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    identity = next(line for line in made.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
    public = subprocess.run(["age-keygen", "-y"], input=identity + "\n", capture_output=True, text=True, check=True).stdout.strip()
    assert recipient_of(identity) == public


def test_a_key_with_a_wrong_checksum_has_no_recipient() -> None:
    broken = IDENTITY[:-1] + ("Q" if IDENTITY[-1] != "Q" else "P")
    with pytest.raises(AgeKeyError) as info:
        recipient_of(broken)
    assert broken not in str(info.value)


def test_without_a_schedule_nothing_changes_and_the_managers_keep_archives_in_var_backups() -> None:
    backup = parse_settings(raw()).backup
    assert (backup.schedule, backup.node_dir, backup.recipient) == (None, "/var/backups/ha-swarm", None)


def test_a_schedule_takes_the_recipient_of_the_stacks_key() -> None:
    backup = parse_settings(raw(backup={"schedule": "daily"}, backupKey=IDENTITY), ("backupKey",)).backup
    assert (backup.schedule, backup.recipient) == ("daily", RECIPIENT)
    assert IDENTITY not in repr(backup)


def test_a_schedule_without_the_key_is_refused_saying_how_to_make_one() -> None:
    message = refused(backup={"schedule": "daily"})
    assert message.startswith("config ha-swarm:backup.schedule = 'daily' is refused: a schedule with the stack's secret backupKey")
    assert "make backup" in message


BAD = [
    ({"schedule": "daily\n"}, "backup.schedule"),
    ({"schedule": "daily; rm -rf /"}, "backup.schedule"),
    ({"schedule": "$(reboot)"}, "backup.schedule"),
    ({"schedule": "minutely"}, "backup.schedule"),
    ({"schedule": ""}, "backup.schedule"),
    ({"schedule": 3}, "backup.schedule"),
    ({"nodeDir": "relative/dir"}, "backup.nodeDir"),
    ({"nodeDir": "/var/../etc"}, "backup.nodeDir"),
    ({"nodeDir": "/var/backups/ha swarm"}, "backup.nodeDir"),
    ({"nodeDir": "/var/backups\n"}, "backup.nodeDir"),
]


@pytest.mark.parametrize(("backup", "key"), BAD)
def test_a_bad_schedule_or_node_folder_is_refused_naming_the_key(backup: dict[str, Any], key: str) -> None:
    assert refused(backup=backup, backupKey=IDENTITY).startswith(f"config ha-swarm:{key} = ")


def test_a_bad_schedule_is_refused_before_any_resource() -> None:
    assert "backup.schedule" in refused_before_any_resource(base_config(backup={"schedule": "`id`"}))


# -------------------------------------------------------------------------------- the program


def program(backup: dict[str, Any] | None) -> Program:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": 3, "workers": 2}
    if backup is not None:
        config["backup"] = backup
        config["backupKey"] = IDENTITY
    return run_program(config, secret=("backupKey",))


def test_without_a_schedule_the_program_declares_nothing_for_it() -> None:
    p = program({"keep": 3})
    assert not [r for r in p.resources if "backup" in r.name]


def test_every_manager_gets_the_timer_as_root_with_the_recipient_and_nothing_secret() -> None:
    p = program({"schedule": "*-*-* 03:00:00", "keep": 5, "nodeDir": "/srv/swarm-backups"})
    timers = sorted((r for r in p.resources if r.name.endswith("-backup-schedule")), key=lambda r: r.name)
    assert [r.name for r in timers] == ["manager-1-backup-schedule", "manager-2-backup-schedule", "manager-3-backup-schedule"]
    for timer in timers:
        words = shlex.split(timer.inputs["create"])
        assert words[:2] == ["sudo", "-n"] and words[5] == "backup-schedule.sh"
        assert words[6:] == ["install", "dev", "*-*-* 03:00:00", RECIPIENT, "5", "/srv/swarm-backups"]
        assert shlex.split(timer.inputs["delete"])[6:] == ["remove", "/srv/swarm-backups"]
        assert timer.delete_before_replace, "a new schedule: the old timer goes first"
        assert p.depends_on(timer, p.named("manager-3-join")), "installed once the managers are in the swarm"
        assert IDENTITY not in str(timer.inputs)
    assert not [r for r in p.resources if r.name.startswith("worker") and r.name.endswith("-backup-schedule")]


def test_the_job_travels_on_stdin_as_the_scripts_of_this_version_and_the_same_bytes_each_time() -> None:
    p = program({"schedule": "daily"})
    stdin = p.named("manager-1-backup-schedule").inputs["stdin"]
    assert stdin == job_bundle()
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == sorted(JOB_FILES)
        for name, member in members.items():
            assert member.mtime == 0 and member.uid == 0 and member.uname == ""
            extracted = tar.extractfile(member)
            assert extracted is not None and extracted.read().decode() == script_text(name)
    job_bundle.cache_clear()
    assert job_bundle() == stdin, "the bundle is the same bytes when built again"
