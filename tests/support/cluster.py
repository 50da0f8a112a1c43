"""The swarm on the test hosts, formed and changed with the node scripts over SSH, as the program does.

`ha_swarm/swarm/swarm.py` declares, per node, three remote commands whose create and delete run these
scripts; `Swarm.form()` runs the creates in the program's order and `Swarm.remove()` the deletes in
Pulumi's reverse order.  Every script goes through `ssh swarm@HOST "$(script_command(...))"` with
the join token on stdin, exactly the command string the program sends.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ha_swarm.nodes.remote import script_command
from tests.support.hosts import IMAGE, SSH_USER, Harness, HarnessError, Host

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.5) -> T:
    """Poll PREDICATE until it returns something true; fail after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class ScriptRun:
    host: str
    script: str
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def ok(self) -> str:
        assert self.returncode == 0, f"{self.script} {' '.join(self.args)} on {self.host} exited {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"
        return self.stdout


def run_script(harness: Harness, host: Host, script: str, *args: str, stdin: str | None = None, as_root: bool = False, user: str = SSH_USER) -> ScriptRun:
    """One node script over SSH, as the program sends it."""
    start = time.monotonic()
    res = harness.ssh(host, script_command(script, *args, as_root=as_root), stdin=stdin, user=user, timeout=600)
    return ScriptRun(host.name, script, args, res.returncode, res.stdout, res.stderr, time.monotonic() - start)


def node_label(host: Host) -> str:
    """The node name the program gives a host (label ha-swarm.name)."""
    return host.hostname


@dataclass
class Swarm:
    """The 5-host swarm: m1 initialises it, m2 and m3 join as managers, the w* hosts as workers."""

    harness: Harness
    ids: dict[str, str] = field(default_factory=dict)  # host name -> swarm node ID
    tokens: dict[str, str] = field(default_factory=dict)
    first_formation: list[ScriptRun] | None = None

    @property
    def first(self) -> Host:
        return self.harness["m1"]

    @property
    def managers(self) -> list[Host]:
        return self.harness.managers

    @property
    def workers(self) -> list[Host]:
        return self.harness.workers

    def role(self, host: Host) -> str:
        return "manager" if host in self.managers else "worker"

    def script(self, host: Host, script: str, *args: str, stdin: str | None = None, as_root: bool = False) -> ScriptRun:
        return run_script(self.harness, host, script, *args, stdin=stdin, as_root=as_root)

    # -- the program's create path -----------------------------------------------------------

    def form(self) -> list[ScriptRun]:
        """Readiness, init, tokens, then managers one after another and workers in parallel."""
        runs: list[ScriptRun] = []
        first = self.first
        with ThreadPoolExecutor(max_workers=len(self.harness.hosts)) as pool:
            runs += pool.map(lambda h: self.script(h, "wait-ready.sh", "120"), self.harness)
        for run in runs:
            run.ok()
        init = self.script(first, "swarm-init.sh", first.address)
        runs.append(init)
        self.ids[first.name] = init.ok().strip()
        tokens = self.script(first, "swarm-tokens.sh")
        runs.append(tokens)
        self.tokens = json.loads(tokens.ok())
        runs.append(self.script(first, "node-settle.sh", self.ids[first.name], node_label(first), "manager"))
        runs[-1].ok()
        for host in self.managers[1:]:
            runs += self._join(host)
        with ThreadPoolExecutor(max_workers=max(1, len(self.workers))) as pool:
            for joined in pool.map(self._join, self.workers):
                runs += joined
        if self.first_formation is None:
            self.first_formation = runs
        return runs

    def _join(self, host: Host) -> list[ScriptRun]:
        role = self.role(host)
        register = self.script(self.first, "manager-check.sh")
        register.ok()
        join = self.script(host, "swarm-join.sh", role, self.first.address, host.address, stdin=self.tokens[role] + "\n")
        self.ids[host.name] = join.ok().strip()
        settle = self.script(self.first, "node-settle.sh", self.ids[host.name], node_label(host), role)
        settle.ok()
        return [register, join, settle]

    # -- the program's delete path -------------------------------------------------------------

    def remove(self, host: Host) -> list[ScriptRun]:
        """settle-delete (drain, demote), join-delete (leave), register-delete (node rm)."""
        drain = self.script(self.first, "node-drain.sh", self.ids[host.name])
        drain.ok()
        leave = self.script(host, "swarm-leave.sh")
        leave.ok()
        remove = self.script(self.first, "node-remove.sh", node_label(host), host.address)
        remove.ok()
        return [drain, leave, remove]

    # -- looking at it -------------------------------------------------------------------------

    def nodes(self, via: Host | None = None) -> list[dict[str, Any]]:
        """`docker node inspect` of every node, asked on VIA (default: the first manager), as root."""
        via = via or self.first
        ids = via.docker("node", "ls", "-q").split()
        return json.loads(via.docker("node", "inspect", *ids)) if ids else []

    def summary(self, via: Host | None = None) -> dict[str, tuple[str, str, str, str]]:
        """hostname -> (role, state, availability, manager status: leader/reachable/unreachable/'')."""
        out = {}
        for node in self.nodes(via):
            status = node.get("ManagerStatus") or {}
            manager = "leader" if status.get("Leader") else status.get("Reachability", "")
            out[node["Description"]["Hostname"]] = (node["Spec"]["Role"], node["Status"]["State"], node["Spec"]["Availability"], manager)
        return out

    def problem(self) -> str | None:
        """None when all hosts are in the swarm as planned, Ready and Active, with one leader; else what is wrong."""
        stopped = [h.hostname for h in self.harness if not h.docker_running]
        if stopped:
            return f"dockerd not running on {stopped}"
        if set(self.ids) != set(self.harness.hosts):
            return "not formed"
        try:
            summary = self.summary()
        except AssertionError as error:
            return str(error)
        want = {h.hostname: (self.role(h), "ready", "active") for h in self.harness}
        have = {name: s[:3] for name, s in summary.items()}
        if have != want:
            return f"nodes {have} instead of {want}"
        leaders = [name for name, s in summary.items() if s[3] == "leader"]
        unreachable = [name for name, s in summary.items() if s[0] == "manager" and s[3] not in ("leader", "reachable")]
        if len(leaders) != 1 or unreachable:
            return f"leaders {leaders}, unreachable managers {unreachable}"
        listed = {n["Description"]["Hostname"]: n["ID"] for n in self.nodes()}
        if any(listed[h.hostname] != self.ids[h.name] for h in self.harness):
            return "node IDs differ from the ones the scripts printed"
        return None

    def ensure(self) -> Swarm:
        """Make the swarm whole again: daemons started, the formation re-run (it re-joins removed
        nodes); if that is not enough, every host leaves and the swarm is formed anew."""
        if self.problem() is None:
            return self
        for host in self.harness:
            if not host.docker_running:
                host.start_docker()
        if self.ids:
            try:
                self.form()
            except AssertionError:
                pass
            else:
                if wait_for_quietly(lambda: self.problem() is None, 60):
                    return self
        for host in self.harness:
            host.leave_swarm()
        self.ids.clear()
        self.form()
        wait_for(lambda: self.problem() is None, 90, f"a healthy swarm ({self.problem()})")
        return self

    def host_of(self, node_id: str) -> Host:
        return next(h for h in self.harness if self.ids.get(h.name) == node_id)

    def leader(self, via: Host | None = None) -> Host:
        for name, s in self.summary(via).items():
            if s[3] == "leader":
                return next(h for h in self.harness if h.hostname == name)
        raise AssertionError("no leader")

    # -- services ------------------------------------------------------------------------------

    def running_tasks(self, via: Host, service: str) -> list[tuple[str, str]]:
        """(node hostname, current state) of the tasks of SERVICE that should run."""
        res = via.exec(["docker", "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}}\t{{.CurrentState}}"], timeout=60)
        if res.returncode != 0:
            return []
        return [tuple(line.split("\t", 1)) for line in res.stdout.splitlines() if line.strip()]  # type: ignore[misc]

    def create_service(self, via: Host, name: str, *options: str, replicas: int = 1) -> None:
        via.docker(
            "service", "create", "--detach", "--quiet", "--name", name, "--replicas", str(replicas),
            "--endpoint-mode", "dnsrr", "--no-resolve-image", "--stop-grace-period", "2s", *options, IMAGE,
        )  # fmt: skip


def ensure_traefik_net(swarm: Swarm) -> str:
    """The attachable overlay network the program's ingress step creates (`traefik-net`)."""
    first = swarm.first
    if first.exec(["docker", "network", "inspect", "traefik-net"]).returncode != 0:
        first.docker("network", "create", "--driver", "overlay", "--attachable", "traefik-net")
    return "traefik-net"


def succeeds(command: Callable[[], subprocess.CompletedProcess]) -> Callable[[], subprocess.CompletedProcess | None]:
    """For wait_for: the command's result once it exits 0, else None."""

    def attempt() -> subprocess.CompletedProcess | None:
        res = command()
        return res if res.returncode == 0 else None

    return attempt


def attempt(function: Callable[[], T]) -> Callable[[], T | None]:
    """For wait_for: FUNCTION's value, or None while it fails (a daemon that does not answer yet)."""

    def once() -> T | None:
        try:
            return function()
        except (AssertionError, HarnessError, ValueError, KeyError, subprocess.TimeoutExpired):
            return None

    return once


def wait_for_quietly(predicate: Callable[[], Any], timeout: float, interval: float = 1) -> bool:
    try:
        wait_for(predicate, timeout, "", interval)
        return True
    except AssertionError:
        return False


def all_running(tasks: list[tuple[str, str]], count: int, avoid: str | None = None) -> bool:
    return len(tasks) == count and all(state.startswith("Running") and node != avoid for node, state in tasks)


def ssh_ok(res: subprocess.CompletedProcess, what: str) -> str:
    assert res.returncode == 0, f"{what} failed ({res.returncode})\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res.stdout
