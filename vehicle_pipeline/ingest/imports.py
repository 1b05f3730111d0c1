"""Draining the import queue: fetch each listing page, parse it, and store the vehicle profile.

Bounded by a time budget, not a count: one run claims batch after batch until the budget is spent or the
queue is empty. Hosts are fetched in parallel (the HTTP client paces each host), every outcome of a fetch
maps to one queue action, and nothing is lost: an item ends done, retried, snoozed or dead with its reason.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from vehicle_pipeline.http import FetchKind, FetchRequest, FetchResult
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import (
    DrainReport,
    drain,
    fail_item,
    page_workers,
    payload_listing_id,
    snooze_until,
    write_batch,
)
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.sources import parser_build
from vehicle_pipeline.store.queue import ClaimedItem, NewItem
from vehicle_pipeline.store.records import (
    ListingWrite,
    PackedBody,
    Page,
    mark_listing,
    mark_unreadable,
    pack_body,
    save_snapshots,
    store_profiles,
)

def _listing_rows(conn, items: list[ClaimedItem]) -> dict[int, tuple]:
    """The registry rows of a batch's listings in one round trip (listing id → row)."""
    ids = sorted({i for i in (payload_listing_id(item) for item in items) if i is not None})
    if not ids:
        return {}
    return {row[0]: row for row in conn.execute(
        "SELECT id, source, url, vehicle_id, etag, last_modified FROM listings WHERE id = ANY(%s::bigint[])",
        (ids,))}


def drain_imports(ingest: Ingest, *, time_budget: float | None = None, batch_size: int | None = None,
                  sources: list[str] | None = None) -> DrainReport:
    report = DrainReport()
    with page_workers() as workers:
        return drain(ingest, "listing_import", lambda items, lane: _import_batch(ingest, items, lane, workers), report,
                     time_budget=time_budget, batch_size=batch_size, sources=sources)


def _import_batch(ingest: Ingest, items: list[ClaimedItem], report: DrainReport, workers: ThreadPoolExecutor) -> None:
    requests = []
    with ingest.db.connection() as conn:
        rows = _listing_rows(conn, items)
    for item in items:
        row = rows.get(payload_listing_id(item))
        url = row[2] if row else item.payload.get("url")
        requests.append(FetchRequest(url, source=item.source, etag=row[4] if row else None,
                                     last_modified=row[5] if row else None, tag=(item, row)))
    # Interleave sources so one slow host does not hold every in-flight slot.
    requests.sort(key=lambda r: hash(r.source) % 7)
    completed: list[tuple[ClaimedItem, dict]] = []
    working = []
    for request, result in ingest.pages.fetch_many(requests, max_in_flight=64):
        item, row = request.tag
        if row is not None and result.kind is FetchKind.OK:
            # Worked on as the pages arrive, while the rest of the batch is still being fetched.
            working.append((item, row, result, workers.submit(_read_page, ingest, item, result)))
            continue
        try:
            outcome = _handle_unfetched(ingest, item, row, result, report)
        except Exception as exc:  # a bug or a database error on one item must not lose the batch
            outcome = None
            fail_item(ingest, item, f"{type(exc).__name__}: {exc}", report)
        if outcome is not None:
            completed.append((item, outcome))
    fetched: list[tuple[ClaimedItem, tuple, FetchResult, VehicleListing | str, PackedBody]] = []
    for item, row, result, work in working:
        try:
            fetched.append((item, row, result, *work.result()))
        except Exception as exc:  # a parser bug on one page must not lose the batch
            fail_item(ingest, item, f"{type(exc).__name__}: {exc}", report)
    completed += _store_pages(ingest, fetched, report)
    if completed:
        done = ingest.queue.complete_many(completed)
        report.done += len(done.accepted)
        report.refused += len(done.refused)


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


def _write_pages(ingest: Ingest, conn, pages: list) -> list:
    """Snapshots of every page (readable or not, so a parser fix can replay them), then the profiles of the
    readable ones; per page, what storing it did or why it could not be read."""
    shas = save_snapshots(conn, [Page(r.final_url, r.status or 200, r.content_type, r.content, packed=packed)
                                 for _, _, r, _, packed in pages])
    readable = [ListingWrite(row[0], row[3], parsed, sha, etag=r.etag, last_modified=r.last_modified)
                for (_, row, r, parsed, _), sha in zip(pages, shas) if isinstance(parsed, VehicleListing)]
    stored = iter(store_profiles(conn, readable, images=not ingest.settings.fast_mode))
    unreadable = [(row[0], sha, item.is_last_attempt)
                  for (item, row, _, parsed, _), sha in zip(pages, shas) if not isinstance(parsed, VehicleListing)]
    mark_unreadable(conn, unreadable)
    return [next(stored) if isinstance(parsed, VehicleListing) else parsed for _, _, _, parsed, _ in pages]


def _store_pages(ingest: Ingest, pages: list, report: DrainReport) -> list[tuple[ClaimedItem, dict]]:
    """Store a batch's fetched pages; returns the completions. Follow-up work (deep extraction, images) is
    queued in one statement before the items complete: a crash in between leaves them to be imported again."""
    results = write_batch(ingest, pages, lambda conn, entries: _write_pages(ingest, conn, entries))
    completed: list[tuple[ClaimedItem, dict]] = []
    follow_ups: list[tuple[ClaimedItem, list[NewItem]]] = []
    for (item, row, _, parsed, packed), stored in zip(pages, results):
        if isinstance(stored, Exception):
            fail_item(ingest, item, f"{type(stored).__name__}: {stored}", report)
            continue
        if isinstance(stored, str):
            fail_item(ingest, item, stored, report)
            continue
        report.images += stored.images
        if stored.vehicle_action == "inserted":
            report.vehicles_new += 1
        else:
            report.vehicles_updated += 1
        mine = _follow_ups(ingest, item, row[0], parsed, packed.sha256)
        if mine:
            follow_ups.append((item, mine))
        completed.append((item, {"result": "stored", "vehicle_id": stored.vehicle_id,
                                 "observation": stored.observation}))
    if follow_ups:
        completed = _enqueue_follow_ups(ingest, follow_ups, completed, report)
    return completed


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
                            priority=item.priority))
    return mine


def _enqueue_follow_ups(ingest: Ingest, follow_ups: list[tuple[ClaimedItem, list[NewItem]]],
                        completed: list[tuple[ClaimedItem, dict]], report: DrainReport) -> list[tuple[ClaimedItem, dict]]:
    """Queue the batch's follow-ups; returns the completions that still stand (an item whose follow-ups could
    not be queued is failed, and retried, as if its own enqueue had failed)."""
    flat = [f for _, fs in follow_ups for f in fs]
    try:
        ingest.queue.enqueue_many(flat)
    except Exception as exc:  # the database is gone or the statement failed: fail these items, keep the rest
        failed = {item.id for item, _ in follow_ups}
        for item, _ in follow_ups:
            fail_item(ingest, item, f"{type(exc).__name__}: {exc}", report)
        return [(item, outcome) for item, outcome in completed if item.id not in failed]
    report.deep_enqueued += sum(1 for f in flat if f.queue == "deep_extraction")
    return completed


def _handle_unfetched(ingest: Ingest, item: ClaimedItem, row, result: FetchResult, report: DrainReport) -> dict | None:
    """Act on a fetch that brought no page to parse (or an item without a registry row). Returns the
    completion result, or None when the item was failed/snoozed."""
    if row is None:
        fail_item(ingest, item, f"listing {item.payload.get('listing_id')} is not in the registry", report, permanent=True)
        return None
    listing_id = row[0]
    kind = result.kind
    if kind is FetchKind.NOT_MODIFIED:
        report.unchanged += 1
        with ingest.db.connection() as conn:
            conn.execute("UPDATE listings SET last_fetched_at = now() WHERE id = %s", (listing_id,))
        return {"result": "not_modified"}
    if kind is FetchKind.GONE:
        report.gone += 1
        with ingest.db.connection() as conn:
            mark_listing(conn, listing_id, "gone")
        return {"result": "gone", "status": result.status}
    if kind in (FetchKind.BLOCKED, FetchKind.RETRY_LATER):
        if kind is FetchKind.BLOCKED:
            report.blocked += 1
        until = snooze_until(ingest, item, result)
        if ingest.queue.snooze(item, until, result.describe(), parked=kind is FetchKind.BLOCKED):
            report.snoozed += 1
        else:
            report.refused += 1
        return None
    fail_item(ingest, item, result.describe(), report)
    return None
