"""acme-key.sh on a real Docker daemon (traefik.acme.issuer: swarm): the sealing key and the import
of a manager's copy of the ACME store as the swarm secret traefik-acme-import; idempotent, nothing
secret on stdout, and what swarm cannot take (a store above 500 KB) not imported."""

from __future__ import annotations

import json
import os

import pytest

from .conftest import Cluster, Host, wait_for
from .test_swarm_scripts import form_swarm, ok

if os.geteuid() != 0:
    pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd", allow_module_level=True)

STORE = {"le": {"Account": {"Email": "ops@example.test", "PrivateKey": "S0VZ"}, "Certificates": [{"domain": {"main": "a.test"}, "key": "UFJJVg=="}]}}


def secrets(host: Host) -> dict[str, str]:
    out = host.docker("secret", "ls", "--format", "{{.Name}}\t{{.ID}}")
    return dict(line.split("\t") for line in out.splitlines())


def store_file(host: Host, text: str) -> None:
    """TEXT as acme.json on the host's traefik-acme volume (what today's single Traefik leaves)."""
    host.docker("volume", "create", "traefik-acme")
    mountpoint = host.docker("volume", "inspect", "--format", "{{.Mountpoint}}", "traefik-acme")
    host.exec(["sh", "-c", f"cat > {mountpoint}/acme.json"], input=text.encode(), check=True)


def mounted(cluster: Cluster, host: Host, secret: str) -> str:
    """What a task that mounts SECRET reads (swarm gives a secret's content to tasks only)."""
    image = cluster.ensure_image(host)
    name = "read-import"
    host.docker("service", "create", "--detach", "--name", name, "--restart-condition", "none", "--secret", secret, image, "/bin/cat", f"/run/secrets/{secret}")
    try:
        wait_for(lambda: "Complete" in host.docker("service", "ps", name, "--format", "{{.CurrentState}}"), 60, "the reading task")
        return host.docker("service", "logs", "--raw", name)
    finally:
        host.docker("service", "rm", name, check=False)


def test_import_makes_the_managers_store_a_swarm_secret_once_and_prints_only_its_id(cluster: Cluster) -> None:
    form_swarm(cluster, ["a"])
    a = cluster["a"]
    store_file(a, json.dumps(STORE))
    res = a.run("acme-key.sh", "import")
    secret_id = ok(res, "import").strip()
    assert secrets(a)["traefik-acme-import"] == secret_id
    assert "from this node's copy of the ACME store" in res.stderr
    assert "UFJJVg" not in res.stdout + res.stderr
    assert json.loads(mounted(cluster, a, "traefik-acme-import")) == STORE
    # Again: the same secret, nothing made anew (a changed copy is not imported twice: the published store is newer).
    store_file(a, "{}")
    assert ok(a.run("acme-key.sh", "import"), "import again").strip() == secret_id
    # unimport removes it, and twice is no error.
    ok(a.run("acme-key.sh", "unimport"), "unimport")
    assert "traefik-acme-import" not in secrets(a)
    ok(a.run("acme-key.sh", "unimport"), "unimport again")


def test_import_without_a_store_or_with_one_swarm_cannot_take_makes_an_empty_import(cluster: Cluster) -> None:
    form_swarm(cluster, ["a"])
    a = cluster["a"]
    a.docker("volume", "rm", "--force", "traefik-acme")
    res = a.run("acme-key.sh", "import")
    ok(res, "import without a volume")
    assert "no ACME store on this node" in res.stderr
    assert mounted(cluster, a, "traefik-acme-import").strip() == "{}"
    ok(a.run("acme-key.sh", "unimport"), "unimport")
    store_file(a, json.dumps({**STORE, "pad": "x" * 600_000}))
    res = a.run("acme-key.sh", "import")
    ok(res, "import of a store too large")
    assert "larger than a swarm secret takes" in res.stderr
    assert mounted(cluster, a, "traefik-acme-import").strip() == "{}"
    a.docker("volume", "rm", "--force", "traefik-acme")


def test_the_key_is_made_once_and_delete_removes_it_with_the_store_configs(cluster: Cluster) -> None:
    form_swarm(cluster, ["a"])
    a = cluster["a"]
    key_id = ok(a.run("acme-key.sh", "create"), "create").strip()
    assert secrets(a)["traefik-acme-key"] == key_id
    assert ok(a.run("acme-key.sh", "create"), "create again").strip() == key_id
    a.docker("config", "create", "--label", "ha-swarm.acme-store.seq=1", "traefik-acme-store-1-abc", "-", stdin="sealed")
    ok(a.run("acme-key.sh", "delete"), "delete")
    assert "traefik-acme-key" not in secrets(a)
    assert a.docker("config", "ls", "--quiet") == ""
