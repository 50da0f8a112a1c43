"""`stacks` and `stackVariables`: the compose files and the extra ${NAME} values for them."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    SETTING_SCALAR,
    object_setting,
    scalar_text,
)
from ha_swarm.config.model import Settings

_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Provided by the program itself (ha_swarm/apps/stacks.py); a stack variable may not redefine them.
RESERVED_STACK_VARIABLES = ("DOMAIN",)


def parse_stacks(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return Settings.stacks
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise CONFIG.refuse("stacks", raw, "a list of compose file paths, such as [stacks/demo.yml]")
    for path in raw:
        if not re.search(r"\.ya?ml$", path):
            raise CONFIG.refuse("stacks", path, "compose files ending in .yml or .yaml")
    return tuple(s.strip() for s in raw)


def parse_stack_variables(raw: Any) -> tuple[tuple[str, str], ...]:
    """`stackVariables`: extra ${NAME} values for the compose files (image references, for example)."""
    obj = object_setting("stackVariables", raw)
    pairs = []
    for name, value in obj.items():
        if not _VARIABLE_NAME.fullmatch(str(name)):
            raise CONFIG.refuse(f"stackVariables.{name}", value, "a variable name of letters, digits and '_', not starting with a digit")
        if name in RESERVED_STACK_VARIABLES:
            raise CONFIG.refuse(f"stackVariables.{name}", value, f"a name other than {', '.join(RESERVED_STACK_VARIABLES)}, which the program sets from its own settings")
        pairs.append((str(name), scalar_text(CONFIG, f"stackVariables.{name}", value, SETTING_SCALAR)))
    return tuple(sorted(pairs))
