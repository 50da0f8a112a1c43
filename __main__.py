"""ha-swarm: a highly available Docker Swarm behind Traefik, as a Pulumi program.

The settings are read and checked once (every refusal before any resource), the topology is
derived once, and each component gets the arguments it uses."""

import pulumi

from ha_swarm.apps.nfs import nfs_server, planned_folders
from ha_swarm.apps.stacks import Stacks, StacksArgs, load_stacks, stack_variables
from ha_swarm.config import load_settings
from ha_swarm.day2.backup_schedule import BackupSchedule, BackupScheduleArgs
from ha_swarm.day2.engine import EngineUpgrades, EngineUpgradesArgs
from ha_swarm.day2.verify import Verify, VerifyArgs
from ha_swarm.ingress.ingress import Ingress, IngressArgs
from ha_swarm.machines import machines_for
from ha_swarm.nodes.node import node_of
from ha_swarm.nodes.topology import topology
from ha_swarm.outputs import endpoints, host_keys, manager_outputs, node_list, services
from ha_swarm.swarm.swarm import Swarm, SwarmArgs

settings = load_settings()
topo = topology(settings)
stacks = load_stacks(settings.stacks, stack_variables(settings.domain, settings.stack_variables, topo.nfs_variables), settings.secret_names_key)
folders = planned_folders(topo, stacks)

machines = machines_for(settings, topo)
nodes = machines.nodes
first = node_of(nodes, topo.first_manager)
swarm = Swarm(
    "swarm",
    SwarmArgs(
        nodes=nodes,
        first_manager=first,
        labels=topo.node_labels,
        rotate_tokens=settings.swarm.rotate_tokens,
        autolock=settings.swarm.autolock,
        restored=settings.swarm.restored,
        restored_on=settings.swarm.restored_on,
    ),
)
ingress = Ingress(
    "ingress",
    IngressArgs(
        manager=first,
        acme_store=node_of(nodes, topo.acme_store) if topo.acme_store else None,
        ssh_private_key=settings.ssh_private_key,
        traefik=settings.traefik,
        domain=settings.domain,
        depends_on=swarm.managers_formed,
    ),
)
nfs = nfs_server("nfs", topo, nodes, folders, str(settings.lab.cidr) if settings.lab else None)
deployed = Stacks(
    "stacks",
    StacksArgs(
        specs=stacks,
        provider=ingress.provider,
        traefik_network=ingress.network,
        docker_api_network=ingress.docker_api.network,
        depends_on=[*swarm.formed, ingress.network, *nfs],
    ),
)
# engine.version: rolling Docker Engine upgrades, after everything the Docker provider does (ha_swarm/day2/engine.py).
served = [*swarm.formed, ingress.docker_api.service, ingress.traefik.service, *deployed.services.values(), *nfs]
version = settings.engine.version
engine = EngineUpgrades("engine", EngineUpgradesArgs(nodes=nodes, first_manager=first, version=version, depends_on=served)) if version else None
upgraded = [engine.done] if engine else []

backup = settings.backup
if backup.schedule is not None and backup.recipient is not None:
    managers = [n for n in nodes if n.role == "manager"]
    BackupSchedule(
        "backup",
        BackupScheduleArgs(
            managers=managers,
            stack=pulumi.get_stack(),
            schedule=backup.schedule,
            recipient=backup.recipient,
            keep=backup.keep,
            node_dir=backup.node_dir,
            depends_on=swarm.managers_formed,
        ),
    )

pulumi.export("nodes", node_list(nodes))
pulumi.export("hostKeys", host_keys(nodes))  # pinned on every connection; how each was had
for key, value in manager_outputs(first).items():
    pulumi.export(key, value)
pulumi.export("endpoints", endpoints(stacks, nodes, settings.traefik))
pulumi.export("services", services(stacks, settings.traefik))
if settings.verify:
    checked = [*swarm.formed, ingress.docker_api.service, ingress.traefik.service, *deployed.services.values(), *upgraded]
    Verify(
        "verify",
        VerifyArgs(
            manager=first,
            nodes=nodes,
            specs=stacks,
            traefik=settings.traefik,
            domain=settings.domain,
            planned=settings.nodes,
            node_labels=settings.node_labels,
            timeout=settings.verify_timeout,
            depends_on=checked,
        ),
    )
if swarm.unlock_key is not None:
    pulumi.export("unlockKey", swarm.unlock_key)  # swarm.autolock: a secret (pulumi stack output --show-secrets unlockKey)
