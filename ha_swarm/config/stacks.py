"""`stacks` and `stackVariables`: the compose files and the extra ${NAME} values for them."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    SETTING_SCALAR,
    object_setting,
    only,
    scalar_text,
    text,
    text_field,
)
from ha_swarm.config.model import Settings, StackEntry

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STACK_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*")  # as swarm names services: it prefixes them

# Provided by the program itself (ha_swarm/apps/stacks.py); a stack variable may not redefine them.
RESERVED_STACK_VARIABLES = ("DOMAIN",)


STACK_ENTRY_KEYS = ("file", "name", "variables", "configs", "secrets")
STACKS_ALLOWED = "a list of compose file paths or {file, name, variables, configs, secrets}, such as [stacks/demo.yml]"


def parse_stacks(raw: Any) -> tuple[StackEntry, ...]:
    """`stacks`: plain paths, or entries {file, name, variables, configs, secrets}."""
    if raw is None:
        return Settings.stacks
    if not isinstance(raw, list):
        raise CONFIG.refuse("stacks", raw, STACKS_ALLOWED)
    return tuple(_entry(f"stacks[{i}]", item) for i, item in enumerate(raw))


def _entry(key: str, item: Any) -> StackEntry:
    if isinstance(item, str):
        return StackEntry(_file("stacks", item))
    obj = object_setting(key, item)
    only(CONFIG, key, obj, STACK_ENTRY_KEYS)
    name = text_field(obj, "name", f"{key}.name")
    if name is not None and not STACK_NAME.fullmatch(name):
        raise CONFIG.refuse(f"{key}.name", name, "a stack name of letters and digits with '-' or '_' between them")
    return StackEntry(
        file=_file(f"{key}.file", obj.get("file")),
        name=name,
        variables=_variables(f"{key}.variables", obj.get("variables"), reserved=()),
        configs=_objects(f"{key}.configs", obj.get("configs")),
        secrets=_objects(f"{key}.secrets", obj.get("secrets")),
    )


def _file(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CONFIG.refuse(key, value, STACKS_ALLOWED)
    if not re.search(r"\.ya?ml$", value):
        raise CONFIG.refuse(key, value, "compose files ending in .yml or .yaml")
    return value.strip()


def _objects(key: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """External configs or secrets: Docker name -> the path of the file that holds the content."""
    obj = object_setting(key, raw)
    return tuple(sorted((str(name), text(CONFIG, f"{key}.{name}", path, "the path of a file with its content")) for name, path in obj.items()))


def _variables(key: str, raw: Any, reserved: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    obj = object_setting(key, raw)
    pairs = []
    for name, value in obj.items():
        if not _VARIABLE_NAME.fullmatch(str(name)):
            raise CONFIG.refuse(f"{key}.{name}", value, "a variable name of letters, digits and '_', not starting with a digit")
        if name in reserved:
            raise CONFIG.refuse(f"{key}.{name}", value, f"a name other than {', '.join(reserved)}, which the program sets from its own settings")
        pairs.append((str(name), scalar_text(CONFIG, f"{key}.{name}", value, SETTING_SCALAR)))
    return tuple(sorted(pairs))


def parse_stack_variables(raw: Any) -> tuple[tuple[str, str], ...]:
    """`stackVariables`: extra ${NAME} values for the compose files (image references, for example)."""
    return _variables("stackVariables", raw, RESERVED_STACK_VARIABLES)
