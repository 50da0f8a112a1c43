"""Application stacks: every compose file of the `stacks` setting, translated by
`ha_swarm.apps.compose` and declared as swarm services, the way
`docker stack deploy -c FILE NAME` would create them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.load import load_stack
from ha_swarm.apps.compose.model import StackSpec
from ha_swarm.apps.compose.resources import declare_objects, network_ipam
from ha_swarm.config.checks import CONFIG, Refusal
from ha_swarm.config.model import NAMESPACE, StackEntry
from ha_swarm.ingress.docker_api import DOCKER_API_NETWORK
from ha_swarm.ingress.ingress import TRAEFIK_NETWORK
from ha_swarm.ingress.traefik import SERVICE_REPLACEMENT
from ha_swarm.outputs import check_routes

PROJECT_DIR = Path(__file__).resolve().parents[2]

# create/update return once the tasks run (or fail after the timeout).
CONVERGE = docker.ServiceConvergeConfigArgs(delay="5s", timeout="5m")


# How to provide the variables that only some settings provide, said when a compose file needs one.
VARIABLE_HINTS = {
    "NFS_ADDR": "storage.nfs: true sets it to the lab's NFS server; elsewhere give your NFS server's address as stackVariables.NFS_ADDR",
    "NFS_EXPORT": "storage.nfs: true sets it to storage.export; elsewhere give your NFS server's export as stackVariables.NFS_EXPORT",
}


def stack_variables(domain: str, extra: Sequence[tuple[str, str]] = (), provided: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """What compose files may interpolate: ${DOMAIN}, the `stackVariables` setting, and what other
    settings provide (`provided`: ${NFS_ADDR} and ${NFS_EXPORT} with storage.nfs)."""
    return {**dict(extra), **dict(provided), "DOMAIN": domain}


def load_stacks(entries: Sequence[StackEntry], variables: Mapping[str, str], digest_key: bytes = b"") -> list[StackSpec]:
    """Read and translate every compose file before any resource is declared.  An entry's own
    variables go over VARIABLES; `digest_key` keys the digests in secrets' names."""
    specs = []
    for i, entry in enumerate(entries):
        file = _project_path(entry.file)
        if not file.is_file():
            raise CONFIG.refuse("stacks", entry.file, f"no such compose file ({file})")
        external = {kind: _contents(f"stacks[{i}].{kind}", getattr(entry, kind)) for kind in ("configs", "secrets")}
        spec = load_stack(file, {**variables, **dict(entry.variables)}, stack_name=entry.name, hints=VARIABLE_HINTS, external=external, digest_key=digest_key)
        specs.append(spec)
        for warning in spec.warnings:
            pulumi.log.warn(warning)
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            files = [entry.file for entry in entries]
            raise Refusal(f"config {NAMESPACE}:stacks = {files!r} is refused: two files make the stack {name!r} (give one a name: stacks: [{{file, name}}])")
    check_routes(specs)
    return specs


def _project_path(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else PROJECT_DIR / path


def _contents(key: str, files: Sequence[tuple[str, str]]) -> dict[str, bytes]:
    """The content of external configs or secrets, from the files the settings name."""
    contents = {}
    for name, path in files:
        try:
            contents[name] = _project_path(path).read_bytes()
        except OSError as error:
            raise CONFIG.refuse(f"{key}.{name}", path, f"a readable file, relative to the project ({error.strerror or error})") from None
    return contents


@dataclass(frozen=True, kw_only=True)
class StacksArgs:
    specs: Sequence[StackSpec]  # the translated compose files
    provider: docker.Provider
    traefik_network: docker.Network  # what `traefik-net`, external in the files, stands for
    docker_api_network: docker.Network  # what `docker-api` (the Docker API proxy's network) stands for
    depends_on: Sequence[pulumi.Resource]


class Stacks(pulumi.ComponentResource):
    def __init__(self, name: str, args: StacksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:stacks:Stacks", name, None, opts)
        self.services: dict[str, docker.Service] = {}
        self.networks: dict[str, docker.Network] = {}
        self.objects: dict[str, pulumi.CustomResource] = {}  # configs and secrets, by versioned Docker name
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        for spec in args.specs:
            external = {TRAEFIK_NETWORK: args.traefik_network, DOCKER_API_NETWORK: args.docker_api_network}
            networks = self._networks(spec, external, on_swarm)
            objects = declare_objects(spec, self.objects, on_swarm)
            for service in spec.services:
                self.services[service.name] = docker.Service(
                    service.name,
                    **service.service_args({k: networks[k].id for k in service.networks}, objects),
                    converge_config=CONVERGE,
                    opts=pulumi.ResourceOptions.merge(on_swarm, pulumi.ResourceOptions(depends_on=list(networks.values()), **SERVICE_REPLACEMENT)),
                )
        self.register_outputs({"services": sorted(self.services)})

    def _networks(self, spec: StackSpec, external: Mapping[str, docker.Network], opts: pulumi.ResourceOptions) -> dict[str, docker.Network]:
        found: dict[str, docker.Network] = {}
        for ref in spec.networks:
            if ref.external and ref.name in external:
                found[ref.key] = external[ref.name]
                continue
            if ref.external and ref.name not in self.networks:
                # Another external network (traefik-public, proxy...): what `docker network create
                # --driver overlay NAME` does before `docker stack deploy`, once for all the stacks.
                self.networks[ref.name] = docker.Network(ref.name, name=ref.name, driver="overlay", opts=opts)
            if ref.name not in self.networks:
                self.networks[ref.name] = docker.Network(
                    ref.name,
                    name=ref.name,
                    driver=ref.driver or "overlay",
                    attachable=ref.attachable,
                    internal=ref.internal,
                    options=dict(ref.driver_opts) or None,
                    labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in ref.labels],
                    **network_ipam(ref),
                    opts=opts,
                )
            found[ref.key] = self.networks[ref.name]
        return found
