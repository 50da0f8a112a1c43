"""Issue 18, Let's Encrypt without a single point of failure (traefik.acme.issuer: swarm), for real:
one stack on its own test hosts (3 managers, 1 worker), pebble as the CA, in file order.

1. up: the issuer (one task, on some manager) orders each routed name ONCE (pebble's "Added order"
   lines are counted), and every manager's Traefik serves the same certificate for it; the
   certificates' keys are in no state file and no CLI output. No task of the mode but the two
   proxies holds the Docker socket: from where each serving Traefik stands, docker-api-proxy
   passes GET on /configs and refuses writes, and the issuer's proxy cannot be reached; from where
   the issuer stands, its proxy passes the configs and refuses everything else.
2. The issuer's manager daemon is stopped while a loop of HTTPS requests runs against the other
   managers: no request fails; a new issuer starts on another manager from the replicated store
   (no new order for the names it has); a name added then (a service created by hand on a
   surviving manager) is ordered once by the new issuer and served by the others; the stopped
   manager comes back and serves it too.
3. A forced renewal while requests run against every manager for both names: `up` with
   certificatesDuration 8760 makes pebble's 90-day certificates due (Traefik then renews 4 months
   before expiry); the new issuer task renews each certificate of the store once, every manager
   serves the new ones, no request fails, no serving Traefik is restarted.
4. destroy, then up on the same hosts (Traefik's default renewal window again): the certificates
   come back from the managers' copies of the store (the traefik-acme volumes): no new order.
   destroy leaves no service and no container.

The demo's backends are placed on the worker so that the request loop measures the HTTPS tier (a
backend task on the stopped manager would fail requests until Traefik drops it: that is the
backends' availability, not this issue's). Ports are published in host mode (no IPVS here).
Run alone, on hosts of its own, e.g.:
    HE_PREFIX=ha- HE_SUBNET=10.231.94 HE_HOSTS_DIR=/tmp/ha-hosts python -m pytest -q tests/e2e/test_https_ha.py
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import KEEP, say, started
from tests.e2e.deployment import DOMAIN, HOSTS, PREFIX, Deployment, host_specs
from tests.e2e.pebble import Pebble
from tests.e2e.test_https import outbound_nat
from tests.e2e.test_socket_proxy import task_container
from tests.e2e.toolchain import Toolchain
from tests.support.cluster import wait_for
from tests.support.hosts import Harness, Host

NAMES = (f"whoami0.{DOMAIN}", f"whoami1.{DOMAIN}")
NEW_NAME = f"whoami2.{DOMAIN}"
ISSUER = "traefik-acme-issuer"
EMAIL = "e2e@example.test"
USED = ("m1", "m2", "m3", "w1")  # the hosts started: 3 managers, 1 worker


def acme_image(toolchain: Toolchain) -> tuple[str, Path]:
    """The image of traefik.acme.issuer: swarm (env.sh, else the part's status line)."""
    image, tar = toolchain.env.get("HA_SWARM_ACME_IMAGE", ""), toolchain.env.get("HA_SWARM_ACME_TAR", "")
    if not image:
        status = toolchain.root / "state" / "acme.status"
        found = re.match(r"built (\S+) \(([^,]+),", status.read_text()) if status.is_file() else None
        if found is None:
            pytest.skip("the toolchain has no acme image (toolchain/build.sh --only traefik,acme)")
        image, tar = found.group(1), found.group(2)
    return image, Path(tar)


class HaDeployment(Deployment):
    """The e2e deployment on four hosts, with the acme image loaded and the backends on the worker."""

    def __init__(self, toolchain: Toolchain, run_dir: Path, echo: Any = print) -> None:
        super().__init__(toolchain, run_dir, echo)
        specs = [s for s in host_specs() if s.name in USED]
        self.harness = Harness(specs, prefix=self.harness.prefix, subnet=self.harness.subnet, state_dir=self.harness.state_dir, images=False)

    def start_hosts(self) -> None:
        super().start_hosts()
        _, tar = acme_image(self.toolchain)
        with self.times.step("traefik-acme image loaded on every host"):
            data = tar.read_bytes()
            for host in self.harness:
                host.exec(["docker", "load"], input=data, timeout=300, check=True)

    def stack_document(self) -> dict[str, Any]:
        doc = super().stack_document()
        for name in ("whoami0", "whoami1"):
            doc["services"][name]["deploy"].setdefault("placement", {})["constraints"] = ["node.role == worker"]
        return doc


def ha_deployment(request: pytest.FixtureRequest, toolchain: Toolchain, prefix: str) -> Iterator[Deployment]:
    """The module's stack on its hosts (test_https_ha.py's and test_https_ha_migration.py's)."""
    assert dict(HOSTS)["m1"] == "manager"
    run_dir = Path(tempfile.mkdtemp(prefix=prefix))
    dep = HaDeployment(toolchain, run_dir, echo=lambda line: say(request.config, line))
    keep = f"[e2e] HE_KEEP set: hosts and {run_dir} kept"
    with started(request, dep, dep.start_hosts, keep if KEEP else "") as running:
        yield running


def pebble_for(deployment: Deployment, toolchain: Toolchain) -> Iterator[Pebble]:
    """pebble and its DNS in the control namespace, every name answered with the first manager."""
    harness = deployment.harness
    with Pebble(harness.ctl_ns, harness.ctl_address, deployment.first.address, pebble=toolchain.pebble, challtestsrv=toolchain.pebble_challtestsrv) as server:
        yield server


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest, toolchain: Toolchain) -> Iterator[Deployment]:
    yield from ha_deployment(request, toolchain, "ha-swarm-e2e-acme-")


@pytest.fixture(scope="module")
def pebble(deployment: Deployment, toolchain: Toolchain) -> Iterator[Pebble]:
    yield from pebble_for(deployment, toolchain)


@pytest.fixture(scope="module")
def roots(deployment: Deployment, pebble: Pebble) -> Path:
    path = deployment.run_dir / "pebble-roots.pem"
    path.write_text(pebble.issuing_roots_pem())
    return path


FIGURES: dict[str, Any] = {}


def figure(request: pytest.FixtureRequest, key: str, value: Any) -> None:
    """A measured figure: said, and kept in $HA_FIGURES_FILE (when set) as it is measured."""
    FIGURES[key] = value
    say(request.config, f"[e2e-acme] {key}: {value}")
    if os.environ.get("HA_FIGURES_FILE"):
        Path(os.environ["HA_FIGURES_FILE"]).write_text(json.dumps(FIGURES, indent=2) + "\n")


def service_logs(host: Host, service: str) -> str:
    """`docker service logs` with the tasks' stderr (the CLI writes it to its own stderr)."""
    return host.exec(["sh", "-c", f"docker service logs --raw {service} 2>&1"], timeout=60).stdout


# --------------------------------------------------------------------------- looking


def managers(dep: Deployment) -> list[Host]:
    return [dep.harness[n] for n in ("m1", "m2", "m3")]


def https(dep: Deployment, address: str, ca: Path, host: str, *extra: str, max_time: int = 10) -> subprocess.CompletedProcess:
    argv = ["curl", "--noproxy", "*", "-sS", "--max-time", str(max_time), "--fail", "--cacert", str(ca), "--resolve", f"{host}:443:{address}", *extra, f"https://{host}/"]
    return dep.harness.in_ctl(argv, timeout=30)


def served_certificate(dep: Deployment, address: str, host: str) -> str:
    """The SHA-256 of the certificate Traefik at ADDRESS serves for HOST (empty when none answers)."""
    argv = ["openssl", "s_client", "-connect", f"{address}:443", "-servername", host]
    res = dep.harness.in_ctl(["sh", "-c", f"{' '.join(argv)} </dev/null 2>/dev/null | openssl x509 -outform DER 2>/dev/null | sha256sum"], timeout=30)
    digest = res.stdout.split()[0] if res.stdout.strip() else ""
    return "" if digest == hashlib.sha256(b"").hexdigest() else digest


def serves(dep: Deployment, address: str, ca: Path, host: str) -> bool:
    res = https(dep, address, ca, host)
    return res.returncode == 0 and "Hostname:" in res.stdout


def orders(pebble: Pebble) -> int:
    return pebble.log_file("pebble").read_text(errors="replace").count("Added order")


def running_on(host: Host, service: str) -> list[str]:
    """The nodes of SERVICE's running tasks, as the manager HOST sees them."""
    out = host.docker("service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}}\t{{.CurrentState}}", check=False, timeout=30)
    return [node for node, _, state in (line.partition("\t") for line in out.splitlines()) if state.startswith("Running")]


def store_configs(host: Host) -> list[str]:
    return host.docker("config", "ls", "--filter", "label=ha-swarm.acme-store.seq", "--format", "{{.Name}}").split()


def logs(dep: Deployment, host: Host, pebble: Pebble) -> str:
    return "\n".join(
        [
            "--- issuer ---",
            service_logs(host, ISSUER)[-6000:],
            "--- traefik ---",
            service_logs(host, "traefik")[-3000:],
            pebble.log_tails(),
        ]
    )


def served_everywhere(dep: Deployment, pebble: Pebble, roots: Path, names: tuple[str, ...], timeout: float = 240, more: str = "") -> None:
    """Wait until every manager answers HTTPS for each of NAMES with a certificate that ROOTS trust;
    else fail with the issuer's, Traefik's and pebble's logs (and MORE)."""
    try:
        for name in names:
            for host in managers(dep):
                wait_for(lambda h=host, n=name: serves(dep, h.address, roots, n), timeout, f"https://{name}/ through {host.hostname}")
    except AssertionError as err:
        raise AssertionError(f"{err}{more}\n{logs(dep, dep.first, pebble)}") from None


def one_certificate_everywhere(dep: Deployment, name: str) -> str:
    """The SHA-256 of the one certificate every manager serves for NAME (fails when they differ)."""
    digests = {served_certificate(dep, h.address, name) for h in managers(dep)}
    assert len(digests) == 1 and "" not in digests, f"{name}: not the same certificate on every manager: {digests}"
    return digests.pop()


class RequestLoop:
    """HTTPS requests, one after the other, to each of ADDRESSES (one thread each), counted."""

    def __init__(self, dep: Deployment, addresses: list[str], ca: Path, host: str) -> None:
        self.dep, self.addresses, self.ca, self.host = dep, addresses, ca, host
        self.sent = 0
        self.failed: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(a,), daemon=True) for a in addresses]

    def run(self, address: str) -> None:
        while not self.stop.is_set():
            res = https(self.dep, address, self.ca, self.host, max_time=5)
            with self.lock:
                self.sent += 1
                if res.returncode != 0 or "Hostname:" not in res.stdout:
                    self.failed.append(f"{address}: curl {res.returncode}: {res.stderr.strip()[:200]}")
            time.sleep(0.1)

    def __enter__(self) -> RequestLoop:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


# --------------------------------------------------------------------------- the steps


def test_each_name_is_ordered_once_and_served_by_traefik_on_every_manager(
    request: pytest.FixtureRequest, deployment: Deployment, toolchain: Toolchain, pebble: Pebble, roots: Path
) -> None:
    image, _ = acme_image(toolchain)
    deployment.traefik_extra = {"acme": {"email": EMAIL, "issuer": "swarm", "image": image, "caServer": pebble.directory_url, "caBundle": pebble.ca_bundle_pem}}
    deployment.configure()
    result = deployment.up("up with traefik.acme.issuer: swarm (pebble)")
    assert result.summary.result == "succeeded"
    start = time.monotonic()
    for host in managers(deployment):
        outbound_nat(host)  # the issuer, wherever it runs, reaches pebble in the control namespace
    first = deployment.first
    wait_for(lambda: len(running_on(first, "traefik")) == 3, 120, "a Traefik on every manager")
    wait_for(lambda: len(running_on(first, ISSUER)) == 1, 120, "one issuer")
    (issuer_node,) = running_on(first, ISSUER)
    assert issuer_node.startswith(f"{PREFIX}m")
    served_everywhere(deployment, pebble, roots, NAMES)
    figure(request, "issuance (up done -> both names on every manager), s", round(time.monotonic() - start, 1))
    figure(request, "first issuer", issuer_node)
    for name in NAMES:
        one_certificate_everywhere(deployment, name)
        res = https(deployment, first.address, roots, name, "-v", "-o", "/dev/null")
        assert "Pebble Intermediate" in res.stderr, res.stderr[-1500:]
    time.sleep(20)  # nothing is ordered again while things settle
    assert orders(pebble) == len(NAMES), f"pebble saw {orders(pebble)} orders for {len(NAMES)} names\n{pebble.log_tails()}"
    assert store_configs(first), "no replicated store"
    # The private keys: in no state file, no output (they live in the store, sealed, and in tmpfs).
    store = json.loads(first.exec(["sh", "-c", "cat \"$(docker volume inspect traefik-acme --format '{{.Mountpoint}}')/acme.json\""], check=True).stdout)
    keys = [c["key"] for c in store["le"]["Certificates"]]
    assert len(keys) == len(NAMES)
    # Each key as acme.json holds it (base64 of the PEM) and as PEM text (a line of its body).
    needles = [k[100:160] for k in keys] + [base64.b64decode(k).decode().splitlines()[1] for k in keys]
    for path in deployment.state_files():
        text = path.read_text(errors="replace")
        assert not [n for n in needles if n in text], f"a certificate key is readable in {path}"
    assert not [n for n in needles if any(n in line for line in deployment.outputs)]


def in_task(host: Host, service: str, *curl: str) -> subprocess.CompletedProcess:
    """curl in the network namespace of SERVICE's task on HOST: what that task can reach."""
    pid = host.docker("inspect", "--format", "{{.State.Pid}}", task_container(host, service))
    return host.exec(["nsenter", f"--target={pid}", "--net", "curl", "--noproxy", "*", "-sS", "--max-time", "10", *curl], timeout=30)


def status_from(host: Host, service: str, method: str, url: str, *extra: str) -> int:
    res = in_task(host, service, "-o", "/dev/null", "-w", "%{http_code}", "-X", method, *extra, url)
    assert res.returncode == 0, f"{method} {url} from {service} on {host.hostname}: curl exited {res.returncode}: {res.stderr.strip()}"
    return int(res.stdout)


def task_address(host: Host, service: str, network: str) -> str:
    fmt = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return host.docker("inspect", "--format", fmt, task_container(host, service))


def test_no_task_holds_the_socket_and_each_reaches_only_its_proxy(deployment: Deployment) -> None:
    first = deployment.first
    for service in ("traefik", ISSUER):
        spec = json.loads(first.docker("service", "inspect", service))[0]["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert not [m for m in spec.get("Mounts") or [] if "docker.sock" in m.get("Source", "")], f"{service} mounts the socket"
    network = json.loads(first.docker("network", "inspect", "docker-api-issuer"))[0]
    assert (network["Driver"], network["Internal"], network["Attachable"]) == ("overlay", True, False)
    configs = store_configs(first)
    config_id = first.docker("config", "inspect", "--format", "{{.ID}}", configs[-1])
    create = ["-H", "Content-Type: application/json", "--data", json.dumps({"Name": "intruder", "Data": base64.b64encode(b"x").decode()})]
    for host in managers(deployment):
        read_only = f"http://{task_address(host, 'docker-api-proxy', 'docker-api')}:2375"
        assert status_from(host, "traefik", "GET", f"{read_only}/v1.41/configs") == 200
        assert status_from(host, "traefik", "GET", f"{read_only}/v1.41/configs/{config_id}") == 200
        assert status_from(host, "traefik", "POST", f"{read_only}/v1.41/configs/create", *create) == 403
        assert status_from(host, "traefik", "DELETE", f"{read_only}/v1.41/configs/{config_id}") == 403
        assert status_from(host, "traefik", "GET", f"{read_only}/v1.41/secrets") == 403
        # The issuer's proxy is on a network the serving Traefik is not on: nothing answers.
        writer = f"http://{task_address(host, 'docker-api-issuer-proxy', 'docker-api-issuer')}:2375"
        res = in_task(host, "traefik", "-o", "/dev/null", "--max-time", "5", f"{writer}/_ping")
        assert res.returncode != 0, f"Traefik on {host.hostname} reaches the issuer's proxy"
    assert first.docker("config", "ls", "-q", "--filter", "name=intruder") == "", "a config was created"
    assert store_configs(first) == configs
    (issuer_node,) = running_on(first, ISSUER)
    issuer_host = next(h for h in managers(deployment) if h.hostname == issuer_node)
    writer = f"http://{task_address(issuer_host, 'docker-api-issuer-proxy', 'docker-api-issuer')}:2375"
    assert status_from(issuer_host, ISSUER, "GET", f"{writer}/v1.41/configs") == 200
    service_spec = ["-H", "Content-Type: application/json", "--data", json.dumps({"Name": "intruder", "TaskTemplate": {"ContainerSpec": {"Image": "x"}}})]
    assert status_from(issuer_host, ISSUER, "POST", f"{writer}/v1.41/services/create", *service_spec) == 403
    assert status_from(issuer_host, ISSUER, "GET", f"{writer}/v1.41/services") == 403
    assert status_from(issuer_host, ISSUER, "GET", f"{writer}/v1.41/secrets") == 403
    assert status_from(issuer_host, ISSUER, "POST", f"{writer}/v1.41/containers/create", "-H", "Content-Type: application/json", "--data", "{}") == 403
    assert first.docker("service", "ls", "-q", "--filter", "name=intruder") == "", "a service was created"


def test_https_survives_the_loss_of_the_issuer_and_a_new_issuer_orders_a_new_name(
    request: pytest.FixtureRequest, deployment: Deployment, toolchain: Toolchain, pebble: Pebble, roots: Path
) -> None:
    first = deployment.first
    (issuer_node,) = running_on(first, ISSUER)
    lost = next(h for h in managers(deployment) if h.hostname == issuer_node)
    others = [h for h in managers(deployment) if h is not lost]
    watcher = others[0]
    before = orders(pebble)
    with RequestLoop(deployment, [h.address for h in others], roots, NAMES[0]) as loop:
        time.sleep(5)
        stopped = time.monotonic()
        lost.stop_docker()
        try:
            wait_for(lambda: [n for n in running_on(watcher, ISSUER) if n != lost.hostname], 180, "a new issuer on another manager")
            figure(request, "failover (issuer's daemon stopped -> new issuer task running), s", round(time.monotonic() - stopped, 1))
            (new_node,) = [n for n in running_on(watcher, ISSUER) if n != lost.hostname]
            figure(request, "new issuer", new_node)
            # A name added now, by hand on a surviving manager; its DNS answer is a surviving manager.
            whoami, _ = toolchain.whoami
            added = time.monotonic()
            pebble.set_a(NEW_NAME, others[-1].address)
            watcher.docker(
                "service", "create", "--detach", "--name", "whoami2", "--network", "traefik-net", "--constraint", "node.role == worker",
                "--label", "traefik.enable=true", "--label", f"traefik.http.routers.whoami2.rule=Host(`{NEW_NAME}`)",
                "--label", "traefik.http.services.whoami2.loadbalancer.server.port=80", whoami,
            )  # fmt: skip
            request.addfinalizer(lambda: watcher.docker("service", "rm", "whoami2", check=False))
            try:
                for host in others:
                    wait_for(lambda h=host: serves(deployment, h.address, roots, NEW_NAME), 240, f"https://{NEW_NAME}/ through {host.hostname}")
            except AssertionError as err:
                raise AssertionError(f"{err}\n{logs(deployment, watcher, pebble)}") from None
            figure(request, "new name (service created -> served by the surviving managers), s", round(time.monotonic() - added, 1))
            time.sleep(5)
        finally:
            loop.stop.set()
            lost_back = time.monotonic()
            lost.start_docker()
    figure(request, "requests during failover: sent", loop.sent)
    figure(request, "requests during failover: failed", len(loop.failed))
    assert loop.sent > 50
    assert loop.failed == [], loop.failed[:10]
    # The names the old issuer had were not ordered again; the new one was ordered once.
    assert orders(pebble) == before + 1, f"{orders(pebble) - before} new orders, want 1\n{pebble.log_tails()}"
    assert "issuer: starting from the published store" in service_logs(watcher, ISSUER)
    # The stopped manager comes back and serves the new certificate too.
    # 240 s as in test_https.py (a restarted manager's tasks came back late under load there too).
    try:
        wait_for(lambda: lost.hostname in running_on(watcher, "traefik"), 240, f"Traefik back on {lost.hostname}")
    except AssertionError as err:
        tasks = watcher.docker("service", "ps", "--no-trunc", "--format", "{{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}", "traefik", check=False)
        nodes = watcher.docker("node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}", check=False)
        script = (
            "docker ps -a --format '{{.Names}} {{.Status}}' 2>&1; docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.Error}}' 2>&1; "
            "docker network ls --filter driver=overlay --format '{{.ID}} {{.Name}}' 2>&1; "
            "docker network inspect --format '{{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{index .Options \"com.docker.network.driver.overlay.vxlanid_list\"}}' "
            "$(docker network ls -q --filter driver=overlay) 2>&1; ls /var/run/docker/netns 2>&1; ip -d link show type vxlan 2>&1"
        )
        local = lost.exec(["sh", "-c", script], timeout=60).stdout
        daemon_log = (lost.dir / "dockerd.log").read_text(errors="replace").splitlines()
        local += "\n".join(line for line in daemon_log if "vxlan" in line or "sandbox" in line)[-4000:]
        raise AssertionError(f"{err}\ntasks of traefik:\n{tasks}\nnodes:\n{nodes}\non {lost.hostname}:\n{local}\n{logs(deployment, watcher, pebble)[-4000:]}") from None
    wait_for(lambda: serves(deployment, lost.address, roots, NEW_NAME), 120, f"https://{NEW_NAME}/ through {lost.hostname}")
    figure(request, "stopped manager back -> serving the new name, s", round(time.monotonic() - lost_back, 1))
    digests = {served_certificate(deployment, h.address, NEW_NAME) for h in managers(deployment)}
    assert len(digests) == 1 and "" not in digests, digests


def task_ids(host: Host, service: str) -> set[str]:
    return set(host.docker("service", "ps", service, "--filter", "desired-state=running", "-q").split())


def test_a_renewal_rotates_the_certificates_on_every_manager_without_a_failed_request(
    request: pytest.FixtureRequest, deployment: Deployment, pebble: Pebble, roots: Path
) -> None:
    """A forced renewal: pebble's certificates last 90 days (its default) and Traefik renews what
    expires within 30 days by default (certificatesDuration 2160 h); `up` with certificatesDuration
    8760 (one year: renew 4 months before expiry) replaces the issuer's task, whose Traefik then finds
    every certificate of the store due and renews it (Traefik's own renewal, `Renewing ACME
    certificate`). Meanwhile requests run against every manager for both names; the serving Traefiks
    are not restarted."""
    first = deployment.first
    old = {name: {h.hostname: served_certificate(deployment, h.address, name) for h in managers(deployment)} for name in NAMES}
    for name, digests in old.items():
        assert len(set(digests.values())) == 1 and "" not in digests.values(), f"{name} before the renewal: {digests}"
    store = json.loads(first.exec(["sh", "-c", "cat \"$(docker volume inspect traefik-acme --format '{{.Mountpoint}}')/acme.json\""], check=True).stdout)
    held = len(store["le"]["Certificates"])  # whoami0, whoami1 and the name added at the failover
    serving = task_ids(first, "traefik")
    before = orders(pebble)
    loops = [RequestLoop(deployment, [h.address for h in managers(deployment)], roots, name) for name in NAMES]
    for loop in loops:
        loop.__enter__()
    try:
        time.sleep(5)
        deployment.traefik_extra["acme"]["certificatesDuration"] = 8760
        deployment.configure()
        result = deployment.up("up with traefik.acme.certificatesDuration: 8760 (every certificate due)")
        assert result.summary.result == "succeeded"
        start = time.monotonic()

        def renewed(host: Host, name: str) -> bool:
            digest = served_certificate(deployment, host.address, name)
            return digest not in ("", old[name][host.hostname])

        try:
            for name in NAMES:
                for host in managers(deployment):
                    wait_for(lambda h=host, n=name: renewed(h, n), 240, f"a renewed certificate for {name} on {host.hostname}")
        except AssertionError as err:
            raise AssertionError(f"{err}\n{logs(deployment, first, pebble)}") from None
        figure(request, "renewal (up done -> renewed certificates on every manager), s", round(time.monotonic() - start, 1))
        time.sleep(10)
    finally:
        for loop in loops:
            loop.__exit__(None, None, None)
    sent, failed = sum(loop.sent for loop in loops), [f for loop in loops for f in loop.failed]
    figure(request, "requests during renewal (3 managers x 2 names): sent", sent)
    figure(request, "requests during renewal: failed", len(failed))
    assert sent > 100
    assert failed == [], failed[:10]
    for name in NAMES:
        digests = {served_certificate(deployment, h.address, name) for h in managers(deployment)}
        assert len(digests) == 1 and "" not in digests, f"{name}: not the same renewed certificate on every manager: {digests}"
        res = https(deployment, first.address, roots, name, "-v", "-o", "/dev/null")
        assert "Pebble Intermediate" in res.stderr, res.stderr[-1500:]
    # Each certificate of the store renewed once, by the one issuer; the serving Traefiks kept their tasks.
    assert orders(pebble) == before + held, f"{orders(pebble) - before} orders for the renewal of {held} certificates\n{pebble.log_tails()}"
    assert service_logs(first, ISSUER).count("Renewing ACME certificate") >= held
    assert task_ids(first, "traefik") == serving, "a serving Traefik was restarted"


def test_destroy_then_up_on_the_same_hosts_orders_nothing_again(request: pytest.FixtureRequest, deployment: Deployment, pebble: Pebble, roots: Path) -> None:
    before = orders(pebble)
    # Back to Traefik's renewal window (30 days before expiry): the renewed 90-day certificates are not due.
    deployment.traefik_extra["acme"].pop("certificatesDuration", None)
    deployment.configure()
    deployment.destroy("destroy (issuer: swarm)")
    for host in deployment.harness:
        assert host.info("{{.Swarm.LocalNodeState}}") == "inactive", host.hostname
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
    result = deployment.up("up again on the same hosts")
    assert result.summary.result == "succeeded"
    start = time.monotonic()
    for host in managers(deployment):
        outbound_nat(host)
    for name in NAMES:
        for host in managers(deployment):
            wait_for(lambda h=host, n=name: serves(deployment, h.address, roots, n), 240, f"https://{name}/ through {host.hostname} after the rebuild")
    figure(request, "rebuild (up done -> both names on every manager), s", round(time.monotonic() - start, 1))
    time.sleep(30)
    assert orders(pebble) == before, f"{orders(pebble) - before} new orders after the rebuild\n{pebble.log_tails()}"
    preview = deployment.preview("preview with no change (issuer: swarm)", expect_no_changes=True)
    assert not {op: n for op, n in (preview.change_summary or {}).items() if op != "same" and n}, preview.stdout[-3000:]
    deployment.destroy("destroy")
    for host in deployment.harness:
        assert host.docker("ps", "-q") == "", f"{host.hostname} still runs containers"
    say(request.config, "[e2e-acme] figures: " + json.dumps(FIGURES))
    if os.environ.get("HA_FIGURES_FILE"):
        Path(os.environ["HA_FIGURES_FILE"]).write_text(json.dumps(FIGURES, indent=2) + "\n")
