"""The sample site: every source's pages at the real sites' host names over HTTPS, its truth and faults.

    with SampleSite(seed=7, listings=60) as site:   # dealers=N, mix="even": see world.build_world
        site.base_url              # "http://127.0.0.1:PORT": the control origin (truth, clock, faults, log)
        site.resolve               # {"bringatrailer.com": "127.0.0.10:PORT", ...}: one loopback address per site
        site.ca_file               # the throwaway CA that signed the sites' certificate
        site.client_settings()     # IngestSettings fields that point a client at the stand-in
        site.source_base_urls()    # {"bat": "https://bringatrailer.com", ..., "dealer:<slug>": "https://www.<slug>.example"}

Site hosts (see sites.py for the names; front.py for addresses, TLS and routing by Host):
    /...                           pages from `pages.<source>` (501 while a renderer does not exist)
    /robots.txt, /_img/..., /_private/...
Control origin (plain HTTP on `host:port`):
    GET  /_truth                   what every page should parse into, at the current clock
    GET|POST /_admin/clock         ?advance=SECONDS | ?set=EPOCH
    GET|POST /_admin/faults        POST body = fault spec (see faults.py); empty body clears
    GET  /_admin/requests          [{host, port, method, path, status, started, finished}] (monotonic seconds)
    POST /_admin/requests/clear
    /robots.txt, /_private/..., /_img/..., /_fault/... (explicit fault endpoints for the HTTP client's tests)

Threads: one ThreadingHTTPServer per address (daemon request threads, HTTP/1.1 keep-alive). Shared state
(clock, faults, counters, request log) is guarded by one lock; rendering happens outside it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import signal
import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from email.utils import formatdate, parsedate_to_datetime
from types import ModuleType
from urllib.parse import parse_qsl, urlencode, urlsplit

from vehicle_pipeline.sample_site import pages
from vehicle_pipeline.sample_site.faults import VENDORS, Fault, FaultPlan, FaultSpecError, challenge_page
from vehicle_pipeline.sample_site.front import Front, Handler
from vehicle_pipeline.sample_site.sites import SCHEME, SITES
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sample_site.world import SOURCES as WORLD_SOURCES, World, build_world

SITE_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")

# The control origin's robots.txt (the HTTP client's tests fetch its /_fault/ endpoints), and every site's.
ROBOTS_TXT = b"""User-agent: *
Disallow: /_private/
Disallow: /_fault/disallowed/
"""
SITE_ROBOTS_TXT = b"""User-agent: *
Disallow: /_private/
Disallow: /account/
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


class SampleSite:
    """The stand-in for every site, deterministic for a seed: each site at its real host names over HTTPS on a
    loopback address of its own (see front.py), and a plain-HTTP control origin on `host:port` for the truth,
    the clock, faults and the request log."""

    def __init__(self, seed: int = 7, listings: int = 60, clock: int | None = None, faults: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, world: World | None = None, cache_pages: bool = False,
                 site_port: int = 0, extra_ports: int = 0, tls: bool = True, site_address: str | None = None,
                 dealers: int = 4, mix: str = "real"):
        self.seed = seed
        # With `cache_pages`, a page is rendered once per clock and served again as it is, as a real site's
        # CDN would: a benchmark then measures the pipeline, not this stand-in's rendering on the same cores.
        self._page_cache: dict[tuple, Rendered | None] | None = {} if cache_pages else None
        # `dealers` and `mix` shape the world (see build_world): more dealer hosts, listings even over hosts.
        self.world = world if world is not None else build_world(seed, listings, clock, dealers=dealers, mix=mix)
        self.host = host
        self.sites = SITES
        self._lock = threading.Lock()
        self._clock = self.world.clock
        self._plan = FaultPlan.from_spec(faults, seed)  # raises FaultSpecError before anything starts
        self._snapshot: _Snapshot | None = None
        self._flaky: dict[str, int] = {}
        self._log: deque[dict] = deque(maxlen=500_000)
        # `site_address`: every site on that one address (a port each) rather than a loopback address each.
        self.front = Front(self._handle_control, host=host, port=port, site_port=site_port,
                           extra_control_ports=extra_ports, tls=tls, site_address=site_address)
        # The seam: which app answers each host. Here every host is this stand-in's; a replay mounts its own.
        by_site = self.sites.hosts([m.code for m in self.world.metros], [d.slug for d in self.world.dealers])
        for _site, names in by_site.items():
            self.front.mount(names, self._handle_site)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "SampleSite":
        self.front.start()
        return self

    def stop(self) -> None:
        self.front.stop()

    def __enter__(self) -> "SampleSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The control origin's port."""
        return self.front.control_port

    @property
    def base_url(self) -> str:
        """The control origin (plain HTTP): /_truth, /_admin/..., /_fault/..."""
        return self.front.control_url

    @property
    def base_urls(self) -> list[str]:
        """The control origin and `extra_ports` more plain-HTTP origins answering the same (the HTTP client's
        tests use them as several hosts for /_fault/...)."""
        return self.front.control_urls

    @property
    def ports(self) -> list[int]:
        return [int(u.rsplit(":", 1)[1]) for u in self.base_urls]

    @property
    def resolve(self) -> dict[str, str]:
        """Host name -> "address:port" of every site host: the client's name-resolution override."""
        return self.front.resolve

    @property
    def ca_file(self) -> str:
        """PEM file of the throwaway certificate authority (exists while the site runs)."""
        if self.front.ca_file is None:
            raise RuntimeError("the sample site is not started")
        return self.front.ca_file

    def client_settings(self) -> dict:
        """What a client needs to reach this stand-in at the real host names, as IngestSettings fields: the
        name-resolution override, the extra CA, and the loopback exception for exactly these hosts."""
        resolve = self.resolve
        ca = self.ca_file if self.front.tls else None
        return {"resolve": resolve, "extra_ca_file": ca, "allow_private_hosts": tuple(resolve)}

    def write_client_config(self, path: str | None = None) -> str:
        """Write `client_settings()` (and the control origin) as JSON, by default beside the CA (removed with
        it when the site stops); returns the path. `demo`/`dev --sample-site PATH` read this file."""
        target = path or str(Path(self.ca_file).with_name("client.json"))
        body = {**self.client_settings(), "control_url": self.base_url}
        body["allow_private_hosts"] = list(body["allow_private_hosts"])
        Path(target).write_text(json.dumps(body, indent=2) + "\n")
        return target

    def source_base_urls(self) -> dict[str, str]:
        """Source name -> its site root at the real host name (Craigslist per metro, dealers each their own)."""
        out = {s: self.sites.origin(s) for s in SITE_SOURCES if s not in ("dealer", "craigslist")}
        out["craigslist"] = self.sites.origin("craigslist")
        out.update({f"craigslist:{m.code}": self.sites.origin("craigslist", m.code) for m in self.world.metros})
        out.update({f"dealer:{d.slug}": self.sites.origin("dealer", d.slug) for d in self.world.dealers})
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

    def context(self, source: str, key: str | None = None, clock: int | None = None,
                markup_variant: dict[str, str] | None = None) -> SiteContext:
        """The renderers' context for a page of `source` (`key`: the dealer's slug, for its own image host)."""
        return SiteContext(base_url=self.sites.asset_origin(source, key), now=self.clock if clock is None else clock,
                           markup_variant=dict(markup_variant or {}), sites=self.sites, dealers=self.world.dealers)

    # --- truth ---------------------------------------------------------------------------------

    def truth(self) -> dict:
        """What every page of the site must parse into at the current clock (the body of GET /_truth)."""
        clock = self.clock
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
                ctx = self.context(source, state.dealer if source == "dealer" else None, clock)
                fetch_url = ctx.url(source, mod.listing_path(state))
                entry = dict(mod.listing_truth(state, ctx))
                entry.setdefault("url", fetch_url)
                entry["fetch_url"] = fetch_url
                listings.append(entry)
                url_of[(state.source, state.external_id)] = fetch_url
            index_listings = snap.index_listings(source)
            ctx = self.context(source, None, clock) if source != "dealer" else None
            for path in self._index_paths(mod, index_listings, self.world.dealers):
                group = source
                if source == "dealer":
                    slug = path.strip("/").split("/", 1)[0]
                    group = f"dealer:{slug}" if any(d.slug == slug for d in self.world.dealers) else "dealer"
                    ctx = self.context(source, slug, clock)
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
            "base_url": self.base_url,
            "sources": self.source_base_urls(),
            "resolve": self.resolve,
            "listings": listings,
            "index_entry_points": entry_points,
            "indexes": indexes,
            "duplicates": duplicates,
            "sellers": sellers,
            "missing_renderers": missing,
            "faults": self.fault_spec,
        }

    @staticmethod
    def _index_paths(mod: ModuleType, listings: list[SampleListing], dealers) -> list[str]:
        import inspect

        fn = mod.index_paths
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "dealers" in params:  # the dealer renderer: every dealer's inventory while none has visible stock
            return list(fn(listings, dealers=dealers))
        return list(fn(listings) if params else fn())

    @staticmethod
    def _walk_index(mod: ModuleType, source: str, entry: str, listings: list[SampleListing], ctx: SiteContext) -> list[dict]:
        """index_truth of an entry point (a path below the source, maybe with a query) and of every page its
        next_page_url leads to on this site."""
        out = []
        url = ctx.url(source, entry)
        seen = set()
        for _ in range(_MAX_INDEX_PAGES):
            found = ctx.sites.renderer_path(url)
            if found is None or found[0] != source:
                break  # a next page on another site: not this stand-in's
            path, _, qs = found[1].partition("?")
            query = dict(parse_qsl(qs, keep_blank_values=True))
            truth = mod.index_truth(path, query, listings, ctx)
            if truth is None:
                break
            page = dict(truth)
            page.setdefault("url", url)
            page["fetch_url"] = url
            out.append(page)
            seen.add(url)
            nxt = page.get("next_page_url")
            if not nxt or nxt in seen:
                break
            url = nxt
        return out

    # --- request handling -------------------------------------------------------------------------

    def _handle_control(self, h: Handler, method: str) -> None:
        self._serve(h, method, None, self._route_control)

    def _handle_site(self, h: Handler, method: str, host: str) -> None:
        self._serve(h, method, host, self._route_site)

    def _serve(self, h: Handler, method: str, host: str | None, route) -> None:
        started = time.monotonic()
        port = h.server.server_port
        raw_path = h.path
        h.status_sent = 0
        # Logged before answering, so a client that has its answer always finds its request in the log.
        row = None
        if not raw_path.startswith("/_admin/"):
            row = {"host": host, "port": port, "method": method, "path": raw_path, "status": None,
                   "started": started, "finished": None}
            with self._lock:
                self._log.append(row)
        try:
            route(h, method, host)
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

    def _route_control(self, h: Handler, method: str, _host: None) -> None:
        path, _, qs = h.path.partition("?")
        query = dict(parse_qsl(qs, keep_blank_values=True))
        body = b""
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length) if length else b""
        if path == "/robots.txt":
            return h.reply(200, ROBOTS_TXT)
        if path == "/_truth":
            return h.json(200, self.truth())
        if path.startswith("/_admin/"):
            return self._admin(h, method, path, query, body)
        if path.startswith("/_fault/"):
            return self._fault_endpoint(h, path, query, h.server.server_port)
        if path.startswith("/_private/"):
            return h.reply(200, _html("private", "robots.txt disallows this page"), "text/html; charset=utf-8")
        if path.startswith("/_img/"):
            return h.reply(200, _JPEG, "image/jpeg", {"Cache-Control": "max-age=86400"})
        if path in ("/", ""):
            links = "".join(f'<li><a href="{u}/">{n}</a></li>' for n, u in self.source_base_urls().items())
            return h.reply(200, f"<!DOCTYPE html><html><head><title>Sample site</title></head><body><ul>{links}</ul>"
                                f'<p><a href="/_truth">truth</a></p></body></html>'.encode(), "text/html; charset=utf-8")
        return h.reply(404, _html("Not Found", "no such page (the sites answer at their own host names)"),
                       "text/html; charset=utf-8")

    def _route_site(self, h: Handler, method: str, host: str) -> None:
        route = self.sites.route(host)
        if route is None:
            return h.reply(421, f"no site {host}\n".encode())
        path, _, qs = h.path.partition("?")
        if route.redirect_to:  # www.bringatrailer.com -> bringatrailer.com, mecum.com -> www.mecum.com, ...
            return h.reply(301, b"", headers={"Location": f"{SCHEME}://{route.redirect_to}{h.path}"})
        query = dict(parse_qsl(qs, keep_blank_values=True))
        if path == "/robots.txt":
            return h.reply(200, SITE_ROBOTS_TXT)
        if path.startswith("/_private/"):
            return h.reply(200, _html("private", "robots.txt disallows this page"), "text/html; charset=utf-8")
        if path.startswith("/_img/"):
            return h.reply(200, _JPEG, "image/jpeg", {"Cache-Control": "max-age=86400"})
        return self._source_page(h, route.source, route.prefix + path, query, f"{SCHEME}://{host}", route.prefix)

    def _admin(self, h: Handler, method: str, path: str, query: dict[str, str], body: bytes) -> None:
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

    def _source_page(self, h: Handler, source: str, rest: str, query: dict[str, str], origin: str, prefix: str) -> None:
        """A page of `source` at renderer path `rest` (the host's prefix included), asked for at `origin`."""
        path = rest[len(prefix):] or "/"  # the path as requested
        dealer = prefix.strip("/") if source == "dealer" else None
        try:
            mod = pages.load(source)
        except pages.RendererMissing as exc:
            return h.reply(501, f"{exc}; the {source} renderer is not written yet\n".encode())
        with self._lock:
            plan, clock = self._plan, self._clock
        loop = query.pop("_loop", None)
        if loop is not None and plan.has("redirect_loop", source, dealer):
            n = int(loop) + 1 if loop.isdigit() else 1
            return h.reply(302, b"", headers={"Location": f"{origin}{path}?{urlencode({**query, '_loop': n})}"})
        snap = self.snapshot(clock)
        state = _lookup(snap.path_map(source, mod), rest)
        page = "listing" if state is not None else "index"
        key = path + ("?" + urlencode(sorted(query.items())) if query else "")
        with self._lock:
            fault, _attempt = self._plan.decide(source, dealer, page, key) if self._plan is plan else (None, 0)
        if fault is not None and fault.kind not in ("slow", "truncate", "oversize"):
            return self._apply_fault(h, fault, path, query, origin)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        mode = plan.markup_mode(source, dealer)
        variant = {source: "changed"} if mode == "legacy" else {}
        cache_key = (origin, clock, mode, key)
        rendered = self._page_cache.get(cache_key) if self._page_cache is not None else None
        if rendered is None:
            rendered = self._render(mod, source, rest, query, state, snap, self.context(source, dealer, clock, variant))
            if self._page_cache is not None:
                self._page_cache[cache_key] = rendered
        if rendered is None:
            return h.reply(404, _html("Not Found", f"no {source} page at {rest}"), "text/html; charset=utf-8")
        body = rendered.body
        if mode == "broken":
            body = _corrupt(body, rendered.content_type)
        elif mode == "legacy":
            plain = self._render(mod, source, rest, query, state, snap, self.context(source, dealer, clock))
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

    def _apply_fault(self, h: Handler, fault: Fault, path: str, query: dict[str, str], origin: str) -> None:
        if fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return h.reply(fault.code or 503, _html(f"Error {fault.code}", "injected fault"), "text/html; charset=utf-8", headers)
        if fault.kind == "gone":
            title = "Gone" if fault.code == 410 else "Not Found"
            return h.reply(fault.code or 404, _html(title, "this listing has been removed"), "text/html; charset=utf-8")
        if fault.kind == "challenge":
            status, headers, body = challenge_page(fault.vendor, urlsplit(origin).hostname or self.host)
            return h.reply(status, body, headers=headers)
        if fault.kind == "redirect_loop":
            return h.reply(302, b"", headers={"Location": f"{origin}{path}?{urlencode({**query, '_loop': 1})}"})
        if fault.kind == "redirect_private":
            qs = ("?" + urlencode(query)) if query else ""
            return h.reply(302, b"", headers={"Location": f"http://127.0.0.2:{h.server.server_port}{path}{qs}"})
        raise AssertionError(f"unhandled fault kind {fault.kind}")

    # --- explicit fault endpoints ------------------------------------------------------------------

    def _fault_endpoint(self, h: Handler, path: str, query: dict[str, str], port: int) -> None:
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
                  clock: int | None = None, host: str = "127.0.0.1", out=None, cache_pages: bool = False,
                  dealers: int = 4, mix: str = "real") -> None:
    """Run the site until SIGINT/SIGTERM. The first line on stdout is the control origin (so `--port 0`
    callers can read the bound port); then `ca PATH` (the throwaway CA), `config PATH` (the client settings
    as JSON: `demo --sample-site PATH` / `dev --sample-site PATH` use it), one `resolve HOST ADDRESS:PORT`
    line per host name, one `name url` line per source, and `truth URL`."""
    out = out or sys.stdout
    site = SampleSite(seed=seed, listings=listings, clock=clock, faults=faults, host=host, port=port,
                      cache_pages=cache_pages, dealers=dealers, mix=mix)
    stop = threading.Event()
    # Set explicitly: a shell may have started us with these signals ignored.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    site.start()
    try:
        config = site.write_client_config()
        lines = [site.base_url, f"ca {site.ca_file}", f"config {config}"]
        lines += [f"resolve {name} {target}" for name, target in site.resolve.items()]
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
