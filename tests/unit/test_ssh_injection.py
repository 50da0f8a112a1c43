"""Issue 17: the ssh command lines the program builds (the Docker provider's options, `make verify`'s
argv) run through a real shell with a stub `ssh` that acts as OpenSSH does with a ProxyCommand
(`sh -c` after %h/%p are put in); nothing but the stub may run, whatever the user's home holds."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ha_swarm.config import parse_settings
from ha_swarm.ingress.docker_access import write_key_file
from tests.unit.test_settings import TEST_PRIVATE_KEY, lab
from tools.verify import ssh_argv

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"
JUMP_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJumpHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxx"

# A stub ssh: records its argv (one word a line, a blank line after), runs the ProxyCommand the way
# OpenSSH does (the user's shell, -c, with %h and %p replaced) and checks the files it is given.
STUB = r"""#!/bin/bash
set -euo pipefail
{ printf '%s\n' "$@"; echo; } >> "$STUB_LOG"
proxy="" port=22
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        -o) value=${args[i+1]}
            case "$value" in
                ProxyCommand=*) proxy=${value#ProxyCommand=} ;;
                UserKnownHostsFile=*) file=${value#UserKnownHostsFile=}
                    # ssh takes several files separated by blanks, unless the value is quoted
                    if [[ $file == \"*\" ]]; then file=${file:1:-1}; else file=${file%%[[:space:]]*}; fi
                    [ "$file" = /dev/null ] || [ -f "$file" ] || { echo "no known_hosts file $file" >&2; exit 3; } ;;
            esac ;;
        -i) [ -f "${args[i+1]}" ] || { echo "no key file ${args[i+1]}" >&2; exit 3; } ;;
        -p) port=${args[i+1]} ;;
    esac
done
if [ -n "$proxy" ]; then
    host=${args[-1]#*@}
    command=${proxy//%h/$host}
    command=${command//%p/$port}
    /bin/sh -c "exec $command"
fi
"""

HOSTILE_HOMES = ["$(touch PWNED)", "`touch PWNED`", "a b; touch PWNED", "x' ; touch PWNED; echo '", 'q" && touch PWNED && "']


@pytest.fixture
def stub_ssh(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(STUB)
    ssh.chmod(ssh.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _run_through_a_shell(argv: list[str], bin_dir: Path, cwd: Path) -> list[list[str]]:
    """ARGV as a shell runs a quoted command line; the argv of every ssh the stub saw."""
    log = cwd / "ssh.log"
    command = " ".join(_quote(word) for word in argv)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log)}
    result = subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().split("\n\n")
    return [call.split("\n") for call in calls if call.strip()]


def _quote(word: str) -> str:
    import shlex

    return shlex.quote(word)


@pytest.mark.parametrize("home", HOSTILE_HOMES)
def test_the_proxy_command_through_the_jump_host_runs_nothing_but_ssh(home: str, tmp_path: Path, stub_ssh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    hostile = tmp_path / home
    monkeypatch.setenv("HA_SWARM_HOME", str(hostile))
    settings = parse_settings(lab(uri="qemu+ssh://ops@hv.example.com:2222/system"))
    spec = settings.managers[0]
    key_path = write_key_file(TEST_PRIVATE_KEY)
    calls = _run_through_a_shell(ssh_argv(spec, key_path, HOST_KEY, JUMP_HOST_KEY), stub_ssh, work)
    assert not list(tmp_path.rglob("PWNED")), "a value in the ssh command lines ran as a command"
    assert len(calls) == 2, "the outer ssh, then the jump host's ssh of the ProxyCommand"
    jump = calls[1]
    assert jump[jump.index("-i") + 1] == key_path, "the key path reaches the jump host's ssh as one word"
    assert jump[-1] == "ops@hv.example.com" and jump[jump.index("-p") + 1] == "2222"
    assert jump[jump.index("-W") + 1] == f"{spec.ssh_address}:22"
    assert "StrictHostKeyChecking=yes" in jump, "the jump host's key is pinned too"
    known = next(w for w in jump if w.startswith("UserKnownHostsFile=")).split("=", 1)[1].strip('"')
    assert Path(known).read_text() == f"[hv.example.com]:2222 {JUMP_HOST_KEY}\n"


@pytest.mark.parametrize("home", HOSTILE_HOMES)
def test_a_pinned_host_key_file_in_any_home_reaches_ssh_whole(home: str, tmp_path: Path, stub_ssh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HA_SWARM_HOME", str(tmp_path / home))
    raw = {"target": "cloud", "sshPrivateKey": TEST_PRIVATE_KEY, "cloud": {"hosts": [{"name": "m1", "address": "203.0.113.11", "role": "manager", "hostKey": HOST_KEY}]}}
    spec = parse_settings(raw).managers[0]
    (call,) = _run_through_a_shell(ssh_argv(spec, write_key_file(TEST_PRIVATE_KEY), HOST_KEY), stub_ssh, work)
    assert not list(tmp_path.rglob("PWNED"))
    assert "StrictHostKeyChecking=yes" in call
