"""`engine`: the Docker Engine version every node should run."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    object_setting,
    only,
)
from ha_swarm.config.model import EngineSettings

ENGINE_KEYS = ("version",)

# A Docker Engine version as `docker version` reports it: 27.3.1, or with a distribution suffix (20.10.24+dfsg1).
_ENGINE_VERSION = re.compile(r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}([+~-][0-9A-Za-z][0-9A-Za-z.+~-]{0,40})?$")

_ENGINE_VERSION_ALLOWED = (
    "a Docker Engine version as `docker version` reports it: three numbers such as 27.3.1, optionally with a distribution suffix such as 20.10.24+dfsg1"
)


def parse_engine(raw: Any) -> EngineSettings:
    """`engine`: `version`, the Docker Engine every node should run (rolling upgrades)."""
    obj = object_setting("engine", raw)
    only(CONFIG, "engine", obj, ENGINE_KEYS)
    version = obj.get("version")
    if version is None:
        return EngineSettings()
    if not isinstance(version, str) or not _ENGINE_VERSION.fullmatch(version.strip()):
        raise CONFIG.refuse("engine.version", version, _ENGINE_VERSION_ALLOWED)
    return EngineSettings(version=version.strip())
