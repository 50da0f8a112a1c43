"""ha-swarm: a highly available Docker Swarm behind Traefik, as a Pulumi program."""

import pulumi

from components.machines import machines_for
from components.settings import load_settings
from components.swarm import Swarm

settings = load_settings()
machines = machines_for(settings)
swarm = Swarm("swarm", machines.nodes, settings)

pulumi.export("nodes", [{"name": n.name, "role": n.role, "address": n.ssh_address} for n in machines.nodes])
