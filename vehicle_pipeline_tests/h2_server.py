"""A small HTTPS server that speaks HTTP/2 and HTTP/1.1 (ALPN), for the client's HTTP/2 test and fetch_bench:
hypercorn serving an ASGI app on 127.0.0.1 with a throwaway CA (trustme). `/robots.txt` is 404 (no rules),
`/version` answers the HTTP version the server saw, `/page?kb=N` a page of N KiB."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
from pathlib import Path

import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    if path == "/version":
        status, ctype, body = 200, b"application/json", json.dumps({"http_version": scope["http_version"]}).encode()
    elif path == "/page":
        kb = int(dict(p.split(b"=") for p in scope["query_string"].split(b"&") if b"=" in p).get(b"kb", b"13"))
        status, ctype = 200, b"text/html; charset=utf-8"
        body = b"<!DOCTYPE html><html><body>" + b"<p>listing text</p>" * (kb * 1024 // 18) + b"</body></html>"
    else:
        status, ctype, body = 404, b"text/plain", b"not found"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class H2Server:
    """`with H2Server() as s:` s.origin is https://127.0.0.1:<port>, s.ca_file the CA to trust."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        d = Path(self._dir.name)
        self.ca_file = str(d / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        cert.private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
        # A socket bound here (port chosen by the kernel) and handed to hypercorn by its descriptor.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._config = Config()
        self._config.bind = [f"fd://{self._sock.fileno()}"]
        self._config.certfile = self._config.keyfile = str(d / "server.pem")
        self._config.alpn_protocols = ["h2", "http/1.1"]
        self._config.accesslog = self._config.errorlog = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.origin = ""

    def __enter__(self) -> "H2Server":
        ready = threading.Event()

        async def main():
            self._stop = asyncio.Event()
            task = asyncio.ensure_future(serve(app, self._config, shutdown_trigger=self._stop.wait))
            ready.set()
            await task

        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(main(),), daemon=True)
        self._thread.start()
        ready.wait(30)
        self.origin = f"https://127.0.0.1:{self._sock.getsockname()[1]}"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        try:
            self._sock.close()
        except OSError:  # hypercorn closed the descriptor it was given
            pass
        self._dir.cleanup()
