"""Plain YAML scalars that start like a number, as go-yaml v3 (docker's loader) resolves them: an
integer as Go's ParseInt reads it (base prefixes, a leading 0 for octal, `_` ignored), else a float of
YAML's form, else a date or time (as the text Go prints for it), else the string itself."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

GO_SCALAR = "tag:ha-swarm:go-scalar"
_SPECIAL = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
_GO_INT = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:(?:[Tt]|(?P<space> ))(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2})(?:\.(?P<f>\d{1,9}))?(?P<z>Z|[+-]\d{2}:\d{2})?)?"
)
_BASES = {"x": 16, "o": 8, "b": 2}


def go_scalar(text: str) -> int | float | str:
    if text in _SPECIAL:
        return _SPECIAL[text]
    if text.startswith("."):
        try:
            return float(text) if re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", text) else text
        except ValueError:
            return text
    stamp = _timestamp(text)
    if stamp is not None:
        return stamp
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        return float(plain)
    return text


def _go_int(plain: str) -> int | None:
    match = _GO_INT.fullmatch(plain)
    if not match:
        return None
    sign, body = match.groups()
    prefix = body[1:2].lower() if len(body) > 1 else ""
    if prefix in _BASES:
        value = int(body[2:], _BASES[prefix])
    elif body.startswith("0") and len(body) > 1:
        value = int(body[1:], 8)
    else:
        value = int(body)
    value = -value if sign == "-" else value
    return value if -(2**63) <= value < 2**64 else None


def _timestamp(text: str) -> str | None:
    """A YAML timestamp as Go's fmt prints a time.Time: `2001-01-01 00:00:00 +0000 UTC`."""
    match = _TIMESTAMP.fullmatch(text)
    if not match or (match.group("space") and match.group("z")):  # Go's layout with a space has no zone
        return None
    try:
        zone = UTC
        if match.group("z") and match.group("z") != "Z":
            hours, minutes = match.group("z")[1:].split(":")
            offset = timedelta(hours=int(hours), minutes=int(minutes))
            zone = timezone(offset if match.group("z")[0] == "+" else -offset)
        moment = datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0), tzinfo=zone)
    except ValueError:
        return None
    fraction = (match.group("f") or "").rstrip("0")
    shown_offset = moment.strftime("%z")
    name = "UTC" if zone is UTC else shown_offset
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{fraction}" if fraction else "") + f" {shown_offset} {name}"
