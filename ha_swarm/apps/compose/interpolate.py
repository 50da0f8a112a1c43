"""${VAR} substitution in compose values, from the variables the program passes (never `os.environ`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ha_swarm.config import checks

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


def interpolate(value: Any, variables: Mapping[str, str], at: checks.At, path: str) -> Any:
    """Substitute ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$ in every string value (not in keys)."""
    if isinstance(value, str):
        return _substitute(value, variables, at, path, value)
    if isinstance(value, Mapping):
        return {k: interpolate(v, variables, at, checks.join(path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables, at, f"{path}[{i}]") for i, v in enumerate(value)]
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


class Variables(dict[str, str]):
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
            hint = variables.hints.get(name) if isinstance(variables, Variables) else None
            reason = "it is not provided and has no default" if not hint else f"it is not provided ({hint}) and has no default"
            reason = arg if op is not None and arg else reason
            raise at.refuse(path, whole, f"variable {name}: {reason} (provided: {provided}; give a default with ${{{name}:-value}})")
        return value
    if op.endswith("-"):
        return _substitute(arg, variables, at, path, whole) if unset else (value or "")
    return "" if unset else _substitute(arg, variables, at, path, whole)  # `+`: the alternative when set
