"""Unit tests never write keys into the user's ~/.ha-swarm."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ha-swarm-home"
    monkeypatch.setenv("HA_SWARM_HOME", str(home))
    return home
