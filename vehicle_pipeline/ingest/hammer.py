"""Live auctions followed to the hammer: the re-fetch scheduling rule.

A live auction's page states when it ends. Waiting for the next index walk (every 6 h) to notice the result
leaves the outcome hours late; instead each import of a live page queues one more import of it a few minutes
after the stated end (the work item's `available_at`). If that fetch finds the auction still live with a later
end (a soft-close extension moved it), the same rule queues the next one at the new end; every change of bid,
bid count and end time on the way is a listing observation (the import records them, store.records).

One rule, one function: `refetch_at_end`. The import drain calls it for each page it stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vehicle_pipeline.model import Outcome, VehicleListing
from vehicle_pipeline.store.queue import PRIORITY_USER, NewItem

# A page still saying "live" this long after its stated end is left to the index walks (a site that never
# settles must not be fetched every few minutes forever).
GIVE_UP_AFTER_END = timedelta(hours=6)
# The payload's "reason" of a re-fetch at an auction's end. The import fetches such a page without conditional
# headers: a 304 would bring no page to read, and the follow-up chain would end there with the outcome unknown.
REASON = "auction end"


def refetch_at_end(source: str, listing_id: int, url: str, listing: VehicleListing, now: datetime,
                   delay: timedelta) -> NewItem | None:
    """The import that fetches a live auction again `delay` after its stated end, or None (not live, no end
    stated, or given up). Keyed by the end it waits for, so re-imports of one live page queue it once, and an
    extension (a new end) queues a new one. A page past its end and still live is fetched again `delay` from
    `now` (keyed by that time: the item running now holds the key of the end it waited for)."""
    if listing.outcome != Outcome.LIVE or listing.ended_at is None:
        return None
    end = listing.ended_at
    if now - end > GIVE_UP_AFTER_END:
        return None
    due = max(end, now) + delay
    waits_for = end if end > now else due
    return NewItem("listing_import", source, f"hammer:{listing_id}:{int(waits_for.timestamp())}",
                   {"listing_id": listing_id, "url": url, "reason": REASON},
                   # ahead of new work: a result minutes after the hammer is what this item is for
                   priority=PRIORITY_USER, available_at=due)
