"""Real Docker daemons, each a "host" in its own network namespace, for the node-side scripts.

Layout (all names start with ``hs-`` so the leftovers of a killed run can be found and removed):

* network namespace ``hs-test-br`` holds the Linux bridge ``hsbr-test`` (no address); keeping the
  bridge in its own namespace means the host's interfaces, routes and netfilter rules are never
  touched, and a host FORWARD policy of DROP (br_netfilter) cannot drop the swarm traffic;
* one namespace per host, ``hs-test-a``/``-b``/``-c``, with ``eth0`` = 10.231.77.1{1,2,3}/24,
  the peer of a veth whose other end (``hs-X-br``) is a port of the bridge;
* one ``dockerd`` per host, started with ``nsenter --net=/var/run/netns/hs-test-X`` (plus its own
  UTS namespace so ``docker node ls`` shows the host names), own data root, exec root, pidfile,
  unix socket and an empty daemon.json, all under ``/tmp/hs-test-swarm/X``.

The scripts run as subprocesses inside the same namespace with ``DOCKER_HOST`` set, so the swarm
traffic (2377/tcp, 7946, 4789/udp) crosses the bridge.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "components" / "scripts"

PREFIX = "hs-test-"
BRIDGE_NS = "hs-test-br"
BRIDGE = "hsbr-test"
SUBNET = "10.231.77"
BASE = Path("/tmp/hs-test-swarm")
HOSTS = {"a": f"{SUBNET}.11", "b": f"{SUBNET}.12", "c": f"{SUBNET}.13"}
STORAGE_DRIVER = os.environ.get("HS_TEST_STORAGE_DRIVER", "vfs")
SLEEP_IMAGE = "hs-test/sleep:1"


def _run(*cmd: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=check, timeout=timeout, capture_output=True, text=True, **kw)


def _find_dockerd() -> str:
    path = shutil.which("dockerd") or next((p for p in ("/usr/bin/dockerd", "/usr/sbin/dockerd") if os.access(p, os.X_OK)), None)
    if not path:
        pytest.fail("dockerd not found (install the docker.io package); these tests need a real Docker daemon")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purpose.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def _kill_and_wait(pids: list[int], grace: float = 15) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.1)


def _netns_list() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(ns: str) -> list[int]:
    out = _run("ip", "netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def _unmount_under(base: Path) -> None:
    """Lazily unmount every mount point below base, deepest first."""
    prefix = str(base) + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point.startswith(prefix):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        _run("umount", "-l", point, check=False)


def cleanup_all() -> None:
    """Remove everything this fixture may have created, also the leftovers of a killed run."""
    pids: list[int] = []
    for pidfile in BASE.glob("*/dockerd.pid"):
        with contextlib.suppress(ValueError, OSError):
            pids.append(int(pidfile.read_text().strip()))
    for ns in _netns_list():
        if ns.startswith(PREFIX):
            pids.extend(_netns_pids(ns))
    _kill_and_wait(sorted(set(pids)))
    # containerd and its shims run in the same namespaces; anything still there goes now.
    for ns in _netns_list():
        if ns.startswith(PREFIX):
            _kill_and_wait(_netns_pids(ns), grace=5)
    _unmount_under(BASE)
    for ns in _netns_list():
        if ns.startswith(PREFIX):
            _run("ip", "netns", "delete", ns, check=False)
    shutil.rmtree(BASE, ignore_errors=True)


class Host:
    """One Docker daemon in its own network namespace: a swarm node for the scripts."""

    def __init__(self, name: str, ip: str, dockerd: str) -> None:
        self.name = name
        self.ip = ip
        self.dockerd = dockerd
        self.ns = f"{PREFIX}{name}"
        self.dir = BASE / name
        self.sock = self.dir / "docker.sock"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "dockerd.log"

    # -- namespace and daemon -------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        return env

    def nsenter(self) -> list[str]:
        return ["nsenter", f"--net=/var/run/netns/{self.ns}"]

    def create_netns(self) -> None:
        _run("ip", "netns", "add", self.ns)
        peer = f"hs-{self.name}-br"
        _run("ip", "-n", BRIDGE_NS, "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        _run("ip", "-n", BRIDGE_NS, "link", "set", peer, "master", BRIDGE, "up")
        _run("ip", "-n", self.ns, "addr", "add", f"{self.ip}/24", "dev", "eth0")
        _run("ip", "-n", self.ns, "link", "set", "eth0", "up")
        _run("ip", "-n", self.ns, "link", "set", "lo", "up")

    def start(self, timeout: float = 60) -> None:
        assert not self.running, f"dockerd of host {self.name} already runs"
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "daemon.json"
        config.write_text("{}\n")
        args = [
            self.dockerd,
            f"--config-file={config}",
            f"--data-root={self.dir / 'data'}",
            f"--exec-root={self.dir / 'exec'}",
            f"--pidfile={self.dir / 'dockerd.pid'}",
            f"--host=unix://{self.sock}",
            f"--storage-driver={STORAGE_DRIVER}",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--log-level=info",
        ]
        # Own UTS namespace: the node's hostname is the host's name (hs-a, hs-b, hs-c).
        cmd = [*self.nsenter(), "unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"', f"hs-{self.name}", *args]
        log = open(self.log_path, "ab")  # the daemon gets its own descriptor; ours is closed below
        try:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd of host {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.sock.exists() and _run("docker", "info", "--format", "{{.ServerVersion}}", env=self.env, check=False).returncode == 0:
                return
            time.sleep(0.3)
        pytest.fail(f"dockerd of host {self.name} did not answer within {timeout}s:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        """Stop the daemon (SIGKILL with kill=True: a crashed host) and everything in its namespace."""
        if self.proc is not None:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
            else:
                _kill_and_wait([self.proc.pid], grace=30)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=10)
            self.proc = None
        # containerd (started by dockerd) and shims: nothing may survive the "host".
        _kill_and_wait(_netns_pids(self.ns), grace=5 if not kill else 0)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- running things on the host ---------------------------------------------------------------

    def run(
        self,
        script: str,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        as_file: bool = False,
        timeout: float = 400,
    ) -> subprocess.CompletedProcess:
        """Run a script inside the host's namespace.

        By default exactly as the Python side sends it: ``bash -c '<lib.sh>\\n<SCRIPT.sh>' SCRIPT.sh ARG...``;
        with ``as_file=True`` as a plain file (which then sources lib.sh itself).
        """
        if as_file:
            cmd = [*self.nsenter(), "bash", str(SCRIPTS / script), *args]
        else:
            body = (SCRIPTS / "lib.sh").read_text() + "\n" + (SCRIPTS / script).read_text()
            cmd = [*self.nsenter(), "bash", "-c", body, script, *args]
        full_env = self.env
        if env:
            full_env.update(env)
        return subprocess.run(
            cmd,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )

    def docker(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        res = subprocess.run([*self.nsenter(), "docker", *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=120, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} on {self.name} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout.strip()

    def info(self, fmt: str) -> str:
        return self.docker("info", "--format", fmt)

    def node(self, node_id: str) -> dict:
        return json.loads(self.docker("node", "inspect", node_id))[0]

    def leave_swarm(self) -> None:
        if self.info("{{.Swarm.LocalNodeState}}") != "inactive":
            self.docker("swarm", "leave", "--force")

    def import_image(self, tar_bytes: bytes, ref: str) -> None:
        res = subprocess.run([*self.nsenter(), "docker", "import", "-", ref], input=tar_bytes, capture_output=True, env=self.env, timeout=120, check=False)
        assert res.returncode == 0, res.stderr.decode(errors="replace")


def _sleep_image_tar() -> bytes:
    """A minimal root filesystem: /bin/sleep and the shared objects it needs (no registry here)."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    files = {os.path.realpath(sleep): "bin/sleep"}
    for line in _run("ldd", sleep).stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            files[os.path.realpath(path)] = path.lstrip("/")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for src, dst in files.items():
            tar.add(src, arcname=dst)
    return buf.getvalue()


class Cluster:
    """Three hosts on one bridge: a (first manager), b (manager-to-be), c (worker)."""

    def __init__(self, dockerd: str) -> None:
        self.hosts = {name: Host(name, ip, dockerd) for name, ip in HOSTS.items()}
        self._image_tar: bytes | None = None

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def setup(self) -> None:
        _run("ip", "netns", "add", BRIDGE_NS)
        _run("ip", "-n", BRIDGE_NS, "link", "add", BRIDGE, "type", "bridge")
        _run("ip", "-n", BRIDGE_NS, "link", "set", BRIDGE, "up")
        _run("ip", "-n", BRIDGE_NS, "link", "set", "lo", "up")
        for host in self.hosts.values():
            host.create_netns()
        for host in self.hosts.values():
            host.start()

    def reset(self) -> None:
        """All daemons running, none in a swarm."""
        for host in self.hosts.values():
            if not host.running:
                host.start()
        for host in self.hosts.values():
            host.leave_swarm()

    def teardown(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.stop()
        cleanup_all()

    def ensure_image(self, host: Host) -> str:
        if self._image_tar is None:
            self._image_tar = _sleep_image_tar()
        if not host.docker("image", "ls", "-q", SLEEP_IMAGE):
            host.import_image(self._image_tar, SLEEP_IMAGE)
        return SLEEP_IMAGE


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces, a bridge and starts dockerd")
    dockerd = _find_dockerd()
    for tool in ("docker", "nsenter", "unshare", "ip"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} not found; the script tests need it")
    cleanup_all()
    cluster = Cluster(dockerd)
    try:
        cluster.setup()
        yield cluster
    finally:
        cluster.teardown()


def pytest_report_header(config) -> list[str]:
    """Record the client and daemon versions: the docker CLI on PATH may be newer than dockerd."""
    lines = []
    for tool, args in (("docker", ["--version"]), ("dockerd", ["--version"])):
        path = shutil.which(tool) or (_find_dockerd_quiet() if tool == "dockerd" else None)
        if path:
            res = subprocess.run([path, *args], capture_output=True, text=True, check=False)
            lines.append(f"{tool}: {path}: {res.stdout.strip() or res.stderr.strip()}")
        else:
            lines.append(f"{tool}: not found")
    return lines


def _find_dockerd_quiet() -> str | None:
    return next((p for p in ("/usr/bin/dockerd", "/usr/sbin/dockerd") if os.access(p, os.X_OK)), None)
