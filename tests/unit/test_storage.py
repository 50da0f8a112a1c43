"""storage.nfs: the setting and its refusals, ${NFS_ADDR}/${NFS_EXPORT} for the compose files, the
NFS server and clients in cloud-init, the folders of the stacks' NFS volumes, and the program
under mocks with the example stack stacks/counter.yml."""

from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ha_swarm.apps.compose.load import translate
from ha_swarm.apps.compose.model import ComposeError, StackSpec
from ha_swarm.apps.nfs import nfs_folders
from ha_swarm.apps.stacks import load_stacks, stack_variables
from ha_swarm.config import parse_settings
from ha_swarm.config.model import DEFAULT_NFS_EXPORT, StackEntry, StorageSettings
from ha_swarm.machines.cloudinit import NFS_NODE_PATH, PREPARE_PATH, render
from ha_swarm.nodes.node import NodeSpec
from ha_swarm.nodes.remote import script_text
from ha_swarm.nodes.topology import topology
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY, Program, Registered, base_config, run_program
from tests.unit.test_settings import refused

IMAGE_URL = "https://example.test/debian-12-genericcloud-amd64.qcow2"
SERVER = "10.17.3.11"
COUNTER_IMAGE = "ha-swarm/whoami:lite-2"


def lab(storage: Any = None, **top: Any) -> dict[str, Any]:
    raw = {"target": "lab", "lab": {"image": IMAGE_URL, "domainType": "kvm"}, "sshPublicKey": TEST_PUBLIC_KEY, "sshPrivateKey": TEST_PRIVATE_KEY, **top}
    if storage is not None:
        raw["storage"] = storage
    return raw


# --------------------------------------------------------------------------- the setting


def test_storage_is_off_by_default_and_provides_no_variables() -> None:
    s = parse_settings(lab())
    assert s.storage == StorageSettings(nfs=False, export=DEFAULT_NFS_EXPORT)
    assert topology(s).nfs_server is None and topology(s).nfs_variables == ()


@pytest.mark.parametrize("value", [True, "true", "True"])
def test_storage_nfs_makes_the_first_manager_the_server_and_provides_its_address(value: Any) -> None:
    s = parse_settings(lab({"nfs": value}))
    assert s.storage == StorageSettings(nfs=True, export="/srv/nfs")
    assert topology(s).nfs_server is not None and topology(s).nfs_server.name == "manager-1"
    assert topology(s).nfs_variables == (("NFS_ADDR", SERVER), ("NFS_EXPORT", "/srv/nfs"))


def test_with_three_managers_the_first_one_serves_nfs() -> None:
    s = parse_settings({**lab({"nfs": True, "export": "/data/shared"}), "lab": {"image": IMAGE_URL, "domainType": "kvm", "managers": 3, "cidr": "10.9.0.0/24"}})
    assert topology(s).nfs_server is not None and (topology(s).nfs_server.name, topology(s).nfs_server.swarm_address) == ("manager-1", "10.9.0.11")
    assert dict(topology(s).nfs_variables) == {"NFS_ADDR": "10.9.0.11", "NFS_EXPORT": "/data/shared"}


def test_storage_nfs_on_target_cloud_is_refused_pointing_at_your_own_nfs_server() -> None:
    raw = {"target": "cloud", "cloud": {"hosts": [{"name": "m1", "address": "203.0.113.1", "role": "manager"}]}, "sshPrivateKey": TEST_PRIVATE_KEY}
    message = refused({**raw, "storage": {"nfs": True}})
    assert message.startswith("config ha-swarm:storage.nfs = true is refused: a lab option only")
    assert "point the volumes' driver_opts at your own NFS server (o: addr=..., device: :/export)" in message
    assert "stackVariables NFS_ADDR and NFS_EXPORT" in message
    assert parse_settings({**raw, "storage": {"nfs": False}}).storage.nfs is False


def test_nfs_addr_may_be_a_stack_variable_while_storage_nfs_is_off() -> None:
    s = parse_settings(lab(stackVariables={"NFS_ADDR": "192.0.2.9", "NFS_EXPORT": "/exports"}))
    assert dict(s.stack_variables) == {"NFS_ADDR": "192.0.2.9", "NFS_EXPORT": "/exports"}


@pytest.mark.parametrize("name", ["NFS_ADDR", "NFS_EXPORT"])
def test_nfs_variables_are_reserved_while_storage_nfs_is_on(name: str) -> None:
    message = refused(lab({"nfs": True}, stackVariables={name: "x"}))
    assert message == f"config ha-swarm:stackVariables.{name} = 'x' is refused: no {name} while storage.nfs is on: the program sets it (the first manager's NFS server)"


@pytest.mark.parametrize(
    ("storage", "key", "allowed"),
    [
        ("yes", "storage", "an object"),
        ({"nfs": "yes"}, "storage.nfs", "true or false"),
        ({"nfs": True, "size": 10}, "storage.size", "unknown key; allowed keys: nfs, export"),
        ({"export": "/data"}, "storage.export", "an export folder only together with storage.nfs: true"),
        ({"nfs": True, "export": "srv/nfs"}, "storage.export", "an absolute folder path of plain names such as /srv/nfs"),
        ({"nfs": True, "export": "/"}, "storage.export", "not / or a system folder"),
        ({"nfs": True, "export": "/srv/nfs/"}, "storage.export", "an absolute folder path"),
        ({"nfs": True, "export": "/srv/../etc"}, "storage.export", "an absolute folder path"),
        ({"nfs": True, "export": "/srv/my data"}, "storage.export", "an absolute folder path"),
        ({"nfs": True, "export": "/etc"}, "storage.export", "not / or a system folder"),
        ({"nfs": True, "export": "/var/lib/docker/volumes"}, "storage.export", "not / or a system folder"),
        ({"nfs": True, "export": 5}, "storage.export", "an absolute folder path"),
    ],
)
def test_bad_storage_values_are_refused(storage: Any, key: str, allowed: str) -> None:
    message = refused(lab(storage))
    assert message.startswith(f"config ha-swarm:{key} = "), message
    assert allowed in message, message


# --------------------------------------------------------------------------- cloud-init


def _spec(name: str = "manager-1") -> NodeSpec:
    return next(n for n in parse_settings(lab({"nfs": True})).nodes if n.name == name)


def _render(name: str, storage: StorageSettings | None, nfs_server: bool = False) -> dict[str, Any]:
    doc = render(_spec(name), stack="dev", public_key=TEST_PUBLIC_KEY, network=ipaddress.IPv4Network("10.17.3.0/24"), storage=storage, nfs_server=nfs_server)
    return yaml.safe_load(doc.user_data)


def test_without_storage_nfs_cloud_init_is_exactly_what_it_was_so_no_vm_is_replaced() -> None:
    spec = _spec("worker-1")
    network = ipaddress.IPv4Network("10.17.3.0/24")
    before = render(spec, stack="dev", public_key=TEST_PUBLIC_KEY, network=network)
    assert render(spec, stack="dev", public_key=TEST_PUBLIC_KEY, network=network, storage=StorageSettings(), nfs_server=False) == before
    assert "nfs" not in before.user_data


def test_the_nfs_server_exports_the_folder_to_the_lab_network_after_the_node_is_prepared() -> None:
    doc = _render("manager-1", StorageSettings(nfs=True, export="/srv/nfs"), nfs_server=True)
    (script,) = [f for f in doc["write_files"] if f["path"] == NFS_NODE_PATH]
    assert script["content"] == script_text("nfs-node.sh") and script["permissions"] == "0755"
    assert doc["runcmd"] == [[PREPARE_PATH, "swarm"], [NFS_NODE_PATH, "server", "/srv/nfs", "10.17.3.0/24"]]


def test_every_other_node_gets_the_nfs_client() -> None:
    doc = _render("worker-2", StorageSettings(nfs=True), nfs_server=False)
    assert doc["runcmd"] == [[PREPARE_PATH, "swarm"], [NFS_NODE_PATH, "client"]]


def test_the_nfs_script_exports_read_write_without_root_squash_and_installs_only_what_is_missing() -> None:
    text = script_text("nfs-node.sh")
    assert "rw,sync,no_subtree_check,no_root_squash" in text
    assert "command -v exportfs >/dev/null 2>&1 && return 0" in text
    assert "command -v mount.nfs >/dev/null 2>&1 && return 0" in text
    assert text.splitlines()[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in text


# --------------------------------------------------------------------------- the folders of the NFS volumes


def stack_with(volumes: dict[str, Any], file: str = "stacks/app.yml") -> StackSpec:
    services = {"app": {"image": "nginx:1.27", "volumes": [f"{key}:/{key}" for key in volumes]}}
    return translate({"version": "3.9", "services": services, "volumes": volumes}, {"NFS_ADDR": SERVER}, file=file, stack_name=Path(file).stem)


def nfs(device: str, addr: str = "${NFS_ADDR}", kind: str = "nfs", **extra: Any) -> dict[str, Any]:
    return {"driver": "local", "driver_opts": {"type": kind, "o": f"addr={addr},rw,nfsvers=4", "device": device}, **extra}


def test_the_counter_example_needs_the_counter_folder() -> None:
    variables = stack_variables("traefik", (("COUNTER_IMAGE", COUNTER_IMAGE),), (("NFS_ADDR", SERVER), ("NFS_EXPORT", "/srv/nfs")))
    assert nfs_folders(load_stacks([StackEntry("stacks/counter.yml")], variables), SERVER, "/srv/nfs") == ("counter",)


def test_folders_of_every_nfs_volume_on_the_server_sorted_and_once() -> None:
    one = stack_with({"b": nfs(":/srv/nfs/b"), "a": nfs(f"{SERVER}:/srv/nfs/a/data", kind="nfs4"), "root": nfs(":/srv/nfs/")})
    two = stack_with({"same": nfs(":/srv/nfs/b")}, file="stacks/other.yml")
    assert nfs_folders([one, two], SERVER, "/srv/nfs") == ("a/data", "b")


def test_volumes_of_other_servers_external_or_not_nfs_need_no_folder() -> None:
    spec = stack_with(
        {
            "elsewhere": nfs(":/outside", addr="192.0.2.1"),
            "ext": {"external": True},
            "plain": None,
            "tmp": {"driver_opts": {"type": "tmpfs", "device": "tmpfs"}},
            "plugin": nfs(":/srv/nfs/p", driver="some/plugin"),
        }
    )
    assert nfs_folders([spec], SERVER, "/srv/nfs") == ()


@pytest.mark.parametrize("device", [":/data/app", ":/srv/nfsx/app", ":/srv/nfs/../etc", "/srv/nfs/a b", "relative"])
def test_an_nfs_volume_of_the_server_outside_its_export_is_refused(device: str) -> None:
    with pytest.raises(ComposeError) as info:
        nfs_folders([stack_with({"data": nfs(device)})], SERVER, "/srv/nfs")
    assert str(info.value) == (
        f"stacks/app.yml: volumes.data.driver_opts.device = {device!r} is refused: a folder of the lab's NFS export, "
        "such as :/srv/nfs/data (storage.export is /srv/nfs; write :${NFS_EXPORT}/data)"
    )


# --------------------------------------------------------------------------- the program under mocks


def counter_config(**storage: Any) -> dict[str, Any]:
    return base_config(storage=storage, stacks=["stacks/demo.yml", "stacks/counter.yml"], stackVariables={"COUNTER_IMAGE": COUNTER_IMAGE})


def service(p: Program, name: str) -> Registered:
    (found,) = [r for r in p.of_type("docker:index/service:Service") if r.inputs["name"] == name]
    return found


def test_the_counter_service_mounts_the_nfs_folder_of_the_first_manager() -> None:
    p = run_program(counter_config(nfs=True))
    spec = service(p, "counter_counter").inputs["taskSpec"]
    assert spec["containerSpec"]["image"] == COUNTER_IMAGE
    assert spec["containerSpec"]["env"] == {"COUNTER_FILE": "/data/count"}
    (mount,) = spec["containerSpec"]["mounts"]
    assert (mount["type"], mount["source"], mount["target"]) == ("volume", "counter_counter-data", "/data")
    options = mount["volumeOptions"]
    assert options["driverName"] == "local"
    assert options["driverOptions"] == {"type": "nfs", "o": f"addr={SERVER},rw,nfsvers=4", "device": ":/srv/nfs/counter"}
    assert spec["restartPolicy"]["condition"] == "any"


def test_the_nfs_server_creates_the_volume_folders_before_the_services_are_declared() -> None:
    p = run_program(counter_config(nfs=True))
    folders = p.named("nfs-folders")
    words = shlex.split(folders.inputs["create"])
    assert words[:4] == ["sudo", "-n", "bash", "-c"] and words[5:] == ["nfs-node.sh", "server", "/srv/nfs", "10.17.3.0/24", "counter"]
    assert folders.inputs["connection"]["host"] == SERVER
    assert "delete" not in folders.inputs or not folders.inputs["delete"], "the data stays when a volume goes"
    assert p.depends_on(folders, p.named("manager-1-ready"))
    assert p.depends_on(service(p, "counter_counter"), folders)
    assert p.by_urn(folders.parent).type == "ha-swarm:storage:NfsServer"


def test_nfs_on_makes_the_first_manager_the_server_in_cloud_init() -> None:
    p = run_program(counter_config(nfs=True))
    assert yaml.safe_load(p.named("manager-1-cloudinit").inputs["userData"])["runcmd"][1] == [NFS_NODE_PATH, "server", "/srv/nfs", "10.17.3.0/24"]
    assert yaml.safe_load(p.named("worker-1-cloudinit").inputs["userData"])["runcmd"][1] == [NFS_NODE_PATH, "client"]


def test_without_storage_nfs_there_is_no_nfs_server() -> None:
    p = run_program(base_config())
    assert p.of_type("ha-swarm:storage:NfsServer") == []
    assert not any("nfs" in str(r.inputs.get("create", "")) for r in p.of_type("command:remote:Command"))


def test_the_counter_stack_without_storage_nfs_stops_the_program_saying_how_to_provide_nfs_addr() -> None:
    with pytest.raises(ComposeError) as info:
        run_program(counter_config())
    message = str(info.value)
    assert "volumes.counter-data.driver_opts.o = 'addr=${NFS_ADDR},rw,nfsvers=4' is refused: variable NFS_ADDR: it is not provided" in message
    assert "storage.nfs: true sets it to the lab's NFS server; elsewhere give your NFS server's address as stackVariables.NFS_ADDR" in message


def test_the_counter_stack_without_an_image_says_which_variable_to_set() -> None:
    config = {**counter_config(nfs=True), "stackVariables": {}}
    with pytest.raises(ComposeError) as info:
        run_program(config)
    assert "variable COUNTER_IMAGE: set stackVariables.COUNTER_IMAGE to an image of toolchain/whoami-lite" in str(info.value)


def test_counter_is_routed_by_traefik_on_its_host() -> None:
    p = run_program(counter_config(nfs=True))
    labels = {item["label"]: item["value"] for item in service(p, "counter_counter").inputs["labels"]}
    assert labels["traefik.http.routers.counter.rule"] == "Host(`counter.traefik`)"
    assert labels["traefik.http.services.counter.loadbalancer.server.port"] == "80"
    assert any(e["host"] == "counter.traefik" for e in p.outputs["endpoints"])
