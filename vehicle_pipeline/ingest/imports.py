"""Draining the import queue: fetch each listing page, parse it, and store the vehicle profile.

Bounded by a time budget, not a count: one run claims batch after batch until the budget is spent or the
queue is empty (`ingest.settle.drain`). Hosts are fetched in parallel (the HTTP client paces each host); what
became of each item is settled with the queue by `ingest.settle.Settlement`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from vehicle_pipeline.http import FetchKind, FetchRequest, FetchResult
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, page_workers, payload_listing_id, write_batch
from vehicle_pipeline.ingest.hammer import REASON as HAMMER_REASON
from vehicle_pipeline.ingest.hammer import refetch_at_end
from vehicle_pipeline.ingest.settle import Settlement, drain
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.sources import parser_build
from vehicle_pipeline.store.listings import ListingToFetch, listings_to_fetch
from vehicle_pipeline.store.parses import parse_record, record_parses
from vehicle_pipeline.store.queue import ClaimedItem, NewItem
from vehicle_pipeline.store.records import (
    ListingWrite,
    PackedBody,
    Page,
    mark_unreadable,
    pack_body,
    save_snapshots,
    store_profiles,
)

# A fetched page on its way to the database: the item, its listing, the fetch, the parse (or why there is
# none) and the page packed as a snapshot.
Fetched = tuple[ClaimedItem, ListingToFetch, FetchResult, VehicleListing | str, PackedBody]


def drain_imports(ingest: Ingest, *, time_budget: float | None = None, batch_size: int | None = None,
                  sources: list[str] | None = None) -> DrainReport:
    with page_workers() as workers:
        return drain(ingest, "listing_import", lambda items, settle: _import_batch(ingest, items, settle, workers),
                     DrainReport(), time_budget=time_budget, batch_size=batch_size, sources=sources)


def _import_batch(ingest: Ingest, items: list[ClaimedItem], settle: Settlement[DrainReport],
                  workers: ThreadPoolExecutor) -> None:
    with ingest.db.connection() as conn:
        rows = listings_to_fetch(conn, {i for i in map(payload_listing_id, items) if i is not None})
    requests = []
    for item in items:
        row = rows.get(payload_listing_id(item))
        if row is None:
            settle.fail(item, f"listing {item.payload.get('listing_id')} is not in the registry", permanent=True)
            continue
        conditional = item.payload.get("reason") != HAMMER_REASON  # see ingest.hammer.REASON
        requests.append(FetchRequest(row.url, source=item.source, etag=row.etag if conditional else None,
                                     last_modified=row.last_modified if conditional else None, tag=(item, row)))
    # Interleave sources so one slow host does not hold every in-flight slot.
    requests.sort(key=lambda r: hash(r.source) % 7)
    working = []
    for request, result in ingest.pages.fetch_many(requests, max_in_flight=64):
        item, row = request.tag
        settle.sent(item, result)
        if result.kind is FetchKind.OK:
            # Worked on as the pages arrive, while the rest of the batch is still being fetched.
            working.append((item, row, result, workers.submit(_read_page, ingest, item, result)))
        else:
            settle.fetched(item, row.id, result)
    fetched: list[Fetched] = []
    for item, row, result, work in working:
        try:
            fetched.append((item, row, result, *work.result()))
        except Exception as exc:  # a parser bug on one page must not lose the batch
            settle.failed_with(item, exc)
    _store_pages(ingest, fetched, settle)


def _read_page(ingest: Ingest, item: ClaimedItem, result: FetchResult) -> tuple[VehicleListing | str, PackedBody]:
    """A fetched page's listing (or why it holds none) and its snapshot form; runs on a page worker."""
    return _parse(ingest, item, result), pack_body(result.content)


def _parse(ingest: Ingest, item: ClaimedItem, result: FetchResult) -> VehicleListing | str:
    """The listing a page holds, or why it holds none. An auction page is parsed deep here, once: its deep
    extraction item carries the result (a second parse of a 400 KB page would cost as much as the first)."""
    module = ingest.module(item.source)
    try:
        parsed = module.parse(result.content, url=result.final_url, deep=module.is_auction)
    except ParseError as exc:
        return f"parse error: {exc}"
    if not isinstance(parsed, VehicleListing):
        return f"expected a listing page at {result.final_url}, got {type(parsed).__name__}"
    return parsed


def _write_pages(ingest: Ingest, conn, pages: list[Fetched]) -> list:
    """Snapshots of every page (readable or not, so a parser fix can replay them), then the profiles of the
    readable ones; per page, what storing it did or why it could not be read."""
    shas = save_snapshots(conn, [Page(r.final_url, r.status or 200, r.content_type, r.content, packed=packed,
                                      headers=r.headers)
                                 for _, _, r, _, packed in pages])
    record_parses(conn, [parse_record(item.source, "listing", parsed, sha, r.final_url)
                         for (item, _, r, parsed, _), sha in zip(pages, shas)])
    readable = [ListingWrite(row.id, row.vehicle_id, parsed, sha, etag=r.etag, last_modified=r.last_modified)
                for (_, row, r, parsed, _), sha in zip(pages, shas) if isinstance(parsed, VehicleListing)]
    stored = iter(store_profiles(conn, readable, images=not ingest.settings.fast_mode))
    unreadable = [(row.id, sha, item.is_last_attempt)
                  for (item, row, _, parsed, _), sha in zip(pages, shas) if not isinstance(parsed, VehicleListing)]
    mark_unreadable(conn, unreadable)
    return [next(stored) if isinstance(parsed, VehicleListing) else parsed for _, _, _, parsed, _ in pages]


def _store_pages(ingest: Ingest, pages: list[Fetched], settle: Settlement[DrainReport]) -> None:
    """Store a batch's fetched pages and settle their items. Follow-up work (deep extraction, images) is queued
    in one statement before the items complete: a crash in between leaves them to be imported again."""
    report = settle.report
    results = write_batch(ingest.db, pages, lambda conn, entries: _write_pages(ingest, conn, entries))
    completed: list[tuple[ClaimedItem, dict, list[NewItem]]] = []
    for (item, row, _, parsed, packed), stored in zip(pages, results):
        if isinstance(stored, Exception):
            settle.failed_with(item, stored)
            continue
        if isinstance(stored, str):
            settle.fail(item, stored)
            continue
        report.images += stored.images
        if stored.vehicle_action == "inserted":
            report.vehicles_new += 1
        else:
            report.vehicles_updated += 1
        completed.append((item, {"result": "stored", "vehicle_id": stored.vehicle_id,
                                 "observation": stored.observation},
                          _follow_ups(ingest, item, row.id, parsed, packed.sha256)))
    follow_ups = [f for _, _, mine in completed for f in mine]
    try:
        ingest.queue.enqueue_many(follow_ups)
    except Exception as exc:  # the statement failed: the items that had follow-ups fail (and are retried)
        for item, outcome, mine in completed:
            if mine:
                settle.failed_with(item, exc)
            else:
                settle.done(item, outcome)
        return
    report.deep_enqueued += sum(1 for f in follow_ups if f.queue == "deep_extraction")
    for item, outcome, _ in completed:
        settle.done(item, outcome)


def _follow_ups(ingest: Ingest, item: ClaimedItem, listing_id: int, parsed: VehicleListing,
                snapshot: bytes) -> list[NewItem]:
    mine = []
    if parsed.images and ingest.settings.fast_mode:
        mine.append(NewItem("image_fetch", item.source, f"images:{listing_id}", {"listing_id": listing_id},
                            priority=50))
    if parsed.is_auction:
        # The page's deep parse rides along, tied to its snapshot: extraction stores it as it is while that
        # snapshot is still the listing's latest, and parses the latest snapshot otherwise.
        mine.append(NewItem("deep_extraction", item.source, f"deep:{listing_id}",
                            {"listing_id": listing_id, "snapshot": snapshot.hex(), "parsed": parsed.to_record(),
                             "parser": parser_build()},
                            priority=item.priority, max_attempts=ingest.settings.max_attempts))
    follow = refetch_at_end(item.source, listing_id, parsed.url, parsed, datetime.now(timezone.utc),
                            timedelta(seconds=ingest.settings.refetch_after_end_seconds))
    if follow is not None:
        mine.append(follow)
    return mine
