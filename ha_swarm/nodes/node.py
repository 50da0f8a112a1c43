"""What every machines component returns: `Node` values that the later steps use
without knowing which target made them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_command import remote

from ha_swarm.config.settings import NodeSpec
from ha_swarm.nodes.remote import Step, connection_for, run_script


@dataclass(frozen=True)
class Node:
    spec: NodeSpec
    connection: remote.ConnectionArgs
    ready: pulumi.Resource
    # Values whose change means the machine itself was replaced (a lab VM's id):
    # every swarm step of the node re-runs on the new machine.
    triggers: tuple[Any, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def ssh_address(self) -> str:
        return self.spec.ssh_address

    @property
    def swarm_address(self) -> str:
        return self.spec.swarm_address

    @property
    def user(self) -> str:
        return self.spec.user


def ready_node(
    spec: NodeSpec,
    private_key: pulumi.Input[str],
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
    triggers: Sequence[Any] = (),
) -> Node:
    """Declare the readiness command of a machine (SSH, cloud-init, Docker) and return its Node."""
    ready = run_script(
        f"{spec.name}-ready",
        connection_for(spec, private_key, ready=True),
        Step("wait-ready.sh"),
        parent=parent,
        depends_on=depends_on,
        triggers=triggers,
        delete_before_replace=bool(triggers),
    )
    return Node(spec=spec, connection=connection_for(spec, private_key), ready=ready, triggers=tuple(triggers))
