"""BaT repairs: find records that break the repair rules and re-extract them from stored pages.

Rules (any one makes a record a candidate):
- sold_without_price: outcome sold/sold_after but no sale price;
- price_without_evidence: a sale price that no result element or JSON field vouches for (legacy rows:
  "Bid to $X" stored as a sale price, or the high bid copied into the sale price);
- price_on_bid_to_page: a sale price while the latest parse of the page says bid_to;
- missing_outcome: outcome unknown;
- missing_vin / missing_mileage / missing_colour / missing_transmission / missing_drivetrain on the vehicle.

A repair re-parses the stored snapshot first (so a parser fix repairs a month of records in seconds) and
queues a re-fetch at repair priority only when there is no snapshot or it is older than `stale_after`.
"""

from __future__ import annotations

import time
from decimal import Decimal
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import StepReport
from vehicle_pipeline.model import ParseError, VehicleListing
from vehicle_pipeline.store.queue import PRIORITY_REPAIR, NewItem, WorkQueue
from vehicle_pipeline.store.records import ListingWrite, load_snapshot, store_auctions

RULES_SQL = {
    "sold_without_price": "e.outcome IN ('sold', 'sold_after') AND e.sale_price IS NULL",
    "price_without_evidence": "e.sale_price IS NOT NULL AND e.evidence IS NULL",
    "price_on_bid_to_page": "e.sale_price IS NOT NULL AND l.parsed->>'outcome' = 'bid_to'",
    "missing_outcome": "e.outcome = 'unknown'",
    "missing_vin": "v.vin IS NULL",
    "missing_mileage": "v.mileage IS NULL",
    "missing_colour": "v.exterior_color IS NULL",
    "missing_transmission": "v.transmission IS NULL",
    "missing_drivetrain": "v.drivetrain IS NULL",
}

_CANDIDATES_SQL = f"""
SELECT l.id, l.vehicle_id, l.last_snapshot, s.fetched_at,
       ARRAY[{", ".join(f"CASE WHEN {cond} THEN '{name}' END" for name, cond in RULES_SQL.items())}] AS rules
FROM auction_events e
JOIN listings l ON l.id = e.listing_id
LEFT JOIN vehicles v ON v.id = l.vehicle_id
LEFT JOIN page_snapshots s ON s.sha256 = l.last_snapshot
WHERE e.source = 'bat'
  AND (%(start)s::timestamptz IS NULL OR e.ended_at >= %(start)s)
  AND (%(end)s::timestamptz IS NULL OR e.ended_at < %(end)s)
  AND (%(recheck_before)s::timestamptz IS NULL OR l.repair_checked_at IS NULL
       OR l.repair_checked_at < %(recheck_before)s)
  AND ({" OR ".join(f"({cond})" for cond in RULES_SQL.values())})
ORDER BY e.ended_at DESC NULLS LAST, l.id
LIMIT %(limit)s
"""


@dataclass
class RepairReport(StepReport):
    month: str = ""
    dry_run: bool = False
    candidates: int = 0
    repaired: int = 0
    unchanged: int = 0
    refetch_queued: int = 0
    failed: int = 0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    diffs: list[dict] = field(default_factory=list)

    _NOT_METADATA = ("errors", "diffs")


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=timezone.utc)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def find_candidates(conn, start: datetime | None = None, end: datetime | None = None, *,
                    recheck_before: datetime | None = None, limit: int = 100_000) -> list[tuple]:
    rows = conn.execute(_CANDIDATES_SQL, {"start": start, "end": end, "recheck_before": recheck_before,
                                          "limit": limit}).fetchall()
    return [(r[0], r[1], bytes(r[2]) if r[2] is not None else None, r[3], [x for x in r[4] if x]) for r in rows]


def rule_counts(conn, start: datetime | None, end: datetime | None) -> dict[str, int]:
    counts = Counter()
    for *_, rules in find_candidates(conn, start, end):
        counts.update(rules)
    return {name: counts.get(name, 0) for name in RULES_SQL}


_DIFF_SQL = """
SELECT e.outcome, e.sale_price, e.high_bid, e.ended_at, v.vin, v.mileage, v.exterior_color, v.transmission, v.drivetrain
FROM listings l LEFT JOIN auction_events e ON e.listing_id = l.id LEFT JOIN vehicles v ON v.id = l.vehicle_id
WHERE l.id = %s"""
_DIFF_FIELDS = ("outcome", "sale_price", "high_bid", "ended_at", "vin", "mileage", "exterior_color", "transmission",
                "drivetrain")


def _diff(current: tuple, parsed: VehicleListing) -> dict:
    proposed = {f: getattr(parsed, f) for f in _DIFF_FIELDS}
    proposed["outcome"] = str(parsed.outcome) if parsed.outcome else None
    changes = {}
    for name, old in zip(_DIFF_FIELDS, current):
        new = proposed[name]
        if isinstance(old, Decimal):  # numeric columns
            old = int(old)
        if name == "sale_price" and parsed.outcome is not None and new is None and old is not None:
            changes[name] = [old, None]  # a non-sale loses its wrong sale price
        elif new is not None and new != old:
            changes[name] = [str(old) if isinstance(old, datetime) else old,
                             str(new) if isinstance(new, datetime) else new]
    return changes


def repair_range(ingest: Ingest, start: datetime | None, end: datetime | None, *, label: str, dry_run: bool = False,
                 stale_after: timedelta = timedelta(days=90), limit: int = 100_000) -> RepairReport:
    report = RepairReport(month=label, dry_run=dry_run)
    started = time.monotonic()
    module = ingest.module("bat")
    with ingest.db.connection() as conn:
        report.before = rule_counts(conn, start, end)
        candidates = find_candidates(conn, start, end, limit=limit)
    report.candidates = len(candidates)
    refetch = []
    now = datetime.now(timezone.utc)
    for listing_id, vehicle_id, snapshot, fetched_at, rules in candidates:
        if snapshot is None or fetched_at is None or now - fetched_at > stale_after:
            refetch.append(listing_id)
            continue
        with ingest.db.connection() as conn:
            stored = load_snapshot(conn, snapshot)
            current = conn.execute(_DIFF_SQL, (listing_id,)).fetchone()
        try:
            parsed = module.parse(stored[1], url=stored[0], deep=True)
            if not isinstance(parsed, VehicleListing) or parsed.outcome is None:
                raise ParseError("bat", stored[0], "an auction listing page")
        except ParseError as exc:
            report.failed += 1
            report.diffs.append({"listing_id": listing_id, "rules": rules, "error": str(exc)})
            refetch.append(listing_id)
            continue
        changes = _diff(current, parsed)
        if not changes:
            report.unchanged += 1
        else:
            report.repaired += 1
        if len(report.diffs) < 50:
            report.diffs.append({"listing_id": listing_id, "rules": rules, "changes": changes})
        if dry_run:
            continue
        with ingest.db.connection() as conn, conn.transaction():
            store_auctions(conn, [ListingWrite(listing_id, vehicle_id, parsed, snapshot)])
            conn.execute("UPDATE listings SET repair_checked_at = now() WHERE id = %s", (listing_id,))
    if refetch and not dry_run:
        results = ingest.queue.enqueue_many([
            NewItem("deep_extraction", "bat", f"deep:{lid}", {"listing_id": lid, "refetch": True, "repair": True},
                    priority=PRIORITY_REPAIR) for lid in refetch])
        report.refetch_queued = sum(1 for r in results if r.status != "already_queued")
    elif refetch:
        report.refetch_queued = len(refetch)
    with ingest.db.connection() as conn:
        report.after = rule_counts(conn, start, end) if not dry_run else dict(report.before)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def repair_month(ingest: Ingest, month: date, *, dry_run: bool = False, **kw) -> RepairReport:
    start, end = month_bounds(month)
    return repair_range(ingest, start, end, label=month.strftime("%Y-%m"), dry_run=dry_run, **kw)


def queue_repair_candidates(db, limit: int = 20, recheck_after: timedelta = timedelta(days=7)) -> int:
    """The auto-queue: a small batch of candidates at repair priority, skipping recently checked ones."""
    with db.connection() as conn:
        candidates = find_candidates(conn, recheck_before=datetime.now(timezone.utc) - recheck_after, limit=limit)
        ids = [c[0] for c in candidates]
        if ids:
            conn.execute("UPDATE listings SET repair_checked_at = now() WHERE id = ANY(%s)", (ids,))
    if not ids:
        return 0
    results = WorkQueue(db).enqueue_many([
        NewItem("deep_extraction", "bat", f"deep:{c[0]}",
                {"listing_id": c[0], "repair": True, "refetch": c[2] is None}, priority=PRIORITY_REPAIR)
        for c in candidates])
    return sum(1 for r in results if r.status == "queued")
