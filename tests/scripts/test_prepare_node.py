"""prepare-node.sh's decisions that need no real install: refusals before anything changes.

The install, group and firewall paths are exercised on the test hosts of the harness."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "ha_swarm" / "nodes" / "scripts" / "prepare-node.sh"

if os.geteuid() != 0:
    pytest.skip("prepare-node.sh runs as root", allow_module_level=True)


def run(tmp_path: Path, os_release: str, *args: str, dockerd_version: str | None = None) -> subprocess.CompletedProcess:
    """Run the script with a chosen /etc/os-release and, optionally, a dockerd that reports an old version.

    Without `dockerd_version`, PATH holds no dockerd at all (Debian's lives in /usr/sbin)."""
    release = tmp_path / "os-release"
    release.write_text(os_release)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if dockerd_version:
        stub = bin_dir / "dockerd"
        stub.write_text(f"#!/bin/sh\necho 'Docker version {dockerd_version}, build 0000000'\n")
        stub.chmod(0o755)
    # The host's own users and groups are not the test's to change: usermod and groupadd only record their call.
    for tool in ("usermod", "groupadd"):
        recorder = bin_dir / tool
        recorder.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        recorder.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HA_SWARM_OS_RELEASE": str(release)}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def refused(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode != 0, res.stderr
    for needle in needles:
        assert needle in res.stderr, res.stderr


def test_an_unsupported_distribution_without_docker_is_refused(tmp_path: Path) -> None:
    res = run(tmp_path, 'ID=arch\nNAME="Arch Linux"\n', "root")
    refused(res, "unsupported distribution 'arch'", "20.10")


def test_rhel_family_without_docker_needs_dockers_repository(tmp_path: Path) -> None:
    res = run(tmp_path, 'ID="rocky"\nID_LIKE="rhel centos fedora"\n', "root", "distro")
    refused(res, "rocky has no Docker Engine in its own packages", "cloud.dockerSource")


def test_a_docker_engine_older_than_20_10_is_refused(tmp_path: Path) -> None:
    res = run(tmp_path, "ID=debian\n", "root", dockerd_version="19.03.15")
    refused(res, "Docker Engine 19.03.15 is too old", "20.10")


@pytest.mark.parametrize("version", ["20.10.24+dfsg1", "26.1.5", "29.0.0"])
def test_a_recent_docker_engine_is_kept_and_the_user_joins_the_docker_group(tmp_path: Path, version: str) -> None:
    res = run(tmp_path, "ID=debian\n", "root", dockerd_version=version)
    assert res.returncode == 0, res.stderr
    assert "installing" not in res.stderr, "an installed Docker Engine is never reinstalled"
    in_group = " docker " in f" {subprocess.run(['id', '-nG', 'root'], capture_output=True, text=True, check=True).stdout.strip()} "
    calls = (tmp_path / "calls").read_text() if (tmp_path / "calls").exists() else ""
    assert calls == ("" if in_group else "usermod -aG docker root\n")


def test_a_user_not_on_the_host_is_refused(tmp_path: Path) -> None:
    refused(run(tmp_path, "ID=debian\n", "nobody-such-user-ha-swarm"), "user nobody-such-user-ha-swarm does not exist")


def test_an_unknown_docker_source_is_refused(tmp_path: Path) -> None:
    refused(run(tmp_path, "ID=debian\n", "root", "snap"), "unknown Docker source 'snap'")
