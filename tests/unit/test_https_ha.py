"""traefik.acme.issuer: swarm under mocks (issue 18, docs/https-ha.md): one issuer at a time on any
manager, Traefik on every manager serving the replicated store, challenges routed to the issuer,
the sealing key made on a manager and never in the state; refusals; today's mode untouched."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import DEFAULT_ACME_IMAGE
from ha_swarm.ingress.acme import CHALLENGE_PRIORITY, ISSUER_SERVICE, KEY_SECRET
from tests.support.mocks import TEST_PRIVATE_KEY, Program, Registered, base_config, run_program

ACME = {"email": "ops@example.test", "issuer": "swarm", "caServer": "https://10.0.0.5:14000/dir"}
LAB31 = {**base_config()["lab"], "managers": 3, "workers": 1}
# The highest router priority Traefik accepts from a user (math.MaxInt - 1000, pkg/config/dynamic).
MAX_USER_PRIORITY = 2**63 - 1 - 1000


def program(**traefik: Any) -> Program:
    return run_program(base_config(lab=LAB31, traefik={"acme": ACME, **traefik}))


def service(p: Program, name: str) -> Registered:
    (found,) = [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"] == name]
    return found


def container(p: Program, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = service(p, name).inputs["taskSpec"]["containerSpec"]
    return spec


def labels(res: Registered) -> dict[str, str]:
    return {item["label"]: item["value"] for item in res.inputs.get("labels") or []}


def refused(acme: dict[str, Any], *needles: str, **traefik: Any) -> None:
    raw = base_config(lab=LAB31, traefik={"acme": acme, **traefik})
    raw["sshPrivateKey"] = TEST_PRIVATE_KEY
    with pytest.raises(SettingsError) as err:
        parse_settings(raw, ["traefik"])
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_issuer_swarm_serves_with_traefik_on_every_manager_and_orders_from_one_issuer_on_any_manager() -> None:
    p = program()
    traefik, issuer = service(p, "traefik"), service(p, ISSUER_SERVICE)
    assert traefik.inputs["mode"] == {"global": True}
    assert issuer.inputs["mode"] == {"replicated": {"replicas": 1}}
    for res in (traefik, issuer):
        assert res.inputs["taskSpec"]["placement"]["constraints"] == ["node.role == manager"]
        assert res.inputs["taskSpec"]["containerSpec"]["image"] == DEFAULT_ACME_IMAGE
    serve, order = container(p, "traefik")["args"], container(p, ISSUER_SERVICE)["args"]
    assert serve[0] == "serve" and order[0] == "issuer"
    # Only the issuer is an ACME client; the serving Traefiks read the store's certificates from files.
    assert not [a for a in serve if "certificatesresolvers" in a or "certresolver" in a]
    assert "--providers.file.directory=/run/traefik-acme/dynamic" in serve and "--providers.file.watch=true" in serve
    for arg in (
        "--entrypoints.websecure.http.tls.certresolver=le",
        "--certificatesresolvers.le.acme.httpchallenge=true",
        "--certificatesresolvers.le.acme.storage=/run/traefik-acme/acme.json",
        "--certificatesresolvers.le.acme.caserver=https://10.0.0.5:14000/dir",
    ):
        assert arg in order, arg
    # The issuer publishes no port: challenges reach it over traefik-net; one task at a time.
    assert not issuer.inputs.get("endpointSpec")
    assert issuer.inputs["updateConfig"]["order"] == "stop-first"
    # Swarm reports a task with a healthcheck as running only once healthy, and Traefik routes
    # challenges only to running tasks: the issuer has none, so its settle time starts with it.
    assert "healthcheck" not in container(p, ISSUER_SERVICE)
    # No node is labelled for a store: the issuer is not pinned.
    assert not [r for r in p.of_type("command:remote:Command") if "ha-swarm.traefik-acme=true" in str(r.inputs.get("create"))]


def test_http_challenges_on_any_traefik_reach_the_issuer_above_the_https_redirect() -> None:
    p = program()
    found = labels(service(p, ISSUER_SERVICE))
    router = "traefik.http.routers.acme-http-challenge"
    assert found[f"{router}.rule"] == "PathPrefix(`/.well-known/acme-challenge/`)"
    assert found[f"{router}.entrypoints"] == "web,websecure"
    # Above the serving Traefiks' HTTP->HTTPS redirect, within what Traefik takes from a label.
    serve = container(p, "traefik")["args"]
    (redirect,) = [int(a.rsplit("=", 1)[1]) for a in serve if a.startswith("--entrypoints.web.http.redirections.entrypoint.priority=")]
    assert MAX_USER_PRIORITY == int(found[f"{router}.priority"]) == CHALLENGE_PRIORITY > redirect
    assert found["traefik.http.services.acme-http-challenge.loadbalancer.server.port"] == "80"
    # The issuer's own Traefik leaves that router out (its ACME handler answers the challenges itself).
    assert "--providers.swarm.constraints=!Label(`ha-swarm.acme-issuer`,`true`)" in container(p, ISSUER_SERVICE)["args"]
    assert found["ha-swarm.acme-issuer"] == "true"
    assert "--entrypoints.web.http.redirections.entrypoint.to=websecure" in container(p, "traefik")["args"]


def test_the_sealing_key_is_made_on_a_manager_and_only_its_id_reaches_the_state() -> None:
    p = program()
    key = p.named("acme-key")
    words = shlex.split(key.inputs["create"])
    assert words[-2:] == ["acme-key.sh", "create"]
    assert shlex.split(key.inputs["delete"])[-2:] == ["acme-key.sh", "delete"]
    assert "stdin" not in key.inputs
    assert key.inputs["connection"]["host"] == p.named("manager-1-ready").inputs["connection"]["host"]
    for name in ("traefik", ISSUER_SERVICE):
        (secret,) = [s for s in container(p, name)["secrets"] if s["secretName"] == KEY_SECRET]
        assert secret["secretId"] == "acmekeysecretid" and secret["fileMode"] == 0o400
        assert p.depends_on(service(p, name), key)
    # Each task keeps the certificates in a private tmpfs, and the node's copy of the store on the
    # traefik-acme volume (the single-Traefik mode's store: the way back and the way in).
    mounts = {m["target"]: m for m in container(p, "traefik")["mounts"]}
    assert mounts["/run/traefik-acme"]["type"] == "tmpfs"
    assert mounts["/acme"]["source"] == "traefik-acme" and not mounts["/acme"].get("readOnly")
    assert {m["target"]: m for m in container(p, ISSUER_SERVICE)["mounts"]}["/acme"]["readOnly"] is True


def test_the_endpoints_name_every_manager_with_issuer_swarm_in_host_mode() -> None:
    p = program(publishMode="host")
    (entry, *_) = p.outputs["endpoints"]
    assert len(entry["addresses"]) == 3


@pytest.mark.parametrize(
    ("acme", "traefik", "needles"),
    [
        ({**ACME, "challenge": "tls"}, {}, ("traefik.acme.challenge", "'tls'", "http with issuer: swarm", "terminates TLS")),
        ({**ACME, "node": "manager-2"}, {}, ("traefik.acme.node", "'manager-2'", "no node with issuer: swarm")),
        ({**ACME, "issuer": "raft"}, {}, ("traefik.acme.issuer", "'raft'", "one of node, swarm")),
        ({"email": "ops@example.test", "image": "x/y:1"}, {}, ("traefik.acme.image", "'x/y:1'", "only with issuer: swarm")),
        (ACME, {"certificates": "x"}, ("traefik.certificates",)),
    ],
)
def test_issuer_swarm_settings_that_cannot_work_are_refused_naming_the_key(acme: dict[str, Any], traefik: dict[str, Any], needles: tuple[str, ...]) -> None:
    refused(acme, *needles, **traefik)


def test_issuer_swarm_takes_http_01_by_default() -> None:
    raw = base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test", "issuer": "swarm"}})
    acme = parse_settings(raw, []).traefik.acme
    assert acme is not None and acme.challenge == "http" and acme.replicated


def test_the_single_traefik_mode_declares_no_issuer_and_no_key() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test"}}))
    assert [r.inputs["name"] for r in p.of_type("docker:index/service:Service") if r.inputs["name"].startswith("traefik")] == ["traefik"]
    assert not [r for r in p.resources if r.name == "acme-key"]
