"""What `make up` does before `pulumi up` on a fresh machine (issue 15): tools/ensure-pulumi.sh finds or
installs the Pulumi CLI (on PATH; else the official release, checksum verified, from a release server
served here on loopback; else the offline toolchain, stubbed), and tools/lab-ready.sh gets libvirt
ready or says what to do.  The scripts run for real; only the programs they call are stand-ins."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENSURE = REPO / "tools" / "ensure-pulumi.sh"
LAB_READY = REPO / "tools" / "lab-ready.sh"
VERSION = next(line.split("==")[1].split()[0] for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("pulumi=="))
TARBALL = f"pulumi-v{VERSION}-linux-x64.tar.gz"
SUMS = f"pulumi-{VERSION}-checksums.txt"
# Only what the scripts need from the system: no pulumi, no virsh.
SYSTEM_BIN = ["/usr/bin", "/bin"]


def stub(bin_dir: Path, name: str, body: str) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def release_tarball() -> bytes:
    data = b"#!/bin/sh\necho v" + VERSION.encode() + b"\n"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


class Releases:
    """A release server on loopback: FILES by name, and the names asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.asked: list[str] = []
        releases = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                releases.asked.append(name)
                body = releases.files.get(name)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/releases/sdk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, tarball: bytes, checksum: str | None = None) -> None:
        self.files[TARBALL] = tarball
        digest = checksum or hashlib.sha256(tarball).hexdigest()
        self.files[SUMS] = f"{'0' * 64}  pulumi-v{VERSION}-darwin-x64.tar.gz\n{digest}  {TARBALL}\n".encode()


@pytest.fixture
def releases() -> Iterator[Releases]:
    server = Releases()
    yield server
    server.server.shutdown()


def ensure(tmp_path: Path, releases_url: str, *, path_extra: list[str] = ()) -> subprocess.CompletedProcess[str]:
    script = 'echo "toolchain $*" >>"$HS_LOG"\ntest "${1:-}" = --check && exit 1\necho "export PATH=/toolchain/bin:\\"\\$PATH\\""'
    toolchain = stub(tmp_path / "fake-toolchain", "build.sh", script)
    env = {
        "PATH": ":".join([*path_extra, *SYSTEM_BIN]),
        "HOME": str(tmp_path),
        "HA_SWARM_CACHE": str(tmp_path / "cache"),
        "HA_SWARM_PULUMI_RELEASES": releases_url,
        "HA_SWARM_BUILD_TOOLCHAIN": str(toolchain),
        "HS_LOG": str(tmp_path / "log"),
    }
    return subprocess.run(["bash", str(ENSURE)], env=env, capture_output=True, text=True, timeout=60, check=False)


def toolchain_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "log"
    return log.read_text().splitlines() if log.exists() else []


def test_a_pulumi_on_path_is_used_as_it_is(tmp_path: Path, releases: Releases) -> None:
    bin_dir = tmp_path / "bin"
    stub(bin_dir, "pulumi", "echo v3.0.0")
    res = ensure(tmp_path, releases.url, path_extra=[str(bin_dir)])
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    assert releases.asked == [] and toolchain_calls(tmp_path) == []


def test_without_pulumi_the_official_release_is_downloaded_once_and_checked(tmp_path: Path, releases: Releases) -> None:
    releases.publish(release_tarball())
    res = ensure(tmp_path, releases.url)
    assert res.returncode == 0, res.stderr
    cli_dir = tmp_path / "cache" / "pulumi" / VERSION / "pulumi"
    assert res.stdout.strip() == f'export PATH={cli_dir}:"$PATH"'
    assert "checksum verified" in res.stderr
    assert subprocess.run([str(cli_dir / "pulumi")], capture_output=True, text=True, check=True).stdout.strip() == f"v{VERSION}"
    # A second run takes the cached CLI: nothing downloaded, no toolchain.
    asked = list(releases.asked)
    again = ensure(tmp_path, releases.url)
    assert again.returncode == 0 and again.stdout == res.stdout
    assert releases.asked == asked and toolchain_calls(tmp_path) == []


def test_a_download_whose_checksum_does_not_match_is_refused(tmp_path: Path, releases: Releases) -> None:
    releases.publish(release_tarball(), checksum="f" * 64)
    res = ensure(tmp_path, releases.url)
    assert res.returncode == 1
    assert "checksum mismatch" in res.stderr and res.stdout == ""
    assert not (tmp_path / "cache" / "pulumi").exists()
    assert toolchain_calls(tmp_path) == [], "a bad download must not fall back to the toolchain silently"


def test_offline_the_toolchain_is_built_and_its_environment_printed(tmp_path: Path) -> None:
    res = ensure(tmp_path, "http://127.0.0.1:9/releases/sdk")  # the discard port: nothing listens
    assert res.returncode == 0, res.stderr
    assert "not reachable" in res.stderr and "about 40 minutes" in res.stderr
    assert toolchain_calls(tmp_path) == ["toolchain --check", "toolchain "]
    assert res.stdout.strip() == 'export PATH=/toolchain/bin:"$PATH"'


# ------------------------------------------------------------------------------- tools/lab-ready.sh


def lab_ready(tmp_path: Path, config: dict[str, str], *, uid: int, tools: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    lines = [f'"{key}") echo "{value}" ;;' for key, value in config.items()]
    stub(bin_dir, "pulumi", 'key=""; for a; do key=$a; done\ncase $key in\n' + "\n".join(lines) + "\n*) exit 1 ;;\nesac")
    for name, body in tools.items():
        stub(bin_dir, name, body)
    libvirt_up = stub(tmp_path / "up", "libvirt-up.sh", 'echo libvirt-up >>"$HS_LOG"')
    # The system's tools the script uses, and nothing else (this machine may have virsh or mkisofs).
    system = tmp_path / "system"
    system.mkdir()
    for tool in ("dirname", "head", "id"):
        (system / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True, check=True).stdout.strip())
    env = {
        "PATH": f"{bin_dir}:{system}",
        "HS_LAB_READY_UID": str(uid),
        "HA_SWARM_LIBVIRT_UP": str(libvirt_up),
        "HS_LOG": str(tmp_path / "log"),
    }
    return subprocess.run(["/bin/bash", str(LAB_READY), "dev"], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_a_cloud_stack_needs_no_libvirt(tmp_path: Path) -> None:
    res = lab_ready(tmp_path, {"ha-swarm:target": "cloud"}, uid=1000, tools={})
    assert res.returncode == 0 and res.stderr == ""


def test_as_root_a_local_lab_gets_libvirt_installed_and_started(tmp_path: Path) -> None:
    res = lab_ready(tmp_path, {}, uid=0, tools={})
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "log").read_text().split() == ["libvirt-up"]


def test_a_user_without_access_to_the_uri_gets_one_line_of_advice(tmp_path: Path) -> None:
    tools = {"mkisofs": "true", "virsh": "echo 'error: Failed to connect socket: Permission denied' >&2; exit 1"}
    res = lab_ready(tmp_path, {}, uid=1000, tools=tools)
    assert res.returncode == 1
    (line,) = res.stderr.splitlines()
    assert "qemu:///system" in line and "libvirt group" in line and "Permission denied" in line
    assert not (tmp_path / "log").exists()


def test_a_user_without_mkisofs_is_told_which_package_brings_it(tmp_path: Path) -> None:
    res = lab_ready(tmp_path, {"ha-swarm:lab.uri": "qemu+ssh://ops@hv.example.test/system"}, uid=1000, tools={"virsh": "true"})
    assert res.returncode == 1
    assert "genisoimage" in res.stderr and len(res.stderr.splitlines()) == 1


def test_a_user_with_access_and_mkisofs_passes(tmp_path: Path) -> None:
    res = lab_ready(tmp_path, {"ha-swarm:lab.uri": "qemu+ssh://ops@hv.example.test/system"}, uid=1000, tools={"virsh": "echo ok", "mkisofs": "true"})
    assert res.returncode == 0 and res.stderr == ""


def test_the_scripts_exist_and_are_executable() -> None:
    assert os.access(ENSURE, os.X_OK) and os.access(LAB_READY, os.X_OK)
