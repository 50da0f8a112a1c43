"""The configuration contract: defaults, derived nodes, and every refusal with its message."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from ha_swarm.config import SettingsError, parse_settings
from ha_swarm.config.model import DEFAULT_TRAEFIK_IMAGE, Settings, StackEntry
from tests.support.mocks import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY

IMAGE_URL = "https://example.test/debian-12-genericcloud-amd64.qcow2"
BCRYPT_LINE = "admin:$2y$05$" + "a" * 53


def lab(**lab_overrides: Any) -> dict[str, Any]:
    return {
        "target": "lab",
        "lab": {"image": IMAGE_URL, "domainType": "kvm", **lab_overrides},
        "sshPublicKey": TEST_PUBLIC_KEY,
        "sshPrivateKey": TEST_PRIVATE_KEY,
    }


def cloud(hosts: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"target": "cloud", "cloud": {"hosts": hosts}, "sshPrivateKey": TEST_PRIVATE_KEY, **top}


def host(name: str, address: str, role: str = "worker", **extra: Any) -> dict[str, Any]:
    return {"name": name, "address": address, "role": role, **extra}


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw)
    message = str(info.value)
    assert "\n" not in message, "a refusal is one line"
    return message


# --------------------------------------------------------------------------- accepted values


def test_lab_defaults_are_the_tutorials_one_manager_two_workers() -> None:
    s = parse_settings(lab())
    assert isinstance(s, Settings)
    assert s.target == "lab" and s.lab is not None
    assert (s.lab.managers, s.lab.workers) == (1, 2)
    assert s.lab.uri == "qemu:///system"
    assert s.lab.cidr == ipaddress.IPv4Network("10.17.3.0/24")
    assert (s.lab.domain_type, s.lab.vcpus, s.lab.memory_mib, s.lab.disk_gib) == ("kvm", 2, 2048, 20)
    assert s.ssh_user == "swarm" and s.domain == "traefik"
    assert s.stacks == (StackEntry("stacks/demo.yml"),)
    assert s.traefik.image == DEFAULT_TRAEFIK_IMAGE and s.traefik.publish_mode == "ingress"
    assert s.traefik.dashboard_users == () and s.traefik.acme is None
    assert [n.name for n in s.nodes] == ["manager-1", "worker-1", "worker-2"]


def test_default_traefik_image_talks_to_docker_29() -> None:
    version = DEFAULT_TRAEFIK_IMAGE.split(":v", 1)[1]
    assert tuple(int(p) for p in version.split(".")) >= (3, 6, 1)


def test_lab_addresses_are_fixed_by_role_and_index() -> None:
    s = parse_settings(lab(managers=3, workers=10))
    addresses = {n.name: n.swarm_address for n in s.nodes}
    assert addresses["manager-1"] == "10.17.3.11"
    assert addresses["manager-3"] == "10.17.3.13"
    assert addresses["worker-1"] == "10.17.3.21"
    assert addresses["worker-10"] == "10.17.3.30"
    assert all(n.ssh_address == n.swarm_address for n in s.nodes)


def test_adding_workers_never_renumbers_existing_nodes() -> None:
    small = {n.name: n.swarm_address for n in parse_settings(lab(managers=1, workers=2)).nodes}
    large = {n.name: n.swarm_address for n in parse_settings(lab(managers=3, workers=9)).nodes}
    assert all(large[name] == address for name, address in small.items())


def test_integer_values_given_as_strings_are_accepted() -> None:
    s = parse_settings(lab(managers="3", workers="0"))
    assert s.lab is not None and (s.lab.managers, s.lab.workers) == (3, 0)


def test_local_image_path_is_made_absolute(tmp_path: Path) -> None:
    image = tmp_path / "debian.qcow2"
    image.write_bytes(b"QFI\xfb")
    s = parse_settings(lab(image=str(image)))
    assert s.lab is not None and s.lab.image == str(image)


def test_remote_hypervisor_uri_makes_the_hypervisor_the_ssh_jump_host() -> None:
    s = parse_settings(lab(uri="qemu+ssh://ops@hv.example.test:2222/system"))
    jump = s.nodes[0].jump
    assert jump is not None and (jump.host, jump.user, jump.port) == ("hv.example.test", "ops", 2222)
    assert parse_settings(lab()).nodes[0].jump is None


def test_cloud_hosts_become_nodes_managers_first_with_private_address_for_the_swarm() -> None:
    s = parse_settings(
        cloud(
            [
                host("w1", "203.0.113.21", user="admin", port=2222),
                host("m1", "203.0.113.11", "manager", privateAddress="10.0.0.11"),
                host("m2", "m2.example.test", "manager", privateAddress="10.0.0.12"),
                host("m3", "203.0.113.13", "manager"),
            ]
        )
    )
    assert [n.name for n in s.nodes] == ["m1", "m2", "m3", "w1"]
    m1, m2, m3, w1 = s.nodes
    assert (m1.ssh_address, m1.swarm_address) == ("203.0.113.11", "10.0.0.11")
    assert (m2.ssh_address, m2.swarm_address) == ("m2.example.test", "10.0.0.12")
    assert m3.swarm_address == "203.0.113.13"
    assert (w1.user, w1.port) == ("admin", 2222)
    assert m1.user == "swarm" and m1.port == 22
    assert s.lab is None


def test_node_labels_are_kept_per_node_as_strings() -> None:
    s = parse_settings({**lab(), "nodeLabels": {"worker-1": {"zone": "a", "ssd": True, "rack": 4}}})
    assert s.labels_for("worker-1") == (("rack", "4"), ("ssd", "true"), ("zone", "a"))
    assert s.labels_for("worker-2") == ()


def test_traefik_dashboard_users_and_acme_are_parsed() -> None:
    s = parse_settings({**lab(), "traefik": {"dashboard": {"users": [BCRYPT_LINE]}, "acme": {"email": "ops@example.test", "staging": True}, "publishMode": "host"}})
    assert s.traefik.dashboard_users == (BCRYPT_LINE,)
    assert s.traefik.acme is not None and s.traefik.acme.staging is True
    assert s.traefik.publish_mode == "host"


def test_settings_are_frozen() -> None:
    s = parse_settings(lab())
    with pytest.raises(AttributeError):
        s.domain = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- refusals


def test_unknown_target_is_refused() -> None:
    msg = refused({**lab(), "target": "aws"})
    assert "ha-swarm:target" in msg and "'aws'" in msg and "lab, cloud" in msg


@pytest.mark.parametrize("count", [0, 2, 4, 6, 8, 9])
def test_manager_count_outside_1_3_5_7_is_refused_naming_raft_quorum(count: int) -> None:
    msg = refused(lab(managers=count))
    assert "ha-swarm:lab.managers" in msg and f"{count}" in msg
    assert "1, 3, 5, 7" in msg and "Raft quorum" in msg


def test_negative_workers_are_refused() -> None:
    msg = refused(lab(workers=-1))
    assert "ha-swarm:lab.workers" in msg and "-1" in msg and "0 or more" in msg


def test_non_numeric_workers_are_refused() -> None:
    msg = refused(lab(workers="two"))
    assert "ha-swarm:lab.workers" in msg and "'two'" in msg and "whole number" in msg


def test_unknown_lab_key_is_refused() -> None:
    msg = refused(lab(manager=3))
    assert "ha-swarm:lab.manager" in msg and "allowed keys" in msg and "managers" in msg


def test_unknown_top_level_key_is_refused() -> None:
    msg = refused({**lab(), "sshUsr": "x"})
    assert "ha-swarm:sshUsr" in msg and "allowed keys" in msg


def test_cidr_that_does_not_parse_is_refused() -> None:
    msg = refused(lab(cidr="10.17.3.0/33"))
    assert "ha-swarm:lab.cidr" in msg and "10.17.3.0/33" in msg and "CIDR" in msg


def test_cidr_with_host_bits_is_refused() -> None:
    msg = refused(lab(cidr="10.17.3.5/24"))
    assert "ha-swarm:lab.cidr" in msg and "no host bits" in msg


def test_lab_that_does_not_fit_its_cidr_is_refused() -> None:
    msg = refused(lab(cidr="10.17.3.0/27", workers=20))
    assert "ha-swarm:lab.cidr" in msg and "10.17.3.0/27" in msg and "20 workers" in msg and "shorter prefix" in msg


def test_unknown_domain_type_is_refused() -> None:
    msg = refused(lab(domainType="xen"))
    assert "ha-swarm:lab.domainType" in msg and "'xen'" in msg and "kvm, qemu" in msg


def test_lab_image_missing_is_refused() -> None:
    raw = lab()
    del raw["lab"]["image"]
    msg = refused(raw)
    assert "ha-swarm:lab.image" in msg and "http(s) URL or an existing local path" in msg


def test_lab_image_neither_url_nor_existing_path_is_refused(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.qcow2")
    msg = refused(lab(image=missing))
    assert "ha-swarm:lab.image" in msg and missing in msg and "http(s) URL or an existing local path" in msg
    msg = refused(lab(image="ftp://example.test/image.qcow2"))
    assert "ftp://example.test/image.qcow2" in msg


def test_lab_uri_that_is_not_qemu_is_refused() -> None:
    msg = refused(lab(uri="xen:///system"))
    assert "ha-swarm:lab.uri" in msg and "qemu:///system" in msg


def test_missing_private_key_is_refused() -> None:
    raw = lab()
    del raw["sshPrivateKey"]
    msg = refused(raw)
    assert "ha-swarm:sshPrivateKey" in msg and "pulumi config set --secret sshPrivateKey" in msg


def test_missing_public_key_on_lab_is_refused() -> None:
    raw = lab()
    raw["sshPublicKey"] = ""
    msg = refused(raw)
    assert "ha-swarm:sshPublicKey" in msg and "OpenSSH public key" in msg


def test_malformed_public_key_is_refused() -> None:
    msg = refused({**lab(), "sshPublicKey": "not a key"})
    assert "ha-swarm:sshPublicKey" in msg and "'not a key'" in msg


def test_cloud_without_a_manager_is_refused() -> None:
    msg = refused(cloud([host("w1", "10.0.0.21"), host("w2", "10.0.0.22")]))
    assert "ha-swarm:cloud.hosts" in msg and "at least one host whose role is manager" in msg


def test_cloud_with_an_even_manager_count_is_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "manager"), host("m2", "10.0.0.12", "manager")]))
    assert "Raft quorum" in msg and "1, 3, 5, 7" in msg


def test_cloud_without_hosts_is_refused() -> None:
    msg = refused({"target": "cloud", "sshPrivateKey": TEST_PRIVATE_KEY})
    assert "ha-swarm:cloud.hosts" in msg and "non-empty list" in msg


def test_duplicate_node_names_are_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "manager"), host("m1", "10.0.0.12")]))
    assert "unique node names" in msg and "'m1'" in msg


@pytest.mark.parametrize("name", ["Manager", "node_1", "-a", "a" * 64, "a.b", ""])
def test_node_names_that_are_not_dns_labels_are_refused(name: str) -> None:
    msg = refused(cloud([host(name, "10.0.0.11", "manager")]))
    assert "ha-swarm:cloud.hosts[0].name" in msg and "DNS label" in msg


def test_address_that_does_not_parse_is_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.300", "manager")]))
    assert "ha-swarm:cloud.hosts[0].address" in msg and "10.0.0.300" in msg


def test_private_address_that_does_not_parse_is_refused() -> None:
    msg = refused(cloud([host("m1", "203.0.113.1", "manager", privateAddress="ten.0.0.1")]))
    assert "ha-swarm:cloud.hosts[0].privateAddress" in msg and "ten.0.0.1" in msg


def test_host_reached_by_name_needs_a_private_address() -> None:
    msg = refused(cloud([host("m1", "m1.example.test", "manager")]))
    assert "ha-swarm:cloud.hosts[0].privateAddress" in msg and "m1.example.test" in msg


def test_two_hosts_with_one_swarm_address_are_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "manager"), host("w1", "203.0.113.5", privateAddress="10.0.0.11")]))
    assert "one host per swarm address" in msg and "10.0.0.11" in msg


def test_unknown_host_role_is_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "leader")]))
    assert "ha-swarm:cloud.hosts[0].role" in msg and "manager, worker" in msg


def test_bad_port_is_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "manager", port=70000)]))
    assert "ha-swarm:cloud.hosts[0].port" in msg and "70000" in msg and "1 to 65535" in msg


def test_bad_host_key_is_refused() -> None:
    msg = refused(cloud([host("m1", "10.0.0.11", "manager", hostKey="m1 ssh-ed25519 AAAA")]))
    assert "ha-swarm:cloud.hosts[0].hostKey" in msg and "ssh-keyscan" in msg


def test_labels_for_an_unknown_node_are_refused() -> None:
    msg = refused({**lab(), "nodeLabels": {"worker-9": {"zone": "a"}}})
    assert "ha-swarm:nodeLabels.worker-9" in msg and "manager-1, worker-1, worker-2" in msg


def test_reserved_label_prefix_is_refused() -> None:
    msg = refused({**lab(), "nodeLabels": {"worker-1": {"ha-swarm.name": "x"}}})
    assert "ha-swarm:nodeLabels.worker-1.ha-swarm.name" in msg and "reserved" in msg


def test_bad_domain_is_refused() -> None:
    msg = refused({**lab(), "domain": "Not A Domain"})
    assert "ha-swarm:domain" in msg and "'Not A Domain'" in msg and "DNS name" in msg


def test_bad_ssh_user_is_refused() -> None:
    msg = refused({**lab(), "sshUser": "Root User"})
    assert "ha-swarm:sshUser" in msg and "Linux user name" in msg


def test_bad_publish_mode_is_refused() -> None:
    msg = refused({**lab(), "traefik": {"publishMode": "mesh"}})
    assert "ha-swarm:traefik.publishMode" in msg and "ingress, host" in msg


def test_dashboard_user_that_is_not_bcrypt_is_refused_without_echoing_it() -> None:
    msg = refused({**lab(), "traefik": {"dashboard": {"users": ["admin:plaintext-password"]}}})
    assert "ha-swarm:traefik.dashboard.users[0]" in msg and "bcrypt" in msg
    assert "plaintext-password" not in msg


def test_stacks_that_are_not_compose_files_are_refused() -> None:
    msg = refused({**lab(), "stacks": ["stacks/demo.txt"]})
    assert "ha-swarm:stacks" in msg and "stacks/demo.txt" in msg and ".yml" in msg


def test_cloud_docker_source_defaults_to_the_distributions_packages() -> None:
    s = parse_settings(cloud([host("m1", "10.0.0.11", "manager")]))
    assert s.cloud is not None and s.cloud.docker_source == "distro"
    s = parse_settings({**cloud([host("m1", "10.0.0.11", "manager")]), "cloud": {"hosts": [host("m1", "10.0.0.11", "manager")], "dockerSource": "docker"}})
    assert s.cloud is not None and s.cloud.docker_source == "docker"


def test_the_cloud_example_stack_is_valid() -> None:
    import yaml

    from tests.support.mocks import ROOT

    doc = yaml.safe_load((ROOT / "Pulumi.cloud.yaml.example").read_text())
    raw = {k.split(":", 1)[1]: v for k, v in doc["config"].items()}
    raw["sshPrivateKey"] = TEST_PRIVATE_KEY
    s = parse_settings(raw)
    assert [n.role for n in s.nodes].count("manager") == 3 and len(s.workers) == 2


def test_refusals_quote_strings_but_not_numbers() -> None:
    assert "lab.managers = 2 is refused" in refused(lab(managers=2))
    assert "target = 'aws' is refused" in refused({**lab(), "target": "aws"})


def test_stack_variables_become_strings_sorted_by_name() -> None:
    s = parse_settings({**lab(), "stackVariables": {"WHOAMI_IMAGE": "local/whoami:1", "REPLICAS": 3, "DEBUG": True}})
    assert s.stack_variables == (("DEBUG", "true"), ("REPLICAS", "3"), ("WHOAMI_IMAGE", "local/whoami:1"))
    assert parse_settings(lab()).stack_variables == ()


@pytest.mark.parametrize(
    ("variables", "key", "allowed"),
    [
        ({"1BAD": "x"}, "stackVariables.1BAD", "variable name"),
        ({"DOMAIN": "other.test"}, "stackVariables.DOMAIN", "sets from its own settings"),
        ({"IMAGES": ["a", "b"]}, "stackVariables.IMAGES", "string, number or boolean"),
        ("WHOAMI_IMAGE=x", "stackVariables", "an object"),
    ],
)
def test_bad_stack_variables_are_refused(variables: Any, key: str, allowed: str) -> None:
    msg = refused({**lab(), "stackVariables": variables})
    assert f"ha-swarm:{key} " in msg and allowed in msg


def test_direct_kernel_boot_settings_default_their_arguments(tmp_path: Path) -> None:
    (tmp_path / "k").write_bytes(b"k")
    (tmp_path / "i").write_bytes(b"i")
    s = parse_settings(lab(kernel=str(tmp_path / "k"), initrd=str(tmp_path / "i")))
    assert s.lab is not None
    assert (s.lab.kernel, s.lab.initrd, s.lab.kernel_args) == (str(tmp_path / "k"), str(tmp_path / "i"), "root=/dev/vda rw console=ttyS0")
    assert parse_settings(lab()).lab.kernel is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "key", "allowed"),
    [
        ({"kernel": "https://example.test/vmlinuz"}, "lab.kernel", "lab.initrd too"),
        ({"initrd": "https://example.test/initrd"}, "lab.initrd", "lab.kernel too"),
        ({"kernelArgs": "quiet"}, "lab.kernelArgs", "only together with lab.kernel"),
        ({"kernel": "/nonexistent/vmlinuz", "initrd": "https://example.test/initrd"}, "lab.kernel", "Linux kernel"),
        ({"kernel": "https://example.test/k", "initrd": "https://example.test/i", "kernelArgs": ""}, "lab.kernelArgs", "one line"),
        ({"networkMode": "bridge"}, "lab.networkMode", "isolated"),
    ],
)
def test_bad_kernel_boot_and_network_mode_settings_are_refused(overrides: dict[str, Any], key: str, allowed: str) -> None:
    msg = refused(lab(**overrides))
    assert f"ha-swarm:{key} " in msg and allowed in msg


def test_stacks_entries_may_be_plain_paths_or_file_name_variables_configs_secrets() -> None:
    s = parse_settings(
        {
            **lab(),
            "stacks": [
                "stacks/demo.yml",
                {"file": "x/docker-compose.traefik.yml", "name": "traefik", "variables": {"DOMAIN": "t.example", "N": 2}, "secrets": {"cert": "certs/cert.pem"}},
            ],
        }
    )
    assert s.stacks == (
        StackEntry("stacks/demo.yml"),
        StackEntry("x/docker-compose.traefik.yml", "traefik", (("DOMAIN", "t.example"), ("N", "2")), (), (("cert", "certs/cert.pem"),)),
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "x"}, "stacks[0].file = null is refused: a list of compose file paths or {file, name, variables, configs, secrets}"),
        ({"file": "a.yml", "name": "my.stack"}, "stacks[0].name = 'my.stack' is refused: a stack name of letters and digits"),
        ({"file": "a.yml", "network": "x"}, "stacks[0].network = 'x' is refused: unknown key"),
        ({"file": "a.yml", "variables": {"1X": "v"}}, "stacks[0].variables.1X = 'v' is refused: a variable name"),
        ({"file": "a.txt"}, "stacks[0].file = 'a.txt' is refused: compose files ending in .yml or .yaml"),
        ({"file": "a.yml", "secrets": {"cert": 3}}, "stacks[0].secrets.cert = 3 is refused: the path of a file with its content"),
    ],
)
def test_bad_stack_entries_are_refused(entry: dict[str, Any], expected: str) -> None:
    assert expected in refused({**lab(), "stacks": [entry]})


def test_the_secret_names_key_is_derived_from_the_private_key_one_way() -> None:
    key = parse_settings(lab()).secret_names_key
    assert len(key) == 32 and TEST_PRIVATE_KEY.encode()[:32] != key
    assert parse_settings({**lab(), "sshPrivateKey": TEST_PRIVATE_KEY.replace("TEST-ONLY", "OTHER-TEST")}).secret_names_key != key
    assert "secret_names_key" not in repr(parse_settings(lab()))
