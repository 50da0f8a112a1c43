"""The cloud target: Linux hosts that the user already has, reached over SSH.

Every connection pins the host's key: `cloud.hosts[].hostKey` when given, else the key the host
presented at the first contact, recorded in the stack (ha_swarm/nodes/hostkeys.py).

Per host, `prepare` (as root through sudo, unless the SSH user is root) installs
Docker Engine when it is missing, enables it, adds the user to the docker group
and opens the swarm ports in an active ufw or firewalld; then the readiness
command waits for Docker to answer in a new session (where the group applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ha_swarm.nodes.hostkeys import pinned_key, say_first_contact
from ha_swarm.nodes.node import FIRST_CONTACT, Node, NodeSpec
from ha_swarm.nodes.remote import Step, connection_for, ready_node, run_script


@dataclass(frozen=True, kw_only=True)
class CloudMachinesArgs:
    nodes: Sequence[NodeSpec]  # the hosts, managers first
    docker_source: str  # cloud.dockerSource: distro or docker
    ssh_private_key: pulumi.Input[str]  # a secret


class CloudMachines(pulumi.ComponentResource):
    nodes: list[Node]

    def __init__(self, name: str, args: CloudMachinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:machines:Cloud", name, None, opts)
        self.nodes = []
        for spec in args.nodes:
            host_key = pinned_key(
                f"{spec.name}-host-key",
                name=spec.name,
                host=spec.ssh_address,
                port=spec.port,
                configured=spec.host_key,
                setting=f"the hostKey of cloud host {spec.name}",
                parent=self,
            )
            prepare = run_script(
                f"{spec.name}-prepare",
                connection_for(spec, args.ssh_private_key, host_key, ready=True),
                Step("prepare-node.sh", (spec.user, args.docker_source), as_root=spec.user != "root"),
                parent=self,
            )
            self.nodes.append(ready_node(spec, args.ssh_private_key, host_key, parent=self, depends_on=[prepare]))
        say_first_contact([n.name for n in self.nodes if n.host_key.source == FIRST_CONTACT])
        self.register_outputs({"hosts": [n.name for n in self.nodes]})
