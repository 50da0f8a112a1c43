"""The way in: the Docker provider on the first manager, the `traefik-net` overlay
that Traefik shares with the front services, the Docker API proxy Traefik reads the swarm
through, and Traefik itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ha_swarm.config.model import TraefikSettings
from ha_swarm.ingress.acme import AcmeKey, AcmeKeyArgs
from ha_swarm.ingress.docker_access import docker_provider
from ha_swarm.ingress.docker_api import ISSUER_API_NETWORK, ISSUER_API_PROXY, ISSUER_SECTIONS, ISSUER_WRITES, READ_SECTIONS, DockerApiProxy, DockerApiProxyArgs
from ha_swarm.ingress.traefik import Traefik, TraefikArgs
from ha_swarm.nodes.node import Node

TRAEFIK_NETWORK = "traefik-net"


@dataclass(frozen=True, kw_only=True)
class IngressArgs:
    manager: Node  # the Docker provider talks to its daemon
    acme_store: Node | None = None  # traefik.acme.node (issuer: swarm: the store the issuer starts from); None: MANAGER
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
        acme = settings.acme
        replicated = acme is not None and acme.replicated
        self.docker_api = DockerApiProxy(
            "docker-api-access",
            DockerApiProxyArgs(
                image=settings.socket_proxy_image,
                # traefik.acme.issuer: swarm: the serving Traefiks read the replicated store's configs (GET only).
                sections=(*READ_SECTIONS, "CONFIGS") if replicated else READ_SECTIONS,
                encrypted=settings.encrypted_network,
                provider=self.provider,
                depends_on=formed,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # traefik.acme.issuer: swarm: the key that seals the replicated ACME store, made on the manager,
        # and the issuer's own proxy (configs: list, inspect, create, delete), on a network only the issuer joins.
        self.acme_key: AcmeKey | None = None
        self.issuer_api: DockerApiProxy | None = None
        if replicated:
            key_args = AcmeKeyArgs(manager=args.manager, store_manager=args.acme_store or args.manager, depends_on=formed)
            self.acme_key = AcmeKey("acme-store", key_args, opts=pulumi.ResourceOptions(parent=self))
            self.issuer_api = DockerApiProxy(
                "docker-api-issuer-access",
                DockerApiProxyArgs(
                    image=settings.socket_proxy_image,
                    network_name=ISSUER_API_NETWORK,
                    service_name=ISSUER_API_PROXY,
                    sections=ISSUER_SECTIONS,
                    writes=ISSUER_WRITES,
                    encrypted=settings.encrypted_network,
                    provider=self.provider,
                    depends_on=formed,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.traefik = Traefik(
            "traefik",
            TraefikArgs(
                settings=settings,
                domain=args.domain,
                network=self.network,
                network_name=TRAEFIK_NETWORK,
                docker_api_network=self.docker_api.network,
                docker_endpoint=self.docker_api.endpoint,
                provider=self.provider,
                depends_on=[*formed, self.network, self.docker_api.service, *([self.acme_key] if self.acme_key else [])],
                acme_key=self.acme_key,
                issuer_api=self.issuer_api,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"network": self.network.name, "traefik": self.traefik.service.name})
