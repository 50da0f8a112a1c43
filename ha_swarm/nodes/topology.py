"""What is derived from the planned nodes, derived once: the first manager (it initialises the
swarm), the manager that keeps the ACME store, and the node that serves NFS."""

from __future__ import annotations

from dataclasses import dataclass

from ha_swarm.config.model import Settings
from ha_swarm.nodes.node import NodeSpec


@dataclass(frozen=True)
class Topology:
    nodes: tuple[NodeSpec, ...]
    first_manager: NodeSpec
    acme_node: str | None  # traefik.acme.node: labelled ha-swarm.traefik-acme=true
    nfs_server: NodeSpec | None  # storage.nfs: the first manager
    nfs_export: str

    @property
    def nfs_variables(self) -> tuple[tuple[str, str], ...]:
        """${NFS_ADDR} and ${NFS_EXPORT} for the compose files, when storage.nfs is on."""
        server = self.nfs_server
        return (("NFS_ADDR", server.swarm_address), ("NFS_EXPORT", self.nfs_export)) if server else ()


def topology(settings: Settings) -> Topology:
    """The topology of valid settings (which always plan at least one manager, managers first)."""
    first = settings.managers[0]
    acme = settings.traefik.acme
    return Topology(
        nodes=settings.nodes,
        first_manager=first,
        acme_node=acme.node if acme is not None else None,
        nfs_server=first if settings.storage.nfs else None,
        nfs_export=settings.storage.export,
    )
