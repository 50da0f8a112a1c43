"""storage.nfs: the folders of the stacks' NFS volumes, on the lab's NFS server.

The first manager serves NFS from its first boot (cloud-init runs `scripts/nfs-node.sh server`).
A named volume that mounts a folder of that server (driver `local`, `type: nfs`,
`o: addr=${NFS_ADDR},...`, `device: :${NFS_EXPORT}/app`) needs the folder to exist, or its tasks
fail to start; so, before the services are declared, one remote command runs `nfs-node.sh server`
again on the server with the folders that the stacks name (idempotent: it only creates what is
missing, and never deletes a folder: the data stays when a volume or a stack goes).  A device
outside the export is refused before anything is declared.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ha_swarm.apps.compose.model import StackSpec, VolumeRef
from ha_swarm.config.checks import in_file
from ha_swarm.nodes.node import Node, node_of
from ha_swarm.nodes.remote import Step, run_script
from ha_swarm.nodes.topology import Topology

NFS_TYPES = ("nfs", "nfs4")
_PLAIN_STEP = re.compile(r"^[A-Za-z0-9._-]+$")


def _server_address(options: str) -> str | None:
    """The `addr=` of a mount option string such as `addr=10.0.0.1,rw,nfsvers=4`."""
    for option in options.split(","):
        key, sep, value = option.strip().partition("=")
        if sep and key == "addr":
            return value.strip()
    return None


def _folder(file: str, volume: VolumeRef, export: str) -> str | None:
    """The folder, relative to EXPORT, that VOLUME mounts; None for the export itself."""
    device = dict(volume.driver_opts).get("device", "")
    path = device.split(":", 1)[1] if ":" in device else device
    allowed = f"a folder of the lab's NFS export, such as :{export}/{volume.key} (storage.export is {export}; write :${{NFS_EXPORT}}/{volume.key})"
    if not path.startswith("/"):
        raise in_file(file).refuse(f"volumes.{volume.key}.driver_opts.device", device, allowed)
    normal = posixpath.normpath(path)
    if normal == export:
        return None
    relative = normal[len(export) + 1 :] if normal.startswith(export + "/") else ""
    if not relative or not all(_PLAIN_STEP.match(step) and step not in (".", "..") for step in relative.split("/")):
        raise in_file(file).refuse(f"volumes.{volume.key}.driver_opts.device", device, allowed)
    return relative


def nfs_folders(specs: Sequence[StackSpec], address: str, export: str) -> tuple[str, ...]:
    """The folders under EXPORT that the stacks' NFS volumes on the server at ADDRESS mount, sorted."""
    folders: set[str] = set()
    for spec in specs:
        for volume in spec.volumes:
            options = dict(volume.driver_opts)
            if volume.external or volume.driver not in (None, "local") or options.get("type") not in NFS_TYPES:
                continue
            if _server_address(options.get("o", "")) != address:
                continue  # another NFS server: not ours to prepare
            folder = _folder(spec.file, volume, export)
            if folder is not None:
                folders.add(folder)
    return tuple(sorted(folders))


@dataclass(frozen=True, kw_only=True)
class NfsServerArgs:
    server: Node
    export: str  # storage.export
    network: str  # the clients' network (CIDR), allowed in the export
    folders: Sequence[str]  # under the export, for the stacks' volumes


class NfsServer(pulumi.ComponentResource):
    """The lab's NFS server (the first manager) with the folders the stacks' volumes need."""

    def __init__(self, name: str, args: NfsServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:storage:NfsServer", name, None, opts)
        server, export, network, folders = args.server, args.export, args.network, args.folders
        self.folders = run_script(
            "nfs-folders",
            server.connection,
            Step("nfs-node.sh", ("server", export, network, *folders), as_root=True),
            parent=self,
            depends_on=[server.ready],
            triggers=server.triggers,
        )
        self.register_outputs({"server": server.name, "export": export, "folders": list(folders)})


def planned_folders(topology: Topology, specs: Sequence[StackSpec]) -> tuple[str, ...]:
    """With storage.nfs: the folders the stacks' volumes need on the server (a device outside the
    export is refused here, before any resource is declared); else none."""
    server = topology.nfs_server
    return nfs_folders(specs, server.swarm_address, topology.nfs_export) if server is not None else ()


def nfs_server(name: str, topology: Topology, nodes: Sequence[Node], folders: Sequence[str], network: str | None) -> list[pulumi.Resource]:
    """With storage.nfs (on a lab, whose NETWORK the clients are on): the NFS server with FOLDERS,
    for the stacks to depend on; else nothing."""
    server = topology.nfs_server
    if server is None or network is None:
        return []
    args = NfsServerArgs(server=node_of(nodes, server), export=topology.nfs_export, network=network, folders=folders)
    return [NfsServer(name, args).folders]
