"""`lab`: the VMs on a libvirt host, and the nodes they make."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any

from ha_swarm.config.checks import (
    CONFIG,
    LINUX_USER,
    SSH_PUBLIC_KEY,
    choice,
    is_host,
    object_setting,
    only,
    text_field,
    whole_field,
)
from ha_swarm.config.model import (
    AUTO,
    AUTO_BY_DEFAULT,
    DEFAULT_KERNEL_ARGS,
    DOMAIN_TYPES,
    LAB_AUTO_KEYS,
    MANAGER_COUNTS,
    MANAGER_HOST_OFFSET,
    NETWORK_MODES,
    QEMU_SSH_URI,
    WORKER_HOST_OFFSET,
    LabSettings,
)
from ha_swarm.nodes.node import NodeSpec

LAB_ALLOWED = {"image": "an http(s) URL or an existing local path of a cloud image (qcow2)", "domainType": "kvm or qemu"}
LAB_KEYS = ("managers", "workers", "uri", "image", "cidr", "domainType", "vcpus", "memoryMiB", "diskGiB", "networkMode", "kernel", "initrd", "kernelArgs", "hostKey")


def _source(value: Any, key: str, allowed: str) -> str:
    """An http(s) URL, or a local file (made absolute)."""
    if not isinstance(value, str) or not value.strip():
        raise CONFIG.refuse(key, value, allowed)
    value = value.strip()
    if re.fullmatch(r"https?://\S+", value):
        return str(value)
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path):
        raise CONFIG.refuse(key, value, allowed)
    return str(path)


def _kernel_boot(obj: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """Direct kernel boot (for images without a boot loader): kernel and initrd together, and their arguments."""
    given = [k for k in ("kernel", "initrd") if obj.get(k) is not None]
    if not given:
        if obj.get("kernelArgs") is not None:
            raise CONFIG.refuse("lab.kernelArgs", obj.get("kernelArgs"), "kernel arguments only together with lab.kernel and lab.initrd")
        return None, None, None
    if len(given) == 1:
        missing = "initrd" if given == ["kernel"] else "kernel"
        raise CONFIG.refuse(f"lab.{given[0]}", obj.get(given[0]), f"direct kernel boot with lab.{missing} too (both or neither)")
    kernel = _source(obj["kernel"], "lab.kernel", "an http(s) URL or an existing local path of a Linux kernel (vmlinuz)")
    initrd = _source(obj["initrd"], "lab.initrd", "an http(s) URL or an existing local path of an initramfs")
    args = obj.get("kernelArgs", DEFAULT_KERNEL_ARGS)
    if not isinstance(args, str) or not args.strip() or "\n" in args:
        raise CONFIG.refuse("lab.kernelArgs", args, f"one line of kernel arguments, such as {DEFAULT_KERNEL_ARGS!r}")
    return kernel, initrd, " ".join(args.split())


def parse_lab_auto(raw: Any) -> Mapping[str, Any]:
    """`labAuto`: what `auto` stands for in this stack (written by tools/lab_auto.py)."""
    obj = object_setting("labAuto", raw)
    only(CONFIG, "labAuto", obj, LAB_AUTO_KEYS)
    return obj


def _resolve_auto(obj: Mapping[str, Any], auto: Mapping[str, Any]) -> dict[str, Any]:
    """The lab object with `auto` (or nothing) for domainType and image replaced by labAuto's choice;
    an auto image also brings labAuto's direct kernel boot files."""
    resolved = dict(obj)
    for key in AUTO_BY_DEFAULT:
        if obj.get(key, AUTO) != AUTO:
            continue
        if not auto.get(key):
            raise CONFIG.refuse(
                f"lab.{key}",
                obj.get(key),
                f"{LAB_ALLOWED[key]}, or auto once `make up` or `make preview` has chosen for this stack (python -m tools.lab_auto STACK records the choice as labAuto)",
            )
        resolved[key] = auto[key]
        if key == "image" and auto.get("kernel") and obj.get("kernel") is None:
            resolved |= {k: auto[k] for k in ("kernel", "initrd", "kernelArgs") if auto.get(k)}
    return resolved


def parse_lab(raw: Any, ssh_user: str, auto: Mapping[str, Any] | None = None) -> tuple[LabSettings, tuple[NodeSpec, ...]]:
    obj = object_setting("lab", raw)
    only(CONFIG, "lab", obj, LAB_KEYS)
    obj = _resolve_auto(obj, auto or {})
    managers = whole_field(obj, "managers", "lab.managers", LabSettings.managers, 0)
    choice(CONFIG, "lab.managers", managers, MANAGER_COUNTS, " (Raft quorum needs an odd number of managers, at most 7)")
    workers = whole_field(obj, "workers", "lab.workers", LabSettings.workers, 0)

    uri = text_field(obj, "uri", "lab.uri", LabSettings.uri)
    assert uri is not None
    if not re.fullmatch(r"qemu(\+ssh|\+tcp|\+tls|\+unix)?://[^\s]*", uri):
        raise CONFIG.refuse("lab.uri", uri, "a libvirt QEMU URI such as qemu:///system or qemu+ssh://user@host/system")
    if uri.startswith("qemu+ssh://"):
        # The user and host reach the Docker provider's ProxyCommand (run by a shell) and ssh's argv.
        ssh = QEMU_SSH_URI.fullmatch(uri)
        if ssh is None or (ssh[1] is not None and not LINUX_USER.fullmatch(ssh[1])) or not is_host(ssh[2]):
            raise CONFIG.refuse("lab.uri", uri, "qemu+ssh://USER@HOST[:PORT]/system with a Linux user name and a DNS name or IP address as HOST")
    host_key = text_field(obj, "hostKey", "lab.hostKey")
    if host_key is not None and not uri.startswith("qemu+ssh://"):
        raise CONFIG.refuse("lab.hostKey", host_key, "only with a qemu+ssh:// lab.uri (the hypervisor's SSH host key)")
    if host_key is not None and not SSH_PUBLIC_KEY.fullmatch(host_key):
        raise CONFIG.refuse("lab.hostKey", host_key, "the hypervisor's public SSH host key, as in `ssh-keyscan -t ed25519 HOST` without the host name")

    image = _source(obj.get("image"), "lab.image", LAB_ALLOWED["image"])
    kernel, initrd, kernel_args = _kernel_boot(obj)

    cidr_raw = obj.get("cidr", str(LabSettings.cidr))
    try:
        cidr = ipaddress.IPv4Network(str(cidr_raw), strict=True)
    except ValueError:
        raise CONFIG.refuse("lab.cidr", cidr_raw, "an IPv4 network in CIDR form with no host bits, such as 10.17.3.0/24") from None
    last_host = cidr.num_addresses - 2
    if WORKER_HOST_OFFSET + workers > last_host or MANAGER_HOST_OFFSET + managers > last_host:
        raise CONFIG.refuse(
            "lab.cidr",
            str(cidr),
            f"a network large enough for {managers} managers and {workers} workers "
            f"(it needs at least {WORKER_HOST_OFFSET + workers + 2} addresses; use a shorter prefix)",
        )

    domain_type = choice(CONFIG, "lab.domainType", obj.get("domainType"), (*DOMAIN_TYPES, AUTO), " (qemu where there is no KVM)")
    if domain_type == AUTO:
        raise CONFIG.refuse("labAuto.domainType", AUTO, f"what auto stands for: one of {', '.join(DOMAIN_TYPES)}")
    lab = LabSettings(
        managers=managers,
        workers=workers,
        uri=uri,
        image=image,
        cidr=cidr,
        domain_type=domain_type,
        vcpus=whole_field(obj, "vcpus", "lab.vcpus", LabSettings.vcpus, 1, 64),
        memory_mib=whole_field(obj, "memoryMiB", "lab.memoryMiB", LabSettings.memory_mib, 512),
        disk_gib=whole_field(obj, "diskGiB", "lab.diskGiB", LabSettings.disk_gib, 4),
        network_mode=choice(
            CONFIG, "lab.networkMode", obj.get("networkMode", LabSettings.network_mode), NETWORK_MODES, " (isolated: the VMs reach only each other and this host)"
        ),
        kernel=kernel,
        initrd=initrd,
        kernel_args=kernel_args,
        host_key=host_key,
    )
    jump = lab.hypervisor_ssh
    nodes: list[NodeSpec] = []
    for role, count, offset in (("manager", managers, MANAGER_HOST_OFFSET), ("worker", workers, WORKER_HOST_OFFSET)):
        for i in range(1, count + 1):
            address = str(cidr.network_address + offset + i)
            nodes.append(NodeSpec(f"{role}-{i}", role, address, address, ssh_user, 22, None, jump))
    return lab, tuple(nodes)
