"""`traefik.acme.dns`: the DNS provider of `traefik.acme.challenge: dns` (DNS-01, lego's providers)."""

from __future__ import annotations

import re
from typing import Any

from ha_swarm.config.checks import CONFIG, bool_field, items, mapping, object_setting, text, whole
from ha_swarm.config.model import NAMESPACE, AcmeDns

DNS_KEYS = ("provider", "env", "resolvers", "disableANSChecks", "delayBeforeChecks")
# lego's provider names: lowercase words, with '.', '-' or '_' between them (cloudflare, route53, httpreq...).
PROVIDER = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
# `manual` waits for a person to press Enter in the container: it would hang the issuer.
REFUSED_PROVIDERS = ("manual",)
# A variable lego reads: NAME, or NAME_FILE (what ha-swarm sets itself), so NAME never ends in _FILE.
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# host:port, the host a name, an IPv4 address or a bracketed IPv6 address.
RESOLVER = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})")
DNS_SHAPE = "{provider: <lego provider name, such as cloudflare>, env: {<its variables>: ...}} (https://go-acme.github.io/lego/dns/)"


def _value(key: str, value: Any) -> str:
    """A provider's variable: text (numbers and booleans as YAML writes them), not blank, no
    space or line break around it and no NUL (it is written to a file, which lego reads whole
    but for one trailing newline). Never echoed."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or value != value.strip() or "\0" in value:
        raise CONFIG.refuse(key, "<hidden>", "a non-empty value without spaces or line breaks around it")
    return value


def parse_dns(raw: Any, challenge: str, secret: bool) -> AcmeDns | None:
    """The provider of challenge: dns (None for the other challenges, which take no dns key)."""
    if challenge != "dns":
        if raw is not None:
            raise CONFIG.refuse("traefik.acme.dns", "<hidden>", "only with traefik.acme.challenge: dns")
        return None
    if raw is None:
        raise CONFIG.refuse("traefik.acme.dns", None, f"the DNS provider of challenge: dns: {DNS_SHAPE}")
    obj = object_setting("traefik.acme.dns", raw)
    for k in obj:
        if k not in DNS_KEYS:
            # The object holds credentials: the unknown key's value is not echoed.
            raise CONFIG.refuse(f"traefik.acme.dns.{k}", "<hidden>", f"unknown key; allowed keys: {', '.join(DNS_KEYS)}")
    provider = text(CONFIG, "traefik.acme.dns.provider", obj.get("provider"), f"the name of a lego DNS provider: {DNS_SHAPE}")
    if not PROVIDER.fullmatch(provider) or provider in REFUSED_PROVIDERS:
        raise CONFIG.refuse("traefik.acme.dns.provider", obj.get("provider"), f"the name of a lego DNS provider other than {', '.join(REFUSED_PROVIDERS)}: {DNS_SHAPE}")
    env: dict[str, str] = {}
    for name, value in mapping(CONFIG, "traefik.acme.dns.env", obj.get("env"), "an object of the provider's variables, NAME: value").items():
        key = f"traefik.acme.dns.env.{name}"
        if not ENV_NAME.fullmatch(name) or name.endswith("_FILE"):
            raise CONFIG.refuse(key, "<hidden>", "a variable name of capitals, digits and '_' (lego's NAME; NAME_FILE is what ha-swarm sets)")
        env[name] = _value(key, value)
        if not secret:
            raise CONFIG.refuse(
                key,
                "<hidden>",
                f"a secret: pulumi config set --secret --path '{NAMESPACE}:{key}' <value> (the whole traefik object is then kept encrypted)",
            )
    resolvers = []
    for i, resolver in enumerate(items(CONFIG, "traefik.acme.dns.resolvers", obj.get("resolvers", []), "a list of host:port")):
        found = RESOLVER.fullmatch(resolver) if isinstance(resolver, str) else None
        if found is None or not 0 < int(found.group(1)) < 65536:
            raise CONFIG.refuse(f"traefik.acme.dns.resolvers[{i}]", resolver, "host:port of a DNS resolver, such as 1.1.1.1:53")
        resolvers.append(resolver)
    delay = obj.get("delayBeforeChecks")
    return AcmeDns(
        provider=provider,
        env=tuple(sorted(env.items())),
        resolvers=tuple(resolvers),
        disable_ans_checks=bool_field(obj, "disableANSChecks", "traefik.acme.dns.disableANSChecks", AcmeDns.disable_ans_checks),
        delay_before_checks=None if delay is None else whole(CONFIG, "traefik.acme.dns.delayBeforeChecks", delay, 0, 3600),
    )
