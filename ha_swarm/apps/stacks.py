"""Application stacks: every compose file of the `stacks` setting, translated by
`ha_swarm.apps.compose.translate` and declared as swarm services, the way
`docker stack deploy -c FILE NAME` would create them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from ha_swarm.apps.compose.translate import StackSpec, load_stack
from ha_swarm.config.checks import CONFIG, Refusal, in_file
from ha_swarm.config.model import NAMESPACE
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


def load_stacks(paths: Sequence[str], variables: Mapping[str, str]) -> list[StackSpec]:
    """Read and translate every compose file before any resource is declared."""
    specs = []
    for path in paths:
        file = Path(path) if Path(path).is_absolute() else PROJECT_DIR / path
        if not file.is_file():
            raise CONFIG.refuse("stacks", path, f"no such compose file ({file})")
        specs.append(load_stack(file, variables, hints=VARIABLE_HINTS))
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise Refusal(f"config {NAMESPACE}:stacks = {list(paths)!r} is refused: two files make the stack {name!r}")
    check_routes(specs)
    return specs


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
        on_swarm = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        for spec in args.specs:
            external = {TRAEFIK_NETWORK: args.traefik_network, DOCKER_API_NETWORK: args.docker_api_network}
            networks = self._networks(spec, external, on_swarm)
            for service in spec.services:
                self.services[service.name] = docker.Service(
                    service.name,
                    **service.service_args({k: networks[k].id for k in service.networks}),
                    converge_config=CONVERGE,
                    opts=pulumi.ResourceOptions.merge(on_swarm, pulumi.ResourceOptions(depends_on=list(networks.values()), **SERVICE_REPLACEMENT)),
                )
        self.register_outputs({"services": sorted(self.services)})

    def _networks(self, spec: StackSpec, external: Mapping[str, docker.Network], opts: pulumi.ResourceOptions) -> dict[str, docker.Network]:
        found: dict[str, docker.Network] = {}
        for ref in spec.networks:
            if ref.external:
                if ref.name not in external:
                    raise in_file(spec.file).refuse(f"networks.{ref.key}", ref.name, f"the external networks are {' and '.join(external)}")
                found[ref.key] = external[ref.name]
                continue
            if ref.name not in self.networks:
                self.networks[ref.name] = docker.Network(
                    ref.name,
                    name=ref.name,
                    driver=ref.driver or "overlay",
                    attachable=ref.attachable,
                    internal=ref.internal,
                    options=dict(ref.driver_opts) or None,
                    labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in ref.labels],
                    opts=opts,
                )
            found[ref.key] = self.networks[ref.name]
        return found
