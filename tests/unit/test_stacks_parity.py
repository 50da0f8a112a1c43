"""Stack files as users bring them, deployed under mocks as `docker stack deploy` deploys them: external
networks of any name, configs and secrets, and every file of the corpus of real stack files."""

from __future__ import annotations

from pathlib import Path

from tests.support.mocks import Program, base_config, run_program

NETWORK = "docker:index/network:Network"
SERVICE = "docker:index/service:Service"


def network_ids(p: Program, service: str) -> list[str]:
    return [n["id"] for n in p.named(service).inputs["taskSpec"]["networksAdvanceds"]]


def test_an_external_network_of_any_name_is_created_once_as_a_swarm_overlay_for_all_stacks(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / f"{name}.yml").write_text(
            "services:\n  web:\n    image: nginx\n    networks: [public, traefik-net]\nnetworks:\n  public:\n    external: true\n    name: traefik-public\n"
            "  traefik-net:\n    external: true\n"
        )
    p = run_program(base_config(stacks=[str(tmp_path / "one.yml"), str(tmp_path / "two.yml")]))
    shared = [r for r in p.of_type(NETWORK) if r.inputs["name"] == "traefik-public"]
    assert len(shared) == 1, "one network for every stack that names it"
    assert shared[0].inputs["driver"] == "overlay"
    assert network_ids(p, "one_web") == network_ids(p, "two_web") == ["traefik-public-id", "traefik-net-id"]


def objects_stack(tmp_path: Path, content: str = "listen 80;\n") -> Path:
    (tmp_path / "site.conf").write_text(content)
    (tmp_path / "token.txt").write_text("s3cr3t\n")
    path = tmp_path / "objects.yml"
    path.write_text(
        "services:\n  web:\n    image: nginx\n    configs: [{source: site, target: /etc/site.conf}]\n    secrets: [token]\n"
        "configs:\n  site:\n    file: ./site.conf\nsecrets:\n  token:\n    file: ./token.txt\n"
    )
    return path


def test_configs_and_secrets_are_declared_with_versioned_names_and_used_by_id(tmp_path: Path) -> None:
    p = run_program(base_config(stacks=[str(objects_stack(tmp_path))]))
    config, secret = p.named("objects_site"), p.named("objects_token")
    assert config.type == "docker:index/serviceConfig:ServiceConfig"
    assert secret.type == "docker:index/secret:Secret"
    assert config.inputs["name"].startswith("objects_site-") and secret.inputs["name"].startswith("objects_token-")
    spec = p.named("objects_web").inputs["taskSpec"]["containerSpec"]
    assert spec["configs"] == [
        {"configId": "objects_site-id", "configName": config.inputs["name"], "fileName": "/etc/site.conf", "fileUid": "0", "fileGid": "0", "fileMode": 0o444}
    ]
    assert spec["secrets"][0]["secretId"] == "objects_token-id"
    assert p.depends_on(p.named("objects_web"), secret)


def test_secret_data_is_a_pulumi_secret_end_to_end(tmp_path: Path) -> None:
    p = run_program(base_config(stacks=[str(objects_stack(tmp_path))]))
    assert "data" in p.named("objects_token").secret_inputs
    assert "data" not in p.named("objects_site").secret_inputs


def test_a_new_content_gives_a_new_name_under_the_same_resource(tmp_path: Path) -> None:
    first = run_program(base_config(stacks=[str(objects_stack(tmp_path, "one"))])).named("objects_site").inputs["name"]
    second = run_program(base_config(stacks=[str(objects_stack(tmp_path, "two"))])).named("objects_site").inputs["name"]
    assert first != second, "the name changes with the content: Pulumi replaces the config, creating the new one first"


def test_a_stack_entry_names_the_stack_and_gives_it_its_own_domain(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.traefik.yml"
    path.write_text('services:\n  web:\n    image: nginx\n    deploy:\n      labels: ["rule=Host(`${DOMAIN}`)"]\n')
    p = run_program(base_config(stacks=["stacks/demo.yml", {"file": str(path), "name": "edge", "variables": {"DOMAIN": "edge.example"}}]))
    labels = {item["label"]: item["value"] for item in p.named("edge_web").inputs["labels"]}
    assert labels["rule"] == "Host(`edge.example`)"
    demo = {item["label"]: item["value"] for item in p.named("demo_whoami0").inputs["labels"]}
    assert demo["traefik.http.routers.whoami0.rule"] == "Host(`whoami0.traefik`)", "the other stacks keep the global domain"


def test_an_external_secret_is_created_from_the_file_the_settings_name(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("PEM")
    path = tmp_path / "shop.yml"
    path.write_text("services:\n  web:\n    image: nginx\n    secrets: [revprox_cert]\nsecrets:\n  revprox_cert:\n    external: true\n")
    p = run_program(base_config(stacks=[{"file": str(path), "secrets": {"revprox_cert": str(tmp_path / "cert.pem")}}]))
    secret = p.named("revprox_cert")
    assert secret.inputs["name"].startswith("revprox_cert-") and "data" in secret.secret_inputs


def test_a_secret_name_digest_is_keyed_by_the_settings(tmp_path: Path) -> None:
    from tests.support.mocks import TEST_PRIVATE_KEY

    first = run_program(base_config(stacks=[str(objects_stack(tmp_path))])).named("objects_token").inputs["name"]
    again = run_program(base_config(stacks=[str(objects_stack(tmp_path))])).named("objects_token").inputs["name"]
    other = run_program(base_config(stacks=[str(objects_stack(tmp_path))], sshPrivateKey=TEST_PRIVATE_KEY + "\n# other")).named("objects_token").inputs["name"]
    assert first == again != other
