"""What the test hosts share: their names, addresses, user, image and SSH options."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "ha_swarm" / "nodes" / "scripts"
# The test image's program: the whoami stand-in of the toolchain (it also has the client commands).
IMAGE_SOURCE = REPO / "toolchain" / "whoami-lite"

PREFIX = "hs-"
SUBNET = "10.231.78"
STATE_DIR = Path(os.environ.get("HS_HOSTS_DIR", "/tmp/hs-hosts"))
SSH_USER = "swarm"
NO_DOCKER_GROUP = "w2"
IMAGE = "ha-swarm/hostname-http:test"
STORAGE_DRIVER = os.environ.get("HS_TEST_STORAGE_DRIVER", "vfs")
CTL_ADDRESS_SUFFIX = 2

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SSH_OPTIONS = (
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "ConnectTimeout=10",
)  # fmt: skip


DOCKER_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy", "runc")


class HarnessError(RuntimeError):
    """The test hosts could not be set up (a missing tool, a daemon that does not start...)."""
