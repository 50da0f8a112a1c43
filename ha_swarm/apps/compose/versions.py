"""The compose file `version`, read as `docker stack deploy` reads it: docker checks a file against
the JSON schema of its version (3.0 to 3.13; none, "" and "3" mean 3.13) and refuses any other
version, and any key that version's schema does not have yet.

FIRST_VERSION is the version in which docker's schemas (docker/cli cli/compose/schema/data) first
have each key that ha-swarm translates; keys that every 3.x schema has are not listed. A path is
matched on the document as written: `*` is every key of a mapping, `[]` every item of a list, the
last part a key present in the mapping reached (long-syntax ports and volumes are mappings with
`target`/`type`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ha_swarm.config import checks

LATEST = (3, 13)
KNOWN = tuple((3, minor) for minor in range(14))
FIRST_VERSION: tuple[tuple[str, tuple[int, int]], ...] = (
    ("secrets", (3, 1)),
    ("services.*.secrets", (3, 1)),
    ("networks.*.attachable", (3, 2)),
    ("services.*.deploy.endpoint_mode", (3, 2)),
    ("services.*.ports.[].target", (3, 2)),
    ("services.*.volumes.[].type", (3, 2)),
    ("configs", (3, 3)),
    ("services.*.configs", (3, 3)),
    ("services.*.credential_spec", (3, 3)),
    ("services.*.deploy.placement.preferences", (3, 3)),
    ("services.*.deploy.update_config.order", (3, 4)),
    ("services.*.healthcheck.start_period", (3, 4)),
    ("volumes.*.name", (3, 4)),
    ("configs.*.name", (3, 5)),
    ("networks.*.name", (3, 5)),
    ("secrets.*.name", (3, 5)),
    ("services.*.deploy.resources.reservations.generic_resources", (3, 5)),
    ("services.*.isolation", (3, 5)),
    ("services.*.volumes.[].tmpfs", (3, 6)),
    ("services.*.deploy.rollback_config", (3, 7)),
    ("services.*.init", (3, 7)),
    ("configs.*.template_driver", (3, 8)),
    ("secrets.*.driver", (3, 8)),
    ("secrets.*.driver_opts", (3, 8)),
    ("secrets.*.template_driver", (3, 8)),
    ("services.*.credential_spec.config", (3, 8)),
    ("services.*.deploy.placement.max_replicas_per_node", (3, 8)),
    ("services.*.cgroupns_mode", (3, 9)),
    ("services.*.deploy.resources.limits.pids", (3, 9)),
    ("services.*.healthcheck.start_interval", (3, 12)),
    ("services.*.networks.*.driver_opts", (3, 13)),
    ("services.*.oom_score_adj", (3, 13)),
)


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def schema_version(at: checks.At, doc: Mapping[str, Any]) -> tuple[int, int]:
    """The version whose schema docker checks the file against; another version is refused."""
    raw = doc.get("version", "")
    written = str(raw)  # docker reads it with Go's %v: 3.1 as written in YAML is "3.1"
    if written in ("", "3"):
        return LATEST
    major, _, minor = written.partition(".")
    version = (int(major), int(minor)) if major.isdigit() and minor.isdigit() and str(int(minor)) == minor else None
    if version not in KNOWN:
        allowed = f"a version docker stack deploy reads: 3 or 3.0 to 3.13 (or none, read as {text(LATEST)})"
        raise at.refuse("version", raw, f"{allowed}; it refuses others (unsupported Compose file version)")
    assert version is not None
    return version


def _found(node: Any, parts: list[str], path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Every place PATH reaches in the document: (the concrete path, the value there)."""
    head, rest = parts[0], parts[1:]
    if head == "[]":
        items = node if isinstance(node, list) else []
        for i, item in enumerate(items):
            yield from _found(item, rest, [*path[:-1], f"{path[-1]}[{i}]"]) if rest else iter(())
        return
    if not isinstance(node, Mapping):
        return
    keys = [str(k) for k in node] if head == "*" else ([head] if head in node else [])
    for key in keys:
        if rest:
            yield from _found(node[key], rest, [*path, key])
        else:
            yield [*path, key], node[key]


def check_keys(file: str, doc: Mapping[str, Any], version: tuple[int, int]) -> None:
    """Refuse the first key that the schema of VERSION does not have yet, as docker does."""
    for dotted, first in FIRST_VERSION:
        if version >= first:
            continue
        for path, value in _found(doc, dotted.split("."), []):
            at = checks.in_file(file, path[1]) if path[0] == "services" and len(path) > 2 else checks.in_file(file)
            where = path[2:] if path[0] == "services" and len(path) > 2 else path
            shown = ".".join(where)
            raise at.refuse(shown, value, f"nothing in a file of version {text(version)}: docker's schema has it from version {text(first)} on")
