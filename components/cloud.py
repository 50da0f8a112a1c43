"""The cloud target: Linux hosts that the user already has, reached over SSH."""

from __future__ import annotations

import pulumi

from components.nodes import Node, ready_node
from components.settings import Settings


class CloudMachines(pulumi.ComponentResource):
    nodes: list[Node]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:machines:Cloud", name, None, opts)
        self.nodes = [ready_node(spec, settings.ssh_private_key, parent=self) for spec in settings.nodes]
        self.register_outputs({"hosts": [n.name for n in self.nodes]})
