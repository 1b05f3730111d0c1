"""An item's whole story, by its correlation id: the walk that found it, every claim and attempt of every work
item about it (with the worker, "run:<dagster run id>", and the error), the pages fetched, and the vehicle and
auction rows written. The events come from `work_item_events` (kept by triggers, sql/010).

`find` takes what an operator has at hand: a listing URL, a VIN, a work item id, a listing id ("listing:<id>"),
a queue key ("bat:123", "deep:456") or the correlation id itself.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$", re.IGNORECASE)


class NotFound(LookupError):
    pass


def find(conn, what: str) -> list[uuid.UUID]:
    """The correlation ids `what` names (a VIN may name several listings); NotFound when none."""
    what = what.strip()
    ids: list = []
    try:
        ids = [uuid.UUID(what)]
    except ValueError:
        pass
    if not ids and what.isdigit():  # a work item id: its events outlive the item itself
        ids = _column(conn, """SELECT correlation_id FROM work_item_events WHERE item_id = %s
                               UNION SELECT correlation_id FROM work_items WHERE id = %s""", (int(what), int(what)))
    if not ids and what.startswith("listing:") and what[8:].isdigit():
        ids = _column(conn, "SELECT correlation_id FROM listings WHERE id = %s", (int(what[8:]),))
    if not ids and "://" in what:
        ids = _column(conn, "SELECT correlation_id FROM listings WHERE url = %s OR url = %s ORDER BY id",
                      (what, what.rstrip("/") if what.endswith("/") else what + "/"))
    if not ids and _VIN.match(what):
        ids = _column(conn, """SELECT l.correlation_id FROM listings l JOIN vehicles v ON v.id = l.vehicle_id
                               WHERE upper(v.vin) = upper(%s) ORDER BY l.id""", (what,))
    if not ids:
        ids = _column(conn, "SELECT DISTINCT correlation_id FROM work_items WHERE dedupe_key = %s", (what,))
    if not ids:
        raise NotFound(f"nothing found for {what!r} (try a listing URL, a VIN, a work item id, listing:<id>, "
                       "a queue key such as bat:123, or a correlation id)")
    return list(dict.fromkeys(ids))


def _column(conn, sql: str, params) -> list:
    return [r[0] for r in conn.execute(sql, params)]


def _rows(conn, sql: str, params) -> list[dict[str, Any]]:
    cur = conn.execute(sql, params)
    cols = [c.name for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def story(conn, correlation_id: uuid.UUID) -> dict[str, Any]:
    """Everything known about one correlation id, oldest first."""
    listing = _rows(conn, """SELECT id, source, external_id, url, status, title, vehicle_id, first_seen_at,
                                    last_fetched_at, encode(last_snapshot, 'hex') AS last_snapshot
                             FROM listings WHERE correlation_id = %s""", (correlation_id,))
    events = _rows(conn, """SELECT at, item_id, queue, event, attempt, worker, error, result
                            FROM work_item_events WHERE correlation_id = %s ORDER BY id""", (correlation_id,))
    items = _rows(conn, """SELECT id, queue, source, dedupe_key, state, attempts, max_attempts, last_error,
                                  created_at, finished_at
                           FROM work_items WHERE correlation_id = %s ORDER BY id""", (correlation_id,))
    # Every item's history starts with its 'queued' event; an item without one lost its early events to
    # retention (store/retention.py), so the story shown starts mid-way and must say so.
    queued = {e["item_id"] for e in events if e["event"] == "queued"}
    known = {e["item_id"] for e in events} | {i["id"] for i in items}
    cut = sorted(known - queued)
    # the walk that found it queued its first item; when that item's events are gone, so is the answer
    found = next((e for e in events if e["event"] == "queued" and e["item_id"] == min(known)), None)
    out: dict[str, Any] = {"correlation_id": str(correlation_id), "listing": listing[0] if listing else None,
                           "found_by": found["worker"] if found else None, "found_at": found["at"] if found else None,
                           "items": items, "events": events, "events_purged_for": cut, "snapshots": [],
                           "vehicle": None, "auction": None, "observations": []}
    if not listing:
        return out
    row = listing[0]
    out["snapshots"] = _rows(conn, """SELECT encode(sha256, 'hex') AS sha256, url, fetched_at, http_status, size_bytes
                                      FROM page_snapshots WHERE url = %s OR sha256 = decode(%s, 'hex')
                                      ORDER BY fetched_at, sha256""", (row["url"], row["last_snapshot"] or ""))
    if row["vehicle_id"] is not None:
        vehicle = _rows(conn, """SELECT id, vin, vin_state, year, make, model, trim, mileage, mileage_unit,
                                        first_seen_at, last_seen_at FROM vehicles WHERE id = %s""", (row["vehicle_id"],))
        out["vehicle"] = vehicle[0] if vehicle else None
    auction = _rows(conn, """SELECT id, outcome, sale_price, high_bid, currency, bid_count, ended_at, evidence,
                                    encode(snapshot_sha256, 'hex') AS snapshot, extracted_at, updated_at
                             FROM auction_events WHERE listing_id = %s""", (row["id"],))
    out["auction"] = auction[0] if auction else None
    out["observations"] = _rows(conn, """SELECT observed_at, status, outcome, price, currency, bid_count, ended_at
                                         FROM listing_observations WHERE listing_id = %s ORDER BY observed_at""",
                                (row["id"],))
    return out


def run_failures(conn, worker: str) -> list[dict[str, Any]]:
    """What a run's attempts failed on, with each item's correlation id: for the run's log."""
    return _rows(conn, """SELECT item_id, correlation_id, queue, source, event, attempt, error
                          FROM work_item_events
                          WHERE at > now() - interval '1 day' AND worker = %s AND event IN ('retry', 'dead')
                          ORDER BY id""", (worker,))


def run_progress(conn, worker: str, queue: str) -> dict[str, int]:
    """How far a run has come on a queue: its items done, retried, dead and snoozed so far, and what is pending."""
    counts = dict(conn.execute(
        """SELECT event, count(*) FROM work_item_events
           WHERE at > now() - interval '1 day' AND worker = %s AND queue = %s
             AND event IN ('done', 'retry', 'dead', 'snoozed') GROUP BY event""", (worker, queue)).fetchall())
    [pending] = conn.execute("SELECT count(*) FROM work_items WHERE queue = %s AND state = 'pending'",
                             (queue,)).fetchone()
    return {"done": counts.get("done", 0), "retried": counts.get("retry", 0), "dead": counts.get("dead", 0),
            "snoozed": counts.get("snoozed", 0), "pending": pending}
