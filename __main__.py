"""ha-swarm: a highly available Docker Swarm behind Traefik, as a Pulumi program."""

import pulumi

from ha_swarm.apps.nfs import check_nfs_volumes, nfs_server
from ha_swarm.apps.stacks import Stacks, load_stacks, stack_variables
from ha_swarm.config import load_settings
from ha_swarm.day2.engine import EngineUpgrades
from ha_swarm.day2.verify import Verify
from ha_swarm.ingress.ingress import Ingress
from ha_swarm.machines import machines_for
from ha_swarm.nodes.topology import topology
from ha_swarm.outputs import endpoints, manager_outputs, node_list, services
from ha_swarm.swarm.swarm import Swarm

settings = load_settings()
topo = topology(settings)
stacks = load_stacks(settings.stacks, stack_variables(settings.domain, settings.stack_variables, topo.nfs_variables), settings.secret_names_key)
check_nfs_volumes(topo, stacks)  # every refusal before any resource

machines = machines_for(settings, topo)
swarm = Swarm("swarm", machines.nodes, settings)
ingress = Ingress("ingress", swarm.first_manager, swarm.formed, settings)
nfs = nfs_server("nfs", settings, topo, stacks, swarm.first_manager)
deployed = Stacks("stacks", stacks, ingress.provider, ingress.network, depends_on=[*swarm.formed, ingress.network, *nfs])
# engine.version: rolling Docker Engine upgrades, after everything the Docker provider does (ha_swarm/day2/engine.py).
served = [*swarm.formed, ingress.traefik.service, *deployed.services.values(), *nfs]
engine = EngineUpgrades("engine", machines.nodes, settings.engine.version, after=served) if settings.engine.version else None
upgraded = [engine.done] if engine else []

pulumi.export("nodes", node_list(machines.nodes))
for key, value in manager_outputs(machines.nodes).items():
    pulumi.export(key, value)
pulumi.export("endpoints", endpoints(stacks, machines.nodes, settings.traefik))
pulumi.export("services", services(stacks, settings.traefik))
if settings.verify:
    Verify("verify", swarm.first_manager, machines.nodes, stacks, settings, watched=[*swarm.formed, ingress.traefik.service, *deployed.services.values(), *upgraded])
if swarm.unlock_key is not None:
    pulumi.export("unlockKey", swarm.unlock_key)  # swarm.autolock: a secret (pulumi stack output --show-secrets unlockKey)
