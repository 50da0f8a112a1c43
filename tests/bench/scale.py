"""Benchmark (not a test) of issue 20: how ha-swarm's time grows with the cluster.

The real Pulumi engine and plugins (as `make bench-e2e`), on test hosts of their own (prefix
``hb-``, subnet 10.231.85.0/24, state in /tmp/hb-hosts: HE_PREFIX, HE_SUBNET and HE_HOSTS_DIR
choose others), for 3 managers + 2 workers, then 3 managers + 20 workers.  For each size, timed:

    up from nothing, a no-change preview, adding 1 worker, adding 5 workers, removing 5, destroy

then a table with the ratio 3+20 / 3+2 of each step, and, per step, the peak memory (RSS summed
over the process tree: the CLI, the language host and the program, the plugins, the ssh clients
they start) and the CPU the tree used (seconds, and the peak over a 1 s sample, in % of one core).

Every host it starts is removed at the end, also on failure or Ctrl-C.  Needs root and the
toolchain (`make toolchain`).  Run: make bench-scale [SCALE_SIZES=2,20] [SCALE_PARALLEL=N]
"""

from __future__ import annotations

import os

# The hosts of this benchmark: a set of their own (tests/e2e/deployment.py reads these at import).
os.environ.setdefault("HE_PREFIX", "hb-")
os.environ.setdefault("HE_SUBNET", "10.231.85")
os.environ.setdefault("HE_HOSTS_DIR", "/tmp/hb-hosts")

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from tests.e2e.deployment import PREFIX, STATE_DIR, SUBNET, Deployment
from tests.e2e.toolchain import Toolchain, find_toolchain
from tests.support.hosts import Harness, HostSpec, TeardownGuard
from tests.support.hosts.processes import descendants

MANAGERS = 3
ADD_MANY = 5
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
STEPS = ("up from nothing", "preview, no change", "add 1 worker", f"add {ADD_MANY} workers", f"remove {ADD_MANY} workers", "destroy")


def sizes() -> list[int]:
    return [int(n) for n in os.environ.get("SCALE_SIZES", "2,20").split(",")]


def specs(workers: int) -> list[HostSpec]:
    """m1..m3 at .11-.13, w1..wN at .21 on (interface names p-w26: well under 15 characters)."""
    ms = [HostSpec(f"m{i}", f"{SUBNET}.{10 + i}") for i in range(1, MANAGERS + 1)]
    return ms + [HostSpec(f"w{j}", f"{SUBNET}.{20 + j}") for j in range(1, workers + 1)]


# -- the process tree's memory and CPU ---------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid: (ppid, comm, cpu ticks, rss bytes) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is state (field 3); ppid 4, utime 14, stime 15, rss 24
        table[int(entry)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE)
    return table


def _tree(root: int, table: dict[int, tuple[int, str, int, int]]) -> set[int]:
    """The descendants of ROOT (not ROOT itself), as the test hosts' own process walk finds them."""
    return descendants([root], {pid: (ppid, comm) for pid, (ppid, comm, _cpu, _rss) in table.items()})


@dataclass
class Usage:
    peak_rss: int = 0  # bytes, the whole tree
    peak_rss_by: dict[str, int] = field(default_factory=dict)  # per command name, summed over its processes
    cpu_seconds: float = 0.0  # the tree's CPU time (user + system), the exited processes included
    peak_cpu: float = 0.0  # % of one core, over one sample interval


class Sampler:
    """Samples the descendants of this process (the pulumi CLI and what it starts) every INTERVAL s."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.usage = Usage()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        me = os.getpid()
        last: dict[int, int] | None = None
        last_t = time.monotonic()
        while not self._stop.wait(self.interval):
            table = _proc_table()
            # The pulumi CLI (started by the Automation API, through tests/e2e/cli_in_netns.py) and what
            # it starts; not the test hosts' daemons, which are this process's children too.
            mine = _tree(me, table)
            roots = {p for p in mine if table[p][1] == "pulumi" and table[table[p][0]][1] != "pulumi"}
            tree = roots.union(*(_tree(r, table) for r in roots))
            now = time.monotonic()
            by: dict[str, int] = {}
            for p in tree:
                by[table[p][1]] = by.get(table[p][1], 0) + table[p][3]
            ticks = {p: table[p][2] for p in tree}
            u = self.usage
            u.peak_rss = max(u.peak_rss, sum(by.values()))
            for name, value in by.items():
                u.peak_rss_by[name] = max(u.peak_rss_by.get(name, 0), value)
            if last is not None:  # a process new since the last sample: all its ticks are of this interval
                used = sum(t - last.get(p, 0) for p, t in ticks.items())
                u.peak_cpu = max(u.peak_cpu, 100.0 * used / CLK_TCK / max(now - last_t, 1e-3))
            last, last_t = ticks, now

    @contextmanager
    def measure(self) -> Iterator[Usage]:
        self.usage = Usage()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        try:
            yield self.usage
        finally:
            self._stop.set()
            self._thread.join()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            self.usage.cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# -- one size -----------------------------------------------------------------------------------


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Figure:
    seconds: float
    usage: Usage
    load: str  # the 1, 5 and 15 minute load averages when the step ended
    changes: dict[str, int] = field(default_factory=dict)


class ScaleRun(Deployment):
    """A Deployment on hosts that the benchmark started (shared by both sizes), WORKERS workers to start with."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, harness: Harness, workers: int, echo: Callable[[str], None]) -> None:
        super().__init__(toolchain, run_dir, echo)
        self.harness = harness
        self.stack_name = f"scale{workers}"
        self.managers = [f"m{i}" for i in range(1, MANAGERS + 1)]
        self.workers = [f"w{j}" for j in range(1, workers + 1)]
        self.sampler = Sampler()
        self.figures: dict[str, Figure] = {}
        self.events: list[tuple[float, str, str, str]] = []
        self.parallel = int(os.environ["SCALE_PARALLEL"]) if os.environ.get("SCALE_PARALLEL") else None

    def on_event(self, event: auto.EngineEvent) -> None:
        """With SCALE_EVENTS=DIR: when each resource step started and ended, for the critical path."""
        for kind in ("resource_pre_event", "res_outputs_event", "res_op_failed_event"):
            ev = getattr(event, kind, None)
            if ev is not None:
                self.events.append((time.monotonic(), kind, ev.metadata.op.value, ev.metadata.urn))

    def timed(self, what: str, run: Callable[[], Any]) -> None:
        self.events = []
        with self.sampler.measure() as usage:
            start = time.monotonic()
            result = run()
            seconds = time.monotonic() - start
        summary = getattr(result, "summary", None)
        changes = {k: v for k, v in (summary.resource_changes or {}).items() if k != "same"} if summary else {}
        if isinstance(result, auto.PreviewResult):
            changes = {k: v for k, v in result.change_summary.items() if k != "same" and v}
        self.figures[what] = Figure(seconds, usage, load_average(), changes)
        if os.environ.get("SCALE_EVENTS") and self.events:
            out = Path(os.environ["SCALE_EVENTS"]) / f"3+{len(self.workers)}-{what.replace(' ', '_').replace(',', '')}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            t0 = self.events[0][0]
            out.write_text(json.dumps([(round(t - t0, 2), k, op, urn) for t, k, op, urn in self.events]))
        print(f"[scale] 3+{len(self.workers)} {what}: {seconds:.1f} s, load {load_average()}, changes {changes}", file=sys.stderr, flush=True)

    def extra(self) -> dict[str, Any]:
        return {"on_event": self.on_event, **({"parallel": self.parallel} if self.parallel else {})}

    def set_workers(self, workers: list[str]) -> None:
        self.workers = workers
        self.configure()

    def run_all(self) -> None:
        assert self.stack is not None
        stack = self.stack
        first = list(self.workers)
        all_workers = [f"w{j}" for j in range(1, len(first) + 1 + 1 + ADD_MANY)]
        self.timed("up from nothing", lambda: stack.up(on_output=self._record, color="never", **self.extra()))
        self.timed("preview, no change", lambda: stack.preview(on_output=self._record, color="never", expect_no_changes=True, **self.extra()))
        self.set_workers(all_workers[: len(first) + 1])
        self.timed("add 1 worker", lambda: stack.up(on_output=self._record, color="never", **self.extra()))
        self.set_workers(all_workers)
        self.timed(f"add {ADD_MANY} workers", lambda: stack.up(on_output=self._record, color="never", **self.extra()))
        self.set_workers(all_workers[: len(first) + 1])
        self.timed(f"remove {ADD_MANY} workers", lambda: stack.up(on_output=self._record, color="never", **self.extra()))
        self.timed("destroy", lambda: stack.destroy(on_output=self._record, color="never", **self.extra()))
        self.remove_stack()
        self.stack = None

    def close(self) -> None:
        """Destroy what the stack still holds (best effort); the hosts stay (the benchmark owns them)."""
        self.destroy_quietly()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def load_images(toolchain: Toolchain, harness: Harness) -> None:
    tars = [toolchain.traefik[1], toolchain.whoami[1], toolchain.socket_proxy[1]]

    def load(host: Any) -> None:
        for tar in tars:
            with open(tar, "rb") as f:
                host.exec(["docker", "load"], input=f.read(), timeout=600, check=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(load, harness))


def leftovers(harness: Harness) -> list[str]:
    """Hosts still in a swarm after a destroy (none expected)."""
    return [h.hostname for h in harness if h.info("{{.Swarm.LocalNodeState}}") != "inactive"]


# -- the table ---------------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def table(runs: dict[int, ScaleRun]) -> str:
    small, large = min(runs), max(runs)
    lines = [
        f"| step | 3+{small} s | 3+{large} s | ratio | 3+{small} peak RSS MiB | 3+{large} peak RSS MiB "
        f"| 3+{small} CPU s (peak %) | 3+{large} CPU s (peak %) | load (1/5/15 min) at the end, 3+{small} ; 3+{large} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for step in STEPS:
        a, b = runs[small].figures.get(step), runs[large].figures.get(step)
        if a is None or b is None:
            continue
        lines.append(
            f"| {step} | {a.seconds:.1f} | {b.seconds:.1f} | {b.seconds / a.seconds:.2f} | {mib(a.usage.peak_rss)} | {mib(b.usage.peak_rss)} "
            f"| {a.usage.cpu_seconds:.0f} ({a.usage.peak_cpu:.0f}) | {b.usage.cpu_seconds:.0f} ({b.usage.peak_cpu:.0f}) | {a.load} ; {b.load} |"
        )
    for size in (small, large):
        figs = runs[size].figures.values()
        peak: dict[str, int] = {}
        for f in figs:
            for name, value in f.usage.peak_rss_by.items():
                peak[name] = max(peak.get(name, 0), value)
        top = sorted(peak.items(), key=lambda kv: -kv[1])[:6]
        lines.append(f"\npeak RSS by process name, 3+{size}: " + ", ".join(f"{n} {mib(v)} MiB" for n, v in top))
    up_ratio = runs[large].figures["up from nothing"].seconds / runs[small].figures["up from nothing"].seconds
    preview = runs[large].figures["preview, no change"].seconds
    add = {s: runs[s].figures[f"add {ADD_MANY} workers"].seconds / runs[s].figures["add 1 worker"].seconds for s in runs}
    lines.append("\ngoals (issue 20):")
    lines.append(f"  3+{large} up from nothing within 1.5x of 3+{small}: {up_ratio:.2f}x {'met' if up_ratio <= 1.5 else 'NOT met'}")
    lines.append(f"  no-change preview of 3+{large} under 10 s: {preview:.1f} s {'met' if preview < 10 else 'NOT met'}")
    for s, r in add.items():
        lines.append(f"  3+{s}: adding {ADD_MANY} workers within 1.5x of adding 1: {r:.2f}x {'met' if r <= 1.5 else 'NOT met'}")
    return "\n".join(lines)


def main() -> int:
    toolchain, why = find_toolchain()
    if toolchain is None:
        print(f"bench-scale: {why}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench-scale: needs root (the test hosts: namespaces, dockerd and sshd per host)", file=sys.stderr)
        return 2
    counts = sizes()
    hosts = max(counts) + 1 + ADD_MANY
    harness = Harness(specs(hosts), prefix=PREFIX, subnet=SUBNET, state_dir=STATE_DIR, images=False)
    guard = TeardownGuard(harness.down)
    runs: dict[int, ScaleRun] = {}
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        start = time.monotonic()
        harness.up()
        print(f"[scale] {len(harness.hosts)} test hosts up in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
        start = time.monotonic()
        load_images(toolchain, harness)
        print(f"[scale] images loaded in {time.monotonic() - start:.1f} s", file=sys.stderr, flush=True)
        for count in counts:
            run = ScaleRun(toolchain, Path(tempfile.mkdtemp(prefix=f"ha-swarm-scale{count}-")), harness, count, echo)
            runs[count] = run
            try:
                run.prepare_program()
                run.create_stack()
                run.run_all()
            finally:
                run.close()
            left = leftovers(harness)
            if left:
                raise RuntimeError(f"still in a swarm after destroy: {left}")
    finally:
        guard.run()
    version = toolchain.pulumi_version
    print(f"pulumi {version}; parallel {os.environ.get('SCALE_PARALLEL') or 'the CLI default'}; {os.cpu_count()} cores; {datetime_now()}")
    print(table(runs))
    return 0


def datetime_now() -> str:
    return subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True, check=False).stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
