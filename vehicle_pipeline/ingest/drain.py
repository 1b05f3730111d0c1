"""Draining a queue within a time budget, and what every ingest step reports.

One run claims batch after batch until its budget is spent or the queue is empty (a run costs seconds to
start, so never one run per item); each batch is handed to the step's batch handler.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone

import psycopg

from vehicle_pipeline import sources as source_modules
from vehicle_pipeline.http import FetchResult
from vehicle_pipeline.store.queue import ClaimedItem

BLOCKED_SNOOZE = timedelta(minutes=15)
MAX_ERRORS_KEPT = 20


@dataclass
class StepReport:
    """Numbers for an asset's metadata; `errors` (and other non-numeric fields) go to the run log."""

    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    _NOT_METADATA = ("errors",)

    def metadata(self) -> dict:
        out = asdict(self)
        for name in self._NOT_METADATA:
            out.pop(name, None)
        return out

    def note(self, error: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def add(self, other: StepReport) -> None:
        """Fold in the counts of a report of the same kind (a drain lane's)."""
        for f in fields(self):
            if f.name == "errors":
                for error in other.errors:
                    self.note(error)
            elif f.name != "seconds":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class DrainReport(StepReport):
    claimed: int = 0
    done: int = 0
    unchanged: int = 0
    gone: int = 0
    retried: int = 0
    dead: int = 0
    snoozed: int = 0
    blocked: int = 0
    refused: int = 0  # writes refused by the fencing token (our lease was lost to another worker)
    vehicles_new: int = 0
    vehicles_updated: int = 0
    deep_enqueued: int = 0
    images: int = 0
    batches: int = 0


def payload_listing_id(item: ClaimedItem) -> int | None:
    """The listing a queue item is about; a malformed payload reads as none (and the item fails)."""
    value = item.payload.get("listing_id")
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


class SiteSpread:
    """Claims that spread a batch over the sites with work in a queue: a share of the batch from each site
    (a family of sources: "dealer:a" and "dealer:b" are one), most urgent site first.

    A site is fetched a page at a time at its own pace, so a batch of one site's pages is fetched in series
    (50 pages at 2-5 s apart: minutes), while a batch spread over six sites is fetched six pages at a time.
    Claiming in the queue's plain order would hand out one site's pages (items are queued a site at a time)."""

    LOOK_AGAIN_SECONDS = 60.0  # sites that ran dry come back when new work for them is due

    def __init__(self, queue, queue_name: str, sources: list[str] | None):
        self.queue, self.queue_name, self.sources = queue, queue_name, sources
        self._lock = threading.Lock()
        self._families: list[list[str]] = []
        self._looked_at = float("-inf")

    def claim(self, n: int) -> list:
        """Up to n items, about n / sites from each site; [] only when no site has claimable work."""
        items = self._claim_from(self._sites(), n)
        if not items:  # the sites looked at ran dry: look again once before giving up
            items = self._claim_from(self._sites(look_again=True), n)
        return items

    def _sites(self, look_again: bool = False) -> list[list[str]]:
        with self._lock:
            if look_again or not self._families or time.monotonic() - self._looked_at > self.LOOK_AGAIN_SECONDS:
                families: dict[str, list[str]] = {}
                for source in self.queue.pending_sources(self.queue_name, self.sources):
                    families.setdefault(source_modules.family(source), []).append(source)
                self._families = list(families.values())
                self._looked_at = time.monotonic()
            return list(self._families)

    def _claim_from(self, families: list[list[str]], n: int) -> list:
        items: list = []
        for i, family in enumerate(families):
            share = -(-(n - len(items)) // (len(families) - i))  # what is left, over the sites left
            got = self.queue.claim(self.queue_name, share, sources=family)
            if not got:
                with self._lock:
                    if family in self._families:
                        self._families.remove(family)
            items += got
        if items and len(items) < n:  # sites short of their share: the others make it up, most urgent first
            items += self.queue.claim(self.queue_name, n - len(items), sources=self.sources)
        return items


def drain(ingest, queue_name: str, handle_batch: Callable[[list[ClaimedItem], DrainReport], None],
          report: DrainReport, *, time_budget: float | None = None, batch_size: int | None = None,
          sources: list[str] | None = None, lanes: int | None = None) -> DrainReport:
    """Claim and handle batches until the budget is spent or the queue is empty, in `lanes` loops at once
    (default: the settings' `drain_lanes`). A batch goes through fetching, parsing and a database write in
    turn, each leaving some core or connection idle; lanes overlap those phases. A batch is spread over the
    sites with work (`SiteSpread`), so its pages are fetched several sites at once. Each lane claims its own
    batches, as separate workers would, so the queue's claims keep them apart."""
    budget = ingest.settings.time_budget_seconds if time_budget is None else time_budget
    batch_size = batch_size or ingest.settings.batch_size
    lanes = max(1, lanes or ingest.settings.drain_lanes)
    started = time.monotonic()
    spread = SiteSpread(ingest.queue, queue_name, sources)

    def lane(lane_report: DrainReport) -> DrainReport:
        while time.monotonic() - started < budget:
            items = spread.claim(batch_size)
            if not items:
                break
            lane_report.batches += 1
            lane_report.claimed += len(items)
            handle_batch(items, lane_report)
        return lane_report

    if lanes == 1:
        lane(report)
    else:
        with ThreadPoolExecutor(lanes, thread_name_prefix=f"drain-{queue_name}") as pool:
            running = [pool.submit(lane, type(report)()) for _ in range(lanes)]
            for work in running:
                report.add(work.result())
    report.seconds = round(time.monotonic() - started, 3)
    return report


PAGE_WORKERS = min(4, os.cpu_count() or 2)


def page_workers() -> ThreadPoolExecutor:
    """Threads for the per-page CPU work of a drain: parsing, hashing, compressing and decompressing pages.
    lexbor's parse, zstd and hashlib release the GIL, and they are most of that work on a real-sized page,
    so pages are worked on with every core while the main thread fetches and writes."""
    return ThreadPoolExecutor(PAGE_WORKERS, thread_name_prefix="page-work")


def write_batch(ingest, entries: list, write: Callable[[object, list], list]) -> list:
    """Write a batch's entries in one transaction (a few multi-row statements instead of several per entry);
    if that fails, write each alone so one bad record costs only itself. Returns, per entry, what `write`
    returned for it or the exception that stopped it."""
    if not entries:
        return []
    try:
        with ingest.db.connection() as conn, conn.transaction():
            return list(write(conn, entries))
    except Exception as exc:
        if _database_gone(exc):
            raise  # nothing one entry at a time would do better; the claims' leases bring the items back
        if len(entries) == 1:
            return [exc]
    results = []
    for entry in entries:
        try:
            with ingest.db.connection() as conn, conn.transaction():
                results.append(write(conn, [entry])[0])
        except Exception as exc:
            if _database_gone(exc):
                raise
            results.append(exc)
    return results


def _database_gone(exc: Exception) -> bool:
    # A deadlock or serialization failure is the batch's own problem; any other operational error means
    # the server or the connection went away.
    return isinstance(exc, psycopg.OperationalError) and not (getattr(exc, "sqlstate", None) or "").startswith("40")


def fail_item(ingest, item: ClaimedItem, error: str, report: DrainReport, *, permanent: bool = False) -> None:
    """Consume the item's attempt: a retry later, or dead after the last one; the reason is kept."""
    result = ingest.queue.fail(item, error, permanent=permanent)
    if not result.accepted:
        report.refused += 1
    elif result.state == "dead":
        report.dead += 1
    else:
        report.retried += 1
    report.note(f"{item.dedupe_key}: {error}")


def snooze_until(ingest, item: ClaimedItem, result: FetchResult) -> datetime:
    """When to try a blocked or rate-limited item again: the site's word, else the source's backoff."""
    if result.retry_at is not None:
        return result.retry_at
    try:
        health = ingest.registry.get(item.source)
        if health.backoff_until is not None:
            return health.backoff_until
    except KeyError:
        pass
    return datetime.now(timezone.utc) + BLOCKED_SNOOZE
