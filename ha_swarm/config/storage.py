"""`storage`: NFS served by the lab's first manager."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    bool_field,
    object_setting,
    only,
)
from ha_swarm.config.model import StorageSettings

STORAGE_KEYS = ("nfs", "export")

# Folders an NFS export may not be (or be under): the system's own.
_SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr", "/var/lib/docker")

_EXPORT_ALLOWED = "an absolute folder path of plain names such as /srv/nfs (letters, digits, '.', '_', '-'), not / or a system folder (/etc, /usr, /var/lib/docker...)"


def parse_storage(raw: Any, target: str, stack_variables: Any) -> StorageSettings:
    """`storage`: `nfs` (the lab's first manager serves NFS) and its `export` folder."""
    obj = object_setting("storage", raw)
    only(CONFIG, "storage", obj, STORAGE_KEYS)
    nfs = bool_field(obj, "nfs", "storage.nfs", StorageSettings.nfs)
    if nfs and target != "lab":
        raise CONFIG.refuse(
            "storage.nfs",
            True,
            "a lab option only (the first lab VM serves NFS); on target cloud, point the volumes' driver_opts at your own NFS server "
            "(o: addr=..., device: :/export), for example through stackVariables NFS_ADDR and NFS_EXPORT",
        )
    export = obj.get("export", StorageSettings.export)
    if "export" in obj and not nfs:
        raise CONFIG.refuse("storage.export", export, "an export folder only together with storage.nfs: true")
    steps = export.split("/")[1:] if isinstance(export, str) and export.startswith("/") else []
    plain = bool(steps) and all(re.fullmatch(r"[A-Za-z0-9._-]+", step) and step not in (".", "..") for step in steps)
    if not plain or any(export == f or export.startswith(f + "/") for f in _SYSTEM_FOLDERS):
        raise CONFIG.refuse("storage.export", export, _EXPORT_ALLOWED)
    if nfs and isinstance(stack_variables, Mapping):
        for name in ("NFS_ADDR", "NFS_EXPORT"):
            if name in stack_variables:
                raise CONFIG.refuse(
                    f"stackVariables.{name}", stack_variables[name], f"no {name} while storage.nfs is on: the program sets it (the first manager's NFS server)"
                )
    return StorageSettings(nfs=nfs, export=export)
