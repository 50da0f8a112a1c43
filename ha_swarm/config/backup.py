"""`backup` and `backupKey`: what `make backup` and `make restore` read (tools/backup.py), and the
scheduled backup on the managers (`backup.schedule`, ha_swarm/day2/backup_schedule.py)."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import CONFIG, object_setting, only, text_field, whole_field
from ha_swarm.config.model import BackupSettings

BACKUP_KEYS = ("keep", "dir", "schedule", "nodeDir")

# A systemd calendar expression (OnCalendar=, systemd.time(7)): a shorthand, or dates, times and
# weekdays of these characters; the managers check it again with `systemd-analyze calendar`.
SCHEDULE_SHORTHANDS = ("hourly", "daily", "weekly", "monthly", "quarterly", "semiannually", "yearly", "annually")
SCHEDULE = re.compile("|".join(SCHEDULE_SHORTHANDS) + r"|[A-Za-z0-9*,./:~ -]{1,80}")
SCHEDULE_ALLOWED = "a systemd calendar expression (OnCalendar=, systemd.time(7)): daily, weekly, 'Mon..Fri 03:00', '*-*-* 02:30:00'; at most hourly"
TOO_OFTEN = ("minutely", "secondly")
# The folder the managers keep their scheduled archives in: an absolute path of plain names.
NODE_DIR = re.compile(r"(?:/[A-Za-z0-9._-]+)+")

# An age identity (age-keygen): the archives' key, kept as a Pulumi secret of the stack.
AGE_IDENTITY = re.compile(r"\s*AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}\s*")
BACKUP_KEY_ALLOWED = (
    "an age identity (AGE-SECRET-KEY-1...) set as a secret: `make backup` makes one the first time, or: age-keygen | grep ^AGE | pulumi config set --secret backupKey"
)


def parse_backup(raw: Any) -> BackupSettings:
    """`backup`: `keep` (the last N archives kept, 1 to 1000), `dir` (where they go), `schedule` and
    `nodeDir` (the managers' timer and their folder)."""
    obj = object_setting("backup", raw)
    only(CONFIG, "backup", obj, BACKUP_KEYS)
    folder = text_field(obj, "dir", "backup.dir")
    if folder is not None and ("\n" in folder or "\0" in folder or not folder.strip()):
        raise CONFIG.refuse("backup.dir", folder, "a folder path on this machine, one line")
    # Both reach a shell and a unit file on the managers: the value as given is matched whole.
    schedule = obj.get("schedule")
    if schedule is not None and (
        not isinstance(schedule, str) or not SCHEDULE.fullmatch(schedule) or schedule != schedule.strip() or any(w in schedule.lower() for w in TOO_OFTEN)
    ):
        raise CONFIG.refuse("backup.schedule", schedule, SCHEDULE_ALLOWED)
    node_dir = obj.get("nodeDir", BackupSettings.node_dir)
    if not isinstance(node_dir, str) or not NODE_DIR.fullmatch(node_dir) or any(part in (".", "..") for part in node_dir.split("/")):
        raise CONFIG.refuse("backup.nodeDir", node_dir, "an absolute folder path on the managers, of letters, digits, '.', '_' and '-' (such as /var/backups/ha-swarm)")
    return BackupSettings(
        keep=whole_field(obj, "keep", "backup.keep", BackupSettings.keep, 1, 1000),
        dir=folder.strip() if folder else None,
        schedule=schedule,
        node_dir=node_dir,
    )


def check_backup_key(value: Any, secret: bool) -> None:
    """`backupKey`: an age identity, kept as a secret (never echoed in a refusal)."""
    if value is None:
        return
    if not isinstance(value, str) or not AGE_IDENTITY.fullmatch(value):
        raise CONFIG.refuse("backupKey", "<hidden>", BACKUP_KEY_ALLOWED)
    if not secret:
        raise CONFIG.refuse("backupKey", "<hidden>", f"{BACKUP_KEY_ALLOWED} (it is stored in plain text now)")
