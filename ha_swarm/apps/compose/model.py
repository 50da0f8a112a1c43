"""What the translation of a compose file gives: the stack, its services, networks and volumes, as
`docker stack deploy` would name them; and the context one translation carries.  Plain values: no
Pulumi runtime here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ha_swarm.config.checks import Refusal

STACK_LABEL = "com.docker.stack.namespace"  # what `docker stack ls/ps/services` group by
IMAGE_LABEL = "com.docker.stack.image"  # the image the file names, on each service, as docker stack deploy sets it
DEFAULT_NETWORK = "default"

# A refused compose file is the one refusal type of the program (ha_swarm/config/checks.py).
ComposeError = Refusal


@dataclass(frozen=True)
class NetworkRef:
    """A network the stack's services use.  `name` is the real Docker name."""

    key: str
    name: str
    external: bool
    driver: str | None  # None for an external network (it exists already)
    attachable: bool
    internal: bool
    driver_opts: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    ipam_driver: str | None = None
    ipam_subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeRef:
    """A named volume the stack's services mount.  Swarm creates it on each node at task start."""

    key: str
    name: str
    external: bool
    driver: str | None
    driver_opts: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FileObject:
    """A config or a secret the program creates.  `name` is the Docker name the file gives it (or
    docker stack deploy would); `versioned_name` adds the digest of its content."""

    kind: str  # "configs" or "secrets"
    key: str
    name: str
    versioned_name: str
    data: bytes = field(repr=False)
    labels: tuple[tuple[str, str], ...]
    secret: bool


@dataclass(frozen=True)
class ObjectMount:
    """A service's use of a config or secret: the file it appears as, its owner and mode."""

    key: str  # the top-level configs:/secrets: key
    file_name: str
    uid: str
    gid: str
    mode: int


@dataclass(frozen=True)
class ServiceSpec:
    """One compose service, ready for `pulumi_docker.Service(name, **spec.service_args(ids))`."""

    key: str
    name: str
    networks: tuple[str, ...]  # compose network keys, sorted by Docker name as docker stack deploy sorts them; see StackSpec.networks
    network_aliases: tuple[tuple[str, tuple[str, ...]], ...]  # compose `aliases` per network key
    frozen_args: Mapping[str, Any] = field(repr=False)  # read-only (mapping proxies and tuples)
    configs: tuple[ObjectMount, ...] = ()
    secrets: tuple[ObjectMount, ...] = ()
    network_driver_opts: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # compose `driver_opts` per network key

    @property
    def args(self) -> dict[str, Any]:
        """The `pulumi_docker.Service` keyword arguments, without `task_spec.networks_advanceds`.

        A fresh copy of plain dicts and lists on each access: changing it changes nothing here.
        """
        args: dict[str, Any] = thaw(self.frozen_args)
        return args

    def aliases(self, network: str) -> tuple[str, ...]:
        """The DNS aliases on a network as docker stack deploy sets them: compose `aliases`, then the service key."""
        return (*dict(self.network_aliases).get(network, ()), self.key)

    def networks_advanceds(self, network_ids: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`task_spec.networks_advanceds`, given the network ids (resource `.id` outputs) by compose key."""
        missing = [k for k in self.networks if k not in network_ids]
        if missing:
            raise KeyError(f"service {self.name} needs the id of network(s) {', '.join(missing)}")
        opts = dict(self.network_driver_opts)
        return [
            {"id": network_ids[k], "aliases": list(self.aliases(k)), **({"driver_opts": [f"{o}={v}" for o, v in opts[k]]} if k in opts else {})} for k in self.networks
        ]

    def service_args(self, network_ids: Mapping[str, Any], objects: Mapping[tuple[str, str], tuple[Any, Any]] | None = None) -> dict[str, Any]:
        """`args` with `task_spec.networks_advanceds` filled in from the network ids, and the container's
        configs and secrets from `objects`: (kind, key) -> (resource id, Docker name)."""
        args = self.args
        args["task_spec"]["networks_advanceds"] = self.networks_advanceds(network_ids)
        for kind, mounts in (("configs", self.configs), ("secrets", self.secrets)):
            if mounts:
                args["task_spec"]["container_spec"][kind] = [self._object(kind, m, objects or {}) for m in mounts]
        return args

    def _object(self, kind: str, mount: ObjectMount, objects: Mapping[tuple[str, str], tuple[Any, Any]]) -> dict[str, Any]:
        if (kind, mount.key) not in objects:
            raise KeyError(f"service {self.name} needs the id of {kind[:-1]} {mount.key}")
        object_id, name = objects[(kind, mount.key)]
        field_name = kind[:-1]  # config_id / secret_id
        return {
            f"{field_name}_id": object_id,
            f"{field_name}_name": name,
            "file_name": mount.file_name,
            "file_uid": mount.uid,
            "file_gid": mount.gid,
            "file_mode": mount.mode,
        }


@dataclass(frozen=True)
class StackSpec:
    name: str
    file: str
    services: tuple[ServiceSpec, ...]
    networks: tuple[NetworkRef, ...]  # those the services use, including an implicit `default`
    volumes: tuple[VolumeRef, ...]  # those the services mount
    warnings: tuple[str, ...] = ()  # what the file asks that docker stack deploy ignores too, one line per key
    configs: tuple[FileObject, ...] = ()  # every config the file declares (docker creates them all), and the external ones in use
    secrets: tuple[FileObject, ...] = ()

    def service(self, key: str) -> ServiceSpec:
        return next(s for s in self.services if s.key == key)

    def network(self, key: str) -> NetworkRef:
        return next(n for n in self.networks if n.key == key)


@dataclass
class StackContext:
    """The stack being translated: what services may refer to, and what they did refer to."""

    name: str
    file: str
    base_dir: str
    variables: Mapping[str, str]
    networks: Mapping[str, NetworkRef]
    volumes: Mapping[str, VolumeRef]
    used_networks: set[str] = field(default_factory=set)
    used_volumes: set[str] = field(default_factory=set)
    objects: dict[str, dict[str, Any]] = field(default_factory=lambda: {"configs": {}, "secrets": {}})  # FileObject, or an external one without content
    used_objects: dict[str, set[str]] = field(default_factory=lambda: {"configs": set(), "secrets": set()})
    ignored: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # an ignored key -> why, and the services that give it
    notes: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # a value given as is that deserves a word -> why, services
    current: str = ""  # the key of the service being translated

    def ignore_here(self, key: str, why: str) -> None:
        self.ignore(key, self.current, why)

    def note_here(self, key: str, why: str) -> None:
        services = self.notes.setdefault(key, (why, []))[1]
        if self.current not in services:
            services.append(self.current)

    def ignore(self, key: str, service: str, why: str) -> None:
        """Note KEY of SERVICE as ignored, as docker stack deploy ignores it: one warning per key."""
        services = self.ignored.setdefault(key, (why, []))[1]
        if service not in services:
            services.append(service)


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value
