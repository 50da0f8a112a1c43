"""traefik.acme.issuer: swarm under mocks (issue 18, docs/https-ha.md): one issuer at a time on any
manager, Traefik on every manager serving the replicated store, challenges routed to the issuer,
the sealing key made on a manager and never in the state; refusals; today's mode untouched."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import DEFAULT_ACME_IMAGE
from ha_swarm.ingress.acme import CHALLENGE_PRIORITY, ISSUER_SERVICE, KEY_SECRET, issuer_command, serve_command
from ha_swarm.ingress.docker_api import proxy_environment
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
        # The CA validates once the issuer's own challenge router is in place (Traefik renews as it starts).
        "--certificatesresolvers.le.acme.httpchallenge.delay=10s",
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
    # Each serving task keeps the certificates in a private tmpfs, and its node's copy of the store on
    # the traefik-acme volume (the single-Traefik mode's store: the way back and the way in).
    mounts = {m["target"]: m for m in container(p, "traefik")["mounts"]}
    assert mounts["/run/traefik-acme"]["type"] == "tmpfs"
    assert mounts["/acme"]["source"] == "traefik-acme" and mounts["/acme"]["readOnly"] is False
    # The issuer reads no node's volume: it starts from the published store, else from the import.
    assert [m["target"] for m in container(p, ISSUER_SERVICE)["mounts"]] == ["/run/traefik-acme"]


@pytest.mark.parametrize(("node", "host"), [(None, "manager-1"), ("manager-2", "manager-2")])
def test_the_issuer_starts_from_the_store_of_traefik_acme_node_wherever_it_runs(node: str | None, host: str) -> None:
    """A stack moved from issuer: node (its store on traefik.acme.node's volume), or brought up again
    after destroy, orders nothing it has: acme-key.sh import makes that node's copy a swarm secret,
    which the issuer, on any manager, starts from when no store is published."""
    p = program(acme={**ACME, "node": node} if node else ACME)
    imported = p.named("acme-import")
    words = shlex.split(imported.inputs["create"])
    # As root: it reads the volume's folder under /var/lib/docker.
    assert words[:2] == ["sudo", "-n"] and words[-2:] == ["acme-key.sh", "import"]
    assert shlex.split(imported.inputs["delete"])[-2:] == ["acme-key.sh", "unimport"]
    assert imported.inputs["connection"]["host"] == p.named(f"{host}-ready").inputs["connection"]["host"]
    # The key is made on the first manager whatever the node: a stack's key never moves.
    assert p.named("acme-key").inputs["connection"]["host"] == p.named("manager-1-ready").inputs["connection"]["host"]
    issuer = container(p, ISSUER_SERVICE)
    (secret,) = [s for s in issuer["secrets"] if s["secretName"] == "traefik-acme-import"]
    assert secret["secretId"] == "acmeimportsecretid" and secret["fileMode"] == 0o400
    assert "--backup=/run/secrets/traefik-acme-import" in issuer["args"]
    assert p.depends_on(service(p, ISSUER_SERVICE), imported)
    # The serving Traefiks neither hold it nor need it (they serve their node's copy until a store is published).
    assert not [s for s in container(p, "traefik")["secrets"] if s["secretName"] == "traefik-acme-import"]


def test_the_endpoints_name_every_manager_with_issuer_swarm_in_host_mode() -> None:
    p = program(publishMode="host")
    (entry, *_) = p.outputs["endpoints"]
    assert len(entry["addresses"]) == 3


@pytest.mark.parametrize(
    ("acme", "traefik", "needles"),
    [
        ({**ACME, "challenge": "tls"}, {}, ("traefik.acme.challenge", "'tls'", "http with issuer: swarm", "terminates TLS")),
        ({**ACME, "node": "worker-1"}, {}, ("traefik.acme.node", "'worker-1'", "the name of a manager")),
        ({**ACME, "issuer": "raft"}, {}, ("traefik.acme.issuer", "'raft'", "one of node, swarm")),
        ({"email": "ops@example.test", "image": "x/y:1"}, {}, ("traefik.acme.image", "'x/y:1'", "only with issuer: swarm")),
        (ACME, {"certificates": "x"}, ("traefik.certificates",)),
        ({**ACME, "certificatesDuration": 0}, {}, ("traefik.acme.certificatesDuration", "from 1 to 87600")),
        ({**ACME, "certificatesDuration": "90d"}, {}, ("traefik.acme.certificatesDuration", "a whole number")),
    ],
)
def test_issuer_swarm_settings_that_cannot_work_are_refused_naming_the_key(acme: dict[str, Any], traefik: dict[str, Any], needles: tuple[str, ...]) -> None:
    refused(acme, *needles, **traefik)


def test_issuer_swarm_takes_http_01_by_default() -> None:
    raw = base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test", "issuer": "swarm"}})
    acme = parse_settings(raw, []).traefik.acme
    assert acme is not None and acme.challenge == "http" and acme.replicated


def test_certificates_duration_reaches_the_issuer_only_and_only_when_set() -> None:
    """Traefik's certificatesDuration (hours) decides when it renews: the issuer's Traefik gets it;
    the serving Traefiks order nothing and do not; without the setting no flag is added."""
    flag = "--certificatesresolvers.le.acme.certificatesDuration="
    p = program(acme={**ACME, "certificatesDuration": 160})
    assert f"{flag}160" in container(p, ISSUER_SERVICE)["args"]
    assert not [a for a in container(p, "traefik")["args"] if a.startswith(flag)]
    assert not [a for a in container(program(), ISSUER_SERVICE)["args"] if a.startswith(flag)]
    node = run_program(base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test", "certificatesDuration": 160}}))
    assert f"{flag}160" in container(node, "traefik")["args"]


def test_the_single_traefik_mode_declares_no_issuer_and_no_key() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test"}}))
    assert [r.inputs["name"] for r in p.of_type("docker:index/service:Service") if r.inputs["name"].startswith("traefik")] == ["traefik"]
    assert not [r for r in p.resources if r.name == "acme-key"]


# ----------------------------------------------------------------- the Docker API: no socket, two proxies


def env_of(p: Program, name: str) -> dict[str, str]:
    env: dict[str, str] = container(p, name)["env"]
    return env


def granted(env: dict[str, str]) -> list[str]:
    return sorted(k for k, v in env.items() if v == "1" and k != "DISABLE_IPV6")


def test_no_task_of_issuer_swarm_but_the_proxies_mounts_the_docker_socket() -> None:
    p = program()
    for res in p.of_type("docker:index/service:Service"):
        mounts = res.inputs["taskSpec"]["containerSpec"].get("mounts") or []
        sockets = [m for m in mounts if m.get("type") == "bind" and "docker.sock" in str(m.get("source"))]
        if res.inputs["name"] in ("docker-api-proxy", "docker-api-issuer-proxy"):
            assert [m["readOnly"] for m in sockets] == [True]
        else:
            assert not sockets, res.inputs["name"]


def test_the_serving_traefiks_read_the_store_through_the_read_only_proxy_which_passes_get_on_configs() -> None:
    p = program()
    serve = container(p, "traefik")["args"]
    assert serve[:2] == ["serve", "--docker=tcp://docker-api-proxy:2375"]
    assert "--providers.swarm.endpoint=tcp://docker-api-proxy:2375" in serve
    env = env_of(p, "docker-api-proxy")
    assert granted(env) == ["CONFIGS", "NETWORKS", "NODES", "PING", "SERVICES", "TASKS", "VERSION"]
    for refused in ("POST", "DELETE", "PUT", "PATCH", "SECRETS", "CONTAINERS", "EXEC", "SWARM", "EVENTS", "INFO"):
        assert env[refused] == "0", refused
    networks = container(p, "traefik")
    assert service(p, "traefik").inputs["taskSpec"]["networksAdvanceds"] == [{"id": p.named("traefik-net").id}, {"id": p.named("docker-api").id}]
    assert networks["image"] == DEFAULT_ACME_IMAGE


def test_the_issuer_writes_configs_through_a_proxy_of_its_own_on_a_network_only_it_joins() -> None:
    p = program()
    order = container(p, ISSUER_SERVICE)["args"]
    assert order[:2] == ["issuer", "--docker=tcp://docker-api-issuer-proxy:2375"]
    # Its Traefik reads the swarm through the read-only proxy, as the serving ones do.
    assert "--providers.swarm.endpoint=tcp://docker-api-proxy:2375" in order
    proxy = service(p, "docker-api-issuer-proxy")
    assert proxy.inputs["mode"] == {"global": True} and proxy.inputs["endpointSpec"] == {"mode": "dnsrr"}
    assert proxy.inputs["taskSpec"]["placement"]["constraints"] == ["node.role == manager"]
    assert not proxy.inputs.get("labels")
    env = env_of(p, "docker-api-issuer-proxy")
    # The configs section alone, with POST and DELETE: no service, secret, container or swarm, read or written.
    assert granted(env) == ["CONFIGS", "DELETE", "PING", "POST", "VERSION"]
    for refused in ("SERVICES", "TASKS", "NODES", "NETWORKS", "SECRETS", "CONTAINERS", "EXEC", "SWARM", "EVENTS", "INFO", "PUT", "PATCH", "IMAGES", "VOLUMES"):
        assert env[refused] == "0", refused
    network = p.named("docker-api-issuer")
    assert (network.inputs["driver"], network.inputs["internal"], network.inputs["attachable"]) == ("overlay", True, False)
    on_it = sorted(s.inputs["name"] for s in p.of_type("docker:index/service:Service") if {"id": network.id} in s.inputs["taskSpec"]["networksAdvanceds"])
    assert on_it == ["docker-api-issuer-proxy", ISSUER_SERVICE]
    assert service(p, ISSUER_SERVICE).inputs["taskSpec"]["networksAdvanceds"] == [
        {"id": p.named("traefik-net").id},
        {"id": p.named("docker-api").id},
        {"id": network.id},
    ]
    assert p.depends_on(service(p, ISSUER_SERVICE), proxy)


def test_the_issuer_proxy_follows_the_image_and_encryption_settings() -> None:
    p = program(socketProxyImage="registry.example.test/socket-proxy:1", encryptedNetwork=True)
    assert container(p, "docker-api-issuer-proxy")["image"] == "registry.example.test/socket-proxy:1"
    assert p.named("docker-api-issuer").inputs["options"] == {"encrypted": "true"}


def test_issuer_node_keeps_the_read_only_proxy_as_it_was_and_declares_no_issuer_proxy() -> None:
    p = run_program(base_config(lab=LAB31, traefik={"acme": {"email": "ops@example.test"}}))
    assert env_of(p, "docker-api-proxy") == proxy_environment()
    assert env_of(p, "docker-api-proxy")["CONFIGS"] == "0"
    assert not [r for r in p.resources if r.name in ("docker-api-issuer", "docker-api-issuer-proxy")]


@pytest.mark.parametrize(
    "endpoint", ["unix:///var/run/docker.sock", "/var/run/docker.sock", "tcp://docker-api-proxy", "tcp://x:2375 --y", "tcp://x:99999", "tcp://X:2375"]
)
def test_a_wrapper_endpoint_that_is_no_tcp_proxy_is_refused(endpoint: str) -> None:
    for build in (lambda: serve_command([], endpoint), lambda: issuer_command([], endpoint)):
        with pytest.raises(ValueError):
            build()


def test_a_proxy_section_or_method_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError):
        proxy_environment(("CONFIGS", "EVERYTHING"))
    with pytest.raises(ValueError):
        proxy_environment(("CONFIGS",), ("GET",))
