"""A DNS provider's API, as lego's `httpreq` provider talks to it, in front of pebble-challtestsrv.

    with DnsProviderApi(pebble, "user", password, port=8056) as api:
        api.endpoint        # http://<pebble's address>:8056 (HTTPREQ_ENDPOINT)
        api.calls           # every request: (path, fqdn, authorised)

lego's httpreq (default mode) POSTs {"fqdn": "_acme-challenge.<name>.", "value": "<TXT>"} to
ENDPOINT/present, then the same to ENDPOINT/cleanup, with HTTP basic auth when HTTPREQ_USERNAME and
HTTPREQ_PASSWORD are set. Here a right request sets (or clears) the TXT record in pebble's mock DNS
through its management API; a wrong password gets 401 and changes nothing. It stands for the API
of a user's DNS host (Cloudflare, OVH...), whose credentials ha-swarm keeps as swarm secrets.

The listening socket is made in pebble's network namespace (where the test hosts reach pebble),
by a thread that joined it; the server then runs in a thread of this process. Standard library only.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import NamedTuple

from tests.e2e.pebble import Pebble, in_netns


class Call(NamedTuple):
    path: str
    fqdn: str
    authorised: bool


class DnsProviderApi:
    def __init__(self, pebble: Pebble, username: str, password: str, port: int = 8056) -> None:
        self.pebble, self.port = pebble, port
        self.endpoint = f"http://{pebble.address}:{port}"
        self._expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _forward(self, path: str, fqdn: str, value: str) -> None:
        """Set or clear FQDN's TXT record in pebble-challtestsrv (from inside its namespace)."""
        if path == "/present":
            self.pebble.challtestsrv("set-txt", {"host": fqdn, "value": value})
        else:
            self.pebble.challtestsrv("clear-txt", {"host": fqdn})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    fqdn, value = str(body.get("fqdn", "")), str(body.get("value", ""))
                except (ValueError, AttributeError):
                    self.send_error(400, "a JSON object {fqdn, value}")
                    return
                authorised = hmac.compare_digest(self.headers.get("Authorization", ""), api._expected)
                with api._lock:
                    api.calls.append(Call(self.path, fqdn, authorised))
                if not authorised:
                    self.send_error(401, "wrong credentials")
                    return
                if self.path not in ("/present", "/cleanup") or not fqdn:
                    self.send_error(404, "POST /present or /cleanup")
                    return
                try:
                    api._forward(self.path, fqdn, value)
                except OSError as err:
                    self.send_error(502, f"challtestsrv: {err}")
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def __enter__(self) -> DnsProviderApi:
        self._server = in_netns(self.pebble.netns, lambda: ThreadingHTTPServer((self.pebble.address, self.port), self._handler()))
        self._thread = threading.Thread(target=self._server.serve_forever, name="dns-provider-api", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def presented(self) -> set[str]:
        """The names whose TXT record a right request set."""
        with self._lock:
            return {c.fqdn for c in self.calls if c.path == "/present" and c.authorised}

    def refused(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if not c.authorised]
