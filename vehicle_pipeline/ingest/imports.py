"""Draining the import queue: fetch each listing page, parse it, and store the vehicle profile.

Bounded by a time budget, not a count: one run claims batch after batch until the budget is spent or the
queue is empty. Hosts are fetched in parallel (the HTTP client paces each host), every outcome of a fetch
maps to one queue action, and nothing is lost: an item ends done, retried, snoozed or dead with its reason.
"""

from __future__ import annotations

from contextlib import nullcontext

from vehicle_pipeline.http import FetchKind, FetchRequest, FetchResult
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, drain, fail_item, payload_listing_id, snooze_until
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.store.queue import ClaimedItem, NewItem
from vehicle_pipeline.store.records import (
    mark_listing,
    record_observation,
    save_images,
    save_snapshot,
    update_listing,
    upsert_vehicle,
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
    return drain(ingest, "listing_import", lambda items: _import_batch(ingest, items, report), report,
                 time_budget=time_budget, batch_size=batch_size, sources=sources)


def _import_batch(ingest: Ingest, items: list[ClaimedItem], report: DrainReport) -> None:
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
    # Follow-up work (deep extraction, images) of the stored items, queued in one statement per batch,
    # before the items are completed: a crash in between leaves the items to be imported again.
    follow_ups: list[tuple[ClaimedItem, list[NewItem]]] = []
    for request, result in ingest.client.fetch_many(requests, max_in_flight=64):
        item, row = request.tag
        item_follow_ups: list[NewItem] = []
        try:
            outcome = _handle(ingest, item, row, result, report, item_follow_ups)
        except Exception as exc:  # a bug or a database error on one item must not lose the batch
            outcome = None
            fail_item(ingest, item, f"{type(exc).__name__}: {exc}", report)
        if outcome is not None:
            completed.append((item, outcome))
            if item_follow_ups:
                follow_ups.append((item, item_follow_ups))
    if follow_ups:
        completed = _enqueue_follow_ups(ingest, follow_ups, completed, report)
    if completed:
        done = ingest.queue.complete_many(completed)
        report.done += len(done.accepted)
        report.refused += len(done.refused)


def _enqueue_follow_ups(ingest: Ingest, follow_ups: list[tuple[ClaimedItem, list[NewItem]]],
                        completed: list[tuple[ClaimedItem, dict]], report: DrainReport) -> list[tuple[ClaimedItem, dict]]:
    """Queue the batch's follow-ups; returns the completions that still stand (an item whose follow-ups could
    not be queued is failed, and retried, as if its own enqueue had failed)."""
    flat = [f for _, fs in follow_ups for f in fs]
    try:
        queued = ingest.queue.enqueue_many(flat)
    except Exception as exc:  # the database is gone or the statement failed: fail these items, keep the rest
        failed = {item.id for item, _ in follow_ups}
        for item, _ in follow_ups:
            fail_item(ingest, item, f"{type(exc).__name__}: {exc}", report)
        return [(item, outcome) for item, outcome in completed if item.id not in failed]
    report.deep_enqueued += sum(1 for f, r in zip(flat, queued) if f.queue == "deep_extraction")
    return completed


def _handle(ingest: Ingest, item: ClaimedItem, row, result: FetchResult, report: DrainReport,
            follow_ups: list[NewItem] | None = None) -> dict | None:
    """Act on one fetch result. Returns the completion result, or None when the item was failed/snoozed.
    With `follow_ups`, the stored listing's follow-up work is appended there for the caller to queue."""
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
    if kind is not FetchKind.OK:
        fail_item(ingest, item, result.describe(), report)
        return None

    module = ingest.module(item.source)
    # One connection for the snapshot, the parse outcome and the stored listing (one pool checkout per item).
    with ingest.db.connection() as conn:
        snapshot = save_snapshot(conn, result.final_url, result.status or 200, result.content_type, result.content)
        try:
            parsed = module.parse(result.content, url=result.final_url)
        except ParseError as exc:
            if item.is_last_attempt:
                mark_listing(conn, listing_id, "unparseable")
            conn.execute("UPDATE listings SET last_snapshot = %s WHERE id = %s", (snapshot, listing_id))
            parsed, error = None, f"parse error: {exc}"
        else:
            error = None if isinstance(parsed, VehicleListing) else (
                f"expected a listing page at {result.final_url}, got {type(parsed).__name__}")
        if error is None:
            return store_listing(ingest, item, listing_id, row[3], parsed, snapshot, result, report, conn=conn,
                                 follow_ups=follow_ups)
    fail_item(ingest, item, error, report)
    return None


def store_listing(ingest: Ingest, item: ClaimedItem | None, listing_id: int, vehicle_id: int | None,
                  parsed: VehicleListing, snapshot: bytes | None, result: FetchResult | None,
                  report: DrainReport, *, conn=None, follow_ups: list[NewItem] | None = None) -> dict:
    """Persist one parsed listing page in one transaction; queue its deep extraction if it is an auction.

    `conn`: a connection the caller already holds (else one from the pool). `follow_ups`: append the
    follow-up work there for the caller to queue in bulk (else it is queued here)."""
    # Pipeline mode: BEGIN rides with the first statement and statements whose results are not read yet
    # travel together (4 round trips instead of 6); the transaction is the same.
    with (nullcontext(conn) if conn is not None else ingest.db.connection()) as conn, conn.pipeline(), \
            conn.transaction():
        vehicle_id, vehicle_action = upsert_vehicle(conn, parsed, vehicle_id)
        update_listing(conn, listing_id, parsed, vehicle_id, snapshot,
                       etag=result.etag if result else None, last_modified=result.last_modified if result else None)
        changed = record_observation(conn, listing_id, parsed, snapshot)
        if parsed.images and not ingest.settings.fast_mode:
            report.images += save_images(conn, listing_id, vehicle_id, parsed.images)
    if vehicle_action == "inserted":
        report.vehicles_new += 1
    else:
        report.vehicles_updated += 1
    mine = []
    if parsed.images and ingest.settings.fast_mode:
        mine.append(NewItem("image_fetch", parsed.source if item is None else item.source,
                                  f"images:{listing_id}", {"listing_id": listing_id}, priority=50))
    if parsed.is_auction:
        mine.append(NewItem("deep_extraction", item.source if item else parsed.source,
                                  f"deep:{listing_id}", {"listing_id": listing_id},
                                  priority=item.priority if item else 100))
    if mine and follow_ups is not None:
        follow_ups.extend(mine)
    elif mine:
        queued = ingest.queue.enqueue_many(mine)
        report.deep_enqueued += sum(1 for f, r in zip(mine, queued) if f.queue == "deep_extraction")
    return {"result": "stored", "vehicle_id": vehicle_id, "observation": changed}
