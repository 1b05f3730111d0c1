"""The stand-in's sockets: a plain-HTTP control origin, and HTTPS servers answering for real host names.

    front = Front(control_app)                                  # http://127.0.0.1:PORT: /_truth, /_admin/...
    front.mount(["bringatrailer.com", "www.bringatrailer.com"], bat_app)   # one loopback address per mount
    front.mount(["sacramento.craigslist.org", ...], craigslist_app)
    front.start()
    front.resolve     # {"bringatrailer.com": "127.0.0.10:40123", ...}: the client's name-resolution override
    front.ca_file     # PEM of the throwaway certificate authority that signed every host's certificate

An app is `app(handler, method, host)`: it reads `handler.path` / `handler.headers` and answers with
`handler.reply(...)`. Which app answers a request is decided here, by the Host header (the certificate
covers every mounted name, so SNI needs no switch); a name mounted on another address is answered 421, as a
real server answers a request sent to the wrong site. This mapping (host -> app) is the seam other servers
plug into: the sample site mounts its renderers, a replay of a recorded crawl mounts its archive.

Each mount gets its own 127.0.0.x address (Linux routes all of 127/8 to the loopback interface), so a client
sees one connection target per site, as on the real web. With `site_address` every mount listens on that one
address instead, a port each: clients that cannot reach this machine's loopback addresses (another network
namespace) reach the sites at an address of an interface they share, which the resolve map then names.
The certificate authority is made at start-up (`trustme`) and lives only in a temporary folder until `stop`.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

App = Callable[["Handler", str, str], None]  # (handler, method, host)
ControlApp = Callable[["Handler", str], None]

FIRST_SITE_ADDRESS = "127.0.0.10"
_HANDSHAKE_TIMEOUT = 30.0


class Handler(BaseHTTPRequestHandler):
    """One request: `reply`, `json`, `stream` and `truncate` write the response; the server's app decides it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would add ~40 ms each
    server_version = "SampleSite/1.0"
    sys_version = ""

    # Set per response by reply(): a header to send instead of the default Server header.
    _server_header: str | None = None

    def version_string(self) -> str:
        return self._server_header or self.server_version

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass  # the request log is /_admin/requests; stderr stays quiet during tests

    def do_GET(self) -> None:
        self.server.app(self, "GET")  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self.server.app(self, "HEAD")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.app(self, "POST")  # type: ignore[attr-defined]

    # --- writing -----------------------------------------------------------------------------------

    status_sent: int = 0

    def reply(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None, declared_length: int | None = None) -> None:
        headers = dict(headers or {})
        self._server_header = headers.pop("Server", None) or headers.pop("server", None)
        self.send_response(status)
        self._server_header = None
        lower = {k.lower() for k in headers}
        if "content-type" not in lower:
            self.send_header("Content-Type", content_type)
        for k, v in headers.items():
            self.send_header(k, v)
        if status not in (204, 304) or body:
            self.send_header("Content-Length", str(len(body) if declared_length is None else declared_length))
        self.end_headers()
        self.status_sent = status
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def json(self, status: int, data) -> None:
        self.reply(status, json.dumps(data, ensure_ascii=False).encode(), "application/json")

    def stream(self, status: int, head: bytes, total: int, content_type: str = "text/html; charset=utf-8") -> None:
        """`head` then filler up to `total` bytes, chunked, with no Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.status_sent = status
        if self.command == "HEAD":
            return
        filler = (b"<!-- " + b"x" * 1014 + b" -->\n") * 64  # 64 KiB
        sent = 0

        def chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        if head:
            chunk(head)
            sent += len(head)
        while sent < total:
            piece = filler[: min(len(filler), total - sent)]
            chunk(piece)
            sent += len(piece)
        self.wfile.write(b"0\r\n\r\n")

    def truncate(self, status: int, body: bytes, declared: int, content_type: str) -> None:
        """Declare `declared` bytes, send `body`, then close: a body cut off mid-transfer."""
        self.reply(status, b"", content_type, declared_length=declared)
        if self.command != "HEAD":
            self.wfile.write(body)
            self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    """One listening socket; every request goes to `app(handler, method)` in a thread of its own."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address, app: ControlApp, tls: ssl.SSLContext | None = None):
        self.app = app
        super().__init__(address, Handler)
        if tls is not None:
            # The handshake runs in the request's thread (finish_request), never in the accepting one.
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request, client_address) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(_HANDSHAKE_TIMEOUT)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return  # a client that does not trust the CA, or hung up: nothing to answer
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        # Clients that hang up mid-response (body caps, timeouts) are expected; anything else is reported.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def request_host(handler: Handler) -> str:
    """The Host header's name (no port, lower case, no trailing dot)."""
    value = (handler.headers.get("Host") or "").strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rsplit(":", 1)[0].rstrip(".") if value.count(":") == 1 else value.rstrip(".")


class Front:
    """The control origin plus one HTTPS server per mounted site (see the module docstring)."""

    def __init__(self, control: ControlApp, *, host: str = "127.0.0.1", port: int = 0, extra_control_ports: int = 0,
                 first_site_address: str = FIRST_SITE_ADDRESS, site_address: str | None = None, site_port: int = 0,
                 tls: bool = True):
        if site_address is not None and site_port:
            raise ValueError("site_address puts every site on one address: each needs its own port (site_port 0)")
        self._control = control
        self.tls = tls  # False: the sites answer plain HTTP (benchmarks measure what TLS costs)
        self.host = host
        self._port = port
        self._extra_control = extra_control_ports  # more plain-HTTP origins (the HTTP client's tests: several hosts)
        self._site_port = site_port
        self._next_address = ipaddress.ip_address(first_site_address)
        self._site_address = site_address  # every mount on this address (a port each) instead of one each
        self._mounts: list[tuple[str, list[str], App]] = []  # (address, host names, app)
        self._by_host: dict[str, tuple[int, App]] = {}  # host name -> (its mount's index, app)
        self._servers: list[Server] = []
        self._site_servers: dict[int, Server] = {}  # mount index -> server
        self._threads: list[threading.Thread] = []
        self._dir: Path | None = None
        self.ca_file: str | None = None

    def mount(self, hostnames: Iterable[str], app: App) -> str:
        """Answer for `hostnames` with `app` on a loopback address of their own (returned). Before `start`."""
        if self._servers:
            raise RuntimeError("mount before start")
        names = [h.lower().rstrip(".") for h in hostnames]
        for name in names:
            if name in self._by_host:
                raise ValueError(f"host {name} is mounted twice")
        if self._site_address is not None:
            address = self._site_address
        else:
            address = str(self._next_address)
            self._next_address += 1
        for name in names:
            self._by_host[name] = (len(self._mounts), app)
        self._mounts.append((address, names, app))
        return address

    @property
    def hostnames(self) -> list[str]:
        return list(self._by_host)

    def start(self) -> "Front":
        if self._servers:
            return self
        tls = self._make_ca() if self._mounts and self.tls else None
        try:
            self._servers.append(Server((self.host, self._port), self._control))
            for _ in range(self._extra_control):
                self._servers.append(Server((self.host, 0), self._control))
            for index, (address, _names, _app) in enumerate(self._mounts):
                server = Server((address, self._site_port), self._dispatcher(index), tls)
                self._servers.append(server)
                self._site_servers[index] = server
        except OSError:
            self.stop()
            raise
        for s in self._servers:
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"sample-site:{s.server_address[0]}:{s.server_port}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _make_ca(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA(organization_name="vehicle-pipeline sample site (throwaway)")
        cert = ca.issue_cert(*self._by_host)
        self._dir = Path(tempfile.mkdtemp(prefix="sample-site-ca-"))
        self.ca_file = str(self._dir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def _dispatcher(self, index: int) -> ControlApp:
        def dispatch(handler: Handler, method: str) -> None:
            host = request_host(handler)
            mounted = self._by_host.get(host)
            if mounted is None or mounted[0] != index:
                body = f"no site {host or '(no Host header)'} at this address\n".encode()
                return handler.reply(421, body)
            return mounted[1](handler, method, host)
        return dispatch

    def stop(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads, self._site_servers = [], [], {}
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self.ca_file = None

    @property
    def started(self) -> bool:
        return bool(self._servers)

    @property
    def control_port(self) -> int:
        if not self._servers:
            raise RuntimeError("the sample site is not started")
        return self._servers[0].server_port

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    @property
    def control_urls(self) -> list[str]:
        """The control origin and the extra plain-HTTP ones."""
        if not self._servers:
            raise RuntimeError("the sample site is not started")
        return [f"http://{self.host}:{s.server_port}" for s in self._servers[: 1 + self._extra_control]]

    @property
    def resolve(self) -> dict[str, str]:
        """Host name -> "address:port" for every mounted name: the client's name-resolution override."""
        out = {}
        for name, (index, _app) in self._by_host.items():
            server = self._site_servers.get(index)
            if server is None:
                raise RuntimeError("the sample site is not started")
            out[name] = f"{self._mounts[index][0]}:{server.server_port}"
        return out


__all__ = ["App", "FIRST_SITE_ADDRESS", "Front", "Handler", "Server", "request_host"]
