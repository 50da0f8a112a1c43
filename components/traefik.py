"""Traefik as a swarm service: the tutorial's reverse proxy, on a manager (on every manager
when port 80 is published in host mode), reading the services' labels through the swarm provider."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.settings import TraefikSettings

TRAEFIK_SERVICE = "traefik"
DOCKER_SOCKET = "/var/run/docker.sock"


def traefik_args(network_name: str) -> list[str]:
    """Traefik's static configuration, as command-line arguments."""
    return [
        "--providers.swarm=true",
        f"--providers.swarm.endpoint=unix://{DOCKER_SOCKET}",
        "--providers.swarm.exposedByDefault=false",
        f"--providers.swarm.network={network_name}",
        "--entrypoints.web.address=:80",
        "--ping=true",
        "--log.level=INFO",
        "--accesslog=true",
    ]


def dashboard_args(users: Sequence[str]) -> list[str]:
    # The API and dashboard are served only through the authenticated router below; never --api.insecure.
    return ["--api.dashboard=true"] if users else []


def dashboard_labels(domain: str, users: Sequence[str]) -> dict[str, str]:
    if not users:
        return {}
    return {
        "traefik.enable": "true",
        "traefik.http.routers.dashboard.rule": f"Host(`traefik.{domain}`)",
        "traefik.http.routers.dashboard.entrypoints": "web",
        "traefik.http.routers.dashboard.service": "api@internal",
        "traefik.http.routers.dashboard.middlewares": "dashboard-auth",
        "traefik.http.middlewares.dashboard-auth.basicauth.users": ",".join(users),
        # The swarm provider wants a port on every exposed service, even one routed to api@internal.
        "traefik.http.services.dashboard.loadbalancer.server.port": "8080",
    }


def traefik_mode(publish_mode: str) -> docker.ServiceModeArgs:
    """One Traefik behind the routing mesh (every node answers through it), or, when port 80 is
    published in host mode, one Traefik on every manager so that every manager answers itself."""
    if publish_mode == "host":
        return docker.ServiceModeArgs(global_=True)
    return docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1))


class Traefik(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: TraefikSettings,
        domain: str,
        network: docker.Network,
        network_name: str,
        provider: docker.Provider,
        depends_on: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ha-swarm:ingress:Traefik", name, None, opts)
        labels = dashboard_labels(domain, settings.dashboard_users)
        service_labels: pulumi.Input[list[docker.ServiceLabelArgs]] = [docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]
        if settings.dashboard_users:
            # The htpasswd lines are credentials: the whole label list is a secret in the state.
            service_labels = pulumi.Output.secret(service_labels)
        self.service = docker.Service(
            "traefik",
            name=TRAEFIK_SERVICE,
            labels=service_labels,
            mode=traefik_mode(settings.publish_mode),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=settings.image,
                    args=[*traefik_args(network_name), *dashboard_args(settings.dashboard_users)],
                    mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source=DOCKER_SOCKET, target=DOCKER_SOCKET, read_only=True)],
                    healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                        tests=["CMD", "traefik", "healthcheck", "--ping"], interval="10s", timeout="5s", retries=3
                    ),
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.role == manager"]),
                networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id)],
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="5s"),
            ),
            endpoint_spec=docker.ServiceEndpointSpecArgs(
                ports=[docker.ServiceEndpointSpecPortArgs(target_port=80, published_port=80, protocol="tcp", publish_mode=settings.publish_mode)]
            ),
            # A port published in host mode cannot be held by two tasks on one node: stop the old first.
            update_config=docker.ServiceUpdateConfigArgs(parallelism=1, delay="5s", order="stop-first", failure_action="rollback"),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        self.register_outputs({"service": self.service.name})
