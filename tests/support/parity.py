"""What `docker stack deploy` made of a compose file, next to what ha-swarm's translation makes of it:
the compared fields of a service, in Docker's units, read from each side (`translated`, `deployed`),
and Docker's defaults where a file leaves a field unset.  Used by the integration tests of the demo,
of a features stack and of the shared corpus of real stack files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ha_swarm.apps.compose.model import STACK_LABEL, StackSpec
from tests.support.cluster import Swarm, ssh_ok, wait_for

# Docker's values for what a compose file (and so the translation) leaves unset, as `docker
# service inspect` shows them after `docker stack deploy`.
SECOND = 1_000_000_000
DEFAULTS: dict[str, Any] = {
    "constraints": [],
    "preferences": [],
    "max_replicas": 0,
    "update.parallelism": 1,
    "update.delay": 0,
    "update.failure_action": "pause",
    "update.monitor": 5 * SECOND,
    "update.max_failure_ratio": 0,
    "update.order": "stop-first",
    "rollback.parallelism": 1,
    "rollback.delay": 0,
    "rollback.failure_action": "pause",
    "rollback.monitor": 5 * SECOND,
    "rollback.max_failure_ratio": 0,
    "rollback.order": "stop-first",
    "restart.condition": "any",
    "restart.delay": 5 * SECOND,
    "restart.max_attempts": 0,
    "restart.window": 0,
    "limits.nano_cpus": 0,
    "limits.memory_bytes": 0,
    "reservations.nano_cpus": 0,
    "reservations.memory_bytes": 0,
    "endpoint_mode": "vip",
    "ports": [],
    "mounts": [],
    "container_labels": {},
    "args": [],
    "commands": [],
    "env": [],
    "hostname": "",
    "user": "",
    "dir": "",
    "stop_grace_period": 10 * SECOND,  # the daemon's, when the spec has none (docker stack deploy sends none)
    "stop_signal": "",
    "read_only": False,
    "init": None,
    "healthcheck": None,
    "configs": [],
    "secrets": [],
}
# The container fields the translation writes under the same names as Docker's (lower case).
SCALARS = {"hostname": "Hostname", "user": "User", "dir": "Dir", "stop_signal": "StopSignal", "read_only": "ReadOnly", "init": "Init"}
HEALTH_DURATIONS = {"interval": "Interval", "timeout": "Timeout", "start_period": "StartPeriod"}
# docker stack deploy labels each service with the image it deployed (it compares it on the next
# deploy with --resolve-image); the translation adds the same label (issue 16), compared like the rest.
IMAGE_LABEL = "com.docker.stack.image"

_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def nanoseconds(duration: str) -> int:
    """A Go duration string (what the translation writes) in nanoseconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a duration: {duration}"
    return round(sum(float(n) * _UNITS[u] for n, u in parts))


def labels(pairs: list[dict[str, str]] | None) -> dict[str, str]:
    return {p["label"]: p["value"] for p in pairs or []}


def as_the_client_sends(image: str) -> str:
    """The image as Docker's Go client sends it when it creates a service (docker stack deploy's, and
    the Terraform docker provider's under pulumi-docker): tagged `latest` when it has neither a tag nor
    a digest, in its familiar form (no docker.io/library/)."""
    name, at, digest = image.partition("@")
    if not at and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    if name.startswith("docker.io/library/") and name.count("/") == 2:
        name = name.removeprefix("docker.io/library/")
    elif name.startswith("docker.io/"):
        name = name.removeprefix("docker.io/")
    return name + at + digest


def translated(spec: StackSpec, key: str) -> dict[str, Any]:
    """The compared fields of one service of the translation, in Docker's units."""
    args = spec.service(key).args
    task = args["task_spec"]
    container = task["container_spec"]
    placement = task.get("placement", {})
    out: dict[str, Any] = {
        "name": args["name"],
        "image": as_the_client_sends(container["image"]),
        "mode": "global" if "global_" in args["mode"] else "replicated",
        "replicas": args["mode"].get("replicated", {}).get("replicas"),
        "service_labels": labels(args.get("labels")),
        "container_labels": labels(container.get("labels")),
    }
    if "constraints" in placement:
        out["constraints"] = placement["constraints"]
    if "prefs" in placement:
        out["preferences"] = placement["prefs"]
    if "max_replicas" in placement:
        out["max_replicas"] = placement["max_replicas"]
    for section, prefix in (("update_config", "update"), ("rollback_config", "rollback")):
        for field_name, value in args.get(section, {}).items():
            out[f"{prefix}.{field_name}"] = nanoseconds(value) if field_name in ("delay", "monitor") else float(value) if field_name == "max_failure_ratio" else value
    for field_name, value in task.get("restart_policy", {}).items():
        out[f"restart.{field_name}"] = nanoseconds(value) if field_name in ("delay", "window") else value
    for kind in ("limits", "reservation"):
        for field_name, value in task.get("resources", {}).get(kind, {}).items():
            out[f"{'limits' if kind == 'limits' else 'reservations'}.{field_name}"] = value
    endpoint = args.get("endpoint_spec", {})
    if "mode" in endpoint:
        out["endpoint_mode"] = endpoint["mode"]
    if "ports" in endpoint:
        out["ports"] = sorted((p["protocol"], p["target_port"], p.get("published_port", 0), p["publish_mode"]) for p in endpoint["ports"])
    if "mounts" in container:
        out["mounts"] = sorted((m["type"], m.get("source", ""), m["target"], m.get("read_only", False)) for m in container["mounts"])
    service = spec.service(key)
    opts = dict(service.network_driver_opts)
    out["networks"] = sorted((spec.network(n).name, tuple(service.aliases(n)), opts.get(n, ())) for n in service.networks)
    return {**out, **translated_container(spec, key)}


def translated_container(spec: StackSpec, key: str) -> dict[str, Any]:
    """The container's process and files as the translation has them: command, entrypoint,
    environment, the scalars, the healthcheck, and the configs and secrets it mounts (by the name
    `docker stack deploy` gives them: the program's own names carry a digest of the content)."""
    service = spec.service(key)
    container = service.args["task_spec"]["container_spec"]
    out: dict[str, Any] = {name: container[name] for name in ("args", "commands") if name in container}
    if "env" in container:
        out["env"] = sorted(f"{k}={v}" for k, v in container["env"].items())
    out |= {name: container[name] for name in SCALARS if name in container}
    if "stop_grace_period" in container:
        out["stop_grace_period"] = nanoseconds(container["stop_grace_period"])
    if "healthcheck" in container:
        check = container["healthcheck"]
        out["healthcheck"] = {
            "test": check.get("tests", []),
            "retries": check.get("retries", 0),
            **{name: nanoseconds(check[name]) if name in check else 0 for name in HEALTH_DURATIONS},
        }
    for kind, mounts in (("configs", service.configs), ("secrets", service.secrets)):
        names = {o.key: o.name for o in getattr(spec, kind)}
        out[kind] = sorted((names.get(m.key, m.key), m.file_name, m.uid, m.gid, m.mode) for m in mounts)
    return out


def deployed(inspect: dict[str, Any], network_names: dict[str, str]) -> dict[str, Any]:
    """The same fields, read from `docker service inspect`."""
    spec = inspect["Spec"]
    task = spec["TaskTemplate"]
    container = task["ContainerSpec"]
    placement = task.get("Placement", {})
    mode = spec["Mode"]
    out: dict[str, Any] = {
        "name": spec["Name"],
        "image": container["Image"],
        "mode": "global" if "Global" in mode else "replicated",
        "replicas": mode.get("Replicated", {}).get("Replicas"),
        "service_labels": spec.get("Labels", {}),
        "container_labels": container.get("Labels", {}),
        "constraints": placement.get("Constraints", []),
        "preferences": [p["Spread"]["SpreadDescriptor"] for p in placement.get("Preferences", [])],
        "max_replicas": placement.get("MaxReplicas", 0),
    }
    for section, prefix in (("UpdateConfig", "update"), ("RollbackConfig", "rollback")):
        config = spec.get(section, {})
        out[f"{prefix}.parallelism"] = config.get("Parallelism", 1)
        out[f"{prefix}.delay"] = config.get("Delay", 0)
        out[f"{prefix}.failure_action"] = config.get("FailureAction", "pause")
        out[f"{prefix}.monitor"] = config.get("Monitor", 5 * SECOND)
        out[f"{prefix}.max_failure_ratio"] = config.get("MaxFailureRatio", 0)
        out[f"{prefix}.order"] = config.get("Order", "stop-first")
    restart = task.get("RestartPolicy", {})
    out["restart.condition"] = restart.get("Condition", "any")
    out["restart.delay"] = restart.get("Delay", 5 * SECOND)
    out["restart.max_attempts"] = restart.get("MaxAttempts", 0)
    out["restart.window"] = restart.get("Window", 0)
    resources = task.get("Resources", {})
    for kind in ("Limits", "Reservations"):
        amounts = resources.get(kind, {})
        out[f"{kind.lower()}.nano_cpus"] = amounts.get("NanoCPUs", 0)
        out[f"{kind.lower()}.memory_bytes"] = amounts.get("MemoryBytes", 0)
    endpoint = spec.get("EndpointSpec", {})
    out["endpoint_mode"] = endpoint.get("Mode", "vip")
    out["ports"] = sorted((p["Protocol"], p["TargetPort"], p.get("PublishedPort", 0), p["PublishMode"]) for p in endpoint.get("Ports", []))
    out["mounts"] = sorted((m["Type"], m.get("Source", ""), m["Target"], m.get("ReadOnly", False)) for m in container.get("Mounts", []))
    out["networks"] = sorted(
        (network_names[n["Target"]], tuple(n.get("Aliases", [])), tuple(sorted((n.get("DriverOpts") or {}).items()))) for n in task.get("Networks", [])
    )
    return {**out, **deployed_container(container)}


def deployed_container(container: dict[str, Any]) -> dict[str, Any]:
    """The same container fields, read from a `docker service inspect`'s ContainerSpec."""
    out: dict[str, Any] = {
        "args": container.get("Args", []),
        "commands": container.get("Command", []),
        "env": sorted(container.get("Env", [])),
        "stop_grace_period": container.get("StopGracePeriod", DEFAULTS["stop_grace_period"]),
        "healthcheck": None,
    }
    out |= {name: container.get(docker, DEFAULTS[name]) for name, docker in SCALARS.items()}
    if "Healthcheck" in container:
        check = container["Healthcheck"]
        out["healthcheck"] = {"test": check.get("Test", []), "retries": check.get("Retries", 0), **{n: check.get(d, 0) for n, d in HEALTH_DURATIONS.items()}}
    for kind, name_key in (("Configs", "ConfigName"), ("Secrets", "SecretName")):
        out[kind.lower()] = sorted(
            (o[name_key], o["File"]["Name"], o["File"]["UID"], o["File"]["GID"], o["File"]["Mode"]) for o in container.get(kind) or [] if "File" in o
        )
    return out


def differences(a: Any, b: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


def deploy(swarm: Swarm, path: Path, variables: dict[str, str], stack: str) -> None:
    """`docker stack deploy` over SSH on the first manager, with the variables in its environment."""
    env = " ".join(f"{k}={v}" for k, v in variables.items())
    ssh_ok(swarm.harness.ssh(swarm.first, f"env {env} docker stack deploy --resolve-image never -c - {stack}", stdin=path.read_text()), "docker stack deploy")


def remove(swarm: Swarm, stack: str, timeout: float = 60) -> None:
    first = swarm.first
    first.docker("stack", "rm", stack, check=False)
    wait_for(
        lambda: (
            not first.docker("network", "ls", "-q", "--filter", f"label={STACK_LABEL}={stack}")
            and not first.docker("service", "ls", "-q", "--filter", f"label={STACK_LABEL}={stack}")
        ),
        timeout,
        f"the stack {stack} to be removed",
    )


def compare(swarm: Swarm, spec: StackSpec) -> None:
    """Every task runs; then the fields compare (`compare_specs`)."""
    first = swarm.first
    global_count = len(swarm.harness.hosts)
    wanted = {s.name: s.args["mode"].get("replicated", {}).get("replicas", global_count) for s in spec.services}

    def all_running() -> bool:
        return all(len([t for t in swarm.running_tasks(first, name) if t[1].startswith("Running")]) == count for name, count in wanted.items())

    wait_for(all_running, 120, f"every task of the stack {spec.name} to run")
    compare_specs(swarm, spec)


def compare_specs(swarm: Swarm, spec: StackSpec) -> None:
    """Each service's fields, as the translation has them (or Docker's default where it sets
    nothing), equal `docker service inspect`'s; and so do the stack's own networks."""
    first = swarm.first
    network_names = sorted(n.name for n in spec.networks)
    networks = json.loads(ssh_ok(swarm.harness.ssh(first, "docker network inspect " + " ".join(network_names)), "network inspect"))
    names = {n["Id"]: n["Name"] for n in networks}
    inspected = json.loads(ssh_ok(swarm.harness.ssh(first, "docker service inspect " + " ".join(s.name for s in spec.services)), "service inspect"))
    by_name = {s["Spec"]["Name"]: s for s in inspected}
    mismatches = []
    for service in spec.services:
        want = {**DEFAULTS, **translated(spec, service.key)}
        have = deployed(by_name[service.name], names)
        assert set(want) == set(have), f"compared fields differ: {set(want) ^ set(have)}"
        mismatches += [(service.name, *d) for d in differences(want, have)]
        assert by_name[service.name]["Spec"]["Labels"][IMAGE_LABEL] == service.args["task_spec"]["container_spec"]["image"]
    assert not mismatches, "translation (or Docker's default where it sets nothing) vs docker stack deploy:\n" + "\n".join(
        f"  {name} {path}: translation {a!r}, docker {b!r}" for name, path, a, b in mismatches
    )
    for ref in spec.networks:
        network = next(n for n in networks if n["Name"] == ref.name)
        if ref.external:
            continue
        assert (network["Driver"], network["Attachable"], network["Internal"], network["Labels"]) == (ref.driver, ref.attachable, ref.internal, dict(ref.labels))
        assert {k: (network["Options"] or {}).get(k) for k, _ in ref.driver_opts} == dict(ref.driver_opts)
        if ref.ipam_subnets:
            assert sorted(c["Subnet"] for c in network["IPAM"]["Config"] or []) == sorted(ref.ipam_subnets)
