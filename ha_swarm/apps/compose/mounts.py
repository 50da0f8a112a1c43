"""A service's `volumes`: bind, volume and tmpfs mounts, short and long syntax."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ha_swarm.apps.compose.model import StackContext
from ha_swarm.apps.compose.values import OBJECT_NAME, label_list, only_supported, size_bytes
from ha_swarm.config import checks

MOUNT_KEYS = ("type", "source", "target", "read_only", "bind", "volume", "tmpfs")
MOUNT_TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


@dataclass(frozen=True)
class _MountRequest:
    kind: str
    source: str | None
    target: str
    read_only: bool = False
    no_copy: bool = False
    propagation: str | None = None
    tmpfs_size: int | None = None


def mount(stack: StackContext, at: checks.At, path: str, item: Any) -> dict[str, Any]:
    def ignored(option: str) -> None:
        stack.ignore_here(f"volume option {option}", f"docker stack deploy ignores it ({item})")

    request = _long_mount(at, path, checks.mapping(at, path, item)) if isinstance(item, Mapping) else _short_mount(at, path, item, ignored)
    mount: dict[str, Any] = {"type": request.kind, "target": request.target, "read_only": request.read_only}
    if request.kind == "bind":
        mount["source"] = _bind_source(stack, at, path, request.source)
        if request.propagation:
            mount["bind_options"] = {"propagation": request.propagation}
    elif request.kind == "volume":
        mount.update(_volume_mount(stack, at, path, request))
    elif request.tmpfs_size is not None:
        mount["tmpfs_options"] = {"size_bytes": request.tmpfs_size}
    return mount


def _short_mount(at: checks.At, path: str, item: Any, ignored: Callable[[str], None]) -> _MountRequest:
    allowed = "SOURCE:TARGET[:OPTIONS] or TARGET, or the long syntax {type, source, target, read_only}"
    parts = checks.text(at, path, item, allowed).split(":")
    if len(parts) > 3:
        raise at.refuse(path, item, allowed)
    source, target = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    kind = "bind" if source is not None and source.startswith(("/", ".", "~")) else "volume"  # docker's file paths
    read_only, no_copy, propagation = False, False, None
    for option in parts[2].split(",") if len(parts) == 3 else ():
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif option == "nocopy" and kind == "volume":
            no_copy = True
        elif option in PROPAGATIONS and kind == "bind":
            propagation = option
        elif option in ("nocopy", *PROPAGATIONS):
            raise at.refuse(path, item, f"options ro or rw, plus nocopy for a volume or one of {', '.join(PROPAGATIONS)} for a bind mount")
        else:  # z, Z, cached, delegated...: docker's parser ignores them
            ignored(option)
    return _MountRequest(kind, source, _mount_target(at, path, item, target), read_only, no_copy, propagation)


def _long_mount(at: checks.At, path: str, obj: Mapping[str, Any]) -> _MountRequest:
    only_supported(at, path, obj, MOUNT_KEYS)
    kind = checks.choice(at, checks.join(path, "type"), obj.get("type"), MOUNT_TYPES)
    for sub, owner in (("bind", "bind"), ("volume", "volume"), ("tmpfs", "tmpfs")):
        if sub in obj and kind != owner:
            raise at.refuse(checks.join(path, sub), obj[sub], f"only with type: {owner}")
    bind = checks.mapping(at, checks.join(path, "bind"), obj.get("bind"))
    volume = checks.mapping(at, checks.join(path, "volume"), obj.get("volume"))
    tmpfs = checks.mapping(at, checks.join(path, "tmpfs"), obj.get("tmpfs"))
    only_supported(at, checks.join(path, "bind"), bind, ("propagation",))
    only_supported(at, checks.join(path, "volume"), volume, ("nocopy",))
    only_supported(at, checks.join(path, "tmpfs"), tmpfs, ("size",))
    source = checks.text(at, checks.join(path, "source"), obj["source"]) if obj.get("source") is not None else None
    if kind == "bind" and source is None:
        raise at.refuse(checks.join(path, "source"), None, "a host path (a bind mount needs a source)")
    if kind == "tmpfs" and source is not None:
        raise at.refuse(checks.join(path, "source"), source, "nothing: a tmpfs mount has no source")
    return _MountRequest(
        kind=kind,
        source=source,
        target=_mount_target(at, checks.join(path, "target"), obj.get("target"), obj.get("target")),
        read_only=checks.boolean(at, checks.join(path, "read_only"), obj.get("read_only", False)),
        no_copy=checks.boolean(at, checks.join(path, "volume.nocopy"), volume.get("nocopy", False)),
        propagation=checks.choice(at, checks.join(path, "bind.propagation"), bind["propagation"], PROPAGATIONS) if "propagation" in bind else None,
        tmpfs_size=size_bytes(at, checks.join(path, "tmpfs.size"), tmpfs["size"]) if "size" in tmpfs else None,
    )


def _mount_target(at: checks.At, path: str, item: Any, target: Any) -> str:
    if not isinstance(target, str) or not target.startswith("/"):
        raise at.refuse(path, item, "an absolute path inside the container as the mount target")
    return target


def _bind_source(stack: StackContext, at: checks.At, path: str, source: str | None) -> str:
    """A bind source as the docker client resolves it: the first `~` is the client's HOME (here the
    program's variable HOME), and a relative path is relative to the compose file."""
    assert source is not None
    if source.startswith("~"):
        if "HOME" not in stack.variables:
            raise at.refuse(path, source, "a host path: ~ stands for the HOME of whoever runs docker stack deploy; give HOME as a stack variable (stackVariables.HOME)")
        source = source.replace("~", stack.variables["HOME"], 1)
    if source.startswith("/"):
        return source
    if source.startswith(".") or source.startswith("~") or "/" in source:  # relative to the compose file
        return os.path.normpath(os.path.join(stack.base_dir, source))
    raise at.refuse(path, source, "an absolute host path, or one starting with . or ~ (relative to the compose file or HOME)")


def _volume_mount(stack: StackContext, at: checks.At, path: str, request: _MountRequest) -> dict[str, Any]:
    if request.source is None:  # an anonymous volume
        return {"volume_options": {"no_copy": True}} if request.no_copy else {}
    volume = stack.volumes.get(request.source)
    if volume is None:
        declared = ", ".join(stack.volumes) or "none"
        why = "a named volume declared under the top-level volumes:" if OBJECT_NAME.match(request.source) else "a host path starting with / or ., or a volume name"
        raise at.refuse(path, request.source, f"{why} (declared: {declared})")
    stack.used_volumes.add(volume.key)
    options: dict[str, Any] = {"no_copy": request.no_copy}
    if not volume.external:
        options["labels"] = label_list(dict(volume.labels))
        if volume.driver:
            options["driver_name"] = volume.driver
        if volume.driver_opts:
            options["driver_options"] = dict(volume.driver_opts)
    return {"source": volume.name, "volume_options": options}
