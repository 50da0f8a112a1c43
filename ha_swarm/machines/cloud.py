"""The cloud target: Linux hosts that the user already has, reached over SSH.

Per host, `prepare` (as root through sudo, unless the SSH user is root) installs
Docker Engine when it is missing, enables it, adds the user to the docker group
and opens the swarm ports in an active ufw or firewalld; then the readiness
command waits for Docker to answer in a new session (where the group applies).
"""

from __future__ import annotations

import pulumi

from ha_swarm.config.model import Settings
from ha_swarm.nodes.node import Node
from ha_swarm.nodes.remote import Step, connection_for, ready_node, run_script


class CloudMachines(pulumi.ComponentResource):
    nodes: list[Node]

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:machines:Cloud", name, None, opts)
        if settings.cloud is None:
            raise ValueError("CloudMachines needs cloud settings")
        self.nodes = []
        for spec in settings.nodes:
            prepare = run_script(
                f"{spec.name}-prepare",
                connection_for(spec, settings.ssh_private_key, ready=True),
                Step("prepare-node.sh", (spec.user, settings.cloud.docker_source), as_root=spec.user != "root"),
                parent=self,
            )
            self.nodes.append(ready_node(spec, settings.ssh_private_key, parent=self, depends_on=[prepare]))
        self.register_outputs({"hosts": [n.name for n in self.nodes]})
