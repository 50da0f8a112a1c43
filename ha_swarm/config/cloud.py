"""`cloud`: the user's own hosts, and the nodes they make."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    DNS_LABEL,
    LINUX_USER,
    LINUX_USER_ALLOWED,
    SSH_PUBLIC_KEY,
    choice,
    is_host,
    object_setting,
    only,
    text_field,
    whole_field,
)
from ha_swarm.config.model import DOCKER_SOURCES, MANAGER_COUNTS, ROLES, CloudHost, CloudSettings
from ha_swarm.nodes.node import NodeSpec

CLOUD_KEYS = ("hosts", "dockerSource")

HOST_KEYS = ("name", "address", "privateAddress", "role", "user", "port", "hostKey")


def _address(value: Any, key: str) -> str:
    """An IP address or a DNS name."""
    if not isinstance(value, str) or not value.strip():
        raise CONFIG.refuse(key, value, "an IPv4/IPv6 address or a DNS name")
    value = value.strip()
    if not is_host(value):
        raise CONFIG.refuse(key, value, "an IPv4/IPv6 address or a DNS name")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return str(value).lower()


def _ip(value: Any, key: str) -> str:
    allowed = "an IPv4 or IPv6 address the other nodes reach (the swarm advertise address), not 0.0.0.0, loopback or multicast"
    if not isinstance(value, str | int):
        raise CONFIG.refuse(key, value, allowed)
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise CONFIG.refuse(key, value, allowed) from None
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        raise CONFIG.refuse(key, value, allowed)
    return str(address)


def _node_name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not DNS_LABEL.fullmatch(value):
        raise CONFIG.refuse(key, value, "a DNS label: 1-63 lowercase letters, digits or '-', not starting or ending with '-'")
    return value


def parse_cloud(raw: Any, ssh_user: str) -> tuple[CloudSettings, tuple[NodeSpec, ...]]:
    obj = object_setting("cloud", raw)
    only(CONFIG, "cloud", obj, CLOUD_KEYS)
    hosts_raw = obj.get("hosts")
    if not isinstance(hosts_raw, list) or not hosts_raw:
        raise CONFIG.refuse("cloud.hosts", hosts_raw, "a non-empty list of {name, address, role, privateAddress?, user?, port?, hostKey?}")
    hosts: list[CloudHost] = []
    for i, item in enumerate(hosts_raw):
        key = f"cloud.hosts[{i}]"
        if not isinstance(item, Mapping):
            raise CONFIG.refuse(key, item, "an object {name, address, role, privateAddress?, user?, port?, hostKey?}")
        only(CONFIG, key, item, HOST_KEYS)
        name = _node_name(item.get("name"), f"{key}.name")
        address = _address(item.get("address"), f"{key}.address")
        private = item.get("privateAddress")
        private_address = _ip(private, f"{key}.privateAddress") if private is not None else None
        if private_address is None:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise CONFIG.refuse(
                    f"{key}.privateAddress",
                    None,
                    f"an IP address: host {name!r} is reached by the name {address!r}, and the swarm needs an IP to advertise",
                ) from None
        role = choice(CONFIG, f"{key}.role", item.get("role"), ROLES)
        user = text_field(item, "user", f"{key}.user")
        if user is not None and not LINUX_USER.fullmatch(user):
            raise CONFIG.refuse(f"{key}.user", user, LINUX_USER_ALLOWED)
        port = whole_field(item, "port", f"{key}.port", CloudHost.port, 1, 65535)
        host_key = text_field(item, "hostKey", f"{key}.hostKey")
        if host_key is not None and not SSH_PUBLIC_KEY.fullmatch(host_key):
            raise CONFIG.refuse(f"{key}.hostKey", host_key, "the host's public key, as in `ssh-keyscan -t ed25519 HOST` without the host name")
        hosts.append(CloudHost(name=name, address=address, private_address=private_address, role=role, user=user, port=port, host_key=host_key))

    managers = sum(1 for h in hosts if h.role == "manager")
    if managers == 0:
        raise CONFIG.refuse("cloud.hosts", [h.name for h in hosts], "a list with at least one host whose role is manager")
    choice(CONFIG, "cloud.hosts (managers)", managers, MANAGER_COUNTS, " (Raft quorum needs an odd number of managers, at most 7)")
    # Managers first, in the order given: the first manager initialises the swarm.
    ordered = [h for h in hosts if h.role == "manager"] + [h for h in hosts if h.role == "worker"]
    nodes = tuple(NodeSpec(h.name, h.role, h.address, h.private_address or h.address, h.user or ssh_user, h.port, h.host_key, None) for h in ordered)
    source = choice(CONFIG, "cloud.dockerSource", obj.get("dockerSource", CloudSettings.docker_source), DOCKER_SOURCES, " (distribution packages or Docker's repository)")
    return CloudSettings(hosts=tuple(hosts), docker_source=source), nodes
