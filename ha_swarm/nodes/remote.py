"""Running the node scripts of `ha_swarm/nodes/scripts/` over SSH.

A script is sent inline, prefixed with the shared `lib.sh`, as
`bash -c '<lib.sh + script>' <script name> ARG...`, so nothing has to be copied
to a node first and a delete runs the exact script version that was recorded in
the state when the resource was created.  Secrets (join tokens) never go into a
command line: they travel on the command's stdin, which is neither logged nor
quoted in the provider's error messages.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
from pulumi_command import remote

from ha_swarm.nodes.node import Node, NodeSpec, PinnedKey

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"

# A lab VM under software emulation needs a minute or more before sshd answers;
# the provider retries a failed dial with a growing pause (capped at a few seconds).
READY_DIAL_ERROR_LIMIT = 200
DIAL_ERROR_LIMIT = 20
PER_DIAL_TIMEOUT = 15


@cache
def script_text(name: str) -> str:
    path = SCRIPTS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"node script {path} is missing")
    return path.read_text(encoding="utf-8")


# Scripts that use more helpers than lib.sh: these are sent after lib.sh, before the script.  (The
# scripts of the deployed steps use lib.sh alone: their command text is part of every stack's state.)
HELPERS: dict[str, tuple[str, ...]] = {
    "swarm-backup.sh": ("backup-lib.sh",),
    "swarm-restore.sh": ("backup-lib.sh",),
    "swarm-inventory.sh": ("backup-lib.sh",),
    "backup-schedule.sh": ("backup-lib.sh",),
    "backup-archives.sh": ("backup-lib.sh",),
}


def script_command(name: str, *args: str, as_root: bool = False) -> str:
    """The shell command that runs scripts/<name> with ARGs on a node (through `sudo -n` when `as_root`)."""
    program = "".join(script_text(part) + "\n" for part in ("lib.sh", *HELPERS.get(name, ()))) + script_text(name)
    words = ["bash", "-c", shlex.quote(program), shlex.quote(name), *(shlex.quote(a) for a in args)]
    return " ".join(["sudo", "-n", *words] if as_root else words)


def connection_for(
    spec: NodeSpec,
    private_key: pulumi.Input[str],
    host_key: PinnedKey,
    jump_host_key: PinnedKey | None = None,
    *,
    ready: bool = False,
) -> remote.ConnectionArgs:
    """How every command reaches a node, pinning its host key (and its jump host's); the same inputs
    for every step, so they never cause a re-run."""
    proxy = None
    if spec.jump is not None:
        if jump_host_key is None:
            raise ValueError(f"{spec.name}: a jump host without a host key to pin")
        proxy = remote.ProxyConnectionArgs(
            host=spec.jump.host,
            port=spec.jump.port,
            user=spec.jump.user or spec.user,
            private_key=private_key,
            host_key=jump_host_key.key,
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT,
        )
    return remote.ConnectionArgs(
        host=spec.ssh_address,
        port=spec.port,
        user=spec.user,
        private_key=private_key,
        host_key=host_key.key,
        proxy=proxy,
        dial_error_limit=READY_DIAL_ERROR_LIMIT if ready else DIAL_ERROR_LIMIT,
        per_dial_timeout=PER_DIAL_TIMEOUT,
    )


@dataclass(frozen=True)
class Step:
    """One script invocation: the script file and its arguments."""

    script: str
    args: tuple[str, ...] = ()
    as_root: bool = False

    def command(self) -> str:
        return script_command(self.script, *self.args, as_root=self.as_root)


def run_script(
    resource_name: str,
    connection: remote.ConnectionArgs,
    create: Step | pulumi.Output[Step],
    *,
    parent: pulumi.Resource,
    delete: Step | pulumi.Output[Step] | None = None,
    stdin: pulumi.Input[str] | None = None,
    secret_stdout: bool = False,
    triggers: Sequence[Any] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
    delete_before_replace: bool = False,
) -> remote.Command:
    """Declare one remote.Command that runs a node script (and its undo on delete)."""

    def render(step: Step | pulumi.Output[Step]) -> pulumi.Input[str]:
        return step.apply(Step.command) if isinstance(step, pulumi.Output) else step.command()

    return remote.Command(
        resource_name,
        connection=connection,
        create=render(create),
        delete=render(delete) if delete is not None else None,
        stdin=stdin,
        triggers=list(triggers) if triggers else None,
        # No script reads PULUMI_COMMAND_STDOUT/STDERR: asking for them makes the provider try to set
        # them in the SSH session, which sshd refuses by default, with a warning on every update and delete.
        add_previous_output_in_env=False,
        logging=remote.Logging.NONE if secret_stdout else remote.Logging.STDOUT_AND_STDERR,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=list(depends_on),
            additional_secret_outputs=["stdout", "stderr"] if secret_stdout else None,
            delete_before_replace=delete_before_replace,
        ),
    )


def ready_node(
    spec: NodeSpec,
    private_key: pulumi.Input[str],
    host_key: PinnedKey,
    jump_host_key: PinnedKey | None = None,
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    triggers: Sequence[Any] = (),
) -> Node:
    """Declare the readiness command of a machine (SSH, cloud-init, Docker) and return its Node."""
    ready = run_script(
        f"{spec.name}-ready",
        connection_for(spec, private_key, host_key, jump_host_key, ready=True),
        Step("wait-ready.sh"),
        parent=parent,
        depends_on=depends_on,
        triggers=triggers,
        delete_before_replace=bool(triggers),
    )
    return Node(
        spec=spec,
        connection=connection_for(spec, private_key, host_key, jump_host_key),
        ready=ready,
        host_key=host_key,
        jump_host_key=jump_host_key,
        triggers=tuple(triggers),
    )
