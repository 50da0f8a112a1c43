"""`swarm` (join-token rotation, autolock) and `nodeLabels`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    SETTING_SCALAR,
    bool_field,
    object_setting,
    only,
    scalar_text,
    text_field,
)
from ha_swarm.config.model import SwarmSettings

SWARM_KEYS = ("rotateTokens", "autolock", "restored", "restoredOn")

_GENERATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")

_GENERATION_ALLOWED = (
    "a generation: a whole number or a short word (letters, digits, '.', '_', ':', '+', '-'; at most 64), "
    "such as 1 or 2026-03; each new value rotates the join tokens on the next up"
)


_RESTORED_ALLOWED = (
    "the generation `make restore` records (letters, digits, '.', '_', ':', '+', '-'; at most 64); "
    "each new value joins every node but the first manager again on the next up"
)


def _generation(obj: Mapping[str, Any], name: str, allowed: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not _GENERATION.fullmatch(str(value).strip()):
        raise CONFIG.refuse(f"swarm.{name}", value, allowed)
    return str(value).strip()


def parse_swarm(raw: Any) -> SwarmSettings:
    """`swarm`: `rotateTokens` (a generation), `autolock` and `restored` (a generation)."""
    obj = object_setting("swarm", raw)
    only(CONFIG, "swarm", obj, SWARM_KEYS)
    return SwarmSettings(
        rotate_tokens=_generation(obj, "rotateTokens", _GENERATION_ALLOWED),
        autolock=bool_field(obj, "autolock", "swarm.autolock", SwarmSettings.autolock),
        restored=_generation(obj, "restored", _RESTORED_ALLOWED),
        restored_on=text_field(obj, "restoredOn", "swarm.restoredOn"),
    )


_LABEL_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


def parse_node_labels(raw: Any, names: Sequence[str]) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    obj = object_setting("nodeLabels", raw)
    result = []
    for node, labels in obj.items():
        if node not in names:
            raise CONFIG.refuse(f"nodeLabels.{node}", labels, f"labels for a node of this stack: {', '.join(names)}")
        if not isinstance(labels, Mapping):
            raise CONFIG.refuse(f"nodeLabels.{node}", labels, "a map of label name to value")
        pairs = []
        for k, v in labels.items():
            if not _LABEL_KEY.fullmatch(str(k)) or str(k).startswith("ha-swarm."):
                raise CONFIG.refuse(f"nodeLabels.{node}.{k}", v, "a label name of letters, digits, '.', '_', '-' (the ha-swarm. prefix is reserved)")
            pairs.append((str(k), scalar_text(CONFIG, f"nodeLabels.{node}.{k}", v, SETTING_SCALAR)))
        result.append((node, tuple(sorted(pairs))))
    return tuple(sorted(result))
