"""Write the stack's SSH private key to the private file the Docker provider uses.

`pulumi destroy` does not run the program, yet the Docker provider recorded in
the state still runs `ssh -i <key file>`.  This reads the key from the stack's
secret config (`pulumi config get`, which decrypts it) and writes the same file
the program would write.  It writes the known_hosts files of the first manager (and its
jump host) too, from the stack output `hostKeys`: the provider pins those keys.
Usage: python -m tools.restore_key_file STACK
"""

from __future__ import annotations

import subprocess
import sys

from ha_swarm.ingress.docker_access import write_key_file, write_known_hosts


def restore_known_hosts(stack: str) -> str:
    """Write the known_hosts files the Docker provider's options name; what was done, in words."""
    from ha_swarm.config import SettingsError
    from tools.verify import VerifyError, pinned_keys, pulumi_json, settings_from_config

    try:
        outputs = pulumi_json(["stack", "output"], stack, None) or {}
        first = settings_from_config(pulumi_json(["config", "--show-secrets"], stack, None) or {}).managers[0]
        host_key, jump_host_key = pinned_keys(outputs, first)
    except (VerifyError, SettingsError) as error:
        return f"no known_hosts file written ({error})"
    written = [write_known_hosts(first.ssh_address, first.port, host_key)]
    if first.jump is not None and jump_host_key is not None:
        written.append(write_known_hosts(first.jump.host, first.jump.port, jump_host_key))
    return "known_hosts ready at " + ", ".join(written)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.restore_key_file STACK", file=sys.stderr)
        return 2
    result = subprocess.run(
        ["pulumi", "config", "get", "--stack", argv[0], "ha-swarm:sshPrivateKey"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.strip():
        print(f"restore_key_file: stack {argv[0]} has no ha-swarm:sshPrivateKey: {result.stderr.strip()}", file=sys.stderr)
        return 1
    path = write_key_file(result.stdout)
    print(f"restore_key_file: key file ready at {path}; {restore_known_hosts(argv[0])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
