"""Small process helpers: running commands, finding and killing processes and namespaces, and the
cleanup of the hosts (also of a killed run's leftovers)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.support.hosts.common import HarnessError

# ---------------------------------------------------------------------------------------------
# small process helpers


def sh(*cmd: str, check: bool = True, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
    """Run a command on the machine (text mode, output captured)."""
    res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and res.returncode != 0:
        raise HarnessError(f"{shlex.join(cmd)} failed ({res.returncode}): {(res.stderr or res.stdout).strip()}")
    return res


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z"):
            return False
    return True


def wait_gone(pids: Iterable[int], timeout: float) -> bool:
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kill_all(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out.extend(int(c) for c in (task / "children").read_text().split())
    return out


def proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            table[int(entry.name)] = (ppid, comm)
    return table


def descendants(roots: Iterable[int], table: dict[int, tuple[int, str]] | None = None) -> set[int]:
    table = table if table is not None else proc_table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        for kid in kids.get(pid, ()):
            if kid not in found:
                found.add(kid)
                todo.append(kid)
    return found


def ns_id(pid: int, kind: str) -> str | None:
    with contextlib.suppress(OSError):
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    return None


def netns_list() -> list[str]:
    out = sh("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(ns: str) -> list[int]:
    out = sh("ip", "netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def mounts_below(base: Path) -> list[str]:
    prefix = str(base).rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix) or point == str(base):
                points.append(point)
    return points


def cleanup(prefix: str, state_dir: Path) -> dict[str, float]:
    """Remove every trace of hosts named PREFIX* and STATE_DIR: also what a killed run left behind.

    Returns how long each step took."""
    if not prefix or not prefix.endswith("-"):
        raise ValueError(f"refusing to clean up with the prefix {prefix!r}")
    steps: dict[str, float] = {}
    start = time.monotonic()
    # PREFIX + a name without '-' (hs-m1, hs-net): not hs-test-a, nor another tool's hs-xyz-...
    namespaces = [ns for ns in netns_list() if ns.startswith(prefix) and "-" not in ns[len(prefix) :]]
    for _ in range(3):
        pids = sorted({p for ns in namespaces for p in netns_pids(ns)})
        if not pids:
            break
        kill_all(pids)
        wait_gone(pids, 20)
    steps["kill"] = time.monotonic() - start
    start = time.monotonic()
    for point in sorted(set(mounts_below(state_dir)), key=len, reverse=True):
        sh("umount", "-l", point, check=False)
    for ns in namespaces:
        sh("ip", "netns", "delete", ns, check=False)
    steps["namespaces"] = time.monotonic() - start
    start = time.monotonic()
    if state_dir.exists():
        shutil.rmtree(state_dir, ignore_errors=True)
        if state_dir.exists():
            sh("rm", "-rf", "--one-file-system", str(state_dir), check=False, timeout=300)
    steps["files"] = time.monotonic() - start
    return steps
