"""A `pulumi_docker.Provider` that reaches the swarm's first manager over SSH.

The provider runs the local `ssh` binary (`docker system dial-stdio` on the
manager), so the private key has to be a file.  It is written, mode 0600, in a
private folder of the user (`$HA_SWARM_HOME/keys`, default `~/.ha-swarm/keys`,
mode 0700), named by a hash of the key: never in the repository, never in a
stack output.  The file stays after the run because `pulumi destroy` (which does
not run this program) needs it to delete the services; `make destroy` writes it
again from the stack's secret config when it is missing.

The host keys are pinned the same way: a known_hosts file per key (`$HA_SWARM_HOME/known_hosts`),
with `StrictHostKeyChecking=yes`, for the manager and, through a jump host, for the jump host.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

import pulumi
import pulumi_docker as docker

from ha_swarm.nodes.node import Node, NodeSpec


def ha_swarm_home() -> Path:
    return Path(os.environ.get("HA_SWARM_HOME") or Path.home() / ".ha-swarm")


def _private_file(directory: Path, name: str, content: str) -> str:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / name
    if not path.exists() or path.read_text(encoding="utf-8") != content:
        tmp = directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    os.chmod(path, 0o600)
    return str(path)


def write_key_file(key: str, home: Path | None = None) -> str:
    """Write the private key to its private file and return the path."""
    # One trailing newline, however the key was stored or printed: the same key gives the same file.
    content = key.strip("\n") + "\n"
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    return _private_file((home or ha_swarm_home()) / "keys", f"{digest}.key", content)


def write_known_hosts(address: str, port: int, host_key: str, home: Path | None = None) -> str:
    """A known_hosts file holding the one key that ADDRESS:PORT must present; its path."""
    host = address if port == 22 else f"[{address}]:{port}"
    line = f"{host} {host_key.strip()}\n"
    digest = hashlib.sha256(line.encode()).hexdigest()[:16]
    return _private_file((home or ha_swarm_home()) / "known_hosts", digest, line)


def _option_path(path: str) -> str:
    """A path as the value of an ssh -o option, which ssh splits at blanks unless it is quoted."""
    return f'"{path}"' if any(c.isspace() for c in path) else path


def ssh_options(spec: NodeSpec, key_path: str, host_key: str, jump_host_key: str | None = None) -> list[str]:
    """The options the provider appends to its `ssh` command line (and `python -m tools.verify` uses):
    the node's pinned HOST_KEY is the only one accepted, and through a jump host, JUMP_HOST_KEY.

    They are argv words, never parsed by a shell, except the ProxyCommand, which ssh runs through
    the user's shell: every value in it is quoted (the user and host are matched whole by the
    settings too)."""
    known_hosts = write_known_hosts(spec.ssh_address, spec.port, host_key)
    checking = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={_option_path(known_hosts)}"]
    options = ["-i", key_path, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", *checking]
    jump = spec.jump
    if jump is not None:
        if jump_host_key is None:
            raise ValueError(f"{spec.name}: a jump host without a host key to pin")
        jump_known_hosts = write_known_hosts(jump.host, jump.port, jump_host_key)
        target = shlex.quote(f"{jump.user or spec.user}@{jump.host}")
        proxy = (
            f"ssh -i {shlex.quote(key_path)} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes"
            f" -o UserKnownHostsFile={shlex.quote(_option_path(jump_known_hosts))} -p {jump.port} -W %h:%p {target}"
        )
        options += ["-o", f"ProxyCommand={proxy}"]
    return options


def docker_host(node: Node) -> str:
    port = "" if node.spec.port == 22 else f":{node.spec.port}"
    return f"ssh://{node.user}@{node.ssh_address}{port}"


def docker_provider(
    name: str,
    node: Node,
    private_key: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> docker.Provider:
    key_path = pulumi.Output.unsecret(pulumi.Output.from_input(private_key).apply(write_key_file))
    jump_key = node.jump_host_key.key if node.jump_host_key is not None else None
    options = pulumi.Output.all(key_path, node.host_key.key, jump_key).apply(lambda a: ssh_options(node.spec, a[0], a[1], a[2]))
    return docker.Provider(
        name,
        host=docker_host(node),
        ssh_opts=options,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
