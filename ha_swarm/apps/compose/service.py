"""One compose service turned into the keyword arguments of `pulumi_docker.Service`: the container
spec, the networks, the ports and the deploy section."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ha_swarm.apps.compose.container import (
    CONTAINER_KEYS,
    NOT_EXPRESSIBLE,
    PROVIDER,
    capabilities,
    credential_spec,
    dns_config,
    environment,
    extra_hosts,
    logging,
    not_expressible,
    sysctls,
)
from ha_swarm.apps.compose.deploy import deploy_args, endpoint_args, legacy_restart
from ha_swarm.apps.compose.interpolate import interpolate
from ha_swarm.apps.compose.model import DEFAULT_NETWORK, IMAGE_LABEL, STACK_LABEL, ServiceSpec, StackContext, freeze
from ha_swarm.apps.compose.mounts import mount
from ha_swarm.apps.compose.objects import object_mounts
from ha_swarm.apps.compose.values import (
    SWARM_NAME,
    command_args,
    duration,
    label_list,
    only_supported,
    pairs,
    port_specs,
    strings,
    user,
    without_extensions,
)
from ha_swarm.config import checks

SERVICE_KEYS = (
    "image",
    "command",
    "entrypoint",
    "environment",
    "labels",
    "ports",
    "networks",
    "volumes",
    "healthcheck",
    "hostname",
    "user",
    "working_dir",
    "stop_grace_period",
    "read_only",
    "init",
    "deploy",
    "restart",
    "configs",
    "secrets",
    *CONTAINER_KEYS,
)
# What docker stack deploy ignores (docker/cli's loader lists them as unsupported or deprecated, or
# its converter never reads them): accepted, as docker accepts them, with one warning per key.
IGNORED_KEYS = {
    "build": "swarm services run an image that exists: build and push it first (docker stack deploy ignores build)",
    "cgroup_parent": "swarm services take no cgroup parent",
    "cgroupns_mode": "swarm services take no cgroup namespace mode",
    "container_name": "swarm names the containers of a service itself",
    "depends_on": "swarm starts services in no particular order; make each one wait for what it needs",
    "devices": "swarm services cannot map devices",
    "domainname": "swarm services take no domain name",
    "expose": "services on the same network reach each other's containers on any port",
    "external_links": "swarm services reach each other by name on a shared network",
    "ipc": "swarm services take no IPC mode",
    "links": "swarm services reach each other by name on a shared network",
    "mac_address": "swarm services take no MAC address",
    "network_mode": "swarm services join networks with networks:",
    "pid": "swarm services take no PID mode",
    "privileged": "swarm services cannot run privileged (give cap_add instead)",
    "security_opt": "swarm services take no security options",
    "shm_size": "swarm services take no /dev/shm size (mount a tmpfs at /dev/shm instead)",
    "tmpfs": "docker stack deploy does not read the service key tmpfs: mount one with a volumes entry of type: tmpfs",
    "userns_mode": "swarm services take no user namespace mode",
}
# What docker stack deploy refuses ("compose file contains unsupported options"), with its advice.
FORBIDDEN_KEYS = {
    "extends": "docker stack deploy does not implement extends",
    "volume_driver": "define a volume under the top-level volumes: with its driver and mount that",
    "volumes_from": "define a volume under the top-level volumes: and mount it in each service that shares it",
    "cpu_quota": "set limits with deploy.resources",
    "cpu_shares": "set limits with deploy.resources",
    "cpuset": "set limits with deploy.resources",
    "mem_limit": "set limits with deploy.resources",
    "memswap_limit": "set limits with deploy.resources",
}
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "start_period", "retries", "disable", "start_interval")
HEALTHCHECK_KINDS = ("NONE", "CMD", "CMD-SHELL")


# What a service says of one of its networks (compose `networks: {NAME: {...}}`).
SERVICE_NETWORK_KEYS = ("aliases", "driver_opts", "ipv4_address", "ipv6_address")
ServiceNetworks = tuple[tuple[str, ...], tuple[tuple[str, tuple[str, ...]], ...], tuple[tuple[str, tuple[tuple[str, str], ...]], ...]]


def _service_networks(stack: StackContext, at: checks.At, raw: Any) -> ServiceNetworks:
    """The networks' keys in docker's order, the aliases and the driver options per network."""
    if raw is None or raw == [] or raw == {}:
        entries: dict[str, Any] = {DEFAULT_NETWORK: None}  # docker stack deploy attaches such services to <stack>_default
    elif isinstance(raw, list):
        entries = {}
        for i, item in enumerate(raw):
            key = checks.text(at, f"networks[{i}]", item, "a network name declared under the top-level networks:")
            if key in entries:
                raise at.refuse(f"networks[{i}]", item, "each network once")
            entries[key] = None
    else:
        entries = dict(checks.mapping(at, "networks", raw, "a list of network names or a mapping of network name to {aliases}"))
    aliases, driver_opts = [], []
    for key, options in entries.items():
        path = checks.join("networks", key)
        if key not in stack.networks and key != DEFAULT_NETWORK:
            declared = ", ".join(stack.networks) or "none"
            raise at.refuse(path, key, f"references undeclared network {key!r}: declare it under the top-level networks: (declared: {declared})")
        obj = checks.mapping(at, path, options, "null or a mapping of aliases, driver_opts, ipv4_address, ipv6_address")
        only_supported(at, path, obj, SERVICE_NETWORK_KEYS)
        if "aliases" in obj:
            aliases.append((key, tuple(strings(at, checks.join(path, "aliases"), obj["aliases"], "a list of DNS names"))))
        if "driver_opts" in obj:
            opts_path = checks.join(path, "driver_opts")
            checks.mapping(at, opts_path, obj["driver_opts"], "a mapping of option: value")
            driver_opts.append((key, tuple(sorted(pairs(at, opts_path, obj["driver_opts"], lambda _k, _p: "").items()))))
        for address in ("ipv4_address", "ipv6_address"):
            if address in obj:
                checks.text(at, checks.join(path, address), obj[address], "an address (a string)")
                stack.ignore_here(f"networks.{address}", "swarm's IPAM gives each task its address")
        stack.used_networks.add(key)

    def target(key: str) -> str:
        return stack.networks[key].name if key in stack.networks else f"{stack.name}_{key}"

    return tuple(sorted(entries, key=target)), tuple(aliases), tuple(driver_opts)


def _healthcheck(at: checks.At, raw: Any) -> dict[str, Any]:
    obj = checks.mapping(at, "healthcheck", raw)
    only_supported(at, "healthcheck", obj, HEALTHCHECK_KEYS)
    if checks.boolean(at, "healthcheck.disable", obj.get("disable", False)):
        if "test" in obj:
            raise at.refuse("healthcheck.test", obj["test"], "nothing when disable is true")
        return {"tests": ["NONE"]}
    if "start_interval" in obj:
        raise at.refuse("healthcheck.start_interval", obj["start_interval"], f"nothing: {PROVIDER}; leave it out (checks then run every interval from the start)")
    check: dict[str, Any] = {}
    if "test" in obj:
        check["tests"] = _health_test(at, obj["test"])
    for key in ("interval", "timeout", "start_period"):
        if key in obj:
            check[key] = duration(at, f"healthcheck.{key}", obj[key])
    if "retries" in obj:
        check["retries"] = checks.whole(at, "healthcheck.retries", obj["retries"], 0)
    return check


def _health_test(at: checks.At, value: Any) -> list[str]:
    if isinstance(value, str):
        return ["CMD-SHELL", checks.text(at, "healthcheck.test", value, "a shell command or a list starting with CMD, CMD-SHELL or NONE")]
    test = strings(at, "healthcheck.test", value, "a shell command or a list starting with CMD, CMD-SHELL or NONE")
    if not test or test[0] not in HEALTHCHECK_KINDS or (test[0] != "NONE" and len(test) < 2):
        raise at.refuse("healthcheck.test", value, "a list starting with CMD or CMD-SHELL followed by the command, or [NONE]")
    return test


_CONTAINER_SCALARS: tuple[tuple[str, str, Callable[[checks.At, str, Any], Any]], ...] = (
    ("hostname", "hostname", checks.text),
    ("user", "user", user),
    ("working_dir", "dir", checks.text),
    ("stop_grace_period", "stop_grace_period", duration),
    ("read_only", "read_only", checks.boolean),
    ("init", "init", checks.boolean),
    ("stop_signal", "stop_signal", checks.text),
    ("isolation", "isolation", checks.text),
)


def _container_spec(stack: StackContext, at: checks.At, obj: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": checks.image_reference(at, "image", obj.get("image"), "an image reference such as traefik/whoami:v1.10 (image is required)")}
    if "command" in obj:
        spec["args"] = command_args(at, "command", obj["command"])  # compose command -> container args
    if "entrypoint" in obj:
        spec["commands"] = command_args(at, "entrypoint", obj["entrypoint"])  # compose entrypoint -> container command
    env = environment(stack, at, obj)
    if env is not None:
        spec["env"] = env
    spec["labels"] = label_list({**pairs(at, "labels", obj.get("labels"), lambda _k, _p: ""), STACK_LABEL: stack.name})
    if "volumes" in obj:
        spec["mounts"] = [mount(stack, at, f"volumes[{i}]", item) for i, item in enumerate(checks.items(at, "volumes", obj["volumes"]))]
    if "healthcheck" in obj:
        spec["healthcheck"] = _healthcheck(at, obj["healthcheck"])
    for key, out, convert in _CONTAINER_SCALARS:
        if key in obj:
            spec[out] = convert(at, key, obj[key])
    if "extra_hosts" in obj:
        spec["hosts"] = extra_hosts(at, obj["extra_hosts"])
    if (dns := dns_config(at, obj)) is not None:
        spec["dns_config"] = dns
    spec.update(capabilities(at, obj))
    if "sysctls" in obj:
        spec["sysctl"] = sysctls(at, obj["sysctls"])
    if "credential_spec" in obj:
        spec["privileges"] = {"credential_spec": credential_spec(at, obj["credential_spec"])}
    return spec


def translate_service(stack: StackContext, key: str, raw: Any) -> ServiceSpec:
    top = checks.in_file(stack.file)
    name = f"{stack.name}_{key}"
    if not SWARM_NAME.match(key) or len(name) > 63:
        raise top.refuse(
            checks.join("services", key), key, f"a service name of letters and digits with '-' or '_' between them, {63 - len(stack.name) - 1} characters at most"
        )
    at = checks.in_file(stack.file, key)
    stack.current = key
    obj = checks.mapping(top, checks.join("services", key), raw, "a mapping of service keys")
    for found in obj:
        if found in FORBIDDEN_KEYS:
            raise at.refuse(found, obj[found], f"nothing: docker stack deploy refuses it too ({FORBIDDEN_KEYS[found]})")
        if found in NOT_EXPRESSIBLE:
            raise not_expressible(at, found, obj[found])
    for found in [k for k in obj if k in IGNORED_KEYS]:
        stack.ignore(found, key, IGNORED_KEYS[found])
        obj = {k: v for k, v in obj.items() if k != found}
    only_supported(at, "", obj, SERVICE_KEYS)
    obj = interpolate(without_extensions(obj), stack.variables, at, "")
    networks, aliases, driver_opts = _service_networks(stack, at, obj.get("networks"))
    deploy = deploy_args(stack, at, obj.get("deploy"))
    if "restart" in obj:
        # docker stack deploy maps `restart` only when deploy.restart_policy is not given.
        if "restart_policy" in deploy.task_args:
            stack.ignore("restart", key, "deploy.restart_policy is given, and docker stack deploy then ignores restart")
        elif (policy := legacy_restart(at, obj["restart"])) is not None:
            deploy.task_args["restart_policy"] = policy
    args: dict[str, Any] = {"name": name, **deploy.service_args, "task_spec": {"container_spec": _container_spec(stack, at, obj), **deploy.task_args}}
    labels = {item["label"]: item["value"] for item in args["labels"]}
    args["labels"] = label_list({**labels, IMAGE_LABEL: args["task_spec"]["container_spec"]["image"]})
    if "logging" in obj:
        args["task_spec"]["log_driver"] = logging(at, obj["logging"])

    def ignored_ip(port: str) -> None:
        stack.ignore("ports (a host IP)", key, f"swarm publishes a port on every address of every node ({port})")

    endpoint_spec = endpoint_args(at, port_specs(at, obj["ports"], ignored_ip) if "ports" in obj else [], deploy.endpoint_mode)
    if endpoint_spec:
        args["endpoint_spec"] = endpoint_spec
    objects = {kind: object_mounts(stack, at, kind, obj[kind]) if kind in obj else () for kind in ("configs", "secrets")}
    return ServiceSpec(
        key=key,
        name=name,
        networks=networks,
        network_aliases=aliases,
        network_driver_opts=driver_opts,
        frozen_args=freeze(args),
        configs=objects["configs"],
        secrets=objects["secrets"],
    )
