"""Issue 18, DNS-01 (`traefik.acme.challenge: dns`) with `issuer: swarm`, for real: one stack on
its own test hosts (3 managers, 1 worker), pebble as the CA, lego's `httpreq` provider in the
issuer talking to a DNS provider's API (tests/e2e/dns_provider_api.py) that sets the TXT records
in pebble's mock DNS. In file order:

1. up: each routed name is ordered once, its TXT record set through the provider's API with the
   right credentials (and cleaned up), and served by Traefik on every manager with the same
   certificate; a wildcard certificate (`*.wild.<domain>`, which only DNS-01 can prove) is ordered
   for a service that asks for it and served by every manager. The credentials: in the issuer's
   environment only as NAME_FILE, swarm secrets mounted into the issuer alone, in no state file
   and no line the CLI printed.
2. destroy: no service, no container and no `traefik-acme-dns-*` secret left.

Run alone, on hosts of its own, e.g.:
    HE_PREFIX=hd- HE_SUBNET=10.231.96 HE_HOSTS_DIR=/tmp/hd-hosts python -m pytest -q tests/e2e/test_acme_dns.py
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import say
from tests.e2e.deployment import DOMAIN, Deployment
from tests.e2e.dns_provider_api import DnsProviderApi
from tests.e2e.pebble import Pebble
from tests.e2e.test_https import outbound_nat
from tests.e2e.test_https_ha import (
    EMAIL,
    ISSUER,
    NAMES,
    acme_image,
    ha_deployment,
    https,
    managers,
    one_certificate_everywhere,
    orders,
    pebble_for,
    running_on,
    served_everywhere,
)
from tests.e2e.toolchain import Toolchain
from tests.support.cluster import wait_for

USER = "ha-swarm-e2e"
PASSWORD = secrets.token_urlsafe(24)
WILD = f"wild.{DOMAIN}"
WILD_NAME = f"a.{WILD}"


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[Deployment]:
    yield from ha_deployment(request, toolchain, "ha-swarm-e2e-acme-dns-")


@pytest.fixture(scope="module")
def pebble(deployment: Deployment, toolchain: Toolchain) -> Iterator[Pebble]:
    yield from pebble_for(deployment, toolchain)


@pytest.fixture(scope="module")
def api(pebble: Pebble) -> Iterator[DnsProviderApi]:
    with DnsProviderApi(pebble, USER, PASSWORD) as server:
        yield server


def challenge(name: str) -> str:
    return f"_acme-challenge.{name}."


def certificate_names(dep: Deployment, address: str, host: str) -> str:
    """The subject alternative names of the certificate Traefik at ADDRESS serves for HOST."""
    script = f"openssl s_client -connect {address}:443 -servername {host} </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName 2>/dev/null"
    return dep.harness.in_ctl(["sh", "-c", script], timeout=30).stdout


def test_dns_01_orders_each_name_once_through_the_providers_api_and_every_manager_serves_it(
    request: pytest.FixtureRequest, deployment: Deployment, toolchain: Toolchain, pebble: Pebble, api: DnsProviderApi
) -> None:
    image, _ = acme_image(toolchain)
    dns = {
        "provider": "httpreq",
        "env": {"HTTPREQ_ENDPOINT": api.endpoint, "HTTPREQ_USERNAME": USER, "HTTPREQ_PASSWORD": PASSWORD},
        # pebble's DNS answers the TXT queries; it has no SOA or NS records, so no authoritative check.
        "resolvers": [pebble.dns_server],
        "disableANSChecks": True,
    }
    acme = {"email": EMAIL, "issuer": "swarm", "image": image, "caServer": pebble.directory_url, "caBundle": pebble.ca_bundle_pem, "challenge": "dns", "dns": dns}
    deployment.traefik_extra = {"acme": acme}
    deployment.configure()
    assert deployment.up("up with traefik.acme.challenge: dns (httpreq, pebble)").summary.result == "succeeded"
    start = time.monotonic()
    for host in managers(deployment):
        outbound_nat(host)  # the issuer reaches pebble and the provider's API in the control namespace
    first = deployment.first
    roots = deployment.run_dir / "pebble-roots.pem"
    roots.write_text(pebble.issuing_roots_pem())
    wait_for(lambda: len(running_on(first, "traefik")) == 3, 120, "a Traefik on every manager")
    wait_for(lambda: len(running_on(first, ISSUER)) == 1, 120, "one issuer")
    served_everywhere(deployment, pebble, roots, NAMES, more=f"\nprovider API calls: {api.calls}")
    say(request.config, f"[e2e-acme-dns] issuance (up done -> both names on every manager): {time.monotonic() - start:.1f} s")
    for name in NAMES:
        one_certificate_everywhere(deployment, name)
        assert "Pebble Intermediate" in https(deployment, first.address, roots, name, "-v", "-o", "/dev/null").stderr
    # Proved over DNS: the TXT record of each name set (and removed) through the provider's API,
    # with the credentials the issuer read from its secret files; never a wrong one.
    assert {challenge(n) for n in NAMES} <= api.presented(), api.calls
    assert {c.fqdn for c in api.calls if c.path == "/cleanup"} >= {challenge(n) for n in NAMES}, api.calls
    assert api.refused() == []
    # pebble validated no HTTP-01 challenge (it logs each one it tries; DNS-01 ones are not logged).
    assert "Attempting to validate w/ HTTP" not in pebble.log_file("pebble").read_text(errors="replace")
    # A wildcard, which only DNS-01 proves: a service that asks for *.wild.<domain> on its router.
    whoami, _ = toolchain.whoami
    router = "traefik.http.routers.wild"
    labels = {
        "traefik.enable": "true",
        f"{router}.rule": f"Host(`{WILD_NAME}`)",
        f"{router}.tls.certresolver": "le",
        f"{router}.tls.domains[0].main": f"*.{WILD}",
        "traefik.http.services.wild.loadbalancer.server.port": "80",
    }
    label_args = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    added = time.monotonic()
    first.docker("service", "create", "--detach", "--name", "wild", "--network", "traefik-net", "--constraint", "node.role == worker", *label_args, whoami)
    request.addfinalizer(lambda: first.docker("service", "rm", "wild", check=False))
    served_everywhere(deployment, pebble, roots, (WILD_NAME,), more=f"\nprovider API calls: {api.calls}")
    say(request.config, f"[e2e-acme-dns] wildcard (service created -> served on every manager): {time.monotonic() - added:.1f} s")
    for host in managers(deployment):
        assert f"DNS:*.{WILD}" in certificate_names(deployment, host.address, WILD_NAME)
    assert challenge(WILD) in api.presented(), api.calls
    time.sleep(10)  # nothing is ordered again while things settle
    assert orders(pebble) == len(NAMES) + 1, f"pebble saw {orders(pebble)} orders for {len(NAMES)} names and a wildcard\n{pebble.log_tails()}"
    # The credentials: only file paths in the issuer's spec, the secrets mounted into it alone.
    spec = {s: json.loads(first.docker("service", "inspect", s))[0]["Spec"]["TaskTemplate"]["ContainerSpec"] for s in (ISSUER, "traefik")}
    env = dict(item.split("=", 1) for item in spec[ISSUER].get("Env") or [])
    assert env == {f"{n}_FILE": f"/run/secrets/traefik-acme-dns-{n}" for n in ("HTTPREQ_ENDPOINT", "HTTPREQ_PASSWORD", "HTTPREQ_USERNAME")}
    mounted = sorted(s["File"]["Name"] for s in spec[ISSUER].get("Secrets") or [] if s["SecretName"].startswith("traefik-acme-dns-"))
    assert mounted == sorted(f"traefik-acme-dns-{n}" for n in ("HTTPREQ_ENDPOINT", "HTTPREQ_PASSWORD", "HTTPREQ_USERNAME"))
    assert not [s for s in spec["traefik"].get("Secrets") or [] if s["SecretName"].startswith("traefik-acme-dns-")]
    assert not spec["traefik"].get("Env")
    for path in deployment.state_files():
        assert PASSWORD not in path.read_text(errors="replace"), f"the provider's password is readable in {path}"
    assert not [line for line in deployment.outputs if PASSWORD in line]


def test_destroy_leaves_no_service_container_or_dns_secret(deployment: Deployment) -> None:
    deployment.destroy("destroy")
    first = deployment.first
    # The swarm itself is gone with destroy (the nodes left); were it not, none of these may stay.
    assert first.docker("service", "ls", "-q", check=False) == ""
    assert not [name for name in first.docker("secret", "ls", "--format", "{{.Name}}", check=False).split() if name.startswith("traefik-acme")]
    for host in deployment.harness:
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
