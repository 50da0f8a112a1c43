"""Choosing the machines component for the stack's target."""

from __future__ import annotations

from components.cloud import CloudMachines
from components.lab import LabMachines
from components.settings import Settings


def machines_for(settings: Settings) -> LabMachines | CloudMachines:
    if settings.target == "lab":
        return LabMachines("lab", settings)
    return CloudMachines("cloud", settings)
