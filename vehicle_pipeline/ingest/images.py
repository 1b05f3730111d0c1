"""Image rows deferred by fast mode: taken later from the page snapshot the import already stored.

Fast mode keeps imports lean (no image rows while a big backlog drains); the `image_fetch` queue then
holds one item per listing, and the first drain run without fast mode works it off without fetching again.
"""

from __future__ import annotations

from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import DrainReport, payload_listing_id
from vehicle_pipeline.ingest.settle import Settlement, drain
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.store.listings import listing_snapshot_ref
from vehicle_pipeline.store.queue import ClaimedItem
from vehicle_pipeline.store.records import load_snapshot, save_images_many


def drain_images(ingest: Ingest, *, time_budget: float | None = None, batch_size: int | None = None) -> DrainReport:
    return drain(ingest, "image_fetch", lambda items, settle: _images_batch(ingest, items, settle), DrainReport(),
                 time_budget=time_budget, batch_size=batch_size)


def _images_batch(ingest: Ingest, items: list[ClaimedItem], settle: Settlement[DrainReport]) -> None:
    for item in items:
        with ingest.db.connection() as conn:
            listing = listing_snapshot_ref(conn, payload_listing_id(item))
            stored = load_snapshot(conn, listing.last_snapshot) if listing and listing.last_snapshot else None
        if stored is None:
            settle.fail(item, "no stored page to take the images from", permanent=True)
            continue
        try:
            parsed = ingest.module(item.source).parse(stored[1], url=stored[0])
        except ParseError as exc:
            settle.fail(item, f"parse error: {exc}")
            continue
        images = parsed.images if isinstance(parsed, VehicleListing) else []
        with ingest.db.connection() as conn:
            added = save_images_many(conn, [(listing.id, listing.vehicle_id, images)])[0]
        settle.report.images += added
        settle.done(item, {"images": added})
