"""The rendering fetcher: pages that exist only once their own script has run (Cars & Bids), read in headless
Chromium driven by Playwright.

The browser never reaches the network by itself. Every request the page makes is intercepted (Playwright
routing on the browser context) and is either skipped (images, fonts, media), refused, or fulfilled with the
polite client's own fetch of that URL under the page's source. So lanes, pace, robots.txt, the source's
allowed hosts, the private-address guard and any name-resolution or CA setting are the client's: one set of
rules for every request the pipeline makes. What routing cannot see fails instead of escaping: the browser
is given a proxy that does not exist and a resolver that knows no name.

A site's scripts and stylesheets are kept across pages (per source, bounded), as a browser's cache keeps
them, so on a paced host a page costs its document and its data requests, not its whole bundle each time.

The snapshot is the rendered DOM with the JSON responses the page's own script loaded appended as
`<script type="application/json" data-captured-from="URL">` elements (`sources._pagekit.CAPTURED_ATTR`), so
a parser reads the site's data first and the DOM second, and a stored page replays like any other.

One Chromium per fetcher, started on first use on the fetcher's own event-loop thread, and closed with the
fetcher (the ingest context closes it when its run ends; Playwright's driver takes the browser with it if
the process dies). A browser that is missing, does not start or crashes makes the page a `failed` result with
reason `browser_error` (source health counts it, so the source backs off); the next page starts a new one.
Every page has a deadline, so a hung page or browser never hangs a run.

This module imports neither Dagster nor psycopg.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from html import escape

from vehicle_pipeline.fetch.client import PoliteClient
from vehicle_pipeline.fetch.results import FetchKind, FetchRequest, FetchResult, Reason
from vehicle_pipeline.sources import family as source_family
from vehicle_pipeline.sources._pagekit import CAPTURED_ATTR

log = logging.getLogger(__name__)

DEBIAN_CHROMIUM = "/usr/bin/chromium"
# Flags that work in a container with no display, no GPU and no user namespace sandbox; no QUIC (routing
# sees HTTP only); nothing the browser would fetch on its own behalf (updates, sync, safe browsing lists).
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    # Belt and braces: a request routing missed has nowhere to go (a proxy on the discard port, no names).
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
)
# What a page's own content element is, per source family: the page is read once it exists.
DEFAULT_CONTENT_SELECTORS = {"carsandbids": "ul.bid-stats"}
SKIPPED_RESOURCES = frozenset({"image", "font", "media"})
# A site's scripts and stylesheets are the same on every page: kept from the first page that loaded them, as a
# browser's cache keeps them, so a paced host sees the page and its data requests, not its bundle each time.
# One the site answers 404/410 is kept as that answer, for the same reason.
CACHED_RESOURCES = frozenset({"script", "stylesheet"})
_HOP_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"})
# A sub-request outcome that explains a page whose content never appeared, worst first.
_EXPLAINS = (FetchKind.BLOCKED, FetchKind.RETRY_LATER, FetchKind.GONE)
# Requests that carry the page's data: only their "gone" says the listing is gone (a stylesheet or script that
# answers 404 says nothing about it; a block or a Retry-After on any request still explains the page).
_DATA_REQUESTS = frozenset({"document", "fetch", "xhr"})


@dataclass(frozen=True)
class RenderConfig:
    chromium_path: str | None = None  # None: Debian's /usr/bin/chromium when present, else Playwright's own
    content_selectors: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONTENT_SELECTORS))
    page_timeout: float = 60.0  # one page from navigation to snapshot, its requests' pacing included
    # How long the page's own content element may take to appear once the document is in. When it never does
    # and none of the page's requests explains why, the page is kept as it rendered and the parser decides: a
    # markup change then fails in the parser's words, with a snapshot to replay once the parser is fixed,
    # instead of costing every page the whole deadline and keeping nothing.
    content_timeout: float = 15.0
    launch_timeout: float = 30.0
    max_pages: int = 2  # pages open at once in the browser (each source's lane still paces its requests)
    asset_cache_bytes: int = 32 * 1024 * 1024  # scripts and stylesheets kept across pages (per source)


def chromium_executable(configured: str | None) -> str | None:
    """The Chromium to run: the configured path, else Debian's, else None (Playwright's own download)."""
    if configured:
        return configured
    return DEBIAN_CHROMIUM if os.path.exists(DEBIAN_CHROMIUM) else None


class BrowserUnavailable(Exception):
    """The browser is missing or did not start."""


@dataclass
class _PageState:
    request: FetchRequest
    document: FetchResult | None = None  # the main document's fetch
    attempts: int = 0
    captured: list[tuple[str, object]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "url: why" for each request the policy refused
    worst: FetchResult | None = None  # the worst sub-request outcome (blocked, retry_later, gone)
    skipped: int = 0


def snapshot(html: str, captured: list[tuple[str, object]]) -> bytes:
    """The stored page: the rendered DOM, then each captured JSON response as a script element."""
    blocks = []
    for url, value in captured:
        # "<" escaped inside the JSON (still the same JSON) so no "</script>" or "<!--" can end the element.
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
        blocks.append(f'<script type="application/json" {CAPTURED_ATTR}="{escape(url)}">{text}</script>')
    extra = "\n".join(blocks)
    cut = html.rfind("</body>")
    page = html[:cut] + extra + html[cut:] if cut >= 0 else html + extra
    return page.encode("utf-8")


class RenderingFetcher:
    """Fetches pages by rendering them in headless Chromium, every request through `client`. Thread-safe."""

    def __init__(self, client: PoliteClient, config: RenderConfig | None = None):
        self.client = client
        self.config = config or RenderConfig()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._playwright = None
        self._browser = None
        self._launch_lock: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._assets: OrderedDict[tuple[str | None, str], FetchResult] = OrderedDict()  # LRU, (source, url)
        self._asset_bytes = 0
        # Assets being fetched now: two pages open at once that want the same bundle wait for one request.
        self._asset_fetches: dict[tuple[str | None, str], asyncio.Future] = {}
        self._pid = os.getpid()

    # ---- public sync facade

    def fetch(self, url: str, *, source: str | None = None) -> FetchResult:
        req = FetchRequest(url, source=source)
        return self.finish(req, self.submit(req))

    def submit(self, req: FetchRequest) -> concurrent.futures.Future:
        """Start rendering `req`; the future's result is its FetchResult (not yet reported to source health:
        `finish` does that in the caller's thread)."""
        return asyncio.run_coroutine_threadsafe(self._render(req), self._ensure_loop())

    def finish(self, req: FetchRequest, future: concurrent.futures.Future) -> FetchResult:
        result = self._wait(future, req)
        self.client.report(result)
        return result

    def fetch_many(self, requests: Iterable[FetchRequest | str]) -> Iterator[tuple[FetchRequest, FetchResult]]:
        """Render each request, yielding (request, result) as each completes (`max_pages` at a time)."""
        pending: dict[concurrent.futures.Future, FetchRequest] = {}
        try:
            for req in requests:
                req = req if isinstance(req, FetchRequest) else FetchRequest(req)
                pending[self.submit(req)] = req
            while pending:
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    req = pending.pop(future)
                    yield req, self.finish(req, future)
        finally:
            for future in pending:
                future.cancel()

    def _wait(self, future: concurrent.futures.Future, req: FetchRequest) -> FetchResult:
        try:
            # The page's own deadline ends it first; this one only guards against a wedged loop.
            return future.result(timeout=self.config.page_timeout + self.config.launch_timeout + 30)
        except concurrent.futures.CancelledError:
            return FetchResult(FetchKind.FAILED, req.url, req.url, reason=Reason.CLOSED, detail="cancelled",
                               source=req.source)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return FetchResult(FetchKind.FAILED, req.url, req.url, reason=Reason.BROWSER,
                               detail="rendering did not finish", source=req.source)

    # ---- loop thread and browser

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise RuntimeError("RenderingFetcher is closed")
            if self._pid != os.getpid():  # forked: the parent's thread and browser are not ours
                self._loop = self._thread = self._playwright = self._browser = None
                self._pid = os.getpid()
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._launch_lock = asyncio.Lock()
                self._slots = asyncio.Semaphore(self.config.max_pages)
                thread = threading.Thread(target=loop.run_forever, name="render-fetch", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _ready_browser(self):
        async with self._launch_lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            await self._drop_browser()
            exe = chromium_executable(self.config.chromium_path)
            if exe is not None and not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
                raise BrowserUnavailable(f"no Chromium at {exe} (set chromium_path; on Debian apt-get install chromium)")
            from playwright.async_api import async_playwright  # the browser stack loads only where a page renders

            try:
                async with asyncio.timeout(self.config.launch_timeout):
                    if self._playwright is None:
                        self._playwright = await async_playwright().start()
                    self._browser = await self._playwright.chromium.launch(
                        executable_path=exe, headless=True, args=list(CHROMIUM_ARGS),
                        timeout=self.config.launch_timeout * 1000,
                        # the pipeline's signal handling decides when the process ends; the browser goes with it
                        handle_sigint=False, handle_sigterm=False, handle_sighup=False,
                    )
            except TimeoutError:
                raise BrowserUnavailable(f"Chromium did not start within {self.config.launch_timeout:.0f}s") from None
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BrowserUnavailable(f"Chromium did not start: {first}") from None
            log.info("started Chromium %s for rendered pages", self._browser.version)
            return self._browser

    async def _drop_browser(self) -> None:
        browser, self._browser = self._browser, None
        if browser is not None:
            try:
                await browser.close()
            except Exception:  # a crashed browser cannot be closed twice; it is gone either way
                log.debug("closing a dead browser", exc_info=True)

    def close(self) -> None:
        """Close the browser and its driver, and stop the loop thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or self._pid != os.getpid():
            return

        async def shutdown() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.sleep(0)
            await self._drop_browser()
            if self._playwright is not None:
                await self._playwright.stop()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        except Exception:
            log.warning("closing the rendering browser failed", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> RenderingFetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- rendering

    async def _render(self, req: FetchRequest) -> FetchResult:
        started = time.monotonic()
        state = _PageState(req)
        try:
            async with self._slots:
                async with asyncio.timeout(self.config.page_timeout):
                    result = await self._render_page(req, state)
        except TimeoutError:
            result = self._failed(req, state, Reason.TIMEOUT, f"page not rendered within {self.config.page_timeout:.0f}s")
        except BrowserUnavailable as exc:
            result = self._failed(req, state, Reason.BROWSER, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the browser crashed or closed under the page: the next page starts another
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.warning("rendering %s failed: %s", req.url, first)
            if self._browser is not None and not self._browser.is_connected():
                await self._drop_browser()
            result = self._failed(req, state, Reason.BROWSER, f"browser: {first}")
        result.source = req.source
        result.elapsed = time.monotonic() - started
        result.attempts = state.attempts
        return result

    def _failed(self, req: FetchRequest, state: _PageState, reason: Reason, detail: str) -> FetchResult:
        if state.refused:
            detail += f"; refused: {'; '.join(state.refused[:3])}"
        return FetchResult(FetchKind.FAILED, req.url, req.url, reason=reason, detail=detail)

    async def _render_page(self, req: FetchRequest, state: _PageState) -> FetchResult:
        browser = await self._ready_browser()
        context = await browser.new_context(user_agent=self.client.config.user_agent, service_workers="block",
                                            accept_downloads=False)
        try:
            await context.route("**/*", lambda route: self._route(route, state))
            await context.route_web_socket("**/*", lambda ws: ws.close())  # the client speaks HTTP only
            page = await context.new_page()
            try:
                await page.goto(req.url, wait_until="domcontentloaded")
            except Exception:
                doc = state.document
                if doc is not None and not doc.ok:
                    return doc  # gone, blocked, refused, …: the document's own outcome, as the client gives it
                raise
            doc = state.document
            if doc is None:
                return self._failed(req, state, Reason.BROWSER, "the page's document was never requested")
            if not doc.ok:
                return doc
            selector = self.config.content_selectors.get(source_family(req.source) if req.source else "")
            if selector:
                try:
                    await page.wait_for_selector(selector, state="attached",
                                                 timeout=max(1.0, self.config.content_timeout) * 1000)
                except Exception as exc:
                    if type(exc).__name__ != "TimeoutError":
                        raise
                    if state.worst is not None:
                        worst = state.worst
                        return FetchResult(worst.kind, req.url, doc.final_url, status=worst.status, reason=worst.reason,
                                           retry_at=worst.retry_at, challenge=worst.challenge,
                                           detail=f"{worst.url}: {worst.describe()}")
                    log.info("%s: the page's content (%s) never appeared; keeping the page as rendered", req.url, selector)
            html = await page.content()
        finally:
            await context.close()
        headers = {k: v for k, v in doc.headers.items() if k not in _HOP_HEADERS}
        headers["content-type"] = "text/html; charset=utf-8"
        return FetchResult(FetchKind.OK, req.url, doc.final_url, status=doc.status, content=snapshot(html, state.captured),
                           headers=headers, etag=doc.etag, last_modified=doc.last_modified)

    async def _route(self, route, state: _PageState) -> None:
        request = route.request
        try:
            if request.resource_type in SKIPPED_RESOURCES:
                state.skipped += 1
                await route.abort("blockedbyclient")
                return
            if request.method not in ("GET", "HEAD") or not request.url.startswith(("http://", "https://")):
                state.refused.append(f"{request.method} {request.url}: only GET over http(s) is fetched")
                await route.abort("blockedbyclient")
                return
            is_document = request.is_navigation_request() and request.frame.parent_frame is None \
                and state.document is None
            key = (state.request.source, request.url)
            cacheable = request.resource_type in CACHED_RESOURCES and not is_document
            result = self._assets.get(key) if cacheable else None
            if result is not None:
                self._assets.move_to_end(key)
            elif cacheable and key in self._asset_fetches:
                result = await asyncio.shield(self._asset_fetches[key])
            else:
                fetch = asyncio.ensure_future(
                    self.client.fetch_unreported_async(FetchRequest(request.url, source=state.request.source)))
                if cacheable:
                    self._asset_fetches[key] = fetch
                try:
                    result = await asyncio.shield(fetch)
                finally:
                    if self._asset_fetches.get(key) is fetch:
                        del self._asset_fetches[key]
                state.attempts += result.attempts
                if cacheable and (result.ok or result.kind is FetchKind.GONE):
                    self._keep_asset(key, result)  # a missing bundle too: asked for on every page, it costs the pace
            if is_document:
                state.document = result
                if not result.ok:
                    await route.abort("blockedbyclient")
                    return
            if result.status is None:  # refused by the policy, or never answered
                if result.reason in (Reason.REFUSED_URL, Reason.ROBOTS_DISALLOWED):
                    state.refused.append(f"{request.url}: {result.detail or result.reason}")
                elif self._explains(result, request.resource_type) and self._worse(result, state.worst):
                    state.worst = result
                await route.abort("blockedbyclient" if result.reason is Reason.REFUSED_URL else "failed")
                return
            if self._explains(result, request.resource_type) and self._worse(result, state.worst):
                state.worst = result
            if result.ok and request.resource_type in ("fetch", "xhr") and "json" in (result.content_type or ""):
                try:
                    state.captured.append((result.final_url, json.loads(result.content)))
                except ValueError:
                    pass  # the page's script meets the same bad JSON; nothing to keep
            headers = {k: v for k, v in result.headers.items() if k not in _HOP_HEADERS}
            await route.fulfill(status=result.status, headers=headers, body=result.content)
        except Exception as exc:  # the page closed under the route, or the route was already handled
            log.debug("route %s: %s", request.url, exc)

    def _keep_asset(self, key: tuple[str | None, str], result: FetchResult) -> None:
        if len(result.content) > self.config.asset_cache_bytes // 4:
            return
        old = self._assets.pop(key, None)
        self._asset_bytes += len(result.content) - (len(old.content) if old is not None else 0)
        self._assets[key] = result
        while self._asset_bytes > self.config.asset_cache_bytes and self._assets:
            self._asset_bytes -= len(self._assets.popitem(last=False)[1].content)

    @staticmethod
    def _explains(result: FetchResult, resource_type: str) -> bool:
        if result.kind is FetchKind.GONE:
            return resource_type in _DATA_REQUESTS
        return result.kind in _EXPLAINS

    @staticmethod
    def _worse(result: FetchResult, than: FetchResult | None) -> bool:
        return than is None or _EXPLAINS.index(result.kind) < _EXPLAINS.index(than.kind)


class PageFetcher:
    """Listing pages: through the rendering fetcher for the sources configured to render (by family), through
    the polite client for every other. The import and extraction steps fetch their pages here."""

    def __init__(self, client: PoliteClient, renderer: RenderingFetcher | None, render_sources: Collection[str] = ()):
        self.client = client
        self.renderer = renderer
        self.render_sources = frozenset(render_sources) if renderer is not None else frozenset()

    def renders(self, source: str | None) -> bool:
        return bool(source) and (source in self.render_sources or source_family(source) in self.render_sources)

    def fetch_many(self, requests: Iterable[FetchRequest], *, max_in_flight: int = 64
                   ) -> Iterator[tuple[FetchRequest, FetchResult]]:
        plain: list[FetchRequest] = []
        rendered: dict[concurrent.futures.Future, FetchRequest] = {}
        try:
            for req in requests:
                if self.renders(req.source):
                    rendered[self.renderer.submit(req)] = req
                else:
                    plain.append(req)
            for pair in self.client.fetch_many(plain, max_in_flight=max_in_flight):
                yield pair
                yield from self._done(rendered, block=False)
            while rendered:
                yield from self._done(rendered, block=True)
        finally:
            for future in rendered:
                future.cancel()

    def _done(self, rendered: dict, *, block: bool) -> Iterator[tuple[FetchRequest, FetchResult]]:
        if not rendered:
            return
        done, _ = concurrent.futures.wait(list(rendered), timeout=None if block else 0,
                                          return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            req = rendered.pop(future)
            yield req, self.renderer.finish(req, future)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()


__all__ = ["BrowserUnavailable", "PageFetcher", "RenderConfig", "RenderingFetcher", "chromium_executable", "snapshot"]
