"""The one toolkit of checks, shared by the settings and the compose translation, and the one
refusal type.

Every refused value is reported on one line, `<where><key> = <value> is refused: <allowed>`:
`where` is `config ha-swarm:` for a setting, `<file>: service <name>: ` (or `<file>: `) for a
compose file. Pulumi prints a `pulumi.RunError` without a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from ha_swarm.config.model import NAMESPACE

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNS_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
# One line: a key of two lines would add a second entry (`@cert-authority ...`, `command="..."`) to
# the known_hosts or authorized_keys file it is written to.  Matched whole (fullmatch).
SSH_PUBLIC_KEY = re.compile(r"(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[^\s]+)[ \t]+[A-Za-z0-9+/=]+([ \t][^\r\n]*)?")
# A Linux user name: what reaches ssh's argv and the Docker provider's ProxyCommand, which a shell runs.
LINUX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
LINUX_USER_ALLOWED = "a Linux user name (lowercase letters, digits, '_' or '-')"


# An image reference as docker reads it: [registry[:port]/]path[:tag][@digest], no spaces, whole.
IMAGE = re.compile(
    # A registry is a first component with a dot or a port, or localhost (docker's rule); the rest is lowercase.
    r"(?:(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::[0-9]+)?/|[A-Za-z0-9-]+:[0-9]+/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


def image_reference(at: At, key: str, value: Any, what: str) -> str:
    """An image reference (after the spaces around it), refused with WHAT otherwise."""
    reference = text(at, key, value, what)
    if not IMAGE.fullmatch(reference):
        raise at.refuse(key, value, what)
    return reference


def is_host(value: str) -> bool:
    """An IP address or a DNS name, whole."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return not re.fullmatch(r"[\d.]+", value) and DNS_NAME.fullmatch(value.lower()) is not None


class Refusal(pulumi.RunError):
    """A refused setting or compose value.  Pulumi prints only the message, no traceback."""


def shown(value: Any) -> str:
    """A refused value as a refusal shows it: a string quoted, anything else as JSON."""
    return repr(value) if isinstance(value, str) else json.dumps(value, default=str)


@dataclass(frozen=True)
class At:
    """Where values come from: the words before a key in a refusal."""

    where: str

    def refuse(self, key: str, value: Any, allowed: str) -> Refusal:
        # A key may come from the user's map keys: control characters shown escaped, the line stays one.
        key = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in key)
        return Refusal(f"{self.where}{key} = {shown(value)} is refused: {allowed}")


CONFIG = At(f"config {NAMESPACE}:")


def in_file(file: str, service: str | None = None) -> At:
    """A compose file, or one service of it."""
    return At(f"{file}: service {service}: " if service is not None else f"{file}: ")


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def mapping(at: At, key: str, value: Any, what: str = "a mapping") -> dict[str, Any]:
    """A mapping (None: empty), its keys as strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise at.refuse(key, value, what)
    return {str(k): v for k, v in value.items()}


def only(at: At, key: str, obj: Mapping[str, Any], allowed: Sequence[str], unknown: str = "unknown key; allowed keys", extensions: bool = False) -> None:
    """Refuse keys that are not `allowed` (with `extensions`, `x-*` keys pass: compose's extension keys)."""
    for k, value in obj.items():
        if k not in allowed and not (extensions and str(k).startswith("x-")):
            raise at.refuse(join(key, k), value, f"{unknown}: {', '.join(allowed)}")


def items(at: At, key: str, value: Any, what: str = "a list") -> list[Any]:
    if not isinstance(value, list):
        raise at.refuse(key, value, what)
    return value


def whole(at: At, key: str, value: Any, low: int, high: int | None = None, kind_first: bool = False) -> int:
    """A whole number from `low` to `high` (text of digits too).  `kind_first`: a value that is no
    number at all is told "a whole number" only, the range being for numbers out of it."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    span = f"from {low} to {high}" if high is not None else f"{low} or more"
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.refuse(key, value, "a whole number" if kind_first else f"a whole number {span}")
    if value < low or (high is not None and value > high):
        raise at.refuse(key, value, f"a whole number {span}")
    return value


def boolean(at: At, key: str, value: Any, strip: bool = True) -> bool:
    """true or false (the text of either too; `strip`: with spaces around it)."""
    if isinstance(value, str):
        word = (value.strip() if strip else value).lower()
        if word in ("true", "false"):
            return word == "true"
    if not isinstance(value, bool):
        raise at.refuse(key, value, "true or false")
    return value


def text(at: At, key: str, value: Any, what: str = "a non-empty string") -> str:
    """A non-empty string, without the spaces around it."""
    if not isinstance(value, str) or not value.strip():
        raise at.refuse(key, value, what)
    return value.strip()


def choice(at: At, key: str, value: Any, choices: Sequence[Any], why: str = "") -> Any:
    if value not in choices:
        raise at.refuse(key, value, f"one of {', '.join(str(c) for c in choices)}{why}")
    return value


def scalar_text(at: At, key: str, value: Any, what: str = "a string, number or boolean") -> str:
    """A string, number or boolean as the text YAML and compose make of it (true, 3, 0.5)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise at.refuse(key, value, what)


# The settings' forms: the value of `name` in `obj`, or `default`, checked under the key `key`.
SETTING_SCALAR = "a string, number or boolean value"
SETTING_OBJECT = "an object (set it with `pulumi config set --path`)"


def object_setting(key: str, value: Any) -> dict[str, Any]:
    return mapping(CONFIG, key, value, SETTING_OBJECT)


def whole_field(obj: Mapping[str, Any], name: str, key: str, default: int, low: int, high: int | None = None) -> int:
    return whole(CONFIG, key, obj.get(name, default), low, high, kind_first=True)


def bool_field(obj: Mapping[str, Any], name: str, key: str, default: bool) -> bool:
    return boolean(CONFIG, key, obj.get(name, default), strip=False)


def text_field(obj: Mapping[str, Any], name: str, key: str, default: str | None = None) -> str | None:
    value = obj.get(name, default)
    return None if value is None else text(CONFIG, key, value)
