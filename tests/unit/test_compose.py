"""The compose translation: every supported key, every refusal with its message, and the demo stack."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi_docker
import pytest
import yaml
from pulumi_docker import _inputs as docker_inputs

from ha_swarm.apps.compose.load import load_stack, translate
from ha_swarm.apps.compose.model import STACK_LABEL, ComposeError, StackSpec
from ha_swarm.config.model import StackEntry

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "stacks" / "demo.yml"
FILE = "stacks/test.yml"
VARIABLES = {"DOMAIN": "example.test"}
ENV_FILE = ROOT / "tests" / "unit" / "fixtures" / "compose" / "app.env"


# --------------------------------------------------------------------------- helpers


def stack(services: dict[str, Any], variables: dict[str, str] | None = None, version: str = "3.9", **top: Any) -> StackSpec:
    doc = {"version": version, "services": services, **top}
    return translate(doc, VARIABLES if variables is None else variables, file=FILE, stack_name="test")


def service_args(definition: dict[str, Any], **top: Any) -> dict[str, Any]:
    return stack({"app": definition}, **top).services[0].args


def container(definition: dict[str, Any], **top: Any) -> dict[str, Any]:
    return service_args(definition, **top)["task_spec"]["container_spec"]


def labels(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items}


def refused(services: dict[str, Any] | None = None, *, doc: Any = None, variables: dict[str, str] | None = None, version: str = "3.9", **top: Any) -> str:
    if doc is None:
        doc = {"version": version, "services": services, **top}
    with pytest.raises(ComposeError) as info:
        translate(doc, VARIABLES if variables is None else variables, file=FILE, stack_name="test")
    message = str(info.value)
    assert "\n" not in message, "a refusal is one line"
    assert message.startswith(f"{FILE}: "), "a refusal names the file"
    return message


def refused_service(definition: dict[str, Any], version: str = "3.9", **top: Any) -> str:
    message = refused({"app": definition}, version=version, **top)
    assert message.startswith(f"{FILE}: service app: "), "a refusal inside a service names the service"
    return message


def app(**keys: Any) -> dict[str, Any]:
    return {"image": "nginx:1.27", **keys}


# --------------------------------------------------------------------------- pulumi_docker key check


def _typed_dict(name: str) -> tuple[dict[str, str], frozenset[str]]:
    cls = getattr(docker_inputs, name)
    return {k: str(v).replace("typing.", "") for k, v in cls.__annotations__.items()}, cls.__required_keys__


def _service_args_annotations() -> tuple[dict[str, str], frozenset[str]]:
    params = inspect.signature(pulumi_docker.ServiceArgs.__init__).parameters
    return {k: str(p.annotation).replace("typing.", "") for k, p in params.items() if k != "__self__"}, frozenset({"task_spec"})


_NESTED = re.compile(r"ForwardRef\('(Service\w*?Args)(?:Dict)?'\)")
_SCALARS = {"str": str, "int": int, "bool": bool}


def assert_pulumi_docker_shape(value: Any, annotations: dict[str, str], required: frozenset[str], path: str) -> None:
    """Every key is a field of the pulumi_docker 5.2.0 *ArgsDict at that place, with the field's type."""
    assert isinstance(value, dict), f"{path} is a dict"
    assert not required - value.keys(), f"{path} lacks required {sorted(required - value.keys())}"
    for key, item in value.items():
        where = f"{path}.{key}"
        assert key in annotations, f"{where} is not a pulumi_docker key (known: {sorted(annotations)})"
        annotation = annotations[key].replace("NotRequired[", "", 1)
        nested = _NESTED.search(annotation)
        if nested:
            sub = _typed_dict(nested.group(1) + "Dict")
            is_list = "Sequence[" in annotation[: nested.start()]
            assert isinstance(item, list) == is_list, f"{where} is {'a list' if is_list else 'one object'}"
            for element in item if is_list else [item]:
                assert_pulumi_docker_shape(element, *sub, where)
        elif annotation.startswith("Union[Sequence["):
            element_type = _SCALARS[re.search(r"Sequence\[Union\[(\w+)", annotation).group(1)]
            assert isinstance(item, list) and all(isinstance(e, element_type) for e in item), f"{where} is a list of {element_type.__name__}"
        elif annotation.startswith("Union[Mapping["):
            assert isinstance(item, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in item.items()), f"{where} is a map of strings"
        else:
            scalar = _SCALARS[re.match(r"Union\[(\w+)", annotation).group(1)]
            assert isinstance(item, scalar) and (scalar is bool or not isinstance(item, bool)), f"{where} = {item!r} is a {scalar.__name__}"


KITCHEN_SINK = {
    "web": {
        "image": "nginx:1.27",
        "command": "nginx -g 'daemon off;'",
        "entrypoint": ["/docker-entrypoint.sh"],
        "environment": {"MODE": "prod", "WORKERS": 4},
        "labels": ["team=web"],
        "ports": ["80", "8080:80", "53:53/udp", {"target": 443, "published": 8443, "protocol": "tcp", "mode": "ingress"}],
        "networks": {"front": {"aliases": ["www"], "driver_opts": {"com.example.opt": 1}}, "back": None},
        "volumes": [
            "/srv/www:/usr/share/nginx/html:ro",
            "./conf:/etc/nginx/conf.d",
            "cache:/var/cache/nginx:nocopy",
            "/scratch",
            {"type": "bind", "source": "/var/log", "target": "/host/log", "read_only": True, "bind": {"propagation": "rslave"}},
            {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}},
            {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64M"}},
        ],
        "healthcheck": {"test": ["CMD", "curl", "-f", "http://localhost/"], "interval": "30s", "timeout": "5s", "start_period": "1m", "retries": 3},
        "hostname": "web",
        "user": 101,
        "working_dir": "/srv",
        "stop_grace_period": "1m30s",
        "read_only": True,
        "init": True,
        "deploy": {
            "mode": "replicated",
            "replicas": 3,
            "labels": {"traefik.enable": "true"},
            "placement": {"constraints": ["node.role == worker"], "preferences": [{"spread": "node.labels.zone"}], "max_replicas_per_node": 2},
            "update_config": {"parallelism": 2, "delay": "10s", "failure_action": "rollback", "monitor": "30s", "max_failure_ratio": 0.2, "order": "start-first"},
            "rollback_config": {"parallelism": 1, "delay": "5s", "failure_action": "pause", "monitor": "10s", "max_failure_ratio": 0, "order": "stop-first"},
            "restart_policy": {"condition": "any", "delay": "5s", "max_attempts": 3, "window": "2m"},
            "resources": {
                "limits": {"cpus": "0.5", "memory": "512M"},
                "reservations": {"cpus": 0.25, "memory": "128M", "generic_resources": [{"discrete_resource_spec": {"kind": "gpu", "value": 1}}]},
            },
            "endpoint_mode": "vip",
        },
    },
    "agent": {
        "image": "alpine:3.20",
        "healthcheck": {"disable": True},
        "restart": "on-failure:2",
        "env_file": str(ENV_FILE),
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": 3}},
        "extra_hosts": ["db:10.0.0.5", "cache=10.0.0.6"],
        "dns": ["10.0.0.2"],
        "dns_search": "example.test",
        "dns_opt": ["ndots:2"],
        "cap_add": ["net_admin"],
        "cap_drop": ["ALL"],
        "sysctls": {"net.core.somaxconn": 1024},
        "stop_signal": "SIGQUIT",
        "isolation": "default",
        "credential_spec": {"file": "spec.json"},
        "configs": [{"source": "site", "target": "/etc/site.conf", "uid": "1", "gid": "2", "mode": 0o440}],
        "secrets": ["token"],
        "ports": [{"target": 9100, "published": 9100, "mode": "host"}],
        "deploy": {"mode": "global", "endpoint_mode": "dnsrr"},
    },
}
KITCHEN_NETWORKS = {"front": {"driver": "overlay", "attachable": True}, "back": {"internal": True}}
KITCHEN_VOLUMES = {"cache": None, "data": {"driver": "local", "driver_opts": {"type": "nfs"}, "labels": {"backup": "daily"}}}


KITCHEN_CONFIGS = {"site": {"file": str(ENV_FILE.parent / "site.conf")}}
KITCHEN_SECRETS = {"token": {"file": str(ENV_FILE.parent / "token.txt")}}


def kitchen_sink() -> StackSpec:
    return stack(KITCHEN_SINK, version="3.13", networks=KITCHEN_NETWORKS, volumes=KITCHEN_VOLUMES, configs=KITCHEN_CONFIGS, secrets=KITCHEN_SECRETS)


def test_every_emitted_key_exists_in_the_pulumi_docker_args_dicts() -> None:
    for spec in (kitchen_sink(), load_stack(DEMO, VARIABLES)):
        for service in spec.services:
            ids = {key: f"id-of-{key}" for key in service.networks}
            objects = {(o.kind, o.key): (f"id-of-{o.key}", o.versioned_name) for o in (*spec.configs, *spec.secrets)}
            assert_pulumi_docker_shape(service.service_args(ids, objects), *_service_args_annotations(), service.name)


def test_the_kitchen_sink_uses_every_supported_service_and_deploy_key() -> None:
    from ha_swarm.apps.compose.deploy import DEPLOY_KEYS
    from ha_swarm.apps.compose.service import SERVICE_KEYS

    assert set(SERVICE_KEYS) <= set().union(*KITCHEN_SINK.values())
    assert set(DEPLOY_KEYS) <= set(KITCHEN_SINK["web"]["deploy"])


def test_args_are_a_fresh_copy_each_time() -> None:
    spec = kitchen_sink().service("web")
    args = spec.args
    args["task_spec"]["container_spec"]["image"] = "changed"
    args["labels"].clear()
    assert spec.args["task_spec"]["container_spec"]["image"] == "nginx:1.27"
    assert spec.args["labels"]
    assert "networks_advanceds" not in spec.args["task_spec"]
    with pytest.raises(TypeError):
        spec.frozen_args["name"] = "x"  # type: ignore[index]


# --------------------------------------------------------------------------- names


def test_stack_is_named_after_the_file_stem_and_services_like_docker_stack_deploy() -> None:
    spec = load_stack(DEMO, VARIABLES)
    assert spec.name == "demo"
    assert spec.file == str(DEMO)
    assert [s.name for s in spec.services] == ["demo_whoami0", "demo_whoami1"]
    assert all(s.args["name"] == s.name for s in spec.services)


def test_an_explicit_stack_name_replaces_the_file_stem() -> None:
    spec = load_stack(DEMO, VARIABLES, stack_name="tutorial")
    assert spec.service("whoami0").name == "tutorial_whoami0"
    assert labels(spec.service("whoami0").args["labels"])[STACK_LABEL] == "tutorial"


def test_service_and_container_labels_carry_the_stack_namespace_and_the_service_the_image() -> None:
    args = service_args(app())
    assert labels(args["labels"]) == {STACK_LABEL: "test", "com.docker.stack.image": "nginx:1.27"}
    assert labels(args["task_spec"]["container_spec"]["labels"]) == {STACK_LABEL: "test"}


# --------------------------------------------------------------------------- container keys


def test_image_is_passed_to_the_container_spec() -> None:
    assert container(app())["image"] == "nginx:1.27"


def test_command_string_is_split_like_a_shell_into_container_args() -> None:
    spec = container(app(command="nginx -g 'daemon off;'"))
    assert spec["args"] == ["nginx", "-g", "daemon off;"]
    assert "commands" not in spec


def test_command_list_becomes_args_and_entrypoint_becomes_commands() -> None:
    spec = container(app(command=["--port", 8080], entrypoint="/bin/serve --verbose"))
    assert spec["args"] == ["--port", "8080"]
    assert spec["commands"] == ["/bin/serve", "--verbose"]


@pytest.mark.parametrize(
    "environment",
    [["MODE=prod", "EMPTY=", "URL=http://x/?a=b"], {"MODE": "prod", "EMPTY": "", "URL": "http://x/?a=b"}],
    ids=["list", "map"],
)
def test_environment_list_and_map_forms_become_the_env_map(environment: Any) -> None:
    assert container(app(environment=environment))["env"] == {"MODE": "prod", "EMPTY": "", "URL": "http://x/?a=b"}


def test_environment_map_values_are_stringified_like_docker() -> None:
    assert container(app(environment={"N": 4, "ON": "true", "RATIO": 0.5, "ONE": 1.0, "BIG": 1e6}))["env"] == {
        "N": "4",
        "ON": "true",
        "RATIO": "0.5",
        "ONE": "1",
        "BIG": "1e+06",
    }


def test_a_boolean_in_a_mapping_is_refused_as_docker_refuses_it() -> None:
    assert "environment.ON = true is refused: a string or a number (quote true and false" in refused_service(app(environment={"ON": True}))


def test_environment_bare_name_takes_the_value_of_a_provided_variable() -> None:
    assert container(app(environment=["DOMAIN"]))["env"] == {"DOMAIN": "example.test"}
    assert container(app(environment={"DOMAIN": None}))["env"] == {"DOMAIN": "example.test"}


@pytest.mark.parametrize("form", [["TOKEN"], {"TOKEN": None}], ids=["list", "map"])
def test_environment_bare_name_without_a_provided_variable_is_refused(form: Any) -> None:
    message = refused_service(app(environment=form))
    assert "environment" in message and "'TOKEN'" in message
    assert "a bare KEY is only allowed for a variable the program provides (DOMAIN)" in message


@pytest.mark.parametrize("form", [["team=web", "flag"], {"team": "web", "flag": None}], ids=["list", "map"])
def test_labels_list_and_map_forms_become_container_labels(form: Any) -> None:
    assert labels(container(app(labels=form))["labels"]) == {"team": "web", "flag": "", STACK_LABEL: "test"}


def test_simple_container_keys_map_to_their_container_spec_fields() -> None:
    spec = container(app(hostname="web-1", user="1000:1000", working_dir="/srv", stop_grace_period="90s", read_only=True, init=True))
    assert spec["hostname"] == "web-1"
    assert spec["user"] == "1000:1000"
    assert spec["dir"] == "/srv"
    assert spec["stop_grace_period"] == "1m30s"
    assert spec["read_only"] is True
    assert spec["init"] is True


def test_numeric_user_is_passed_as_a_string() -> None:
    assert container(app(user=1000))["user"] == "1000"


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("80", {"target_port": 80, "protocol": "tcp", "publish_mode": "ingress"}),
        (80, {"target_port": 80, "protocol": "tcp", "publish_mode": "ingress"}),
        ("8080:80", {"target_port": 80, "published_port": 8080, "protocol": "tcp", "publish_mode": "ingress"}),
        ("5050:8080/tcp", {"target_port": 8080, "published_port": 5050, "protocol": "tcp", "publish_mode": "ingress"}),
        ("53:53/udp", {"target_port": 53, "published_port": 53, "protocol": "udp", "publish_mode": "ingress"}),
    ],
)
def test_short_port_syntax_becomes_an_endpoint_port(short: Any, expected: dict[str, Any]) -> None:
    assert service_args(app(ports=[short]))["endpoint_spec"] == {"ports": [expected]}


def test_long_port_syntax_maps_target_published_protocol_and_mode() -> None:
    ports = service_args(app(ports=[{"target": 9100, "published": "9101", "protocol": "udp", "mode": "host"}, {"target": 80}]))["endpoint_spec"]["ports"]
    assert ports == [
        {"target_port": 80, "protocol": "tcp", "publish_mode": "ingress"},
        {"target_port": 9100, "published_port": 9101, "protocol": "udp", "publish_mode": "host"},
    ], "sorted as docker stack deploy sorts them: published (none first), target, protocol, mode"


def test_a_service_without_ports_or_endpoint_mode_has_no_endpoint_spec() -> None:
    assert "endpoint_spec" not in service_args(app())


def port(target: int, published: int | None = None, protocol: str = "tcp") -> dict[str, Any]:
    return {"target_port": target, "protocol": protocol, "publish_mode": "ingress", **({"published_port": published} if published else {})}


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("8000-8002:9000-9002", [port(9000, 8000), port(9001, 8001), port(9002, 8002)]),
        ("9000-9001", [port(9000), port(9001)]),
        ("8000-8001:80/udp", [port(80, 8000, "udp"), port(80, 8001, "udp")]),
        ("0.0.0.0:8080:80", [port(80, 8080)]),
        (":8080", [port(8080)]),
    ],
)
def test_port_ranges_expand_as_docker_stack_deploy_expands_them(short: str, expected: list[dict[str, Any]]) -> None:
    spec = stack({"app": app(ports=[short])})
    assert spec.services[0].args["endpoint_spec"] == {"ports": expected}
    assert spec.warnings == ()


def test_a_port_host_ip_is_ignored_with_a_warning_as_docker_ignores_it() -> None:
    spec = stack({"app": app(ports=["127.0.0.1:8080:80", "[::1]:53:53/udp"])})
    assert spec.services[0].args["endpoint_spec"] == {"ports": [port(53, 53, "udp"), port(80, 8080)]}
    why = "swarm publishes a port on every address of every node (127.0.0.1:8080:80)"
    assert spec.warnings == (f"{FILE}: ports (a host IP) is ignored, as docker stack deploy ignores it (service app): {why}",)


@pytest.mark.parametrize("short", ["8000-8002:9000-9001", "9000-8000", "a:80", "1.2.3:80:80", "80/http"])
def test_a_port_docker_refuses_is_refused(short: str) -> None:
    assert f"ports[0] = '{short}' is refused: " in refused_service(app(ports=[short]))


def test_unquoted_base60_port_mapping_gets_a_hint() -> None:
    # YAML 1.1 reads an unquoted 8080:53 as 8080*60+53.
    assert "quote HOST:CONTAINER mappings" in refused_service(app(ports=[yaml.safe_load("8080:53")]))


def test_long_port_without_target_is_refused() -> None:
    assert "ports[0].target = null is refused" in refused_service(app(ports=[{"published": 80}]))


# --------------------------------------------------------------------------- networks


def test_networks_are_sorted_by_docker_name_as_docker_stack_deploy_sorts_them() -> None:
    spec = stack({"app": app(networks=["front", "back", "zed"])}, networks={"back": None, "front": None, "zed": {"name": "a-zed"}})
    assert spec.services[0].networks == ("zed", "back", "front"), "a-zed, test_back, test_front"
    assert [n.key for n in spec.networks] == ["back", "front", "zed"]


def test_networks_map_form_with_aliases_gives_the_networks_advanceds() -> None:
    spec = stack({"app": app(networks={"front": {"aliases": ["www", "app"]}, "back": None})}, networks={"front": None, "back": None})
    service = spec.services[0]
    assert service.networks == ("back", "front")
    assert service.networks_advanceds({"front": "id-f", "back": "id-b"}) == [
        {"id": "id-b", "aliases": ["app"]},
        {"id": "id-f", "aliases": ["www", "app", "app"]},
    ], "compose aliases, then the service key, as docker stack deploy appends it"
    args = service.service_args({"front": "id-f", "back": "id-b"})
    assert args["task_spec"]["networks_advanceds"][0]["id"] == "id-b"


def test_a_service_networks_driver_opts_reach_its_attachment_as_docker_stack_deploy_sends_them() -> None:
    networks = {"front": {"driver_opts": {"com.example.mtu": 1400, "com.example.mode": "fast"}}, "back": None}
    spec = stack({"app": app(networks=networks)}, version="3.13", networks={"front": None, "back": None})
    assert spec.services[0].networks_advanceds({"front": "id-f", "back": "id-b"}) == [
        {"id": "id-b", "aliases": ["app"]},
        {"id": "id-f", "aliases": ["app"], "driver_opts": ["com.example.mode=fast", "com.example.mtu=1400"]},
    ]


@pytest.mark.parametrize("version", ["3.9", "3.12", "3.2"])
def test_a_service_networks_driver_opts_are_refused_before_version_3_13_as_dockers_schema_refuses_them(version: str) -> None:
    message = refused(doc={"version": version, "services": {"app": app(networks={"front": {"driver_opts": {"o": "1"}}})}, "networks": {"front": None}})
    assert f'service app: networks.front.driver_opts = {{"o": "1"}} is refused: nothing in a file of version {version}' in message


@pytest.mark.parametrize("version", [None, "", "3", "3.13"])
def test_a_file_without_version_or_of_version_3_is_read_as_docker_reads_it_the_latest_3_13(version: str | None) -> None:
    doc: dict[str, Any] = {"services": {"app": app(networks={"front": {"driver_opts": {"o": "1"}}})}, "networks": {"front": None}}
    if version is not None:
        doc["version"] = version
    spec = translate(doc, VARIABLES, file=FILE, stack_name="test")
    assert spec.services[0].networks_advanceds({"front": "id-f"})[0]["driver_opts"] == ["o=1"]


def test_a_fixed_address_on_a_service_network_is_ignored_with_a_warning_as_docker_ignores_it() -> None:
    spec = stack({"app": app(networks={"front": {"ipv4_address": "10.0.9.9", "ipv6_address": "fd00::9"}})}, networks={"front": None})
    assert spec.services[0].networks_advanceds({"front": "id-f"}) == [{"id": "id-f", "aliases": ["app"]}]
    assert [w.split(" is ignored")[0] for w in spec.warnings] == [f"{FILE}: networks.ipv4_address", f"{FILE}: networks.ipv6_address"]
    assert all("swarm's IPAM gives each task its address" in w for w in spec.warnings)


def test_non_external_networks_get_the_stack_prefix_and_their_options() -> None:
    spec = stack(
        {"app": app(networks=["front", "named"])},
        networks={
            "front": {"driver": "overlay", "attachable": True, "internal": True, "driver_opts": {"encrypted": ""}, "labels": ["tier=front"]},
            "named": {"name": "shared-net"},
        },
    )
    front = spec.network("front")
    assert (front.name, front.external, front.driver, front.attachable, front.internal) == ("test_front", False, "overlay", True, True)
    assert front.driver_opts == (("encrypted", ""),)
    assert dict(front.labels) == {"tier": "front", STACK_LABEL: "test"}
    assert spec.network("named").name == "shared-net"


@pytest.mark.parametrize(
    ("definition", "name"), [({"external": True}, "traefik-net"), ({"external": True, "name": "edge"}, "edge"), ({"external": {"name": "old"}}, "old")]
)
def test_external_networks_keep_their_own_name(definition: dict[str, Any], name: str) -> None:
    network = stack({"app": app(networks=["traefik-net"])}, networks={"traefik-net": definition}).network("traefik-net")
    assert (network.name, network.external, network.driver) == (name, True, None)


def test_a_service_without_networks_joins_the_implicit_default_overlay_network() -> None:
    spec = stack({"app": app()})
    assert spec.services[0].networks == ("default",)
    default = spec.network("default")
    assert (default.name, default.external, default.driver) == ("test_default", False, "overlay")


def test_a_declared_default_network_replaces_the_implicit_one() -> None:
    spec = stack({"app": app()}, networks={"default": {"driver_opts": {"encrypted": ""}}})
    assert spec.network("default").driver_opts == (("encrypted", ""),)
    assert len(spec.networks) == 1


def test_only_networks_in_use_are_listed() -> None:
    spec = stack({"app": app(networks=["used"])}, networks={"used": None, "unused": None})
    assert [n.key for n in spec.networks] == ["used"]


def test_undeclared_network_is_refused() -> None:
    message = refused_service(app(networks=["backend"]), networks={"front": None})
    assert "networks.backend = 'backend' is refused: references undeclared network 'backend'" in message
    assert "(declared: front)" in message


def test_external_network_with_a_driver_is_refused() -> None:
    message = refused({"app": app(networks=["x"])}, networks={"x": {"external": True, "driver": "overlay"}})
    assert message.startswith(f"{FILE}: networks.x.driver = 'overlay' is refused")


# --------------------------------------------------------------------------- volumes


def mounts(items: list[Any], **top: Any) -> list[dict[str, Any]]:
    return container(app(volumes=items), **top)["mounts"]


def test_short_bind_mount_with_ro_is_read_only() -> None:
    assert mounts(["/var/run/docker.sock:/var/run/docker.sock:ro"]) == [
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "read_only": True}
    ]


def test_short_relative_bind_is_resolved_against_the_compose_file_directory() -> None:
    [mount] = mounts(["./conf:/etc/app"])
    assert mount["source"] == str(Path(FILE).parent.resolve() / "conf")
    assert mount["read_only"] is False


def test_short_bind_mount_propagation_option() -> None:
    assert mounts(["/mnt:/mnt:ro,rshared"])[0]["bind_options"] == {"propagation": "rshared"}


def test_short_named_volume_carries_the_top_level_driver_options_and_labels() -> None:
    [mount] = mounts(["data:/data:nocopy"], volumes={"data": {"driver": "local", "driver_opts": {"type": "nfs", "o": "addr=10.0.0.1"}, "labels": {"backup": "daily"}}})
    assert mount == {
        "type": "volume",
        "source": "test_data",
        "target": "/data",
        "read_only": False,
        "volume_options": {
            "no_copy": True,
            "labels": [{"label": "backup", "value": "daily"}, {"label": STACK_LABEL, "value": "test"}],
            "driver_name": "local",
            "driver_options": {"o": "addr=10.0.0.1", "type": "nfs"},
        },
    }


def test_external_and_named_volumes_keep_their_names() -> None:
    spec = stack({"app": app(volumes=["ext:/a", "named:/b"])}, volumes={"ext": {"external": True}, "named": {"name": "shared"}})
    sources = [m["source"] for m in spec.services[0].args["task_spec"]["container_spec"]["mounts"]]
    assert sources == ["ext", "shared"]
    assert [(v.key, v.name, v.external) for v in spec.volumes] == [("ext", "ext", True), ("named", "shared", False)]


def test_anonymous_volume_has_only_a_target() -> None:
    assert mounts(["/scratch"]) == [{"type": "volume", "target": "/scratch", "read_only": False}]


def test_long_volume_syntax_for_bind_volume_and_tmpfs() -> None:
    result = mounts(
        [
            {"type": "bind", "source": "/var/log", "target": "/host/log", "read_only": True, "bind": {"propagation": "rslave"}},
            {"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}},
            {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": "64M"}},
        ],
        volumes={"data": None},
    )
    assert result[0] == {"type": "bind", "source": "/var/log", "target": "/host/log", "read_only": True, "bind_options": {"propagation": "rslave"}}
    assert result[1]["source"] == "test_data" and result[1]["volume_options"]["no_copy"] is True
    assert result[2] == {"type": "tmpfs", "target": "/tmp", "read_only": False, "tmpfs_options": {"size_bytes": 64 * 1024**2}}


def test_undeclared_named_volume_is_refused() -> None:
    message = refused_service(app(volumes=["data:/data"]), volumes={"logs": None})
    assert "volumes[0] = 'data' is refused: a named volume declared under the top-level volumes: (declared: logs)" in message


def test_long_syntax_option_of_another_mount_type_is_refused() -> None:
    assert "volumes[0].tmpfs = " in refused_service(app(volumes=[{"type": "bind", "source": "/a", "target": "/b", "tmpfs": {"size": 1}}]))


def test_relative_mount_target_is_refused() -> None:
    assert "an absolute path inside the container" in refused_service(app(volumes=["/a:data"]))


# --------------------------------------------------------------------------- healthcheck


def test_healthcheck_list_test_and_durations() -> None:
    check = container(app(healthcheck={"test": ["CMD", "curl", "-f", "http://localhost/"], "interval": "30s", "timeout": "5s", "start_period": "60s", "retries": 3}))[
        "healthcheck"
    ]
    assert check == {"tests": ["CMD", "curl", "-f", "http://localhost/"], "interval": "30s", "timeout": "5s", "start_period": "1m", "retries": 3}


def test_healthcheck_string_test_runs_in_a_shell() -> None:
    assert container(app(healthcheck={"test": "curl -f http://localhost/ || exit 1"}))["healthcheck"]["tests"] == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]


def test_healthcheck_disable_becomes_none() -> None:
    assert container(app(healthcheck={"disable": True}))["healthcheck"] == {"tests": ["NONE"]}


def test_healthcheck_test_without_cmd_prefix_is_refused() -> None:
    assert "healthcheck.test = " in refused_service(app(healthcheck={"test": ["curl", "-f", "x"]}))


# --------------------------------------------------------------------------- deploy


def deploy(**keys: Any) -> dict[str, Any]:
    return service_args(app(deploy=keys))


def test_replicated_mode_with_one_replica_by_default() -> None:
    assert service_args(app())["mode"] == {"replicated": {"replicas": 1}}


def test_deploy_replicas() -> None:
    assert deploy(replicas=5)["mode"] == {"replicated": {"replicas": 5}}
    assert deploy(mode="replicated", replicas=0)["mode"] == {"replicated": {"replicas": 0}}


def test_global_mode() -> None:
    assert deploy(mode="global")["mode"] == {"global_": True}


@pytest.mark.parametrize(
    "form", [["traefik.enable=true", "traefik.http.routers.x.rule=Host(`x`)"], {"traefik.enable": "true", "traefik.http.routers.x.rule": "Host(`x`)"}]
)
def test_deploy_labels_become_the_service_labels_not_the_container_labels(form: Any) -> None:
    args = deploy(labels=form)
    assert labels(args["labels"]) == {
        "traefik.enable": "true",
        "traefik.http.routers.x.rule": "Host(`x`)",
        STACK_LABEL: "test",
        "com.docker.stack.image": "nginx:1.27",
    }
    assert "traefik.enable" not in labels(args["task_spec"]["container_spec"]["labels"])


def test_placement_constraints() -> None:
    placement = deploy(placement={"constraints": ["node.role == manager", "node.labels.zone!=b"]})["task_spec"]["placement"]
    assert placement == {"constraints": ["node.role == manager", "node.labels.zone!=b"]}


def test_placement_preferences_are_bare_spread_descriptors() -> None:
    # pulumi_docker's `prefs` strings go to the swarm SpreadDescriptor unchanged (as docker stack deploy sends it).
    placement = deploy(placement={"preferences": [{"spread": "node.labels.zone"}, {"spread": "node.labels.rack"}]})["task_spec"]["placement"]
    assert placement == {"prefs": ["node.labels.zone", "node.labels.rack"]}


def test_placement_max_replicas_per_node() -> None:
    assert deploy(placement={"max_replicas_per_node": 2})["task_spec"]["placement"] == {"max_replicas": 2}


def test_update_config() -> None:
    config = deploy(update_config={"parallelism": 2, "delay": "10s", "failure_action": "rollback", "monitor": "1m", "max_failure_ratio": 0.2, "order": "start-first"})
    assert config["update_config"] == {
        "parallelism": 2,
        "delay": "10s",
        "failure_action": "rollback",
        "monitor": "1m",
        "max_failure_ratio": "0.2",
        "order": "start-first",
    }


def test_rollback_config() -> None:
    config = deploy(rollback_config={"parallelism": 0, "delay": "0s", "failure_action": "continue", "monitor": "5s", "max_failure_ratio": 1, "order": "stop-first"})
    assert config["rollback_config"] == {
        "parallelism": 0,
        "delay": "0s",
        "failure_action": "continue",
        "monitor": "5s",
        "max_failure_ratio": "1.0",
        "order": "stop-first",
    }


def test_restart_policy() -> None:
    policy = deploy(restart_policy={"condition": "on-failure", "delay": "5s", "max_attempts": 3, "window": "120s"})["task_spec"]["restart_policy"]
    assert policy == {"condition": "on-failure", "delay": "5s", "max_attempts": 3, "window": "2m"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"condition": "on-failure"}, {"condition": "on-failure", "delay": "5s", "window": "0s"}),
        ({"delay": "0"}, {"delay": "0s", "window": "0s"}),
        ({"window": "90s"}, {"delay": "5s", "window": "1m30s"}),
        ({}, {"delay": "5s", "window": "0s"}),
    ],
)
def test_restart_policy_always_gives_delay_and_window(given: dict, expected: dict) -> None:
    # The Docker provider reads an unset delay or window back as "0s" and diffs on every preview
    # (pulumi/pulumi-docker#1285): both are given, with swarm's defaults when the file sets none.
    assert deploy(restart_policy=given)["task_spec"]["restart_policy"] == expected


def test_resources_limits_and_reservations() -> None:
    resources = deploy(resources={"limits": {"cpus": "0.5", "memory": "1G"}, "reservations": {"cpus": 0.25, "memory": "100k"}})["task_spec"]["resources"]
    assert resources == {"limits": {"nano_cpus": 500_000_000, "memory_bytes": 1024**3}, "reservation": {"nano_cpus": 250_000_000, "memory_bytes": 100 * 1024}}


@pytest.mark.parametrize(
    ("memory", "expected"),
    [("512M", 512 * 1024**2), ("1G", 1024**3), ("100k", 102_400), ("1.5g", 1536 * 1024**2), ("256MB", 256 * 1024**2), (2048, 2048), ("2048", 2048)],
)
def test_memory_sizes(memory: Any, expected: int) -> None:
    assert deploy(resources={"limits": {"memory": memory}})["task_spec"]["resources"]["limits"]["memory_bytes"] == expected


def test_endpoint_mode() -> None:
    assert deploy(endpoint_mode="vip")["endpoint_spec"] == {"mode": "vip"}
    args = service_args(app(ports=[{"target": 53, "published": 53, "mode": "host"}], deploy={"endpoint_mode": "dnsrr"}))
    assert args["endpoint_spec"] == {"mode": "dnsrr", "ports": [{"target_port": 53, "published_port": 53, "protocol": "tcp", "publish_mode": "host"}]}


@pytest.mark.parametrize(
    ("duration", "canonical"),
    [
        ("10s", "10s"),
        ("1m30s", "1m30s"),
        ("90s", "1m30s"),
        ("500ms", "500ms"),
        ("1h", "1h"),
        ("1h0m0s", "1h"),
        ("60m", "1h"),
        ("2h30m", "2h30m"),
        ("1.5s", "1.5s"),
        ("1m0.5s", "1m0.5s"),
        ("0", "0s"),
        (0, "0s"),
    ],
)
def test_durations_are_normalised_as_the_provider_reads_them_back(duration: Any, canonical: str) -> None:
    assert deploy(update_config={"delay": duration})["update_config"]["delay"] == canonical


# --------------------------------------------------------------------------- interpolation


def image_with(text: str, variables: dict[str, str]) -> str:
    """TEXT interpolated, as a service label's value (any text; an image must be an image reference)."""
    service = stack({"app": {"image": "x/y:1", "deploy": {"labels": {"value": text}}}}, variables=variables).services[0]
    return next(item["value"] for item in service.args["labels"] if item["label"] == "value")


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${IMAGE}", {"IMAGE": "nginx"}, "nginx"),
        ("$IMAGE:1", {"IMAGE": "nginx"}, "nginx:1"),
        ("${IMAGE:-nginx:1.27}", {}, "nginx:1.27"),
        ("${IMAGE:-nginx:1.27}", {"IMAGE": ""}, "nginx:1.27"),
        ("${IMAGE:-nginx:1.27}", {"IMAGE": "httpd"}, "httpd"),
        ("x${EMPTY-default}y", {"EMPTY": ""}, "xy"),
        ("${IMAGE-nginx}", {}, "nginx"),
        ("${IMAGE:-${FALLBACK:-nginx}}", {}, "${FALLBACK:-nginx}"),
        ("${P:-$2y$05$abc}", {}, "$2y$05$abc"),
        ("${Q-$$x}", {}, "$$x"),
        ("$IMAGE-x y", {"IMAGE": "nginx"}, "nginx"),
        ("$IMAGE-x y", {}, "x y"),
        ("${IMAGE:?must be set}", {"IMAGE": "nginx"}, "nginx"),
    ],
)
def test_interpolation_of_variables_and_defaults(text: str, variables: dict[str, str], expected: str) -> None:
    assert image_with(text, variables) == expected


def test_alternative_values_are_refused_as_docker_refuses_them() -> None:
    assert "is refused: '$' followed by a variable name or {...}" in refused_service(app(image="${IMAGE:+custom}"), variables={"IMAGE": "x"})


def test_a_required_message_with_a_hyphen_is_the_message() -> None:
    assert "variable X: set-me" in refused_service(app(image="${X:?set-me}"))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("read_only", "${RO}", True), ("read_only", "${OFF}", False), ("deploy", {"replicas": "${N}"}, {"replicated": {"replicas": 3}})],
)
def test_substituted_values_are_cast_as_docker_casts_them(key: str, value: Any, expected: Any) -> None:
    args = stack({"app": app(**{key: value})}, variables={"RO": "yes", "OFF": "off", "N": "3"}).services[0].args
    assert (args["mode"] if key == "deploy" else args["task_spec"]["container_spec"][key]) == expected


def test_a_substituted_value_docker_cannot_cast_is_refused() -> None:
    assert "read_only = '${RO}' is refused: a value of the type docker casts it to (bool), not 'maybe'" in refused_service(
        app(read_only="${RO}"), variables={"RO": "maybe"}
    )


def test_double_dollar_is_a_literal_dollar() -> None:
    assert container(app(command="sh -c 'echo $$HOME costs $$5'"))["args"] == ["sh", "-c", "echo $HOME costs $5"]


def test_interpolation_reaches_every_string_value() -> None:
    args = service_args(app(deploy={"replicas": "${N:-3}", "labels": ["rule=Host(`a.${DOMAIN}`)"]}, environment={"D": "${DOMAIN}"}))
    assert args["mode"] == {"replicated": {"replicas": 3}}
    assert labels(args["labels"])["rule"] == "Host(`a.example.test`)"
    assert args["task_spec"]["container_spec"]["env"] == {"D": "example.test"}


def test_interpolation_does_not_read_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONLY_IN_ENV", "leaked")
    assert "variable ONLY_IN_ENV" in refused_service(app(hostname="${ONLY_IN_ENV}"))


def test_missing_variable_is_refused_naming_it() -> None:
    message = refused_service(app(image="${REGISTRY}/nginx"))
    assert message == (
        f"{FILE}: service app: image = '${{REGISTRY}}/nginx' is refused: variable REGISTRY: it is not provided and has no default "
        "(provided: DOMAIN; give a default with ${REGISTRY:-value})"
    )


def test_required_variable_message_is_used() -> None:
    assert "variable TOKEN: set TOKEN first" in refused_service(app(hostname="${TOKEN:?set TOKEN first}"))


@pytest.mark.parametrize("text", ["cost $5", "${UNCLOSED", "${BAD NAME}"])
def test_malformed_interpolation_is_refused(text: str) -> None:
    assert "hostname = " in refused_service(app(hostname=text))


# --------------------------------------------------------------------------- refusals


def test_unknown_top_level_key_is_refused() -> None:
    message = refused({"app": app()}, extras={"a": 1})
    assert message == (
        f'{FILE}: extras = {{"a": 1}} is refused: unknown top-level key; allowed: version, services, networks, volumes, configs, secrets and x-* extensions'
    )


def test_extension_keys_and_version_are_ignored() -> None:
    spec = stack({"app": {**app(), "x-note": "${UNDEFINED}"}}, **{"x-defaults": {"a": 1}})
    assert spec.services[0].name == "test_app"


def test_unknown_service_key_is_refused() -> None:
    message = refused_service(app(priviledged=True))
    assert message.startswith(f"{FILE}: service app: priviledged = true is refused: unknown or unsupported key; supported keys: image, command")


def test_unknown_deploy_key_is_refused() -> None:
    message = refused_service(app(deploy={"replicas": 1, "rolling": True}))
    assert message.startswith(f"{FILE}: service app: deploy.rolling = true is refused: unknown or unsupported key; supported keys: mode, replicas")


def test_unknown_nested_deploy_key_is_refused() -> None:
    assert "deploy.resources.limits.threads = 10 is refused: unknown or unsupported key" in refused_service(app(deploy={"resources": {"limits": {"threads": 10}}}))


def test_negative_replicas_are_refused() -> None:
    assert refused({"whoami0": app(deploy={"replicas": -1})}) == f"{FILE}: service whoami0: deploy.replicas = -1 is refused: a whole number 0 or more"


def test_non_numeric_replicas_are_refused() -> None:
    assert "deploy.replicas = 'two' is refused: a whole number 0 or more" in refused_service(app(deploy={"replicas": "two"}))


def test_global_mode_with_replicas_is_refused() -> None:
    message = refused_service(app(deploy={"mode": "global", "replicas": 2}))
    assert "deploy.replicas = 2 is refused: nothing with mode: global" in message


def test_global_mode_with_max_replicas_per_node_is_refused() -> None:
    assert "deploy.placement.max_replicas_per_node = 1 is refused" in refused_service(app(deploy={"mode": "global", "placement": {"max_replicas_per_node": 1}}))


def test_unknown_mode_is_refused() -> None:
    assert "deploy.mode = 'replicated-service' is refused: one of replicated, global" in refused_service(app(deploy={"mode": "replicated-service"}))


@pytest.mark.parametrize("mode", ["replicated-job", "global-job"])
def test_job_modes_are_refused_saying_the_provider_cannot_set_them(mode: str) -> None:
    message = refused_service(app(deploy={"mode": mode}))
    assert f"deploy.mode = '{mode}' is refused: replicated or global: the Docker provider (pulumi_docker.Service) cannot set it to a job" in message


def test_pids_limit_is_refused_saying_the_provider_cannot_set_it() -> None:
    message = refused_service(app(deploy={"resources": {"limits": {"pids": 10}}}))
    assert "deploy.resources.limits.pids = 10 is refused: nothing: the Docker provider (pulumi_docker.Service) cannot set it" in message


def test_generic_resources_become_discrete_resource_specs() -> None:
    wanted = [{"discrete_resource_spec": {"kind": "gpu", "value": 2}}, {"discrete_resource_spec": {"kind": "ssd", "value": 1}}]
    reservation = deploy(resources={"reservations": {"generic_resources": wanted}})["task_spec"]["resources"]["reservation"]
    assert reservation == {"generic_resources": {"discrete_resources_specs": ["gpu=2", "ssd=1"]}}


@pytest.mark.parametrize("mode", ["VIP", "Vip", "DNSRR"])
def test_endpoint_mode_is_read_in_any_case_as_docker_reads_it(mode: str) -> None:
    assert deploy(endpoint_mode=mode)["endpoint_spec"] == {"mode": mode.lower()}


@pytest.mark.parametrize("duration", ["10", "ten seconds", "-5s", "1d", "", 10])
def test_bad_duration_is_refused(duration: Any) -> None:
    message = refused_service(app(deploy={"update_config": {"delay": duration}}))
    assert "deploy.update_config.delay = " in message
    assert "a duration such as 10s, 1m30s, 500ms or 1h" in message


@pytest.mark.parametrize("memory", ["lots", "512X", "-1G", 0, "0"])
def test_bad_memory_is_refused(memory: Any) -> None:
    message = refused_service(app(deploy={"resources": {"limits": {"memory": memory}}}))
    assert "deploy.resources.limits.memory = " in message
    assert "a size such as 512M, 1G, 100k or a whole number of bytes" in message


def test_bad_cpus_are_refused() -> None:
    assert "deploy.resources.limits.cpus = 'half'" in refused_service(app(deploy={"resources": {"limits": {"cpus": "half"}}}))


def test_missing_image_is_refused() -> None:
    assert refused_service({"command": "true"}) == f"{FILE}: service app: image = null is refused: an image reference such as traefik/whoami:v1.10 (image is required)"


def test_dnsrr_with_an_ingress_published_port_is_refused() -> None:
    message = refused_service(app(ports=["8080:80"], deploy={"endpoint_mode": "dnsrr"}))
    assert "deploy.endpoint_mode = 'dnsrr' is refused" in message
    assert "Docker refuses dnsrr with ingress ports" in message


def test_rollback_failure_action_cannot_be_rollback() -> None:
    message = refused_service(app(deploy={"rollback_config": {"failure_action": "rollback"}}))
    assert "deploy.rollback_config.failure_action = 'rollback' is refused: one of continue, pause" in message


def test_update_order_must_be_start_first_or_stop_first() -> None:
    assert "one of stop-first, start-first" in refused_service(app(deploy={"update_config": {"order": "random"}}))


def test_failure_ratio_with_more_than_one_decimal_is_given_as_is_with_a_warning() -> None:
    spec = stack({"app": app(deploy={"update_config": {"max_failure_ratio": 0.25}})})
    assert spec.services[0].args["update_config"]["max_failure_ratio"] == "0.25"
    assert spec.warnings == (
        f"{FILE}: deploy.update_config.max_failure_ratio (service app): 0.25 is given as is, but the Docker provider reads it back with one decimal "
        "and shows a change on every preview; give one decimal",
    )


def test_failure_ratio_above_one_is_refused() -> None:
    assert "deploy.update_config.max_failure_ratio = 1.5 is refused: a number from 0 to 1" in refused_service(app(deploy={"update_config": {"max_failure_ratio": 1.5}}))


def test_restart_condition_must_be_known() -> None:
    assert "one of none, on-failure, any" in refused_service(app(deploy={"restart_policy": {"condition": "always"}}))


def test_bad_constraint_is_refused() -> None:
    assert "deploy.placement.constraints[0] = 'node.role' is refused" in refused_service(app(deploy={"placement": {"constraints": ["node.role"]}}))


def test_service_name_that_swarm_would_refuse_is_refused() -> None:
    assert refused({"my.app": app()}).startswith(f"{FILE}: services.my.app = 'my.app' is refused: a service name of letters and digits")


def test_a_file_without_services_is_refused() -> None:
    assert refused({}) == f"{FILE}: services = {{}} is refused: at least one service"


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert refused(doc=["a"]).startswith(f"{FILE}: document = ")


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.yml"
    path.write_text("services:\n  app:\n    image: a\n    image: b\n")
    with pytest.raises(ComposeError, match="appears twice"):
        load_stack(path, VARIABLES)


def test_yaml_anchors_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "merge.yml"
    path.write_text("x-base: &base\n  image: nginx:1.27\n  hostname: h\nservices:\n  app:\n    <<: *base\n    hostname: web\n")
    spec = load_stack(path, VARIABLES)
    assert spec.name == "merge"
    assert spec.services[0].args["task_spec"]["container_spec"]["hostname"] == "web"


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="is refused: a readable compose file"):
        load_stack(tmp_path / "none.yml", VARIABLES)


# --------------------------------------------------------------------------- the demo stack


@pytest.fixture(scope="module")
def demo() -> StackSpec:
    return load_stack(DEMO, VARIABLES)


def test_demo_services_and_replicas(demo: StackSpec) -> None:
    assert [s.key for s in demo.services] == ["whoami0", "whoami1"]
    assert demo.service("whoami0").args["mode"] == {"replicated": {"replicas": 2}}
    assert demo.service("whoami1").args["mode"] == {"replicated": {"replicas": 2}}


def test_demo_whoami_services_are_routed_by_traefik_on_the_domain(demo: StackSpec) -> None:
    for key in ("whoami0", "whoami1"):
        service_labels = labels(demo.service(key).args["labels"])
        assert service_labels["traefik.enable"] == "true"
        assert service_labels[f"traefik.http.routers.{key}.rule"] == f"Host(`{key}.example.test`)"
        # No entrypoints: the routers serve http and, once HTTPS is on, https too.
        assert f"traefik.http.routers.{key}.entrypoints" not in service_labels
        assert service_labels[f"traefik.http.services.{key}.loadbalancer.server.port"] == "80"
        assert demo.service(key).networks == ("traefik-net",)
        assert demo.service(key).args["task_spec"]["container_spec"]["image"] == "traefik/whoami:v1.10"


def test_demo_sticky_cookie_is_on_whoami1_only(demo: StackSpec) -> None:
    whoami1 = labels(demo.service("whoami1").args["labels"])
    assert whoami1["traefik.http.services.whoami1.loadbalancer.sticky.cookie"] == "true"
    assert whoami1["traefik.http.services.whoami1.loadbalancer.sticky.cookie.name"] == "whoami1_sticky"
    assert not any("sticky" in label for label in labels(demo.service("whoami0").args["labels"]))


def test_demo_rolling_update_and_placement(demo: StackSpec) -> None:
    whoami0 = demo.service("whoami0").args
    assert whoami0["update_config"] == {"parallelism": 1, "delay": "10s", "order": "start-first"}
    assert whoami0["task_spec"]["restart_policy"] == {"condition": "any", "delay": "5s", "window": "0s"}
    assert "placement" not in whoami0["task_spec"], "whoami0 must stay free to scale to 5 on 3 nodes"
    assert demo.service("whoami1").args["task_spec"]["placement"] == {"max_replicas": 2}


def test_demo_networks_are_the_external_traefik_net_only(demo: StackSpec) -> None:
    # The visualizer (stacks/visualizer.yml, tested with the ingress) left the demo, and its default network with it.
    assert [(n.key, n.name, n.external) for n in demo.networks] == [("traefik-net", "traefik-net", True)]
    assert demo.volumes == ()


def test_demo_images_can_be_overridden_by_variables() -> None:
    spec = load_stack(DEMO, {**VARIABLES, "WHOAMI_IMAGE": "registry.test/whoami:2"})
    assert spec.service("whoami1").args["task_spec"]["container_spec"]["image"] == "registry.test/whoami:2"


def test_demo_without_domain_is_refused() -> None:
    with pytest.raises(ComposeError, match=r"service whoami0: deploy\.labels\[1\] = .* variable DOMAIN"):
        load_stack(DEMO, {})


def test_demo_is_valid_for_docker_stack_config(demo: StackSpec) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "stack", "config", "--help"], capture_output=True, check=False).returncode != 0:
        pytest.skip("this docker CLI has no `docker stack config`")
    env = {k: v for k, v in os.environ.items() if k not in ("WHOAMI_IMAGE", "VISUALIZER_IMAGE")}
    result = subprocess.run(
        [docker, "stack", "config", "-c", str(DEMO)], capture_output=True, text=True, cwd=ROOT, env={**env, "DOMAIN": "example.test"}, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {s.key for s in demo.services}
    for service in demo.services:
        assert rendered["services"][service.key]["deploy"]["replicas"] == service.args["mode"]["replicated"]["replicas"]
    assert rendered["services"]["whoami0"]["deploy"]["labels"]["traefik.http.routers.whoami0.rule"] == "Host(`whoami0.example.test`)"


# --------------------------------------------------------------------------- what docker stack deploy ignores or refuses


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("build", "."),
        ("container_name", "web"),
        ("depends_on", ["db"]),
        ("links", ["db"]),
        ("network_mode", "host"),
        ("privileged", True),
        ("expose", ["80"]),
        ("security_opt", ["label:disable"]),
        ("tmpfs", "/run"),
    ],
)
def test_a_key_docker_stack_deploy_ignores_is_accepted_with_one_warning(key: str, value: Any) -> None:
    spec = stack({"app": app(**{key: value}), "db": app(**{key: value})})
    assert spec.services[0].args == stack({"app": app()}).services[0].args, "nothing of the key reaches the service"
    assert len(spec.warnings) == 1, "one warning per key, not per service"
    assert spec.warnings[0].startswith(f"{FILE}: {key} is ignored, as docker stack deploy ignores it (service app, db): ")


def test_warnings_come_one_per_key_in_key_order() -> None:
    spec = stack({"app": app(links=["db"], build=".", depends_on=["db"])})
    assert [w.split(" is ignored")[0] for w in spec.warnings] == [f"{FILE}: build", f"{FILE}: depends_on", f"{FILE}: links"]
    assert stack({"app": app()}).warnings == ()


@pytest.mark.parametrize("key", ["extends", "volumes_from", "volume_driver", "cpu_shares", "mem_limit"])
def test_a_key_docker_stack_deploy_refuses_is_refused_with_its_advice(key: str) -> None:
    assert f"{key} = 'x' is refused: nothing: docker stack deploy refuses it too (" in refused_service(app(**{key: "x"}))


@pytest.mark.parametrize(
    ("restart", "policy"),
    [
        ("always", {"condition": "any", "delay": "5s", "window": "0s"}),
        ("unless-stopped", {"condition": "any", "delay": "5s", "window": "0s"}),
        ("on-failure", {"condition": "on-failure", "delay": "5s", "window": "0s"}),
        ("on-failure:3", {"condition": "on-failure", "delay": "5s", "window": "0s", "max_attempts": 3}),
    ],
)
def test_restart_maps_to_a_restart_policy_as_docker_stack_deploy_maps_it(restart: str, policy: dict[str, Any]) -> None:
    spec = stack({"app": app(restart=restart)})
    assert spec.services[0].args["task_spec"]["restart_policy"] == policy
    assert spec.warnings == ()


def test_restart_no_gives_no_restart_policy() -> None:
    assert "restart_policy" not in service_args(app(restart="no"))["task_spec"]


def test_restart_is_ignored_with_a_warning_when_deploy_restart_policy_is_given() -> None:
    spec = stack({"app": app(restart="always", deploy={"restart_policy": {"condition": "none"}})})
    assert spec.services[0].args["task_spec"]["restart_policy"]["condition"] == "none"
    assert spec.warnings == (
        f"{FILE}: restart is ignored, as docker stack deploy ignores it (service app): deploy.restart_policy is given, and docker stack deploy then ignores restart",
    )


@pytest.mark.parametrize("restart", ["sometimes", ":3", "on-failure:x", "on-failure:-1"])
def test_restart_that_docker_refuses_is_refused(restart: str) -> None:
    assert f"restart = '{restart}' is refused: no, always, unless-stopped or on-failure" in refused_service(app(restart=restart))


def test_load_stacks_gives_each_warning_to_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ha_swarm.apps import stacks as stacks_module

    said: list[str] = []
    monkeypatch.setattr(stacks_module.pulumi.log, "warn", said.append)
    path = tmp_path / "built.yml"
    path.write_text("services:\n  app:\n    image: nginx\n    build: .\n    links: [db]\n")
    stacks_module.load_stacks([StackEntry(str(path))], VARIABLES)
    assert [line.split(" is ignored")[0] for line in said] == [f"{path}: build", f"{path}: links"]


# --------------------------------------------------------------------------- container keys docker stack deploy converts


def test_env_file_is_read_as_docker_reads_it_and_environment_overrides_it() -> None:
    env = container(app(env_file=str(ENV_FILE), environment=["FROM_FILE=2 "]))["env"]
    # Taken as written: no quote removal, no ${}; an empty or bare entry takes the program's variable of
    # that name (docker takes the shell's); a bare KEY nobody provides is left out.
    assert env == {"DOMAIN": "example.test", "FROM_FILE": "2 ", "INDENTED": "kept ", "QUOTED": '"stays quoted"', "EMPTY": ""}


def test_env_file_empty_value_takes_a_provided_variable() -> None:
    assert container(app(env_file=str(ENV_FILE)), variables={"EMPTY": "from settings"})["env"]["EMPTY"] == "from settings"


def test_env_file_is_found_beside_the_compose_file(tmp_path: Path) -> None:
    (tmp_path / "web.env").write_text("A=1\n")
    (tmp_path / "stack.yml").write_text("services:\n  app:\n    image: nginx\n    env_file: web.env\n")
    assert load_stack(tmp_path / "stack.yml", VARIABLES).services[0].args["task_spec"]["container_spec"]["env"] == {"A": "1"}


def test_missing_env_file_is_refused() -> None:
    assert "env_file = 'nowhere.env' is refused: a readable UTF-8 env file, relative to the compose file" in refused_service(app(env_file="nowhere.env"))


def test_env_file_line_with_a_spaced_name_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("OK=1\nNOT OK=2\n")
    assert "line 2 has no variable name, or one with spaces" in refused_service(app(env_file=[str(bad)]))


def test_logging_becomes_the_task_log_driver() -> None:
    args = service_args(app(logging={"driver": "json-file", "options": {"max-size": "10m", "max-file": 3, "unset": None}}))
    assert args["task_spec"]["log_driver"] == {"name": "json-file", "options": {"max-file": "3", "max-size": "10m"}}


def test_logging_without_a_driver_is_refused() -> None:
    assert "logging.driver = null is refused: a log driver name" in refused_service(app(logging={"options": {"max-size": "1m"}}))


@pytest.mark.parametrize("hosts", [["db:10.0.0.5", "v6=[::1]"], {"db": "10.0.0.5", "v6": "::1"}])
def test_extra_hosts_become_the_container_hosts(hosts: Any) -> None:
    assert container(app(extra_hosts=hosts))["hosts"] == [{"host": "db", "ip": "10.0.0.5"}, {"host": "v6", "ip": "::1"}]


def test_extra_host_without_an_ip_is_refused() -> None:
    assert "extra_hosts.db = 'db.example' is refused: an IP address" in refused_service(app(extra_hosts=["db:db.example"]))


def test_dns_search_and_options_become_the_dns_config() -> None:
    assert container(app(dns="10.0.0.2", dns_search=["a.test"], dns_opt=["ndots:2"]))["dns_config"] == {
        "nameservers": ["10.0.0.2"],
        "searches": ["a.test"],
        "options": ["ndots:2"],
    }


def test_dns_search_without_dns_is_refused_as_the_provider_needs_a_name_server() -> None:
    assert "dns_search = 'a.test' is refused: nothing without dns: the Docker provider" in refused_service(app(dns_search="a.test"))


def test_dns_that_is_not_an_address_is_refused() -> None:
    assert "dns[0] = 'resolver' is refused: an IP address of a DNS server" in refused_service(app(dns=["resolver"]))


def test_capabilities_are_normalised_as_docker_stack_deploy_sends_them() -> None:
    spec = container(app(cap_add=["net_admin", "CAP_SYS_TIME", " chown"], cap_drop=["chown", "mknod"]))
    assert spec["cap_adds"] == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_TIME"]
    assert spec["cap_drops"] == ["CAP_MKNOD"], "an added capability is not dropped"
    assert container(app(cap_add=["ALL", "net_admin"]))["cap_adds"] == ["ALL"]


def test_sysctls_list_and_map_forms() -> None:
    assert container(app(sysctls=["net.core.somaxconn=1024"]))["sysctl"] == {"net.core.somaxconn": "1024"}
    assert container(app(sysctls={"net.ipv4.ip_forward": 1}))["sysctl"] == {"net.ipv4.ip_forward": "1"}


def test_stop_signal_isolation_and_credential_spec() -> None:
    spec = container(app(stop_signal="SIGQUIT", isolation="process", credential_spec={"registry": "spec"}))
    assert (spec["stop_signal"], spec["isolation"], spec["privileges"]) == ("SIGQUIT", "process", {"credential_spec": {"registry": "spec"}})


def test_credential_spec_from_a_config_is_refused() -> None:
    assert "credential_spec.config = 'cred' is refused: file or registry" in refused_service(app(credential_spec={"config": "cred"}))


@pytest.mark.parametrize(("key", "value"), [("ulimits", {"nofile": 1024}), ("tty", True), ("stdin_open", True), ("oom_score_adj", 100)])
def test_a_key_the_provider_cannot_express_is_refused_saying_so(key: str, value: Any) -> None:
    message = refused_service(app(**{key: value}), version="3.13")
    assert f"{key} = {json.dumps(value)} is refused: nothing: the Docker provider (pulumi_docker.Service) cannot set it; " in message


def test_healthcheck_start_interval_is_refused_saying_the_provider_cannot_set_it() -> None:
    message = refused_service(app(healthcheck={"test": "true", "start_interval": "1s"}), version="3.13")
    assert "healthcheck.start_interval = '1s' is refused: nothing: the Docker provider (pulumi_docker.Service) cannot set it" in message


# --------------------------------------------------------------------------- YAML as docker reads it


def loaded_env(tmp_path: Path, lines: str) -> dict[str, str]:
    path = tmp_path / "yaml12.yml"
    path.write_text("services:\n  app:\n    image: nginx\n    environment:\n" + lines)
    return load_stack(path, VARIABLES).services[0].args["task_spec"]["container_spec"]["env"]


def test_yaml_1_1_words_and_base_60_stay_strings_as_docker_reads_them(tmp_path: Path) -> None:
    env = loaded_env(tmp_path, "      A: yes\n      B: off\n      C: 1:30\n      D: Y\n      E: ~/x\n")
    assert env == {"A": "yes", "B": "off", "C": "1:30", "D": "Y", "E": "~/x"}


def test_numbers_are_read_as_go_reads_them_and_written_as_go_prints_them(tmp_path: Path) -> None:
    # Facts from `docker stack config` (docker 28.2.2) on the same file.
    env = loaded_env(
        tmp_path,
        "      B: 0o17\n      C: +1\n      D: 1e3\n      E: .5\n      F: 0x1F\n      I: 1.0\n      L: 1000000.0\n      M: 0b101\n"
        "      O: -0\n      P: 0.1\n      Q: 1_0.5\n      R: 0777\n      S: 1_000\n",
    )
    assert env == {"B": "15", "C": "1", "D": "1000", "E": "0.5", "F": "31", "I": "1", "L": "1e+06", "M": "5", "O": "0", "P": "0.1", "Q": "10.5", "R": "511", "S": "1000"}


def test_dates_are_written_as_go_prints_a_time(tmp_path: Path) -> None:
    env = loaded_env(tmp_path, "      A: 2001-01-01\n      J: 2001-01-01T10:00:00Z\n      K: 2001-01-01t10:00:00.500+02:00\n")
    assert env == {"A": "2001-01-01 00:00:00 +0000 UTC", "J": "2001-01-01 10:00:00 +0000 UTC", "K": "2001-01-01 10:00:00.5 +0200 +0200"}


def test_true_is_a_boolean_and_refused_where_docker_refuses_one(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match=r"environment\.T = true is refused"):
        loaded_env(tmp_path, "      T: TRUE\n")


def test_an_unquoted_port_mapping_is_a_string(tmp_path: Path) -> None:
    path = tmp_path / "ports.yml"
    path.write_text("services:\n  app:\n    image: nginx\n    ports:\n      - 888:8080\n")
    assert load_stack(path, VARIABLES).services[0].args["endpoint_spec"]["ports"] == [
        {"target_port": 8080, "published_port": 888, "protocol": "tcp", "publish_mode": "ingress"}
    ]


# --------------------------------------------------------------------------- the file's version, as docker reads it


@pytest.mark.parametrize("version", ["2.4", "1", "3.14", "3.9.1", "4", "3.x", "3.09"])
def test_a_version_docker_has_no_schema_for_is_refused(version: str) -> None:
    message = refused({"app": app()}, version=version)
    assert f"version = {version!r} is refused: a version docker stack deploy reads: 3 or 3.0 to 3.13" in message


@pytest.mark.parametrize(
    ("version", "definition", "top", "key", "first"),
    [
        ("3.0", app(secrets=["s"]), {"secrets": {"s": {"file": "x"}}}, "secrets", "3.1"),
        ("3.0", app(secrets=["s"]), {}, "service app: secrets", "3.1"),
        ("3.1", app(ports=[{"target": 80}]), {}, "service app: ports[0].target", "3.2"),
        ("3.3", app(deploy={"update_config": {"order": "start-first"}}), {}, "service app: deploy.update_config.order", "3.4"),
        ("3.6", app(deploy={"rollback_config": {"parallelism": 1}}), {}, "service app: deploy.rollback_config", "3.7"),
        ("3.5", app(volumes=[{"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1}}]), {}, "service app: volumes[0].tmpfs", "3.6"),
        ("3.7", app(deploy={"placement": {"max_replicas_per_node": 1}}), {}, "service app: deploy.placement.max_replicas_per_node", "3.8"),
        ("3.4", app(), {"networks": {"n": {"name": "x"}}}, "networks.n.name", "3.5"),
    ],
)
def test_a_key_older_than_its_schema_version_is_refused_as_docker_refuses_it(version: str, definition: dict[str, Any], top: dict[str, Any], key: str, first: str) -> None:
    message = refused({"app": definition}, version=version, **top)
    assert f"{FILE}: {key} = " in message
    assert message.endswith(f"is refused: nothing in a file of version {version}: docker's schema has it from version {first} on")


def test_the_same_keys_from_their_version_on_are_accepted() -> None:
    spec = stack({"app": app(ports=[{"target": 80}], deploy={"rollback_config": {"parallelism": 1}, "placement": {"max_replicas_per_node": 1}})}, version="3.8")
    assert spec.services[0].args["rollback_config"]["parallelism"] == 1
