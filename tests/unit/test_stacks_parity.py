"""Stack files as users bring them, deployed under mocks as `docker stack deploy` deploys them: external
networks of any name, configs and secrets, and every file of the corpus of real stack files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ha_swarm.config.checks import Refusal
from tests.support.corpus import CORPUS, CORPUS_FILES, CORPUS_VARIABLES, NO_CORPUS, STAND_INS, corpus_entry
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
    assert network_ids(p, "one_web") == network_ids(p, "two_web") == ["traefik-net-id", "traefik-public-id"], "sorted by name, as docker sorts them"


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
    other = (
        run_program(base_config(stacks=[str(objects_stack(tmp_path))], sshPrivateKey=TEST_PRIVATE_KEY.replace("TEST-ONLY", "OTHER-TEST")))
        .named("objects_token")
        .inputs["name"]
    )
    assert first == again != other


# --------------------------------------------------------------------------- the corpus of real stack files


def test_the_corpus_lists_every_file_of_the_shared_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(NO_CORPUS)
    assert sorted(p.name for p in CORPUS.glob("*.y*ml")) == sorted(CORPUS_FILES)


@pytest.mark.parametrize("file", sorted(CORPUS_FILES))
def test_every_corpus_file_deploys_under_mocks_with_settings_alone(tmp_path: Path, file: str) -> None:
    if not (CORPUS / file).is_file():
        pytest.skip(NO_CORPUS)
    name, services, _, _ = CORPUS_FILES[file]
    entry = corpus_entry(tmp_path, file)
    p = run_program(base_config(stacks=[entry], stackVariables=CORPUS_VARIABLES))
    deployed = [r for r in p.of_type(SERVICE) if r.inputs["name"].startswith(f"{name}_")]
    assert len(deployed) == services
    assert Path(str(entry["file"])).read_bytes() == (CORPUS / file).read_bytes(), "the file is not edited"


NOT_DEPLOYABLE = {
    # docker creates the secrets first and fails on secret4, which has no file (it reads the compose
    # file's folder: "is a directory"); undefined volumes and networks would come after.
    "docker__cli__cli__compose__loader__full-example.yml": ("full-example", "secrets.secret4 = "),
    # docker's daemon: "invalid mount config for type volume: invalid mount path: 'volume1' mount path must be absolute".
    "docker__cli__e2e__stack__testdata__stack-with-named-resources.yml": (
        "named-resources",
        "service web: volumes[0] = 'volume1' is refused: an absolute path inside the container as the mount target",
    ),
}


@pytest.mark.parametrize("file", sorted(NOT_DEPLOYABLE))
def test_the_not_deployable_corpus_files_are_refused_where_docker_fails(tmp_path: Path, file: str) -> None:
    source = CORPUS / "not-deployable" / file
    if not source.is_file():
        pytest.skip(NO_CORPUS)
    stand_ins, expected = NOT_DEPLOYABLE[file]
    folder = tmp_path / "stack"
    shutil.copytree(STAND_INS / stand_ins, folder)
    (folder / file).write_bytes(source.read_bytes())
    with pytest.raises(Refusal) as info:
        run_program(base_config(stacks=[{"file": str(folder / file), "name": "nd"}], stackVariables=CORPUS_VARIABLES))
    assert expected in str(info.value)


def test_network_ipam_reaches_the_network_as_docker_stack_deploy_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "ipam.yml"
    path.write_text(
        "services:\n  web:\n    image: nginx\n    networks: [back]\nnetworks:\n  back:\n    ipam:\n      driver: default\n      config:\n        - subnet: 10.20.0.0/24\n"
    )
    network = run_program(base_config(stacks=[str(path)])).named("ipam_back")
    assert (network.inputs["ipamDriver"], network.inputs["ipamConfigs"]) == ("default", [{"subnet": "10.20.0.0/24"}])


def test_a_bad_ipam_subnet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ipam.yml"
    path.write_text("services:\n  web:\n    image: nginx\nnetworks:\n  back:\n    ipam:\n      config:\n        - subnet: ten\n")
    with pytest.raises(Refusal, match=r"networks\.back\.ipam\.config\[0\]\.subnet = 'ten' is refused: a subnet"):
        run_program(base_config(stacks=[str(path)]))


def test_an_nfs_volume_outside_the_export_is_refused_before_any_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ha_swarm.machines

    def no_machines(*_args: object) -> None:
        raise AssertionError("machines were declared before the refusal")

    monkeypatch.setattr(ha_swarm.machines, "machines_for", no_machines)
    path = tmp_path / "nfs.yml"
    path.write_text(
        "services:\n  app:\n    image: nginx\n    volumes: [data:/data]\nvolumes:\n  data:\n    driver: local\n"
        "    driver_opts:\n      type: nfs\n      o: addr=${NFS_ADDR},rw\n      device: :/elsewhere/data\n"
    )
    with pytest.raises(Refusal, match=r"volumes\.data\.driver_opts\.device = ':/elsewhere/data' is refused: a folder of the lab's NFS export"):
        run_program(base_config(stacks=[str(path)], storage={"nfs": True}))
