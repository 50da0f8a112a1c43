"""Traefik as a swarm service: the tutorial's reverse proxy, reading the services' labels through
the swarm provider, and HTTPS.

Where it runs:
- with ACME (Let's Encrypt): ONE Traefik, on the manager labelled ha-swarm.traefik-acme=true,
  next to the named volume that holds its ACME store (Traefik's ACME store is a file that one
  instance owns; a rescheduled task on the same node finds its certificates again);
- with certificates of the user's own (swarm secrets, replicated by the managers' Raft log), with
  ACME's replicated store (traefik.acme.issuer: swarm, ha_swarm/ingress/acme.py: one issuer at a
  time beside them), or when ports are published in host mode: one Traefik on EVERY manager, so
  that any one of them may be lost;
- otherwise one Traefik behind the routing mesh.

Traefik faces the internet: it holds no Docker socket. Its swarm provider reads the API through
`docker-api-proxy` (ha_swarm/ingress/docker_api.py), read-only, over the `docker-api` network.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
import yaml

from ha_swarm.apps.compose.deploy import RESTART_DEFAULTS
from ha_swarm.config.model import AcmeSettings, Certificate, TraefikSettings
from ha_swarm.ingress.acme import AcmeIssuer, AcmeIssuerArgs, AcmeKey, key_secret, serve_command, serve_file_provider, task_mounts
from ha_swarm.ingress.challenge import DnsCredentials, DnsCredentialsArgs, challenge_args, dns_environment
from ha_swarm.ingress.docker_api import DOCKER_API_ENDPOINT, DockerApiProxy
from ha_swarm.nodes.topology import ACME_STORE_LABEL

TRAEFIK_SERVICE = "traefik"
RESOLVER = "le"
ACME_STORE_VOLUME = "traefik-acme"
ACME_DIR = "/acme"
ACME_CA_FILE = "/etc/traefik/acme-ca.pem"
TLS_FILE = "/etc/traefik/dynamic/tls.yml"
SECRETS_DIR = "/run/secrets"
# Swarm refuses to change a service's mode (global <-> replicated): such a change replaces the
# service, and since the name stays, the old one goes first.
SERVICE_REPLACEMENT: dict[str, Any] = {"replace_on_changes": ["mode"], "delete_before_replace": True}


def traefik_args(network_name: str, settings: TraefikSettings | None = None, endpoint: str = DOCKER_API_ENDPOINT) -> list[str]:
    """Traefik's static configuration, as command-line arguments (ENDPOINT: the Docker API proxy)."""
    args = [
        "--providers.swarm=true",
        f"--providers.swarm.endpoint={endpoint}",
        "--providers.swarm.exposedByDefault=false",
        f"--providers.swarm.network={network_name}",
        "--entrypoints.web.address=:80",
        "--ping=true",
        "--log.level=INFO",
        "--accesslog=true",
    ]
    if settings is None or not settings.tls:
        return args
    # Every router without entrypoints of its own listens on both; on websecure it gets TLS (and,
    # with ACME, a certificate from the `le` resolver) without a label of its own.
    args += ["--entrypoints.websecure.address=:443", "--entrypoints.websecure.http.tls=true"]
    if settings.redirect_https:
        args += [
            "--entrypoints.web.http.redirections.entrypoint.to=websecure",
            "--entrypoints.web.http.redirections.entrypoint.scheme=https",
            "--entrypoints.web.http.redirections.entrypoint.permanent=true",
        ]
    if settings.acme is not None and settings.acme.replicated:
        # The certificates of the replicated store, written for the file provider by the image's `serve` role.
        args += serve_file_provider(settings.redirect_https)
    elif settings.acme is not None:
        args += acme_args(settings.acme)
    if settings.certificates:
        args += [f"--providers.file.filename={TLS_FILE}"]
    return args


def acme_args(acme: AcmeSettings) -> list[str]:
    prefix = f"--certificatesresolvers.{RESOLVER}.acme"
    args = [f"{prefix}.email={acme.email}", f"{prefix}.storage={ACME_DIR}/acme.json"]
    if acme.directory is not None:
        args.append(f"{prefix}.caserver={acme.directory}")
    if acme.ca_bundle is not None:
        args += [f"{prefix}.caCertificates={ACME_CA_FILE}", f"{prefix}.caSystemCertPool=true"]
    if acme.certificates_duration is not None:
        args.append(f"{prefix}.certificatesDuration={acme.certificates_duration}")
    args += challenge_args(acme, prefix)
    args.append(f"--entrypoints.websecure.http.tls.certresolver={RESOLVER}")
    return args


def dashboard_args(users: Sequence[str]) -> list[str]:
    # The API and dashboard are served only through the authenticated router below; never --api.insecure.
    return ["--api.dashboard=true"] if users else []


def dashboard_labels(domain: str, users: Sequence[str]) -> dict[str, str]:
    if not users:
        return {}
    return {
        "traefik.enable": "true",
        # No entrypoints label: the router listens on web and, with HTTPS on, on websecure (web then redirects).
        "traefik.http.routers.dashboard.rule": f"Host(`traefik.{domain}`)",
        "traefik.http.routers.dashboard.service": "api@internal",
        "traefik.http.routers.dashboard.middlewares": "dashboard-auth",
        "traefik.http.middlewares.dashboard-auth.basicauth.users": ",".join(users),
        # The swarm provider wants a port on every exposed service, even one routed to api@internal.
        "traefik.http.services.dashboard.loadbalancer.server.port": "8080",
    }


def traefik_mode(settings: TraefikSettings) -> docker.ServiceModeArgs:
    if settings.global_on_managers:
        return docker.ServiceModeArgs(global_=True)
    return docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1))


def placement(settings: TraefikSettings) -> list[str]:
    constraints = ["node.role == manager"]
    if settings.acme is not None and not settings.acme.replicated:
        constraints.append(f"node.labels.{ACME_STORE_LABEL} == true")
    return constraints


def published_ports(settings: TraefikSettings) -> list[int]:
    return [80, 443] if settings.tls else [80]


def short_hash(*parts: str) -> str:
    """Swarm secrets and configs cannot change: a new content gets a new name."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def certificate_files(index: int) -> tuple[str, str]:
    """Where certificate `index` and its key appear in the Traefik container."""
    return f"traefik-cert-{index}.pem", f"traefik-key-{index}.pem"


def tls_file(count: int) -> str:
    """The file provider's dynamic configuration: every certificate, the first one as the default."""
    pairs = [{"certFile": f"{SECRETS_DIR}/{c}", "keyFile": f"{SECRETS_DIR}/{k}"} for c, k in map(certificate_files, range(count))]
    doc = {"tls": {"certificates": pairs, "stores": {"default": {"defaultCertificate": pairs[0]}}}}
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass(frozen=True, kw_only=True)
class TlsMaterialArgs:
    certificates: Sequence[Certificate]  # traefik.certificates
    acme_ca_bundle: str | None  # traefik.acme.caBundle: the private ACME CA to trust
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]


class TlsMaterial(pulumi.ComponentResource):
    """The user's certificates as swarm secrets (keys are Pulumi secrets end to end), the file
    provider's configuration and the private ACME CA bundle as swarm configs."""

    def __init__(self, name: str, args: TlsMaterialArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:TlsMaterial", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs] = []
        self.configs: list[docker.ServiceTaskSpecContainerSpecConfigArgs] = []
        for index, certificate in enumerate(args.certificates):
            self._certificate(index, certificate, child)
        if args.certificates:
            content = tls_file(len(args.certificates))
            self._config("traefik-tls", content, TLS_FILE, child)
        if args.acme_ca_bundle is not None:
            self._config("traefik-acme-ca", args.acme_ca_bundle, ACME_CA_FILE, child)
        self.register_outputs({"secrets": len(self.secrets), "configs": len(self.configs)})

    def _certificate(self, index: int, certificate: Certificate, child: pulumi.ResourceOptions) -> None:
        suffix = short_hash(certificate.cert, certificate.key)
        cert_file, key_file = certificate_files(index)
        for kind, text, file_name in (("cert", certificate.cert, cert_file), ("key", certificate.key, key_file)):
            secret = docker.Secret(
                f"traefik-{kind}-{index}",
                name=f"traefik-{kind}-{index}-{suffix}",
                data=pulumi.Output.secret(_b64(text)),
                opts=child,
            )
            self.secrets.append(
                docker.ServiceTaskSpecContainerSpecSecretArgs(
                    secret_id=secret.id, secret_name=secret.name, file_name=file_name, file_uid="0", file_gid="0", file_mode=0o400
                )
            )

    def _config(self, name: str, content: str, path: str, child: pulumi.ResourceOptions) -> None:
        config = docker.ServiceConfig(name, name=f"{name}-{short_hash(content)}", data=_b64(content), opts=child)
        self.configs.append(docker.ServiceTaskSpecContainerSpecConfigArgs(config_id=config.id, config_name=config.name, file_name=path, file_mode=0o444))


@dataclass(frozen=True, kw_only=True)
class TraefikArgs:
    settings: TraefikSettings
    domain: str  # the dashboard's host is traefik.DOMAIN
    network: docker.Network  # the overlay Traefik shares with the services it routes to
    network_name: str
    docker_api_network: docker.Network  # the overlay of the Docker API proxy
    docker_endpoint: str  # tcp://docker-api-proxy:2375
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]  # the formed swarm, the networks, the proxy (and the ACME key)
    acme_key: AcmeKey | None = None  # traefik.acme.issuer: swarm: the sealing key's swarm secret and the import (AcmeKey)
    issuer_api: DockerApiProxy | None = None  # traefik.acme.issuer: swarm: the issuer's own proxy (configs written)


class Traefik(pulumi.ComponentResource):
    def __init__(self, name: str, args: TraefikArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:Traefik", name, None, opts)
        settings, network, network_name, provider, depends_on = args.settings, args.network, args.network_name, args.provider, args.depends_on
        labels = dashboard_labels(args.domain, settings.dashboard_users)
        service_labels: pulumi.Input[list[docker.ServiceLabelArgs]] = [docker.ServiceLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]
        if settings.dashboard_users:
            # The htpasswd lines are credentials: the whole label list is a secret in the state.
            service_labels = pulumi.Output.secret(service_labels)
        acme_ca = settings.acme.ca_bundle if settings.acme is not None else None
        tls = TlsMaterial(
            "tls",
            TlsMaterialArgs(certificates=settings.certificates, acme_ca_bundle=acme_ca, provider=provider, depends_on=depends_on),
            opts=pulumi.ResourceOptions(parent=self),
        )
        mounts: list[docker.ServiceTaskSpecContainerSpecMountArgs] = []  # no Docker socket: the API through the proxy
        image, command = settings.image, [*traefik_args(network_name, settings, args.docker_endpoint), *dashboard_args(settings.dashboard_users)]
        secrets = tls.secrets
        replicated = settings.acme is not None and settings.acme.replicated
        # DNS-01: the provider's variables, for the ACME client alone (this Traefik, or the issuer).
        dns_secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs] = []
        env: dict[str, str] | None = None
        if settings.acme is not None and settings.acme.dns is not None:
            dns_args = DnsCredentialsArgs(dns=settings.acme.dns, provider=provider, depends_on=depends_on)
            dns = DnsCredentials("acme-dns", dns_args, opts=pulumi.ResourceOptions(parent=self))
            dns_secrets = dns.secrets
            if not replicated:
                secrets, env = [*secrets, *dns_secrets], dns_environment(settings.acme)
        if settings.acme is not None and replicated:
            if args.acme_key is None or args.issuer_api is None:
                raise ValueError("traefik.acme.issuer: swarm needs the sealing key and the issuer's proxy (TraefikArgs.acme_key, issuer_api)")
            # The serving role reads the store's configs through the read-only proxy; it writes nothing to the API.
            image, command, mounts = settings.acme.image, serve_command(command, args.docker_endpoint), task_mounts()
            secrets = [*secrets, key_secret(args.acme_key.secret_id)]
        elif settings.acme is not None:
            mounts.append(docker.ServiceTaskSpecContainerSpecMountArgs(type="volume", source=ACME_STORE_VOLUME, target=ACME_DIR))
        self.service = docker.Service(
            "traefik",
            name=TRAEFIK_SERVICE,
            labels=service_labels,
            mode=traefik_mode(settings),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=image,
                    args=command,
                    mounts=mounts or None,
                    secrets=secrets or None,
                    env=env,
                    configs=tls.configs or None,
                    healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                        tests=["CMD", "traefik", "healthcheck", "--ping"], interval="10s", timeout="5s", retries=3
                    ),
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=placement(settings)),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=network.id),
                    docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.docker_api_network.id),
                ],
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay=RESTART_DEFAULTS["delay"], window=RESTART_DEFAULTS["window"]),
            ),
            endpoint_spec=docker.ServiceEndpointSpecArgs(
                ports=[
                    docker.ServiceEndpointSpecPortArgs(target_port=port, published_port=port, protocol="tcp", publish_mode=settings.publish_mode)
                    for port in published_ports(settings)
                ]
            ),
            # A port published in host mode cannot be held by two tasks on one node, and an ACME store
            # is owned by one Traefik: stop the old task first.
            update_config=docker.ServiceUpdateConfigArgs(parallelism=1, delay="5s", order="stop-first", failure_action="rollback"),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[*depends_on, tls], **SERVICE_REPLACEMENT),
        )
        self.issuer: AcmeIssuer | None = None
        if settings.acme is not None and replicated and args.acme_key is not None and args.issuer_api is not None:
            self.issuer = AcmeIssuer(
                "acme-issuer",
                AcmeIssuerArgs(
                    acme=settings.acme,
                    resolver=RESOLVER,
                    key_secret_id=args.acme_key.secret_id,
                    import_secret_id=args.acme_key.import_id,
                    ca_configs=tls.configs,
                    ca_file=ACME_CA_FILE,
                    network=network,
                    network_name=network_name,
                    read_network=args.docker_api_network,
                    read_endpoint=args.docker_endpoint,
                    write_network=args.issuer_api.network,
                    write_endpoint=args.issuer_api.endpoint,
                    dns_secrets=dns_secrets,
                    provider=provider,
                    depends_on=[*depends_on, tls, self.service, args.issuer_api.service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"service": self.service.name})
