"""Compose files turned into `pulumi_docker.Service` arguments, the way `docker stack deploy` reads them.

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

import os
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ha_swarm.config import checks
from ha_swarm.config.checks import Refusal

STACK_LABEL = "com.docker.stack.namespace"  # what `docker stack ls/ps/services` group by
DEFAULT_NETWORK = "default"

TOP_LEVEL_KEYS = ("version", "services", "networks", "volumes")
NOT_YET_TOP_LEVEL = ("configs", "secrets")
SERVICE_KEYS = (
    "image",
    "command",
    "entrypoint",
    "environment",
    "labels",
    "ports",
    "networks",
    "volumes",
    "healthcheck",
    "hostname",
    "user",
    "working_dir",
    "stop_grace_period",
    "read_only",
    "init",
    "deploy",
)
DEPLOY_KEYS = ("mode", "replicas", "labels", "placement", "update_config", "rollback_config", "restart_policy", "resources", "endpoint_mode")
PLACEMENT_KEYS = ("constraints", "preferences", "max_replicas_per_node")
UPDATE_KEYS = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")
RESTART_KEYS = ("condition", "delay", "max_attempts", "window")
RESOURCES_KEYS = ("limits", "reservations")
RESOURCE_KEYS = ("cpus", "memory")
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "start_period", "retries", "disable")
PORT_KEYS = ("target", "published", "protocol", "mode")
MOUNT_KEYS = ("type", "source", "target", "read_only", "bind", "volume", "tmpfs")
NETWORK_KEYS = ("driver", "driver_opts", "attachable", "internal", "external", "name", "labels")
VOLUME_KEYS = ("driver", "driver_opts", "external", "name", "labels")

MODES = ("replicated", "global")
ENDPOINT_MODES = ("vip", "dnsrr")
PROTOCOLS = ("tcp", "udp", "sctp")
PUBLISH_MODES = ("ingress", "host")
MOUNT_TYPES = ("bind", "volume", "tmpfs")
PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
RESTART_CONDITIONS = ("none", "on-failure", "any")
# What swarm uses for a restart policy's delay and window that a stack file leaves out.
RESTART_DEFAULTS = {"delay": "5s", "window": "0s"}
UPDATE_FAILURE_ACTIONS = ("continue", "pause", "rollback")
ROLLBACK_FAILURE_ACTIONS = ("continue", "pause")
UPDATE_ORDERS = ("stop-first", "start-first")
HEALTHCHECK_KINDS = ("NONE", "CMD", "CMD-SHELL")

# Swarm service names (swarmkit): letters and digits, '-' or '_' between them, at most 63 characters.
_SWARM_NAME = re.compile(r"^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$")
_OBJECT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s?([kmgtp]?)(?:i?b)?$", re.I)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_CONSTRAINT = re.compile(r"^\s*\S+\s*(==|!=)\s*\S.*$")

DURATION_ALLOWED = "a duration such as 10s, 1m30s, 500ms or 1h (units ns, us, ms, s, m, h)"
SIZE_ALLOWED = "a size such as 512M, 1G, 100k or a whole number of bytes"

# A refused compose file is the one refusal type of the program (ha_swarm/config/checks.py).
ComposeError = Refusal


def _only(at: checks.At, path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse keys that are not supported (`x-*` extension keys are allowed and ignored)."""
    checks.only(at, path, obj, allowed, "unknown or unsupported key; supported keys", extensions=True)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class NetworkRef:
    """A network the stack's services use.  `name` is the real Docker name."""

    key: str
    name: str
    external: bool
    driver: str | None  # None for an external network (it exists already)
    attachable: bool
    internal: bool
    driver_opts: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class VolumeRef:
    """A named volume the stack's services mount.  Swarm creates it on each node at task start."""

    key: str
    name: str
    external: bool
    driver: str | None
    driver_opts: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ServiceSpec:
    """One compose service, ready for `pulumi_docker.Service(name, **spec.service_args(ids))`."""

    key: str
    name: str
    networks: tuple[str, ...]  # compose network keys, in order; see StackSpec.networks
    network_aliases: tuple[tuple[str, tuple[str, ...]], ...]  # compose `aliases` per network key
    frozen_args: Mapping[str, Any] = field(repr=False)  # read-only (mapping proxies and tuples)

    @property
    def args(self) -> dict[str, Any]:
        """The `pulumi_docker.Service` keyword arguments, without `task_spec.networks_advanceds`.

        A fresh copy of plain dicts and lists on each access: changing it changes nothing here.
        """
        args: dict[str, Any] = _thaw(self.frozen_args)
        return args

    def aliases(self, network: str) -> tuple[str, ...]:
        """The DNS aliases on a network: the service key (as docker stack deploy sets it), then compose `aliases`."""
        extra = dict(self.network_aliases).get(network, ())
        return (self.key, *(a for a in extra if a != self.key))

    def networks_advanceds(self, network_ids: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`task_spec.networks_advanceds`, given the network ids (resource `.id` outputs) by compose key."""
        missing = [k for k in self.networks if k not in network_ids]
        if missing:
            raise KeyError(f"service {self.name} needs the id of network(s) {', '.join(missing)}")
        return [{"id": network_ids[k], "aliases": list(self.aliases(k))} for k in self.networks]

    def service_args(self, network_ids: Mapping[str, Any]) -> dict[str, Any]:
        """`args` with `task_spec.networks_advanceds` filled in from the network ids."""
        args = self.args
        args["task_spec"]["networks_advanceds"] = self.networks_advanceds(network_ids)
        return args


@dataclass(frozen=True)
class StackSpec:
    name: str
    file: str
    services: tuple[ServiceSpec, ...]
    networks: tuple[NetworkRef, ...]  # those the services use, including an implicit `default`
    volumes: tuple[VolumeRef, ...]  # those the services mount

    def service(self, key: str) -> ServiceSpec:
        return next(s for s in self.services if s.key == key)

    def network(self, key: str) -> NetworkRef:
        return next(n for n in self.networks if n.key == key)


@dataclass
class _Stack:
    """The stack being translated: what services may refer to, and what they did refer to."""

    name: str
    file: str
    base_dir: str
    variables: Mapping[str, str]
    networks: Mapping[str, NetworkRef]
    volumes: Mapping[str, VolumeRef]
    used_networks: set[str] = field(default_factory=set)
    used_volumes: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- value helpers


def _without_extensions(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("x-")}


def _user(at: checks.At, path: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return checks.text(at, path, value, "a user name or id, optionally with a group: app, 1000 or 1000:1000")


def _strings(at: checks.At, path: str, value: Any, what: str = "a list of strings") -> list[str]:
    items = checks.items(at, path, value, what)
    return [checks.scalar_text(at, f"{path}[{i}]", item) for i, item in enumerate(items)]


def _pairs(at: checks.At, path: str, value: Any, bare: Callable[[str, str], str]) -> dict[str, str]:
    """`KEY=VALUE` lists and `KEY: VALUE` maps (labels, environment).  `bare(key, path)` gives a missing value."""
    if value is None:
        return {}
    result: dict[str, str] = {}
    if isinstance(value, list):
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            text = checks.text(at, item_path, item, "KEY=VALUE (a string)")
            key, sep, rest = text.partition("=")
            result[_pair_key(at, item_path, key, item)] = rest if sep else bare(key, item_path)
        return result
    for key, item in checks.mapping(at, path, value, "a list of KEY=VALUE or a mapping of KEY: VALUE").items():
        item_path = checks.join(path, key)
        result[_pair_key(at, item_path, key, item)] = bare(key, item_path) if item is None else checks.scalar_text(at, item_path, item)
    return result


def _pair_key(at: checks.At, path: str, key: str, value: Any) -> str:
    if not key.strip() or key != key.strip():
        raise at.refuse(path, value, "a non-empty key without surrounding spaces")
    return key


def _label_list(pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"label": k, "value": v} for k, v in sorted(pairs.items())]


# --------------------------------------------------------------------------- durations and sizes


def _duration(at: checks.At, path: str, value: Any) -> str:
    """A compose duration as the provider writes it back (Go's Duration.String, trailing 0s/0m dropped)."""
    nanoseconds = _parse_duration(value) if isinstance(value, str) else (0 if value == 0 and not isinstance(value, bool) else None)
    if nanoseconds is None:
        raise at.refuse(path, value, DURATION_ALLOWED)
    return _go_duration(nanoseconds)


def _parse_duration(text: str) -> int | None:
    text = text.strip()
    if text == "0":
        return 0
    total = Decimal(0)
    position = 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if not match:
            return None
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return int(total) if text else None


def _go_duration(nanoseconds: int) -> str:
    if nanoseconds == 0:
        return "0s"
    if nanoseconds < 10**3:
        return f"{nanoseconds}ns"
    if nanoseconds < 10**6:
        return _decimal_text(nanoseconds, 10**3) + "µs"
    if nanoseconds < 10**9:
        return _decimal_text(nanoseconds, 10**6) + "ms"
    minutes, rest = divmod(nanoseconds, 60 * 10**9)
    hours, minutes = divmod(minutes, 60)
    text = _decimal_text(rest, 10**9) + "s"
    if hours:
        text = f"{hours}h{minutes}m{text}"
    elif minutes:
        text = f"{minutes}m{text}"
    # The provider's shortDur: 1m0s -> 1m, 1h0m0s -> 1h.
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def _decimal_text(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = str(fraction).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def _size(at: checks.At, path: str, value: Any) -> int:
    """Bytes from 512M / 1G / 100k / 1.5g / 2048 (powers of 1024, as Docker reads them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value.strip()) if isinstance(value, str) else None
    size = int(Decimal(match.group(1)) * 1024 ** _SIZE_POWERS[match.group(2).lower()]) if match else 0
    if size <= 0:
        raise at.refuse(path, value, SIZE_ALLOWED)
    return size


def _nano_cpus(at: checks.At, path: str, value: Any) -> int:
    try:
        cpus = Decimal(str(value).strip()) if isinstance(value, str | int | float) and not isinstance(value, bool) else Decimal(0)
    except InvalidOperation:
        cpus = Decimal(0)
    if not cpus.is_finite() or int(cpus * 10**9) <= 0:
        raise at.refuse(path, value, "a positive number of CPUs such as 0.5 or 2")
    return int(cpus * 10**9)


# --------------------------------------------------------------------------- interpolation


def _interpolate(value: Any, variables: Mapping[str, str], at: checks.At, path: str) -> Any:
    """Substitute ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$ in every string value (not in keys)."""
    if isinstance(value, str):
        return _substitute(value, variables, at, path, value)
    if isinstance(value, Mapping):
        return {k: _interpolate(v, variables, at, checks.join(path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables, at, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _substitute(text: str, variables: Mapping[str, str], at: checks.At, path: str, whole: str) -> str:
    out: list[str] = []
    position = 0
    while (dollar := text.find("$", position)) >= 0:
        out.append(text[position:dollar])
        following = text[dollar + 1 : dollar + 2]
        if following == "$":
            out.append("$")
            position = dollar + 2
        elif following == "{":
            end = _closing_brace(text, dollar + 2)
            if end < 0:
                raise at.refuse(path, whole, "a closed ${...} reference (write $$ for a literal $)")
            out.append(_expand(text[dollar + 2 : end], variables, at, path, whole))
            position = end + 1
        else:
            match = _VARIABLE.match(text, dollar + 1)
            if not match:
                raise at.refuse(path, whole, "'$' followed by a variable name or {...} (write $$ for a literal $)")
            out.append(_expand(match.group(), variables, at, path, whole))
            position = match.end()
    out.append(text[position:])
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 0
    position = start
    while position < len(text):
        if text.startswith("$$", position):
            position += 2
            continue
        if text.startswith("${", position):
            depth += 1
            position += 2
            continue
        if text[position] == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    return -1


class _Variables(dict[str, str]):
    """The variables of a stack, and for some that are not provided, how to provide them."""

    def __init__(self, values: Mapping[str, str], hints: Mapping[str, str]) -> None:
        super().__init__(values)
        self.hints = dict(hints)


def _expand(inner: str, variables: Mapping[str, str], at: checks.At, path: str, whole: str) -> str:
    match = _BRACED.match(inner)
    if not match:
        raise at.refuse(path, whole, f"${{NAME}}, ${{NAME:-default}} or ${{NAME-default}} with NAME of letters, digits and '_' (not ${{{inner}}})")
    name, op, arg = match.group("name"), match.group("op"), match.group("arg")
    value = variables.get(name)
    unset = value is None or (op is not None and op.startswith(":") and value == "")
    if op is None or op.endswith("?"):
        if value is None or (op is not None and unset):
            provided = ", ".join(sorted(variables)) or "none"
            hint = variables.hints.get(name) if isinstance(variables, _Variables) else None
            reason = "it is not provided and has no default" if not hint else f"it is not provided ({hint}) and has no default"
            reason = arg if op is not None and arg else reason
            raise at.refuse(path, whole, f"variable {name}: {reason} (provided: {provided}; give a default with ${{{name}:-value}})")
        return value
    if op.endswith("-"):
        return _substitute(arg, variables, at, path, whole) if unset else (value or "")
    return "" if unset else _substitute(arg, variables, at, path, whole)  # `+`: the alternative when set


# --------------------------------------------------------------------------- top-level networks and volumes


def _external(at: checks.At, path: str, obj: Mapping[str, Any]) -> tuple[bool, str | None]:
    """`external: true` (with an optional `name:`) or the old `external: {name: x}` form."""
    raw = obj.get("external", False)
    name = checks.text(at, checks.join(path, "name"), obj["name"]) if "name" in obj else None
    if isinstance(raw, Mapping):
        inner = checks.mapping(at, checks.join(path, "external"), raw)
        _only(at, checks.join(path, "external"), inner, ("name",))
        name = checks.text(at, checks.join(path, "external.name"), inner["name"]) if "name" in inner else name
        external = True
    else:
        external = checks.boolean(at, checks.join(path, "external"), raw)
    if external:
        for key in obj:
            if key not in ("external", "name") and not key.startswith("x-"):
                raise at.refuse(checks.join(path, key), obj[key], "nothing else on an external object: only external and name (it exists already)")
    return external, name


def _options(at: checks.At, path: str, value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(_pairs(at, path, value, lambda _key, _path: "").items()))


def _stack_labels(at: checks.At, path: str, value: Any, stack: str) -> tuple[tuple[str, str], ...]:
    labels = _pairs(at, path, value, lambda _key, _path: "")
    return tuple(sorted({**labels, STACK_LABEL: stack}.items()))


def _network(at: checks.At, path: str, key: str, raw: Any, stack: str) -> NetworkRef:
    obj = checks.mapping(at, path, raw)
    _only(at, path, obj, NETWORK_KEYS)
    external, name = _external(at, path, obj)
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
    )


def _volume(at: checks.At, path: str, key: str, raw: Any, stack: str) -> VolumeRef:
    obj = checks.mapping(at, path, raw)
    _only(at, path, obj, VOLUME_KEYS)
    external, name = _external(at, path, obj)
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
        if not _OBJECT_NAME.match(key):
            raise at.refuse(path, value, "a name of letters, digits, '_', '.' or '-'")
        declared[key] = build(at, path, key, _interpolate(value, variables, at, path), stack)
    return declared


def _implicit_default(stack: str) -> NetworkRef:
    """The network docker stack deploy creates for services that name none."""
    return NetworkRef(DEFAULT_NETWORK, f"{stack}_{DEFAULT_NETWORK}", False, "overlay", False, False, (), ((STACK_LABEL, stack),))


# --------------------------------------------------------------------------- service: networks


def _service_networks(stack: _Stack, at: checks.At, raw: Any) -> tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...]]:
    if raw is None or raw == [] or raw == {}:
        entries: dict[str, Any] = {DEFAULT_NETWORK: None}  # docker stack deploy attaches such services to <stack>_default
    elif isinstance(raw, list):
        entries = {}
        for i, item in enumerate(raw):
            key = checks.text(at, f"networks[{i}]", item, "a network name declared under the top-level networks:")
            if key in entries:
                raise at.refuse(f"networks[{i}]", item, "each network once")
            entries[key] = None
    else:
        entries = dict(checks.mapping(at, "networks", raw, "a list of network names or a mapping of network name to {aliases}"))
    aliases = []
    for key, options in entries.items():
        path = checks.join("networks", key)
        if key not in stack.networks and key != DEFAULT_NETWORK:
            declared = ", ".join(stack.networks) or "none"
            raise at.refuse(path, key, f"references undeclared network {key!r}: declare it under the top-level networks: (declared: {declared})")
        obj = checks.mapping(at, path, options, "null or a mapping with aliases")
        _only(at, path, obj, ("aliases",))
        if "aliases" in obj:
            aliases.append((key, tuple(_strings(at, checks.join(path, "aliases"), obj["aliases"], "a list of DNS names"))))
        stack.used_networks.add(key)
    return tuple(entries), tuple(aliases)


# --------------------------------------------------------------------------- service: ports


def _port_number(at: checks.At, path: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        hint = " (quote HOST:CONTAINER mappings: YAML reads an unquoted 8080:53 as a base-60 number)" if isinstance(value, int) and value > 65535 else ""
        raise at.refuse(path, value, f"a port number from 1 to 65535{hint}")
    return value


def _port(at: checks.At, path: str, item: Any) -> dict[str, Any]:
    if isinstance(item, Mapping):
        return _long_port(at, path, checks.mapping(at, path, item))
    if isinstance(item, int) and not isinstance(item, bool):
        return {"target_port": _port_number(at, path, item), "protocol": "tcp", "publish_mode": "ingress"}
    text = checks.text(at, path, item, 'a port: "80", "8080:80", "53:53/udp" or the long syntax {target, published, protocol, mode}')
    ports, _, protocol = text.partition("/")
    if "-" in ports:
        raise at.refuse(path, item, 'a single port such as "8080:80" (port ranges are not supported: list each port)')
    parts = ports.split(":")
    if len(parts) > 2:
        raise at.refuse(path, item, '"PUBLISHED:TARGET[/PROTOCOL]" without a host IP (swarm publishes on every address of every node)')
    port = {"target_port": _port_number(at, path, parts[-1]), "protocol": checks.choice(at, path, protocol or "tcp", PROTOCOLS), "publish_mode": "ingress"}
    if len(parts) == 2:
        port["published_port"] = _port_number(at, path, parts[0])
    return port


def _long_port(at: checks.At, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    _only(at, path, obj, PORT_KEYS)
    if "target" not in obj:
        raise at.refuse(checks.join(path, "target"), None, "the container port (target is required in the long syntax)")
    port = {
        "target_port": _port_number(at, checks.join(path, "target"), obj["target"]),
        "protocol": checks.choice(at, checks.join(path, "protocol"), obj.get("protocol", "tcp"), PROTOCOLS),
        "publish_mode": checks.choice(at, checks.join(path, "mode"), obj.get("mode", "ingress"), PUBLISH_MODES),
    }
    if obj.get("published") is not None:
        port["published_port"] = _port_number(at, checks.join(path, "published"), obj["published"])
    return port


def _ports(at: checks.At, raw: Any) -> list[dict[str, Any]]:
    return [_port(at, f"ports[{i}]", item) for i, item in enumerate(checks.items(at, "ports", raw))]


# --------------------------------------------------------------------------- service: mounts


@dataclass(frozen=True)
class _MountRequest:
    kind: str
    source: str | None
    target: str
    read_only: bool = False
    no_copy: bool = False
    propagation: str | None = None
    tmpfs_size: int | None = None


def _mount(stack: _Stack, at: checks.At, path: str, item: Any) -> dict[str, Any]:
    request = _long_mount(at, path, checks.mapping(at, path, item)) if isinstance(item, Mapping) else _short_mount(at, path, item)
    mount: dict[str, Any] = {"type": request.kind, "target": request.target, "read_only": request.read_only}
    if request.kind == "bind":
        mount["source"] = _bind_source(stack, at, path, request.source)
        if request.propagation:
            mount["bind_options"] = {"propagation": request.propagation}
    elif request.kind == "volume":
        mount.update(_volume_mount(stack, at, path, request))
    elif request.tmpfs_size is not None:
        mount["tmpfs_options"] = {"size_bytes": request.tmpfs_size}
    return mount


def _short_mount(at: checks.At, path: str, item: Any) -> _MountRequest:
    allowed = "SOURCE:TARGET[:OPTIONS] or TARGET, or the long syntax {type, source, target, read_only}"
    parts = checks.text(at, path, item, allowed).split(":")
    if len(parts) > 3:
        raise at.refuse(path, item, allowed)
    source, target = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    kind = "bind" if source is not None and source.startswith(("/", ".")) else "volume"
    read_only, no_copy, propagation = False, False, None
    for option in parts[2].split(",") if len(parts) == 3 else ():
        if option in ("ro", "rw"):
            read_only = option == "ro"
        elif option == "nocopy" and kind == "volume":
            no_copy = True
        elif option in PROPAGATIONS and kind == "bind":
            propagation = option
        else:
            raise at.refuse(path, item, f"options ro or rw, plus nocopy for a volume or one of {', '.join(PROPAGATIONS)} for a bind mount")
    return _MountRequest(kind, source, _mount_target(at, path, item, target), read_only, no_copy, propagation)


def _long_mount(at: checks.At, path: str, obj: Mapping[str, Any]) -> _MountRequest:
    _only(at, path, obj, MOUNT_KEYS)
    kind = checks.choice(at, checks.join(path, "type"), obj.get("type"), MOUNT_TYPES)
    for sub, owner in (("bind", "bind"), ("volume", "volume"), ("tmpfs", "tmpfs")):
        if sub in obj and kind != owner:
            raise at.refuse(checks.join(path, sub), obj[sub], f"only with type: {owner}")
    bind = checks.mapping(at, checks.join(path, "bind"), obj.get("bind"))
    volume = checks.mapping(at, checks.join(path, "volume"), obj.get("volume"))
    tmpfs = checks.mapping(at, checks.join(path, "tmpfs"), obj.get("tmpfs"))
    _only(at, checks.join(path, "bind"), bind, ("propagation",))
    _only(at, checks.join(path, "volume"), volume, ("nocopy",))
    _only(at, checks.join(path, "tmpfs"), tmpfs, ("size",))
    source = checks.text(at, checks.join(path, "source"), obj["source"]) if obj.get("source") is not None else None
    if kind == "bind" and source is None:
        raise at.refuse(checks.join(path, "source"), None, "a host path (a bind mount needs a source)")
    if kind == "tmpfs" and source is not None:
        raise at.refuse(checks.join(path, "source"), source, "nothing: a tmpfs mount has no source")
    return _MountRequest(
        kind=kind,
        source=source,
        target=_mount_target(at, checks.join(path, "target"), obj.get("target"), obj.get("target")),
        read_only=checks.boolean(at, checks.join(path, "read_only"), obj.get("read_only", False)),
        no_copy=checks.boolean(at, checks.join(path, "volume.nocopy"), volume.get("nocopy", False)),
        propagation=checks.choice(at, checks.join(path, "bind.propagation"), bind["propagation"], PROPAGATIONS) if "propagation" in bind else None,
        tmpfs_size=_size(at, checks.join(path, "tmpfs.size"), tmpfs["size"]) if "size" in tmpfs else None,
    )


def _mount_target(at: checks.At, path: str, item: Any, target: Any) -> str:
    if not isinstance(target, str) or not target.startswith("/"):
        raise at.refuse(path, item, "an absolute path inside the container as the mount target")
    return target


def _bind_source(stack: _Stack, at: checks.At, path: str, source: str | None) -> str:
    assert source is not None
    if source.startswith("/"):
        return source
    if source.startswith("."):  # relative to the compose file, as docker stack deploy resolves it
        return os.path.normpath(os.path.join(stack.base_dir, source))
    raise at.refuse(path, source, "an absolute host path, or one starting with . (relative to the compose file)")


def _volume_mount(stack: _Stack, at: checks.At, path: str, request: _MountRequest) -> dict[str, Any]:
    if request.source is None:  # an anonymous volume
        return {"volume_options": {"no_copy": True}} if request.no_copy else {}
    volume = stack.volumes.get(request.source)
    if volume is None:
        declared = ", ".join(stack.volumes) or "none"
        why = "a named volume declared under the top-level volumes:" if _OBJECT_NAME.match(request.source) else "a host path starting with / or ., or a volume name"
        raise at.refuse(path, request.source, f"{why} (declared: {declared})")
    stack.used_volumes.add(volume.key)
    options: dict[str, Any] = {"no_copy": request.no_copy}
    if not volume.external:
        options["labels"] = _label_list(dict(volume.labels))
        if volume.driver:
            options["driver_name"] = volume.driver
        if volume.driver_opts:
            options["driver_options"] = dict(volume.driver_opts)
    return {"source": volume.name, "volume_options": options}


# --------------------------------------------------------------------------- service: healthcheck and command


def _healthcheck(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "healthcheck", raw)
    _only(at, "healthcheck", obj, HEALTHCHECK_KEYS)
    if checks.boolean(at, "healthcheck.disable", obj.get("disable", False)):
        if "test" in obj:
            raise at.refuse("healthcheck.test", obj["test"], "nothing when disable is true")
        return {"tests": ["NONE"]}
    check: dict[str, Any] = {}
    if "test" in obj:
        check["tests"] = _health_test(at, obj["test"])
    for key in ("interval", "timeout", "start_period"):
        if key in obj:
            check[key] = _duration(at, f"healthcheck.{key}", obj[key])
    if "retries" in obj:
        check["retries"] = checks.whole(at, "healthcheck.retries", obj["retries"], 0)
    return check


def _health_test(at: checks.At, value: Any) -> list[str]:
    if isinstance(value, str):
        return ["CMD-SHELL", checks.text(at, "healthcheck.test", value, "a shell command or a list starting with CMD, CMD-SHELL or NONE")]
    test = _strings(at, "healthcheck.test", value, "a shell command or a list starting with CMD, CMD-SHELL or NONE")
    if not test or test[0] not in HEALTHCHECK_KINDS or (test[0] != "NONE" and len(test) < 2):
        raise at.refuse("healthcheck.test", value, "a list starting with CMD or CMD-SHELL followed by the command, or [NONE]")
    return test


def _command(at: checks.At, path: str, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as error:
            raise at.refuse(path, value, f"a command with balanced quotes ({error})") from None
    return _strings(at, path, value, "a command string or a list of strings")


def _environment(stack: _Stack, at: checks.At, raw: Any) -> dict[str, str]:
    def from_variables(key: str, path: str) -> str:
        # A bare KEY takes its value from the environment in compose; here, from the program's variables.
        if key in stack.variables:
            return stack.variables[key]
        provided = ", ".join(sorted(stack.variables)) or "none"
        raise at.refuse(path, key, f"KEY=VALUE; a bare KEY is only allowed for a variable the program provides ({provided})")

    return _pairs(at, "environment", raw, from_variables)


# --------------------------------------------------------------------------- deploy


def _mode(at: checks.At, obj: Mapping[str, Any]) -> dict[str, Any]:
    mode = checks.choice(at, "deploy.mode", obj.get("mode", "replicated"), MODES)
    if mode == "global":
        if "replicas" in obj:
            raise at.refuse("deploy.replicas", obj["replicas"], "nothing with mode: global (one task per node); remove replicas or use mode: replicated")
        return {"global_": True}
    return {"replicated": {"replicas": checks.whole(at, "deploy.replicas", obj.get("replicas", 1), 0)}}


def _placement(at: checks.At, raw: Any, global_mode: bool) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.placement", raw)
    _only(at, "deploy.placement", obj, PLACEMENT_KEYS)
    placement: dict[str, Any] = {}
    if "constraints" in obj:
        constraints = _strings(at, "deploy.placement.constraints", obj["constraints"])
        for i, constraint in enumerate(constraints):
            if not _CONSTRAINT.match(constraint):
                raise at.refuse(f"deploy.placement.constraints[{i}]", constraint, "a constraint such as node.role == manager (with == or !=)")
        placement["constraints"] = [c.strip() for c in constraints]
    if "preferences" in obj:
        placement["prefs"] = [
            _preference(at, f"deploy.placement.preferences[{i}]", p) for i, p in enumerate(checks.items(at, "deploy.placement.preferences", obj["preferences"]))
        ]
    if "max_replicas_per_node" in obj:
        if global_mode:
            raise at.refuse("deploy.placement.max_replicas_per_node", obj["max_replicas_per_node"], "nothing with mode: global (it limits replicated services)")
        placement["max_replicas"] = checks.whole(at, "deploy.placement.max_replicas_per_node", obj["max_replicas_per_node"], 0)
    return placement


def _preference(at: checks.At, path: str, raw: Any) -> str:
    obj = checks.mapping(at, path, raw, "a mapping {spread: node.labels.NAME}")
    _only(at, path, obj, ("spread",))
    # The provider passes each string unchanged as the swarm SpreadDescriptor, so it is the bare
    # descriptor (node.labels.zone), as `docker stack deploy` sends it; not "spread=...".
    return checks.text(at, checks.join(path, "spread"), obj.get("spread"), "a node or engine label such as node.labels.zone")


def _update_config(at: checks.At, path: str, raw: Any, failure_actions: Sequence[str]) -> dict[str, Any]:
    """deploy.update_config and deploy.rollback_config: the same keys, different failure actions."""
    obj = checks.mapping(at, path, raw)
    _only(at, path, obj, UPDATE_KEYS)
    config: dict[str, Any] = {}
    if "parallelism" in obj:
        config["parallelism"] = checks.whole(at, checks.join(path, "parallelism"), obj["parallelism"], 0)
    for key in ("delay", "monitor"):
        if key in obj:
            config[key] = _duration(at, checks.join(path, key), obj[key])
    if "failure_action" in obj:
        config["failure_action"] = checks.choice(at, checks.join(path, "failure_action"), obj["failure_action"], failure_actions)
    if "max_failure_ratio" in obj:
        config["max_failure_ratio"] = _ratio(at, checks.join(path, "max_failure_ratio"), obj["max_failure_ratio"])
    if "order" in obj:
        config["order"] = checks.choice(at, checks.join(path, "order"), obj["order"], UPDATE_ORDERS)
    return config


def _ratio(at: checks.At, path: str, value: Any) -> str:
    """The provider takes the ratio as a string and reads it back with one decimal: keep one."""
    try:
        ratio = Decimal(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else Decimal(-1)
    except InvalidOperation:
        ratio = Decimal(-1)
    if not ratio.is_finite() or not 0 <= ratio <= 1 or ratio != ratio.quantize(Decimal("0.1")):
        raise at.refuse(path, value, "a number from 0 to 1 with at most one decimal, such as 0 or 0.2")
    return str(ratio.quantize(Decimal("0.1")))


def _restart_policy(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.restart_policy", raw)
    _only(at, "deploy.restart_policy", obj, RESTART_KEYS)
    policy: dict[str, Any] = {}
    if "condition" in obj:
        policy["condition"] = checks.choice(at, "deploy.restart_policy.condition", obj["condition"], RESTART_CONDITIONS)
    # delay and window are always given: the Docker provider sends an unset one as 0s and reads it
    # back as "0s", so leaving one out diffs on every preview (pulumi/pulumi-docker#1285). When the
    # file sets none, Docker's own defaults: a 5s delay, an unbounded (0s) window.
    for key, default in RESTART_DEFAULTS.items():
        policy[key] = _duration(at, f"deploy.restart_policy.{key}", obj[key]) if key in obj else default
    if "max_attempts" in obj:
        policy["max_attempts"] = checks.whole(at, "deploy.restart_policy.max_attempts", obj["max_attempts"], 0)
    return policy


def _resources(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.resources", raw)
    _only(at, "deploy.resources", obj, RESOURCES_KEYS)
    resources: dict[str, Any] = {}
    for key, out in (("limits", "limits"), ("reservations", "reservation")):
        if key in obj:
            path = f"deploy.resources.{key}"
            amounts = checks.mapping(at, path, obj[key])
            _only(at, path, amounts, RESOURCE_KEYS)
            resources[out] = {}
            if "cpus" in amounts:
                resources[out]["nano_cpus"] = _nano_cpus(at, f"{path}.cpus", amounts["cpus"])
            if "memory" in amounts:
                resources[out]["memory_bytes"] = _size(at, f"{path}.memory", amounts["memory"])
    return resources


@dataclass(frozen=True)
class _Deploy:
    service_args: dict[str, Any]  # labels, mode, update_config, rollback_config
    task_args: dict[str, Any]  # placement, restart_policy, resources
    endpoint_mode: str | None


def _deploy(stack: _Stack, at: checks.At, raw: Any) -> _Deploy:
    obj = checks.mapping(at, "deploy", raw)
    _only(at, "deploy", obj, DEPLOY_KEYS)
    mode = _mode(at, obj)
    # deploy.labels are the SERVICE labels: what Traefik's swarm provider reads.
    service_args: dict[str, Any] = {"labels": _label_list({**_pairs(at, "deploy.labels", obj.get("labels"), lambda _k, _p: ""), STACK_LABEL: stack.name}), "mode": mode}
    for key, actions in (("update_config", UPDATE_FAILURE_ACTIONS), ("rollback_config", ROLLBACK_FAILURE_ACTIONS)):
        if key in obj:
            service_args[key] = _update_config(at, f"deploy.{key}", obj[key], actions)
    task_args: dict[str, Any] = {}
    if "placement" in obj:
        task_args["placement"] = _placement(at, obj["placement"], "global_" in mode)
    if "restart_policy" in obj:
        task_args["restart_policy"] = _restart_policy(at, obj["restart_policy"])
    if "resources" in obj:
        task_args["resources"] = _resources(at, obj["resources"])
    endpoint_mode = checks.choice(at, "deploy.endpoint_mode", obj["endpoint_mode"], ENDPOINT_MODES) if "endpoint_mode" in obj else None
    return _Deploy(service_args, task_args, endpoint_mode)


def _endpoint_spec(at: checks.At, ports: list[dict[str, Any]], endpoint_mode: str | None) -> dict[str, Any] | None:
    if endpoint_mode == "dnsrr" and any(p["publish_mode"] == "ingress" for p in ports):
        raise at.refuse(
            "deploy.endpoint_mode", "dnsrr", "vip when ports are published in ingress mode (Docker refuses dnsrr with ingress ports; publish them with mode: host)"
        )
    spec: dict[str, Any] = {}
    if endpoint_mode:
        spec["mode"] = endpoint_mode
    if ports:
        spec["ports"] = ports
    return spec or None


# --------------------------------------------------------------------------- service


_CONTAINER_SCALARS: tuple[tuple[str, str, Callable[[checks.At, str, Any], Any]], ...] = (
    ("hostname", "hostname", checks.text),
    ("user", "user", _user),
    ("working_dir", "dir", checks.text),
    ("stop_grace_period", "stop_grace_period", _duration),
    ("read_only", "read_only", checks.boolean),
    ("init", "init", checks.boolean),
)


def _container_spec(stack: _Stack, at: checks.At, obj: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": checks.text(at, "image", obj.get("image"), "an image reference such as traefik/whoami:v1.10 (image is required)")}
    if "command" in obj:
        spec["args"] = _command(at, "command", obj["command"])  # compose command -> container args
    if "entrypoint" in obj:
        spec["commands"] = _command(at, "entrypoint", obj["entrypoint"])  # compose entrypoint -> container command
    if "environment" in obj:
        spec["env"] = dict(sorted(_environment(stack, at, obj["environment"]).items()))
    spec["labels"] = _label_list({**_pairs(at, "labels", obj.get("labels"), lambda _k, _p: ""), STACK_LABEL: stack.name})
    if "volumes" in obj:
        spec["mounts"] = [_mount(stack, at, f"volumes[{i}]", item) for i, item in enumerate(checks.items(at, "volumes", obj["volumes"]))]
    if "healthcheck" in obj:
        spec["healthcheck"] = _healthcheck(at, obj["healthcheck"])
    for key, out, convert in _CONTAINER_SCALARS:
        if key in obj:
            spec[out] = convert(at, key, obj[key])
    return spec


def _service(stack: _Stack, key: str, raw: Any) -> ServiceSpec:
    top = checks.in_file(stack.file)
    name = f"{stack.name}_{key}"
    if not _SWARM_NAME.match(key) or len(name) > 63:
        raise top.refuse(
            checks.join("services", key), key, f"a service name of letters and digits with '-' or '_' between them, {63 - len(stack.name) - 1} characters at most"
        )
    at = checks.in_file(stack.file, key)
    obj = checks.mapping(top, checks.join("services", key), raw, "a mapping of service keys")
    _only(at, "", obj, SERVICE_KEYS)
    obj = _interpolate(_without_extensions(obj), stack.variables, at, "")
    networks, aliases = _service_networks(stack, at, obj.get("networks"))
    deploy = _deploy(stack, at, obj.get("deploy"))
    args: dict[str, Any] = {"name": name, **deploy.service_args, "task_spec": {"container_spec": _container_spec(stack, at, obj), **deploy.task_args}}
    endpoint_spec = _endpoint_spec(at, _ports(at, obj["ports"]) if "ports" in obj else [], deploy.endpoint_mode)
    if endpoint_spec:
        args["endpoint_spec"] = endpoint_spec
    return ServiceSpec(key=key, name=name, networks=networks, network_aliases=aliases, frozen_args=_freeze(args))


# --------------------------------------------------------------------------- freezing


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


# --------------------------------------------------------------------------- entry points


def _check_top_level(at: checks.At, doc: Mapping[str, Any]) -> None:
    for key, value in doc.items():
        if key in NOT_YET_TOP_LEVEL:
            raise at.refuse(key, value, f"{key} are not supported yet (top-level keys: {', '.join(TOP_LEVEL_KEYS)} and x-* extensions)")
        if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
            raise at.refuse(key, value, f"unknown top-level key; allowed: {', '.join(TOP_LEVEL_KEYS)} and x-* extensions")


def _used(declared: Mapping[str, Any], used: Iterable[str]) -> list[Any]:
    wanted = set(used)
    return [ref for key, ref in declared.items() if key in wanted]


def translate(doc: Any, variables: Mapping[str, str], *, file: str, stack_name: str, hints: Mapping[str, str] | None = None) -> StackSpec:
    """Turn a parsed compose document into the stack's service, network and volume specifications.

    `hints`: for variables that may be missing, how to provide them (said when a file needs one)."""
    top = checks.in_file(file)
    if not _SWARM_NAME.match(stack_name):
        raise top.refuse("stack name", stack_name, "letters and digits with '-' or '_' between them (it prefixes every service name)")
    if not isinstance(doc, Mapping):
        raise top.refuse("document", doc, "a compose file: a mapping with services (and networks, volumes)")
    doc = {str(k): v for k, v in doc.items()}
    _check_top_level(top, doc)
    variables = _Variables({str(k): str(v) for k, v in variables.items()}, hints or {})
    services = checks.mapping(top, "services", doc.get("services"), "a mapping of service names to definitions")
    if not services:
        raise top.refuse("services", doc.get("services"), "at least one service")
    stack = _Stack(
        name=stack_name,
        file=file,
        base_dir=os.path.abspath(os.path.dirname(file) or "."),
        variables=variables,
        networks=_declared(top, "networks", doc.get("networks"), stack_name, variables, _network),
        volumes=_declared(top, "volumes", doc.get("volumes"), stack_name, variables, _volume),
    )
    specs = tuple(_service(stack, key, raw) for key, raw in services.items())
    networks = _used(stack.networks, stack.used_networks)
    if DEFAULT_NETWORK in stack.used_networks and DEFAULT_NETWORK not in stack.networks:
        networks.append(_implicit_default(stack_name))
    return StackSpec(stack_name, file, specs, tuple(networks), tuple(_used(stack.volumes, stack.used_volumes)))


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""


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


def load_stack(path: Path, variables: Mapping[str, str], *, stack_name: str | None = None, hints: Mapping[str, str] | None = None) -> StackSpec:
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
    return translate(doc, variables, file=file, stack_name=stack_name if stack_name is not None else Path(path).stem, hints=hints)
