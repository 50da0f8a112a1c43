"""Choosing the machines component for the stack's target."""

from __future__ import annotations

from ha_swarm.config.model import Settings
from ha_swarm.machines.cloud import CloudMachines
from ha_swarm.machines.lab import LabMachines
from ha_swarm.nodes.topology import Topology


def machines_for(settings: Settings, topology: Topology) -> LabMachines | CloudMachines:
    if settings.target == "lab":
        return LabMachines("lab", settings, nfs_server=topology.nfs_server)
    return CloudMachines("cloud", settings)
