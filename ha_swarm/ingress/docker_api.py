"""The Docker API as the internet-facing services may see it: read-only, a few sections, through a
filtering proxy.

A read-only bind mount of /var/run/docker.sock restricts nothing (connecting to a socket is not a
write to the file): whoever holds it holds the whole API of a manager, i.e. the swarm. So Traefik
(and the visualizer, when deployed) never mount the socket. They ask `docker-api-proxy`, a service
that runs on every manager, holds the socket, and passes only GET/HEAD requests to the sections
they read; every write (`POST /containers/create`, `POST /services/ID/update`, ...) and every other
section (secrets, configs, containers, exec, swarm, ...) answers 403.

The proxy is tecnativa/docker-socket-proxy by default (HAProxy; `traefik.socketProxyImage` names
another image that reads the same variables, such as the toolchain's stand-in). It sits on an
overlay network of its own, `docker-api`: internal (no way out through it), not attachable (no
standalone container joins it), encrypted with `traefik.encryptedNetwork` (the answers carry the
services' specs, labels included). Its tasks are found by DNS round robin (no virtual IP): it
publishes no port, and clients need no load balancing to reach any one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.deploy import RESTART_DEFAULTS

DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_API_NETWORK = "docker-api"
DOCKER_API_PROXY = "docker-api-proxy"
DOCKER_API_PORT = 2375
DOCKER_API_ENDPOINT = f"tcp://{DOCKER_API_PROXY}:{DOCKER_API_PORT}"

# What Traefik v3's swarm provider reads (HEAD /_ping, /version, /services, /networks, /tasks,
# /nodes/ID; it polls, so no /events) and the visualizer (/nodes, /services, /tasks).
READ_SECTIONS = ("PING", "VERSION", "SERVICES", "TASKS", "NODES", "NETWORKS")
# Said explicitly, so that no image default opens them: the write methods and every other section.
REFUSED = (
    "POST",
    "DELETE",
    "PUT",
    "PATCH",
    "EVENTS",
    "AUTH",
    "BUILD",
    "COMMIT",
    "CONFIGS",
    "CONTAINERS",
    "DISTRIBUTION",
    "EXEC",
    "GRPC",
    "IMAGES",
    "INFO",
    "PLUGINS",
    "SECRETS",
    "SESSION",
    "SWARM",
    "SYSTEM",
    "VOLUMES",
)


def proxy_environment() -> dict[str, str]:
    """The proxy's variables (tecnativa's names): the read sections on, the rest off."""
    env = {name: "1" for name in READ_SECTIONS} | {name: "0" for name in REFUSED}
    env["SOCKET_PATH"] = DOCKER_SOCKET
    # HAProxy binds IPv4 only (a node with IPv6 off cannot bind [::]); the overlay is IPv4.
    env["DISABLE_IPV6"] = "1"
    return env


@dataclass(frozen=True, kw_only=True)
class DockerApiProxyArgs:
    image: str  # traefik.socketProxyImage
    encrypted: bool  # traefik.encryptedNetwork: the proxy's overlay is encrypted too
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]  # the formed swarm


class DockerApiProxy(pulumi.ComponentResource):
    """The `docker-api` network and the `docker-api-proxy` service on every manager."""

    def __init__(self, name: str, args: DockerApiProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:DockerApiProxy", name, None, opts)
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.network = docker.Network(
            DOCKER_API_NETWORK,
            name=DOCKER_API_NETWORK,
            driver="overlay",
            internal=True,
            attachable=False,
            options={"encrypted": "true"} if args.encrypted else None,
            opts=on_swarm,
        )
        self.endpoint = DOCKER_API_ENDPOINT
        self.service = docker.Service(
            DOCKER_API_PROXY,
            name=DOCKER_API_PROXY,
            mode=docker.ServiceModeArgs(global_=True),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    env=proxy_environment(),
                    # Read-only for form's sake (the policy pack asks it): the filter is what protects.
                    mounts=[docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source=DOCKER_SOCKET, target=DOCKER_SOCKET, read_only=True)],
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.role == manager"]),
                networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=self.network.id)],
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay=RESTART_DEFAULTS["delay"], window=RESTART_DEFAULTS["window"]),
            ),
            # No published port, no virtual IP: the name resolves to the tasks themselves.
            endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
            # A new task starts before the old one stops: Traefik always finds one.
            update_config=docker.ServiceUpdateConfigArgs(parallelism=1, delay="5s", order="start-first", failure_action="rollback"),
            # As every service of ha-swarm (traefik.SERVICE_REPLACEMENT): a change of mode replaces it, old one first.
            opts=pulumi.ResourceOptions.merge(on_swarm, pulumi.ResourceOptions(depends_on=[self.network], replace_on_changes=["mode"], delete_before_replace=True)),
        )
        self.register_outputs({"network": self.network.name, "service": self.service.name, "endpoint": self.endpoint})
