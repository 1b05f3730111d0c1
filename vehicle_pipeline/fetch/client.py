"""The one polite HTTP client: every request the pipeline makes goes through `PoliteClient`.

What "polite" means here (DESIGN.md, section HTTP), and where each rule lives in this package:
- a configurable User-Agent (`config`); robots.txt (RFC 9309, parsed by protego) fetched once per lane and
  cached (`robots`): 4xx = no restrictions; 5xx/429/unreachable = disallow everything for `robots_error_ttl`
  (the fetch fails with reason robots_unavailable, so the queue's attempts bound it); Crawl-delay can only
  raise the pace;
- per origin (scheme, host, port) a *lane* (`lanes`): at most `concurrency` requests in flight (default 1)
  and a randomized delay between requests (default 2-5 s; zero only when configured); origins run in
  parallel;
- connect/read timeouts, bounded in-request retries on 408/429/500/502/503/504 honouring Retry-After
  (`signals`); a Retry-After longer than the in-request wait limit becomes `retry_later` (the queue snoozes
  the item); bot-challenge pages are `blocked`;
- a body cap enforced while streaming, gzip/brotli/zstd, redirects followed by hand so each target is
  checked, conditional GET (ETag / Last-Modified), HTTP/2 where the server offers it (`transport`);
- with a `PaceLedger` (store.pace keeps one in Postgres), a paced host's pace holds across processes and
  machines too: a fetch also holds the host in the ledger, so one fetch at a time reaches it from anywhere;
- every URL checked before it is fetched (`urls`): http(s), the source's allowed hosts, and no loopback/
  private/link-local/multicast/reserved address unless `allow_private_hosts` names the host. Literal
  addresses are checked up front; resolved addresses are checked at connect time, and the socket connects
  to the address that was checked (so a second DNS answer cannot rebind to a private address). Host lists
  are written and matched as `vehicle_pipeline.hosts` says (the project's one host rule).

Two settings exist for the stand-in only (tests, demo, dev), both empty in production: `resolve`, a
name-resolution override (host -> address:port, like curl's --resolve) applied by the transport's network
backend, whose addresses pass the same private-address guard; and `extra_ca_file`, a PEM bundle trusted besides
the system store. With them the client fetches https://bringatrailer.com/... from the sample site on loopback,
with every other rule exactly as in production.

Every outcome is a `FetchResult` (`results`: ok, not_modified, gone, blocked, retry_later, failed); an
expected failure never raises. Source health is reported through the `HealthReporter` protocol, called in
the caller's thread (so a reporter may use the caller's database connection).

The core is asyncio on httpx (one `httpx.AsyncClient` per client) running on a background event-loop thread
that the client owns; `fetch` / `fetch_many` are the sync facade for Dagster ops. A background loop (rather
than `asyncio.run` per call) keeps keep-alive connections, lanes and the robots cache across calls and
lets several caller threads share one client. (The transport was aiohttp for a while, for CPU a polite
crawler never spends: bench/RESULTS.md has both.)

This module imports neither Dagster nor psycopg.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import queue
import random
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import httpx

from vehicle_pipeline.fetch.config import NO_POLICY as _NO_POLICY
from vehicle_pipeline.fetch.config import HttpConfig, Pace, SourcePolicy, check_config
from vehicle_pipeline.fetch.lanes import Deferred, Lane
from vehicle_pipeline.fetch.results import (
    BLOCK_STATUSES,
    GONE_STATUSES,
    NOT_THE_SITES_FAULT,
    REDIRECT_STATUSES,
    FetchKind,
    FetchRequest,
    FetchResult,
    HealthReporter,
    PaceLedger,
    Reason,
)
from vehicle_pipeline.fetch.robots import robots_for
from vehicle_pipeline.fetch.signals import backoff_delay, detect_challenge, parse_retry_after
from vehicle_pipeline.fetch.transport import Attempt, attempt, build_client
from vehicle_pipeline.fetch.urls import DEFAULT_PORTS, check_url, norm_host

log = logging.getLogger(__name__)


_CLOSED = object()  # fetch_many's end-of-client marker


class _Batch:
    """The loop-side half of one `fetch_many` call: a window of requests and a lane-aware dispatcher."""

    def __init__(self, client: PoliteClient, max_in_flight: int, out: queue.SimpleQueue):
        self.client = client
        self.max_in_flight = max_in_flight
        self.out = out
        self.waiting: list[FetchRequest] = []
        self.on_lane: dict[tuple, int] = {}
        self.tasks: set[asyncio.Task] = set()
        self.cancelled = False
        self.ready: list[tuple[FetchRequest, FetchResult]] = []
        self.flush_scheduled = False

    def add(self, requests: list[FetchRequest]) -> None:
        if not self.cancelled:
            self.waiting.extend(requests)
            self._dispatch()

    def cancel(self) -> None:
        self.cancelled = True
        self.waiting.clear()
        for task in list(self.tasks):
            task.cancel()

    def _room(self, req: FetchRequest) -> tuple | None:
        """The request's lane key and its concurrency, or None when that lane is full for this batch."""
        key = self.client._lane_key(req.url, req.source)
        if key is None:
            return ()  # unparseable: fails at once without a lane
        lane = self.client._lanes.get(key)
        limit = lane.concurrency if lane is not None else self.client._pace(key, self.client._policy(req.source)).concurrency
        return key if self.on_lane.get(key, 0) < limit else None

    def _dispatch(self) -> None:
        if len(self.tasks) >= self.max_in_flight or not self.waiting:
            return
        kept: list[FetchRequest] = []
        waiting, self.waiting = self.waiting, kept
        for i, req in enumerate(waiting):
            if len(self.tasks) >= self.max_in_flight:
                kept.extend(waiting[i:])
                break
            key = self._room(req)
            if key is None:
                kept.append(req)
                continue
            self.on_lane[key] = self.on_lane.get(key, 0) + 1
            task = asyncio.ensure_future(self.client._afetch(req))
            self.tasks.add(task)
            task.add_done_callback(lambda t, req=req, key=key: self._done(t, req, key))

    def _done(self, task: asyncio.Task, req: FetchRequest, key: tuple) -> None:
        self.tasks.discard(task)
        self.on_lane[key] -= 1
        if task.cancelled() or self.cancelled:
            return
        self.ready.append((req, task.result()))
        self._dispatch()
        if not self.flush_scheduled:
            # Hand results over after the next request has had its turn to reach the socket, in one
            # batch: waking the consumer thread costs GIL handoffs, best paid while the loop would idle.
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.ready and not self.cancelled:
            ready, self.ready = self.ready, []
            self.out.put(ready)


# --------------------------------------------------------------------------------------------------
# The client


def _log_ledger_error(done: asyncio.Future) -> None:
    if not done.cancelled() and done.exception() is not None:
        # The hold ends by itself (store.pace's hold limit); the pace after this fetch is kept in-process.
        log.warning("pace ledger release failed: %s", done.exception())


def _utc_in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


class PoliteClient:
    """The pipeline's HTTP client. Thread-safe; one per process is enough (share it)."""

    def __init__(self, config: HttpConfig | None = None, *, health: HealthReporter | None = None,
                 ledger: PaceLedger | None = None):
        self.config = config or HttpConfig()
        check_config(self.config)
        self.health = health
        self.ledger = ledger  # paces hosts across processes too; None = this process's lanes only
        self._ledger_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._rng = random.Random(self.config.seed)
        self._sources: dict[str, SourcePolicy] = dict(self.config.sources)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._lanes: dict[tuple, Lane] = {}
        self._pid = os.getpid()
        self._closed = False
        self._batches: weakref.WeakSet[_Batch] = weakref.WeakSet()

    # ---- configuration at run time (dealer sources are discovered while the pipeline runs)

    def set_source_policy(self, source: str, policy: SourcePolicy) -> None:
        self._sources[source] = policy

    def _policy(self, source: str | None) -> SourcePolicy:
        if source is None:
            return _NO_POLICY
        found = self._sources.get(source)
        if found is None and ":" in source:
            found = self._sources.get(source.split(":", 1)[0])  # "dealer:x" falls back to "dealer"
        return found or _NO_POLICY

    def source_pace(self, source: str) -> Pace:
        """The pace a source's requests get (its own policy's, else its family's, else the default), before any
        per-host override or robots.txt crawl-delay."""
        return self._policy(source).pace or self.config.pace

    def _pace(self, key: tuple, policy: SourcePolicy) -> Pace:
        host, port = key[1], key[2]
        hp = self.config.host_pace
        return hp.get(f"{host}:{port}") or hp.get(host) or policy.pace or self.config.pace

    # ---- loop thread

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise RuntimeError("PoliteClient is closed")
        if self._loop is not None and self._pid == os.getpid():
            return self._loop
        with self._lock:
            if self._pid != os.getpid():
                # Forked (e.g. a multiprocess executor): the parent's loop thread does not exist here.
                self._loop = self._thread = self._client = None
                self._lanes = {}
                self._ledger_pool = None
                self._pid = os.getpid()
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    ready.set()
                    loop.run_forever()

                thread = threading.Thread(target=run, name="polite-http", daemon=True)
                thread.start()
                ready.wait()
                self._thread = thread
                self._loop = loop
        return self._loop

    def _submit(self, coro) -> concurrent.futures.Future:
        try:
            loop = self._ensure_loop()
        except BaseException:
            coro.close()
            raise
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("PoliteClient's sync API called from its own event loop; use fetch_async")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = build_client(self.config)
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or self._pid != os.getpid():
            return

        async def shutdown() -> None:
            # Whoever still waits (fetch in another thread, a fetch_many consumer) gets an answer.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            for batch in list(self._batches):
                batch.cancel()
                batch.out.put(_CLOSED)
            await asyncio.sleep(0)
            if self._client is not None:
                await self._client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        except Exception:  # closing must not raise: connections die with the loop anyway
            log.debug("error while closing the http client", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        loop.close()
        if self._ledger_pool is not None:
            self._ledger_pool.shutdown(wait=True)  # releases already sent finish: no host stays held

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- public sync facade

    def fetch(
        self, url: str, *, source: str | None = None, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        req = FetchRequest(url, source=source, etag=etag, last_modified=last_modified)
        try:
            result = self._submit(self._afetch(req)).result()
        except concurrent.futures.CancelledError:
            result = self._closed_result(req)  # close() from another thread while this fetch waited
        self._report(result)
        return result

    def fetch_many(
        self, requests: Iterable[FetchRequest | str], *, max_in_flight: int = 64, lookahead: int | None = None
    ) -> Iterator[tuple[FetchRequest, FetchResult]]:
        """Fetch concurrently, yielding (request, result) as each completes.

        At most `max_in_flight` fetches run at once. Up to `lookahead` (default 4 x max_in_flight)
        requests are taken from `requests` ahead of what has been yielded, so memory stays bounded and a
        lazy iterable (a queue claim) is consumed lazily. Within that window a free slot goes to the first
        request whose host has room (fewer of this batch's requests on it than its concurrency), so one
        slow-paced host at the head of the input does not hold every slot while other hosts idle.
        Leaving the loop early cancels what is in flight; those requests are never yielded.
        """
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        window = max(max_in_flight, lookahead if lookahead is not None else max(4 * max_in_flight, 16))
        refill = max(1, window // 4)  # top up in chunks: fewer wake-ups of the loop thread
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            raise RuntimeError("PoliteClient's sync API called from its own event loop; use fetch_async")
        out: queue.SimpleQueue = queue.SimpleQueue()
        batch = _Batch(self, max_in_flight, out)
        self._batches.add(batch)
        it = iter(requests)
        exhausted = False
        taken = yielded = 0
        try:
            while True:
                if not exhausted and window - (taken - yielded) >= (refill if taken else 1):
                    chunk = []
                    while taken - yielded + len(chunk) < window:
                        try:
                            req = next(it)
                        except StopIteration:
                            exhausted = True
                            break
                        chunk.append(req if isinstance(req, FetchRequest) else FetchRequest(req))
                    if chunk:
                        taken += len(chunk)
                        loop.call_soon_threadsafe(batch.add, chunk)
                if taken == yielded:
                    return
                items = out.get()
                if items is _CLOSED:
                    raise RuntimeError("PoliteClient was closed while fetch_many was running")
                for req, result in items:
                    yielded += 1
                    self._report(result)
                    yield req, result
        finally:
            self._batches.discard(batch)
            if taken != yielded and not loop.is_closed():
                loop.call_soon_threadsafe(batch.cancel)

    async def fetch_async(
        self, url: str, *, source: str | None = None, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """For callers already inside an event loop (any loop: the work runs on the client's own)."""
        req = FetchRequest(url, source=source, etag=etag, last_modified=last_modified)
        if threading.current_thread() is self._thread:
            result = await self._afetch(req)
        else:
            result = await asyncio.wrap_future(self._submit(self._afetch(req)))
        self._report(result)
        return result

    async def fetch_unreported_async(self, req: FetchRequest) -> FetchResult:
        """`fetch_async` without the health report, for a caller that reports one outcome for many requests
        (the rendering fetcher reports the page, not each request the page made): see `report`."""
        if threading.current_thread() is self._thread:
            return await self._afetch(req)
        return await asyncio.wrap_future(self._submit(self._afetch(req)))

    # ---- health

    def report(self, result: FetchResult) -> None:
        """Tell source health about one outcome (call it in the thread that may use the reporter)."""
        self._report(result)

    def _report(self, result: FetchResult) -> None:
        if self.health is None or result.source is None:
            return
        try:
            if result.kind in (FetchKind.OK, FetchKind.NOT_MODIFIED, FetchKind.GONE):
                self.health.record_success(result.source)
            elif result.reason not in NOT_THE_SITES_FAULT:
                blocked = result.kind is FetchKind.BLOCKED or result.status == 429
                self.health.record_failure(result.source, blocked=blocked, reason=result.describe())
        except Exception:  # a broken reporter must not lose the fetch result
            log.exception("health reporter failed for source %s", result.source)

    def _closed_result(self, req: FetchRequest) -> FetchResult:
        return FetchResult(
            FetchKind.FAILED, req.url, req.url, reason=Reason.CLOSED, detail="cancelled", source=req.source
        )

    # ---- async core

    def _lane_key(self, url: str, source: str | None = None) -> tuple | None:
        """(scheme, host, port): one lane per origin, whatever the source."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            return (scheme, norm_host(parts.hostname or ""), parts.port or DEFAULT_PORTS.get(scheme, 0))
        except ValueError:
            return None

    def _lane(self, url: str, policy: SourcePolicy, source: str | None = None) -> Lane:
        key = self._lane_key(url, source)
        assert key is not None  # callers checked the URL first
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(key, self._pace(key, policy).concurrency)
        return lane

    async def _afetch(self, req: FetchRequest) -> FetchResult:
        started = time.monotonic()
        try:
            result = await self._afetch_inner(req)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must surface as a failed item, not kill a batch
            log.exception("unexpected error fetching %s", req.url)
            result = FetchResult(
                FetchKind.FAILED, req.url, req.url, reason=Reason.ERROR, detail=f"{type(exc).__name__}: {exc}"
            )
        result.source = req.source
        result.elapsed = time.monotonic() - started
        return result

    async def _afetch_inner(self, req: FetchRequest) -> FetchResult:
        cfg = self.config
        policy = self._policy(req.source)
        url = req.url
        attempts = 0

        def result(kind: FetchKind, **kw) -> FetchResult:
            return FetchResult(kind, req.url, kw.pop("final_url", url), attempts=attempts, **kw)

        refusal = check_url(url, allowed_hosts=policy.allowed_hosts, allow_private_hosts=cfg.allow_private_hosts)
        if refusal:
            return result(FetchKind.FAILED, reason=Reason.REFUSED_URL, detail=refusal)
        cond_headers = {}
        if req.etag:
            cond_headers["If-None-Match"] = req.etag
        if req.last_modified:
            cond_headers["If-Modified-Since"] = req.last_modified

        for hop in range(cfg.max_redirects + 1):
            lane = self._lane(url, policy, req.source)
            pace = self._pace(lane.key, policy)
            if cfg.obey_robots:
                try:
                    robots = await robots_for(self, lane, pace)
                except Deferred as d:
                    return result(
                        FetchKind.RETRY_LATER, reason=Reason.HOST_BACKOFF, status=d.status,
                        detail=d.detail or f"host asked for {d.wait:.0f}s", retry_at=_utc_in(d.wait),
                    )
                if robots.parser is None and robots.refused:
                    return result(FetchKind.FAILED, reason=Reason.REFUSED_URL, detail=robots.detail)
                if robots.parser is None:
                    # Failed, not retry_later: a snooze costs no attempt, and a host whose robots.txt is
                    # down for good must end dead in the queue, not snooze forever. retry_at says when the
                    # cached verdict expires.
                    wait = max(0.0, robots.expires - time.monotonic())
                    return result(
                        FetchKind.FAILED, reason=Reason.ROBOTS_UNAVAILABLE, detail=robots.detail,
                        retry_at=_utc_in(wait),
                    )
                if not robots.allows(url, cfg.user_agent):
                    return result(FetchKind.FAILED, reason=Reason.ROBOTS_DISALLOWED, detail="disallowed by robots.txt")

            retries = 0
            while True:
                try:
                    await self._acquire(lane, pace)
                except Deferred as d:
                    return result(
                        FetchKind.RETRY_LATER, reason=Reason.HOST_BACKOFF, status=d.status,
                        detail=d.detail or f"host asked for {d.wait:.0f}s", retry_at=_utc_in(d.wait),
                    )
                attempts += 1
                try:
                    got = await self._attempt(url, cond_headers)
                finally:
                    self._release(lane, pace)
                if got.reason is not None:
                    if got.retryable and retries < cfg.max_retries:
                        retries += 1
                        lane.hold_off(backoff_delay(retries, base=cfg.retry_backoff, cap=cfg.max_inline_wait, rng=self._rng), None)
                        continue
                    return result(FetchKind.FAILED, reason=got.reason, detail=got.detail, status=got.status,
                                  headers=got.headers)
                status = got.status
                assert status is not None
                common = dict(status=status, headers=got.headers, content=got.content, http_version=got.http_version)
                challenge = detect_challenge(status, got.headers, got.content)
                if challenge:
                    return result(FetchKind.BLOCKED, reason=Reason.CHALLENGE, challenge=challenge,
                                  detail=f"{challenge} challenge page", **common)
                if status in cfg.retry_statuses:
                    ra = parse_retry_after(got.headers.get("retry-after"))
                    if ra is not None and ra > min(cfg.max_inline_wait, cfg.retry_after_cap):
                        wait = min(ra, cfg.retry_after_cap)
                        lane.hold_off(wait, status)
                        return result(FetchKind.RETRY_LATER, reason=Reason.RETRY_AFTER, retry_at=_utc_in(wait),
                                      detail=f"http {status}, retry-after {ra:.0f}s", **common)
                    if retries < cfg.max_retries:
                        retries += 1
                        wait = ra if ra is not None else backoff_delay(
                            retries, base=cfg.retry_backoff, cap=cfg.max_inline_wait, rng=self._rng)
                        lane.hold_off(wait, status)
                        continue
                    hint = _utc_in(ra) if ra is not None else None
                    kind = FetchKind.BLOCKED if status == 429 else FetchKind.FAILED
                    return result(kind, reason=Reason.HTTP_STATUS, retry_at=hint,
                                  detail=f"http {status} after {retries + 1} attempts", **common)
                break

            if status in REDIRECT_STATUSES and got.location:
                target = urljoin(url, got.location)
                if hop == cfg.max_redirects:
                    return result(FetchKind.FAILED, reason=Reason.TOO_MANY_REDIRECTS,
                                  detail=f"more than {cfg.max_redirects} redirects", **common)
                refusal = check_url(target, allowed_hosts=policy.allowed_hosts,
                                    allow_private_hosts=cfg.allow_private_hosts)
                if refusal:
                    return result(FetchKind.FAILED, reason=Reason.REFUSED_URL, final_url=target,
                                  detail=f"redirect refused: {refusal}", **common)
                url = target
                continue
            etag = got.headers.get("etag")
            last_modified = got.headers.get("last-modified")
            if status == 304:
                return result(FetchKind.NOT_MODIFIED, etag=etag or req.etag,
                              last_modified=last_modified or req.last_modified, **common)
            if 200 <= status < 300:
                return result(FetchKind.OK, etag=etag, last_modified=last_modified, **common)
            if status in GONE_STATUSES:
                return result(FetchKind.GONE, reason=Reason.HTTP_STATUS, detail=f"http {status}", **common)
            if status in BLOCK_STATUSES:
                return result(FetchKind.BLOCKED, reason=Reason.HTTP_STATUS, detail=f"http {status}", **common)
            return result(FetchKind.FAILED, reason=Reason.HTTP_STATUS, detail=f"http {status}", **common)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acquire(self, lane: Lane, pace: Pace) -> None:
        await lane.acquire(pace, self._rng, self.config.max_inline_wait,
                           self._hold_shared if self.ledger is not None else None)

    def _release(self, lane: Lane, pace: Pace) -> None:
        gap = lane.release(pace, self._rng)
        # Only a paced fetch took the hold; an unpaced one on the same origin (another source's policy) leaves it.
        if lane.ledger_held and max(pace.max_delay, lane.crawl_delay) > 0:
            lane.ledger_held = False
            done = asyncio.get_running_loop().run_in_executor(self._ledger_executor(), self._release_shared,
                                                                lane.ledger_key, gap, time.monotonic())
            done.add_done_callback(_log_ledger_error)

    def _release_shared(self, ledger_key: str, gap: float, finished: float) -> None:
        # The gap runs from this fetch's finish, as in the lane: what of it passed while the release waited for
        # a ledger thread is not added again (a slot later than the lane's own costs every fetch that lag).
        self.ledger.release(ledger_key, max(0.0, gap - (time.monotonic() - finished)))

    async def _hold_shared(self, lane: Lane, gap: float) -> None:
        """Wait until this lane holds its host in the shared ledger (other processes' fetches included)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                wait = await loop.run_in_executor(self._ledger_executor(), self.ledger.reserve, lane.ledger_key, gap)
            except Exception as exc:  # fail closed: an unknown pace is no licence to fetch; the item snoozes
                log.warning("pace ledger unavailable for %s: %s", lane.ledger_key, exc)
                raise Deferred(60.0, None, f"pace ledger unavailable: {type(exc).__name__}") from None
            if wait <= 0:
                lane.ledger_held = True
                return
            if wait > self.config.max_inline_wait:
                raise Deferred(wait, None, f"host paced by other workers for {wait:.0f}s")
            await asyncio.sleep(wait)

    def _ledger_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        # A few threads: a ledger call is one short statement, and a row lock waits at most one statement.
        if self._ledger_pool is None:
            self._ledger_pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="pace-ledger")
        return self._ledger_pool

    async def _attempt(self, url: str, extra_headers: Mapping[str, str]) -> Attempt:
        return await attempt(self._http(), url, self.config, extra_headers)
