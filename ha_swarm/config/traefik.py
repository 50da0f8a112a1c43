"""`traefik`: the image, publish mode, dashboard, and HTTPS (ACME, certificates of the user's own)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ha_swarm.config.acme_dns import parse_dns
from ha_swarm.config.checks import (
    CONFIG,
    bool_field,
    choice,
    image_reference,
    object_setting,
    only,
    text_field,
    whole,
)
from ha_swarm.config.model import ACME_CHALLENGES, ACME_ISSUERS, DEFAULT_DASHBOARD_ALLOW_HTTP, NAMESPACE, PUBLISH_MODES, AcmeSettings, Certificate, TraefikSettings

TRAEFIK_KEYS = ("image", "publishMode", "encryptedNetwork", "dashboard", "acme", "redirectHttps", "certificates", "socketProxyImage")

DASHBOARD_KEYS = ("users", "allowHttp")

ACME_KEYS = ("email", "challenge", "staging", "caServer", "caBundle", "node", "issuer", "image", "certificatesDuration", "dns")

CERTIFICATE_KEYS = ("cert", "key")

_HTPASSWD_BCRYPT = re.compile(r"^[^:\s]+:\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")

_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]+-----END ([A-Z]+ )?PRIVATE KEY-----")


def _pem_head(value: Any) -> Any:
    """A refused PEM value, cut short in the message."""
    return value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value


def parse_acme(raw: Any, managers: Sequence[str], secret: bool = False) -> AcmeSettings:
    obj = object_setting("traefik.acme", raw)
    only(CONFIG, "traefik.acme", obj, ACME_KEYS)
    why = " (node: one Traefik next to its store; swarm: one issuer at a time, Traefik on every manager)"
    issuer = choice(CONFIG, "traefik.acme.issuer", obj.get("issuer", AcmeSettings.issuer), ACME_ISSUERS, why)
    # With issuer: swarm, HTTP-01 is the one challenge that can reach the issuer (see below).
    default_challenge = "http" if issuer == "swarm" else AcmeSettings.challenge
    challenges = " (TLS-ALPN-01 on port 443, HTTP-01 on port 80, or DNS-01 through traefik.acme.dns)"
    challenge = choice(CONFIG, "traefik.acme.challenge", obj.get("challenge", default_challenge), ACME_CHALLENGES, challenges)
    email = text_field(obj, "email", "traefik.acme.email")
    if email is None or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise CONFIG.refuse("traefik.acme.email", email, "an e-mail address for the ACME account (Let's Encrypt writes to it about expiring certificates)")
    staging = bool_field(obj, "staging", "traefik.acme.staging", AcmeSettings.staging)
    ca_server = text_field(obj, "caServer", "traefik.acme.caServer")
    if ca_server is not None:
        if not re.fullmatch(r"https://\S+", ca_server):
            raise CONFIG.refuse("traefik.acme.caServer", ca_server, "the https:// URL of an ACME directory, such as https://ca.example.com/acme/directory")
        if staging:
            raise CONFIG.refuse("traefik.acme.caServer", ca_server, "either staging: true (Let's Encrypt's staging CA) or a caServer of your own, not both")
    ca_bundle = obj.get("caBundle")
    if ca_bundle is not None:
        if ca_server is None:
            raise CONFIG.refuse(
                "traefik.acme.caBundle", "<PEM>", "a CA bundle only together with traefik.acme.caServer (the CA that signed that server's HTTPS certificate)"
            )
        if not isinstance(ca_bundle, str) or not _PEM_CERTIFICATE.search(ca_bundle):
            raise CONFIG.refuse("traefik.acme.caBundle", _pem_head(ca_bundle), "PEM text with one or more -----BEGIN CERTIFICATE----- blocks")
        ca_bundle = ca_bundle.strip() + "\n"
    image = image_reference(CONFIG, "traefik.acme.image", obj.get("image", AcmeSettings.image), f"an image reference such as {AcmeSettings.image}")
    duration = obj.get("certificatesDuration")
    # Hours, as Traefik takes it; at most ten years.
    certificates_duration = None if duration is None else whole(CONFIG, "traefik.acme.certificatesDuration", duration, 1, 87600)
    if issuer == "swarm":
        if challenge == "tls":
            raise CONFIG.refuse(
                "traefik.acme.challenge",
                challenge,
                "http with issuer: swarm (TLS-ALPN-01 must reach the issuer on 443, but every manager's Traefik terminates TLS there itself)",
            )
    elif "image" in obj:
        raise CONFIG.refuse("traefik.acme.image", image, "an image only with issuer: swarm (issuer: node runs traefik.image)")
    node = obj.get("node", managers[0] if managers else None)
    if not isinstance(node, str) or node not in managers:
        raise CONFIG.refuse("traefik.acme.node", node, f"the name of a manager, which keeps the ACME store: {', '.join(managers)}")
    return AcmeSettings(
        email=email, challenge=challenge, staging=staging, ca_server=ca_server, ca_bundle=ca_bundle, node=node, issuer=issuer, image=image,
        certificates_duration=certificates_duration, dns=parse_dns(obj.get("dns"), challenge, secret),
    )  # fmt: skip


def parse_certificates(raw: Any, secret: bool) -> tuple[Certificate, ...]:
    if raw is None:
        return ()
    shape = "a list of {cert, key} objects: PEM certificate (chain) and PEM private key"
    if not isinstance(raw, list) or not raw:
        raise CONFIG.refuse("traefik.certificates", "<hidden>", shape)
    result = []
    for i, item in enumerate(raw):
        key = f"traefik.certificates[{i}]"
        if not isinstance(item, Mapping):
            raise CONFIG.refuse(key, "<hidden>", shape)
        for k in item:
            if k not in CERTIFICATE_KEYS:
                raise CONFIG.refuse(f"{key}.{k}", "<hidden>", f"unknown key; allowed keys: {', '.join(CERTIFICATE_KEYS)}")
        cert, private = item.get("cert"), item.get("key")
        if not isinstance(cert, str) or not _PEM_CERTIFICATE.search(cert):
            raise CONFIG.refuse(f"{key}.cert", _pem_head(cert), "PEM text: the certificate, then its intermediates (-----BEGIN CERTIFICATE-----)")
        if not isinstance(private, str) or not _PEM_PRIVATE_KEY.search(private):
            # The value is a private key: never echo it.
            raise CONFIG.refuse(f"{key}.key", "<hidden>", "PEM text of the certificate's private key (-----BEGIN PRIVATE KEY-----)")
        if not secret:
            raise CONFIG.refuse(
                f"{key}.key",
                "<hidden>",
                f"a secret: pulumi config set --secret --path '{NAMESPACE}:{key}.key' < key.pem (the whole traefik object is then kept encrypted)",
            )
        result.append(Certificate(cert.strip() + "\n", private.strip() + "\n"))
    return tuple(result)


def parse_traefik(raw: Any, managers: Sequence[str] = ("manager-1",), secret: bool = False) -> TraefikSettings:
    obj = object_setting("traefik", raw)
    only(CONFIG, "traefik", obj, TRAEFIK_KEYS)
    image = image_reference(CONFIG, "traefik.image", obj.get("image", TraefikSettings.image), "an image reference such as traefik:v3.6.1")
    socket_proxy_image = image_reference(
        CONFIG,
        "traefik.socketProxyImage",
        obj.get("socketProxyImage", TraefikSettings.socket_proxy_image),
        f"an image reference of a Docker socket proxy that reads tecnativa's variables, such as {TraefikSettings.socket_proxy_image}",
    )
    publish_mode = choice(CONFIG, "traefik.publishMode", obj.get("publishMode", TraefikSettings.publish_mode), PUBLISH_MODES)
    dashboard = object_setting("traefik.dashboard", obj.get("dashboard"))
    only(CONFIG, "traefik.dashboard", dashboard, DASHBOARD_KEYS)
    users_raw = dashboard.get("users", list(TraefikSettings.dashboard_users))
    if not isinstance(users_raw, list):
        raise CONFIG.refuse("traefik.dashboard.users", "<hidden>", "a list of bcrypt htpasswd lines (htpasswd -nbB user password)")
    for i, line in enumerate(users_raw):
        if not isinstance(line, str) or not _HTPASSWD_BCRYPT.fullmatch(line.strip()):
            # The value is a credential: never echo it.
            raise CONFIG.refuse(f"traefik.dashboard.users[{i}]", "<hidden>", "a bcrypt htpasswd line user:$2y$... (htpasswd -nbB user password)")
    acme = parse_acme(obj["acme"], managers, secret) if obj.get("acme") is not None else None
    certificates = parse_certificates(obj.get("certificates"), secret)
    if acme is not None and acme.replicated and certificates:
        raise CONFIG.refuse(
            "traefik.acme.issuer", acme.issuer, "node when traefik.certificates are given too (certificates of your own beside a replicated ACME store: not yet)"
        )
    if users_raw and acme is None and not certificates and not bool_field(dashboard, "allowHttp", "traefik.dashboard.allowHttp", DEFAULT_DASHBOARD_ALLOW_HTTP):
        # Basic authentication over plain HTTP sends the password in clear at every request.
        raise CONFIG.refuse(
            "traefik.dashboard.users",
            "<hidden>",
            "dashboard users only with HTTPS (traefik.acme or traefik.certificates), or with traefik.dashboard.allowHttp: true on a network you trust",
        )
    redirect = obj.get("redirectHttps")
    if redirect is not None and acme is None and not certificates:
        raise CONFIG.refuse("traefik.redirectHttps", redirect, "only together with traefik.acme or traefik.certificates (without them there is no HTTPS to redirect to)")
    redirect_https = bool_field(obj, "redirectHttps", "traefik.redirectHttps", TraefikSettings.redirect_https)
    encrypted = bool_field(obj, "encryptedNetwork", "traefik.encryptedNetwork", TraefikSettings.encrypted_network)
    return TraefikSettings(
        image=image,
        publish_mode=publish_mode,
        encrypted_network=encrypted,
        dashboard_users=tuple(u.strip() for u in users_raw),
        acme=acme,
        certificates=certificates,
        redirect_https=redirect_https,
        socket_proxy_image=socket_proxy_image,
    )
