"""`backup` and `backupKey`: what `make backup` and `make restore` read (tools/backup.py).  The
program only checks them, so that a typo is refused before any resource as for every setting."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import CONFIG, object_setting, only, text_field, whole_field
from ha_swarm.config.model import BackupSettings

BACKUP_KEYS = ("keep", "dir")

# An age identity (age-keygen): the archives' key, kept as a Pulumi secret of the stack.
AGE_IDENTITY = re.compile(r"\s*AGE-SECRET-KEY-1[02-9ACDEFGHJKLMNPQRSTUVWXYZ]{58}\s*")
BACKUP_KEY_ALLOWED = (
    "an age identity (AGE-SECRET-KEY-1...) set as a secret: `make backup` makes one the first time, or: age-keygen | grep ^AGE | pulumi config set --secret backupKey"
)


def parse_backup(raw: Any) -> BackupSettings:
    """`backup`: `keep` (the last N archives kept, 1 to 1000) and `dir` (where they go)."""
    obj = object_setting("backup", raw)
    only(CONFIG, "backup", obj, BACKUP_KEYS)
    folder = text_field(obj, "dir", "backup.dir")
    if folder is not None and ("\n" in folder or "\0" in folder or not folder.strip()):
        raise CONFIG.refuse("backup.dir", folder, "a folder path on this machine, one line")
    return BackupSettings(keep=whole_field(obj, "keep", "backup.keep", BackupSettings.keep, 1, 1000), dir=folder.strip() if folder else None)


def check_backup_key(value: Any, secret: bool) -> None:
    """`backupKey`: an age identity, kept as a secret (never echoed in a refusal)."""
    if value is None:
        return
    if not isinstance(value, str) or not AGE_IDENTITY.fullmatch(value):
        raise CONFIG.refuse("backupKey", "<hidden>", BACKUP_KEY_ALLOWED)
    if not secret:
        raise CONFIG.refuse("backupKey", "<hidden>", f"{BACKUP_KEY_ALLOWED} (it is stored in plain text now)")
