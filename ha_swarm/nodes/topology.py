"""What is derived from the planned nodes, derived once: the first manager (it initialises the
swarm), the manager that keeps the ACME store, the node that serves NFS, and the labels each node
carries.  The components receive these values; none of them works them out again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ha_swarm.config.model import Settings
from ha_swarm.nodes.node import NodeSpec

# The node label that places the single ACME Traefik next to its store (set by the swarm's settle step).
ACME_STORE_LABEL = "ha-swarm.traefik-acme"


@dataclass(frozen=True)
class Topology:
    nodes: tuple[NodeSpec, ...]
    first_manager: NodeSpec
    acme_node: str | None  # traefik.acme.node: labelled ha-swarm.traefik-acme=true
    nfs_server: NodeSpec | None  # storage.nfs: the first manager
    nfs_export: str
    user_labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # nodeLabels, sorted per node
    acme_store: NodeSpec | None = None  # traefik.acme.issuer: swarm: traefik.acme.node, whose store the issuer starts from

    @property
    def nfs_variables(self) -> tuple[tuple[str, str], ...]:
        """${NFS_ADDR} and ${NFS_EXPORT} for the compose files, when storage.nfs is on."""
        server = self.nfs_server
        return (("NFS_ADDR", server.swarm_address), ("NFS_EXPORT", self.nfs_export)) if server else ()

    def labels_for(self, name: str) -> tuple[tuple[str, str], ...]:
        """The labels node NAME carries: the user's (nodeLabels), then the ACME store's."""
        acme = ((ACME_STORE_LABEL, "true"),) if self.acme_node == name else ()
        return (*dict(self.user_labels).get(name, ()), *acme)

    @property
    def node_labels(self) -> Mapping[str, tuple[tuple[str, str], ...]]:
        """Every node's labels, by node name."""
        return {n.name: self.labels_for(n.name) for n in self.nodes}


def topology(settings: Settings) -> Topology:
    """The topology of valid settings (which always plan at least one manager, managers first)."""
    first = settings.managers[0]
    acme = settings.traefik.acme
    return Topology(
        nodes=settings.nodes,
        first_manager=first,
        acme_node=acme.node if acme is not None and not acme.replicated else None,
        nfs_server=first if settings.storage.nfs else None,
        nfs_export=settings.storage.export,
        user_labels=settings.node_labels,
        acme_store=next(n for n in settings.nodes if n.name == acme.node) if acme is not None and acme.replicated else None,
    )
