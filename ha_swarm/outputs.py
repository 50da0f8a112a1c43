"""The stack outputs: what a user needs next.  None of them holds a secret."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pulumi_docker as docker

from ha_swarm.apps.compose.model import StackSpec
from ha_swarm.config.checks import in_file
from ha_swarm.config.model import TraefikSettings
from ha_swarm.ingress.docker_access import docker_host
from ha_swarm.ingress.docker_api import DOCKER_API_PROXY
from ha_swarm.ingress.traefik import TRAEFIK_SERVICE, traefik_mode
from ha_swarm.nodes.node import Node

_HOST_RULE = re.compile(r"Host\(`([^`]+)`\)")
_ROUTER_RULE = re.compile(r"^traefik\.http\.routers\.([^.]+)\.rule$")
_STICKY = re.compile(r"^traefik\.http\.services\.[^.]+\.loadbalancer\.sticky\.cookie(\.name)?$")
_ONE_WORD = re.compile(r"[^\s#`]+")
_COOKIE_NAME = re.compile(r"^traefik\.http\.services\.[^.]+\.loadbalancer\.sticky\.cookie\.name$")


def _service_labels(args: Mapping[str, Any]) -> dict[str, str]:
    return {str(item["label"]): str(item["value"]) for item in args.get("labels") or []}


class Route(NamedTuple):
    service: str  # the swarm service behind the host name
    host: str
    sticky: bool
    cookie: str | None  # the sticky cookie's name when a label sets it (else Traefik makes one up)


def routed_hosts(specs: Iterable[StackSpec]) -> list[Route]:
    """A Route for every Host(`...`) rule in the stacks' Traefik labels."""
    found: list[Route] = []
    for spec in specs:
        for service in spec.services:
            labels = _service_labels(service.args)
            sticky = any(_STICKY.match(k) and v != "false" for k, v in labels.items())
            cookie = next((v for k, v in sorted(labels.items()) if _COOKIE_NAME.match(k)), None) if sticky else None
            for key, rule in sorted(labels.items()):
                if _ROUTER_RULE.match(key):
                    found.extend(Route(service.name, host, sticky, cookie) for host in _HOST_RULE.findall(rule))
    return found


def check_routes(specs: Iterable[StackSpec]) -> None:
    """Refuse, before any resource, a Host rule name or a sticky cookie name with blanks: verify.sh
    and the curl lines take each as one word (and no request ever carries such a host name)."""
    for spec in specs:
        for service in spec.services:
            for key, value in sorted(_service_labels(service.args).items()):
                names = _HOST_RULE.findall(value) if _ROUTER_RULE.match(key) else [value] if _COOKIE_NAME.match(key) else []
                if any(not _ONE_WORD.fullmatch(name) for name in names):
                    raise in_file(spec.file, service.key).refuse(f"deploy.labels.{key}", value, "host and cookie names without blanks")


def answering_nodes(nodes: Sequence[Node], traefik: TraefikSettings) -> list[Node]:
    """The nodes where Traefik answers: every node through the routing mesh; with ports published
    in host mode, the managers that run a Traefik (all of them, or the ACME store's one)."""
    if traefik.publish_mode == "ingress":
        return list(nodes)
    if traefik.acme is not None and not traefik.acme.replicated:
        return [n for n in nodes if n.name == traefik.acme.node]
    return [n for n in nodes if n.role == "manager"]


def endpoints(specs: Sequence[StackSpec], nodes: Sequence[Node], traefik: TraefikSettings) -> list[dict[str, Any]]:
    """For each routed host: the URL and the tutorial's curl lines, on one node and on every node
    that answers. With HTTPS on, the curl lines go to https and pin the host name to a node's
    address with --resolve, so that the certificate is checked for the right name."""
    answering = answering_nodes(nodes, traefik)
    first = answering[0]
    result = []
    for service, host, sticky, cookie in routed_hosts(specs):
        if traefik.tls:

            def curl(node: Node, extra: str = "", host: str = host) -> str:
                return f"curl {extra}--resolve {host}:443:{node.ssh_address} https://{host}/"

            entry: dict[str, Any] = {"service": service, "host": host, "url": f"https://{host}/"}
            if traefik.redirect_https:
                entry["curlRedirect"] = f"curl -sI -H Host:{host} http://{first.ssh_address}/"
        else:

            def curl(node: Node, extra: str = "", host: str = host) -> str:
                return f"curl {extra}-H Host:{host} http://{node.ssh_address}"

            entry = {"service": service, "host": host, "url": f"http://{first.ssh_address}", "header": f"Host: {host}"}
        entry["curl"] = curl(first)
        entry["curlEveryNode"] = [curl(n) for n in answering]
        entry["addresses"] = [n.ssh_address for n in answering]
        entry["sticky"] = sticky
        if sticky:
            entry["curlSticky"] = curl(first, "-c cookie.txt -b cookie.txt ")
            if cookie:
                entry["cookie"] = cookie
        result.append(entry)
    return result


def services(specs: Sequence[StackSpec], traefik: TraefikSettings) -> list[dict[str, Any]]:
    """Every swarm service the stack declares, Traefik and its Docker API proxy first, with its mode
    and replica count."""
    traefik_args = traefik_mode(traefik)
    replicated = traefik_args.replicated
    traefik_entry: dict[str, Any] = {"global_": True}
    if isinstance(replicated, docker.ServiceModeReplicatedArgs):
        traefik_entry = {"replicated": {"replicas": replicated.replicas}}
    found: list[tuple[str, Mapping[str, Any]]] = [(TRAEFIK_SERVICE, traefik_entry), (DOCKER_API_PROXY, {"global_": True})]
    found += [(service.name, service.args["mode"]) for spec in specs for service in spec.services]
    result: list[dict[str, Any]] = []
    for name, mode in found:
        if mode.get("global_"):
            result.append({"name": name, "mode": "global"})
        else:
            result.append({"name": name, "mode": "replicated", "replicas": int(mode["replicated"]["replicas"])})
    return result


def node_list(nodes: Sequence[Node]) -> list[dict[str, str]]:
    return [{"name": n.name, "role": n.role, "address": n.ssh_address} for n in nodes]


def manager_outputs(manager: Node) -> dict[str, str]:
    """Where the first manager is, and the DOCKER_HOST that reaches its daemon."""
    return {"managerAddress": manager.ssh_address, "dockerHost": docker_host(manager)}


def host_keys(nodes: Sequence[Node]) -> dict[str, Any]:
    """The stack output `hostKeys`: the key every connection to a node pins and where it comes from
    (configured, generated, or recorded at the first contact: trust on first use), by node name;
    and the jump host's (lab over qemu+ssh). `make verify` reads it."""
    out: dict[str, Any] = {"nodes": {n.name: {"key": n.host_key.key, "pinned": n.host_key.source} for n in nodes}}
    via = next((n for n in nodes if n.spec.jump is not None and n.jump_host_key is not None), None)
    if via is not None and via.spec.jump is not None and via.jump_host_key is not None:
        jump = via.spec.jump
        out["jumpHost"] = {"address": jump.host, "port": jump.port, "key": via.jump_host_key.key, "pinned": via.jump_host_key.source}
    return out
