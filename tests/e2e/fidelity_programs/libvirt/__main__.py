"""One libvirt domain as ha-swarm's lab declares one (direct kernel boot, a cloud-init disk, a
fixed MAC on a network with DHCP), in the program's form (config `fidelity:fixed`: the kernel
command line as `ha_swarm.machines.lab.kernel_cmdlines` gives it, no `addresses`) or in the form before
the fix (one map per word in the file's order, the address given), for
tests/e2e/test_provider_fidelity.py: upstream pulumi-libvirt reads the second form back
differently and proposes to replace the VM on every preview, and the toolchain's stand-in must too.
The kernel is a tiny multiboot image that halts: nothing boots, nothing asks for a DHCP lease."""

from __future__ import annotations

import pulumi
import pulumi_libvirt as libvirt

from ha_swarm.machines.lab import kernel_cmdlines

config = pulumi.Config("fidelity")
fixed = config.require_bool("fixed")
prefix = config.require("prefix")
kernel_args = "root=/dev/vda rw console=ttyS0"
address = config.require("address")

provider = libvirt.Provider("libvirt", uri="qemu:///system")
on_host = pulumi.ResourceOptions(provider=provider)
pool = libvirt.Pool("pool", name=prefix, type="dir", target=libvirt.PoolTargetArgs(path=f"/var/lib/libvirt/images/{prefix}"), opts=on_host)
network = libvirt.Network(
    "network",
    name=prefix,
    mode="none",
    addresses=[config.require("cidr")],
    dhcp=libvirt.NetworkDhcpArgs(enabled=True),
    opts=on_host,
)
kernel = libvirt.Volume("kernel", name=f"{prefix}-kernel", pool=pool.name, source=config.require("kernel"), format="raw", opts=on_host)
seed = libvirt.CloudInitDisk("seed", name=f"{prefix}-seed.iso", pool=pool.name, user_data="#cloud-config\n{}\n", opts=on_host)
if fixed:
    cmdlines = kernel_cmdlines(kernel_args)
    addresses = None
else:
    cmdlines = [{k: v} if sep else {"_": k} for k, sep, v in (w.partition("=") for w in kernel_args.split())]
    addresses = [address]
libvirt.Domain(
    "vm",
    name=prefix,
    type="qemu",
    vcpu=1,
    memory=64,
    kernel=kernel.id,
    cmdlines=cmdlines,
    cloudinit=seed.id,
    network_interfaces=[libvirt.DomainNetworkInterfaceArgs(network_id=network.id, mac="52:54:00:ab:93:0b", hostname="vm", addresses=addresses, wait_for_lease=False)],
    consoles=[libvirt.DomainConsoleArgs(type="pty", target_type="serial", target_port="0")],
    opts=pulumi.ResourceOptions.merge(on_host, pulumi.ResourceOptions(delete_before_replace=True)),
)
