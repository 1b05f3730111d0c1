"""The sample site: a real HTTP server on 127.0.0.1 serving every source's pages, its truth and faults.

    with SampleSite(seed=7, listings=60, extra_ports=3) as site:
        site.base_url                  # "http://127.0.0.1:PORT"
        site.base_urls                 # one per listening port, all serving the same content
        site.source_base_urls()        # {"bat": ".../bat", ..., "dealer:<slug>": ".../dealer/<slug>"}

Routes (see README of the issue for the contract other code relies on):
    /<source>/...                  pages from `pages.<source>` (501 while a renderer does not exist)
    GET  /_truth                   what every page should parse into, at the current clock
    GET|POST /_admin/clock         ?advance=SECONDS | ?set=EPOCH
    GET|POST /_admin/faults        POST body = fault spec (see faults.py); empty body clears
    GET  /_admin/requests          [{port, method, path, status, started, finished}] (monotonic seconds)
    POST /_admin/requests/clear
    /robots.txt, /_private/..., /_img/..., /_fault/... (explicit fault endpoints for the HTTP client's tests)

Threads: one ThreadingHTTPServer per port (daemon request threads, HTTP/1.1 keep-alive). Shared state
(clock, faults, counters, request log) is guarded by one lock; rendering happens outside it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import signal
import socket
import sys
import threading
import time
import traceback
from collections import deque
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from urllib.parse import parse_qsl, urlencode, urlsplit

from vehicle_pipeline.sample_site import pages
from vehicle_pipeline.sample_site.faults import VENDORS, Fault, FaultPlan, FaultSpecError, challenge_page
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sample_site.world import DEALERS, SOURCES as WORLD_SOURCES, World, build_world

SITE_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")

ROBOTS_TXT = b"""User-agent: *
Disallow: /_private/
Disallow: /bat/account/
Disallow: /_fault/disallowed/
"""

# The decoded body of /_fault/gzip and /_fault/brotli.
COMPRESSED_BODY = (
    b"<!DOCTYPE html><html><head><title>compressed</title></head><body>\n"
    + b"".join(b"<p>compressed sample-site body line %d</p>\n" % i for i in range(400))
    + b"</body></html>\n"
)
# A 1x1 JPEG for /_img/...: image downloads get real bytes without a real image host.
_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20"
    "242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f0000010501010101010100000000"
    "000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a108"
    "2342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a7374"
    "75767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9da"
    "e1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)
_MAX_INDEX_PAGES = 1000  # per entry point, when /_truth walks paginated indexes


class _Snapshot:
    """The listing states at one clock, computed once and shared by every request at that clock."""

    def __init__(self, world: World, clock: int):
        self.clock = clock
        self.all = world.snapshot(clock)
        self.by_source: dict[str, list[SampleListing]] = {s: [] for s in WORLD_SOURCES}
        for listing in self.all:
            self.by_source.setdefault(listing.source, []).append(listing)
        self._paths: dict[str, dict[str, SampleListing]] = {}
        self._lock = threading.Lock()

    def index_listings(self, source: str) -> list[SampleListing]:
        return self.all if source == "classic" else self.by_source.get(source, [])

    def path_map(self, source: str, module: ModuleType) -> dict[str, SampleListing]:
        with self._lock:
            found = self._paths.get(source)
            if found is None:
                found = {}
                for listing in self.by_source.get(source, []):
                    found[module.listing_path(listing)] = listing
                self._paths[source] = found
            return found


def _lookup(paths: dict[str, SampleListing], path: str) -> SampleListing | None:
    hit = paths.get(path)
    if hit is None:
        hit = paths.get(path[:-1] if path.endswith("/") else path + "/")
    return hit


def _corrupt(body: bytes, content_type: str) -> bytes:
    """A markup change for renderers that ignore ctx.markup_variant: the page keeps its text but loses the
    scripts, ids, classes and data attributes parsers key on (JSON gets wrapped under a new key)."""
    if "json" in content_type:
        return b'{"v3":' + body + b"}"
    import re

    text = body.decode("utf-8", "replace")
    text = re.sub(r"(?is)<script\b.*?</script\s*>", "", text)
    text = re.sub(r'(?i)\b(class|id)\s*=\s*"', r'\1="v3-', text)
    text = re.sub(r"(?i)\b(class|id)\s*=\s*'", r"\1='v3-", text)
    text = re.sub(r"(?i)\bdata-", "data-v3-", text)
    return text.encode("utf-8")


def _html(title: str, text: str) -> bytes:
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>".encode()


class _Handler(BaseHTTPRequestHandler):
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
        self.server.site._handle(self, "GET")  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self.server.site._handle(self, "HEAD")  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.site._handle(self, "POST")  # type: ignore[attr-defined]

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address, site: "SampleSite"):
        self.site = site
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        # Clients that hang up mid-response (body caps, timeouts) are expected; anything else is reported.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SampleSite:
    """The sample site on 127.0.0.1 (one or more ports), deterministic for a seed."""

    def __init__(self, seed: int = 7, listings: int = 60, clock: int | None = None, faults: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, extra_ports: int = 0, world: World | None = None,
                 cache_pages: bool = False):
        self.seed = seed
        # With `cache_pages`, a page is rendered once per clock and served again as it is, as a real site's
        # CDN would: a benchmark then measures the pipeline, not this stand-in's rendering on the same cores.
        self._page_cache: dict[tuple, Rendered | None] | None = {} if cache_pages else None
        self.world = world if world is not None else build_world(seed, listings, clock)
        self.host = host
        self._port = port
        self._extra_ports = extra_ports
        self._lock = threading.Lock()
        self._clock = self.world.clock
        self._plan = FaultPlan.from_spec(faults, seed)  # raises FaultSpecError before anything starts
        self._snapshot: _Snapshot | None = None
        self._flaky: dict[str, int] = {}
        self._log: deque[dict] = deque(maxlen=500_000)
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "SampleSite":
        if self._servers:
            return self
        try:
            self._servers.append(_Server((self.host, self._port), self))
            for _ in range(self._extra_ports):
                self._servers.append(_Server((self.host, 0), self))
        except OSError:
            for s in self._servers:
                s.server_close()
            self._servers = []
            raise
        for s in self._servers:
            t = threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"sample-site:{s.server_port}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> "SampleSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def ports(self) -> list[int]:
        if not self._servers:
            raise RuntimeError("the sample site is not started")
        return [s.server_port for s in self._servers]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.ports[0]}"

    @property
    def base_urls(self) -> list[str]:
        return [f"http://{self.host}:{p}" for p in self.ports]

    def source_base_urls(self, base_url: str | None = None, spread: bool = False) -> dict[str, str]:
        """Source name -> base URL. spread=True puts sources on different ports (round robin over base_urls)
        so per-host pacing applies per source."""
        names = [s for s in SITE_SOURCES if s != "dealer"] + [f"dealer:{d.slug}" for d in DEALERS]
        out = {}
        for i, name in enumerate(names):
            base = self.base_urls[i % len(self.base_urls)] if spread else (base_url or self.base_url)
            out[name] = f"{base}/dealer/{name.split(':', 1)[1]}" if name.startswith("dealer:") else f"{base}/{name}"
        return out

    # --- clock and faults ------------------------------------------------------------------------

    @property
    def clock(self) -> int:
        with self._lock:
            return self._clock

    def set_clock(self, epoch: int) -> int:
        with self._lock:
            self._clock = int(epoch)
            return self._clock

    def advance(self, seconds: int) -> int:
        with self._lock:
            self._clock += int(seconds)
            return self._clock

    def set_faults(self, spec: str | None) -> None:
        """Replace the active faults (attempt counters start over). Raises FaultSpecError."""
        plan = FaultPlan.from_spec(spec, self.seed)
        with self._lock:
            self._plan = plan

    @property
    def fault_spec(self) -> str:
        with self._lock:
            return self._plan.spec

    def requests(self) -> list[dict]:
        """The request log. A request is logged when it arrives; one still being answered (its client may
        already hold the last byte) is given a moment to be stamped finished."""
        deadline = time.monotonic() + 1.0
        while True:
            with self._lock:
                rows = [dict(r) for r in self._log]
            if all(r["finished"] is not None for r in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.005)

    def clear_requests(self) -> int:
        with self._lock:
            n = len(self._log)
            self._log.clear()
            return n

    def snapshot(self, clock: int | None = None) -> _Snapshot:
        now = self.clock if clock is None else clock
        snap = self._snapshot
        if snap is None or snap.clock != now:
            snap = _Snapshot(self.world, now)
            self._snapshot = snap
        return snap

    def context(self, base_url: str | None = None, clock: int | None = None,
                markup_variant: dict[str, str] | None = None) -> SiteContext:
        return SiteContext(base_url=base_url or self.base_url, now=self.clock if clock is None else clock,
                           markup_variant=dict(markup_variant or {}))

    # --- truth ---------------------------------------------------------------------------------

    def truth(self, base_url: str | None = None) -> dict:
        """What every page of the site must parse into at the current clock (the body of GET /_truth)."""
        clock = self.clock
        base = base_url or self.base_url
        ctx = self.context(base, clock)
        snap = self.snapshot(clock)
        listings: list[dict] = []
        entry_points: dict[str, list[str]] = {}
        indexes: list[dict] = []
        missing: dict[str, str] = {}
        url_of: dict[tuple[str, str], str] = {}
        sellers: list[dict] | None = None
        for source in SITE_SOURCES:
            try:
                mod = pages.load(source)
            except pages.RendererMissing as exc:
                missing[source] = str(exc)
                continue
            for state in snap.by_source.get(source, []) if source != "classic" else []:
                fetch_url = ctx.url(source, mod.listing_path(state))
                entry = dict(mod.listing_truth(state, ctx))
                entry.setdefault("url", fetch_url)
                entry["fetch_url"] = fetch_url
                listings.append(entry)
                url_of[(state.source, state.external_id)] = fetch_url
            index_listings = snap.index_listings(source)
            for path in self._index_paths(mod, index_listings):
                group = source
                if source == "dealer":
                    slug = path.strip("/").split("/", 1)[0]
                    group = f"dealer:{slug}" if any(d.slug == slug for d in DEALERS) else "dealer"
                entry_points.setdefault(group, []).append(ctx.url(source, path))
                indexes.extend(self._walk_index(mod, source, path, index_listings, ctx))
            if source == "classic":
                if hasattr(mod, "sellers_truth"):
                    sellers = list(mod.sellers_truth(index_listings, ctx))
        if sellers is None:
            sellers = [item for page in indexes if page.get("kind") == "sellers" for item in page.get("items", [])]
        duplicates = []
        for group in self.world.duplicates(clock):
            urls = [url_of[(l.source, l.external_id)] for l in group if (l.source, l.external_id) in url_of]
            if len(urls) > 1:
                duplicates.append(urls)
        return {
            "seed": self.seed,
            "clock": clock,
            "base_url": base,
            "sources": self.source_base_urls(base),
            "listings": listings,
            "index_entry_points": entry_points,
            "indexes": indexes,
            "duplicates": duplicates,
            "sellers": sellers,
            "missing_renderers": missing,
            "faults": self.fault_spec,
        }

    @staticmethod
    def _index_paths(mod: ModuleType, listings: list[SampleListing]) -> list[str]:
        import inspect

        fn = mod.index_paths
        try:
            takes_args = len(inspect.signature(fn).parameters) > 0
        except (TypeError, ValueError):
            takes_args = False
        return list(fn(listings) if takes_args else fn())

    @staticmethod
    def _walk_index(mod: ModuleType, source: str, entry: str, listings: list[SampleListing], ctx: SiteContext) -> list[dict]:
        """index_truth of an entry point (a path below the source, maybe with a query) and of every page its
        next_page_url leads to on this site."""
        out = []
        prefix = ctx.source_base(source)
        prefix_path = urlsplit(prefix).path
        url = ctx.url(source, entry)
        seen = set()
        for _ in range(_MAX_INDEX_PAGES):
            parts = urlsplit(url)
            path = parts.path[len(prefix_path):] or "/"
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            truth = mod.index_truth(path, query, listings, ctx)
            if truth is None:
                break
            page = dict(truth)
            page.setdefault("url", url)
            page["fetch_url"] = url
            out.append(page)
            seen.add(url)
            nxt = page.get("next_page_url")
            if not nxt or not nxt.startswith(prefix + "/") or nxt in seen:
                break
            url = nxt
        return out

    # --- request handling -------------------------------------------------------------------------

    def _handle(self, h: _Handler, method: str) -> None:
        started = time.monotonic()
        port = h.server.server_port
        raw_path = h.path
        h.status_sent = 0
        # Logged before answering, so a client that has its answer always finds its request in the log.
        row = None
        if not raw_path.startswith("/_admin/"):
            row = {"port": port, "method": method, "path": raw_path, "status": None, "started": started,
                   "finished": None}
            with self._lock:
                self._log.append(row)
        try:
            self._route(h, method, port)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.close_connection = True
        except Exception as exc:  # a renderer bug must show as a 500 naming it, not a dropped connection
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            try:
                if not h.status_sent:
                    h.reply(500, f"sample site error: {detail}\n".encode())
                else:
                    h.close_connection = True
            except OSError:
                h.close_connection = True
        finally:
            if row is not None:
                row["status"] = h.status_sent
                row["finished"] = time.monotonic()

    def _route(self, h: _Handler, method: str, port: int) -> None:
        path, _, qs = h.path.partition("?")
        query = dict(parse_qsl(qs, keep_blank_values=True))
        body = b""
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length) if length else b""
        base = f"http://{self.host}:{port}"
        if path == "/robots.txt":
            return h.reply(200, ROBOTS_TXT)
        if path == "/_truth":
            return h.json(200, self.truth(base))
        if path.startswith("/_admin/"):
            return self._admin(h, method, path, query, body)
        if path.startswith("/_fault/"):
            return self._fault_endpoint(h, path, query, port)
        if path.startswith("/_private/"):
            return h.reply(200, _html("private", "robots.txt disallows this page"), "text/html; charset=utf-8")
        if path.startswith("/_img/"):
            return h.reply(200, _JPEG, "image/jpeg", {"Cache-Control": "max-age=86400"})
        if path in ("/", ""):
            links = "".join(f'<li><a href="{u}/">{n}</a></li>' for n, u in self.source_base_urls(base).items())
            return h.reply(200, f"<!DOCTYPE html><html><head><title>Sample site</title></head><body><ul>{links}</ul>"
                                f'<p><a href="/_truth">truth</a></p></body></html>'.encode(), "text/html; charset=utf-8")
        segments = path.split("/")
        if len(segments) > 1 and segments[1] in SITE_SOURCES:
            return self._source_page(h, segments[1], path, query, base, port)
        return h.reply(404, _html("Not Found", "no such page"), "text/html; charset=utf-8")

    def _admin(self, h: _Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None:
        if path == "/_admin/clock":
            if method == "POST":
                try:
                    if "advance" in query:
                        self.advance(int(query["advance"]))
                    elif "set" in query:
                        self.set_clock(int(query["set"]))
                    else:
                        return h.json(400, {"error": "POST /_admin/clock needs ?advance=SECONDS or ?set=EPOCH"})
                except ValueError:
                    return h.json(400, {"error": "advance/set must be integers (seconds)"})
            clock = self.clock
            return h.json(200, {"clock": clock, "iso": formatdate(clock, usegmt=True)})
        if path == "/_admin/faults":
            if method == "POST":
                try:
                    self.set_faults(body.decode("utf-8"))
                except (FaultSpecError, UnicodeDecodeError) as exc:
                    return h.json(400, {"error": str(exc)})
            with self._lock:
                plan = self._plan
            return h.json(200, {"spec": plan.spec, "faults": [f.raw for f in plan.faults]})
        if path == "/_admin/requests" and method != "POST":
            return h.json(200, self.requests())
        if path == "/_admin/requests/clear" and method == "POST":
            return h.json(200, {"cleared": self.clear_requests()})
        return h.json(404, {"error": f"no admin endpoint {method} {path}"})

    # --- source pages --------------------------------------------------------------------------

    def _source_page(self, h: _Handler, source: str, path: str, query: dict[str, str], base: str, port: int) -> None:
        rest = path[len(source) + 1:] or "/"
        dealer = rest.strip("/").split("/", 1)[0] if source == "dealer" else None
        try:
            mod = pages.load(source)
        except pages.RendererMissing as exc:
            return h.reply(501, f"{exc}; the {source} renderer is not written yet\n".encode())
        with self._lock:
            plan, clock = self._plan, self._clock
        loop = query.pop("_loop", None)
        if loop is not None and plan.has("redirect_loop", source, dealer):
            n = int(loop) + 1 if loop.isdigit() else 1
            return h.reply(302, b"", headers={"Location": f"{base}{path}?{urlencode({**query, '_loop': n})}"})
        snap = self.snapshot(clock)
        state = _lookup(snap.path_map(source, mod), rest)
        page = "listing" if state is not None else "index"
        key = path + ("?" + urlencode(sorted(query.items())) if query else "")
        with self._lock:
            fault, _attempt = self._plan.decide(source, dealer, page, key) if self._plan is plan else (None, 0)
        if fault is not None and fault.kind not in ("slow", "truncate", "oversize"):
            return self._apply_fault(h, fault, path, query, port)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        mode = plan.markup_mode(source, dealer)
        variant = {source: "changed"} if mode == "legacy" else {}
        cache_key = (base, clock, mode, key)
        rendered = self._page_cache.get(cache_key) if self._page_cache is not None else None
        if rendered is None:
            rendered = self._render(mod, source, rest, query, state, snap, self.context(base, clock, variant))
            if self._page_cache is not None:
                self._page_cache[cache_key] = rendered
        if rendered is None:
            return h.reply(404, _html("Not Found", f"no {source} page at {rest}"), "text/html; charset=utf-8")
        body = rendered.body
        if mode == "broken":
            body = _corrupt(body, rendered.content_type)
        elif mode == "legacy":
            plain = self._render(mod, source, rest, query, state, snap, self.context(base, clock))
            if plain is not None and plain.body == body:  # the renderer knows no older layout
                body = _corrupt(body, rendered.content_type)
        if fault is not None and fault.kind == "truncate":
            return h.truncate(rendered.status, body[: max(1, len(body) // 2)], len(body), rendered.content_type)
        if fault is not None and fault.kind == "oversize":
            return h.stream(rendered.status, body, int(fault.mb * 1024 * 1024), rendered.content_type)
        return h.reply(rendered.status, body, rendered.content_type, rendered.headers)

    @staticmethod
    def _render(mod: ModuleType, source: str, rest: str, query: dict[str, str], state: SampleListing | None,
                snap: _Snapshot, ctx: SiteContext) -> Rendered | None:
        if state is not None:
            return mod.render_listing(state, ctx)
        listings = snap.index_listings(source)
        rendered = mod.render_index(rest, query, listings, ctx)
        if rendered is None and hasattr(mod, "render_path"):
            rendered = mod.render_path(rest, query, listings, ctx)
        return rendered

    def _apply_fault(self, h: _Handler, fault: Fault, path: str, query: dict[str, str], port: int) -> None:
        if fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return h.reply(fault.code or 503, _html(f"Error {fault.code}", "injected fault"), "text/html; charset=utf-8", headers)
        if fault.kind == "gone":
            title = "Gone" if fault.code == 410 else "Not Found"
            return h.reply(fault.code or 404, _html(title, "this listing has been removed"), "text/html; charset=utf-8")
        if fault.kind == "challenge":
            status, headers, body = challenge_page(fault.vendor, self.host)
            return h.reply(status, body, headers=headers)
        if fault.kind == "redirect_loop":
            return h.reply(302, b"", headers={"Location": f"http://{self.host}:{port}{path}?{urlencode({**query, '_loop': 1})}"})
        if fault.kind == "redirect_private":
            qs = ("?" + urlencode(query)) if query else ""
            return h.reply(302, b"", headers={"Location": f"http://127.0.0.2:{port}{path}{qs}"})
        raise AssertionError(f"unhandled fault kind {fault.kind}")

    # --- explicit fault endpoints ------------------------------------------------------------------

    def _fault_endpoint(self, h: _Handler, path: str, query: dict[str, str], port: int) -> None:
        parts = path.split("/")[2:]  # after "/_fault/"
        name = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else ""
        base = f"http://{self.host}:{port}"

        def retry_headers() -> dict[str, str]:
            if "retry_after" in query:
                return {"Retry-After": query["retry_after"]}
            if "retry_after_date" in query:  # the HTTP-date form, relative to wall time as clients read it
                return {"Retry-After": formatdate(time.time() + float(query["retry_after_date"]), usegmt=True)}
            return {}

        if name == "status" and arg.isdigit() and 100 <= int(arg) <= 599:
            code = int(arg)
            body = b"" if code in (204, 304) else (b"ok" if code == 200 else _html(f"Status {code}", "fault endpoint"))
            return h.reply(code, body, "text/html; charset=utf-8", retry_headers())
        if name == "flaky" and arg:
            fail = int(query.get("fail", "1"))
            code = int(query.get("code", "503"))
            with self._lock:
                n = self._flaky.get(arg, 0) + 1
                self._flaky[arg] = n
            if n <= fail:
                return h.reply(code, _html(f"Status {code}", f"flaky failure {n} of {fail}"), "text/html; charset=utf-8",
                               retry_headers())
            return h.reply(200, b"ok")
        if name == "slow":
            time.sleep(min(600.0, float(query.get("seconds", "1"))))
            return h.reply(200, b"ok")
        if name == "big":
            mb = float(query.get("mb", "12"))
            return h.stream(200, b"<!DOCTYPE html><html><head><title>big</title></head><body>\n", int(mb * 1024 * 1024))
        if name == "truncated":
            head = b"<!DOCTYPE html><html><head><title>truncated</title></head><body>"
            return h.truncate(200, (head + b"x" * 1000)[:1000], 100_000, "text/html; charset=utf-8")
        if name == "challenge" and arg in VENDORS:
            status, headers, body = challenge_page(arg, self.host)
            if "status" in query:
                status = int(query["status"])
            return h.reply(status, body, headers=headers)
        if name == "redirect_loop" and arg.isdigit():
            return h.reply(302, b"", headers={"Location": f"{base}/_fault/redirect_loop/{int(arg) + 1}"})
        if name == "redirect_private":
            return h.reply(302, b"", headers={"Location": f"http://127.0.0.2:{port}/_fault/status/200"})
        if name == "redirect" and arg.isdigit():
            n = int(arg)
            if n <= 0:
                return h.reply(200, b"ok")
            return h.reply(302, b"", headers={"Location": f"{base}/_fault/redirect/{n - 1}"})
        if name == "etag" and arg:
            tag = '"' + hashlib.sha1(f"{arg}:{query.get('v', '')}".encode()).hexdigest()[:16] + '"'
            modified = (self.clock // 86400) * 86400 - 86400
            last_modified = formatdate(modified, usegmt=True)
            headers = {"ETag": tag, "Last-Modified": last_modified, "Cache-Control": "no-cache"}
            inm = h.headers.get("If-None-Match")
            ims = h.headers.get("If-Modified-Since")
            fresh = False
            if inm is not None:
                fresh = inm.strip() == "*" or tag in [t.strip().removeprefix("W/") for t in inm.split(",")]
            elif ims:
                try:
                    fresh = parsedate_to_datetime(ims).timestamp() >= modified
                except (TypeError, ValueError):
                    fresh = False
            if fresh:
                return h.reply(304, b"", headers=headers)
            return h.reply(200, _html(f"etag {arg}", f"version {query.get('v', '')}"), "text/html; charset=utf-8", headers)
        if name == "gone" and arg in ("404", "410"):
            return h.reply(int(arg), _html("Gone" if arg == "410" else "Not Found", "removed"), "text/html; charset=utf-8")
        if name == "gzip":
            return h.reply(200, gzip.compress(COMPRESSED_BODY, mtime=0), "text/html; charset=utf-8",
                           {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        if name == "brotli":
            import brotli

            return h.reply(200, brotli.compress(COMPRESSED_BODY), "text/html; charset=utf-8",
                           {"Content-Encoding": "br", "Vary": "Accept-Encoding"})
        if name == "disallowed":
            return h.reply(200, _html("disallowed", "robots.txt disallows this page"), "text/html; charset=utf-8")
        return h.reply(404, _html("Not Found", f"no fault endpoint {path}"), "text/html; charset=utf-8")


def serve_forever(port: int = 8765, listings: int = 60, seed: int = 7, faults: str | None = None,
                  clock: int | None = None, host: str = "127.0.0.1", extra_ports: int = 0, out=None,
                  cache_pages: bool = False) -> None:
    """Run the site until SIGINT/SIGTERM. The first line on stdout is the base URL (so `--port 0` callers
    can read the bound port); then one `name url` line per source."""
    out = out or sys.stdout
    site = SampleSite(seed=seed, listings=listings, clock=clock, faults=faults, host=host, port=port,
                      extra_ports=extra_ports, cache_pages=cache_pages)
    stop = threading.Event()
    # Set explicitly: a shell may have started us with these signals ignored.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    site.start()
    try:
        lines = [site.base_url] + [f"also {extra}" for extra in site.base_urls[1:]]
        lines += [f"{name} {url}" for name, url in site.source_base_urls().items()]
        lines.append(f"truth {site.base_url}/_truth")
        try:
            out.write("\n".join(lines) + "\n")
            out.flush()
        except (BrokenPipeError, ValueError):
            pass  # a caller that read the URL and closed the pipe still wants the site running
        while not stop.wait(0.5):
            pass
    finally:
        site.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["COMPRESSED_BODY", "ROBOTS_TXT", "SITE_SOURCES", "SampleSite", "serve_forever"]
