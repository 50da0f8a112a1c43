"""Part 2 under mocks: the Docker provider, traefik-net, the Docker API proxy, Traefik, the demo
stack, the visualizer stack, the outputs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import DEFAULT_SOCKET_PROXY_IMAGE, DEFAULT_TRAEFIK_IMAGE
from tests.support.mocks import MANAGER_TOKEN, TEST_PRIVATE_KEY, WORKER_TOKEN, Program, Registered, base_config, refused_before_any_resource, run_program

BCRYPT_LINE = "admin:$2y$05$" + "b" * 53
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxxx"


def docker_resources(p: Program) -> list[Registered]:
    return [r for r in p.resources if r.type.startswith("docker:")]


def service(p: Program, name: str) -> Registered:
    (found,) = [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"] == name]
    return found


def ssh_opts(provider: Registered) -> list[str]:
    """Provider config reaches the engine JSON-encoded when it is not a string."""
    value = provider.inputs["sshOpts"]
    return json.loads(value) if isinstance(value, str) else value


def labels(res: Registered) -> dict[str, str]:
    return {item["label"]: item["value"] for item in res.inputs.get("labels") or []}


def test_docker_provider_reaches_the_first_manager_over_ssh_with_a_private_key_file(private_home: Path) -> None:
    p = run_program(base_config())
    (provider,) = p.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://swarm@10.17.3.11"
    opts = ssh_opts(provider)
    key_path = Path(opts[opts.index("-i") + 1])
    assert key_path.parent == private_home / "keys"
    assert key_path.read_text() == TEST_PRIVATE_KEY
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_path.parent).st_mode) == 0o700
    assert "StrictHostKeyChecking=yes" in opts, "the VM's generated host key is pinned (test_host_keys)"
    assert TEST_PRIVATE_KEY.strip() not in str(provider.inputs)


def test_docker_provider_verifies_a_configured_cloud_host_key(private_home: Path) -> None:
    config = {
        "target": "cloud",
        "sshPrivateKey": TEST_PRIVATE_KEY,
        "cloud": {"hosts": [{"name": "m1", "address": "203.0.113.11", "role": "manager", "port": 2222, "hostKey": HOST_KEY}]},
    }
    p = run_program(config)
    (provider,) = p.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://swarm@203.0.113.11:2222"
    opts = ssh_opts(provider)
    assert "StrictHostKeyChecking=yes" in opts
    known = next(o for o in opts if o.startswith("UserKnownHostsFile="))
    assert Path(known.split("=", 1)[1]).read_text() == f"[203.0.113.11]:2222 {HOST_KEY}\n"


def test_every_docker_resource_uses_the_swarm_provider_and_waits_for_the_swarm() -> None:
    p = run_program(base_config(lab={**base_config()["lab"], "managers": 3, "workers": 2}))
    (provider,) = p.of_type("pulumi:providers:docker")
    settles = [r for r in p.resources if r.name.endswith("-settle")]
    managers = [s for s in settles if s.name.startswith("manager-")]
    workers = [s for s in settles if s.name.startswith("worker-")]
    assert (len(managers), len(workers)) == (3, 2)
    assert provider.dependencies >= {s.urn for s in managers}, "the provider waits for every manager to be settled"
    resources = docker_resources(p)
    assert len(resources) >= 5
    stacks = [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"].startswith("demo_")]
    assert stacks
    for res in resources:
        assert res.provider.startswith(provider.urn), f"{res.name} does not use the swarm's provider"
        for settle in managers:
            assert p.depends_on(res, settle), f"{res.name} does not wait for {settle.name}"
    # The stacks' services wait for every node (placed before a worker joins, a task would stay on a
    # manager); what runs on managers only does not wait for the workers (issue 20: with many workers,
    # traefik-net, the Docker API proxy and Traefik are deployed while the workers join).
    for res in stacks:
        for settle in workers:
            assert p.depends_on(res, settle), f"{res.name} does not wait for {settle.name}"
    for res in [provider, *(r for r in resources if r not in stacks)]:
        for settle in workers:
            assert not p.depends_on(res, settle), f"{res.name} waits for the worker {settle.name}"


def test_traefik_net_is_an_attachable_overlay_unencrypted_by_default() -> None:
    p = run_program(base_config())
    net = p.named("traefik-net")
    assert (net.inputs["name"], net.inputs["driver"], net.inputs["attachable"]) == ("traefik-net", "overlay", True)
    assert not net.inputs.get("options")
    encrypted = run_program(base_config(traefik={"encryptedNetwork": True})).named("traefik-net")
    assert encrypted.inputs["options"] == {"encrypted": "true"}


def test_traefik_runs_on_a_manager_with_the_swarm_provider_reading_the_api_through_the_proxy_without_the_socket() -> None:
    p = run_program(base_config())
    traefik = service(p, "traefik")
    spec = traefik.inputs["taskSpec"]
    container = spec["containerSpec"]
    assert container["image"] == DEFAULT_TRAEFIK_IMAGE
    args = container["args"]
    for arg in (
        "--providers.swarm=true",
        "--providers.swarm.exposedByDefault=false",
        "--providers.swarm.network=traefik-net",
        "--entrypoints.web.address=:80",
    ):
        assert arg in args
    assert not any(a.startswith("--api") for a in args), "no API without dashboard users, never --api.insecure"
    assert spec["placement"]["constraints"] == ["node.role == manager"]
    # No Docker socket (a read-only mount restricts nothing): the API through the filtering proxy.
    assert not container.get("mounts")
    assert "--providers.swarm.endpoint=tcp://docker-api-proxy:2375" in args
    assert not any("docker.sock" in a for a in args)
    assert spec["networksAdvanceds"] == [{"id": p.named("traefik-net").id}, {"id": p.named("docker-api").id}]
    assert p.depends_on(traefik, service(p, "docker-api-proxy")), "Traefik starts once its proxy is there"
    assert traefik.inputs["mode"] == {"replicated": {"replicas": 1}}
    (port,) = traefik.inputs["endpointSpec"]["ports"]
    assert (port["targetPort"], port["publishedPort"], port["publishMode"]) == (80, 80, "ingress")


def test_traefik_image_and_publish_mode_follow_the_settings() -> None:
    p = run_program(base_config(traefik={"image": "registry.example.test/traefik:v3.6.1", "publishMode": "host"}))
    traefik = service(p, "traefik")
    assert traefik.inputs["taskSpec"]["containerSpec"]["image"] == "registry.example.test/traefik:v3.6.1"
    assert traefik.inputs["endpointSpec"]["ports"][0]["publishMode"] == "host"
    # In host mode every manager runs its own Traefik, so every manager answers on port 80.
    assert traefik.inputs["mode"] == {"global": True}
    assert traefik.inputs["taskSpec"]["placement"]["constraints"] == ["node.role == manager"]


def test_dashboard_is_served_only_behind_basic_auth_with_secret_credentials() -> None:
    p = run_program(base_config(traefik={"dashboard": {"users": [BCRYPT_LINE], "allowHttp": True}}, domain="example.test"))
    traefik = service(p, "traefik")
    args = traefik.inputs["taskSpec"]["containerSpec"]["args"]
    assert "--api.dashboard=true" in args and "--api.insecure=true" not in args and "--api.insecure" not in args
    lab = labels(traefik)
    assert lab["traefik.http.routers.dashboard.rule"] == "Host(`traefik.example.test`)"
    assert lab["traefik.http.routers.dashboard.service"] == "api@internal"
    assert lab["traefik.http.routers.dashboard.middlewares"] == "dashboard-auth"
    assert lab["traefik.http.middlewares.dashboard-auth.basicauth.users"] == BCRYPT_LINE
    assert "labels" in traefik.secret_inputs
    assert BCRYPT_LINE not in str(p.outputs)


def test_demo_stack_declares_whoami0_and_whoami1_as_stack_deploy_names_them_and_no_visualizer() -> None:
    p = run_program(base_config(domain="example.test"))
    names = sorted(r.inputs["name"] for r in p.of_type("docker:index/service:Service"))
    assert names == ["demo_whoami0", "demo_whoami1", "docker-api-proxy", "traefik"]
    net_id = p.named("traefik-net").id
    for name in ("demo_whoami0", "demo_whoami1"):
        svc = service(p, name)
        short = name.split("_", 1)[1]
        assert svc.inputs["mode"] == {"replicated": {"replicas": 2}}
        lab = labels(svc)
        assert lab["traefik.enable"] == "true"
        assert lab[f"traefik.http.routers.{short}.rule"] == f"Host(`{short}.example.test`)"
        assert lab[f"traefik.http.services.{short}.loadbalancer.server.port"] == "80"
        assert [n["id"] for n in svc.inputs["taskSpec"]["networksAdvanceds"]] == [net_id]
    assert labels(service(p, "demo_whoami1"))["traefik.http.services.whoami1.loadbalancer.sticky.cookie"] == "true"
    assert not any("sticky" in k for k in labels(service(p, "demo_whoami0")))


def test_stack_variables_choose_the_demo_images() -> None:
    p = run_program(base_config(stackVariables={"WHOAMI_IMAGE": "local/whoami:1"}))
    images = {name: service(p, name).inputs["taskSpec"]["containerSpec"]["image"] for name in ("demo_whoami0", "demo_whoami1")}
    assert images == {"demo_whoami0": "local/whoami:1", "demo_whoami1": "local/whoami:1"}
    defaults = run_program(base_config())
    assert service(defaults, "demo_whoami0").inputs["taskSpec"]["containerSpec"]["image"] == "traefik/whoami:v1.10"


# --------------------------------------------------------------------------- the Docker API proxy


def test_the_docker_api_proxy_runs_on_every_manager_on_an_internal_network_of_its_own() -> None:
    p = run_program(base_config())
    proxy = service(p, "docker-api-proxy")
    spec = proxy.inputs["taskSpec"]
    assert proxy.inputs["mode"] == {"global": True}
    assert spec["placement"]["constraints"] == ["node.role == manager"]
    assert spec["containerSpec"]["image"] == DEFAULT_SOCKET_PROXY_IMAGE
    (mount,) = spec["containerSpec"]["mounts"]
    assert (mount["source"], mount["target"], mount["readOnly"]) == ("/var/run/docker.sock", "/var/run/docker.sock", True)
    # No port, no virtual IP (no IPVS needed): its name resolves to its tasks.
    assert proxy.inputs["endpointSpec"] == {"mode": "dnsrr"}
    network = p.named("docker-api")
    assert spec["networksAdvanceds"] == [{"id": network.id}]
    assert (network.inputs["name"], network.inputs["driver"], network.inputs["internal"], network.inputs["attachable"]) == ("docker-api", "overlay", True, False)
    assert not network.inputs.get("options")
    # Only the services on docker-api reach the proxy: Traefik, and no stack service of the demo.
    on_it = [s.inputs["name"] for s in p.of_type("docker:index/service:Service") if {"id": network.id} in s.inputs["taskSpec"]["networksAdvanceds"]]
    assert sorted(on_it) == ["docker-api-proxy", "traefik"]


def test_the_docker_api_proxy_allows_only_the_read_sections_traefik_and_the_visualizer_use() -> None:
    env = service(run_program(base_config()), "docker-api-proxy").inputs["taskSpec"]["containerSpec"]["env"]
    granted = sorted(k for k, v in env.items() if v == "1")
    assert granted == ["DISABLE_IPV6", "NETWORKS", "NODES", "PING", "SERVICES", "TASKS", "VERSION"]
    for refused in ("POST", "DELETE", "PUT", "PATCH", "CONTAINERS", "SECRETS", "CONFIGS", "EXEC", "SWARM", "EVENTS", "INFO", "IMAGES", "VOLUMES"):
        assert env[refused] == "0", refused


def test_the_proxy_image_and_its_network_encryption_follow_the_traefik_settings() -> None:
    p = run_program(base_config(traefik={"socketProxyImage": "registry.example.test/socket-proxy:1", "encryptedNetwork": True}))
    assert service(p, "docker-api-proxy").inputs["taskSpec"]["containerSpec"]["image"] == "registry.example.test/socket-proxy:1"
    assert p.named("docker-api").inputs["options"] == {"encrypted": "true"}
    assert parse_settings(base_config()).traefik.socket_proxy_image == DEFAULT_SOCKET_PROXY_IMAGE


@pytest.mark.parametrize("image", ["", "tecnativa/docker-socket-proxy:v0.4.0 --privileged", ["x"], "a\nb"])
def test_a_socket_proxy_image_that_is_no_image_reference_is_refused_before_any_resource(image: object) -> None:
    config = base_config(traefik={"socketProxyImage": image})
    with pytest.raises(SettingsError) as info:
        parse_settings(config)
    message = str(info.value)
    assert message.startswith("config ha-swarm:traefik.socketProxyImage = ") and "is refused: an image reference" in message
    assert "\n" not in message.replace("\\n", "") and len(message.splitlines()) == 1
    assert refused_before_any_resource(config)


# --------------------------------------------------------------------------- the visualizer stack

VISUALIZER_STACKS = ["stacks/demo.yml", "stacks/visualizer.yml"]


def test_the_visualizer_is_served_by_traefik_behind_basic_auth_and_reads_the_proxy_not_the_socket() -> None:
    p = run_program(base_config(domain="example.test", stacks=VISUALIZER_STACKS, stackVariables={"VISUALIZER_USERS": BCRYPT_LINE}))
    viz = service(p, "visualizer_visualizer")
    spec = viz.inputs["taskSpec"]
    assert not spec["containerSpec"].get("mounts"), "no Docker socket"
    assert not (viz.inputs.get("endpointSpec") or {}).get("ports"), "no published port: Traefik serves it"
    assert spec["containerSpec"]["env"] == {"DOCKER_HOST": "docker-api-proxy:2375"}
    # In docker stack deploy's order: the networks sorted by name.
    assert spec["networksAdvanceds"] == [{"id": p.named("docker-api").id, "aliases": ["visualizer"]}, {"id": p.named("traefik-net").id, "aliases": ["visualizer"]}]
    lab = labels(viz)
    assert lab["traefik.http.routers.visualizer.rule"] == "Host(`visualizer.example.test`)"
    assert lab["traefik.http.routers.visualizer.middlewares"] == "visualizer-auth"
    assert lab["traefik.http.middlewares.visualizer-auth.basicauth.users"] == BCRYPT_LINE
    assert lab["traefik.http.services.visualizer.loadbalancer.server.port"] == "8080"


def test_the_visualizer_without_users_is_refused_before_any_resource_saying_how_to_give_them() -> None:
    message = refused_before_any_resource(base_config(stacks=VISUALIZER_STACKS))
    assert "visualizer.yml" in message and "VISUALIZER_USERS" in message and "htpasswd -nbB" in message


def test_outputs_give_nodes_manager_docker_host_and_endpoints_without_secrets() -> None:
    p = run_program(base_config(domain="example.test", traefik={"dashboard": {"users": [BCRYPT_LINE], "allowHttp": True}}))
    out = p.outputs
    assert [n["name"] for n in out["nodes"]] == ["manager-1", "worker-1", "worker-2"]
    assert out["managerAddress"] == "10.17.3.11"
    assert out["dockerHost"] == "ssh://swarm@10.17.3.11"
    by_host = {e["host"]: e for e in out["endpoints"]}
    assert set(by_host) == {"whoami0.example.test", "whoami1.example.test"}
    e = by_host["whoami0.example.test"]
    assert e["url"] == "http://10.17.3.11" and e["header"] == "Host: whoami0.example.test"
    assert e["curl"] == "curl -H Host:whoami0.example.test http://10.17.3.11"
    assert "curl -H Host:whoami0.example.test http://10.17.3.22" in e["curlEveryNode"]
    assert "curlSticky" in by_host["whoami1.example.test"] and "curlSticky" not in e
    text = str(out)
    for secret in (TEST_PRIVATE_KEY.strip(), WORKER_TOKEN, MANAGER_TOKEN, BCRYPT_LINE):
        assert secret not in text


def test_endpoints_name_only_managers_when_traefik_publishes_in_host_mode() -> None:
    p = run_program(
        base_config(
            domain="example.test", lab={"image": "https://example.test/i.qcow2", "domainType": "kvm", "managers": 3, "workers": 1}, traefik={"publishMode": "host"}
        )
    )
    (e, *_) = p.outputs["endpoints"]
    assert e["curlEveryNode"] == [f"curl -H Host:{e['host']} http://10.17.3.{i}" for i in (11, 12, 13)]


@pytest.mark.parametrize("preview", [True, False])
def test_dev_stack_evaluates_end_to_end_in_preview_and_update(preview: bool) -> None:
    p = run_program(base_config(), preview=preview)
    assert len(p.of_type("docker:index/service:Service")) == 4
    assert p.outputs["managerAddress"] == "10.17.3.11"


def test_a_compose_error_stops_the_program_before_any_resource(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  web:\n    image: nginx\n    deploy:\n      replicas: -1\n")
    from ha_swarm.apps.compose.model import ComposeError

    with pytest.raises(ComposeError, match="replicas"):
        run_program(base_config(stacks=[str(bad)]))


def test_the_key_file_is_the_same_however_the_key_ends(private_home: Path) -> None:
    from ha_swarm.ingress.docker_access import write_key_file

    stored = TEST_PRIVATE_KEY.rstrip("\n")
    printed = TEST_PRIVATE_KEY + "\n"
    assert write_key_file(stored) == write_key_file(TEST_PRIVATE_KEY) == write_key_file(printed)
    assert Path(write_key_file(printed)).read_text() == TEST_PRIVATE_KEY


@pytest.mark.parametrize("traefik", [{}, {"acme": {"email": "ops@example.com"}}])
def test_every_service_gives_its_restart_delay_and_window(traefik: dict) -> None:
    # The Docker provider reads a restart policy's unset delay or window back as "0s" and diffs on
    # every preview (pulumi/pulumi-docker#1285): every service, Traefik's too, gives both.
    config = base_config(stacks=["stacks/demo.yml"])
    config["traefik"] = {**config.get("traefik", {}), **traefik}
    services = run_program(config).of_type("docker:index/service:Service")
    assert len(services) >= 4
    for res in services:
        policy = res.inputs["taskSpec"]["restartPolicy"]
        assert policy.get("delay") and policy.get("window"), f"{res.inputs['name']}: {policy}"
