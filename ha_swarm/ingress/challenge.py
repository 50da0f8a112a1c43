"""How the ACME client proves a name (`traefik.acme.challenge`): its Traefik flags, and for DNS-01
the DNS provider's credentials (docs/https-ha.md, DNS-01).

The credentials (`traefik.acme.dns.env`) never reach a service spec, an argument or the state in
clear: each becomes a swarm secret, held in Raft encrypted and mounted, as a file, into the ACME
client alone (the single Traefik with issuer: node, the issuer with issuer: swarm); the client's
environment gets only NAME_FILE=<that file>, which lego reads for every variable of every provider.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from ha_swarm.config.model import AcmeDns, AcmeSettings

SECRETS_DIR = "/run/secrets"
DNS_SECRET_PREFIX = "traefik-acme-dns-"


def challenge_args(acme: AcmeSettings, prefix: str) -> list[str]:
    """The flags of the resolver PREFIX (--certificatesresolvers.<name>.acme) for acme.challenge."""
    if acme.challenge == "tls":
        return [f"{prefix}.tlschallenge=true"]
    if acme.challenge == "http":
        return [f"{prefix}.httpchallenge=true", f"{prefix}.httpchallenge.entrypoint=web"]
    dns = _dns(acme)
    args = [f"{prefix}.dnschallenge.provider={dns.provider}"]
    if dns.resolvers:
        args.append(f"{prefix}.dnschallenge.resolvers={','.join(dns.resolvers)}")
    if dns.disable_ans_checks:
        args.append(f"{prefix}.dnschallenge.propagation.disableANSChecks=true")
    if dns.delay_before_checks is not None:
        args.append(f"{prefix}.dnschallenge.propagation.delayBeforeChecks={dns.delay_before_checks}s")
    return args


def _dns(acme: AcmeSettings) -> AcmeDns:
    if acme.dns is None:
        raise ValueError("traefik.acme.challenge: dns without traefik.acme.dns (the settings refuse it)")
    return acme.dns


def secret_file(name: str) -> str:
    """Where the variable NAME's secret appears in the ACME client's container."""
    return f"{DNS_SECRET_PREFIX}{name}"


def secret_name(name: str, value: str) -> str:
    """The swarm secret of NAME=VALUE. A secret cannot change: a new value gets a new name. The
    name is plain (in the state, the service spec, `docker secret ls`), so its suffix comes from
    scrypt, not a bare hash: guessing a weak credential from it costs scrypt per guess."""
    digest = hashlib.scrypt(value.encode(), salt=f"ha-swarm {DNS_SECRET_PREFIX}{name}".encode(), n=2**14, r=8, p=1, dklen=6).hex()
    # At most 17 + 32 + 1 + 12 = 62 characters: swarm takes 64.
    return f"{DNS_SECRET_PREFIX}{name.lower().replace('_', '-')[:32]}-{digest}"


def dns_environment(acme: AcmeSettings) -> dict[str, str]:
    """The ACME client's environment: NAME_FILE for every variable of the provider."""
    return {f"{name}_FILE": f"{SECRETS_DIR}/{secret_file(name)}" for name, _ in _dns(acme).env}


@dataclass(frozen=True, kw_only=True)
class DnsCredentialsArgs:
    dns: AcmeDns
    provider: docker.Provider
    depends_on: Sequence[pulumi.Resource]  # the formed swarm


class DnsCredentials(pulumi.ComponentResource):
    """The DNS provider's variables as swarm secrets (Pulumi secrets end to end), for the ACME client."""

    def __init__(self, name: str, args: DnsCredentialsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:ingress:DnsCredentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        self.secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs] = []
        for variable, value in args.dns.env:
            secret = docker.Secret(
                f"dns-{variable.lower()}",
                name=secret_name(variable, value),
                data=pulumi.Output.secret(base64.b64encode(value.encode()).decode()),
                opts=child,
            )
            self.secrets.append(
                docker.ServiceTaskSpecContainerSpecSecretArgs(
                    secret_id=secret.id, secret_name=secret.name, file_name=secret_file(variable), file_uid="0", file_gid="0", file_mode=0o400
                )
            )
        self.register_outputs({"secrets": len(self.secrets)})
