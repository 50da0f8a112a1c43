"""The way in: the Docker provider on the first manager, the `traefik-net` overlay
that Traefik shares with the front services, and Traefik itself."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from ha_swarm.config.model import Settings
from ha_swarm.ingress.docker_access import docker_provider
from ha_swarm.ingress.traefik import Traefik
from ha_swarm.nodes.node import Node

TRAEFIK_NETWORK = "traefik-net"


class Ingress(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        manager: Node,
        formed: Sequence[pulumi.Resource],
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ha-swarm:ingress:Ingress", name, None, opts)
        self.formed = list(formed)
        self.provider = docker_provider("swarm-docker", manager, settings.ssh_private_key, parent=self, depends_on=self.formed)
        self.network = docker.Network(
            "traefik-net",
            name=TRAEFIK_NETWORK,
            driver="overlay",
            attachable=True,
            # Encrypted overlays use IPsec (ESP, IP protocol 50) between the nodes.
            options={"encrypted": "true"} if settings.traefik.encrypted_network else None,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=self.formed),
        )
        self.traefik = Traefik(
            "traefik",
            settings.traefik,
            settings.domain,
            self.network,
            TRAEFIK_NETWORK,
            self.provider,
            depends_on=[*self.formed, self.network],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"network": self.network.name, "traefik": self.traefik.service.name})
