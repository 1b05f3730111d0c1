"""What every ingest step reports, and the parts of a drain around its loop (`ingest.settle`): claims spread
over the sites with work, the threads for page work, and batch writes that cost one bad record only itself.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import TypeVar

from vehicle_pipeline.store.db import Database, database_unavailable
from vehicle_pipeline.store.queue import ClaimedItem, WorkQueue

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
    """Claims that spread a batch over the sources with work in a queue, a share from each, most urgent first.

    A source is one host ("dealer:<slug>" a dealer's own site, "craigslist:<metro>" a metro's), fetched a page
    at a time at its own pace: a batch of one host's pages is fetched in series (50 pages at 2-5 s apart:
    minutes), while a batch spread over forty hosts is fetched forty pages at a time. Claiming in the queue's
    plain order would hand out one host's pages (items are queued a host at a time). With more sources than
    the batch has room for, `n` of them get an item each, in turn: the sources a batch asked go to the back
    of the line (most urgent first when the line is looked up again, which also drops those that ran dry).

    A batch is done when its slowest host is, so shares are sized to take each host about the same time: in
    inverse proportion to what an item costs its host, the host's seconds per request (`request_seconds`)
    times the requests an item has taken there (`observe`: a rendered page asks for its data too). With equal
    costs the shares are equal; a host whose items cost twice as much gets half the share, instead of every
    batch waiting for it while the others idle."""

    LOOK_AGAIN_SECONDS = 60.0  # sources that ran dry come back when new work for them is due
    _SMOOTHING = 0.3  # weight of a batch's figure in a source's running requests per item

    def __init__(self, queue: WorkQueue, queue_name: str, sources: list[str] | None,
                 request_seconds: Callable[[str], float] | None = None, only: Callable[[str], bool] | None = None):
        self.queue, self.queue_name, self.sources = queue, queue_name, sources
        self.request_seconds = request_seconds or (lambda source: 1.0)
        self.only = only  # the sources this spread claims from, of those `sources` allows (None: all)
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._looked_at = float("-inf")
        self._requests_per_item: dict[str, float] = {}
        self._turn = 0  # where the next batch's extra items start, among sources of equal weight

    def claim(self, n: int) -> list[ClaimedItem]:
        """Up to n items, shared over the sources as their costs say; [] only when no source has claimable
        work."""
        items = self._claim_from(self._sources(), n)
        if not items:  # the sources looked at ran dry: look again once before giving up
            items = self._claim_from(self._sources(look_again=True), n)
        return items

    def observe(self, requests: Mapping[str, Sequence[int]]) -> None:
        """What a batch's items took: per source, the HTTP requests each fetched item sent."""
        with self._lock:
            for source, counts in requests.items():
                if counts:
                    now = max(1.0, sum(counts) / len(counts))
                    before = self._requests_per_item.get(source, now)
                    self._requests_per_item[source] = before + self._SMOOTHING * (now - before)

    def _weight(self, source: str) -> float:
        """Items of `source` per second of its host's time (the inverse of an item's cost)."""
        seconds = max(0.01, self.request_seconds(source)) * self._requests_per_item.get(source, 1.0)
        return 1.0 / seconds

    def _sources(self, look_again: bool = False) -> list[str]:
        with self._lock:
            if look_again or not self._pending or time.monotonic() - self._looked_at > self.LOOK_AGAIN_SECONDS:
                pending = self.queue.pending_sources(self.queue_name, self.sources)
                self._pending = pending if self.only is None else [s for s in pending if self.only(s)]
                self._looked_at = time.monotonic()
            return list(self._pending)

    def _claim_from(self, pending: list[str], n: int) -> list[ClaimedItem]:
        items: list[ClaimedItem] = []
        line = pending[:n]  # at most n sources get an item
        with self._lock:
            weights = [self._weight(source) for source in line]
        bonus = self._bonus(weights, n)
        weight_left = sum(weights)
        for i, (source, weight) in enumerate(zip(line, weights)):
            # What is left, less the items over kept for the sources whose turn it is (`_bonus`), shared by
            # weight over the sources left (a source short of its share leaves its part to those after it):
            # at least one item, one more on its turn.
            left = n - len(items)
            if left <= 0:
                break  # the batch is full
            kept = sum(1 for j in bonus if j >= i)
            share = min(left, max(1, int((left - kept) * weight / weight_left + 1e-9)) + (i in bonus))
            weight_left -= weight
            got = self.queue.claim(self.queue_name, share, sources=[source])
            with self._lock:
                if source in self._pending:  # to the back of the line, served or not: a claim beside another
                    self._pending.remove(source)  # on the same host comes back empty while items are left (the
                    self._pending.append(source)  # other holds them); the next look drops a host that ran dry
            items += got
        if items and len(items) < n:  # sources short of their share: the others make it up, most urgent first
            makeup = self.sources if self.only is None else line
            items += self.queue.claim(self.queue_name, n - len(items), sources=makeup)
        return items

    def _bonus(self, weights: list[float], n: int) -> set[int]:
        """The sources (by place in line) that get one item over their whole part of the batch: those with the
        largest fractions, sources whose fractions tie taking turns from batch to batch (a batch of 80 over 39
        equal hosts has two items over; always the same two hosts would make every batch wait for them)."""
        if not weights:
            return set()
        exact = [n * w / sum(weights) for w in weights]
        extra = max(0, n - sum(max(1, int(e + 1e-9)) for e in exact))
        with self._lock:
            turn = self._turn
            self._turn = turn + extra
        order = sorted(range(len(weights)), key=lambda i: (-round(exact[i] - int(exact[i] + 1e-9), 2),
                                                           (i - turn) % len(weights)))
        return set(order[:extra])


PAGE_WORKERS = min(4, os.cpu_count() or 2)


def page_workers() -> ThreadPoolExecutor:
    """Threads for the per-page CPU work of a drain: parsing, hashing, compressing and decompressing pages.
    lexbor's parse, zstd and hashlib release the GIL, and they are most of that work on a real-sized page,
    so pages are worked on with every core while the main thread fetches and writes."""
    return ThreadPoolExecutor(PAGE_WORKERS, thread_name_prefix="page-work")


E = TypeVar("E")


def write_batch(db: Database, entries: Sequence[E], write: Callable[[object, list[E]], list]) -> list:
    """Write a batch's entries in one transaction (a few multi-row statements instead of several per entry);
    if that fails, write each alone so one bad record costs only itself. Returns, per entry, what `write`
    returned for it or the exception that stopped it."""
    if not entries:
        return []
    try:
        with db.connection() as conn, conn.transaction():
            return list(write(conn, list(entries)))
    except Exception as exc:
        if database_unavailable(exc):
            raise  # nothing one entry at a time would do better; the claims' leases bring the items back
        if len(entries) == 1:
            return [exc]
    results = []
    for entry in entries:
        try:
            with db.connection() as conn, conn.transaction():
                results.append(write(conn, [entry])[0])
        except Exception as exc:
            if database_unavailable(exc):
                raise
            results.append(exc)
    return results
