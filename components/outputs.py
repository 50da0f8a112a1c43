"""The stack outputs: what a user needs next.  None of them holds a secret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.compose import StackSpec
from components.docker_access import docker_host
from components.nodes import Node

_HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")
_ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.([^.]+)\.rule$")
_STICKY = re.compile(r"^traefik\.http\.services\.[^.]+\.loadbalancer\.sticky\.cookie(\.name)?$")


def _service_labels(args: Mapping[str, Any]) -> dict[str, str]:
    return {str(item["label"]): str(item["value"]) for item in args.get("labels") or []}


def routed_hosts(specs: Iterable[StackSpec]) -> list[tuple[str, str, bool]]:
    """(service name, host name, sticky) for every Host(`...`) rule in the stacks' Traefik labels."""
    found = []
    for spec in specs:
        for service in spec.services:
            labels = _service_labels(service.args)
            sticky = any(_STICKY.match(k) and v != "false" for k, v in labels.items())
            for key, rule in sorted(labels.items()):
                if _ROUTER_RULE.match(key):
                    found.extend((service.name, host, sticky) for host in _HOST_RULE.findall(rule))
    return found


def endpoints(specs: Sequence[StackSpec], nodes: Sequence[Node], publish_mode: str = "ingress") -> list[dict[str, Any]]:
    """For each routed host: the URL, the Host header, and the tutorial's curl lines (on every
    node through the routing mesh; on every manager when Traefik publishes in host mode)."""
    manager = next(n for n in nodes if n.role == "manager")
    answering = [n for n in nodes if publish_mode == "ingress" or n.role == "manager"]
    url = f"http://{manager.ssh_address}"
    result = []
    for service, host, sticky in routed_hosts(specs):
        entry: dict[str, Any] = {
            "service": service,
            "host": host,
            "url": url,
            "header": f"Host: {host}",
            "curl": f"curl -H Host:{host} {url}",
            "curlEveryNode": [f"curl -H Host:{host} http://{n.ssh_address}" for n in answering],
        }
        if sticky:
            entry["curlSticky"] = f"curl -c cookie.txt -b cookie.txt -H Host:{host} {url}"
        result.append(entry)
    return result


def node_list(nodes: Sequence[Node]) -> list[dict[str, str]]:
    return [{"name": n.name, "role": n.role, "address": n.ssh_address} for n in nodes]


def manager_outputs(nodes: Sequence[Node]) -> dict[str, str]:
    manager = next(n for n in nodes if n.role == "manager")
    return {"managerAddress": manager.ssh_address, "dockerHost": docker_host(manager)}
