"""${VAR} substitution in compose values, as `docker stack deploy` substitutes (cli/compose/template),
from the variables the program passes (never `os.environ`).

What docker does, and so this does: `$$` is a literal `$`; `$VAR` and `${VAR}` take the variable;
`${VAR:-default}` (unset or empty) and `${VAR-default}` (unset) take the default literally (a `$` in
it stays: `${P:-$2y$05$...}`); `${VAR:?message}` and `${VAR?message}` refuse with the message (docker reads a `-` in the message
as a default: `${X:?set-me}` gives "me" there; not here). The default runs to the first `}`, and an unbraced `$VAR-x` is `${VAR-x}` up to the next `}` or the end,
as docker's pattern reads it. A `$` followed by nothing of these is refused (docker: "invalid
interpolation format"). After a substitution, the values that docker casts (replicas, read_only...)
are cast as docker casts them (yes/on/true... for booleans).

One difference, on purpose: a variable that is not provided and has no default is refused, naming
it and how to provide it; docker substitutes an empty string silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ha_swarm.config import checks

_SUBSTITUTION = r"[_a-z][_a-z0-9]*(?::?[-?][^}]*)?"
_PATTERN = re.compile(rf"\$(?:(?P<escaped>\$)|(?P<named>{_SUBSTITUTION})|{{(?P<braced>{_SUBSTITUTION})}}|(?P<invalid>))", re.IGNORECASE | re.DOTALL)


def _to_int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"[+-]?\d+", value) else None


def _to_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _to_bool(value: str) -> bool | None:
    return {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}.get(value.lower())


# The paths whose substituted values docker casts (cli/compose/loader/interpolate.go), relative to a
# service (`*` any key, `[]` any list item); and those of the top-level sections.
_SERVICE_CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    ("configs", "[]", "mode"): _to_int,
    ("secrets", "[]", "mode"): _to_int,
    ("healthcheck", "retries"): _to_int,
    ("healthcheck", "disable"): _to_bool,
    ("deploy", "replicas"): _to_int,
    ("deploy", "update_config", "parallelism"): _to_int,
    ("deploy", "update_config", "max_failure_ratio"): _to_float,
    ("deploy", "rollback_config", "parallelism"): _to_int,
    ("deploy", "rollback_config", "max_failure_ratio"): _to_float,
    ("deploy", "restart_policy", "max_attempts"): _to_int,
    ("deploy", "placement", "max_replicas_per_node"): _to_int,
    ("ports", "[]", "target"): _to_int,
    ("ports", "[]", "published"): _to_int,
    ("ulimits", "*"): _to_int,
    ("ulimits", "*", "hard"): _to_int,
    ("ulimits", "*", "soft"): _to_int,
    ("privileged",): _to_bool,
    ("oom_score_adj",): _to_int,
    ("read_only",): _to_bool,
    ("stdin_open",): _to_bool,
    ("tty",): _to_bool,
    ("volumes", "[]", "read_only"): _to_bool,
    ("volumes", "[]", "volume", "nocopy"): _to_bool,
}
TOP_LEVEL_CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    ("networks", "*", "external"): _to_bool,
    ("networks", "*", "internal"): _to_bool,
    ("networks", "*", "attachable"): _to_bool,
    ("volumes", "*", "external"): _to_bool,
    ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}


def _cast_for(parts: tuple[str, ...], casts: Mapping[tuple[str, ...], Callable[[str], Any]]) -> Callable[[str], Any] | None:
    for pattern, cast in casts.items():
        if len(pattern) == len(parts) and all(p in ("*", part) or (p == "[]" and part == "[]") for p, part in zip(pattern, parts, strict=True)):
            return cast
    return None


def interpolate(
    value: Any, variables: Mapping[str, str], at: checks.At, path: str, parts: tuple[str, ...] = (), casts: Mapping[tuple[str, ...], Callable[[str], Any]] | None = None
) -> Any:
    """Substitute in every string value (not in keys), casting where docker casts (`parts`: the path
    for the casts, relative to a service unless `casts` says otherwise)."""
    casts = _SERVICE_CASTS if casts is None else casts
    if isinstance(value, str):
        substituted = _substitute(value, variables, at, path)
        cast = _cast_for(parts, casts) if substituted != value else None
        if cast is None:
            return substituted
        result = cast(substituted)
        if result is None:
            raise at.refuse(path, value, f"a value of the type docker casts it to ({cast.__name__.removeprefix('_to_')}), not {substituted!r}")
        return result
    if isinstance(value, Mapping):
        return {k: interpolate(v, variables, at, checks.join(path, k), (*parts, str(k)), casts) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables, at, f"{path}[{i}]", (*parts, "[]"), casts) for i, v in enumerate(value)]
    return value


class Variables(dict[str, str]):
    """The variables of a stack, and for some that are not provided, how to provide them."""

    def __init__(self, values: Mapping[str, str], hints: Mapping[str, str]) -> None:
        super().__init__(values)
        self.hints = dict(hints)


def _substitute(text: str, variables: Mapping[str, str], at: checks.At, path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        substitution = match.group("named") or match.group("braced")
        if not substitution:
            raise at.refuse(path, text, "'$' followed by a variable name or {...} (write $$ for a literal $), as docker stack deploy reads it")
        return _apply(substitution, variables, at, path, text)

    return _PATTERN.sub(replace, text)


def _apply(substitution: str, variables: Mapping[str, str], at: checks.At, path: str, text: str) -> str:
    # The operator is the one right after the name.  (docker tries ":-", "-", ":?", "?" in turn on the
    # whole text, so `${X:?set-me}` gives "me" there; here it is refused with "set-me".)
    match = re.match(r"([_a-z][_a-z0-9]*)(:?[-?])?(.*)", substitution, re.IGNORECASE | re.DOTALL)
    assert match is not None  # the pattern matched it already
    name, operator, argument = match.groups()
    value = variables.get(name)
    if operator in (":-", "-"):
        unset = value is None or (operator == ":-" and value == "")
        return argument if unset else str(value)  # the default literally, as docker takes it
    if value is None or (operator == ":?" and value == ""):
        _refuse_missing(name, argument if operator else "", variables, at, path, text)
    return str(value)


def _refuse_missing(name: str, message: str, variables: Mapping[str, str], at: checks.At, path: str, text: str) -> None:
    provided = ", ".join(sorted(variables)) or "none"
    hint = variables.hints.get(name) if isinstance(variables, Variables) else None
    reason = message or ("it is not provided and has no default" if not hint else f"it is not provided ({hint}) and has no default")
    raise at.refuse(path, text, f"variable {name}: {reason} (provided: {provided}; give a default with ${{{name}:-value}})")
