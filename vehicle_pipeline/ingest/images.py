"""Image rows deferred by fast mode: taken later from the page snapshot the import already stored.

Fast mode keeps imports lean (no image rows while a big backlog drains); the `image_fetch` queue then
holds one item per listing, and the first drain run without fast mode works it off without fetching again.
"""

from __future__ import annotations

from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, drain, fail_item
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.store.queue import ClaimedItem
from vehicle_pipeline.store.records import load_snapshot, save_images_many


def drain_images(ingest: Ingest, *, time_budget: float | None = None, batch_size: int | None = None) -> DrainReport:
    report = DrainReport()
    return drain(ingest, "image_fetch", lambda items, lane: _images_batch(ingest, items, lane), report,
                 time_budget=time_budget, batch_size=batch_size)


def _images_batch(ingest: Ingest, items: list[ClaimedItem], report: DrainReport) -> None:
    completed = []
    for item in items:
        with ingest.db.connection() as conn:
            row = conn.execute("SELECT id, vehicle_id, last_snapshot FROM listings WHERE id = %s",
                               (item.payload.get("listing_id"),)).fetchone()
            stored = load_snapshot(conn, bytes(row[2])) if row and row[2] is not None else None
        if stored is None:
            fail_item(ingest, item, "no stored page to take the images from", report, permanent=True)
            continue
        try:
            parsed = ingest.module(item.source).parse(stored[1], url=stored[0])
        except ParseError as exc:
            fail_item(ingest, item, f"parse error: {exc}", report)
            continue
        images = parsed.images if isinstance(parsed, VehicleListing) else []
        with ingest.db.connection() as conn:
            added = save_images_many(conn, [(row[0], row[1], images)])[0]
        report.images += added
        completed.append((item, {"images": added}))
    if completed:
        done = ingest.queue.complete_many(completed)
        report.done += len(done.accepted)
        report.refused += len(done.refused)
