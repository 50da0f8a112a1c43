"""Choosing the machines component for the stack's target, with what it uses of the settings."""

from __future__ import annotations

from ha_swarm.config.model import Settings
from ha_swarm.machines.cloud import CloudMachines, CloudMachinesArgs
from ha_swarm.machines.lab import LabMachines, LabMachinesArgs
from ha_swarm.nodes.topology import Topology


def machines_for(settings: Settings, topology: Topology) -> LabMachines | CloudMachines:
    """The machines component of the target, with what it uses of the settings."""
    if settings.lab is not None:
        args = LabMachinesArgs(
            lab=settings.lab,
            nodes=topology.nodes,
            ssh_public_key=settings.ssh_public_key or "",
            ssh_private_key=settings.ssh_private_key,
            storage=settings.storage,
            nfs_server=topology.nfs_server,
        )
        return LabMachines("lab", args)
    if settings.cloud is None:
        raise ValueError("settings of target cloud without cloud settings")
    return CloudMachines("cloud", CloudMachinesArgs(nodes=topology.nodes, docker_source=settings.cloud.docker_source, ssh_private_key=settings.ssh_private_key))
