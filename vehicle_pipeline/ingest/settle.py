"""The drains' one frame: the loop every drain runs, and the one mapping of what became of an item (a fetch
result, a parse, a write) to what the queue does with it.

`drain` claims batch after batch until its time budget is spent or the queue is empty, in `lanes` loops at
once, and hands each batch to the drain's handler with a `Settlement`. The handler says what became of each
item (`done`, `fail`, `fetched`, ...); the settlement applies it to the queue (completions and failures a
statement each at the end of the batch) and counts it on the report once, refused writes included (a
worker whose lease was taken over). Nothing is lost: an item ends done, retried, snoozed or dead with its
reason, or, when the process dies, leased until a later claim takes it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Generic, TypeVar

from vehicle_pipeline.http import FetchKind, FetchResult
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, SiteSpread
from vehicle_pipeline.store.db import database_unavailable
from vehicle_pipeline.store.listings import mark_fetched
from vehicle_pipeline.store.queue import ClaimedItem
from vehicle_pipeline.store.sources import UnknownSource

BLOCKED_SNOOZE = timedelta(minutes=15)  # a blocked item's wait when neither the site nor the source's backoff says

R = TypeVar("R", bound=DrainReport)


class Settlement(Generic[R]):
    """What a batch's items came to, settled with the queue and counted on `report` (the drain's lane report,
    of the drain's own report type)."""

    def __init__(self, ingest: Ingest, report: R):
        self.ingest, self.report = ingest, report
        self._done: list[tuple[ClaimedItem, dict | None]] = []
        self._failed: dict[bool, list[tuple[ClaimedItem, str]]] = {False: [], True: []}  # by permanence
        self._listings: dict[str | None, list[tuple[ClaimedItem, int, dict]]] = {}  # status → fetched listings
        self.requests: dict[str, list[int]] = {}  # source → HTTP requests each of its fetched items took

    def sent(self, item: ClaimedItem, result: FetchResult) -> None:
        """An item's page was fetched: the requests it took (a rendered page's data requests included) size the
        source's share of the next batches (`SiteSpread.observe`)."""
        self.requests.setdefault(item.source, []).append(result.attempts)

    def done(self, item: ClaimedItem, result: dict | None = None) -> None:
        """The item's work is finished (completed with the rest of the batch)."""
        self._done.append((item, result))

    def fail(self, item: ClaimedItem, error: str, *, permanent: bool = False) -> None:
        """The attempt is spent: a retry after backoff, or dead after the last attempt (or when `permanent`)."""
        self._failed[permanent].append((item, error))
        self.report.note(f"{item.dedupe_key}: {error}")

    def failed_with(self, item: ClaimedItem, exc: BaseException) -> None:
        """An exception stopped this item alone (a parser bug, a bad record): it fails, the batch goes on."""
        self.fail(item, f"{type(exc).__name__}: {exc}")

    def snooze(self, item: ClaimedItem, result: FetchResult) -> None:
        """Blocked or told to come back later: wait without spending an attempt, until the site's word (its
        Retry-After), else the end of the source's backoff, else BLOCKED_SNOOZE. A blocked item is parked:
        it comes back early when its source recovers."""
        blocked = result.kind is FetchKind.BLOCKED
        self.report.blocked += blocked
        if self.ingest.queue.snooze(item, self._snooze_until(item, result), result.describe(), parked=blocked):
            self.report.snoozed += 1
        else:
            self.report.refused += 1

    def fetched(self, item: ClaimedItem, listing_id: int, result: FetchResult) -> None:
        """The one mapping of a fetch that brought no page to work on: unchanged (304) and gone (404/410) are
        done, with the listing marked; blocked and retry-later snooze; anything else fails the attempt."""
        kind = result.kind
        if kind is FetchKind.NOT_MODIFIED:
            self.report.unchanged += 1
            self._listings.setdefault(None, []).append((item, listing_id, {"result": "not_modified"}))
        elif kind is FetchKind.GONE:
            self.report.gone += 1
            self._listings.setdefault("gone", []).append((item, listing_id,
                                                          {"result": "gone", "status": result.status}))
        elif kind in (FetchKind.BLOCKED, FetchKind.RETRY_LATER):
            self.snooze(item, result)
        elif kind is FetchKind.OK:
            raise ValueError(f"{item.dedupe_key}: a fetched page is the drain's to work on, not settled here")
        else:
            self.fail(item, result.describe())

    def close(self) -> None:
        """Apply the batch: listings marked, then completions and failures, a statement each."""
        self._mark_listings()
        if self._done:
            report = self.ingest.queue.complete_many(self._done)
            self.report.done += len(report.accepted)
            self.report.refused += len(report.refused)
        for permanent, failed in self._failed.items():
            for result in self.ingest.queue.fail_many(failed, permanent=permanent):
                if not result.accepted:
                    self.report.refused += 1
                elif result.state == "dead":
                    self.report.dead += 1
                else:
                    self.report.retried += 1
        self._done, self._failed, self._listings = [], {False: [], True: []}, {}

    def _mark_listings(self) -> None:
        if not self._listings:
            return
        try:
            with self.ingest.db.connection() as conn, conn.transaction():
                for status, entries in self._listings.items():
                    mark_fetched(conn, [listing_id for _, listing_id, _ in entries], status)
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the leases bring the items back
            for entries in self._listings.values():
                for item, _, _ in entries:
                    self.failed_with(item, exc)
            return
        for entries in self._listings.values():
            self._done += [(item, outcome) for item, _, outcome in entries]

    def _snooze_until(self, item: ClaimedItem, result: FetchResult) -> datetime:
        if result.retry_at is not None:
            return result.retry_at
        try:
            health = self.ingest.registry.get(item.source)
            if health.backoff_until is not None:
                return health.backoff_until
        except UnknownSource:
            pass
        return datetime.now(timezone.utc) + BLOCKED_SNOOZE


def drain(ingest: Ingest, queue_name: str, handle_batch: Callable[[list[ClaimedItem], Settlement[R]], None], report: R, *,
          time_budget: float | None = None, batch_size: int | None = None, sources: list[str] | None = None,
          lanes: int | None = None) -> R:
    """Claim and handle batches until the budget is spent or the queue is empty, in `lanes` loops at once
    (default: the settings' `drain_lanes`); each batch is settled when its handler returns. A batch goes
    through fetching, parsing and a database write in turn, each leaving some core or connection idle; lanes
    overlap those phases. A batch is spread over the sites with work (`SiteSpread`, shares sized by what an item
    costs its host), so its pages are fetched several sites at once. Each lane claims its own batches, as
    separate workers would, so the queue's claims keep them apart.

    Sources whose pages are rendered in the browser drain in a lane of their own: a rendered page takes
    seconds (its script, its data request at the host's pace, the render), and a batch is done when its
    slowest page is, so one rendered page in a batch of plain ones would hold forty hosts idle while it
    renders."""
    budget = ingest.settings.time_budget_seconds if time_budget is None else time_budget
    batch_size = batch_size or ingest.settings.batch_size
    lanes = max(1, lanes or ingest.settings.drain_lanes)
    started = time.monotonic()
    rendered = ingest.pages.renders
    plain = SiteSpread(ingest.queue, queue_name, sources, ingest.request_seconds, only=lambda s: not rendered(s))
    browser = SiteSpread(ingest.queue, queue_name, sources, ingest.request_seconds, only=rendered)

    def lane(spread: SiteSpread, lane_report: R) -> R:
        while time.monotonic() - started < budget:
            items = spread.claim(batch_size)
            if not items:
                break
            lane_report.batches += 1
            lane_report.claimed += len(items)
            settlement: Settlement[R] = Settlement(ingest, lane_report)
            try:
                handle_batch(items, settlement)
            finally:  # what was settled stands even if the handler failed; the rest waits out its leases
                settlement.close()
            spread.observe(settlement.requests)
        return lane_report

    spreads = [plain] * lanes + [browser]
    with ThreadPoolExecutor(len(spreads), thread_name_prefix=f"drain-{queue_name}") as pool:
        running = [pool.submit(lane, spread, type(report)()) for spread in spreads]
        for work in running:
            report.add(work.result())
    report.seconds = round(time.monotonic() - started, 3)
    return report
