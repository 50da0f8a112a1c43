"""Cloud-init documents for a lab VM, rendered with pyyaml (never pasted strings).

The node preparation itself (Docker Engine, docker group, firewall ports) is the
shell script `scripts/prepare-node.sh`, written to the VM and run once by
cloud-init; the cloud target runs the same script over SSH.  With `storage.nfs`,
`scripts/nfs-node.sh` is written too: every node gets the NFS client, the NFS
server (the first manager) exports the storage folder to the lab network.  With
it off, the documents are exactly what they were without the setting (so turning
it on replaces the VMs, and an upgrade of the program does not).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

import yaml

from ha_swarm.config.model import StorageSettings
from ha_swarm.nodes.node import NodeSpec
from ha_swarm.nodes.remote import script_text

PREPARE_PATH = "/usr/local/sbin/ha-swarm-prepare-node"
NFS_NODE_PATH = "/usr/local/sbin/ha-swarm-nfs-node"


@dataclass(frozen=True)
class CloudInit:
    user_data: str
    meta_data: str
    network_config: str

    @property
    def digest(self) -> str:
        """A short hash of the whole content, carried in the disk's name."""
        h = hashlib.sha256()
        for part in (self.user_data, self.meta_data, self.network_config):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()[:10]


def _dump(doc: object) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def mac_address(stack: str, name: str) -> str:
    """A stable, locally administered MAC in QEMU's 52:54:00 range for a node."""
    digest = hashlib.sha256(f"{stack}/{name}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def _nfs_parts(storage: StorageSettings | None, nfs_server: bool, network: ipaddress.IPv4Network) -> tuple[list[dict[str, str]], list[list[str]]]:
    """The file and commands of storage.nfs: the client everywhere, the server on `nfs_server`."""
    if storage is None or not storage.nfs:
        return [], []
    script = {"path": NFS_NODE_PATH, "owner": "root:root", "permissions": "0755", "content": script_text("nfs-node.sh")}
    command = [NFS_NODE_PATH, "server", storage.export, str(network)] if nfs_server else [NFS_NODE_PATH, "client"]
    return [script], [command]


def render(
    spec: NodeSpec,
    *,
    stack: str,
    public_key: str,
    network: ipaddress.IPv4Network,
    storage: StorageSettings | None = None,
    nfs_server: bool = False,
) -> CloudInit:
    """The documents of one VM; `nfs_server`: this VM serves NFS (storage.nfs, the first manager)."""
    gateway = str(network.network_address + 1)
    nfs_files, nfs_commands = _nfs_parts(storage, nfs_server, network)
    mac = mac_address(stack, spec.name)
    user_data = {
        "hostname": spec.name,
        "fqdn": f"{spec.name}.{stack}.ha-swarm.internal",
        "manage_etc_hosts": True,
        "preserve_hostname": False,
        "ssh_pwauth": False,
        "disable_root": True,
        "users": [
            {
                "name": spec.user,
                "gecos": "ha-swarm operator",
                "shell": "/bin/bash",
                "groups": ["sudo"],
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [public_key],
            }
        ],
        "write_files": [
            {
                "path": PREPARE_PATH,
                "owner": "root:root",
                "permissions": "0755",
                "content": script_text("prepare-node.sh"),
            },
            *nfs_files,
        ],
        "runcmd": [[PREPARE_PATH, spec.user], *nfs_commands],
    }
    meta_data = {"instance-id": f"ha-swarm-{stack}-{spec.name}", "local-hostname": spec.name}
    network_config = {
        "version": 2,
        "ethernets": {
            "eth0": {
                "match": {"macaddress": mac},
                "set-name": "eth0",
                "dhcp4": False,
                "addresses": [f"{spec.swarm_address}/{network.prefixlen}"],
                "routes": [{"to": "default", "via": gateway}],
                "nameservers": {"addresses": [gateway]},
            }
        },
    }
    return CloudInit(
        user_data="#cloud-config\n" + _dump(user_data),
        meta_data=_dump(meta_data),
        network_config=_dump(network_config),
    )
