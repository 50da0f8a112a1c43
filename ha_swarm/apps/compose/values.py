"""The values and units of compose files: names, lists and KEY=VALUE pairs, durations, sizes, CPUs,
commands and ports, as `docker stack deploy` reads them and as the Docker provider writes them back."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ha_swarm.config import checks

PORT_KEYS = ("target", "published", "protocol", "mode")
PROTOCOLS = ("tcp", "udp", "sctp")
PUBLISH_MODES = ("ingress", "host")
PORT_ALLOWED = 'a port: "80", "8080:80", "8000-8010:8000-8010", "53:53/udp" or the long syntax {target, published, protocol, mode}'

# Swarm service names (swarmkit): letters and digits, '-' or '_' between them, at most 63 characters.
SWARM_NAME = re.compile(r"^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$")
OBJECT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s?([kmgtp]?)(?:i?b)?$", re.I)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}

DURATION_ALLOWED = "a duration such as 10s, 1m30s, 500ms or 1h (units ns, us, ms, s, m, h)"
SIZE_ALLOWED = "a size such as 512M, 1G, 100k or a whole number of bytes"


def only_supported(at: checks.At, path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Refuse keys that are not supported (`x-*` extension keys are allowed and ignored)."""
    checks.only(at, path, obj, allowed, "unknown or unsupported key; supported keys", extensions=True)


def without_extensions(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("x-")}


def user(at: checks.At, path: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return checks.text(at, path, value, "a user name or id, optionally with a group: app, 1000 or 1000:1000")


def strings(at: checks.At, path: str, value: Any, what: str = "a list of strings") -> list[str]:
    items = checks.items(at, path, value, what)
    return [checks.scalar_text(at, f"{path}[{i}]", item) for i, item in enumerate(items)]


def pairs(at: checks.At, path: str, value: Any, bare: Callable[[str, str], str]) -> dict[str, str]:
    """`KEY=VALUE` lists and `KEY: VALUE` maps (labels, environment).  `bare(key, path)` gives a missing value."""
    if value is None:
        return {}
    result: dict[str, str] = {}
    if isinstance(value, list):
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            if not isinstance(item, str):
                raise at.refuse(item_path, item, "KEY=VALUE (a string)")
            key, sep, rest = item.partition("=")  # not trimmed: docker keeps the spaces of a list entry
            result[_pair_key(at, item_path, key, item)] = rest if sep else bare(key, item_path)
        return result
    for key, item in checks.mapping(at, path, value, "a list of KEY=VALUE or a mapping of KEY: VALUE").items():
        item_path = checks.join(path, key)
        result[_pair_key(at, item_path, key, item)] = bare(key, item_path) if item is None else go_text(at, item_path, item)
    return result


def go_text(at: checks.At, path: str, value: Any, what: str = "a string or a number (quote true and false: docker stack deploy refuses a boolean here)") -> str:
    """A string or number of a compose mapping as docker's loader writes it (Go's fmt.Sprint: 1.0 -> 1,
    1e6 -> 1e+06).  A boolean is refused, as docker's schema refuses it (string, number or null)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    raise at.refuse(path, value, what)


def go_float(value: float) -> str:
    """Go's %v of a float64 (strconv's %g, shortest digits): the exponent form when the exponent is
    below -4 or 6 and more (1e+06, 1.5e-05), else plain (100000, 0.0001)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    point = len(text) + int(exponent)  # the decimal point's place among the digits
    power = point - 1
    if value == 0:
        return "-0" if sign else "0"
    if power < -4 or power >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def _pair_key(at: checks.At, path: str, key: str, value: Any) -> str:
    if not key.strip() or key != key.strip():
        raise at.refuse(path, value, "a non-empty key without surrounding spaces")
    return key


def label_list(pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"label": k, "value": v} for k, v in sorted(pairs.items())]


# --------------------------------------------------------------------------- durations and sizes


def duration(at: checks.At, path: str, value: Any) -> str:
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


def size_bytes(at: checks.At, path: str, value: Any) -> int:
    """Bytes from 512M / 1G / 100k / 1.5g / 2048 (powers of 1024, as Docker reads them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value.strip()) if isinstance(value, str) else None
    size = int(Decimal(match.group(1)) * 1024 ** _SIZE_POWERS[match.group(2).lower()]) if match else 0
    if size <= 0:
        raise at.refuse(path, value, SIZE_ALLOWED)
    return size


def nano_cpus(at: checks.At, path: str, value: Any) -> int:
    try:
        cpus = Decimal(str(value).strip()) if isinstance(value, str | int | float) and not isinstance(value, bool) else Decimal(0)
    except InvalidOperation:
        cpus = Decimal(0)
    if not cpus.is_finite() or int(cpus * 10**9) <= 0:
        raise at.refuse(path, value, "a positive number of CPUs such as 0.5 or 2")
    return int(cpus * 10**9)


# --------------------------------------------------------------------------- service: ports


def _port_number(at: checks.At, path: str, value: Any, item: Any = None) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        hint = " (quote HOST:CONTAINER mappings: YAML 1.1 reads an unquoted 8080:53 as a base-60 number)" if isinstance(value, int) and value > 65535 else ""
        raise at.refuse(path, value if item is None else item, f"a port number from 1 to 65535{hint}")
    return value


def _port_range(at: checks.At, path: str, text: str, item: Any) -> list[int]:
    start, sep, end = text.partition("-")
    first = _port_number(at, path, start, item)
    last = _port_number(at, path, end, item) if sep else first
    if last < first:
        raise at.refuse(path, item, "a port range from low to high, such as 8000-8010")
    return list(range(first, last + 1))


def _short_ports(at: checks.At, path: str, item: Any, ignored_ip: Callable[[str], None]) -> list[dict[str, Any]]:
    """[IP:][PUBLISHED:]TARGET[/PROTOCOL], each port a range or not, as docker stack deploy reads it: a
    range of targets takes a range of published ports as long; a single target with a range of
    published ports is published on each; a host IP is ignored (swarm listens on every address)."""
    text = str(item) if isinstance(item, int) and not isinstance(item, bool) else checks.text(at, path, item, PORT_ALLOWED)
    spec, _, protocol = text.partition("/")
    protocol = protocol.lower() or "tcp"
    if protocol not in PROTOCOLS:
        raise at.refuse(path, item, f"{PORT_ALLOWED} (protocol one of {', '.join(PROTOCOLS)})")
    ip = ""
    if spec.startswith("["):  # [v6 address]:published:target
        ip, sep, spec = spec[1:].partition("]:")
        if not sep:
            raise at.refuse(path, item, PORT_ALLOWED)
    elif spec.count(":") == 2:
        ip, _, spec = spec.partition(":")
    published_text, _, target_text = spec.rpartition(":")
    if ":" in published_text:
        raise at.refuse(path, item, PORT_ALLOWED)
    targets = _port_range(at, path, target_text, item)
    published = _port_range(at, path, published_text, item) if published_text else []
    if ip:
        try:
            if not ipaddress.ip_address(ip).is_unspecified:
                ignored_ip(text)
        except ValueError:
            raise at.refuse(path, item, f"{PORT_ALLOWED} (the host IP is an IP address)") from None
    if published and len(published) != len(targets) and len(targets) > 1:
        raise at.refuse(path, item, "as many published ports as target ports")
    ports = []
    for i, target in enumerate(targets):
        choices: list[int | None] = list(published[i : i + 1] if len(published) == len(targets) else published)
        for port in choices or [None]:
            ports.append({"target_port": target, "protocol": protocol, "publish_mode": "ingress", **({"published_port": port} if port else {})})
    return ports


def _long_port(at: checks.At, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    only_supported(at, path, obj, PORT_KEYS)
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


def port_specs(at: checks.At, raw: Any, ignored_ip: Callable[[str], None]) -> list[dict[str, Any]]:
    """The endpoint's ports, sorted as docker stack deploy sorts them (published, target, protocol, mode)."""
    ports: list[dict[str, Any]] = []
    for i, item in enumerate(checks.items(at, "ports", raw)):
        if isinstance(item, Mapping):
            ports.append(_long_port(at, f"ports[{i}]", checks.mapping(at, f"ports[{i}]", item)))
        else:
            ports.extend(_short_ports(at, f"ports[{i}]", item, ignored_ip))
    return sorted(ports, key=lambda p: (p.get("published_port", 0), p["target_port"], p["protocol"], p["publish_mode"]))


def command_args(at: checks.At, path: str, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as error:
            raise at.refuse(path, value, f"a command with balanced quotes ({error})") from None
    return strings(at, path, value, "a command string or a list of strings")


def external_and_name(at: checks.At, path: str, obj: Mapping[str, Any], *, file_object: bool = False) -> tuple[bool, str | None]:
    """`external: true` (with an optional `name:`) or the old `external: {name: x}` form: whether the
    object is external, and its name.  Nothing but `external` and `name` may stand beside `external: true`.

    `file_object` (configs and secrets, as docker's loader reads them): `name:` beside
    `external: {name: x}` is refused, and the old form is taken as it is; for networks and volumes
    the inner name wins and the keys beside it are checked as for `external: true`."""
    raw = obj.get("external", False)
    name = checks.text(at, checks.join(path, "name"), obj["name"]) if "name" in obj else None
    if isinstance(raw, Mapping):
        inner = checks.mapping(at, checks.join(path, "external"), raw)
        only_supported(at, checks.join(path, "external"), inner, ("name",))
        if "name" in inner:
            if file_object and name is not None:
                raise at.refuse(checks.join(path, "external.name"), inner["name"], "nothing with name: (docker refuses both; give name: only)")
            name = checks.text(at, checks.join(path, "external.name"), inner["name"])
        if file_object:
            return True, name
        external = True
    else:
        external = checks.boolean(at, checks.join(path, "external"), raw)
    if external:
        for key in obj:
            if key not in ("external", "name") and not key.startswith("x-"):
                raise at.refuse(checks.join(path, key), obj[key], "nothing else on an external object: only external and name (it exists already)")
    return external, name
