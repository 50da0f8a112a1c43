"""verify.sh against a real swarm (see conftest.py for the hosts): a the manager, b and c workers.

No IPVS on this machine, so no routing mesh: the web service (whoami-lite, one task on each worker)
runs on the host network and answers on port 80 of its node, the way Traefik published in host
mode does.  With the toolchain's Traefik image, a real Traefik (file provider, on a) puts a sticky
cookie in front of those two tasks.  The tests of the class run in order on one swarm.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.toolchain import find_toolchain
from tests.support.hosts import IMPORT_CHANGES, HarnessError, build_hostname_http, rootfs_tar

from .conftest import BASE, Cluster, Host, wait_for

if os.geteuid() != 0:
    pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd", allow_module_level=True)

WEB_IMAGE = "hs-test/whoami-lite:verify"
TRAEFIK_DIR = BASE / "verify-traefik"
ROW = re.compile(r"^(\S+)\s{2,}(.+?)\s{2,}(OK|FAIL)\s{2,}(.*)$")


def rows(stdout: str) -> list[tuple[str, str, str, str]]:
    """The table's rows (CHECK, TARGET, RESULT, DETAIL), header and summary left out."""
    lines = stdout.splitlines()
    assert lines and lines[0].split() == ["CHECK", "TARGET", "RESULT", "DETAIL"], stdout
    assert lines[-1].startswith("verify: "), stdout
    found = []
    for line in lines[1:-1]:
        match = ROW.match(line)
        assert match, f"not a table row: {line!r}"
        found.append(match.groups())
    return found


def row(stdout: str, check: str, target: str) -> tuple[str, str]:
    """(RESULT, DETAIL) of the one row for CHECK and TARGET."""
    found = [(r, d) for c, t, r, d in rows(stdout) if c == check and t == target]
    assert len(found) == 1, f"expected one {check} row for {target!r}:\n{stdout}"
    return found[0]


def failing(stdout: str) -> set[tuple[str, str]]:
    return {(c, t) for c, t, r, _ in rows(stdout) if r == "FAIL"}


def verify(host: Host, plan: str, timeout: int = 0, **kw) -> subprocess.CompletedProcess:
    return host.run("verify.sh", str(timeout), stdin=plan, timeout=timeout + 120, **kw)


class Swarm:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.a, self.b, self.c = cluster["a"], cluster["b"], cluster["c"]

    def plan(self, *extra: str, web: int = 2, sticky: str = "plain", nodes: str = "node-a node-b node-c") -> str:
        lines = [f"node {n}" for n in nodes.split()]
        lines += [f"service web {web}", "service agent global"]
        lines += [f"endpoint http web.test web {sticky} {self.b.ip} {self.c.ip}", *extra]
        return "\n".join(lines) + "\n"

    def running(self, service: str) -> int:
        states = self.a.docker("service", "ps", service, "--filter", "desired-state=running", "--format", "{{.CurrentState}}")
        return sum(1 for s in states.splitlines() if s.startswith("Running"))

    def node_state(self, host: Host) -> str:
        return self.a.docker("node", "inspect", "--format", "{{.Status.State}}", f"hst-{host.name}")


def _form(cluster: Cluster) -> None:
    cluster.reset()
    a = cluster["a"]
    ids = {"a": a.run("swarm-init.sh", a.ip).stdout.strip()}
    tokens = json.loads(a.run("swarm-tokens.sh").stdout)
    for name in ("b", "c"):
        host = cluster[name]
        res = host.run("swarm-join.sh", "worker", a.ip, host.ip, stdin=tokens["worker"] + "\n")
        assert res.returncode == 0, res.stderr
        ids[name] = res.stdout.strip()
    for name, role in (("a", "manager"), ("b", "worker"), ("c", "worker")):
        res = a.run("node-settle.sh", ids[name], f"node-{name}", role)
        assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def swarm(cluster: Cluster) -> Swarm:
    try:
        binary = build_hostname_http(Path(tempfile.mkdtemp(prefix="hst-verify-")))
    except HarnessError as error:
        pytest.skip(str(error))
    tar = rootfs_tar(binary)
    _form(cluster)
    s = Swarm(cluster)
    for host in (s.a, s.b, s.c):
        host.import_image(tar, WEB_IMAGE, IMPORT_CHANGES)
        cluster.ensure_image(host)
    # whoami-lite on port 80 of each worker (host network: no routing mesh here), and a global agent.
    s.a.docker(
        "service", "create", "--detach", "--quiet", "--name", "web", "--no-resolve-image", "--network", "host",
        "--env", "HTTP_PORTS=80", "--replicas", "2", "--replicas-max-per-node", "1", "--constraint", "node.role==worker",
        "--stop-signal", "SIGKILL", WEB_IMAGE,
    )  # fmt: skip
    s.a.docker(
        "service", "create", "--detach", "--quiet", "--name", "agent", "--no-resolve-image", "--mode", "global",
        "--network", "host", "--stop-signal", "SIGKILL", "hs-test/sleep:1", "/bin/sleep", "100000",
    )  # fmt: skip
    wait_for(lambda: s.running("web") == 2 and s.running("agent") == 3, 120, "web and agent running")
    return s


@pytest.fixture(autouse=True)
def _in_order(request: pytest.FixtureRequest) -> None:
    if request.node.name.startswith("test_verify_refuses"):
        return
    if request.node.name != "test_a_healthy_swarm_is_all_green" and "green" not in STATE:
        pytest.fail("the tests of this module build on each other: run the module as a whole, in order")


STATE: dict[str, bool] = {}


def test_verify_refuses_a_bad_plan_and_a_worker_naming_why(cluster: Cluster, swarm: Swarm) -> None:
    a = swarm.a
    for plan, needle in (
        ("endpoint ftp web.test web plain 10.0.0.1\n", "SCHEME must be http or https"),
        ("endpoint http web.test web sometimes 10.0.0.1\n", "STICKY must be plain, sticky or sticky:COOKIE"),
        ("endpoint http web.test web plain\n", "expected 'endpoint SCHEME HOST SERVICE STICKY ADDR...'"),
        ("service web two\n", "COUNT must be a number or 'global'"),
        ("reboot everything\n", "unknown item 'reboot'"),
    ):
        res = verify(a, plan)
        assert res.returncode != 0 and res.stdout == "", res.stdout
        assert needle in res.stderr, res.stderr
    res = a.run("verify.sh", "soon", stdin="")
    assert res.returncode != 0 and "TIMEOUT_SECONDS must be a whole number" in res.stderr
    res = a.run("verify.sh", "0", "later", stdin="")
    assert res.returncode != 0 and "SETTLE_SECONDS must be a whole number" in res.stderr
    res = verify(swarm.b, swarm.plan())
    assert res.returncode != 0 and "not a manager" in res.stderr


def test_a_healthy_swarm_is_all_green(swarm: Swarm) -> None:
    res = verify(swarm.a, swarm.plan(), timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    found = rows(res.stdout)
    assert {r for _, _, r, _ in found} == {"OK"}
    assert sorted(t for c, t, _, _ in found if c == "node") == ["node-a", "node-b", "node-c"]
    assert row(res.stdout, "managers", "1 manager(s)") == ("OK", "1 of 1 reachable, leader node-a")
    assert row(res.stdout, "service", "web") == ("OK", "2 of 2 running")
    assert row(res.stdout, "service", "agent")[1].startswith("3 of 3 running")
    for host in (swarm.b, swarm.c):
        assert row(res.stdout, "endpoint", f"http://web.test @ {host.ip}") == ("OK", "HTTP 200")
    assert res.stdout.splitlines()[-1] == f"verify: all {len(found)} checks passed"
    # As a plain file too (it then sources lib.sh itself).
    assert verify(swarm.a, swarm.plan(), as_file=True).returncode == 0
    STATE["green"] = True


def test_a_settle_time_is_waited_before_the_first_check(swarm: Swarm) -> None:
    # Right after a deploy Traefik may still route by the old labels: the up step settles first.
    start = time.monotonic()
    res = swarm.a.run("verify.sh", "0", "3", stdin=swarm.plan(), timeout=120)
    assert time.monotonic() - start >= 3
    assert "waiting 3s for Traefik to read the deployed services" in res.stderr, res.stderr


def test_nodes_and_services_of_the_plan_that_the_swarm_lacks_are_red(swarm: Swarm) -> None:
    res = verify(swarm.a, swarm.plan("node node-z", "service ghost 1", nodes="node-a node-b node-c"))
    assert res.returncode == 1
    assert failing(res.stdout) == {("node", "node-z"), ("service", "ghost")}
    assert "not in the swarm" in row(res.stdout, "service", "ghost")[1]
    assert res.stdout.splitlines()[-1] == f"verify: 2 of {len(rows(res.stdout))} checks failed"


def test_a_service_scaled_to_zero_is_red_and_a_scale_back_turns_green_within_the_wait(swarm: Swarm) -> None:
    swarm.a.docker("service", "scale", "--detach", "web=0")
    wait_for(lambda: swarm.running("web") == 0, 60, "web scaled to 0")
    start = time.monotonic()
    res = verify(swarm.a, swarm.plan(), timeout=3)
    assert time.monotonic() - start >= 3, "failing checks are retried for the timeout"
    assert res.returncode == 1
    assert row(res.stdout, "service", "web") == ("FAIL", "0 of 2 running (the swarm wants 0)")
    assert failing(res.stdout) == {("service", "web"), ("endpoint", f"http://web.test @ {swarm.b.ip}"), ("endpoint", f"http://web.test @ {swarm.c.ip}")}
    assert row(res.stdout, "endpoint", f"http://web.test @ {swarm.b.ip}")[1].startswith("curl: (7) "), "curl could not connect"
    # Scaled back while a verify runs: its failing checks are run again until the tasks run.
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(verify, swarm.a, swarm.plan(), 60)
        time.sleep(3)
        swarm.a.docker("service", "scale", "--detach", "web=2")
        res = running.result()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "check(s) failing; checking again every 3 s for up to 60s" in res.stderr


def test_a_stopped_node_is_red_with_what_it_ran(swarm: Swarm) -> None:
    swarm.c.stop()
    try:
        wait_for(lambda: swarm.node_state(swarm.c) == "down", 90, "node c down")
        res = verify(swarm.a, swarm.plan(), timeout=5)
        assert res.returncode == 1
        result, detail = row(res.stdout, "node", "node-c")
        assert result == "FAIL" and detail.startswith("down, active, worker"), detail
        # web keeps at most one task a node, on workers: with c down only one of its two runs.
        assert row(res.stdout, "service", "web") == ("FAIL", "1 of 2 running")
        assert failing(res.stdout) == {("node", "node-c"), ("service", "web"), ("endpoint", f"http://web.test @ {swarm.c.ip}")}
        assert row(res.stdout, "managers", "1 manager(s)")[0] == "OK"
    finally:
        swarm.c.start()
    wait_for(lambda: swarm.node_state(swarm.c) == "ready", 90, "node c ready again")
    res = verify(swarm.a, swarm.plan(), timeout=90)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_sticky_endpoint_whose_answers_set_no_cookie_is_red(swarm: Swarm) -> None:
    res = verify(swarm.a, swarm.plan(sticky="sticky"))
    assert res.returncode == 1
    assert row(res.stdout, "sticky", f"http://web.test @ {swarm.b.ip}") == ("FAIL", "the first answer set no cookie")
    res = verify(swarm.a, swarm.plan(sticky="sticky:stick"))
    assert row(res.stdout, "sticky", f"http://web.test @ {swarm.c.ip}") == ("FAIL", "the first answer set no stick cookie")


TRAEFIK_DYNAMIC = """\
http:
  routers:
    web:
      rule: Host(`web.test`)
      service: web
      entryPoints: [web]
    web-tls:
      rule: Host(`web.test`)
      service: web
      entryPoints: [websecure]
      tls: {{}}
    one:
      rule: Host(`one.test`)
      service: one
      entryPoints: [web]
  services:
    web:
      loadBalancer:
        sticky:
          cookie:
            name: stick
        servers:
          - url: http://{b}:80/
          - url: http://{c}:80/
    one:
      loadBalancer:
        sticky:
          cookie: {{}}
        servers:
          - url: http://{b}:80/
"""


@pytest.fixture(scope="module")
def traefik(swarm: Swarm) -> Host:
    """A real Traefik on a (file provider, host network): sticky `web.test` over both web tasks,
    also on https with its default certificate; `one.test` over one task only."""
    toolchain, why = find_toolchain(("traefik",))
    if toolchain is None:
        pytest.skip(f"no Traefik image: {why}")
    image, tar = toolchain.traefik
    a = swarm.a
    if not a.docker("image", "ls", "-q", image):
        a.exec(["docker", "load"], input=tar.read_bytes(), timeout=300, check=True)
    TRAEFIK_DIR.mkdir(parents=True, exist_ok=True)
    (TRAEFIK_DIR / "dynamic.yml").write_text(TRAEFIK_DYNAMIC.format(b=swarm.b.ip, c=swarm.c.ip))
    a.docker(
        "service", "create", "--detach", "--quiet", "--name", "front", "--no-resolve-image", "--network", "host",
        "--constraint", "node.role==manager", "--mount", f"type=bind,source={TRAEFIK_DIR},target=/cfg,readonly",
        image, "--entrypoints.web.address=:80", "--entrypoints.websecure.address=:443",
        "--providers.file.filename=/cfg/dynamic.yml", "--log.level=ERROR",
    )  # fmt: skip
    wait_for(lambda: swarm.running("front") == 1, 120, "Traefik running on a")
    return a


def test_a_sticky_endpoint_behind_traefik_pins_one_task_with_its_cookie_and_spreads_without(swarm: Swarm, traefik: Host) -> None:
    plan = swarm.plan(
        "service front 1",
        f"endpoint http web.test web sticky:stick {swarm.a.ip}",
        f"endpoint https web.test web sticky:stick {swarm.a.ip}",
        f"endpoint https web.test web plain {swarm.a.ip}",
    )
    res = verify(swarm.a, plan, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    for scheme in ("http", "https"):
        result, detail = row(res.stdout, "sticky", f"{scheme}://web.test @ {swarm.a.ip}")
        assert result == "OK" and detail == "6 answers from one task (cookie stick); without it 2 tasks answered", detail
    # Traefik's default certificate is its own self-signed one: noted, not failed.
    result, detail = row(res.stdout, "endpoint", f"https://web.test @ {swarm.a.ip}")
    assert result == "OK" and detail.startswith("HTTP 200, certificate not trusted here"), detail


def test_a_sticky_endpoint_that_reaches_one_task_of_two_is_red(swarm: Swarm, traefik: Host) -> None:
    # one.test keeps its cookie, but Traefik sends it to one of web's two tasks only.
    res = verify(swarm.a, swarm.plan("service front 1", f"endpoint http one.test web sticky {swarm.a.ip}"))
    assert res.returncode == 1
    assert failing(res.stdout) == {("sticky", f"http://one.test @ {swarm.a.ip}")}
    detail = row(res.stdout, "sticky", f"http://one.test @ {swarm.a.ip}")[1]
    assert detail == "with the cookie one task answered, but without it 4 requests reached 1 task(s) of 2 running"
