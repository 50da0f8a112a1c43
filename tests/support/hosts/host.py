"""One test host: its spec, its PID 1, namespaces, daemons and users."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.hosts.common import DOCKER_COMMS, SCRIPTS, SSH_USER, STORAGE_DRIVER, SUBNET, SYSTEM_PATH, HarnessError
from tests.support.hosts.prerequisites import find_tool
from tests.support.hosts.processes import children, descendants, kill_all, ns_id, proc_table, sh, wait_gone

if TYPE_CHECKING:
    from tests.support.hosts.harness import Harness

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
        self.forget_vxlan_links()
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

    def forget_vxlan_links(self) -> None:
        """The overlay VXLAN links (vx-*) a stopped daemon left in the host's namespace: a stop sometimes
        leaves one, and every task of that overlay on the host is then rejected with "error creating
        vxlan interface: file exists" (moby/libnetwork#1765) until it goes.  A machine's restart gives a
        fresh namespace; ha-swarm's own stops (backup-lib.sh, hs_forget_vxlan_links) remove them too."""
        shown = sh("ip", "-n", self.netns, "-o", "link", "show", "type", "vxlan", check=False, timeout=30)
        for line in shown.stdout.splitlines():
            name = line.split(": ", 2)[1].split("@", 1)[0] if ": " in line else ""
            if name.startswith("vx-"):
                subprocess.run(["ip", "-n", self.netns, "link", "delete", name], capture_output=True, check=False, timeout=30)

    def docker_pids(self) -> set[int]:
        """dockerd, containerd, the shims of this host, and the containers' processes below them."""
        if self.holder_pid is None:
            return set()
        pidns = ns_id(self.holder_pid, "pid")
        table = proc_table()
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
