"""ha-swarm: a highly available Docker Swarm behind Traefik, as a Pulumi program."""

import pulumi

from components.ingress import Ingress
from components.machines import machines_for
from components.outputs import endpoints, manager_outputs, node_list
from components.settings import load_settings
from components.stacks import Stacks, load_stacks, stack_variables
from components.swarm import Swarm

settings = load_settings()
stacks = load_stacks(settings.stacks, stack_variables(settings.domain, settings.stack_variables))

machines = machines_for(settings)
swarm = Swarm("swarm", machines.nodes, settings)
ingress = Ingress("ingress", swarm.first_manager, swarm.formed, settings)
Stacks("stacks", stacks, ingress.provider, ingress.network, depends_on=[*swarm.formed, ingress.network])

pulumi.export("nodes", node_list(machines.nodes))
for key, value in manager_outputs(machines.nodes).items():
    pulumi.export(key, value)
pulumi.export("endpoints", endpoints(stacks, machines.nodes, settings.traefik))
