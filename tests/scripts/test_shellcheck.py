"""Static checks of the node-side scripts: shellcheck clean, strict mode, a side-effect-free lib.sh."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "ha_swarm" / "nodes" / "scripts"
ALL = sorted(SCRIPTS.glob("*.sh"))
# Libraries (only functions, sent in front of the scripts): lib.sh, and backup-lib.sh for the backup scripts.
LIBS = ("lib.sh", "backup-lib.sh")
NOT_LIB = [p for p in ALL if p.name not in LIBS]
CONTRACT = [
    "wait-ready.sh",
    "swarm-init.sh",
    "swarm-tokens.sh",
    "swarm-join.sh",
    "swarm-leave.sh",
    "node-settle.sh",
    "node-drain.sh",
    "node-remove.sh",
]


def _shellcheck() -> str:
    path = shutil.which("shellcheck")
    if not path:
        pytest.fail("shellcheck not found (install the shellcheck package); it is required, not optional")
    return path


def test_contract_scripts_exist():
    missing = [name for name in ["lib.sh", *CONTRACT] if not (SCRIPTS / name).is_file()]
    assert not missing, f"missing scripts: {missing}"


@pytest.mark.parametrize("cwd", [REPO, SCRIPTS], ids=["from-repo-root", "from-scripts-dir"])
def test_shellcheck_clean(cwd):
    shellcheck = _shellcheck()
    res = subprocess.run([shellcheck, "-x", *[os.path.relpath(p, cwd) for p in ALL]], cwd=cwd, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("script", NOT_LIB, ids=lambda p: p.name)
def test_script_uses_strict_mode(script):
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash", f"{script.name}: wrong shebang"
    code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    assert code and code[0] == "set -euo pipefail", f"{script.name}: the first command must be 'set -euo pipefail'"


@pytest.mark.parametrize("name", [n for n in CONTRACT], ids=str)
def test_script_loads_lib_only_when_not_already_loaded(name):
    text = (SCRIPTS / name).read_text()
    assert "if ! declare -F hs_docker >/dev/null; then" in text
    assert "# shellcheck source=lib.sh" in text
    assert '. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"' in text


def test_lib_has_no_side_effects_when_sourced(tmp_path):
    """Sourcing lib.sh (even under set -euo pipefail) prints nothing, does not exit, runs no docker/sudo
    and changes no shell option; it defines the documented functions."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "called"
    for tool in ("docker", "sudo", "cloud-init", "sleep"):
        stub = bindir / tool
        stub.write_text(f"#!/bin/sh\necho {tool} >> {marker}\n")
        stub.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    probe = f"""
before_o=$(set +o); before_s=$(shopt -p)
. {SCRIPTS / "lib.sh"}
rc=$?
after_o=$(set +o); after_s=$(shopt -p)
[ "$before_o" = "$after_o" ] || {{ echo "set options changed" >&2; exit 10; }}
[ "$before_s" = "$after_s" ] || {{ echo "shopt options changed" >&2; exit 11; }}
for f in hs_docker hs_log hs_die hs_swarm_state hs_wait; do declare -F "$f" >/dev/null || {{ echo "missing $f" >&2; exit 12; }}; done
echo "sourced rc=$rc"
"""
    for strict in ("", "set -euo pipefail"):
        res = subprocess.run(
            ["bash", "-c", strict + "\n" + probe],
            cwd=work,
            env={"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        assert res.stdout == "sourced rc=0\n"
        assert res.stderr == ""
        assert not marker.exists(), f"sourcing lib.sh ran: {marker.read_text()}"
        assert list(work.iterdir()) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "work"]


def test_lib_hs_log_and_hs_die():
    res = subprocess.run(
        ["bash", "-c", f". {SCRIPTS / 'lib.sh'}; hs_log hello world; hs_die bad thing; echo not reached", "demo.sh"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr == "demo.sh: hello world\ndemo.sh: bad thing\n"


def test_lib_hs_docker_respects_docker_host_and_falls_back_to_sudo(tmp_path):
    """Which command hs_docker picks (not a behaviour test of the scripts: only the selection logic)."""
    probe = f'. {SCRIPTS / "lib.sh"}; hs_docker_argv; echo "${{HS_DOCKER_ARGV[*]}}"'
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    with_host = subprocess.run(["bash", "-c", probe], env={**env, "DOCKER_HOST": "unix:///nowhere.sock"}, capture_output=True, text=True, check=False)
    assert with_host.stdout.strip() == "docker"
    if os.geteuid() == 0:
        as_root = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, check=False)
        assert as_root.stdout.strip() == "docker"
        nobody = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", "-c", probe], env=env, capture_output=True, text=True, check=False, cwd="/"
        )
        if not os.path.exists("/var/run/docker.sock"):
            assert nobody.stdout.strip() == "sudo -n docker", nobody.stderr
