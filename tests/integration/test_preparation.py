"""Issue 5: prepare-node.sh, run as the program runs it (over SSH, as root through `sudo -n`), on a
host where the SSH user is not in the docker group and on a host already prepared.

Docker Engine is already installed on the test hosts (the machine's docker.io), so the install path
of the script is not exercised here; its refusals are tested in tests/scripts/test_prepare_node.py."""

from __future__ import annotations

from tests.support.cluster import run_script, ssh_ok
from tests.support.hosts import SSH_USER, Harness, Host, children


def daemon_state(host: Host) -> dict[str, object]:
    """What preparation could change about the daemon: its process, identity, swarm membership, content."""
    assert host.dockerd is not None
    return {
        "pid": children(host.dockerd.pid),
        "info": host.info("{{.ID}} {{.ServerVersion}} {{.Swarm.NodeID}} {{.Swarm.LocalNodeState}} {{.Containers}} {{.Images}}"),
        "socket": host.exec(["stat", "-c", "%U:%G %a %i", "/var/run/docker.sock"], check=True).stdout,
    }


def accounts(host: Host) -> dict[str, str]:
    return {name: host.exec(["cat", f"/etc/{name}"], check=True).stdout for name in ("group", "gshadow", "passwd")}


def prepare(hosts: Harness, host: Host):
    return run_script(hosts, host, "prepare-node.sh", SSH_USER, "distro", as_root=True)


def test_prepare_node_adds_the_user_to_the_docker_group_and_a_second_run_changes_nothing(hosts: Harness):
    host = hosts["w2"]  # the harness leaves swarm out of the docker group there
    groups = ssh_ok(hosts.ssh(host, "id -nG"), "id").split()
    assert "docker" not in groups, "precondition: the harness leaves swarm out of the docker group on w2"
    denied = hosts.ssh(host, "docker info --format '{{.Name}}'")
    assert denied.returncode != 0 and "permission denied" in denied.stderr
    before, daemon = accounts(host), daemon_state(host)

    first = prepare(hosts, host)
    first.ok()
    assert first.stdout == ""
    assert f"adding {SSH_USER} to the docker group" in first.stderr
    assert "installing" not in first.stderr, "an installed Docker Engine is never reinstalled"
    # A new SSH session has the group: docker works without sudo.
    assert "docker" in ssh_ok(hosts.ssh(host, "id -nG"), "id").split()
    assert ssh_ok(hosts.ssh(host, "docker info --format '{{.Name}}'"), "docker info without sudo").strip() == host.hostname
    after = accounts(host)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"group", "gshadow"}
    diff = set(after["group"].splitlines()) ^ set(before["group"].splitlines())
    assert all(line.startswith("docker:") for line in diff), diff
    assert daemon_state(host) == daemon, "the daemon was not touched"

    second = prepare(hosts, host)
    second.ok()
    assert "adding" not in second.stderr and "installing" not in second.stderr
    assert accounts(host) == after
    assert daemon_state(host) == daemon


def test_prepare_node_on_a_prepared_host_exits_0_and_changes_nothing(hosts: Harness):
    host = hosts["m1"]
    assert "docker" in ssh_ok(hosts.ssh(host, "id -nG"), "id").split()
    before, daemon = accounts(host), daemon_state(host)
    for _ in range(2):
        run = prepare(hosts, host)
        run.ok()
        assert run.stdout == "" and run.stderr == "", f"a prepared host gets no message: {run.stderr}"
        assert accounts(host) == before
        assert daemon_state(host) == daemon
