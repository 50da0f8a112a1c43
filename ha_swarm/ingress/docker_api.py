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
# traefik.acme.issuer: swarm (ha_swarm/ingress/acme.py): the issuer publishes the replicated ACME store
# as swarm configs through a proxy of its own, on a network only the issuer joins; the internet-facing
# serving Traefiks read those configs (GET) through the read-only proxy above and can write nothing.
ISSUER_API_NETWORK = "docker-api-issuer"
ISSUER_API_PROXY = "docker-api-issuer-proxy"
ISSUER_API_ENDPOINT = f"tcp://{ISSUER_API_PROXY}:{DOCKER_API_PORT}"

# What Traefik v3's swarm provider reads (HEAD /_ping, /version, /services, /networks, /tasks,
# /nodes/ID; it polls, so no /events) and the visualizer (/nodes, /services, /tasks).
READ_SECTIONS = ("PING", "VERSION", "SERVICES", "TASKS", "NODES", "NETWORKS")
# The issuer proxy: the configs section alone (list, inspect, create, delete; in tecnativa's model a
# write method is granted for every open section, so no other section is open), no other write method.
ISSUER_SECTIONS = ("PING", "VERSION", "CONFIGS")
ISSUER_WRITES = ("POST", "DELETE")
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


ALL_SECTIONS = tuple(sorted({*READ_SECTIONS, *(name for name in REFUSED if name not in ("POST", "DELETE", "PUT", "PATCH"))}))
WRITE_METHODS = ("POST", "DELETE", "PUT", "PATCH")


def proxy_environment(sections: Sequence[str] = READ_SECTIONS, writes: Sequence[str] = ()) -> dict[str, str]:
    """The proxy's variables (tecnativa's names): SECTIONS and the write methods WRITES on, every
    other section and method said off."""
    unknown = sorted(set(sections) - set(ALL_SECTIONS)) + sorted(set(writes) - set(WRITE_METHODS))
    if unknown:
        raise ValueError(f"not a section or write method of the Docker API proxy: {', '.join(unknown)}")
    if tuple(sections) == READ_SECTIONS and not writes:
        # The default proxy, exactly as before (its variables in the same order: no diff on a deployed stack).
        env = {name: "1" for name in READ_SECTIONS} | {name: "0" for name in REFUSED}
    else:
        env = {name: "1" if name in sections else "0" for name in ALL_SECTIONS} | {m: "1" if m in writes else "0" for m in WRITE_METHODS}
    env["SOCKET_PATH"] = DOCKER_SOCKET
    # HAProxy binds IPv4 only (a node with IPv6 off cannot bind [::]); the overlay is IPv4.
    env["DISABLE_IPV6"] = "1"
    return env


@dataclass(frozen=True, kw_only=True)
class DockerApiProxyArgs:
    image: str  # traefik.socketProxyImage
    network_name: str = DOCKER_API_NETWORK  # its own overlay (ISSUER_API_NETWORK for the issuer's)
    service_name: str = DOCKER_API_PROXY  # the service; the endpoint is tcp://SERVICE_NAME:2375
    sections: tuple[str, ...] = READ_SECTIONS  # the API sections it passes (READ_SECTIONS + CONFIGS for issuer: swarm)
    writes: tuple[str, ...] = ()  # the write methods it passes (ISSUER_WRITES for the issuer's)
    encrypted: bool  # traefik.encryptedNetwork: the proxy's overlay is encrypted too
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]  # the formed swarm


class DockerApiProxy(pulumi.ComponentResource):
    """The `docker-api` network and the `docker-api-proxy` service on every manager (or, for
    traefik.acme.issuer: swarm, `docker-api-issuer` and `docker-api-issuer-proxy`)."""

    def __init__(self, name: str, args: DockerApiProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:DockerApiProxy", name, None, opts)
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.network = docker.Network(
            args.network_name,
            name=args.network_name,
            driver="overlay",
            internal=True,
            attachable=False,
            options={"encrypted": "true"} if args.encrypted else None,
            opts=on_swarm,
        )
        self.endpoint = f"tcp://{args.service_name}:{DOCKER_API_PORT}"
        self.service = docker.Service(
            args.service_name,
            name=args.service_name,
            mode=docker.ServiceModeArgs(global_=True),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    env=proxy_environment(args.sections, args.writes),
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
