"""The lab target: VMs on libvirt (local or over qemu+ssh), from a cloud image,
configured by cloud-init, each with a fixed address on a NAT network.

A changed cloud-init document (new SSH key, new user, new script) replaces the
VM: cloud-init only acts on a first boot, so keeping the old VM would leave the
change silently unapplied.  The VM is deleted before its replacement is made
(same name, MAC and address), and the node's swarm steps, whose triggers carry
the domain id, leave the swarm before and join again after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_libvirt as libvirt

from ha_swarm.config.model import LabSettings, StorageSettings
from ha_swarm.machines import cloudinit
from ha_swarm.nodes.node import Node, NodeSpec
from ha_swarm.nodes.remote import ready_node

GIB = 1024**3


def kernel_cmdlines(args: str) -> list[dict[str, str]]:
    """Kernel arguments in the form the libvirt provider reads them back, so that a preview after `up`
    shows no change (the `cmdlines` input forces a new VM).

    The provider writes the command line sorted, and reads it back as maps of `key=value` words in
    that order (a new map at a repeated key), then every bare word joined in one last `_` entry.
    """
    words = sorted(args.split())
    keyed: list[dict[str, str]] = []
    bare: list[str] = []
    current: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            bare.append(word)
            continue
        if key in current:
            keyed.append(current)
            current = {}
        current[key] = value
    if current:
        keyed.append(current)
    return keyed + ([{"_": " ".join(bare)}] if bare else [])


@dataclass(frozen=True, kw_only=True)
class LabMachinesArgs:
    lab: LabSettings
    nodes: Sequence[NodeSpec]  # a VM each, managers first
    ssh_public_key: str  # installed for the SSH user by cloud-init
    ssh_private_key: pulumi.Input[str]  # a secret
    storage: StorageSettings  # NFS: the server exports, every node gets the client
    nfs_server: NodeSpec | None = None


class LabMachines(pulumi.ComponentResource):
    nodes: list[Node]

    def __init__(self, name: str, args: LabMachinesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ha-swarm:machines:Lab", name, None, opts)
        lab = args.lab
        stack = pulumi.get_stack()
        prefix = f"ha-swarm-{stack}"
        child = pulumi.ResourceOptions(parent=self)

        self.provider = libvirt.Provider("libvirt", uri=lab.uri, opts=child)
        on_host = pulumi.ResourceOptions(parent=self, provider=self.provider)

        self.network = libvirt.Network(
            "network",
            name=prefix,
            # nat: the VMs reach the outside through this host; isolated ("none"): only each other and the host.
            mode="nat" if lab.network_mode == "nat" else "none",
            domain=f"{stack}.ha-swarm.internal",
            addresses=[str(lab.cidr)],
            autostart=True,
            dhcp=libvirt.NetworkDhcpArgs(enabled=True),
            dns=libvirt.NetworkDnsArgs(enabled=True, local_only=True),
            opts=on_host,
        )
        self.pool = libvirt.Pool(
            "pool",
            name=prefix,
            type="dir",
            target=libvirt.PoolTargetArgs(path=f"/var/lib/libvirt/images/{prefix}"),
            opts=on_host,
        )
        self.base_image = libvirt.Volume(
            "base-image",
            name=f"{prefix}-base.qcow2",
            pool=self.pool.name,
            source=lab.image,
            format="qcow2",
            opts=on_host,
        )

        # Direct kernel boot (lab.kernel/initrd): the files go into the pool, so a remote hypervisor has them too.
        self.boot_files: dict[str, libvirt.Volume] = {}
        if lab.kernel and lab.initrd:
            for part, source in (("kernel", lab.kernel), ("initrd", lab.initrd)):
                self.boot_files[part] = libvirt.Volume(f"boot-{part}", name=f"{prefix}-{part}", pool=self.pool.name, source=source, format="raw", opts=on_host)

        self.domains: dict[str, libvirt.Domain] = {}
        self.nodes = []
        for spec in args.nodes:
            doc = cloudinit.render(spec, stack=stack, public_key=args.ssh_public_key, network=lab.cidr, storage=args.storage, nfs_server=spec == args.nfs_server)
            root = libvirt.Volume(
                f"{spec.name}-root",
                name=f"{prefix}-{spec.name}-root.qcow2",
                pool=self.pool.name,
                base_volume_id=self.base_image.id,
                size=lab.disk_gib * GIB,
                format="qcow2",
                opts=on_host,
            )
            seed = libvirt.CloudInitDisk(
                f"{spec.name}-cloudinit",
                name=f"{prefix}-{spec.name}-cloudinit-{doc.digest}.iso",
                pool=self.pool.name,
                user_data=doc.user_data,
                meta_data=doc.meta_data,
                network_config=doc.network_config,
                opts=on_host,
            )
            domain = self._domain(prefix, spec.name, lab, root, seed, stack, on_host)
            self.domains[spec.name] = domain
            self.nodes.append(
                ready_node(
                    spec,
                    args.ssh_private_key,
                    parent=self,
                    depends_on=[domain],
                    triggers=[domain.id],
                )
            )

        self.register_outputs(
            {
                "network": self.network.name,
                "domains": {name: d.name for name, d in self.domains.items()},
            }
        )

    def _domain(
        self,
        prefix: str,
        name: str,
        lab: LabSettings,
        root: libvirt.Volume,
        seed: libvirt.CloudInitDisk,
        stack: str,
        opts: pulumi.ResourceOptions,
    ) -> libvirt.Domain:
        boot: dict[str, Any] = {}
        if self.boot_files:
            boot = {
                "kernel": self.boot_files["kernel"].id,
                "initrd": self.boot_files["initrd"].id,
                "cmdlines": kernel_cmdlines(lab.kernel_args or ""),
            }
        return libvirt.Domain(
            name,
            **boot,
            name=f"{prefix}-{name}",
            type=lab.domain_type,
            vcpu=lab.vcpus,
            memory=lab.memory_mib,
            # host-passthrough exposes the host CPU under KVM; plain emulation keeps QEMU's default model.
            cpu=libvirt.DomainCpuArgs(mode="host-passthrough") if lab.domain_type == "kvm" else None,
            autostart=True,
            cloudinit=seed.id,
            disks=[libvirt.DomainDiskArgs(volume_id=root.id)],
            network_interfaces=[
                libvirt.DomainNetworkInterfaceArgs(
                    network_id=self.network.id,
                    mac=cloudinit.mac_address(stack, name),
                    # No `addresses`: the VM's fixed address comes from its cloud-init network config, and
                    # the provider reads this field back from DHCP leases, which a VM with a static address
                    # may or may not have: given here, it diffs (an update of every VM) on later previews.
                    hostname=name,
                    wait_for_lease=False,
                )
            ],
            consoles=[
                libvirt.DomainConsoleArgs(type="pty", target_type="serial", target_port="0"),
                libvirt.DomainConsoleArgs(type="pty", target_type="virtio", target_port="1"),
            ],
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
        )
