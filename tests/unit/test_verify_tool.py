"""`python -m tools.verify`: from the stack's outputs and config to verify.sh over SSH on the first
manager.  `pulumi` and `ssh` are stand-ins on PATH that answer like the real ones and record how
they were called (the real run is in tests/e2e/test_lifecycle.py)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from ha_swarm.day2.verify_plan import verify_plan
from ha_swarm.nodes.remote import script_text
from tests.support.mocks import TEST_PRIVATE_KEY
from tools import verify as tool

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"
HOSTS = [
    {"name": "m1", "address": "203.0.113.11", "privateAddress": "10.0.0.11", "role": "manager", "port": 2222, "hostKey": HOST_KEY},
    {"name": "w1", "address": "203.0.113.21", "role": "worker"},
]
OUTPUTS: dict[str, Any] = {
    "nodes": [{"name": "m1", "role": "manager", "address": "203.0.113.11"}, {"name": "w1", "role": "worker", "address": "203.0.113.21"}],
    "services": [{"name": "traefik", "mode": "replicated", "replicas": 1}, {"name": "demo_whoami0", "mode": "replicated", "replicas": 2}],
    "endpoints": [{"service": "demo_whoami0", "host": "whoami0.traefik", "url": "http://203.0.113.11", "addresses": ["203.0.113.11", "203.0.113.21"], "sticky": False}],
    "managerAddress": "203.0.113.11",
    "hostKeys": {"nodes": {"m1": {"key": HOST_KEY, "pinned": "configured"}, "w1": {"key": HOST_KEY.replace("Host", "Wrk1"), "pinned": "first contact"}}},
}
CONFIG: dict[str, Any] = {
    "ha-swarm:target": {"value": "cloud", "secret": False},
    "ha-swarm:sshUser": {"value": "admin", "secret": False},
    "ha-swarm:cloud": {"value": json.dumps({"hosts": HOSTS}), "objectValue": {"hosts": HOSTS}, "secret": False},
    "ha-swarm:sshPrivateKey": {"value": TEST_PRIVATE_KEY, "secret": True},
    "ha-swarm:verify": {"value": "false", "secret": False},
    "other:key": {"value": "ignored", "secret": False},
}


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`pulumi` answering `stack output` and `config` from JSON files, `ssh` recording its argv and
    stdin and exiting with $FAKE_SSH_EXIT; every call of both logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    pulumi = f"""#!/bin/sh
printf '%s\\n' "$*" >>{tmp_path}/pulumi.calls
case "$1 $2" in
    "stack output") cat {tmp_path}/outputs.json ;;
    "config --show-secrets") cat {tmp_path}/config.json ;;
    *) echo "unexpected: $*" >&2; exit 3 ;;
esac
"""
    ssh = f"""#!/usr/bin/env python3
import json, os, sys
json.dump({{"argv": sys.argv[1:], "stdin": sys.stdin.read()}}, open("{tmp_path}/ssh.call", "w"))
print("CHECK  TARGET  RESULT  DETAIL")
sys.exit(int(os.environ.get("FAKE_SSH_EXIT", "0")))
"""
    for name, text in (("pulumi", pulumi), ("ssh", ssh)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.delenv("HA_SWARM_VERIFY_TIMEOUT", raising=False)
    return tmp_path


def ssh_call(fake_tools: Path) -> dict[str, Any]:
    return json.loads((fake_tools / "ssh.call").read_text())


def test_verify_runs_verify_sh_on_the_first_manager_with_the_plan_of_the_outputs(fake_tools: Path, private_home: Path) -> None:
    assert tool.main(["--stack", "prod", "--cwd", "/srv/ha-swarm"]) == 0
    calls = (fake_tools / "pulumi.calls").read_text().splitlines()
    assert calls == ["stack output --json --stack prod --cwd /srv/ha-swarm", "config --show-secrets --json --stack prod --cwd /srv/ha-swarm"]
    call = ssh_call(fake_tools)
    assert call["stdin"] == verify_plan(OUTPUTS["nodes"], OUTPUTS["services"], OUTPUTS["endpoints"])
    argv = call["argv"]
    # The Docker provider's options: the stack's key file, the configured host key checked, the host's port.
    key_file = Path(argv[argv.index("-i") + 1])
    assert key_file.parent == private_home / "keys" and key_file.read_text() == TEST_PRIVATE_KEY
    assert "StrictHostKeyChecking=yes" in argv
    known_hosts = next(o for o in argv if o.startswith("UserKnownHostsFile="))
    assert Path(known_hosts.split("=", 1)[1]).read_text() == f"[203.0.113.11]:2222 {HOST_KEY}\n"
    assert argv[argv.index("-p") + 1] == "2222"
    assert argv[-2] == "admin@203.0.113.11"
    command = shlex.split(argv[-1])
    assert command[:2] == ["bash", "-c"] and command[3:] == ["verify.sh"]
    assert script_text("verify.sh") in command[2], "the script goes inline, as the program sends it"


def test_a_timeout_goes_to_verify_sh_from_the_option_or_the_environment(fake_tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tool.main(["--timeout", "5"]) == 0
    assert shlex.split(ssh_call(fake_tools)["argv"][-1])[3:] == ["verify.sh", "5"]
    monkeypatch.setenv("HA_SWARM_VERIFY_TIMEOUT", "20")
    assert tool.main([]) == 0
    assert shlex.split(ssh_call(fake_tools)["argv"][-1])[3:] == ["verify.sh", "20"]


def test_verify_exits_with_the_scripts_status(fake_tools: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_SSH_EXIT", "1")
    assert tool.main([]) == 1
    monkeypatch.setenv("FAKE_SSH_EXIT", "255")
    assert tool.main([]) == 2
    assert "could not reach admin@203.0.113.11 over SSH" in capsys.readouterr().err


def test_a_stack_without_the_outputs_verify_reads_is_reported_not_checked(fake_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_tools / "outputs.json").write_text(json.dumps({k: v for k, v in OUTPUTS.items() if k != "services"}))
    assert tool.main([]) == 2
    assert "the stack has no output services: run `pulumi up`" in capsys.readouterr().err
    assert not (fake_tools / "ssh.call").exists()


def test_a_failing_pulumi_command_is_reported_with_its_message(fake_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_tools / "bin" / "pulumi").write_text("#!/bin/sh\necho 'error: no stack named prod found' >&2\nexit 255\n")
    assert tool.main(["--stack", "prod"]) == 2
    assert "error: no stack named prod found" in capsys.readouterr().err


def test_a_negative_timeout_is_refused(fake_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--timeout", "-1"]) == 2
    assert "--timeout -1 is refused" in capsys.readouterr().err


@pytest.mark.parametrize("as_json_text", [False, True], ids=["set-with-path", "set-as-json-text"])
def test_settings_come_from_the_namespace_of_the_config_with_objects_and_secrets(as_json_text: bool) -> None:
    config = dict(CONFIG)
    if as_json_text:  # `pulumi config set ha-swarm:cloud '{"hosts": ...}'`: no objectValue
        config["ha-swarm:cloud"] = {"value": json.dumps({"hosts": HOSTS}), "secret": False}
    settings = tool.settings_from_config(config)
    assert settings.target == "cloud" and settings.ssh_user == "admin"
    assert [n.name for n in settings.managers] == ["m1"]
    assert settings.managers[0].port == 2222 and settings.managers[0].host_key == HOST_KEY
    assert settings.ssh_private_key == TEST_PRIVATE_KEY


def test_verify_pins_the_key_the_stack_recorded_for_a_host_without_host_key(fake_tools: Path, private_home: Path) -> None:
    recorded = HOST_KEY.replace("HostKey", "Recorded")
    hosts = [{k: v for k, v in HOSTS[0].items() if k != "hostKey"}, HOSTS[1]]
    config = {**CONFIG, "ha-swarm:cloud": {"value": json.dumps({"hosts": hosts}), "objectValue": {"hosts": hosts}, "secret": False}}
    outputs = {**OUTPUTS, "hostKeys": {"nodes": {"m1": {"key": recorded, "pinned": "recorded at the first contact (trust on first use)"}}}}
    (fake_tools / "config.json").write_text(json.dumps(config))
    (fake_tools / "outputs.json").write_text(json.dumps(outputs))
    assert tool.main([]) == 0
    argv = ssh_call(fake_tools)["argv"]
    assert "StrictHostKeyChecking=yes" in argv and "StrictHostKeyChecking=no" not in argv
    known_hosts = next(o for o in argv if o.startswith("UserKnownHostsFile="))
    assert Path(known_hosts.split("=", 1)[1]).read_text() == f"[203.0.113.11]:2222 {recorded}\n"


def test_a_stack_without_pinned_host_keys_is_reported_not_reached_unchecked(fake_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_tools / "outputs.json").write_text(json.dumps({k: v for k, v in OUTPUTS.items() if k != "hostKeys"}))
    assert tool.main([]) == 2
    assert "no pinned host key for m1 (output hostKeys): run `pulumi up`" in capsys.readouterr().err
    assert not (fake_tools / "ssh.call").exists()
