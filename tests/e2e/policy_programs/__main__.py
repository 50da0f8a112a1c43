"""A small program for the policy pack's end-to-end test: the kind of resources ha-swarm declares (the
node scripts of ha_swarm/nodes/scripts as remote commands, a Traefik service), compliant as a whole, with
exactly one rule broken when the config `case` names it.  It is only ever previewed: no host is
reached (remote commands and the Docker provider connect on create, not in a preview)."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
from pulumi_command import remote

from ha_swarm.nodes.remote import Step

CASES = ("compliant", "even-managers", "insecure-dashboard", "socket-read-write", "socket-facing-internet", "token-stdout", "no-restart-policy")
ADDRESSES = ("192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14")  # TEST-NET-1: nothing answers there
SOCKET = "/var/run/docker.sock"
HTPASSWD = "admin:$2y$05$" + "a" * 53

case = pulumi.Config().get("case") or "compliant"
if case not in CASES:
    raise pulumi.RunError(f"config case = {case!r} is refused: one of {', '.join(CASES)}")


def connection(address: str) -> remote.ConnectionArgs:
    return remote.ConnectionArgs(host=address, user="swarm", private_key=pulumi.Output.secret("previewed only, never used"))


first = ADDRESSES[0]
init = remote.Command("init", connection=connection(first), create=Step("swarm-init.sh", (first,)).command())
quiet = case != "token-stdout"
tokens = remote.Command(
    "tokens",
    connection=connection(first),
    create=Step("swarm-tokens.sh").command(),
    logging=remote.Logging.NONE if quiet else remote.Logging.STDOUT_AND_STDERR,
    opts=pulumi.ResourceOptions(depends_on=[init], additional_secret_outputs=["stdout", "stderr"] if quiet else None),
)
# With the first manager: three managers, or four in the case even-managers.
for address in ADDRESSES[1:] if case == "even-managers" else ADDRESSES[1:3]:
    remote.Command(
        f"manager-{address.rsplit('.', 1)[1]}-join",
        connection=connection(address),
        create=Step("swarm-join.sh", ("manager", first, address)).command(),
        stdin=pulumi.Output.secret(tokens.stdout),
        opts=pulumi.ResourceOptions(depends_on=[tokens]),
    )

provider = docker.Provider("swarm-docker", host=f"ssh://swarm@{first}")
labels = {
    "traefik.enable": "true",
    "traefik.http.routers.dashboard.rule": "Host(`traefik.policy.test`)",
    "traefik.http.routers.dashboard.service": "api@internal",
    "traefik.http.routers.dashboard.middlewares": "dashboard-auth",
    "traefik.http.middlewares.dashboard-auth.basicauth.users": HTPASSWD,
    "traefik.http.services.dashboard.loadbalancer.server.port": "8080",
}
# Traefik reads the Docker API through a filtering proxy, the only service that mounts the socket.
socket = docker.ServiceTaskSpecContainerSpecMountArgs(type="bind", source=SOCKET, target=SOCKET, read_only=case != "socket-read-write")
docker.Service(
    "docker-api-proxy",
    name="docker-api-proxy",
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=docker.ServiceTaskSpecContainerSpecArgs(image="tecnativa/docker-socket-proxy:v0.4.0", mounts=[socket]),
        restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any"),
    ),
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[init]),
)
args = ["--providers.swarm.endpoint=tcp://docker-api-proxy:2375", "--api.dashboard=true"]
if case == "insecure-dashboard":
    args.append("--api.insecure=true")
docker.Service(
    "traefik",
    name="traefik",
    labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
    task_spec=docker.ServiceTaskSpecArgs(
        container_spec=docker.ServiceTaskSpecContainerSpecArgs(
            image="traefik:v3.6.1",
            args=args,
            # socket-facing-internet: the routed Traefik holds the socket itself, read-only or not.
            mounts=[socket] if case == "socket-facing-internet" else None,
        ),
        restart_policy=None if case == "no-restart-policy" else docker.ServiceTaskSpecRestartPolicyArgs(condition="any"),
    ),
    opts=pulumi.ResourceOptions(provider=provider, depends_on=[init]),
)
pulumi.export("case", case)
