"""Configs and secrets: top level (file, environment, external, name, labels) and service references
(short and long syntax: target, uid, gid, mode), named with a digest of their content."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from ha_swarm.apps.compose.load import translate
from ha_swarm.apps.compose.model import STACK_LABEL, ComposeError, StackSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "compose"
FILE = str(FIXTURES / "test.yml")  # files named in the stack are found beside it
KEY = b"digest key"
SITE = (FIXTURES / "site.conf").read_bytes()
TOKEN = (FIXTURES / "token.txt").read_bytes()


def stack(services: dict[str, Any], external: dict[str, dict[str, bytes]] | None = None, variables: dict[str, str] | None = None, **top: Any) -> StackSpec:
    doc = {"services": services, **top}
    return translate(doc, variables or {"DOMAIN": "example.test"}, file=FILE, stack_name="test", external=external, digest_key=KEY)


def refused(services: dict[str, Any], **top: Any) -> str:
    with pytest.raises(ComposeError) as info:
        stack(services, **top)
    assert "\n" not in str(info.value)
    return str(info.value)


def app(**keys: Any) -> dict[str, Any]:
    return {"image": "nginx:1.27", **keys}


def container_objects(spec: StackSpec, kind: str) -> list[dict[str, Any]]:
    ids = {(o.kind, o.key): (f"id-{o.key}", o.versioned_name) for o in (*spec.configs, *spec.secrets)}
    service = spec.services[0]
    return service.service_args(dict.fromkeys(service.networks, "net"), ids)["task_spec"]["container_spec"].get(kind, [])


def test_a_config_from_a_file_is_named_with_a_digest_of_its_content() -> None:
    spec = stack({"app": app(configs=["site"])}, configs={"site": {"file": "site.conf"}})
    (config,) = spec.configs
    assert (config.kind, config.key, config.name, config.data) == ("configs", "site", "test_site", SITE)
    assert config.versioned_name == f"test_site-{hashlib.sha256(SITE).hexdigest()[:12]}"
    assert config.labels == ((STACK_LABEL, "test"),)


def test_a_secret_digest_is_keyed_so_its_name_tells_nothing_of_its_data() -> None:
    (secret,) = stack({"app": app(secrets=["token"])}, secrets={"token": {"file": str(FIXTURES / "token.txt")}}).secrets
    assert secret.secret
    assert secret.versioned_name == f"test_token-{hmac.new(KEY, TOKEN, hashlib.sha256).hexdigest()[:12]}"
    assert hashlib.sha256(TOKEN).hexdigest()[:12] not in secret.versioned_name
    assert "s3cr3t" not in repr(secret), "the data stays out of the repr"


def test_a_change_of_content_changes_the_name(tmp_path: Path) -> None:
    def name(content: str) -> str:
        (tmp_path / "c.txt").write_text(content)
        return stack({"app": app(configs=["c"])}, configs={"c": {"file": str(tmp_path / "c.txt")}}).configs[0].versioned_name

    assert name("one") != name("two")
    assert name("one") == name("one")


def test_short_syntax_mounts_at_the_key_with_root_owner_and_mode_0444() -> None:
    spec = stack({"app": app(secrets=["token"])}, secrets={"token": {"file": "token.txt"}})
    assert container_objects(spec, "secrets") == [
        {"secret_id": "id-token", "secret_name": spec.secrets[0].versioned_name, "file_name": "token", "file_uid": "0", "file_gid": "0", "file_mode": 0o444}
    ]


def test_long_syntax_gives_target_uid_gid_and_mode() -> None:
    long = {"source": "site", "target": "/etc/nginx/conf.d/site.conf", "uid": "101", "gid": "102", "mode": 0o440}
    spec = stack({"app": app(configs=[long])}, configs={"site": {"file": "site.conf"}})
    (entry,) = container_objects(spec, "configs")
    assert (entry["config_id"], entry["file_name"], entry["file_uid"], entry["file_gid"], entry["file_mode"]) == (
        "id-site",
        "/etc/nginx/conf.d/site.conf",
        "101",
        "102",
        0o440,
    )


def test_references_are_sorted_by_name_as_docker_stack_deploy_sorts_them() -> None:
    spec = stack({"app": app(configs=["b", "a"])}, configs={"a": {"file": "site.conf"}, "b": {"file": "site.conf"}})
    assert [c["file_name"] for c in container_objects(spec, "configs")] == ["a", "b"]


def test_name_replaces_the_stack_prefix() -> None:
    spec = stack({"app": app(configs=["site"])}, configs={"site": {"file": "site.conf", "name": "shared_site", "labels": ["team=web"]}})
    assert spec.configs[0].name == "shared_site"
    assert spec.configs[0].labels == ((STACK_LABEL, "test"), ("team", "web"))


def test_every_declared_config_is_created_even_if_no_service_uses_it_as_docker_does() -> None:
    assert [c.key for c in stack({"app": app()}, configs={"site": {"file": "site.conf"}}).configs] == ["site"]


def test_a_secret_from_a_variable_takes_its_value() -> None:
    spec = stack({"app": app(secrets=["pw"])}, secrets={"pw": {"environment": "DB_PASSWORD"}}, variables={"DB_PASSWORD": "hunter2"})
    assert spec.secrets[0].data == b"hunter2"


def test_a_secret_from_a_variable_not_provided_is_refused() -> None:
    assert "secrets.pw.environment = 'DB_PASSWORD' is refused: the name of a variable the program provides (DOMAIN)" in refused(
        {"app": app()}, secrets={"pw": {"environment": "DB_PASSWORD"}}
    )


def test_an_external_secret_takes_its_content_from_the_settings() -> None:
    spec = stack({"app": app(secrets=["cert"])}, secrets={"cert": {"external": True, "name": "site_cert"}}, external={"secrets": {"site_cert": b"PEM"}})
    (secret,) = spec.secrets
    assert (secret.name, secret.data) == ("site_cert", b"PEM")


def test_an_external_secret_in_use_without_content_is_refused_saying_how_to_give_it() -> None:
    message = refused({"app": app(secrets=["cert"])}, secrets={"cert": {"external": True}})
    assert "service app: secrets[0].source = 'cert' is refused: an external secret whose content the settings give" in message
    assert "give it as stacks[].secrets.cert (a file path)" in message


def test_an_unused_external_secret_needs_nothing() -> None:
    assert stack({"app": app()}, secrets={"cert": {"external": True}}).secrets == ()


@pytest.mark.parametrize(
    ("top", "service", "expected"),
    [
        ({"configs": {"c": {"file": "missing.conf"}}}, {}, "configs.c.file = 'missing.conf' is refused: a readable file"),
        ({"configs": {"c": {}}}, {}, "configs.c = {} is refused: one of file"),
        ({"configs": {"c": {"file": "site.conf", "template_driver": "golang"}}}, {}, "configs.c.template_driver = 'golang' is refused: nothing: the Docker provider"),
        ({"secrets": {"s": {"driver": "vault"}}}, {}, "secrets.s.driver = 'vault' is refused: nothing: the Docker provider"),
        ({"secrets": {"s": {"external": True, "file": "x"}}}, {}, "secrets.s.file = 'x' is refused: nothing else on an external object"),
        ({}, {"configs": ["nope"]}, "configs[0].source = 'nope' is refused: a config declared under the top-level configs: (declared: none)"),
        ({"configs": {"c": {"file": "site.conf"}}}, {"configs": [{"source": "c", "mode": "0440"}]}, "configs[0].mode = '0440' is refused: a file mode"),
        ({"configs": {"c": {"file": "site.conf"}}}, {"configs": [{"source": "c", "owner": 1}]}, "configs[0].owner = 1 is refused: unknown or unsupported key"),
        ({"configs": {"c": {"file": "site.conf", "name": "x" * 60}}}, {}, "is refused: a name of 51 characters at most"),
    ],
)
def test_configs_and_secrets_refusals(top: dict[str, Any], service: dict[str, Any], expected: str) -> None:
    assert expected in refused({"app": app(**service)}, **top)
