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


def pick(rows: str) -> str:
    script = f". {SCRIPTS}/lib.sh; . {SCRIPTS}/backup-lib.sh; set -euo pipefail; hs_backup_pick"
    res = subprocess.run(["bash", "-c", script], input=rows, capture_output=True, text=True, check=False, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize(
    ("rows", "chosen"),
    [
        # never backed up: the first by name of the reachable managers that are not the leader
        ("m1 reachable true -\nm3 reachable false -\nm2 reachable false -\n", "m2\n"),
        # then the one backed up least recently: the managers take turns
        ("m1 reachable true -\nm2 reachable false 1764900000\nm3 reachable false -\n", "m3\n"),
        ("m1 reachable true -\nm2 reachable false 1764900000\nm3 reachable false 1764903600\n", "m2\n"),
        ("m1 reachable true 5\nm2 reachable false 1764903600\nm3 reachable false 1764900000\n", "m3\n"),
        # an unreachable manager is passed over, however old its last backup
        ("m1 reachable true -\nm2 unreachable false -\nm3 reachable false 1764900000\n", "m3\n"),
        # a label that is not a time counts as never; names with dashes are whole
        ("a-m1 reachable true -\nb-m2 reachable false x\nc-m3 reachable false 7\n", "b-m2\n"),
        # nobody qualifies: nothing
        ("m1 reachable true -\nm2 unreachable false -\n", ""),
        ("", ""),
    ],
)
def test_the_scheduled_backup_goes_to_the_reachable_non_leader_backed_up_least_recently(rows: str, chosen: str) -> None:
    assert pick(rows) == chosen
