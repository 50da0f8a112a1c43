"""The plan of `scripts/verify.sh`: what it checks, one item a line, made from the values of the stack
outputs `nodes`, `services` and `endpoints`.  The last step of `pulumi up` (setting `verify`) and
`python -m tools.verify` (which reads those outputs back) so check exactly the same things.

    node NAME
    service NAME COUNT|global
    endpoint SCHEME HOST SERVICE plain|sticky|sticky:COOKIE ADDR...
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pulumi

TIMEOUT_VARIABLE = "HA_SWARM_VERIFY_TIMEOUT"
_WORD = re.compile(r"^[^\s#]\S*$")


class PlanError(pulumi.RunError):
    """Values that cannot describe what to verify (an output missing, a value with blanks).
    Pulumi prints only the message, no traceback."""


def _word(value: Any, what: str) -> str:
    text = str(value)
    if not _WORD.match(text):
        raise PlanError(f"{what} {value!r} cannot be verified: verify.sh takes it as one word, without blanks")
    return text


def _field(item: Mapping[str, Any], key: str, output: str) -> Any:
    if not isinstance(item, Mapping) or key not in item:
        raise PlanError(f"the stack output `{output}` has an entry without `{key}` ({item!r}): run `pulumi up` with this version of ha-swarm first")
    return item[key]


def _service_line(service: Mapping[str, Any]) -> str:
    name = _word(_field(service, "name", "services"), "service name")
    if _field(service, "mode", "services") == "global":
        return f"service {name} global"
    replicas = _field(service, "replicas", "services")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise PlanError(f"service {name}: replicas {replicas!r} is not a whole number")
    return f"service {name} {replicas}"


def _endpoint_line(endpoint: Mapping[str, Any]) -> str:
    scheme = urlsplit(str(_field(endpoint, "url", "endpoints"))).scheme
    if scheme not in ("http", "https"):
        raise PlanError(f"endpoint {endpoint.get('host')!r}: its url is neither http nor https")
    sticky = "plain"
    if _field(endpoint, "sticky", "endpoints"):
        cookie = endpoint.get("cookie")
        sticky = f"sticky:{_word(cookie, 'sticky cookie name')}" if cookie else "sticky"
    addresses = [_word(a, "node address") for a in _field(endpoint, "addresses", "endpoints")]
    if not addresses:
        raise PlanError(f"endpoint {endpoint.get('host')!r}: no node answers for it")
    host = _word(_field(endpoint, "host", "endpoints"), "host name")
    service = _word(_field(endpoint, "service", "endpoints"), "service name")
    return " ".join(["endpoint", scheme, host, service, sticky, *addresses])


def verify_plan(nodes: Sequence[Mapping[str, Any]], services: Sequence[Mapping[str, Any]], endpoints: Sequence[Mapping[str, Any]]) -> str:
    """verify.sh's stdin for the values of the outputs `nodes`, `services` and `endpoints`."""
    lines = [f"node {_word(_field(n, 'name', 'nodes'), 'node name')}" for n in nodes]
    lines += [_service_line(s) for s in services]
    lines += [_endpoint_line(e) for e in endpoints]
    return "\n".join(lines) + "\n"


def timeout_from_environment(environ: Mapping[str, str] = os.environ) -> int | None:
    """How long verify.sh waits for the cluster to converge: $HA_SWARM_VERIFY_TIMEOUT seconds, or
    None for the script's own default (60 s)."""
    value = environ.get(TIMEOUT_VARIABLE, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise PlanError(f"{TIMEOUT_VARIABLE}={value!r} is refused: a whole number of seconds, such as 60")
    return int(value)
