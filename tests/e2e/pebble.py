"""Let's Encrypt's test ACME server, pebble, with its mock DNS server, inside a network namespace.

    with Pebble("he-ctl", "10.231.79.2", "10.231.79.11", pebble=tc.pebble, challtestsrv=tc.pebble_challtestsrv) as acme:
        acme.directory_url      # https://10.231.79.2:14000/dir
        acme.ca_bundle_pem      # the CA of pebble's own HTTPS certificate (for Traefik's caServer trust)
        acme.issuing_roots_pem()  # the root that signs what pebble issues (for `curl --cacert`)

* HTTPS: pebble's bundled certificate is for localhost only, so a private CA and a certificate for
  the listen address (SAN IP:<address>) are made with the `openssl` CLI into a temporary folder.
* pebble listens on <address>:14000 (ACME) and <address>:15000 (management: roots, intermediates),
  validates http-01 on port 80 and tls-alpn-01 on 443 of whatever its DNS server answers, without
  the random sleeps (PEBBLE_VA_NOSLEEP=1) and without rejecting nonces (PEBBLE_WFE_NONCEREJECT=0).
* pebble-challtestsrv serves only DNS, on <address>:8053, answering every A query with
  DEFAULT_IPV4 (the node that runs Traefik) and no AAAA; `set_a()` changes one name's answer
  through its management API on <address>:8055.  Its HTTP-01, HTTPS-01, TLS-ALPN-01 and DoH
  servers are off.
* Both run with `nsenter --net=/run/netns/NETNS`; this process talks to them from a thread that
  joins that namespace (a socket stays in the namespace it was made in).  Their output goes to
  log files in the temporary folder, whose tails are printed when something fails.

Standard library only (and the `openssl` and `nsenter` commands).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tests.e2e.certs import CertificateError, private_ca, server_certificate

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
ACME_PORT = 14000
MANAGEMENT_PORT = 15000
DNS_PORT = 8053
CHALLTESTSRV_PORT = 8055


class PebbleError(RuntimeError):
    """pebble or pebble-challtestsrv did not start or did not answer (the message has their logs' tails)."""


def netns_path(netns: str) -> str:
    """A namespace's name (as `ip netns` knows it) or a path to it, as a path."""
    return netns if "/" in netns else f"/run/netns/{netns}"


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """FN() run by a thread of its own that has joined the network namespace NETNS (and then ends)."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as err:  # handed to the caller
            error.append(err)

    thread = threading.Thread(target=run, name=f"in-netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def dns_query_a(server: tuple[str, int], name: str, timeout: float = 2.0) -> list[str]:
    """The addresses of the A records SERVER answers for NAME (one UDP query, recursion desired)."""
    query_id = secrets.randbits(16)
    question = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, server)
        while True:
            reply, _ = sock.recvfrom(4096)
            if len(reply) >= 12 and struct.unpack("!H", reply[:2])[0] == query_id:
                break
    _, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", reply[:12])
    if flags & 0x000F:
        raise OSError(f"DNS query for {name} to {server[0]}:{server[1]}: response code {flags & 0x000F}")
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(reply, pos) + 4
    addresses = []
    for _ in range(ancount):
        pos = _skip_name(reply, pos)
        rtype, rclass, _, length = struct.unpack("!HHIH", reply[pos : pos + 10])
        pos += 10
        if rtype == 1 and rclass == 1 and length == 4:
            addresses.append(socket.inet_ntoa(reply[pos : pos + 4]))
        pos += length
    return addresses


def _skip_name(message: bytes, pos: int) -> int:
    """The offset after the (possibly compressed) domain name at POS."""
    while True:
        length = message[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        return f"({path}: {err})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


class Pebble:
    """pebble and pebble-challtestsrv in the network namespace NETNS, listening on ADDRESS, every name
    resolving to DEFAULT_IPV4.  A context manager: started on entry, stopped and cleaned up on exit."""

    def __init__(self, netns: str, address: str, default_ipv4: str, *, pebble: Path, challtestsrv: Path, timeout: float = 30.0) -> None:
        self.netns = netns
        self.address = address
        self.default_ipv4 = default_ipv4
        self.pebble_bin = Path(pebble)
        self.challtestsrv_bin = Path(challtestsrv)
        self.timeout = timeout
        self.directory_url = f"https://{address}:{ACME_PORT}/dir"
        self.management_url = f"https://{address}:{MANAGEMENT_PORT}"
        self.dns_server = f"{address}:{DNS_PORT}"
        self.challtestsrv_url = f"http://{address}:{CHALLTESTSRV_PORT}"
        self.work_dir: Path | None = None
        self.ca_bundle_pem = ""  # the CA that signed pebble's own HTTPS certificate
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- files ---------------------------------------------------------------------------------

    def _dir(self) -> Path:
        if self.work_dir is None:
            raise PebbleError("pebble is not started")
        return self.work_dir

    @property
    def ca_file(self) -> Path:
        """The CA of pebble's HTTPS certificate as a file (also readable from inside the namespace)."""
        return self._dir() / "ca.pem"

    def log_file(self, name: str) -> Path:
        return self._dir() / f"{name}.log"

    def log_tails(self, lines: int = 30) -> str:
        if self.work_dir is None:
            return "(pebble was not started)"
        return "\n".join(f"--- {name}.log (last {lines} lines) ---\n{_tail(self.log_file(name), lines)}" for name in ("pebble", "challtestsrv"))

    def _make_certificates(self) -> None:
        """A private CA, and a certificate for ADDRESS (SAN IP:ADDRESS) signed by it, valid a week."""
        try:
            private_ca(self._dir(), "ha-swarm e2e pebble HTTPS CA")
            server_certificate(self._dir(), f"IP:{self.address}", "cert")
        except CertificateError as err:
            raise PebbleError(str(err)) from None
        self.ca_bundle_pem = self.ca_file.read_text()

    def _write_config(self) -> Path:
        config = {
            "pebble": {
                "listenAddress": f"{self.address}:{ACME_PORT}",
                "managementListenAddress": f"{self.address}:{MANAGEMENT_PORT}",
                "certificate": str(self._dir() / "cert.pem"),
                "privateKey": str(self._dir() / "cert.key"),
                "httpPort": 80,
                "tlsPort": 443,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        path = self._dir() / "pebble-config.json"
        path.write_text(json.dumps(config, indent=2) + "\n")
        return path

    # -- processes -----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with self.log_file(name).open("wb") as log:
            self._procs[name] = subprocess.Popen(
                ["nsenter", f"--net={netns_path(self.netns)}", "--", *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=self._dir(),
            )

    def _fail(self, what: str) -> PebbleError:
        return PebbleError(f"{what}\n{self.log_tails()}")

    def _wait(self, what: str, probe: Callable[[], object]) -> None:
        deadline = time.monotonic() + self.timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise self._fail(f"{name} exited with {proc.returncode} while waiting for {what}")
            try:
                in_netns(self.netns, probe)
                return
            except (OSError, ValueError) as err:
                last = err
            time.sleep(0.2)
        raise self._fail(f"{what}: no answer within {self.timeout:.0f}s (last error: {last})")

    def start(self) -> Pebble:
        for binary in (self.pebble_bin, self.challtestsrv_bin):
            if not os.access(binary, os.X_OK):
                raise PebbleError(f"{binary} is not an executable (build it with `toolchain/build.sh --only pebble`)")
        self.work_dir = Path(tempfile.mkdtemp(prefix="ha-swarm-pebble-"))
        try:
            self._make_certificates()
            config = self._write_config()
            # Only the DNS server: every other server of challtestsrv is turned off with an empty address.
            self._spawn(
                "challtestsrv",
                [
                    str(self.challtestsrv_bin),
                    "-dnsserver", self.dns_server, "-management", f"{self.address}:{CHALLTESTSRV_PORT}",
                    "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
                    "-defaultIPv4", self.default_ipv4, "-defaultIPv6", "",
                ],
            )  # fmt: skip
            self._spawn(
                "pebble",
                [str(self.pebble_bin), "-config", str(config), "-dnsserver", self.dns_server],
                env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
            )
            self._wait(f"pebble-challtestsrv's DNS server on {self.dns_server}", lambda: dns_query_a((self.address, DNS_PORT), "probe.invalid", timeout=0.5))
            self._wait(f"pebble's directory {self.directory_url}", lambda: json.loads(self._get(self.directory_url, timeout=2)))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both processes (TERM, then KILL after 5 s) and remove the temporary folder."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> Pebble:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is not None and not isinstance(exc, PebbleError):
            print(f"[pebble] logs, as something failed:\n{self.log_tails()}", file=sys.stderr)
        self.stop()

    # -- talking to them (from inside the namespace) ---------------------------------------------

    def _get(self, url: str, timeout: float = 10.0, data: bytes | None = None) -> str:
        """GET (or POST DATA to) URL; HTTPS verified with the generated CA; no proxy.  Call inside the namespace."""
        context = ssl.create_default_context(cadata=self.ca_bundle_pem)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
        with opener.open(urllib.request.Request(url, data=data), timeout=timeout) as res:
            return res.read().decode()

    def get(self, url: str, timeout: float = 10.0) -> str:
        """The body of URL (pebble's HTTPS verified with the generated CA), fetched inside the namespace."""
        return in_netns(self.netns, lambda: self._get(url, timeout))

    def directory(self) -> dict[str, object]:
        """pebble's ACME directory."""
        return json.loads(self.get(self.directory_url))

    def issuing_roots_pem(self, intermediates: bool = False) -> str:
        """The root certificate that signs the certificates pebble issues (made anew at each start),
        as PEM; with INTERMEDIATES, the intermediate before it (the chain pebble hands out)."""
        pem = self.get(f"{self.management_url}/roots/0")
        if intermediates:
            pem = self.get(f"{self.management_url}/intermediates/0") + pem
        return pem

    def challtestsrv(self, command: str, payload: dict[str, object]) -> None:
        """POST PAYLOAD to pebble-challtestsrv's management API: add-a, clear-a, set-txt, clear-txt..."""
        post = json.dumps(payload).encode()
        in_netns(self.netns, lambda: self._get(f"{self.challtestsrv_url}/{command}", data=post))

    def set_a(self, host: str, *addresses: str) -> None:
        """Answer A queries for HOST with ADDRESSES instead of the default (none: back to the default)."""
        self.challtestsrv("clear-a", {"host": host})
        if addresses:
            self.challtestsrv("add-a", {"host": host, "addresses": list(addresses)})

    def resolve_a(self, name: str) -> list[str]:
        """What pebble-challtestsrv answers to an A query for NAME (what pebble's validation sees)."""
        return in_netns(self.netns, lambda: dns_query_a((self.address, DNS_PORT), name))
