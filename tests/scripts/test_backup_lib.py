"""backup-lib.sh's cleanup after a daemon stop: the overlay VXLAN links a stopped Docker daemon
left (moby/libnetwork#1765) go, and nothing else does.  In a network namespace of its own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "ha_swarm" / "nodes" / "scripts"


@pytest.mark.skipif(os.geteuid() != 0, reason="a network namespace of its own needs root")
def test_a_stop_removes_the_vxlan_links_the_daemon_left_and_no_other_link() -> None:
    script = f"""
set -euo pipefail
ip link add vx-001001-abcde type vxlan id 4097 dstport 4789
ip link add other0 type vxlan id 12 dstport 4790
. {SCRIPTS}/lib.sh
. {SCRIPTS}/backup-lib.sh
hs_forget_vxlan_links
hs_forget_vxlan_links
ip -o link show type vxlan | cut -d: -f2
"""
    res = subprocess.run(["unshare", "--net", "bash", "-c", script], capture_output=True, text=True, check=False, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["other0"]
    assert res.stderr.count("removed the VXLAN link vx-001001-abcde") == 1, res.stderr
