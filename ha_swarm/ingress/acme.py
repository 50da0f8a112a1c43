"""traefik.acme.issuer: swarm: Let's Encrypt without a single point of failure (docs/https-ha.md).

- ONE issuer at a time: the service `traefik-acme-issuer`, one replica on any manager, runs the
  image of traefik.acme.image in its `issuer` role: Traefik as the only ACME client (HTTP-01),
  its storage file seeded before it starts from the newest replicated store, and every change of
  that file published as the next store (a swarm config sealed with the swarm secret
  `traefik-acme-key`; configs can be read back through the API, secrets cannot).
- No task holds the Docker socket (ha_swarm/ingress/docker_api.py): the issuer writes the store's
  configs through `docker-api-issuer-proxy` (configs only: list, inspect, create, delete), on the
  network `docker-api-issuer` that no other service joins, and its Traefik reads the swarm through
  the read-only `docker-api-proxy`; the serving Traefiks read the store's configs (GET only) through
  `docker-api-proxy`, which passes /configs in this mode, and publish nothing.
- Traefik on EVERY manager (the `traefik` service, global) runs the same image in its `serve` role:
  it reads the newest store every few seconds and hands its certificates to Traefik's file
  provider, which reloads them without a restart, and keeps a copy on its node's `traefik-acme`
  volume (from which an issuer that finds no published store starts: migration, rebuilt cluster).
- HTTP-01 requests arriving on any node's port 80 reach the issuer: its service carries a router
  for /.well-known/acme-challenge/ above the HTTP->HTTPS redirect, which every Traefik reads.
  With DNS-01 nothing reaches it: the DNS provider's credentials are swarm secrets mounted into
  the issuer alone (ha_swarm/ingress/challenge.py).
- The key is made on a manager by a node script (acme-key.sh): never in Pulumi's state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.deploy import RESTART_DEFAULTS
from ha_swarm.config.model import AcmeSettings
from ha_swarm.ingress.challenge import challenge_args, dns_environment
from ha_swarm.nodes.node import Node
from ha_swarm.nodes.remote import Step, run_script

ISSUER_SERVICE = "traefik-acme-issuer"
KEY_SECRET = "traefik-acme-key"
KEY_FILE = f"/run/secrets/{KEY_SECRET}"
# The store the issuer starts from when none is published (acme-key.sh import, on traefik.acme.node).
IMPORT_SECRET = "traefik-acme-import"
IMPORT_FILE = f"/run/secrets/{IMPORT_SECRET}"
WORK_DIR = "/run/traefik-acme"  # a tmpfs of each task: the issuer's acme.json, the served certs/ and dynamic/
STORE_VOLUME = "traefik-acme"  # each manager's copy of the store (acme.json, the single-Traefik mode's store)
STORE_DIR = "/acme"
ISSUER_LABEL = "ha-swarm.acme-issuer"
CHALLENGE_ROUTER = "acme-http-challenge"
# The highest priority Traefik takes from a user (math.MaxInt - 1000, pkg/config/dynamic); the entry
# point's HTTP->HTTPS redirect gets one less in this mode (Traefik's default, math.MaxInt - 1, is above
# every user router), so challenges on port 80 reach the issuer without a redirect.
CHALLENGE_PRIORITY = 2**63 - 1 - 1000
REDIRECT_PRIORITY = CHALLENGE_PRIORITY - 1
# Seconds between a challenge's creation and the CA's validation. Traefik renews what is due as its
# ACME provider starts, while the router that answers HTTP-01 on its own entry point (acme-http@internal,
# from another provider, through the 2 s providers' throttle) may not be in place yet: the CA then gets
# a 404 and the renewal waits for Traefik's next check (a day, a week for long certificates). Seen once
# in the e2e forced renewal, right after the issuer task was replaced.
HTTP_CHALLENGE_DELAY = 10
# What the wrapper accepts as its Docker endpoint (it reaches the Docker API through a proxy, never a socket).
_ENDPOINT = re.compile(r"tcp://[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?:[0-9]{1,5}")


def _endpoint(endpoint: str) -> str:
    if not _ENDPOINT.fullmatch(endpoint) or not 0 < int(endpoint.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"not a Docker API proxy endpoint tcp://NAME:PORT: {endpoint!r}")
    return endpoint


def serve_command(traefik_args: Sequence[str], docker_endpoint: str) -> list[str]:
    """The serving Traefik's container args: the image's `serve` role (reading the store through
    DOCKER_ENDPOINT, the read-only proxy), then Traefik's flags."""
    return ["serve", f"--docker={_endpoint(docker_endpoint)}", f"--key={KEY_FILE}", f"--work={WORK_DIR}", f"--backup={STORE_DIR}/acme.json", "--", *traefik_args]


def serve_file_provider(redirect_https: bool) -> list[str]:
    args = [f"--providers.file.directory={WORK_DIR}/dynamic", "--providers.file.watch=true"]
    if redirect_https:
        args.append(f"--entrypoints.web.http.redirections.entrypoint.priority={REDIRECT_PRIORITY}")
    return args


def issuer_traefik_args(network_name: str, acme: AcmeSettings, resolver: str, ca_file: str, read_endpoint: str) -> list[str]:
    """The issuer's Traefik: every router of the swarm on websecure with the resolver, so it orders
    what the serving Traefiks route; its own service (the challenge router) left out. It reads the
    swarm through READ_ENDPOINT (the read-only proxy), as the serving Traefiks do."""
    prefix = f"--certificatesresolvers.{resolver}.acme"
    args = [
        "--providers.swarm=true",
        f"--providers.swarm.endpoint={_endpoint(read_endpoint)}",
        "--providers.swarm.exposedByDefault=false",
        f"--providers.swarm.network={network_name}",
        f"--providers.swarm.constraints=!Label(`{ISSUER_LABEL}`,`true`)",
        "--entrypoints.web.address=:80",
        "--entrypoints.websecure.address=:443",
        "--entrypoints.websecure.http.tls=true",
        f"--entrypoints.websecure.http.tls.certresolver={resolver}",
        "--ping=true",
        "--log.level=INFO",
        f"{prefix}.email={acme.email}",
        f"{prefix}.storage={WORK_DIR}/acme.json",
        *challenge_args(acme, prefix),
    ]
    if acme.challenge == "http":
        args.append(f"{prefix}.httpchallenge.delay={HTTP_CHALLENGE_DELAY}s")
    if acme.directory is not None:
        args.append(f"{prefix}.caserver={acme.directory}")
    if acme.ca_bundle is not None:
        args += [f"{prefix}.caCertificates={ca_file}", f"{prefix}.caSystemCertPool=true"]
    if acme.certificates_duration is not None:
        args.append(f"{prefix}.certificatesDuration={acme.certificates_duration}")
    return args


def issuer_command(traefik_args: Sequence[str], write_endpoint: str) -> list[str]:
    """The issuer's container args: the image's `issuer` role, publishing the store through
    WRITE_ENDPOINT (the issuer's proxy), starting from IMPORT_FILE when none is published, then its
    Traefik's flags."""
    return ["issuer", f"--docker={_endpoint(write_endpoint)}", f"--key={KEY_FILE}", f"--work={WORK_DIR}", f"--backup={IMPORT_FILE}", "--", *traefik_args]


def challenge_labels(acme: AcmeSettings) -> dict[str, str]:
    """With HTTP-01, every Traefik routes /.well-known/acme-challenge/, for any host, to the issuer's
    port 80. With DNS-01 nothing has to reach the issuer: no router, only the label that keeps its
    own service out of its Traefik."""
    if acme.challenge != "http":
        return {ISSUER_LABEL: "true"}
    router, service = f"traefik.http.routers.{CHALLENGE_ROUTER}", f"traefik.http.services.{CHALLENGE_ROUTER}"
    return {
        "traefik.enable": "true",
        f"{router}.rule": "PathPrefix(`/.well-known/acme-challenge/`)",
        # On websecure too: a CA follows a redirect to https (Let's Encrypt and pebble do), should one come first.
        f"{router}.entrypoints": "web,websecure",
        f"{router}.priority": str(CHALLENGE_PRIORITY),
        f"{router}.service": CHALLENGE_ROUTER,
        f"{service}.loadbalancer.server.port": "80",
        ISSUER_LABEL: "true",
    }


def work_mount() -> docker.ServiceTaskSpecContainerSpecMountArgs:
    """The task's private tmpfs (no Docker socket in any task: the API through the proxies)."""
    return docker.ServiceTaskSpecContainerSpecMountArgs(type="tmpfs", target=WORK_DIR, tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(mode=0o700))


def task_mounts() -> list[docker.ServiceTaskSpecContainerSpecMountArgs]:
    """A serving task's: the node's copy of the store (written), the private tmpfs."""
    return [docker.ServiceTaskSpecContainerSpecMountArgs(type="volume", source=STORE_VOLUME, target=STORE_DIR, read_only=False), work_mount()]


def key_secret(secret_id: pulumi.Input[str], name: str = KEY_SECRET) -> docker.ServiceTaskSpecContainerSpecSecretArgs:
    return docker.ServiceTaskSpecContainerSpecSecretArgs(secret_id=secret_id, secret_name=name, file_name=name, file_uid="0", file_gid="0", file_mode=0o400)


@dataclass(frozen=True, kw_only=True)
class AcmeKeyArgs:
    manager: Node  # acme-key.sh create runs there
    store_manager: Node  # traefik.acme.node: acme-key.sh import takes that manager's copy of the store
    depends_on: Sequence[pulumi.Resource]  # the formed swarm


class AcmeKey(pulumi.ComponentResource):
    """The swarm secret that seals the replicated store, made on a manager, and the store the issuer
    starts from when none is published, a swarm secret made from traefik.acme.node's copy (today's
    single-Traefik store when a stack moves to issuer: swarm): neither ever in the state."""

    def __init__(self, name: str, args: AcmeKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:AcmeKey", name, None, opts)
        self.command = run_script(
            "acme-key",
            args.manager.connection,
            Step("acme-key.sh", ("create",)),
            delete=Step("acme-key.sh", ("delete",)),
            parent=self,
            depends_on=args.depends_on,
        )
        self.secret_id: pulumi.Output[str] = self.command.stdout.apply(lambda out: out.strip())
        self.import_command = run_script(
            "acme-import",
            args.store_manager.connection,
            # As root: the store is a file of the daemon's volume folder.
            Step("acme-key.sh", ("import",), as_root=True),
            delete=Step("acme-key.sh", ("unimport",)),
            parent=self,
            depends_on=args.depends_on,
        )
        self.import_id: pulumi.Output[str] = self.import_command.stdout.apply(lambda out: out.strip())
        self.register_outputs({"secretId": self.secret_id, "importId": self.import_id})


@dataclass(frozen=True, kw_only=True)
class AcmeIssuerArgs:
    acme: AcmeSettings
    resolver: str  # the certificate resolver's name (`le`)
    key_secret_id: pulumi.Input[str]  # AcmeKey.secret_id
    import_secret_id: pulumi.Input[str]  # AcmeKey.import_id
    ca_configs: Sequence[docker.ServiceTaskSpecContainerSpecConfigArgs]  # traefik.acme.caBundle as a swarm config
    ca_file: str  # where that bundle appears in the container
    network: docker.Network  # traefik-net: the challenges come to it from every Traefik, the CA is reached through it
    network_name: str
    read_network: docker.Network  # docker-api: its Traefik reads the swarm through the read-only proxy
    read_endpoint: str  # tcp://docker-api-proxy:2375
    write_network: docker.Network  # docker-api-issuer: the issuer's proxy, joined by no other service
    write_endpoint: str  # tcp://docker-api-issuer-proxy:2375
    dns_secrets: Sequence[docker.ServiceTaskSpecContainerSpecSecretArgs] = ()  # challenge: dns: the provider's variables (DnsCredentials)
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]


class AcmeIssuer(pulumi.ComponentResource):
    """The one ACME client: one replica on any manager; a new task (on another manager when its node
    is lost) starts from the replicated store, so valid certificates are not ordered again."""

    def __init__(self, name: str, args: AcmeIssuerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:AcmeIssuer", name, None, opts)
        labels = [docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(challenge_labels(args.acme).items())]
        traefik_args = issuer_traefik_args(args.network_name, args.acme, args.resolver, args.ca_file, args.read_endpoint)
        self.service = docker.Service(
            "issuer",
            name=ISSUER_SERVICE,
            labels=labels,
            mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.acme.image,
                    args=issuer_command(traefik_args, args.write_endpoint),
                    # Its private tmpfs only: it starts from the published store, else from the import.
                    mounts=[work_mount()],
                    secrets=[key_secret(args.key_secret_id), key_secret(args.import_secret_id, IMPORT_SECRET), *args.dns_secrets],
                    env=dns_environment(args.acme) if args.acme.challenge == "dns" else None,
                    configs=list(args.ca_configs) or None,
                    # No healthcheck: swarm counts a task with one as running only once it is healthy,
                    # and the serving Traefiks route challenges only to running tasks: the issuer's
                    # settle time (before its Traefik orders anything) must start when the task does.
                    # The wrapper ends with its Traefik, and the task is then restarted.
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=["node.role == manager"]),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.network.id),
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.read_network.id),
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.write_network.id),
                ],
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay=RESTART_DEFAULTS["delay"], window=RESTART_DEFAULTS["window"]),
            ),
            # One issuer at a time: the old task stops before a new one starts.
            update_config=docker.ServiceUpdateConfigArgs(parallelism=1, delay="5s", order="stop-first", failure_action="rollback"),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on)),
        )
        self.register_outputs({"service": self.service.name})
