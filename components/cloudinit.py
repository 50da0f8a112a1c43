"""Cloud-init documents for a lab VM, rendered with pyyaml (never pasted strings).

The node preparation itself (Docker Engine, docker group, firewall ports) is the
shell script `scripts/prepare-node.sh`, written to the VM and run once by
cloud-init; the cloud target runs the same script over SSH.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

import yaml

from components.remote import script_text
from components.settings import NodeSpec

PREPARE_PATH = "/usr/local/sbin/ha-swarm-prepare-node"


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


def render(spec: NodeSpec, *, stack: str, public_key: str, network: ipaddress.IPv4Network) -> CloudInit:
    gateway = str(network.network_address + 1)
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
            }
        ],
        "runcmd": [[PREPARE_PATH, spec.user]],
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
