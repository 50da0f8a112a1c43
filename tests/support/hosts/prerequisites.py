"""The machine's tools the hosts need, installed when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.hosts.common import REPO, SYSTEM_PATH, HarnessError
from tests.support.hosts.processes import sh

# ---------------------------------------------------------------------------------------------
# the machine's tools


def find_tool(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SYSTEM_PATH)
    return found or next((p for p in fallbacks if os.access(p, os.X_OK)), None)


def go_tool() -> str | None:
    """The go of `make go-test` and toolchain/build.sh: the local one when new enough for toolchain/*/go.mod,
    else Go fetched once from the module proxy (toolchain/ensure_go.py); None when there is none."""
    ensure_go = REPO / "toolchain" / "ensure_go.py"
    res = subprocess.run([sys.executable, str(ensure_go)], stdout=subprocess.PIPE, text=True, timeout=1800, check=False)
    return (res.stdout.strip() or None) if res.returncode == 0 else None


def ensure_packages(ssh: bool = True, images: bool = True) -> list[str]:
    """Install the Debian packages the hosts need when their tools are missing; return what was installed."""
    wanted = {
        "docker.io": find_tool("dockerd") and find_tool("docker"),
        "iproute2": find_tool("ip"),
        "util-linux": find_tool("nsenter") and find_tool("unshare"),
        "passwd": find_tool("useradd") and find_tool("usermod"),
    }
    if ssh:
        wanted |= {"openssh-server": find_tool("sshd"), "openssh-client": find_tool("ssh") and find_tool("ssh-keygen"), "sudo": find_tool("sudo")}
    # The images need Go, which is no package: the distributions' is too old for toolchain/*/go.mod
    # (Debian 12 has 1.19), so go_tool() fetches it; fail here rather than at the first image.
    if images and not go_tool():
        raise HarnessError("no Go to build the test image: toolchain/ensure_go.py found none new enough and could not fetch one (its message above)")
    missing = sorted(pkg for pkg, have in wanted.items() if not have)
    if not missing:
        return []
    apt = find_tool("apt-get")
    if not apt:
        raise HarnessError(f"missing packages {', '.join(missing)} and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # A package must not start the machine's own services (openssh-server would start the system sshd).
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# ha-swarm test harness: no service starts during its apt-get install\nexit 101\n")
        policy.chmod(0o755)
    try:
        sh(apt, "update", "-q", env=env, timeout=900)
        sh(apt, "install", "-y", "-q", "--no-install-recommends", *missing, env=env, timeout=1800)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    return missing


def vxlan_available(netns: str) -> bool:
    """The overlay network needs VXLAN: try to create a VXLAN device in a test namespace."""
    res = sh("ip", "-n", netns, "link", "add", "hs-vxtest", "type", "vxlan", "id", "42", "dstport", "4789", check=False)
    if res.returncode == 0:
        sh("ip", "-n", netns, "link", "delete", "hs-vxtest", check=False)
    return res.returncode == 0
