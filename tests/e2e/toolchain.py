"""The offline toolchain that the end-to-end tests drive: where `toolchain/build.sh` put it.

The build script writes `env.sh` into its cache (`$HA_SWARM_CACHE/toolchain`, by default
`~/.cache/ha-swarm/toolchain`): PATH with the pulumi CLI and the Python language host,
PULUMI_HOME with the `command` and `docker` plugins installed, the Traefik, whoami and socket proxy
image tarballs, and the test ACME server `pebble` with `pebble-challtestsrv`.  `find_toolchain()` reads
it without building anything and says what is missing.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "toolchain" / "build.sh"


def cache_dir() -> Path:
    return Path(os.environ.get("HA_SWARM_CACHE") or Path.home() / ".cache" / "ha-swarm") / "toolchain"


@dataclass(frozen=True)
class Toolchain:
    root: Path
    env: dict[str, str]  # what env.sh exports

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def pulumi(self) -> Path:
        return self.bin_dir / "pulumi"

    @property
    def pulumi_home(self) -> str:
        return self.env["PULUMI_HOME"]

    @property
    def pulumi_version(self) -> str:
        return self.env.get("HA_SWARM_PULUMI_VERSION", "")

    @property
    def traefik(self) -> tuple[str, Path]:
        return self.env["HA_SWARM_TRAEFIK_IMAGE"], Path(self.env["HA_SWARM_TRAEFIK_TAR"])

    @property
    def whoami(self) -> tuple[str, Path]:
        return self.env["HA_SWARM_WHOAMI_IMAGE"], Path(self.env["HA_SWARM_WHOAMI_TAR"])

    @property
    def socket_proxy(self) -> tuple[str, Path]:
        """The stand-in for tecnativa/docker-socket-proxy (toolchain/socket-proxy)."""
        return self.env["HA_SWARM_SOCKET_PROXY_IMAGE"], Path(self.env["HA_SWARM_SOCKET_PROXY_TAR"])

    @property
    def pebble(self) -> Path:
        """Let's Encrypt's test ACME server."""
        return Path(self.env["HA_SWARM_PEBBLE"])

    @property
    def pebble_challtestsrv(self) -> Path:
        """pebble's mock DNS server (and challenge server, which tests/e2e/pebble.py leaves off)."""
        return Path(self.env["HA_SWARM_PEBBLE_CHALLTESTSRV"])


def read_env_file(path: Path) -> dict[str, str]:
    """The variables that env.sh exports, as bash sees them (no other variable of this process)."""
    script = 'set -a; . "$1"; env -0'
    out = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "bash", "-c", script, "env.sh", str(path)], capture_output=True, check=True).stdout
    exported = {}
    for item in out.decode().split("\0"):
        if "=" in item:
            key, value = item.split("=", 1)
            exported[key] = value
    keep = {"PATH", "PULUMI_HOME", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"}
    return {k: v for k, v in exported.items() if k.startswith("HA_SWARM_") or k in keep}


# What the cloud e2e needs; the lab e2e needs the libvirt plugin too.
CLOUD_PARTS = ("pulumi", "langhost", "command", "docker", "traefik", "whoami", "socketproxy", "pebble")
# The files a part leaves, by the env.sh variable that names them (besides bin/pulumi).
PART_FILES = {
    "traefik": ("HA_SWARM_TRAEFIK_TAR",),
    "whoami": ("HA_SWARM_WHOAMI_TAR",),
    "socketproxy": ("HA_SWARM_SOCKET_PROXY_TAR",),
    "pebble": ("HA_SWARM_PEBBLE", "HA_SWARM_PEBBLE_CHALLTESTSRV"),
}


def find_toolchain(parts: tuple[str, ...] = CLOUD_PARTS) -> tuple[Toolchain | None, str]:
    """The built toolchain, or None and the reason it cannot be used (what to run to build it)."""
    root = cache_dir()
    env_file = root / "env.sh"
    if not env_file.is_file():
        return None, f"no toolchain at {root} (build it with `make toolchain`, about 40 minutes the first time)"
    env = read_env_file(env_file)
    missing = [p for p in env.get("HA_SWARM_TOOLCHAIN_MISSING", "").split() if p in parts]
    if missing:
        return None, f"the toolchain at {root} lacks {', '.join(missing)} (see {root}/state/*.status; `make toolchain` builds what is missing)"
    toolchain = Toolchain(root, env)
    paths = [toolchain.pulumi] if "pulumi" in parts else []
    if "langhost" in parts:  # and the plugin of the program's dynamic providers (host keys)
        paths.append(toolchain.bin_dir / "pulumi-resource-pulumi-python")
    for part in parts:
        for var in PART_FILES.get(part, ()):
            if not env.get(var):
                return None, f"the toolchain at {root} lacks {part} (its env.sh names no {var}; `make toolchain` builds what is missing)"
            paths.append(Path(env[var]))
    for path in paths:
        if not path.exists():
            return None, f"the toolchain at {root} lacks {path} (`make toolchain` builds what is missing)"
    return toolchain, ""
