"""HTTPS under mocks: the settings of both modes (ACME, certificates of the user's own), Traefik's
static configuration, where Traefik runs, the swarm secrets and configs, the node label of the
ACME store, and the curl lines of the outputs."""

from __future__ import annotations

import base64
import shlex
from typing import Any

import pytest
import yaml

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import LETSENCRYPT_STAGING
from ha_swarm.ingress.traefik import ACME_CA_FILE, TLS_FILE
from tests.support.mocks import TEST_PRIVATE_KEY, Program, Registered, base_config, run_program

CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGVGb3JUZXN0cw==\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgU2VjcmV0S2V5Rm9yVGVzdHM=\n-----END PRIVATE KEY-----\n"
CERT2 = CERT.replace("Q2Vyd", "T3RoZ")
KEY2 = KEY.replace("U2Vjc", "T3RoZ")
CA = CERT.replace("Q2Vyd", "Q0FDQ")
ACME = {"email": "ops@example.test"}
LAB31 = {**base_config()["lab"], "managers": 3, "workers": 1}


def settings(traefik: dict[str, Any], *, secret: bool = False, **overrides: Any):
    raw = base_config(traefik=traefik, **overrides)
    raw["sshPrivateKey"] = TEST_PRIVATE_KEY
    return parse_settings(raw, ["traefik"] if secret else [])


def refused(traefik: dict[str, Any], *needles: str, secret: bool = True, **overrides: Any) -> str:
    with pytest.raises(SettingsError) as err:
        settings(traefik, secret=secret, **overrides)
    message = str(err.value)
    for needle in needles:
        assert needle in message, message
    return message


def traefik_service(p: Program) -> Registered:
    (found,) = [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"] == "traefik"]
    return found


def args(p: Program) -> list[str]:
    return traefik_service(p).inputs["taskSpec"]["containerSpec"]["args"]


def settle_labels(p: Program, node: str) -> list[str]:
    words = shlex.split(p.named(f"{node}-settle").inputs["create"])[4:]
    return words[3:]  # NODE_ID NAME ROLE KEY=VALUE...


# --------------------------------------------------------------------------- settings


def test_acme_defaults_to_tls_challenge_lets_encrypt_and_the_first_manager_as_store() -> None:
    acme = settings({"acme": ACME}, lab=LAB31).traefik.acme
    assert acme is not None
    assert (acme.challenge, acme.staging, acme.ca_server, acme.ca_bundle, acme.node) == ("tls", False, None, None, "manager-1")
    assert acme.directory is None  # Traefik's default: Let's Encrypt's production CA
    staging = settings({"acme": {**ACME, "staging": True}}).traefik.acme
    assert staging is not None and staging.directory == LETSENCRYPT_STAGING


@pytest.mark.parametrize(
    ("acme", "needles"),
    [
        ({"email": "not-an-address"}, ("traefik.acme.email", "not-an-address", "e-mail address")),
        ({**ACME, "challenge": "dns-01"}, ("traefik.acme.challenge", "'dns-01'", "one of tls, http, dns")),
        ({**ACME, "caServer": "http://ca.example.test/dir"}, ("traefik.acme.caServer", "https:// URL")),
        ({**ACME, "staging": True, "caServer": "https://ca.example.test/dir"}, ("traefik.acme.caServer", "not both")),
        ({**ACME, "caBundle": CA}, ("traefik.acme.caBundle", "only together with traefik.acme.caServer")),
        ({**ACME, "caServer": "https://ca.example.test/dir", "caBundle": "not pem"}, ("traefik.acme.caBundle", "PEM text")),
        ({**ACME, "node": "worker-1"}, ("traefik.acme.node", "'worker-1'", "the name of a manager", "manager-1")),
        ({**ACME, "storage": "/x"}, ("traefik.acme.storage", "unknown key", "caServer")),
    ],
)
def test_bad_acme_values_are_refused_naming_the_key(acme: dict[str, Any], needles: tuple[str, ...]) -> None:
    refused({"acme": acme}, *needles)


def test_certificates_need_pem_text_and_a_secret_key_that_is_never_echoed() -> None:
    refused({"certificates": "cert.pem"}, "traefik.certificates", "list of {cert, key}")
    refused({"certificates": [{"cert": "nope", "key": KEY}]}, "traefik.certificates[0].cert", "'nope'", "PEM text")
    message = refused({"certificates": [{"cert": CERT, "key": "hunter2-secret"}]}, "traefik.certificates[0].key", "<hidden>", "private key")
    assert "hunter2" not in message
    refused({"certificates": [{"cert": CERT, "key": KEY, "chain": CA}]}, "traefik.certificates[0].chain", "unknown key")
    # A key in plain config text would sit unencrypted in Pulumi.<stack>.yaml: refused, with the command that fixes it.
    message = refused({"certificates": [{"cert": CERT, "key": KEY}]}, "traefik.certificates[0].key", "--secret", secret=False)
    assert "MIGHAg" not in message


def test_redirect_setting_is_only_taken_with_https_on() -> None:
    refused({"redirectHttps": False}, "traefik.redirectHttps", "only together with traefik.acme or traefik.certificates")
    assert settings({"acme": ACME, "redirectHttps": False}).traefik.redirect_https is False
    assert settings({"acme": ACME}).traefik.redirect_https is True


def test_certificate_settings_never_show_the_key_in_their_repr() -> None:
    s = settings({"certificates": [{"cert": CERT, "key": KEY}]}, secret=True)
    assert "MIGHAg" not in repr(s.traefik) and "MIGHAg" not in str(s.traefik.certificates)


# --------------------------------------------------------------------------- ACME mode


def test_acme_gives_traefik_websecure_a_le_resolver_and_a_redirect() -> None:
    a = args(run_program(base_config(traefik={"acme": ACME})))
    for arg in (
        "--entrypoints.web.address=:80",
        "--entrypoints.websecure.address=:443",
        "--entrypoints.websecure.http.tls=true",
        "--entrypoints.websecure.http.tls.certresolver=le",
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
        "--certificatesresolvers.le.acme.email=ops@example.test",
        "--certificatesresolvers.le.acme.storage=/acme/acme.json",
        "--certificatesresolvers.le.acme.tlschallenge=true",
    ):
        assert arg in a
    assert not any("caserver" in x or "httpchallenge" in x or "providers.file" in x for x in a)


def test_acme_http_challenge_staging_and_no_redirect() -> None:
    a = args(run_program(base_config(traefik={"acme": {**ACME, "challenge": "http", "staging": True}, "redirectHttps": False})))
    assert "--certificatesresolvers.le.acme.httpchallenge=true" in a
    assert "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web" in a
    assert f"--certificatesresolvers.le.acme.caserver={LETSENCRYPT_STAGING}" in a
    assert not any("tlschallenge" in x or "redirections" in x for x in a)


def test_acme_keeps_one_traefik_on_the_labelled_manager_with_its_store_on_a_named_volume() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": ACME}))
    traefik = traefik_service(p)
    spec = traefik.inputs["taskSpec"]
    assert traefik.inputs["mode"] == {"replicated": {"replicas": 1}}
    assert spec["placement"]["constraints"] == ["node.role == manager", "node.labels.ha-swarm.traefik-acme == true"]
    assert {"type": "volume", "source": "traefik-acme", "target": "/acme"} in spec["containerSpec"]["mounts"]
    assert [p["publishedPort"] for p in traefik.inputs["endpointSpec"]["ports"]] == [80, 443]
    assert "ha-swarm.traefik-acme=true" in settle_labels(p, "manager-1")
    for node in ("manager-2", "manager-3", "worker-1"):
        assert not any(label.startswith("ha-swarm.") for label in settle_labels(p, node)), node
    # The label is set before Traefik is declared: the service waits for every settle.
    assert p.depends_on(traefik, p.named("manager-1-settle"))


def test_the_acme_store_follows_the_node_setting() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": {**ACME, "node": "manager-3"}}))
    assert "ha-swarm.traefik-acme=true" in settle_labels(p, "manager-3")
    assert "ha-swarm.traefik-acme=true" not in settle_labels(p, "manager-1")


def test_a_private_acme_ca_is_trusted_through_a_swarm_config() -> None:
    p = run_program(base_config(traefik={"acme": {**ACME, "caServer": "https://10.0.0.5:14000/dir", "caBundle": CA}}))
    a = args(p)
    assert "--certificatesresolvers.le.acme.caserver=https://10.0.0.5:14000/dir" in a
    assert f"--certificatesresolvers.le.acme.caCertificates={ACME_CA_FILE}" in a
    assert "--certificatesresolvers.le.acme.caSystemCertPool=true" in a
    (config,) = p.of_type("docker:index/serviceConfig:ServiceConfig")
    assert base64.b64decode(config.inputs["data"]).decode() == CA
    assert config.inputs["name"].startswith("traefik-acme-ca-")
    (mounted,) = traefik_service(p).inputs["taskSpec"]["containerSpec"]["configs"]
    assert (mounted["configId"], mounted["fileName"]) == (config.id, ACME_CA_FILE)


# --------------------------------------------------------------------------- certificates mode


def run_certificates(pairs: list[tuple[str, str]], **traefik: Any) -> Program:
    certificates = [{"cert": c, "key": k} for c, k in pairs]
    return run_program(base_config(lab=LAB31, traefik={"certificates": certificates, **traefik}), secret=["traefik"])


def test_certificates_become_swarm_secrets_whose_data_stays_a_pulumi_secret() -> None:
    p = run_certificates([(CERT, KEY), (CERT2, KEY2)])
    secrets = {r.name: r for r in p.of_type("docker:index/secret:Secret")}
    assert sorted(secrets) == ["traefik-cert-0", "traefik-cert-1", "traefik-key-0", "traefik-key-1"]
    for name, text in (("traefik-cert-0", CERT), ("traefik-key-0", KEY), ("traefik-cert-1", CERT2), ("traefik-key-1", KEY2)):
        assert base64.b64decode(secrets[name].inputs["data"]).decode() == text
        assert "data" in secrets[name].secret_inputs, f"{name}: data must stay secret"
    # A changed certificate gets new swarm objects (a secret cannot change): the names carry a content hash.
    assert secrets["traefik-cert-0"].inputs["name"] != secrets["traefik-cert-1"].inputs["name"]
    other = run_certificates([(CERT, KEY2)])
    assert {r.inputs["name"] for r in other.of_type("docker:index/secret:Secret")}.isdisjoint(r.inputs["name"] for r in secrets.values())
    # The key text appears nowhere outside the secret inputs.
    for res in p.resources:
        plain = {k: v for k, v in res.inputs.items() if k not in res.secret_inputs}
        assert base64.b64encode(KEY.encode()).decode() not in str(plain) and "MIGHAg" not in str(plain), res.name


def test_certificates_are_served_by_the_file_provider_with_the_first_as_default() -> None:
    p = run_certificates([(CERT, KEY), (CERT2, KEY2)])
    assert f"--providers.file.filename={TLS_FILE}" in args(p)
    (config,) = p.of_type("docker:index/serviceConfig:ServiceConfig")
    doc = yaml.safe_load(base64.b64decode(config.inputs["data"]))
    pairs = doc["tls"]["certificates"]
    assert pairs == [
        {"certFile": "/run/secrets/traefik-cert-0.pem", "keyFile": "/run/secrets/traefik-key-0.pem"},
        {"certFile": "/run/secrets/traefik-cert-1.pem", "keyFile": "/run/secrets/traefik-key-1.pem"},
    ]
    assert doc["tls"]["stores"]["default"]["defaultCertificate"] == pairs[0]
    container = traefik_service(p).inputs["taskSpec"]["containerSpec"]
    assert [c["fileName"] for c in container["configs"]] == [TLS_FILE]
    mounted = {s["fileName"]: s for s in container["secrets"]}
    assert sorted(mounted) == ["traefik-cert-0.pem", "traefik-cert-1.pem", "traefik-key-0.pem", "traefik-key-1.pem"]
    assert all(s["fileMode"] == 0o400 for s in mounted.values())
    by_name = {r.inputs["name"]: r.id for r in p.of_type("docker:index/secret:Secret")}
    assert {s["secretName"]: s["secretId"] for s in mounted.values()} == by_name


def test_certificates_run_traefik_on_every_manager_on_80_and_443() -> None:
    traefik = traefik_service(run_certificates([(CERT, KEY)]))
    assert traefik.inputs["mode"] == {"global": True}
    assert traefik.inputs["taskSpec"]["placement"]["constraints"] == ["node.role == manager"]
    assert [(p["publishedPort"], p["publishMode"]) for p in traefik.inputs["endpointSpec"]["ports"]] == [(80, "ingress"), (443, "ingress")]
    assert not any("acme" in x for x in args(run_certificates([(CERT, KEY)])))


def test_acme_and_certificates_together_keep_one_traefik_next_to_the_store() -> None:
    p = run_program(
        base_config(lab=LAB31, traefik={"acme": ACME, "certificates": [{"cert": CERT, "key": KEY}]}),
        secret=["traefik"],
    )
    traefik = traefik_service(p)
    assert traefik.inputs["mode"] == {"replicated": {"replicas": 1}}
    assert "--providers.file.filename=/etc/traefik/dynamic/tls.yml" in args(p)
    assert "--entrypoints.websecure.http.tls.certresolver=le" in args(p)


def test_without_https_traefik_listens_on_80_only() -> None:
    p = run_program(base_config())
    assert not any("websecure" in x or "acme" in x for x in args(p))
    assert [port["publishedPort"] for port in traefik_service(p).inputs["endpointSpec"]["ports"]] == [80]
    assert not p.of_type("docker:index/secret:Secret") and not p.of_type("docker:index/serviceConfig:ServiceConfig")


# --------------------------------------------------------------------------- outputs


def test_https_endpoints_curl_every_answering_node_with_resolve_and_show_the_redirect() -> None:
    p = run_certificates([(CERT, KEY)])
    (e, *_) = p.outputs["endpoints"]
    host = e["host"]
    assert e["url"] == f"https://{host}/"
    assert e["curlEveryNode"] == [f"curl --resolve {host}:443:10.17.3.{n} https://{host}/" for n in (11, 12, 13, 21)]
    assert e["curlRedirect"] == f"curl -sI -H Host:{host} http://10.17.3.11/"
    sticky = next(x for x in p.outputs["endpoints"] if "curlSticky" in x)
    assert sticky["curlSticky"] == f"curl -c cookie.txt -b cookie.txt --resolve {sticky['host']}:443:10.17.3.11 https://{sticky['host']}/"


def test_acme_in_host_mode_answers_only_on_the_store_node() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": {**ACME, "node": "manager-2"}, "publishMode": "host"}))
    (e, *_) = p.outputs["endpoints"]
    assert e["curlEveryNode"] == [f"curl --resolve {e['host']}:443:10.17.3.12 https://{e['host']}/"]


def test_a_change_of_service_mode_replaces_the_service_old_one_first() -> None:
    # Switching between ACME (one Traefik) and certificates (global) changes the mode, which the
    # swarm refuses to update in place; and two services cannot hold the same name at once.
    p = run_program(base_config())
    services = p.of_type("docker:index/service:Service")
    assert len(services) >= 4
    for res in services:
        assert res.delete_before_replace, res.name
        assert res.replace_on_changes == ["mode"], res.name
