"""traefik.acme.challenge: dns under mocks (issue 18, docs/https-ha.md "DNS-01"): lego's DNS
providers for the ACME client alone, their credentials swarm secrets that are Pulumi secrets end to
end (only NAME_FILE in a service spec), with issuer: swarm and with today's single Traefik; refusals."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.ingress.acme import ISSUER_SERVICE
from ha_swarm.ingress.challenge import secret_name
from tests.support.mocks import TEST_PRIVATE_KEY, Program, base_config, run_program
from tests.unit.test_https_ha import ACME, LAB31, container, labels, service

TOKEN = "cf-token-5ecret-Value"
DNS = {"provider": "cloudflare", "env": {"CF_DNS_API_TOKEN": TOKEN, "CF_ZONE_API_TOKEN": "zone-" + TOKEN}}
PREFIX = "--certificatesresolvers.le.acme"


def program(acme: dict[str, Any]) -> Program:
    return run_program(base_config(lab=LAB31, traefik={"acme": acme}), secret=("traefik",))


def dns_secrets(p: Program) -> dict[str, Any]:
    return {r.inputs["name"]: r for r in p.of_type("docker:index/secret:Secret") if r.inputs["name"].startswith("traefik-acme-dns-")}


def test_dns_01_makes_the_issuer_the_only_holder_of_the_providers_credentials_and_gives_it_only_file_paths() -> None:
    p = program({**ACME, "challenge": "dns", "dns": DNS})
    issuer, serve = container(p, ISSUER_SERVICE), container(p, "traefik")
    assert f"{PREFIX}.dnschallenge.provider=cloudflare" in issuer["args"]
    assert not [a for a in issuer["args"] if "httpchallenge" in a or "tlschallenge" in a]
    assert issuer["env"] == {
        "CF_DNS_API_TOKEN_FILE": "/run/secrets/traefik-acme-dns-CF_DNS_API_TOKEN",
        "CF_ZONE_API_TOKEN_FILE": "/run/secrets/traefik-acme-dns-CF_ZONE_API_TOKEN",
    }
    secrets = dns_secrets(p)
    assert sorted(secrets) == sorted([secret_name("CF_DNS_API_TOKEN", TOKEN), secret_name("CF_ZONE_API_TOKEN", "zone-" + TOKEN)])
    for res in secrets.values():
        # The value is a Pulumi secret in the state; swarm keeps it encrypted in Raft.
        assert "data" in res.secret_inputs
        assert "ha-swarm:ingress:DnsCredentials" in res.urn
    mounted = {s["fileName"]: s for s in issuer["secrets"] if s["fileName"].startswith("traefik-acme-dns-")}
    assert set(mounted) == {"traefik-acme-dns-CF_DNS_API_TOKEN", "traefik-acme-dns-CF_ZONE_API_TOKEN"}
    assert {s["fileMode"] for s in mounted.values()} == {0o400}
    assert base64.b64decode(secrets[mounted["traefik-acme-dns-CF_DNS_API_TOKEN"]["secretName"]].inputs["data"]).decode() == TOKEN
    # The serving Traefiks face the internet and never see the credentials.
    assert not [s for s in serve.get("secrets") or [] if s["fileName"].startswith("traefik-acme-dns-")]
    assert not serve.get("env")
    # No credential in any plain input of any resource, nor in an output.
    for res in p.resources:
        plain = {k: v for k, v in res.inputs.items() if k not in res.secret_inputs}
        assert TOKEN not in json.dumps(plain, default=str), res.name
    assert TOKEN not in json.dumps({k: v for k, v in p.outputs.items() if k not in p.secret_outputs}, default=str)


def test_dns_01_needs_no_challenge_router_to_the_issuer() -> None:
    found = labels(service(program({**ACME, "challenge": "dns", "dns": DNS}), ISSUER_SERVICE))
    assert found == {"ha-swarm.acme-issuer": "true"}
    # With HTTP-01 the router is there (test_https_ha.py says where it goes).
    assert "traefik.http.routers.acme-http-challenge.rule" in labels(service(program(ACME), ISSUER_SERVICE))


def test_the_dns_provider_options_become_traefiks_dnschallenge_flags() -> None:
    dns = {**DNS, "resolvers": ["1.1.1.1:53", "[2606:4700::1111]:53"], "disableANSChecks": True, "delayBeforeChecks": 30}
    args = container(program({**ACME, "challenge": "dns", "dns": dns}), ISSUER_SERVICE)["args"]
    for arg in (
        f"{PREFIX}.dnschallenge.resolvers=1.1.1.1:53,[2606:4700::1111]:53",
        f"{PREFIX}.dnschallenge.propagation.disableANSChecks=true",
        f"{PREFIX}.dnschallenge.propagation.delayBeforeChecks=30s",
    ):
        assert arg in args, arg
    plain = container(program({**ACME, "challenge": "dns", "dns": DNS}), ISSUER_SERVICE)["args"]
    assert not [a for a in plain if ".dnschallenge.resolvers" in a or ".propagation." in a]


def test_dns_01_with_the_single_traefik_puts_the_credentials_on_that_traefik() -> None:
    p = program({"email": "ops@example.test", "challenge": "dns", "dns": DNS})
    serve = container(p, "traefik")
    assert f"{PREFIX}.dnschallenge.provider=cloudflare" in serve["args"]
    assert not [a for a in serve["args"] if "tlschallenge" in a or "httpchallenge" in a]
    assert serve["env"]["CF_DNS_API_TOKEN_FILE"] == "/run/secrets/traefik-acme-dns-CF_DNS_API_TOKEN"
    assert len([s for s in serve["secrets"] if s["fileName"].startswith("traefik-acme-dns-")]) == 2
    assert not [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"] == ISSUER_SERVICE]


def test_a_new_credential_gets_a_new_secret_name_that_does_not_show_a_plain_hash_of_it() -> None:
    first, second = secret_name("CF_DNS_API_TOKEN", TOKEN), secret_name("CF_DNS_API_TOKEN", TOKEN + "2")
    assert first != second and first.startswith("traefik-acme-dns-cf-dns-api-token-")
    assert secret_name("CF_DNS_API_TOKEN", TOKEN) == first  # the same value, the same name: no change on up
    long = secret_name("A" * 64, "x")
    assert len(long) <= 64
    assert hashlib.sha256(TOKEN.encode()).hexdigest()[:12] not in first


def test_other_challenges_and_stacks_without_dns_declare_no_dns_secret() -> None:
    assert dns_secrets(program(ACME)) == {}
    assert "env" not in container(program(ACME), ISSUER_SERVICE) or not container(program(ACME), ISSUER_SERVICE)["env"]


def refused(acme: dict[str, Any], *needles: str, secret: bool = True, hidden: str = TOKEN) -> None:
    raw = base_config(lab=LAB31, traefik={"acme": acme})
    raw["sshPrivateKey"] = TEST_PRIVATE_KEY
    with pytest.raises(SettingsError) as err:
        parse_settings(raw, ["traefik"] if secret else [])
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    assert hidden not in message, message


@pytest.mark.parametrize(
    ("acme", "needles"),
    [
        ({**ACME, "challenge": "dns"}, ("traefik.acme.dns = null", "the DNS provider of challenge: dns")),
        ({**ACME, "dns": DNS}, ("traefik.acme.dns = '<hidden>'", "only with traefik.acme.challenge: dns")),
        ({**ACME, "challenge": "dns", "dns": {"env": DNS["env"]}}, ("traefik.acme.dns.provider", "lego DNS provider")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "provider": "manual"}}, ("traefik.acme.dns.provider = 'manual'", "other than manual")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "provider": "cloud flare; rm -rf /"}}, ("traefik.acme.dns.provider",)),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "token": TOKEN}}, ("traefik.acme.dns.token = '<hidden>'", "unknown key")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "env": {"cf_token": TOKEN}}}, ("traefik.acme.dns.env.cf_token", "capitals")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "env": {"CF_DNS_API_TOKEN_FILE": TOKEN}}}, ("CF_DNS_API_TOKEN_FILE", "NAME_FILE is what ha-swarm sets")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "env": {"CF_DNS_API_TOKEN": TOKEN + "\n"}}}, ("traefik.acme.dns.env.CF_DNS_API_TOKEN = '<hidden>'", "line breaks")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "env": {"CF_DNS_API_TOKEN": " "}}}, ("non-empty",)),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "env": ["CF_DNS_API_TOKEN"]}}, ("traefik.acme.dns.env", "NAME: value")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "resolvers": ["1.1.1.1"]}}, ("traefik.acme.dns.resolvers[0] = '1.1.1.1'", "host:port")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "resolvers": ["1.1.1.1:53\n"]}}, ("traefik.acme.dns.resolvers[0]", "host:port")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "resolvers": ["1.1.1.1:70000"]}}, ("traefik.acme.dns.resolvers[0]",)),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "delayBeforeChecks": 7200}}, ("traefik.acme.dns.delayBeforeChecks = 7200", "from 0 to 3600")),
        ({**ACME, "challenge": "dns", "dns": {**DNS, "disableANSChecks": "yes"}}, ("traefik.acme.dns.disableANSChecks", "true or false")),
    ],
)
def test_bad_dns_settings_are_refused_in_one_line_without_showing_a_credential(acme: dict[str, Any], needles: tuple[str, ...]) -> None:
    refused(acme, *needles)


def test_dns_credentials_in_a_plain_traefik_object_are_refused_with_how_to_keep_them_secret() -> None:
    refused({**ACME, "challenge": "dns", "dns": DNS}, "traefik.acme.dns.env.CF_DNS_API_TOKEN", "pulumi config set --secret --path", secret=False)
