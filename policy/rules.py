"""ha-swarm's mandatory rules, as Pulumi CrossGuard policies (`pulumi_policy`).

Each rule is a plain function of the resource (or the stack) that the engine hands over, so that it
can be called on its own; `POLICIES` wraps them for the policy pack (`__main__.py`).  The rules look
at what a program declares, whichever program it is: ha-swarm's own, or one written by hand.

- `odd-manager-count`: the swarm formed by the remote commands has an odd number of managers (Raft
  quorum): the `swarm-init.sh` commands plus the `swarm-join.sh manager` ones;
- `traefik-dashboard-authenticated`: no `--api.insecure`, and a router to `api@internal` only behind
  a basicauth, digestauth or forwardauth middleware declared on the same service;
- `docker-socket-read-only`: the Docker socket (or a folder that holds it: /run, /var/run, /var, /) is
  mounted read-only;
- `no-docker-socket-facing-the-internet`: a service or container that publishes a port or that
  Traefik routes to (`traefik.enable=true`) does not mount the Docker socket at all, not even
  read-only (which restricts nothing): it reads the API through a filtering proxy;
- `swarm-secrets-stay-secret`: a command that asks Docker for a join token or the unlock key
  (`join-token`, `unlock-key`) has a secret stdout (additionalSecretOutputs) and does not log it;
- `restart-policy`: every swarm service says how its tasks restart (`restart_policy`).
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

SERVICE = "docker:index/service:Service"
CONTAINER = "docker:index/container:Container"
COMMANDS = ("command:remote:Command", "command:local:Command")
# The socket, and every folder that holds it (a read-write bind of `/` or `/var` gives the socket too).
SOCKET_PATHS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/var", "/")
AUTH_MIDDLEWARES = ("basicauth", "digestauth", "forwardauth")
# What asks Docker for a join token or the unlock key: `join-token`, `unlock-key`, and the swarm init
# or update that turns autolock on (both print the new unlock key).
_SECRET_SOURCES = re.compile(r"\b(join-token|unlock-key)\b|\bswarm\s+(init|update)\b[^\n]*\s--autolock(?!=false\b|=False\b|=0\b|=f\b|=F\b)")
# Go's strconv.ParseBool, which Traefik reads its flags and environment with: the true words.
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_QUIET_LOGGING = ("none", "stderr")


# --------------------------------------------------------------------------- reading resources


def _known(read: Callable[[], Any], default: Any = None) -> Any:
    """READ(), or DEFAULT when the value cannot be known yet (a preview)."""
    try:
        return read()
    except UnknownValueError:
        return default


def _get(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., None where a step is missing (unknown values raise)."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []


def node_script(command: Any) -> tuple[str, list[str]] | None:
    """The node script a command runs and its arguments, for ha-swarm's form
    `[sudo -n] bash -c PROGRAM SCRIPT.sh ARG...`; None for any other command."""
    if not isinstance(command, str):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if words[:2] == ["sudo", "-n"]:
        words = words[2:]
    if len(words) < 4 or words[:2] != ["bash", "-c"]:
        return None
    return words[3], words[4:]


def service_labels(props: Mapping[str, Any]) -> dict[str, str]:
    """A swarm service's labels ([{label, value}]), where Traefik's swarm provider reads them."""
    labels: dict[str, str] = {}
    for item in _items(props.get("labels")):
        if isinstance(item, Mapping) and isinstance(item.get("label"), str):
            labels[item["label"]] = str(item.get("value") or "")
    return labels


# --------------------------------------------------------------------------- the rules


def managers_formed(resources: Iterable[Any]) -> list[Any]:
    """The commands that make a swarm manager: `swarm-init.sh` and `swarm-join.sh manager ...`."""
    found = []
    for res in resources:
        if res.resource_type not in COMMANDS:
            continue
        script = node_script(_known(functools.partial(res.props.get, "create")))
        if script is None:
            continue
        name, args = script
        if name == "swarm-init.sh" or (name == "swarm-join.sh" and args[:1] == ["manager"]):
            found.append(res)
    return found


def odd_manager_count(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    managers = managers_formed(args.resources)
    if managers and len(managers) % 2 == 0:
        report_violation(
            f"the swarm would have {len(managers)} managers: Raft quorum needs an odd number (1, 3, 5 or 7); "
            f"an even count tolerates no more failures than one manager fewer ({', '.join(r.name for r in managers)})",
            None,
        )


def _insecure_api(args: Sequence[Any]) -> str | None:
    for arg in args:
        word = arg.strip() if isinstance(arg, str) else ""
        name, sep, value = word.partition("=")
        # Traefik's flag names are case-insensitive; the value is read with Go's ParseBool.
        if name.lower() == "--api.insecure" and (not sep or value in _GO_TRUE):
            return word
    return None


def dashboard_problems(props: Mapping[str, Any]) -> list[str]:
    """Why a service exposes Traefik's API or dashboard without authentication (empty when it does not)."""
    problems = []
    container = _get(props, "taskSpec", "containerSpec") or {}
    insecure = _insecure_api(_items(container.get("args")))
    if insecure:
        problems.append(f"{insecure} serves the API and dashboard to anyone on port 8080")
    env = container.get("env")
    for key, value in env.items() if isinstance(env, Mapping) else ():
        if str(key).upper() == "TRAEFIK_API_INSECURE" and str(value).strip() in _GO_TRUE:
            problems.append(f"{key}={value} serves the API and dashboard to anyone on port 8080")
    labels = service_labels(props)
    for key, value in sorted(labels.items()):
        match = re.fullmatch(r"traefik\.http\.routers\.([^.]+)\.service", key)
        if not match or value.strip() != "api@internal":
            continue
        router = match.group(1)
        names = [m.strip() for m in labels.get(f"traefik.http.routers.{router}.middlewares", "").split(",") if m.strip()]
        auth = [m for m in names if any(k.startswith(f"traefik.http.middlewares.{m}.{kind}.") for k in labels for kind in AUTH_MIDDLEWARES)]
        if not auth:
            problems.append(
                f"router {router!r} serves api@internal without an authentication middleware ({', '.join(AUTH_MIDDLEWARES)}) declared in the service's labels"
            )
    return problems


def traefik_dashboard_authenticated(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    for problem in dashboard_problems(args.props):
        report_violation(f"Traefik's dashboard must not be served unauthenticated: {problem}", None)


def _exposes_socket(source: Any) -> bool:
    path = str(source or "").rstrip("/") or "/"
    return path in SOCKET_PATHS or path.endswith("/docker.sock")


def socket_binds(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The bind mounts of the Docker socket (or its folder) of a service or container: (source, read-only)."""
    if resource_type == SERVICE:
        mounts, volumes = _items(_get(props, "taskSpec", "containerSpec", "mounts")), []
    elif resource_type == CONTAINER:
        mounts, volumes = _items(props.get("mounts")), _items(props.get("volumes"))
    else:
        return []
    binds = [(m.get("source"), m.get("readOnly")) for m in mounts if isinstance(m, Mapping) and m.get("type", "bind") == "bind"]
    binds += [(v.get("hostPath"), v.get("readOnly")) for v in volumes if isinstance(v, Mapping)]
    return [(str(source), bool(read_only)) for source, read_only in binds if _exposes_socket(source)]


def socket_mounts_read_write(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The read-write bind mounts of the Docker socket (or its folder) of a service or container."""
    return [source for source, read_only in socket_binds(resource_type, props) if not read_only]


def docker_socket_read_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for source in socket_mounts_read_write(args.resource_type, args.props):
        report_violation(
            f"{source} is mounted read-write: whoever controls this container controls the node's Docker daemon (and the swarm); mount it read-only",
            None,
        )


def _port(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def facing_the_internet(resource_type: str, props: Mapping[str, Any]) -> str | None:
    """Why a service or container answers from outside (a published port, a Traefik route), or None."""
    if resource_type == SERVICE:
        ports = _items(_get(props, "endpointSpec", "ports"))
        enabled = service_labels(props).get("traefik.enable", "").strip().lower() == "true"
        if not ports and enabled:
            return "Traefik routes to it (traefik.enable=true)"
    elif resource_type == CONTAINER:
        ports = _items(props.get("ports"))
    else:
        return None
    published = [p.get("publishedPort") or p.get("external") or p.get("targetPort") or p.get("internal") for p in ports if isinstance(p, Mapping)]
    return f"it publishes port {', '.join(_port(p) for p in published)}" if published else None


def docker_socket_not_facing_the_internet(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    binds = socket_binds(args.resource_type, args.props)
    why = facing_the_internet(args.resource_type, args.props) if binds else None
    if why:
        sources = ", ".join(source + (" (read-only)" if read_only else "") for source, read_only in binds)
        report_violation(
            f"{why} and mounts {sources}: read-only or not, the socket is the whole Docker API of the node; "
            "read it through a filtering proxy (such as docker-api-proxy) instead",
            None,
        )


def _code(command: Any) -> str:
    """A command's text without its shell comment lines (a comment asks Docker for nothing), also
    inside a quoted program such as ha-swarm's `bash -c '<lib.sh + script>' SCRIPT.sh ARG...`."""
    text = str(command or "")
    try:
        words = shlex.split(text)
    except ValueError:
        words = [text]
    return "\n".join(line for word in words for line in word.splitlines() if not line.lstrip().startswith("#"))


def secret_output_problems(resource_type: str, props: Mapping[str, Any], secret_outputs: Sequence[str]) -> list[str]:
    """Why a command that prints a join token or the unlock key would let it out (empty when it would not)."""
    if resource_type not in COMMANDS:
        return []
    asks = [key for key in ("create", "update", "delete") if _SECRET_SOURCES.search(_code(_known(functools.partial(props.get, key), "")))]
    if not asks:
        return []
    problems = []
    if "stdout" not in secret_outputs:
        problems.append("its stdout is not a secret output (additional_secret_outputs=['stdout'])")
    logging = _known(lambda: props.get("logging"), "none") or "stdoutAndStderr"
    if logging not in _QUIET_LOGGING:
        problems.append(f"its output is logged (logging {logging!r}; use 'none')")
    return [f"the command's {'/'.join(asks)} asks Docker for a join token or the unlock key, but {p}" for p in problems]


def swarm_secrets_stay_secret(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    secret_outputs = list(getattr(args.opts, "additional_secret_outputs", None) or [])
    for problem in secret_output_problems(args.resource_type, args.props, secret_outputs):
        report_violation(problem, None)


def restart_policy_missing(resource_type: str, props: Mapping[str, Any]) -> bool:
    if resource_type != SERVICE:
        return False
    policy = _get(props, "taskSpec", "restartPolicy")
    return not isinstance(policy, Mapping) or not policy.get("condition")


def restart_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if restart_policy_missing(args.resource_type, args.props):
        report_violation(
            "the service has no restart policy: say how its tasks restart (compose deploy.restart_policy.condition: any, on-failure or none)",
            None,
        )


POLICIES: list[Policy] = [
    StackValidationPolicy(
        name="odd-manager-count",
        description="A swarm has an odd number of managers (Raft quorum): 1, 3, 5 or 7.",
        validate=odd_manager_count,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="traefik-dashboard-authenticated",
        description="Traefik's API and dashboard are never served without authentication (no --api.insecure).",
        validate=traefik_dashboard_authenticated,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="docker-socket-read-only",
        description="The Docker socket is only ever mounted read-only.",
        validate=docker_socket_read_only,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="no-docker-socket-facing-the-internet",
        description="A service or container that publishes a port or that Traefik routes to does not mount the Docker socket.",
        validate=docker_socket_not_facing_the_internet,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="swarm-secrets-stay-secret",
        description="A command that prints a join token or the unlock key has a secret, unlogged stdout.",
        validate=swarm_secrets_stay_secret,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="restart-policy",
        description="Every swarm service has a restart policy.",
        validate=restart_policy,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
