"""The docker plugin ha-swarm builds (the Terraform docker provider bridged anew, since the module
proxy does not serve pulumi-docker) speaks the property names of the pulumi_docker SDK that
requirements.txt pins: every resource the SDK has, recursively, with the same shapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.toolchain import REPO, Toolchain

CHECK = REPO / "toolchain" / "check_docker_schema.py"
ALL_RESOURCES = "Service,Network,Volume,Secret,ServiceConfig,Container,Plugin,RegistryImage,RemoteImage,Tag"


def schema_of(toolchain: Toolchain) -> Path:
    schema = toolchain.root / "plugins" / "docker-schema.json"
    if not schema.is_file():
        pytest.skip(f"no {schema}: the docker plugin of this toolchain is pulumi-docker's own build, not the bridge")
    return schema


def test_the_built_docker_plugin_has_every_property_of_the_pinned_sdk(toolchain: Toolchain) -> None:
    res = subprocess.run([sys.executable, str(CHECK), str(schema_of(toolchain)), "--resources", ALL_RESOURCES], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_schema_check_catches_a_renamed_property(toolchain: Toolchain, tmp_path: Path) -> None:
    text = schema_of(toolchain).read_text()
    assert '"networksAdvanceds"' in text
    broken = tmp_path / "schema.json"
    broken.write_text(text.replace('"networksAdvanceds"', '"networksAdvancedList"'))
    res = subprocess.run([sys.executable, str(CHECK), str(broken)], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1 and "networksAdvanceds" in res.stdout + res.stderr
