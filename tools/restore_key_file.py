"""Write the stack's SSH private key to the private file the Docker provider uses.

`pulumi destroy` does not run the program, yet the Docker provider recorded in
the state still runs `ssh -i <key file>`.  This reads the key from the stack's
secret config (`pulumi config get`, which decrypts it) and writes the same file
the program would write.  Usage: python -m tools.restore_key_file STACK
"""

from __future__ import annotations

import subprocess
import sys

from ha_swarm.ingress.docker_access import write_key_file


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
    print(f"restore_key_file: key file ready at {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
