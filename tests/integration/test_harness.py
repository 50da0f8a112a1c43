"""The test hosts themselves: separate names, addresses, daemons, users and SSH servers, and a
machine left as it was (its /etc, host name and network are the hosts' to copy, never to change)."""

from __future__ import annotations

import os
import subprocess

from tests.support.cluster import ssh_ok
from tests.support.hosts import IMAGE, SSH_USER, Harness


def test_each_host_has_its_own_name_address_users_and_docker_socket(hosts: Harness):
    for host in hosts:
        docker = "docker" if host.in_docker_group else "sudo -n docker"
        out = ssh_ok(
            hosts.ssh(host, f"hostname; id -un; id -nG; ip -4 -o addr show dev eth0; {docker} info --format '{{{{.Name}}}}'; stat -c '%U:%G %a' /var/run/docker.sock"),
            f"ssh {host.hostname}",
        ).splitlines()
        assert out[0] == host.hostname
        assert out[1] == SSH_USER
        assert ("docker" in out[2].split()) == host.in_docker_group, f"docker group on {host.hostname}: {out[2]}"
        assert f" {host.address}/24 " in out[3]
        assert out[4] == host.hostname, "the daemon behind /var/run/docker.sock is the host's own"
        assert out[5] == "root:docker 660"
        assert ssh_ok(hosts.ssh(host, "id -un; sudo -n id -un", user="root"), "ssh as root").split() == ["root", "root"]
    assert [h.name for h in hosts if not h.in_docker_group] == ["w2"]


def test_the_hosts_accept_only_the_harness_key(hosts: Harness):
    host = hosts["m1"]
    no_key = hosts.in_ctl(
        [
            "ssh",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            f"{SSH_USER}@{host.address}",
            "true",
        ]
    )
    assert no_key.returncode == 255 and "Permission denied" in no_key.stderr


def test_each_sshd_has_its_own_host_key(hosts: Harness):
    keys = {}
    for host in hosts:
        scanned = hosts.in_ctl(["ssh-keyscan", "-t", "ed25519", host.address])
        assert scanned.returncode == 0, scanned.stderr
        keys[host.name] = " ".join(scanned.stdout.split()[1:3])
        assert keys[host.name] == host.host_key
    assert len(set(keys.values())) == len(keys)


def test_the_stand_in_image_answers_with_its_hostname_on_every_host(hosts: Harness):
    client = str(hosts.state_dir / "hostname-http")
    for host in hosts:
        assert host.docker("image", "inspect", "--format", "{{json .Config.Entrypoint}} {{json .Config.ExposedPorts}}", IMAGE) == '["/hostname-http"] {"80/tcp":{}}'
    host = hosts["m1"]
    name = "hs-probe"
    host.docker("run", "--detach", "--name", name, "--network", "host", "--env", "HTTP_PORTS=8081", IMAGE)
    try:
        answer = hosts.in_ctl([client, "get", f"http://{host.address}:8081/some/path"])
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.startswith(f"Hostname: {host.hostname}\n")
        assert "GET /some/path HTTP/1.1" in answer.stdout
        assert f"Host: {host.address}:8081" in answer.stdout
        health = hosts.in_ctl([client, "get", f"http://{host.address}:8081/health"])
        assert health.stdout == "OK\n"
    finally:
        host.docker("rm", "--force", name, check=False)


def test_the_machine_keeps_its_etc_hostname_and_network(hosts: Harness, machine_before: dict):
    from tests.integration.conftest import etc_fingerprint

    assert etc_fingerprint() == machine_before["etc"], "the machine's /etc changed"
    assert os.uname().nodename == machine_before["hostname"]
    addresses = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    assert hosts.subnet not in addresses, "the bridge has an address in the machine's own network namespace"
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert " p-" not in links and " br0:" not in links
