"""A service's `deploy` section: mode, labels, placement, update and rollback, restart policy,
resources and endpoint mode."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ha_swarm.apps.compose.container import PROVIDER
from ha_swarm.apps.compose.model import STACK_LABEL, StackContext
from ha_swarm.apps.compose.values import duration, label_list, nano_cpus, only_supported, pairs, size_bytes, strings
from ha_swarm.config import checks

DEPLOY_KEYS = ("mode", "replicas", "labels", "placement", "update_config", "rollback_config", "restart_policy", "resources", "endpoint_mode")
PLACEMENT_KEYS = ("constraints", "preferences", "max_replicas_per_node")
UPDATE_KEYS = ("parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order")
RESTART_KEYS = ("condition", "delay", "max_attempts", "window")
RESOURCES_KEYS = ("limits", "reservations")
RESOURCE_KEYS = ("cpus", "memory")

MODES = ("replicated", "global")
JOB_MODES = ("replicated-job", "global-job")
ENDPOINT_MODES = ("vip", "dnsrr")
RESTART_CONDITIONS = ("none", "on-failure", "any")
# What swarm uses for a restart policy's delay and window that a stack file leaves out.
RESTART_DEFAULTS = {"delay": "5s", "window": "0s"}
# The service key `restart` (docker run's policies) as swarm conditions, as docker stack deploy maps them.
LEGACY_RESTART = {"always": "any", "unless-stopped": "any", "on-failure": "on-failure"}
RESTART_ALLOWED = "no, always, unless-stopped or on-failure, optionally with a count of attempts (on-failure:3)"
UPDATE_FAILURE_ACTIONS = ("continue", "pause", "rollback")
ROLLBACK_FAILURE_ACTIONS = ("continue", "pause")
UPDATE_ORDERS = ("stop-first", "start-first")

_CONSTRAINT = re.compile(r"^\s*\S+\s*(==|!=)\s*\S.*$")


def _mode(at: checks.At, obj: Mapping[str, Any]) -> dict[str, Any]:
    if obj.get("mode") in JOB_MODES:
        raise at.refuse("deploy.mode", obj["mode"], f"replicated or global: {PROVIDER} to a job (run the job with docker service create --mode {obj['mode']})")
    mode = checks.choice(at, "deploy.mode", obj.get("mode", "replicated"), MODES)
    if mode == "global":
        if "replicas" in obj:
            raise at.refuse("deploy.replicas", obj["replicas"], "nothing with mode: global (one task per node); remove replicas or use mode: replicated")
        return {"global_": True}
    return {"replicated": {"replicas": checks.whole(at, "deploy.replicas", obj.get("replicas", 1), 0)}}


def _placement(at: checks.At, raw: Any, global_mode: bool) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.placement", raw)
    only_supported(at, "deploy.placement", obj, PLACEMENT_KEYS)
    placement: dict[str, Any] = {}
    if "constraints" in obj:
        constraints = strings(at, "deploy.placement.constraints", obj["constraints"])
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
    only_supported(at, path, obj, ("spread",))
    # The provider passes each string unchanged as the swarm SpreadDescriptor, so it is the bare
    # descriptor (node.labels.zone), as `docker stack deploy` sends it; not "spread=...".
    return checks.text(at, checks.join(path, "spread"), obj.get("spread"), "a node or engine label such as node.labels.zone")


def _update_config(stack: StackContext, at: checks.At, path: str, raw: Any, failure_actions: Sequence[str]) -> dict[str, Any]:
    """deploy.update_config and deploy.rollback_config: the same keys, different failure actions."""
    obj = checks.mapping(at, path, raw)
    only_supported(at, path, obj, UPDATE_KEYS)
    config: dict[str, Any] = {}
    if "parallelism" in obj:
        config["parallelism"] = checks.whole(at, checks.join(path, "parallelism"), obj["parallelism"], 0)
    for key in ("delay", "monitor"):
        if key in obj:
            config[key] = duration(at, checks.join(path, key), obj[key])
    if "failure_action" in obj:
        config["failure_action"] = checks.choice(at, checks.join(path, "failure_action"), obj["failure_action"], failure_actions)
    if "max_failure_ratio" in obj:
        config["max_failure_ratio"] = _ratio(stack, at, checks.join(path, "max_failure_ratio"), obj["max_failure_ratio"])
    if "order" in obj:
        config["order"] = checks.choice(at, checks.join(path, "order"), obj["order"], UPDATE_ORDERS)
    return config


def _ratio(stack: StackContext, at: checks.At, path: str, value: Any) -> str:
    """A ratio from 0 to 1, given to the provider as docker gives it.  The provider reads it back with
    one decimal: with more, it shows a change on every preview (a warning says so)."""
    try:
        ratio = Decimal(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else Decimal(-1)
    except InvalidOperation:
        ratio = Decimal(-1)
    if not ratio.is_finite() or not 0 <= ratio <= 1:
        raise at.refuse(path, value, "a number from 0 to 1, such as 0 or 0.2")
    if ratio != ratio.quantize(Decimal("0.1")):
        why = "is given as is, but the Docker provider reads it back with one decimal and shows a change on every preview; give one decimal"
        stack.note_here(path, f"{value} {why}")
        return str(ratio.normalize())
    return str(ratio.quantize(Decimal("0.1")))


def _restart_policy(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.restart_policy", raw)
    only_supported(at, "deploy.restart_policy", obj, RESTART_KEYS)
    policy: dict[str, Any] = {}
    if "condition" in obj:
        policy["condition"] = checks.choice(at, "deploy.restart_policy.condition", obj["condition"], RESTART_CONDITIONS)
    # delay and window are always given: the Docker provider sends an unset one as 0s and reads it
    # back as "0s", so leaving one out diffs on every preview (pulumi/pulumi-docker#1285). When the
    # file sets none, Docker's own defaults: a 5s delay, an unbounded (0s) window.
    for key, default in RESTART_DEFAULTS.items():
        policy[key] = duration(at, f"deploy.restart_policy.{key}", obj[key]) if key in obj else default
    if "max_attempts" in obj:
        policy["max_attempts"] = checks.whole(at, "deploy.restart_policy.max_attempts", obj["max_attempts"], 0)
    return policy


def legacy_restart(at: checks.At, value: Any) -> dict[str, Any] | None:
    """The service key `restart` (no, always, unless-stopped, on-failure[:N]) as docker stack deploy
    maps it when deploy.restart_policy is not given: always and unless-stopped restart on any exit."""
    policy = checks.text(at, "restart", value, RESTART_ALLOWED) if value != "" else ""
    name, sep, count = policy.partition(":")
    if sep and not name:
        raise at.refuse("restart", value, RESTART_ALLOWED)
    if count and not re.fullmatch(r"[+-]?\d+", count):
        raise at.refuse("restart", value, f"{RESTART_ALLOWED} (the count is a whole number)")
    attempts = int(count) if count else 0
    if attempts < 0:
        raise at.refuse("restart", value, f"{RESTART_ALLOWED} (the count is not negative)")
    if name in ("", "no"):
        return None
    if name not in LEGACY_RESTART:
        raise at.refuse("restart", value, RESTART_ALLOWED)
    return {"condition": LEGACY_RESTART[name], **RESTART_DEFAULTS, **({"max_attempts": attempts} if attempts > 0 else {})}


def _generic_resources(at: checks.At, path: str, raw: Any) -> dict[str, list[str]]:
    """reservations.generic_resources ({discrete_resource_spec: {kind, value}}) as the provider's KIND=VALUE."""
    specs = []
    for i, item in enumerate(checks.items(at, path, raw, "a list of {discrete_resource_spec: {kind, value}}")):
        entry = checks.mapping(at, f"{path}[{i}]", item)
        only_supported(at, f"{path}[{i}]", entry, ("discrete_resource_spec",))
        spec_path = f"{path}[{i}].discrete_resource_spec"
        spec = checks.mapping(at, spec_path, entry.get("discrete_resource_spec"))
        only_supported(at, spec_path, spec, ("kind", "value"))
        kind = checks.text(at, f"{spec_path}.kind", spec.get("kind"), "a resource kind such as gpu")
        specs.append(f"{kind}={checks.whole(at, f'{spec_path}.value', spec.get('value'), 0)}")
    return {"discrete_resources_specs": specs}


def _resources(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "deploy.resources", raw)
    only_supported(at, "deploy.resources", obj, RESOURCES_KEYS)
    resources: dict[str, Any] = {}
    for key, out in (("limits", "limits"), ("reservations", "reservation")):
        if key in obj:
            path = f"deploy.resources.{key}"
            amounts = checks.mapping(at, path, obj[key])
            if key == "limits" and "pids" in amounts:
                raise at.refuse(f"{path}.pids", amounts["pids"], f"nothing: {PROVIDER} (a limit of processes); leave it out")
            only_supported(at, path, amounts, RESOURCE_KEYS if key == "limits" else (*RESOURCE_KEYS, "generic_resources"))
            resources[out] = {}
            if "generic_resources" in amounts:
                resources[out]["generic_resources"] = _generic_resources(at, f"{path}.generic_resources", amounts["generic_resources"])
            if "cpus" in amounts:
                resources[out]["nano_cpus"] = nano_cpus(at, f"{path}.cpus", amounts["cpus"])
            if "memory" in amounts:
                resources[out]["memory_bytes"] = size_bytes(at, f"{path}.memory", amounts["memory"])
    return resources


@dataclass(frozen=True)
class Deploy:
    service_args: dict[str, Any]  # labels, mode, update_config, rollback_config
    task_args: dict[str, Any]  # placement, restart_policy, resources
    endpoint_mode: str | None


def deploy_args(stack: StackContext, at: checks.At, raw: Any) -> Deploy:
    obj = checks.mapping(at, "deploy", raw)
    only_supported(at, "deploy", obj, DEPLOY_KEYS)
    mode = _mode(at, obj)
    # deploy.labels are the SERVICE labels: what Traefik's swarm provider reads.
    service_args: dict[str, Any] = {"labels": label_list({**pairs(at, "deploy.labels", obj.get("labels"), lambda _k, _p: ""), STACK_LABEL: stack.name}), "mode": mode}
    for key, actions in (("update_config", UPDATE_FAILURE_ACTIONS), ("rollback_config", ROLLBACK_FAILURE_ACTIONS)):
        if key in obj:
            service_args[key] = _update_config(stack, at, f"deploy.{key}", obj[key], actions)
    task_args: dict[str, Any] = {}
    if "placement" in obj:
        task_args["placement"] = _placement(at, obj["placement"], "global_" in mode)
    if "restart_policy" in obj:
        task_args["restart_policy"] = _restart_policy(at, obj["restart_policy"])
    if "resources" in obj:
        task_args["resources"] = _resources(at, obj["resources"])
    # docker stack deploy lower-cases the endpoint mode (VIP is vip).
    endpoint_mode = checks.choice(at, "deploy.endpoint_mode", _lower(obj["endpoint_mode"]), ENDPOINT_MODES) if "endpoint_mode" in obj else None
    return Deploy(service_args, task_args, endpoint_mode)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def endpoint_args(at: checks.At, ports: list[dict[str, Any]], endpoint_mode: str | None) -> dict[str, Any] | None:
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
