"""The test image: a static HTTP server answering its host name, as a root file system archive."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from tests.support.hosts.common import IMAGE_SOURCE, HarnessError
from tests.support.hosts.prerequisites import go_tool

# ---------------------------------------------------------------------------------------------
# the stand-in image


def build_hostname_http(out_dir: Path) -> Path:
    """Build the test image's program, whoami-lite (static, stdlib only), as `hostname-http`; return its path."""
    go = go_tool()
    if not go:
        raise HarnessError("no Go to build the test image: toolchain/ensure_go.py found none new enough and could not fetch one (its message above)")
    binary = out_dir / "hostname-http"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", GOPROXY="off", GO111MODULE="on")
    env.setdefault("HOME", "/root")
    res = subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
        cwd=IMAGE_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if res.returncode != 0:
        raise HarnessError(f"go build of {IMAGE_SOURCE} failed: {res.stderr.strip()}")
    return binary


def rootfs_tar(binary: Path) -> bytes:
    """A root filesystem holding only /hostname-http (and the usual empty directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("etc", "tmp", "proc", "sys", "dev"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(binary), arcname="hostname-http")
    return buf.getvalue()


# It serves ports 80 and 8080 (the visualizer's target port) unless a service sets HTTP_PORTS.
IMPORT_CHANGES = ("--change", 'ENTRYPOINT ["/hostname-http"]', "--change", "EXPOSE 80", "--change", 'ENV HTTP_PORTS="80 8080"')
