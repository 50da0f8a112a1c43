"""The node values: `NodeSpec`, a node as planned from the settings, and `Node`, what every
machines component returns and the later steps use without knowing which target made it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi_command import remote


@dataclass(frozen=True)
class SshEndpoint:
    host: str
    user: str | None
    port: int


@dataclass(frozen=True)
class NodeSpec:
    """A node as planned from the settings, before any machine exists."""

    name: str
    role: str
    ssh_address: str
    swarm_address: str
    user: str
    port: int
    host_key: str | None
    jump: SshEndpoint | None


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


def node_of(nodes: Sequence[Node], spec: NodeSpec) -> Node:
    """The machine's node made for SPEC (the topology names nodes by their spec)."""
    return next(n for n in nodes if n.spec == spec)
