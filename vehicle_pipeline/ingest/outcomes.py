"""Draining the deep-extraction queue: auction outcomes, prices, counts, and BaT comments and bids.

The import parses an auction page once, deep, and its item carries that parse with the snapshot it is of:
while that snapshot is still the listing's latest, extraction stores the carried parse as it is. Otherwise
(a newer page since, a repair, a parser fix to replay) it re-parses the latest stored snapshot (no second
fetch); it fetches only when there is no snapshot, or when the item asks for a fresh copy (`refetch`, used
by repairs of stale records).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from vehicle_pipeline.http import FetchKind, FetchRequest
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, page_workers, payload_listing_id, write_batch
from vehicle_pipeline.ingest.settle import Settlement, drain
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.sources import parser_build
from vehicle_pipeline.store.listings import ListingPage, listings_with_pages
from vehicle_pipeline.store.queue import ClaimedItem
from vehicle_pipeline.store.records import ListingWrite, save_snapshot, snapshot_body, store_auctions


@dataclass
class OutcomeReport(DrainReport):
    events_new: int = 0
    events_updated: int = 0
    events_unchanged: int = 0
    comments_new: int = 0
    fetched: int = 0
    reparsed: int = 0  # stored pages parsed again: the item carried no parse of the listing's latest page


def drain_outcomes(ingest: Ingest, *, time_budget: float | None = None, batch_size: int | None = None,
                   sources: list[str] | None = None) -> OutcomeReport:
    with page_workers() as workers:
        return drain(ingest, "deep_extraction", lambda items, settle: _extract_batch(ingest, items, settle, workers),
                     OutcomeReport(), time_budget=time_budget, batch_size=batch_size, sources=sources)


def _deep_parse(ingest: Ingest, source: str, url: str, body: bytes):
    """The deep parse of a page; runs on a page worker."""
    return ingest.module(source).parse(body, url=url, deep=True)


def _deep_parse_snapshot(ingest: Ingest, source: str, url: str, compression: str | None, stored: bytes):
    """The deep parse of a stored snapshot; runs on a page worker (decompressing releases the GIL too)."""
    return _deep_parse(ingest, source, url, snapshot_body(compression, stored))


def _carried_parse(item: ClaimedItem) -> tuple[bytes, VehicleListing] | None:
    """The deep parse the item carries (the import parsed the page once, deep) and the snapshot it is of; None
    when it carries none, one made by another build of the parsers, or one that does not read back (that
    page is parsed again, never trusted half-way)."""
    if item.payload.get("refetch") or not isinstance(item.payload.get("parsed"), dict) \
            or item.payload.get("parser") != parser_build():
        return None
    try:
        return bytes.fromhex(item.payload["snapshot"]), VehicleListing.from_record(item.payload["parsed"])
    except (KeyError, TypeError, ValueError):
        return None


def _listings_and_pages(ingest: Ingest, items: list[ClaimedItem],
                        carried: dict[int, tuple[bytes, VehicleListing]]) -> dict[int, ListingPage]:
    """The batch's listings and their latest stored pages in one round trip (not two per item). A snapshot's
    body is read only when it will be parsed: not when the items carry the parse of that very snapshot."""
    shas: dict[int, bytes | None] = {}
    for item in items:
        listing_id = payload_listing_id(item)
        if listing_id is not None:
            sha = carried[item.id][0] if item.id in carried else None
            shas[listing_id] = sha if shas.get(listing_id, sha) == sha else None
    with ingest.db.connection() as conn:
        return listings_with_pages(conn, shas)


def _extract_batch(ingest: Ingest, items: list[ClaimedItem], settle: Settlement[OutcomeReport],
                   workers: ThreadPoolExecutor) -> None:
    report = settle.report
    pages: dict[int, tuple[Future, str, bytes]] = {}  # item id → (its deep parse, url, snapshot sha)
    rows: dict[int, ListingPage] = {}
    to_fetch = []
    carried = {item.id: c for item in items if (c := _carried_parse(item)) is not None}
    found = _listings_and_pages(ingest, items, carried)
    for item in items:
        row = found.get(payload_listing_id(item))
        if row is None:
            settle.fail(item, f"listing {item.payload.get('listing_id')} is not in the registry", permanent=True)
            continue
        rows[item.id] = row
        if row.last_snapshot is not None and row.page_url is not None and not item.payload.get("refetch"):
            sha = bytes(row.last_snapshot)
            if row.body is None and carried.get(item.id, (None,))[0] == sha:
                work = Future()
                work.set_result(carried[item.id][1])
            else:
                report.reparsed += 1
                work = workers.submit(_deep_parse_snapshot, ingest, item.source, row.page_url, row.compression,
                                      row.body)
            pages[item.id] = (work, row.page_url, sha)
        else:
            to_fetch.append(FetchRequest(row.url, source=item.source, tag=item))
    by_id = {item.id: item for item in items}
    for request, result in ingest.pages.fetch_many(to_fetch):
        item = request.tag
        report.fetched += 1
        settle.sent(item, result)
        if result.kind is FetchKind.OK:
            with ingest.db.connection() as conn:
                sha = save_snapshot(conn, result.final_url, result.status or 200, result.content_type, result.content,
                                    headers=result.headers)
            pages[item.id] = (workers.submit(_deep_parse, ingest, item.source, result.final_url, result.content),
                              result.final_url, sha)
        else:
            settle.fetched(item, rows[item.id].id, result)

    parsed_pages: list[tuple[ClaimedItem, ListingWrite]] = []
    for item_id, (work, url, sha) in pages.items():
        item = by_id[item_id]
        row = rows[item_id]
        try:
            parsed = work.result()
            if not isinstance(parsed, VehicleListing) or parsed.outcome is None:
                raise ParseError(item.source, url, "an auction listing page (no outcome found)")
        except ParseError as exc:
            settle.fail(item, f"parse error: {exc}")
            continue
        except Exception as exc:  # one bad record must not lose the batch
            settle.failed_with(item, exc)
            continue
        parsed_pages.append((item, ListingWrite(row.id, row.vehicle_id, parsed, sha)))
    results = write_batch(ingest.db, [w for _, w in parsed_pages], store_auctions)
    for (item, write), stored in zip(parsed_pages, results):
        if isinstance(stored, Exception):
            settle.failed_with(item, stored)
            continue
        report.comments_new += stored.comments_new
        if stored.event == "inserted":
            report.events_new += 1
        elif stored.event == "updated":
            report.events_updated += 1
        else:
            report.events_unchanged += 1
        settle.done(item, {"result": stored.event, "outcome": str(write.listing.outcome),
                           "comments_new": stored.comments_new})
