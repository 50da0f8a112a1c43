"""Run the pulumi CLI inside a network namespace, for the Automation API that runs outside it.

    python tests/e2e/cli_in_netns.py NETNS_PATH PULUMI ARG...      (standard library only)

The test hosts are reachable only from the control namespace, so the CLI (and the language host,
the program and the plugins it starts) must run there.  The Automation API listens for the CLI's
engine events on 127.0.0.1 of *its* namespace (`--event-log tcp://127.0.0.1:PORT`); this wrapper
binds the same port on 127.0.0.1 inside the CLI's namespace (a socket stays in the namespace it
was made in) and relays each connection to the Automation API's listener, byte for byte.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

CLONE_NEWNET = 0x40000000
EVENT_LOG_PREFIX = "tcp://127.0.0.1:"


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listen_in(netns_path: str, port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:PORT of the namespace at NETNS_PATH (this thread comes back)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(16)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    return sock


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (dst, src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def relay(listener: socket.socket, port: int, pipes: list[threading.Thread]) -> None:
    """Accept in the CLI's namespace, connect in ours, copy both ways."""
    while True:
        try:
            inner, _ = listener.accept()
        except OSError:
            return
        outer = socket.create_connection(("127.0.0.1", port))
        for a, b in ((inner, outer), (outer, inner)):
            pipe = threading.Thread(target=_pipe, args=(a, b), daemon=True)
            pipes.append(pipe)
            pipe.start()


def event_log_port(args: Sequence[str]) -> int | None:
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--event-log" and i + 1 < len(args) else arg.removeprefix("--event-log=") if arg.startswith("--event-log=") else None
        if value and value.startswith(EVENT_LOG_PREFIX):
            return int(value[len(EVENT_LOG_PREFIX) :])
    return None


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2:
        print("usage: cli_in_netns.py NETNS_PATH PULUMI [ARG...]", file=sys.stderr)
        return 2
    netns_path, pulumi, *args = argv
    port = event_log_port(args)
    listener = None
    pipes: list[threading.Thread] = []
    if port is not None:
        listener = listen_in(netns_path, port)
        threading.Thread(target=relay, args=(listener, port, pipes), daemon=True).start()
    child = subprocess.Popen(["nsenter", f"--net={netns_path}", "--", pulumi, *args])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    code = child.wait()
    if listener is not None:
        listener.close()
        for pipe in list(pipes):  # the last events (the summary) may still be on their way
            pipe.join(timeout=30)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
