"""Test hosts on this machine: each with its own network address, Docker daemon and SSH server.

Why namespaces and not privileged containers: the machine's own ``docker.io``, ``openssh-server``
and ``sudo`` are the software under test, and no image can be pulled here.  A host is a set of
Linux namespaces around processes of this machine, which costs a few megabytes and starts in
seconds; a privileged container would need a Debian image debootstrapped and imported first.

A host ``NAME`` (with ``prefix`` ``hs-``: ``hs-m1`` ... ``hs-m3``, ``hs-w1``, ``hs-w2``, at
``SUBNET`` = 10.231.78.11-13 and .21-22; state in ``STATE_DIR`` = /tmp/hs-hosts) is:

* a network namespace ``hs-NAME`` whose ``eth0`` (``SUBNET.x/24``) is one end of a veth pair; the
  other end is a port of the bridge ``br0``, which lives in the namespace ``hs-net``: the
  machine's interfaces, routes and netfilter rules are never touched, and neither is its sshd;
* a holder process: ``nsenter --net`` into that namespace, then ``unshare --mount --uts --pid
  --fork --mount-proc --propagation private``; inside, per-host directories of the state dir are
  bind-mounted over ``/etc`` (a copy of the machine's, so users, groups, sudoers, the host name and
  the sshd config are per host and ``useradd``/``usermod`` may rename files there), ``/run``
  (so ``/var/run/docker.sock`` is the host's own, for SSH sessions and for containers alike),
  ``/root``, ``/home`` and ``/var/log`` (so the machine's /root, with whatever lives there, is not
  visible inside a host).  Its PID 1 is tini (or a small reaper); killing it kills every
  process of the host, containers included, and the private mount namespace disappears with
  them, so no mount of a host is ever visible on the machine;
* its own ``dockerd`` (``--iptables=false --ip6tables=false --ip-masq=false --bridge=none``, vfs
  storage, an empty ``daemon.json``, data under the state dir) and its own ``sshd`` on
  ``ADDRESS:22`` (own ed25519 host key, keys only, ``UsePAM no``), both started with
  ``nsenter --target HOLDER --mount --uts --net --pid``;
* the user ``swarm`` (passwordless sudo, in the ``docker`` group on every host except
  ``NO_DOCKER_GROUP`` = ``w2``, left out for the preparation test), and ``root``; both accept the
  key pair the harness generates (``STATE_DIR/id_ed25519``).

The bridge has no address on the machine: SSH clients run in the namespace ``hs-ctl`` (address
``SUBNET.2``): ``Harness.ssh()`` does that, and by hand ``ip netns exec hs-ctl ssh ...``.

Teardown (``down``), also of the leftovers of a killed run (the namespaces named ``PREFIX`` + a
name without '-', such as hs-m1, hs-net, hs-ctl): SIGKILL to every process in them (the PID 1s
take their hosts' processes with them), a lazy unmount of anything left below the state dir
(deepest first; normally nothing: the hosts' mounts live in their own mount namespaces), the
namespaces deleted (with them the veths and the bridge), the state dir removed.  The pytest
fixture and the command line tear down on an exception, at exit and on SIGINT/SIGTERM/SIGHUP.

Command line (as root), from the repository root::

    python -m tests.integration.harness up [N]   # N hosts (default 5), kept running
    python -m tests.integration.harness status
    python -m tests.integration.harness ssh NAME [COMMAND...]   # as swarm; -u root for root
    python -m tests.integration.harness down
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "components" / "scripts"
# The test image's program: the whoami stand-in of the toolchain (it also has the client commands).
IMAGE_SOURCE = REPO / "tools" / "toolchain" / "whoami-lite"

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

# PID 1 of a host: reaps the orphans that are reparented to it (containerd, shims), exits on TERM/INT.
REAPER = """
import os, signal
wanted = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
while True:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
    if signal.sigwait(wanted) != signal.SIGCHLD:
        raise SystemExit(0)
"""


def init_command() -> list[str]:
    """PID 1 of a host: tini (a dependency of Debian's docker.io), else the Python reaper.

    Not the interpreter running this file: it may live under /root, which a host hides."""
    tini = find_tool("tini", "/usr/bin/tini", "/usr/bin/docker-init", "/usr/sbin/docker-init")
    if tini:
        return [tini, "--", "sleep", "infinity"]
    python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)), None)
    return [python, "-c", REAPER] if python else ["sleep", "infinity"]


DOCKER_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "docker-proxy", "runc")


class HarnessError(RuntimeError):
    """The test hosts could not be set up (a missing tool, a daemon that does not start...)."""


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


def _proc_table() -> dict[int, tuple[int, str]]:
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
    table = table if table is not None else _proc_table()
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


# ---------------------------------------------------------------------------------------------
# the machine's tools


def find_tool(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":" + SYSTEM_PATH)
    return found or next((p for p in fallbacks if os.access(p, os.X_OK)), None)


def go_tool() -> str | None:
    return find_tool("go", "/usr/local/go/bin/go", "/usr/lib/go/bin/go")


def ensure_packages(ssh: bool = True, images: bool = True) -> list[str]:
    """Install the Debian packages the hosts need when their tools are missing; return what was installed."""
    wanted = {
        "docker.io": find_tool("dockerd") and find_tool("docker"),
        "iproute2": find_tool("ip"),
        "util-linux": find_tool("nsenter") and find_tool("unshare"),
        "passwd": find_tool("useradd") and find_tool("usermod"),
    }
    if ssh:
        wanted |= {"openssh-server": find_tool("sshd"), "openssh-client": find_tool("ssh") and find_tool("ssh-keygen"), "sudo": find_tool("sudo")}
    if images:
        wanted["golang-go"] = go_tool()
    missing = sorted(pkg for pkg, have in wanted.items() if not have)
    if not missing:
        return []
    apt = find_tool("apt-get")
    if not apt:
        raise HarnessError(f"missing packages {', '.join(missing)} and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # A package must not start the machine's own services (openssh-server would start the system sshd).
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:
        policy.write_text("#!/bin/sh\n# ha-swarm test harness: no service starts during its apt-get install\nexit 101\n")
        policy.chmod(0o755)
    try:
        sh(apt, "update", "-q", env=env, timeout=900)
        sh(apt, "install", "-y", "-q", "--no-install-recommends", *missing, env=env, timeout=1800)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    return missing


def vxlan_available(netns: str) -> bool:
    """The overlay network needs VXLAN: try to create a VXLAN device in a test namespace."""
    res = sh("ip", "-n", netns, "link", "add", "hs-vxtest", "type", "vxlan", "id", "42", "dstport", "4789", check=False)
    if res.returncode == 0:
        sh("ip", "-n", netns, "link", "delete", "hs-vxtest", check=False)
    return res.returncode == 0


# ---------------------------------------------------------------------------------------------
# the stand-in image


def build_hostname_http(out_dir: Path) -> Path:
    """Build the test image's program, whoami-lite (static, stdlib only), as `hostname-http`; return its path."""
    go = go_tool()
    if not go:
        raise HarnessError("no Go toolchain (go on PATH, /usr/local/go/bin/go or Debian's golang-go) to build the test image")
    binary = out_dir / "hostname-http"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(CGO_ENABLED="0", GOTOOLCHAIN="local", GOFLAGS="-buildvcs=false", GOPROXY="off", GO111MODULE="on")
    env.setdefault("HOME", "/root")
    res = subprocess.run(
        [go, "build", "-trimpath", "-ldflags=-s -w", "-o", str(binary), "."],
        cwd=IMAGE_SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if res.returncode != 0:
        raise HarnessError(f"go build of {IMAGE_SOURCE} failed: {res.stderr.strip()}")
    return binary


def rootfs_tar(binary: Path) -> bytes:
    """A root filesystem holding only /hostname-http (and the usual empty directories)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("etc", "tmp", "proc", "sys", "dev"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        tar.add(str(binary), arcname="hostname-http")
    return buf.getvalue()


# It serves ports 80 and 8080 (the visualizer's target port) unless a service sets HTTP_PORTS.
IMPORT_CHANGES = ("--change", 'ENTRYPOINT ["/hostname-http"]', "--change", "EXPOSE 80", "--change", 'ENV HTTP_PORTS="80 8080"')


# ---------------------------------------------------------------------------------------------
# hosts


@dataclass(frozen=True)
class HostSpec:
    name: str
    address: str


def default_specs(count: int = 5, subnet: str = SUBNET) -> list[HostSpec]:
    """m1..m3 (managers-to-be) at .11-.13, then w1.. (workers) at .21 on."""
    if not 1 <= count <= 50:
        raise ValueError("between 1 and 50 hosts")
    managers = min(count, 3)
    specs = [HostSpec(f"m{i}", f"{subnet}.{10 + i}") for i in range(1, managers + 1)]
    specs += [HostSpec(f"w{j}", f"{subnet}.{20 + j}") for j in range(1, count - managers + 1)]
    return specs


class Host:
    """One test host.  Commands run as root inside it with `exec`; `run` runs a node script there."""

    def __init__(self, harness: Harness, spec: HostSpec) -> None:
        self.harness = harness
        self.name = spec.name
        self.address = spec.address
        self.hostname = f"{harness.prefix}{spec.name}"
        self.netns = f"{harness.prefix}{spec.name}"
        self.dir = harness.state_dir / spec.name
        self.holder: subprocess.Popen | None = None
        self.holder_pid: int | None = None  # PID 1 of the host, as the machine numbers it
        self.dockerd: subprocess.Popen | None = None  # the nsenter process that runs dockerd
        self.sshd: subprocess.Popen | None = None
        self.host_key = ""  # the sshd's public ed25519 host key ("ssh-ed25519 AAAA...")

    def __repr__(self) -> str:
        return f"Host({self.hostname}, {self.address})"

    @property
    def ip(self) -> str:
        return self.address

    @property
    def ssh_user(self) -> str:
        return SSH_USER

    @property
    def key_path(self) -> Path:
        return self.harness.key_path

    @property
    def in_docker_group(self) -> bool:
        return self.name != self.harness.no_docker_group

    # -- namespaces --------------------------------------------------------------------------

    def nsenter(self) -> list[str]:
        if self.holder_pid is None:
            raise HarnessError(f"host {self.hostname} is not up")
        return ["nsenter", f"--target={self.holder_pid}", "--mount", "--uts", "--net", "--pid", "--"]

    def exec(
        self,
        argv: Sequence[str],
        *,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run argv as root inside the host (text mode unless input is bytes)."""
        res = subprocess.run(
            [*self.nsenter(), *argv],
            input=input if input is not None else "",
            capture_output=True,
            text=not isinstance(input, bytes),
            env=env if env is not None else self.env,
            timeout=timeout,
            check=False,
        )
        if check and res.returncode != 0:
            err = res.stderr if isinstance(res.stderr, str) else res.stderr.decode(errors="replace")
            raise HarnessError(f"{shlex.join(argv)[:200]} on {self.hostname} failed ({res.returncode}): {err.strip()}")
        return res

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(HOME="/root", PATH=SYSTEM_PATH)
        return env

    def create(self) -> None:
        """State dir, per-host /etc, network namespace and veth; then the holder process."""
        d = self.dir
        for sub in ("run", "home", "log", "docker"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "root").mkdir(mode=0o700, exist_ok=True)
        sh("cp", "-a", "/etc/.", str(d / "etc"), timeout=120)
        etc = d / "etc"
        (etc / "hostname").write_text(self.hostname + "\n")
        hosts = ["127.0.0.1\tlocalhost", f"{self.address}\t{self.hostname}"]
        hosts += [f"{h.address}\t{h.hostname}" for h in self.harness.hosts.values() if h is not self]
        hosts += ["::1\tlocalhost ip6-localhost ip6-loopback", ""]
        (etc / "hosts").write_text("\n".join(hosts))
        (d / "daemon.json").write_text("{}\n")
        if self.harness.with_ssh:
            ssh_dir = etc / "ssh"
            ssh_dir.mkdir(exist_ok=True)
            for old in ssh_dir.glob("ssh_host_*"):
                old.unlink()
            key = ssh_dir / "ssh_host_ed25519_key"
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{self.hostname}", "-f", str(key))
            self.host_key = " ".join(key.with_suffix(".pub").read_text().split()[:2])
            (ssh_dir / "sshd_config").write_text(self.sshd_config())
            for sub in ("sshd_config.d",):
                shutil.rmtree(ssh_dir / sub, ignore_errors=True)
        # network: eth0 in the host's namespace, its peer a port of the bridge
        bridge_ns = self.harness.bridge_ns
        sh("ip", "netns", "add", self.netns)
        port = f"p-{self.name}"[:15]
        sh("ip", "-n", bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", self.netns)
        sh("ip", "-n", bridge_ns, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", self.netns, "addr", "add", f"{self.address}/24", "dev", "eth0")
        sh("ip", "-n", self.netns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        self.start_holder()

    def sshd_config(self) -> str:
        return "\n".join(
            [
                f"# sshd of test host {self.hostname} (ha-swarm integration tests)",
                f"ListenAddress {self.address}",
                "Port 22",
                "HostKey /etc/ssh/ssh_host_ed25519_key",
                "PidFile /run/sshd.pid",
                "PubkeyAuthentication yes",
                "AuthorizedKeysFile .ssh/authorized_keys",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PrintMotd no",
                "PrintLastLog no",
                "MaxStartups 100:30:200",
                "MaxSessions 100",
                "AcceptEnv LANG LC_*",
                "Subsystem sftp /usr/lib/openssh/sftp-server",
                "",
            ]
        )

    def start_holder(self, timeout: float = 30) -> None:
        d = self.dir
        ready = d / "holder.ready"
        ready.unlink(missing_ok=True)
        binds = [("etc", "/etc"), ("run", "/run"), ("root", "/root"), ("home", "/home"), ("log", "/var/log")]
        script = ["set -e", f"hostname {shlex.quote(self.hostname)}"]
        script += [f"mount --bind {shlex.quote(str(d / src))} {dst}" for src, dst in binds]
        script += [f"touch {shlex.quote(str(ready))}", f"exec {shlex.join(init_command())}"]
        argv = [
            "nsenter", f"--net=/run/netns/{self.netns}",
            "unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private",
            "--", "sh", "-c", "\n".join(script),
        ]  # fmt: skip
        with open(d / "holder.log", "ab") as log:
            self.holder = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.holder.poll() is not None:
                raise HarnessError(f"the holder of host {self.hostname} exited with {self.holder.returncode}: {self.log_tail('holder.log')}")
            if time.monotonic() > deadline:
                raise HarnessError(f"the holder of host {self.hostname} did not start within {timeout}s")
            time.sleep(0.05)
        # nsenter execs unshare, whose forked child is the host's PID 1.
        deadline = time.monotonic() + timeout
        while True:
            kids = children(self.holder.pid)
            if kids:
                self.holder_pid = kids[0]
                break
            if time.monotonic() > deadline:
                raise HarnessError(f"no PID 1 under the holder of host {self.hostname}")
            time.sleep(0.05)

    def setup_users(self) -> None:
        """root and swarm accept the harness key; swarm has passwordless sudo and (but on one host) the docker group."""
        user = SSH_USER
        pub = self.harness.key_path.with_suffix(".pub").read_text().strip()
        group_step = f"usermod -aG docker {user}" if self.in_docker_group else f"if id -nG {user} | grep -qw docker; then gpasswd -d {user} docker >/dev/null; fi"
        script = f"""
set -eu
getent group docker >/dev/null || groupadd --system docker
id {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --user-group {user}
mkdir -p /home/{user} && chown {user}:{user} /home/{user}
# With UsePAM no, sshd refuses a locked account ("!" in /etc/shadow): no password, but not locked.
usermod -p '*' {user}
case "$(getent shadow root | cut -d: -f2)" in '!'*) usermod -p '*' root ;; esac
{group_step}
printf '%s ALL=(ALL) NOPASSWD:ALL\\n' {user} > /etc/sudoers.d/ha-swarm-test
chmod 0440 /etc/sudoers.d/ha-swarm-test
for home in /root /home/{user}; do
    mkdir -p -m 0700 "$home/.ssh"
    printf '%s\\n' {shlex.quote(pub)} > "$home/.ssh/authorized_keys"
    chmod 0600 "$home/.ssh/authorized_keys"
done
chown -R {user}:{user} /home/{user}/.ssh
mkdir -p -m 0755 /run/sshd
"""
        self.exec(["sh", "-c", script], check=True)

    # -- dockerd -----------------------------------------------------------------------------

    @property
    def docker_running(self) -> bool:
        return self.dockerd is not None and self.dockerd.poll() is None

    running = docker_running  # the name the script tests use

    def dockerd_argv(self) -> list[str]:
        return [
            find_tool("dockerd", "/usr/sbin/dockerd", "/usr/bin/dockerd") or "dockerd",
            f"--config-file={self.dir / 'daemon.json'}",
            f"--data-root={self.dir / 'docker'}",
            f"--storage-driver={STORAGE_DRIVER}",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--log-level=info",
        ]

    def start_docker(self, timeout: float = 90) -> None:
        if self.docker_running:
            raise HarnessError(f"dockerd of host {self.hostname} already runs")
        self.sweep_docker(signal.SIGKILL)  # leftovers of a killed daemon
        # PIDs are small numbers in the host's PID namespace and get reused: stale pid files
        # would make dockerd refuse to start, or adopt a process that is not containerd.
        for stale in ("docker.pid", "docker/containerd/containerd.pid"):
            (self.dir / "run" / stale).unlink(missing_ok=True)
        with open(self.dir / "dockerd.log", "ab") as log:
            self.dockerd = subprocess.Popen(
                [*self.nsenter(), *self.dockerd_argv()], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.dockerd.poll() is not None:
                raise HarnessError(f"dockerd of host {self.hostname} exited with {self.dockerd.returncode}:\n{self.log_tail('dockerd.log')}")
            if (self.dir / "run" / "docker.sock").exists() and self.exec(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise HarnessError(f"dockerd of host {self.hostname} did not answer within {timeout}s:\n{self.log_tail('dockerd.log')}")
            time.sleep(0.3)

    start = start_docker

    def docker_pids(self) -> set[int]:
        """dockerd, containerd, the shims of this host, and the containers' processes below them."""
        if self.holder_pid is None:
            return set()
        pidns = ns_id(self.holder_pid, "pid")
        table = _proc_table()
        roots = {pid for pid, (_, comm) in table.items() if comm in DOCKER_COMMS and ns_id(pid, "pid") == pidns}
        return roots | descendants(roots, table)

    def sweep_docker(self, sig: int) -> None:
        pids = self.docker_pids()
        kill_all(pids, sig)
        if not wait_gone(pids, 30 if sig != signal.SIGKILL else 10):
            kill_all(self.docker_pids())
            wait_gone(self.docker_pids(), 10)

    def stop_docker(self, kill: bool = False) -> None:
        """Stop the daemon like `systemctl stop docker`, or with kill=True crash it (SIGKILL to dockerd,
        containerd, the shims and the containers).  sshd and the rest of the host stay."""
        if self.dockerd is not None:
            daemon = children(self.dockerd.pid)
            if kill:
                self.sweep_docker(signal.SIGKILL)
            else:
                kill_all(daemon, signal.SIGTERM)
            try:
                self.dockerd.wait(timeout=60)
            except subprocess.TimeoutExpired:
                kill_all(daemon)
                self.dockerd.wait(timeout=30)
            self.dockerd = None
        # Whatever outlived the daemon (a shim, a container) goes too: nothing of Docker survives.
        self.sweep_docker(signal.SIGKILL)

    stop = stop_docker

    def docker(self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120) -> str:
        """`docker ARGS` as root inside the host; stdout stripped."""
        res = self.exec(["docker", *args], input=stdin, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} on {self.hostname} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout.strip()

    def info(self, fmt: str) -> str:
        return self.docker("info", "--format", fmt)

    def node(self, node_id: str) -> dict:
        return json.loads(self.docker("node", "inspect", node_id))[0]

    def leave_swarm(self) -> None:
        if self.info("{{.Swarm.LocalNodeState}}") != "inactive":
            self.docker("swarm", "leave", "--force")

    def import_image(self, tar_bytes: bytes, ref: str, changes: Sequence[str] = ()) -> None:
        res = self.exec(["docker", "import", *changes, "-", ref], input=tar_bytes, timeout=300)
        if res.returncode != 0:
            raise AssertionError(f"docker import {ref} on {self.hostname} failed: {res.stderr.decode(errors='replace')}")

    # -- sshd --------------------------------------------------------------------------------

    def start_sshd(self, timeout: float = 30) -> None:
        sshd = find_tool("sshd", "/usr/sbin/sshd") or "/usr/sbin/sshd"
        with open(self.dir / "sshd.log", "ab") as log:
            self.sshd = subprocess.Popen(
                [*self.nsenter(), sshd, "-D", "-e", "-f", "/etc/ssh/sshd_config"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.sshd.poll() is not None:
                raise HarnessError(f"sshd of host {self.hostname} exited with {self.sshd.returncode}: {self.log_tail('sshd.log')}")
            res = self.harness.ssh(self, "true", user="root", timeout=15)
            if res.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise HarnessError(f"sshd of host {self.hostname} does not accept the key within {timeout}s: {res.stderr.strip()}\n{self.log_tail('sshd.log')}")
            time.sleep(0.2)

    # -- node scripts, locally (as root, no SSH) ------------------------------------------------

    def run(
        self,
        script: str,
        *args: str,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
        as_file: bool = False,
        timeout: float = 400,
    ) -> subprocess.CompletedProcess:
        """Run a node script as root inside the host, without SSH.

        By default exactly as the Python side sends it: ``bash -c '<lib.sh>\\n<SCRIPT.sh>' SCRIPT.sh ARG...``;
        with ``as_file=True`` as a plain file (which then sources lib.sh itself)."""
        if as_file:
            argv = ["bash", str(SCRIPTS / script), *args]
        else:
            body = (SCRIPTS / "lib.sh").read_text() + "\n" + (SCRIPTS / script).read_text()
            argv = ["bash", "-c", body, script, *args]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        if env:
            full_env.update(env)
        return self.exec(argv, input=stdin if stdin is not None else "", env=full_env, timeout=timeout)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join((self.dir / name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------------------------------------
# the harness


class Harness:
    """N hosts on one private bridge.  `up()` cleans stale state first; `down()` removes everything."""

    def __init__(
        self,
        specs: Sequence[HostSpec] | None = None,
        *,
        prefix: str = PREFIX,
        subnet: str = SUBNET,
        state_dir: Path = STATE_DIR,
        ssh: bool = True,
        images: bool = True,
        no_docker_group: str | None = NO_DOCKER_GROUP,
    ) -> None:
        if not prefix.endswith("-") or len(prefix) > 6:
            raise ValueError("the prefix ends with '-' and is short (interface and namespace names)")
        self.prefix = prefix
        self.subnet = subnet
        self.state_dir = Path(state_dir)
        self.with_ssh = ssh
        self.with_images = images
        self.no_docker_group = no_docker_group
        specs = list(specs) if specs is not None else default_specs(5, subnet)
        names = [s.name for s in specs]
        if len(set(names)) != len(names) or {"net", "ctl"} & set(names):
            raise ValueError(f"host names must be unique and not 'net' or 'ctl': {names}")
        self.hosts: dict[str, Host] = {s.name: Host(self, s) for s in specs}
        self.bridge_ns = f"{prefix}net"
        self.ctl_ns = f"{prefix}ctl"
        self.ctl_address = f"{subnet}.{CTL_ADDRESS_SUFFIX}"
        self.key_path = self.state_dir / "id_ed25519"
        self.image_tar: bytes | None = None
        self.vxlan: bool | None = None
        self.timings: dict[str, float] = {}
        self.installed: list[str] = []

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __iter__(self):
        return iter(self.hosts.values())

    @property
    def managers(self) -> list[Host]:
        return [h for h in self if h.name.startswith("m")]

    @property
    def workers(self) -> list[Host]:
        return [h for h in self if not h.name.startswith("m")]

    def host(self, host: Host | str) -> Host:
        return host if isinstance(host, Host) else self.hosts[host]

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self) -> None:
        if os.geteuid() != 0:
            raise HarnessError("the test hosts need root: network namespaces, a bridge, mounts, dockerd and sshd")
        start = time.monotonic()
        self.installed = ensure_packages(ssh=self.with_ssh, images=self.with_images)
        cleanup(self.prefix, self.state_dir)
        self.state_dir.mkdir(parents=True)
        self.state_dir.chmod(0o700)
        image_build = None
        pool = ThreadPoolExecutor(max_workers=max(4, len(self.hosts)))
        try:
            if self.with_images:
                image_build = pool.submit(build_hostname_http, self.state_dir)
            if self.with_ssh:
                sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.prefix}harness", "-f", str(self.key_path))
            self._bridge()
            self.vxlan = vxlan_available(self.bridge_ns)
            for host in self:
                host.create()
            list(pool.map(self._boot, self))
            if image_build is not None:
                self.image_tar = rootfs_tar(image_build.result())
                list(pool.map(lambda h: h.import_image(self.image_tar, IMAGE, IMPORT_CHANGES), self))
        finally:
            pool.shutdown(wait=True)
        self.save_state()
        self.timings["up"] = time.monotonic() - start

    def _bridge(self) -> None:
        sh("ip", "netns", "add", self.bridge_ns)
        sh("ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.bridge_ns, "link", "set", "br0", "up")
        sh("ip", "-n", self.bridge_ns, "link", "set", "lo", "up")
        if self.with_ssh:
            sh("ip", "netns", "add", self.ctl_ns)
            sh("ip", "-n", self.bridge_ns, "link", "add", "p-ctl", "type", "veth", "peer", "name", "eth0", "netns", self.ctl_ns)
            sh("ip", "-n", self.bridge_ns, "link", "set", "p-ctl", "master", "br0", "up")
            sh("ip", "-n", self.ctl_ns, "addr", "add", f"{self.ctl_address}/24", "dev", "eth0")
            sh("ip", "-n", self.ctl_ns, "link", "set", "eth0", "up")
            sh("ip", "-n", self.ctl_ns, "link", "set", "lo", "up")

    def _boot(self, host: Host) -> None:
        if self.with_ssh:
            host.setup_users()
        host.start_docker()
        if self.with_ssh:
            host.start_sshd()

    def down(self) -> None:
        start = time.monotonic()
        for host in self:
            host.dockerd = host.sshd = host.holder = None
            host.holder_pid = None
        steps = cleanup(self.prefix, self.state_dir)
        self.timings["down"] = time.monotonic() - start
        self.timings.update({f"down.{k}": v for k, v in steps.items()})

    # -- SSH ---------------------------------------------------------------------------------

    def ssh_argv(self, host: Host | str, user: str = SSH_USER) -> list[str]:
        """The ssh client command for a host (to run inside the control namespace)."""
        h = self.host(host)
        return ["ssh", *SSH_OPTIONS, "-i", str(self.key_path), f"{user}@{h.address}"]

    def ssh(
        self,
        host: Host | str,
        command: str,
        stdin: str | None = None,
        user: str = SSH_USER,
        timeout: float = 300,
        check: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run COMMAND (one string, as the program sends it) on a host over SSH, from the control namespace."""
        argv = ["nsenter", f"--net=/run/netns/{self.ctl_ns}", *self.ssh_argv(host, user), command]
        res = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"ssh {user}@{self.host(host).hostname} {command[:120]!r} failed ({res.returncode}):\n{res.stderr.strip()}")
        return res

    def in_ctl(self, argv: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command in the control namespace (the place the developer's tools would be)."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.ctl_ns}", *argv], capture_output=True, text=True, timeout=timeout, check=False)

    # -- state file (for the command line) ----------------------------------------------------

    def save_state(self) -> None:
        state = {
            "prefix": self.prefix,
            "subnet": self.subnet,
            "ctl_netns": self.ctl_ns,
            "key": str(self.key_path) if self.with_ssh else None,
            "no_docker_group": self.no_docker_group,
            "vxlan": self.vxlan,
            "hosts": [
                {
                    "name": h.name,
                    "hostname": h.hostname,
                    "address": h.address,
                    "netns": h.netns,
                    "holder_pid": h.holder_pid,
                    "host_key": h.host_key,
                    "docker_group": h.in_docker_group,
                }
                for h in self
            ],
        }
        (self.state_dir / "state.json").write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def attach(cls, state_dir: Path = STATE_DIR) -> Harness:
        """The hosts of a running harness (started by `up` on the command line)."""
        state = json.loads((Path(state_dir) / "state.json").read_text())
        harness = cls(
            [HostSpec(h["name"], h["address"]) for h in state["hosts"]],
            prefix=state["prefix"],
            subnet=state["subnet"],
            state_dir=state_dir,
            ssh=state["key"] is not None,
            no_docker_group=state["no_docker_group"],
        )
        harness.vxlan = state["vxlan"]
        for h in state["hosts"]:
            host = harness.hosts[h["name"]]
            host.holder_pid = h["holder_pid"]
            host.host_key = h["host_key"]
        return harness

    def describe(self) -> str:
        lines = [f"{'host':<8} {'address':<15} {'swarm in docker group':<22} {'PID 1':<8} ssh"]
        for h in self:
            group = "yes" if h.in_docker_group else "NO"
            lines.append(f"{h.hostname:<8} {h.address:<15} {group:<22} {h.holder_pid!s:<8} python -m tests.integration.harness ssh {h.name}")
        first = next(iter(self))
        lines += [
            f"by hand (the bridge is reached from the namespace {self.ctl_ns}, {self.ctl_address}):",
            f"  ip netns exec {self.ctl_ns} {shlex.join(self.ssh_argv(first))}",
            f"a root shell on a host: nsenter --target <PID 1> --mount --uts --net --pid bash; key: {self.key_path}",
            f"image on every host: {IMAGE}; vxlan: {'yes' if self.vxlan else 'NO'}; state: {self.state_dir / 'state.json'}",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# teardown on exit, for the command line and the pytest fixture


class TeardownGuard:
    """Until released, tear the harness down at interpreter exit and on SIGTERM/SIGHUP/SIGINT."""

    def __init__(self, teardown: Callable[[], None]) -> None:
        self._teardown = teardown
        self._done = threading.Event()
        self._previous: dict[int, Any] = {}
        atexit.register(self._run)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # As Ctrl-C: pytest stops the session and runs the finalizers; the command line tears down.
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def _run(self) -> None:
        if not self._done.is_set():
            self._done.set()
            self._teardown()

    def run(self) -> None:
        """Tear down now (once)."""
        self._run()
        self.release()

    def release(self) -> None:
        """Keep what is up: no teardown at exit."""
        self._done.set()
        atexit.unregister(self._run)
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.harness", description="Test hosts for ha-swarm (needs root).")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start N test hosts (default 5) and keep them running")
    up.add_argument("count", nargs="?", type=int, default=5)
    sub.add_parser("down", help="stop and remove the test hosts (also the leftovers of a killed run)")
    sub.add_parser("status", help="show the test hosts and whether their daemons answer")
    ssh = sub.add_parser("ssh", help="ssh into a test host (as swarm, or -u root)")
    ssh.add_argument("-u", "--user", default=SSH_USER)
    ssh.add_argument("name")
    ssh.add_argument("remote", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the test hosts need root (namespaces, a bridge, mounts, dockerd, sshd)", file=sys.stderr)
        return 2

    if args.command == "down":
        start = time.monotonic()
        cleanup(PREFIX, STATE_DIR)
        print(f"test hosts removed in {time.monotonic() - start:.1f}s")
        return 0

    if args.command == "up":
        harness = Harness(default_specs(args.count))
        guard = TeardownGuard(harness.down)
        try:
            harness.up()
        except BaseException as error:
            print(f"harness up failed: {error!r}; tearing down", file=sys.stderr)
            guard.run()
            return 1
        guard.release()
        print(harness.describe())
        if harness.installed:
            print(f"installed: {', '.join(harness.installed)}")
        print(f"up in {harness.timings['up']:.1f}s; remove them with: python -m tests.integration.harness down")
        return 0

    if not (STATE_DIR / "state.json").exists():
        print(f"no test hosts (no {STATE_DIR / 'state.json'}); start them with: python -m tests.integration.harness up", file=sys.stderr)
        return 1
    harness = Harness.attach(STATE_DIR)

    if args.command == "status":
        print(harness.describe())
        healthy = True
        for h in harness:
            alive = h.holder_pid is not None and pid_alive(h.holder_pid)
            docker = h.exec(["docker", "info", "--format", "{{.ServerVersion}} swarm={{.Swarm.LocalNodeState}}"], timeout=20) if alive else None
            ssh_ok = harness.ssh(h, "true", user="root", timeout=15).returncode == 0 if alive else False
            state = docker.stdout.strip() if docker is not None and docker.returncode == 0 else "not answering"
            healthy &= alive and ssh_ok and docker is not None and docker.returncode == 0
            print(f"{h.hostname:<8} PID 1 {h.holder_pid} {'up' if alive else 'GONE'}; dockerd {state}; sshd {'answers' if ssh_ok else 'NOT answering'}")
        return 0 if healthy else 1

    # ssh
    h = harness.host(args.name.removeprefix(harness.prefix))
    cmd = ["nsenter", f"--net=/run/netns/{harness.ctl_ns}", *harness.ssh_argv(h, args.user), *args.remote]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
