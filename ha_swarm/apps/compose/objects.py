"""Configs and secrets: the top-level `configs:` and `secrets:` of a stack file and a service's
references to them (short and long syntax), as `docker stack deploy` reads them (cli/compose).

Swarm configs and secrets cannot change: `docker stack deploy` updates one in place only when its
data is unchanged.  Here each one's Docker name carries a digest of its content
(`<stack>_<key>-<digest>`), so a change creates a new one, rolls the services that use it, and the
old one is removed after.  A secret's digest is keyed (HMAC): its name says nothing about its data.

An external config or secret exists already for docker; the Docker provider cannot look one up by
name, so its content comes from the settings (`stacks[].configs` / `stacks[].secrets`) and the
program creates it, as `docker config/secret create` would before `docker stack deploy`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from ha_swarm.apps.compose.model import STACK_LABEL, FileObject, ObjectMount, StackContext
from ha_swarm.apps.compose.values import OBJECT_NAME, external_and_name, go_text, only_supported, pairs
from ha_swarm.config import checks

KINDS = ("secrets", "configs")  # in the order docker stack deploy creates them (and refuses them)
OBJECT_KEYS = ("file", "external", "name", "labels", "environment")
MOUNT_KEYS = ("source", "target", "uid", "gid", "mode")
NOT_EXPRESSIBLE = ("template_driver", "driver", "driver_opts")
DIGEST_LENGTH = 12
MAX_NAME = 64  # swarm's limit for a config or secret name


def digest(kind: str, data: bytes, key: bytes) -> str:
    if kind == "secrets":
        return hmac.new(key, data, hashlib.sha256).hexdigest()[:DIGEST_LENGTH]
    return hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]


def declared_objects(stack: StackContext, at: checks.At, kind: str, raw: Any, provided: Mapping[str, bytes], key: bytes) -> dict[str, FileObject | tuple[str, Any]]:
    """The configs (or secrets) a file declares, by key.  An external one without content from the
    settings is kept as (name, raw) and refused only if a service uses it."""
    found: dict[str, FileObject | tuple[str, Any]] = {}
    for name, value in checks.mapping(at, kind, raw, "a mapping of names to definitions").items():
        path = checks.join(kind, name)
        if not OBJECT_NAME.match(name):
            raise at.refuse(path, value, "a name of letters, digits, '_', '.' or '-'")
        obj = checks.mapping(at, path, value)
        for unsupported in NOT_EXPRESSIBLE:
            if unsupported in obj:
                raise at.refuse(checks.join(path, unsupported), obj[unsupported], f"nothing: the Docker provider cannot set a {kind[:-1]}'s {unsupported}")
        only_supported(at, path, obj, OBJECT_KEYS)
        external, docker_name = external_and_name(at, path, obj, file_object=True)
        if external:
            docker_name = docker_name or name
            if docker_name not in provided:
                found[name] = (docker_name, value)
                continue
            data = provided[docker_name]
        else:
            docker_name = docker_name or f"{stack.name}_{name}"
            data = _content(stack, at, path, obj)
        labels = tuple(sorted({**pairs(at, checks.join(path, "labels"), obj.get("labels"), lambda _k, _p: ""), STACK_LABEL: stack.name}.items()))
        versioned = f"{docker_name}-{digest(kind, data, key)}"
        if len(versioned) > MAX_NAME:
            raise at.refuse(
                path, docker_name, f"a name of {MAX_NAME - DIGEST_LENGTH - 1} characters at most (swarm takes {MAX_NAME}, and the name carries a digest of the content)"
            )
        found[name] = FileObject(kind=kind, key=name, name=docker_name, versioned_name=versioned, data=data, labels=labels, secret=kind == "secrets")
    return found


def _content(stack: StackContext, at: checks.At, path: str, obj: Mapping[str, Any]) -> bytes:
    sources = [k for k in ("file", "environment") if k in obj]
    if len(sources) != 1:
        raise at.refuse(path, dict(obj), "one of file (a path, relative to the compose file), environment (a variable's name) or external: true")
    if sources == ["environment"]:
        variable = checks.text(at, checks.join(path, "environment"), obj["environment"], "the name of a variable the program provides")
        if variable not in stack.variables:
            provided = ", ".join(sorted(stack.variables)) or "none"
            raise at.refuse(checks.join(path, "environment"), variable, f"the name of a variable the program provides ({provided})")
        return stack.variables[variable].encode()
    file = checks.text(at, checks.join(path, "file"), obj["file"], "a path, relative to the compose file")
    full = file if os.path.isabs(file) else os.path.join(stack.base_dir, file)
    try:
        with open(full, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise at.refuse(checks.join(path, "file"), file, f"a readable file, relative to the compose file ({error.strerror or error})") from None


def object_mounts(stack: StackContext, at: checks.At, kind: str, raw: Any) -> tuple[ObjectMount, ...]:
    """A service's `configs:` or `secrets:` (a name, or {source, target, uid, gid, mode}), sorted by
    name as docker stack deploy sorts them; uid and gid 0 and mode 0444 unless given, as docker sends."""
    declared = stack.objects[kind]
    mounts = []
    for i, item in enumerate(checks.items(at, kind, raw, f"a list of {kind} names or {{source, target, uid, gid, mode}}")):
        path = f"{kind}[{i}]"
        obj = {"source": item} if isinstance(item, str) else checks.mapping(at, path, item, "a name or {source, target, uid, gid, mode}")
        only_supported(at, path, obj, MOUNT_KEYS)
        source = checks.text(at, checks.join(path, "source"), obj.get("source"), f"the name of a {kind[:-1]} declared under the top-level {kind}:")
        if source not in declared:
            names = ", ".join(declared) or "none"
            raise at.refuse(checks.join(path, "source"), source, f"a {kind[:-1]} declared under the top-level {kind}: (declared: {names})")
        target = declared[source]
        if isinstance(target, tuple):
            external_name = target[0]
            raise at.refuse(
                checks.join(path, "source"),
                source,
                f"an external {kind[:-1]} whose content the settings give: the Docker provider cannot look up the existing {kind[:-1]} "
                f"{external_name!r}; give it as stacks[].{kind}.{external_name} (a file path) in the stack's settings",
            )
        mode = obj.get("mode", 0o444)
        if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            raise at.refuse(checks.join(path, "mode"), mode, "a file mode as a number, such as 0440 (octal) or 288")
        stack.used_objects[kind].add(source)
        mounts.append(
            ObjectMount(
                key=source,
                file_name=checks.text(at, checks.join(path, "target"), obj["target"]) if obj.get("target") else source,
                uid=go_text(at, checks.join(path, "uid"), obj.get("uid", "0")),
                gid=go_text(at, checks.join(path, "gid"), obj.get("gid", "0")),
                mode=mode,
            )
        )
    return tuple(sorted(mounts, key=lambda m: str(declared[m.key].name)))
