"""The container keys of a service beyond image, command and mounts: environment and env_file,
logging, extra_hosts, DNS, capabilities, sysctls, stop signal, isolation, credential spec; and the
keys that `docker stack deploy` converts but the Docker provider (pulumi_docker 5.x) cannot express,
refused with what to do instead.  Facts from docker/cli's loader and converter (cli/compose)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any

from ha_swarm.apps.compose.model import StackContext
from ha_swarm.apps.compose.values import go_text, only_supported, pairs, strings
from ha_swarm.config import checks

CONTAINER_KEYS = (
    "env_file",
    "logging",
    "extra_hosts",
    "dns",
    "dns_search",
    "dns_opt",
    "cap_add",
    "cap_drop",
    "sysctls",
    "stop_signal",
    "isolation",
    "credential_spec",
)
# What docker stack deploy converts and pulumi_docker.Service has no field for.
NOT_EXPRESSIBLE = {
    "ulimits": "set the limit in the image or its entrypoint (ulimit -n ...)",
    "tty": "run the image without a terminal, or with `script` in its entrypoint",
    "stdin_open": "have the process read no standard input",
    "oom_score_adj": "leave it out (swarm tasks take the engine's default)",
}
PROVIDER = "the Docker provider (pulumi_docker.Service) cannot set it"
LOGGING_KEYS = ("driver", "options")
CREDENTIAL_KEYS = ("file", "registry", "config")
_ENV_NAME_SPACES = re.compile(r"[ \t]")


def not_expressible(at: checks.At, key: str, value: Any) -> checks.Refusal:
    return at.refuse(key, value, f"nothing: {PROVIDER}; {NOT_EXPRESSIBLE[key]}")


def string_list(at: checks.At, path: str, value: Any, what: str) -> list[str]:
    """A string or a list of strings (compose's string_or_list)."""
    return [value] if isinstance(value, str) else strings(at, path, value, what)


def environment(stack: StackContext, at: checks.At, obj: Mapping[str, Any]) -> dict[str, str] | None:
    """env_file entries, then `environment`, as docker stack deploy merges them.  A variable whose value
    is empty or missing takes the value of the program's variable of that name, as docker takes the
    shell's; a bare KEY that no variable provides cannot be expressed (the provider's env is a map)."""
    if "env_file" not in obj and "environment" not in obj:
        return None
    merged: dict[str, str | None] = {}
    for i, file in enumerate(string_list(at, "env_file", obj.get("env_file", []), "a file name or a list of file names")):
        path = "env_file" if isinstance(obj["env_file"], str) else f"env_file[{i}]"
        merged.update(_resolved(stack, _env_file(stack, at, path, file)))
    if "environment" in obj:
        merged.update(_resolved(stack, pairs(at, "environment", obj["environment"], lambda _key, _path: None)))  # type: ignore[arg-type, return-value]
    for key, value in merged.items():
        if value is None:
            provided = ", ".join(sorted(stack.variables)) or "none"
            allowed = f"KEY=VALUE; a bare KEY is only allowed for a variable the program provides ({provided})"
            raise at.refuse(checks.join("environment", key), key, allowed)
    return {k: v for k, v in sorted(merged.items()) if v is not None}


def _resolved(stack: StackContext, values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {k: stack.variables[k] if (v is None or v == "") and k in stack.variables else v for k, v in values.items()}


def _env_file(stack: StackContext, at: checks.At, path: str, file: str) -> dict[str, str | None]:
    """An env file as docker reads one: KEY=VALUE lines taken as they are (no quotes, no ${}), `#`
    comment lines and blank lines skipped, a bare KEY from the program's variables or left out."""
    full = file if os.path.isabs(file) else os.path.join(stack.base_dir, file)
    try:
        with open(full, encoding="utf-8") as handle:
            lines = handle.read().removeprefix("\ufeff").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise at.refuse(path, file, f"a readable UTF-8 env file, relative to the compose file ({getattr(error, 'strerror', None) or error})") from None
    values: dict[str, str | None] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key or _ENV_NAME_SPACES.search(key):
            raise at.refuse(path, file, f"an env file of KEY=VALUE lines (line {number} has no variable name, or one with spaces)")
        if sep:
            values[key] = value
        elif key in stack.variables:
            values[key] = stack.variables[key]
    return values


def logging(at: checks.At, raw: Any) -> dict[str, Any]:
    """`logging` -> the task's log driver (docker stack deploy sets driver and options as given)."""
    obj = checks.mapping(at, "logging", raw)
    only_supported(at, "logging", obj, LOGGING_KEYS)
    driver = checks.text(at, "logging.driver", obj.get("driver"), f"a log driver name such as json-file or journald ({PROVIDER} without one)")
    options = {k: go_text(at, checks.join("logging.options", k), v) for k, v in checks.mapping(at, "logging.options", obj.get("options")).items() if v is not None}
    return {"name": driver, **({"options": dict(sorted(options.items()))} if options else {})}


def extra_hosts(at: checks.At, raw: Any) -> list[dict[str, str]]:
    """`extra_hosts` (HOST:IP or HOST=IP, or a mapping) -> the container's hosts, in the file's order."""
    if isinstance(raw, Mapping):
        entries = [(str(k), go_text(at, checks.join("extra_hosts", k), v)) for k, v in sorted(raw.items(), key=lambda kv: f"{kv[0]}:{kv[1]}")]
    else:
        entries = []
        for i, item in enumerate(checks.items(at, "extra_hosts", raw, "a list of HOST:IP or a mapping of HOST: IP")):
            text = go_text(at, f"extra_hosts[{i}]", item)
            separators = [s for s in ("=", ":") if s in text]
            if not separators:
                raise at.refuse(f"extra_hosts[{i}]", item, "HOST:IP or HOST=IP")
            host, _, ip = text.partition(separators[0] if "=" in text else ":")
            entries.append((host, ip))
    hosts = []
    for host, ip in entries:
        address = ip[1:-1] if len(ip) > 2 and ip.startswith("[") and ip.endswith("]") else ip
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise at.refuse(checks.join("extra_hosts", host), ip, "an IP address for the host name") from None
        hosts.append({"host": host, "ip": address})
    return hosts


def dns_config(at: checks.At, obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """`dns`, `dns_search` (and `dns_opt`, which the provider takes too) -> the container's DNS config."""
    servers = string_list(at, "dns", obj.get("dns", []), "an IP address or a list of them")
    for i, server in enumerate(servers):
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise at.refuse("dns" if isinstance(obj["dns"], str) else f"dns[{i}]", server, "an IP address of a DNS server") from None
    searches = string_list(at, "dns_search", obj.get("dns_search", []), "a domain or a list of them")
    options = string_list(at, "dns_opt", obj.get("dns_opt", []), "a resolver option or a list of them")
    if not servers and not searches and not options:
        return None
    if not servers:
        key = "dns_search" if searches else "dns_opt"
        raise at.refuse(key, obj[key], f"nothing without dns: {PROVIDER} without a name server (give dns: too)")
    config: dict[str, Any] = {"nameservers": servers}
    if searches:
        config["searches"] = searches
    if options:
        config["options"] = options
    return config


def capabilities(at: checks.At, obj: Mapping[str, Any]) -> dict[str, list[str]]:
    """cap_add and cap_drop as docker stack deploy sends them: upper case with CAP_, ALL alone, an added
    capability not dropped, each sorted."""

    def normal(key: str) -> set[str]:
        found = {c.strip().upper() for c in strings(at, key, obj.get(key, []), "a list of capabilities such as NET_ADMIN")}
        found = {c if c in ("ALL", "RESET") or c.startswith("CAP_") else f"CAP_{c}" for c in found}
        return {"ALL"} if "ALL" in found else found

    added, dropped = normal("cap_add"), normal("cap_drop")
    result = {"cap_adds": sorted(added - {"RESET"}), "cap_drops": sorted(dropped - added - {"RESET"})}
    return {k: v for k, v in result.items() if v}


def sysctls(at: checks.At, raw: Any) -> dict[str, str]:
    return dict(sorted(pairs(at, "sysctls", raw, lambda _key, _path: "").items()))


def credential_spec(at: checks.At, raw: Any) -> dict[str, str]:
    obj = checks.mapping(at, "credential_spec", raw)
    only_supported(at, "credential_spec", obj, CREDENTIAL_KEYS)
    if "config" in obj:
        raise at.refuse("credential_spec.config", obj["config"], f"file or registry: {PROVIDER} from a config")
    given = {k: checks.text(at, checks.join("credential_spec", k), v) for k, v in obj.items() if k in ("file", "registry")}
    if len(given) != 1:
        raise at.refuse("credential_spec", raw, "one of file or registry (docker stack deploy refuses both)")
    return given
