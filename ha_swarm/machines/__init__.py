"""Choosing the machines component for the stack's target."""

from __future__ import annotations

from ha_swarm.config.settings import Settings
from ha_swarm.machines.cloud import CloudMachines
from ha_swarm.machines.lab import LabMachines


def machines_for(settings: Settings) -> LabMachines | CloudMachines:
    if settings.target == "lab":
        return LabMachines("lab", settings)
    return CloudMachines("cloud", settings)
