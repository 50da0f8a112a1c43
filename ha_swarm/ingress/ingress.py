"""The way in: the Docker provider on the first manager, the `traefik-net` overlay
that Traefik shares with the front services, and Traefik itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ha_swarm.config.model import TraefikSettings
from ha_swarm.ingress.acme import AcmeKey, AcmeKeyArgs
from ha_swarm.ingress.docker_access import docker_provider
from ha_swarm.ingress.traefik import Traefik, TraefikArgs
from ha_swarm.nodes.node import Node

TRAEFIK_NETWORK = "traefik-net"


@dataclass(frozen=True, kw_only=True)
class IngressArgs:
    manager: Node  # the Docker provider talks to its daemon
    ssh_private_key: pulumi.Input[str]  # a secret
    traefik: TraefikSettings
    domain: str
    depends_on: Sequence[pulumi.Resource]  # the formed swarm


class Ingress(pulumi.ComponentResource):
    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:Ingress", name, None, opts)
        formed = list(args.depends_on)
        settings = args.traefik
        self.provider = docker_provider("swarm-docker", args.manager, args.ssh_private_key, parent=self, depends_on=formed)
        self.network = docker.Network(
            "traefik-net",
            name=TRAEFIK_NETWORK,
            driver="overlay",
            attachable=True,
            # Encrypted overlays use IPsec (ESP, IP protocol 50) between the nodes.
            options={"encrypted": "true"} if settings.encrypted_network else None,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=formed),
        )
        # traefik.acme.issuer: swarm: the key that seals the replicated ACME store, made on the manager.
        acme = settings.acme
        self.acme_key: AcmeKey | None = None
        if acme is not None and acme.replicated:
            self.acme_key = AcmeKey("acme-store", AcmeKeyArgs(manager=args.manager, depends_on=formed), opts=pulumi.ResourceOptions(parent=self))
        self.traefik = Traefik(
            "traefik",
            TraefikArgs(
                settings=settings,
                domain=args.domain,
                network=self.network,
                network_name=TRAEFIK_NETWORK,
                provider=self.provider,
                depends_on=[*formed, self.network, *([self.acme_key] if self.acme_key else [])],
                acme_key_id=self.acme_key.secret_id if self.acme_key else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"network": self.network.name, "traefik": self.traefik.service.name})
