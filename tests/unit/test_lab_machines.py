"""The lab target under mocks: libvirt resources, their inputs, stable addresses, cloud-init."""

from __future__ import annotations

import yaml

from ha_swarm.machines.cloudinit import PREPARE_PATH, mac_address
from ha_swarm.machines.lab import kernel_cmdlines
from ha_swarm.nodes.remote import script_text
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, Program, base_config, run_program

GIB = 1024**3
LIBVIRT = "libvirt:index/"


def lab_program(managers: int = 1, workers: int = 2, **lab: object) -> Program:
    config = base_config()
    config["lab"] = {**config["lab"], "managers": managers, "workers": workers, **lab}
    return run_program(config)


def counts(p: Program) -> dict[str, int]:
    kinds = ("network:Network", "pool:Pool", "volume:Volume", "cloudInitDisk:CloudInitDisk", "domain:Domain")
    return {k.split(":")[1]: len(p.of_type(LIBVIRT + k)) for k in kinds}


def test_dev_stack_declares_one_network_pool_base_image_and_three_vms() -> None:
    p = run_program(base_config())
    assert counts(p) == {"Network": 1, "Pool": 1, "Volume": 4, "CloudInitDisk": 3, "Domain": 3}
    assert sorted(d.name for d in p.of_type(LIBVIRT + "domain:Domain")) == ["manager-1", "worker-1", "worker-2"]


def test_larger_lab_scales_every_per_node_resource() -> None:
    p = lab_program(managers=3, workers=10)
    assert counts(p) == {"Network": 1, "Pool": 1, "Volume": 14, "CloudInitDisk": 13, "Domain": 13}


def test_provider_targets_the_configured_libvirt_uri_and_every_libvirt_resource_uses_it() -> None:
    p = lab_program(uri="qemu+ssh://ops@hv.example.test/system")
    (provider,) = p.of_type("pulumi:providers:libvirt")
    assert provider.inputs["uri"] == "qemu+ssh://ops@hv.example.test/system"
    for res in p.resources:
        if res.type.startswith(LIBVIRT):
            assert res.provider.startswith(provider.urn), f"{res.name} does not use the lab's libvirt provider"


def test_network_is_nat_over_the_lab_cidr_with_dhcp() -> None:
    p = lab_program(cidr="10.44.0.0/24")
    (net,) = p.of_type(LIBVIRT + "network:Network")
    assert net.inputs["mode"] == "nat"
    assert net.inputs["addresses"] == ["10.44.0.0/24"]
    assert net.inputs["dhcp"] == {"enabled": True}
    assert net.inputs["name"] == "ha-swarm-dev"


def test_base_image_comes_from_lab_image_and_root_volumes_are_copy_on_write_resized() -> None:
    p = lab_program(diskGiB=30)
    base = p.named("base-image")
    assert base.inputs["source"] == "https://example.test/debian-12-genericcloud-amd64.qcow2"
    roots = [v for v in p.of_type(LIBVIRT + "volume:Volume") if v.name.endswith("-root")]
    assert len(roots) == 3
    for root in roots:
        assert root.inputs["baseVolumeId"] == base.id
        assert root.inputs["size"] == 30 * GIB
        assert root.inputs["format"] == "qcow2"


def test_domains_get_type_cpus_memory_serial_console_disk_and_fixed_address() -> None:
    p = lab_program(domainType="qemu", vcpus=1, memoryMiB=1536)
    net = p.named("network")
    for domain in p.of_type(LIBVIRT + "domain:Domain"):
        inputs = domain.inputs
        assert (inputs["type"], inputs["vcpu"], inputs["memory"]) == ("qemu", 1, 1536)
        assert "cpu" not in inputs, "host-passthrough is for KVM only"
        assert {"type": "pty", "targetType": "serial", "targetPort": "0"} in inputs["consoles"]
        assert inputs["disks"] == [{"volumeId": p.named(f"{domain.name}-root").id}]
        assert inputs["cloudinit"] == p.named(f"{domain.name}-cloudinit").id
        (nic,) = inputs["networkInterfaces"]
        assert nic["networkId"] == net.id
        assert nic["mac"] == mac_address("dev", domain.name)
        assert nic["waitForLease"] is False
        assert nic["hostname"] == domain.name
        # The provider reads `addresses` back from DHCP leases, which a VM with a static address may not
        # have: given, it would diff on every preview. The address is the cloud-init network config's.
        assert "addresses" not in nic
        assert _network_config(p, domain.name)["ethernets"]["eth0"]["addresses"] == [
            {"manager-1": "10.17.3.11/24", "worker-1": "10.17.3.21/24", "worker-2": "10.17.3.22/24"}[domain.name]
        ]
        assert domain.delete_before_replace, "a replaced VM keeps its name and address, so the old one goes first"


def test_kvm_domains_pass_the_host_cpu_through() -> None:
    p = run_program(base_config())
    assert all(d.inputs["cpu"] == {"mode": "host-passthrough"} for d in p.of_type(LIBVIRT + "domain:Domain"))


def test_addresses_and_macs_are_stable_when_the_lab_grows() -> None:
    def nics(p: Program) -> dict[str, tuple[str, str]]:
        return {
            d.name: (_network_config(p, d.name)["ethernets"]["eth0"]["addresses"][0], d.inputs["networkInterfaces"][0]["mac"])
            for d in p.of_type(LIBVIRT + "domain:Domain")
        }

    small, large = nics(lab_program(1, 2)), nics(lab_program(3, 10))
    assert all(large[name] == nic for name, nic in small.items())
    assert len(set(large.values())) == 13


def _network_config(p: Program, node: str) -> dict:
    return yaml.safe_load(p.named(f"{node}-cloudinit").inputs["networkConfig"])


def _user_data(p: Program, node: str) -> dict:
    disk = p.named(f"{node}-cloudinit")
    text = disk.inputs["userData"]
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def test_cloud_init_creates_the_user_with_key_and_sudo_and_sets_the_hostname() -> None:
    p = run_program(base_config(sshUser="ops"))
    doc = _user_data(p, "worker-2")
    assert doc["hostname"] == "worker-2"
    assert doc["manage_etc_hosts"] is True
    (user,) = doc["users"]
    assert user["name"] == "ops"
    assert user["ssh_authorized_keys"] == [TEST_PUBLIC_KEY]
    assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
    assert doc["ssh_pwauth"] is False
    assert TEST_PRIVATE_KEY.strip() not in p.named("worker-2-cloudinit").inputs["userData"]


def test_cloud_init_runs_the_node_preparation_script_for_docker_group_and_ports() -> None:
    p = run_program(base_config())
    doc = _user_data(p, "manager-1")
    (prepare,) = [f for f in doc["write_files"] if f["path"] == PREPARE_PATH]
    assert prepare["content"] == script_text("prepare-node.sh")
    assert prepare["permissions"] == "0755"
    assert doc["runcmd"] == [[PREPARE_PATH, "swarm"]]
    script = prepare["content"]
    assert "docker.io" in script and "usermod -aG docker" in script and "systemctl enable docker" in script
    for port in ("2377/tcp", "7946/tcp", "7946/udp", "4789/udp"):
        assert port in script


def test_cloud_init_network_config_gives_the_fixed_address_and_gateway() -> None:
    p = lab_program(cidr="10.44.0.0/24")
    doc = yaml.safe_load(p.named("worker-1-cloudinit").inputs["networkConfig"])
    eth = doc["ethernets"]["eth0"]
    assert eth["match"] == {"macaddress": mac_address("dev", "worker-1")}
    assert eth["addresses"] == ["10.44.0.21/24"]
    assert eth["routes"] == [{"to": "default", "via": "10.44.0.1"}]
    meta = yaml.safe_load(p.named("worker-1-cloudinit").inputs["metaData"])
    assert meta["local-hostname"] == "worker-1"


def test_cloud_init_disk_name_carries_a_hash_of_its_content() -> None:
    def disk_name(**overrides: object) -> str:
        return run_program(base_config(**overrides)).named("worker-1-cloudinit").inputs["name"]

    first = disk_name()
    assert first.startswith("ha-swarm-dev-worker-1-cloudinit-") and first.endswith(".iso")
    assert disk_name() == first, "same content, same name: no needless replacement"
    other_key = TEST_PUBLIC_KEY.replace("test@", "other@")
    assert disk_name(sshPublicKey=other_key) != first


def test_every_lab_resource_is_a_child_of_the_lab_component() -> None:
    p = run_program(base_config())
    (component,) = p.of_type("ha-swarm:machines:Lab")
    for res in p.resources:
        if res.type.startswith(LIBVIRT) or res.type == "pulumi:providers:libvirt" or res.name.endswith("-ready"):
            assert res.parent == component.urn, f"{res.name} is not parented to the lab component"


def test_readiness_waits_for_ssh_cloud_init_and_docker_with_a_generous_dial_limit() -> None:
    p = run_program(base_config())
    for name in ("manager-1", "worker-1", "worker-2"):
        ready = p.named(f"{name}-ready")
        assert "wait-ready.sh" in ready.inputs["create"]
        conn = ready.inputs["connection"]
        assert conn["dialErrorLimit"] >= 100
        assert conn["host"] == {"manager-1": "10.17.3.11", "worker-1": "10.17.3.21", "worker-2": "10.17.3.22"}[name]
        assert conn["user"] == "swarm"
        assert p.depends_on(ready, p.named(name)), "readiness waits for its VM"
        assert "connection" in ready.secret_inputs, "the connection carries the private key as a secret"


def test_remote_hypervisor_vms_are_reached_through_it_as_ssh_jump_host() -> None:
    p = lab_program(uri="qemu+ssh://ops@hv.example.test/system")
    conn = p.named("worker-1-ready").inputs["connection"]
    assert conn["proxy"]["host"] == "hv.example.test"
    assert conn["proxy"]["user"] == "ops"
    assert conn["host"] == "10.17.3.21"


def test_preview_evaluates_the_dev_stack() -> None:
    p = run_program(base_config(), preview=True)
    assert counts(p)["Domain"] == 3
    assert len(p.of_type("command:remote:Command")) >= 3


def test_isolated_network_mode_gives_a_libvirt_network_without_nat() -> None:
    (net,) = lab_program(networkMode="isolated").of_type(LIBVIRT + "network:Network")
    assert net.inputs["mode"] == "none"


def test_direct_kernel_boot_uploads_kernel_and_initrd_to_the_pool_and_boots_every_vm_from_them(tmp_path) -> None:
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(b"k")
    initrd.write_bytes(b"i")
    p = lab_program(kernel=str(kernel), initrd=str(initrd), kernelArgs="root=/dev/vda  rw console=ttyS0")
    boot_kernel, boot_initrd = p.named("boot-kernel"), p.named("boot-initrd")
    assert (boot_kernel.inputs["source"], boot_initrd.inputs["source"]) == (str(kernel), str(initrd))
    assert boot_kernel.inputs["pool"] == p.named("pool").inputs["name"]
    for domain in p.of_type(LIBVIRT + "domain:Domain"):
        assert (domain.inputs["kernel"], domain.inputs["initrd"]) == (boot_kernel.id, boot_initrd.id)
        # The form the provider reads back (sorted, keyed words grouped, bare words last), not the file's order.
        assert domain.inputs["cmdlines"] == [{"console": "ttyS0", "root": "/dev/vda"}, {"_": "rw"}]


def test_kernel_arguments_take_the_form_the_libvirt_provider_reads_back() -> None:
    # terraform-provider-libvirt writes the entries sorted and reads the line back as maps of
    # key=value words (a new map at a repeated key) and one `_` entry with every bare word.
    assert kernel_cmdlines("") == []
    assert kernel_cmdlines("root=/dev/vda rw console=ttyS0") == [{"console": "ttyS0", "root": "/dev/vda"}, {"_": "rw"}]
    assert kernel_cmdlines("quiet console=tty0 console=ttyS0 ro net.ifnames=0") == [
        {"console": "tty0"},
        {"console": "ttyS0", "net.ifnames": "0"},
        {"_": "quiet ro"},
    ]
    assert kernel_cmdlines("init= a=1=2") == [{"a": "1=2", "init": ""}]


def test_kernel_arguments_are_a_fixed_point_of_the_providers_write_and_read() -> None:
    def provider_round_trip(cmdlines: list[dict[str, str]]) -> str:
        # setCmdlineArgs: one entry per map item (`_` items bare), sorted, joined by spaces.
        entries = sorted(value if key == "_" else f"{key}={value}" for m in cmdlines for key, value in m.items())
        return " ".join(entries)

    for line in ("root=/dev/vda rw console=ttyS0", "b a=1 c console=tty0 console=ttyS0 z=9 quiet", "single"):
        form = kernel_cmdlines(line)
        assert kernel_cmdlines(provider_round_trip(form)) == form


def test_without_kernel_settings_the_vms_boot_their_image_as_usual() -> None:
    p = lab_program()
    assert not [v for v in p.of_type(LIBVIRT + "volume:Volume") if v.name.startswith("boot-")]
    for domain in p.of_type(LIBVIRT + "domain:Domain"):
        assert "kernel" not in domain.inputs and "cmdlines" not in domain.inputs
