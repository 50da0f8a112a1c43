"""nfs-node.sh's decisions, with the NFS tools as stubs that record their calls: the export file,
the folders, the server started and exported once, packages installed only when missing, and the
refusals before anything changes.  (This machine's kernel has no NFS server; the lab e2e runs the
script for real in the VMs.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "ha_swarm" / "nodes" / "scripts" / "nfs-node.sh"
CIDR = "10.17.3.0/24"

if os.geteuid() != 0:
    pytest.skip("nfs-node.sh runs as root", allow_module_level=True)

# The stubs keep their state in files of the test's folder ($STATE).
STUBS = {
    # exportfs -v lists what exportfs -ra last exported (the export file's lines)
    "exportfs": """#!/bin/sh
echo "exportfs $*" >>"$STATE/calls"
case "$1" in
    -v) cat "$STATE/exported" 2>/dev/null ;;
    -ra) cat "$EXPORTS_FILE" >"$STATE/exported" ;;
esac
""",
    "systemctl": """#!/bin/sh
echo "systemctl $*" >>"$STATE/calls"
case "$1" in
    is-enabled) [ -e "$STATE/enabled" ] ;;
    is-active) [ -e "$STATE/active" ] ;;
    enable) touch "$STATE/enabled" ;;
    start) touch "$STATE/active"; cat "$EXPORTS_FILE" >"$STATE/exported" ;;
esac
""",
    "mount.nfs": "#!/bin/sh\nexit 0\n",
}
# apt-get install puts the NFS tools (the stubs above, kept in $PKG) on PATH.
APT_GET = """#!/bin/sh
echo "apt-get $*" >>"$STATE/calls"
case "$1" in install) cp "$PKG/mount.nfs" "$PKG/exportfs" "$BIN/" ;; esac
"""


def setup(tmp_path: Path, *, tools: tuple[str, ...] = ("exportfs", "systemctl", "mount.nfs"), os_id: str = "debian") -> dict[str, str]:
    bin_dir, pkg, state = tmp_path / "bin", tmp_path / "pkg", tmp_path / "state"
    for folder in (bin_dir, pkg, state, tmp_path / "systemd"):
        folder.mkdir(exist_ok=True)
    for name, text in (*STUBS.items(), ("apt-get", APT_GET)):
        for folder in (pkg, bin_dir) if name in (*tools, "apt-get") else (pkg,):
            stub = folder / name
            stub.write_text(text)
            stub.chmod(0o755)
    (tmp_path / "os-release").write_text(f"ID={os_id}\n")
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "BIN": str(bin_dir),
        "PKG": str(pkg),
        "STATE": str(state),
        "EXPORTS_FILE": str(tmp_path / "exports.d" / "ha-swarm.exports"),
        "HA_SWARM_EXPORTS_FILE": str(tmp_path / "exports.d" / "ha-swarm.exports"),
        "HA_SWARM_OS_RELEASE": str(tmp_path / "os-release"),
        "HA_SWARM_SYSTEMD_DIR": str(tmp_path / "systemd"),
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False)


def calls(env: dict[str, str]) -> list[str]:
    path = Path(env["STATE"]) / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_the_server_exports_the_folder_read_write_to_the_network_and_creates_the_volume_folders(tmp_path: Path) -> None:
    env = setup(tmp_path)
    export = tmp_path / "srv" / "nfs"
    res = run(env, "server", str(export), CIDR, "counter", "app/data")
    assert res.returncode == 0, res.stderr
    assert Path(env["EXPORTS_FILE"]).read_text() == f"{export} {CIDR}(rw,sync,no_subtree_check,no_root_squash)\n"
    assert (export / "counter").is_dir() and (export / "app" / "data").is_dir()
    assert "systemctl enable nfs-server" in calls(env) and "systemctl start nfs-server" in calls(env)
    assert res.stdout == ""


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    env = setup(tmp_path)
    export = str(tmp_path / "nfs")
    assert run(env, "server", export, CIDR, "counter").returncode == 0
    before = len(calls(env))
    res = run(env, "server", export, CIDR, "counter")
    assert res.returncode == 0, res.stderr
    again = calls(env)[before:]
    assert [c for c in again if c.split()[1] not in ("is-enabled", "is-active", "-v")] == [], again
    assert res.stderr == ""


def test_a_new_folder_is_created_without_restarting_or_reexporting(tmp_path: Path) -> None:
    env = setup(tmp_path)
    export = tmp_path / "nfs"
    assert run(env, "server", str(export), CIDR).returncode == 0
    before = len(calls(env))
    res = run(env, "server", str(export), CIDR, "new")
    assert res.returncode == 0 and (export / "new").is_dir()
    assert "creating" in res.stderr and not any(c.startswith(("exportfs -ra", "systemctl start")) for c in calls(env)[before:])


def test_a_changed_network_rewrites_the_export_and_exports_again(tmp_path: Path) -> None:
    env = setup(tmp_path)
    export = str(tmp_path / "nfs")
    assert run(env, "server", export, CIDR).returncode == 0
    before = len(calls(env))
    assert run(env, "server", export, "10.9.0.0/24").returncode == 0
    assert "10.9.0.0/24(" in Path(env["EXPORTS_FILE"]).read_text()
    assert "exportfs -ra" in calls(env)[before:]


def test_the_client_installs_nfs_common_only_when_it_is_missing(tmp_path: Path) -> None:
    env = setup(tmp_path, tools=("systemctl",))
    assert run(env, "client").returncode == 0
    assert [c for c in calls(env) if c.startswith("apt-get install")] == ["apt-get install -y -q --no-install-recommends nfs-common"]
    before = len(calls(env))
    assert run(env, "client").returncode == 0
    assert calls(env)[before:] == []


def test_the_server_installs_nfs_kernel_server_when_exportfs_is_missing(tmp_path: Path) -> None:
    env = setup(tmp_path, tools=("systemctl", "mount.nfs"))
    res = run(env, "server", str(tmp_path / "nfs"), CIDR)
    assert res.returncode == 0, res.stderr
    assert "apt-get install -y -q --no-install-recommends nfs-kernel-server" in calls(env)


def test_an_unknown_distribution_without_the_packages_is_refused(tmp_path: Path) -> None:
    env = setup(tmp_path, tools=(), os_id="arch")
    res = run(env, "client")
    assert res.returncode != 0 and "unsupported distribution 'arch'" in res.stderr and "nfs-common" in res.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "usage: nfs-node.sh client | nfs-node.sh server EXPORT CIDR [DIR...]"),
        (("server", "/srv/nfs"), "usage:"),
        (("client", "extra"), "usage:"),
        (("server", "srv/nfs", CIDR), "EXPORT must be an absolute folder path"),
        (("server", "/", CIDR), "EXPORT must be an absolute folder path"),
        (("server", "/srv/../etc", CIDR), "EXPORT must be an absolute folder path"),
        (("server", "/srv/nfs", "10.17.3.0"), "CIDR must be a network such as 10.17.3.0/24"),
        (("server", "/srv/nfs", CIDR, "../etc"), "DIR must be a relative folder path"),
        (("server", "/srv/nfs", CIDR, "/etc"), "DIR must be a relative folder path"),
        (("server", "/srv/nfs", CIDR, "a b"), "DIR must be a relative folder path"),
    ],
)
def test_bad_arguments_are_refused_before_anything_changes(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    env = setup(tmp_path)
    res = run(env, *args)
    assert res.returncode != 0 and needle in res.stderr, res.stderr
    assert calls(env) == [] and not Path(env["EXPORTS_FILE"]).exists()


def test_without_systemd_the_server_says_what_to_start_by_hand(tmp_path: Path) -> None:
    env = {**setup(tmp_path), "HA_SWARM_SYSTEMD_DIR": str(tmp_path / "none")}
    res = run(env, "server", str(tmp_path / "nfs"), CIDR)
    assert res.returncode != 0 and "no systemd here" in res.stderr
