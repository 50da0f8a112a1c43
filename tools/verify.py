"""Check a deployed stack's cluster the way the tutorial does by hand, and print a table.

    python -m tools.verify [--stack NAME] [--cwd DIR] [--timeout SECONDS]      (make verify [STACK=name])

Reads the stack outputs (`pulumi stack output --json`: `nodes`, `services`, `endpoints`) into the
plan of `ha_swarm/nodes/scripts/verify.sh` (ha_swarm/day2/verify_plan.py, the same plan that the setting
`verify: true` runs as the last step of `pulumi up`), and runs that script over SSH on the first
manager, with the stack's key (read with `pulumi config --show-secrets` and written to the Docker
provider's private key file) and the Docker provider's SSH options (the host keys pinned by the stack,
output `hostKeys`; the jump host).
The script prints the table (CHECK, TARGET, RESULT, DETAIL).  Exit status: 0 every check passed,
1 a check failed, 2 the checks could not be run (no outputs, no SSH).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ha_swarm.config import NAMESPACE, SettingsError, parse_settings
from ha_swarm.config.model import Settings
from ha_swarm.day2.verify_plan import PlanError, timeout_from_environment, verify_plan
from ha_swarm.ingress.docker_access import ssh_options, write_key_file
from ha_swarm.nodes.node import NodeSpec
from ha_swarm.nodes.remote import script_command

SSH_UNREACHABLE = 255  # what ssh exits with when it cannot connect or authenticate


class VerifyError(RuntimeError):
    """The checks could not be run; the message says why."""


def pulumi_json(args: Sequence[str], stack: str | None, cwd: str | None) -> Any:
    """`pulumi ARGS --json` for the stack, parsed."""
    argv = ["pulumi", *args, "--json", *(["--stack", stack] if stack else []), *(["--cwd", cwd] if cwd else [])]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise VerifyError("the Pulumi CLI (pulumi) is not on PATH") from None
    if res.returncode != 0:
        raise VerifyError(f"`{' '.join(argv)}` failed: {res.stderr.strip()}")
    return json.loads(res.stdout or "null")


def _config_value(entry: Mapping[str, Any]) -> Any:
    """A value as the program reads it: an object set with --path comes as `objectValue`; an object
    set as JSON text (`pulumi config set KEY '{...}'`) is parsed, as `Config.get_object` does."""
    if "objectValue" in entry:
        return entry["objectValue"]
    value = entry.get("value")
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value


def settings_from_config(config: Mapping[str, Mapping[str, Any]]) -> Settings:
    """The stack's settings from `pulumi config --json --show-secrets`."""
    raw: dict[str, Any] = {}
    secret: list[str] = []
    for full_key, entry in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        raw[key] = _config_value(entry)
        if entry.get("secret"):
            secret.append(key)
    return parse_settings(raw, secret)


def plan_from_outputs(outputs: Mapping[str, Any]) -> str:
    missing = [k for k in ("nodes", "services", "endpoints") if k not in outputs]
    if missing:
        raise VerifyError(f"the stack has no output {', '.join(missing)}: run `pulumi up` (with this version of ha-swarm) first")
    return verify_plan(outputs["nodes"], outputs["services"], outputs["endpoints"])


def ssh_argv(spec: NodeSpec, key_path: str, host_key: str, jump_host_key: str | None = None) -> list[str]:
    """The ssh command line that reaches SPEC as the Docker provider does, pinning its host key."""
    return ["ssh", *ssh_options(spec, key_path, host_key, jump_host_key), "-p", str(spec.port), f"{spec.user}@{spec.ssh_address}"]


def pinned_keys(outputs: Mapping[str, Any], spec: NodeSpec) -> tuple[str, str | None]:
    """The host key of SPEC and of its jump host, from the stack output `hostKeys`."""
    keys = outputs.get("hostKeys")
    node = (keys or {}).get("nodes", {}).get(spec.name) if isinstance(keys, Mapping) else None
    if not isinstance(node, Mapping) or not node.get("key"):
        raise VerifyError(f"the stack has no pinned host key for {spec.name} (output hostKeys): run `pulumi up` (with this version of ha-swarm) first")
    jump = keys.get("jumpHost") if isinstance(keys, Mapping) else None
    if spec.jump is not None and not (isinstance(jump, Mapping) and jump.get("key")):
        raise VerifyError("the stack has no pinned host key for the jump host (output hostKeys.jumpHost): run `pulumi up` (with this version of ha-swarm) first")
    return str(node["key"]), str(jump["key"]) if spec.jump is not None and isinstance(jump, Mapping) else None


def run(stack: str | None, cwd: str | None, timeout: int | None) -> int:
    outputs = pulumi_json(["stack", "output"], stack, cwd) or {}
    plan = plan_from_outputs(outputs)
    settings = settings_from_config(pulumi_json(["config", "--show-secrets"], stack, cwd) or {})
    first = settings.managers[0]
    host_key, jump_host_key = pinned_keys(outputs, first)
    key_path = write_key_file(settings.ssh_private_key)
    command = script_command("verify.sh", *([str(timeout)] if timeout is not None else []))
    print(f"verify: checking the cluster from {first.name} ({first.ssh_address})", file=sys.stderr, flush=True)
    res = subprocess.run([*ssh_argv(first, key_path, host_key, jump_host_key), command], input=plan, text=True, check=False)
    if res.returncode == SSH_UNREACHABLE:
        raise VerifyError(f"could not reach {first.user}@{first.ssh_address} over SSH (see ssh's message above)")
    return res.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.verify", description="Check a deployed ha-swarm stack's cluster and print a table.")
    parser.add_argument("--stack", help="the Pulumi stack (default: the selected one)")
    parser.add_argument("--cwd", help="the folder of Pulumi.yaml (default: the current one)")
    parser.add_argument("--timeout", type=int, help="seconds to wait for failing checks to pass (default: $HA_SWARM_VERIFY_TIMEOUT, else 60)")
    args = parser.parse_args(argv)
    try:
        timeout = args.timeout if args.timeout is not None else timeout_from_environment()
        if timeout is not None and timeout < 0:
            raise VerifyError(f"--timeout {timeout} is refused: a whole number of seconds, 0 or more")
        return run(args.stack, args.cwd, timeout)
    except (VerifyError, PlanError, SettingsError) as error:
        print(f"verify: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
