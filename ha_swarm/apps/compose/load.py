"""Reading a compose file: the YAML (a key given twice refused), the top-level keys, the networks and
volumes it declares, and the translation of the whole stack (`translate`, `load_stack`).

`load_stack` reads a compose file (format 3.x, as `docker stack deploy` takes it) and `translate`
turns its parsed content into a `StackSpec`: for each service the keyword arguments of
`pulumi_docker.Service` (plain nested dicts with pulumi_docker 5.x's snake_case keys), and the
networks and volumes the services use, named as `docker stack deploy` names them
(`<stack>_<key>`).  Pure Python: no Pulumi runtime and no resource is declared here.

A compose key that is not supported is refused with a `ComposeError` naming the file, the
service, the key path, the bad value and what is allowed; it is never ignored.  Variables
(`${DOMAIN}`...) come only from the mapping the program passes, never from `os.environ`.

What the caller does with the result:

* declare one overlay network per `StackSpec.networks` entry that is not `external` (this
  includes the implicit `<stack>_default` network of services that name no network) and look up
  the external ones;
* attach each service with `ServiceSpec.networks_advanceds(ids)` (or `service_args(ids)`), which
  gives `[{"id": ..., "aliases": [service key, ...]}]`: by id, never by name (by name the
  provider diffs on every run).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ha_swarm.apps.compose.interpolate import TOP_LEVEL_CASTS, Variables, interpolate
from ha_swarm.apps.compose.model import DEFAULT_NETWORK, STACK_LABEL, FileObject, NetworkRef, StackContext, StackSpec, VolumeRef
from ha_swarm.apps.compose.objects import KINDS, declared_objects
from ha_swarm.apps.compose.service import translate_service
from ha_swarm.apps.compose.values import OBJECT_NAME, SWARM_NAME, external_and_name, only_supported, pairs
from ha_swarm.apps.compose.versions import check_keys, schema_version
from ha_swarm.apps.compose.yaml12 import GO_SCALAR, go_scalar
from ha_swarm.config import checks

TOP_LEVEL_KEYS = ("version", "services", "networks", "volumes", "configs", "secrets")
NETWORK_KEYS = ("driver", "driver_opts", "attachable", "internal", "external", "name", "labels", "ipam")
VOLUME_KEYS = ("driver", "driver_opts", "external", "name", "labels")


def _options(at: checks.At, path: str, value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs(at, path, value, lambda _key, _path: "").items()))


def _stack_labels(at: checks.At, path: str, value: Any, stack: str) -> tuple[tuple[str, str], ...]:
    labels = pairs(at, path, value, lambda _key, _path: "")
    return tuple(sorted({**labels, STACK_LABEL: stack}.items()))


def _network(at: checks.At, path: str, key: str, raw: Any, stack: str) -> NetworkRef:
    obj = checks.mapping(at, path, raw)
    only_supported(at, path, obj, NETWORK_KEYS)
    external, name = external_and_name(at, path, obj)
    if external:
        return NetworkRef(key, name or key, True, None, False, False, (), ())
    return NetworkRef(
        key=key,
        name=name or f"{stack}_{key}",
        external=False,
        driver=checks.text(at, checks.join(path, "driver"), obj["driver"]) if "driver" in obj else "overlay",
        attachable=checks.boolean(at, checks.join(path, "attachable"), obj.get("attachable", False)),
        internal=checks.boolean(at, checks.join(path, "internal"), obj.get("internal", False)),
        driver_opts=_options(at, checks.join(path, "driver_opts"), obj.get("driver_opts")),
        labels=_stack_labels(at, checks.join(path, "labels"), obj.get("labels"), stack),
        **_ipam(at, checks.join(path, "ipam"), obj.get("ipam")),
    )


def _ipam(at: checks.At, path: str, raw: Any) -> dict[str, Any]:
    """`ipam`: a driver and subnets, as docker stack deploy gives them to the new network."""
    obj = checks.mapping(at, path, raw)
    only_supported(at, path, obj, ("driver", "config"))
    subnets = []
    for i, item in enumerate(checks.items(at, checks.join(path, "config"), obj.get("config", []), "a list of {subnet}")):
        pool = checks.mapping(at, f"{path}.config[{i}]", item)
        only_supported(at, f"{path}.config[{i}]", pool, ("subnet",))
        subnet = checks.text(at, f"{path}.config[{i}].subnet", pool.get("subnet"), "a subnet such as 10.10.0.0/24")
        try:
            ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            raise at.refuse(f"{path}.config[{i}].subnet", subnet, "a subnet such as 10.10.0.0/24") from None
        subnets.append(subnet)
    driver = checks.text(at, checks.join(path, "driver"), obj["driver"]) if "driver" in obj else None
    return {"ipam_driver": driver, "ipam_subnets": tuple(subnets)}


def _volume(at: checks.At, path: str, key: str, raw: Any, stack: str) -> VolumeRef:
    obj = checks.mapping(at, path, raw)
    only_supported(at, path, obj, VOLUME_KEYS)
    external, name = external_and_name(at, path, obj)
    if external:
        return VolumeRef(key, name or key, True, None, (), ())
    return VolumeRef(
        key=key,
        name=name or f"{stack}_{key}",
        external=False,
        driver=checks.text(at, checks.join(path, "driver"), obj["driver"]) if "driver" in obj else None,
        driver_opts=_options(at, checks.join(path, "driver_opts"), obj.get("driver_opts")),
        labels=_stack_labels(at, checks.join(path, "labels"), obj.get("labels"), stack),
    )


def _declared(at: checks.At, section: str, raw: Any, stack: str, variables: Mapping[str, str], build: Callable[..., Any]) -> dict[str, Any]:
    declared = {}
    for key, value in checks.mapping(at, section, raw, "a mapping of names to definitions").items():
        path = checks.join(section, key)
        if not OBJECT_NAME.match(key):
            raise at.refuse(path, value, "a name of letters, digits, '_', '.' or '-'")
        declared[key] = build(at, path, key, interpolate(value, variables, at, path, (section, key), TOP_LEVEL_CASTS), stack)
    return declared


def _implicit_default(stack: str) -> NetworkRef:
    """The network docker stack deploy creates for services that name none."""
    return NetworkRef(DEFAULT_NETWORK, f"{stack}_{DEFAULT_NETWORK}", False, "overlay", False, False, (), ((STACK_LABEL, stack),))


def _check_top_level(at: checks.At, doc: Mapping[str, Any]) -> None:
    for key, value in doc.items():
        if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
            raise at.refuse(key, value, f"unknown top-level key; allowed: {', '.join(TOP_LEVEL_KEYS)} and x-* extensions")


def _used(declared: Mapping[str, Any], used: Iterable[str]) -> list[Any]:
    wanted = set(used)
    return [ref for key, ref in declared.items() if key in wanted]


def translate(
    doc: Any,
    variables: Mapping[str, str],
    *,
    file: str,
    stack_name: str,
    hints: Mapping[str, str] | None = None,
    external: Mapping[str, Mapping[str, bytes]] | None = None,
    digest_key: bytes = b"",
) -> StackSpec:
    """Turn a parsed compose document into the stack's service, network, volume, config and secret
    specifications.

    `hints`: for variables that may be missing, how to provide them (said when a file needs one).
    `external`: the content of external configs and secrets, by kind and Docker name (from the settings).
    `digest_key`: the key of the digests in secrets' names."""
    top = checks.in_file(file)
    if not SWARM_NAME.match(stack_name):
        raise top.refuse("stack name", stack_name, "letters and digits with '-' or '_' between them (it prefixes every service name)")
    if not isinstance(doc, Mapping):
        raise top.refuse("document", doc, "a compose file: a mapping with services (and networks, volumes)")
    doc = {str(k): v for k, v in doc.items()}
    _check_top_level(top, doc)
    check_keys(file, doc, schema_version(top, doc))
    variables = Variables({str(k): str(v) for k, v in variables.items()}, hints or {})
    services = checks.mapping(top, "services", doc.get("services"), "a mapping of service names to definitions")
    if not services:
        raise top.refuse("services", doc.get("services"), "at least one service")
    stack = StackContext(
        name=stack_name,
        file=file,
        base_dir=os.path.abspath(os.path.dirname(file) or "."),
        variables=variables,
        networks=_declared(top, "networks", doc.get("networks"), stack_name, variables, _network),
        volumes=_declared(top, "volumes", doc.get("volumes"), stack_name, variables, _volume),
    )
    for kind in KINDS:
        raw = interpolate(doc.get(kind), variables, top, kind, (kind,), TOP_LEVEL_CASTS)
        stack.objects[kind] = declared_objects(stack, top, kind, raw, (external or {}).get(kind, {}), digest_key)
    specs = tuple(translate_service(stack, key, raw) for key, raw in services.items())
    networks = _used(stack.networks, stack.used_networks)
    if DEFAULT_NETWORK in stack.used_networks and DEFAULT_NETWORK not in stack.networks:
        networks.append(_implicit_default(stack_name))
    configs, secrets = (tuple(o for o in stack.objects[kind].values() if isinstance(o, FileObject)) for kind in ("configs", "secrets"))
    volumes = tuple(_used(stack.volumes, stack.used_volumes))
    return StackSpec(stack_name, file, specs, tuple(networks), volumes, _warnings(stack), configs, secrets)


def _warnings(stack: StackContext) -> tuple[str, ...]:
    """One line per ignored key, as `docker stack deploy` warns once per key ("Ignoring unsupported options")."""
    lines = []
    for key, (why, services) in sorted(stack.ignored.items()):
        lines.append(f"{stack.file}: {key} is ignored, as docker stack deploy ignores it (service {', '.join(services)}): {why}")
    for key, (why, services) in sorted(stack.notes.items()):
        lines.append(f"{stack.file}: {key} (service {', '.join(services)}): {why}")
    return tuple(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML as docker's loader reads it (go-yaml v3: YAML 1.2 scalars), refusing a key given twice in
    one mapping (PyYAML keeps the last one silently).

    Plain scalars: true/false (True, TRUE...) are booleans and null/~/empty are null; yes, no, on, off,
    y, n stay strings; numbers as Go reads them (1_000, 0x1F, 0o17, 0777 octal, 0b101, 1e3, .5); no
    base-60 numbers (1:30 and 8080:80 stay strings); a date or time is the text Go prints for it."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012  # none of YAML 1.1's: the ones below only


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges are fine
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_UniqueKeyLoader.add_implicit_resolver(GO_SCALAR, re.compile(r"^[-+.0-9]"), list("-+.0123456789"))


def _construct_go_scalar(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    return go_scalar(loader.construct_scalar(node))


_UniqueKeyLoader.add_constructor(GO_SCALAR, _construct_go_scalar)


def load_stack(
    path: Path,
    variables: Mapping[str, str],
    *,
    stack_name: str | None = None,
    hints: Mapping[str, str] | None = None,
    external: Mapping[str, Mapping[str, bytes]] | None = None,
    digest_key: bytes = b"",
) -> StackSpec:
    """Read a compose file; the stack is named `stack_name` or the file's stem (stacks/demo.yml -> demo)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise checks.in_file(file).refuse("file", file, f"a readable compose file ({error.strerror or error})") from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise checks.in_file(file).refuse("file", file, "valid YAML: " + " ".join(str(error).split())) from None
    name = stack_name if stack_name is not None else Path(path).stem
    return translate(doc, variables, file=file, stack_name=name, hints=hints, external=external, digest_key=digest_key)
