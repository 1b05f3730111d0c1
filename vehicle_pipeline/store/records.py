"""Writes of the domain records: listings registry, page snapshots, vehicles, observations, auction events.

Every write is an idempotent upsert that reports what it did ("inserted", "updated", "unchanged"), and a
re-fetch never replaces a known value with null.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from psycopg.types.json import Jsonb

from vehicle_pipeline.model import ENDED_OUTCOMES, SALE_OUTCOMES, Comment, ListingRef, Outcome, VehicleListing, VinState

_VEHICLE_FIELDS = ("year", "make", "model", "trim", "mileage", "mileage_unit", "exterior_color", "interior_color",
                   "transmission", "drivetrain", "engine", "body_style", "location")


@dataclass
class RefUpsert:
    """What registering the listings of an index page did."""

    new: list[tuple[int, ListingRef]] = field(default_factory=list)
    not_imported: list[tuple[int, ListingRef]] = field(default_factory=list)  # known, never imported yet
    changed: list[tuple[int, ListingRef]] = field(default_factory=list)  # known, but the index shows news
    unchanged: int = 0


def upsert_listing_refs(conn, source: str, refs: Sequence[ListingRef]) -> RefUpsert:
    """Register listings seen on an index page. A known listing counts as changed when the index shows an
    outcome the registry has not recorded yet (a live auction ended) or a new asking price, so it is
    fetched again and the change becomes a listing observation."""
    report = RefUpsert()
    if not refs:
        return report
    unique = {ref.external_id: ref for ref in refs}
    rows = conn.execute(
        """WITH incoming AS (
               SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(external_id, url, title))
           INSERT INTO listings AS l (source, external_id, url, title)
           SELECT %s, external_id, url, title FROM incoming
           ON CONFLICT (source, external_id) DO UPDATE
               SET last_seen_at = now(), title = coalesce(l.title, excluded.title)
           RETURNING l.id, l.external_id, (xmax = 0) AS inserted, l.status, l.parsed->>'outcome' AS outcome,
                     (l.parsed->>'asking_price')::numeric AS asking_price""",
        ([r.external_id for r in unique.values()], [r.url for r in unique.values()],
         [r.title for r in unique.values()], source),
    ).fetchall()
    for listing_id, external_id, inserted, status, known_outcome, known_asking in rows:
        ref = unique[external_id]
        if inserted:
            report.new.append((listing_id, ref))
        elif status == "discovered":
            report.not_imported.append((listing_id, ref))
        elif status != "gone" and (
                (ref.outcome is not None and str(ref.outcome) != known_outcome)
                # a classified or dealer car whose asking price moved (a price drop is history worth keeping)
                or (ref.outcome is None and ref.price is not None and known_asking is not None
                    and ref.price != known_asking)):
            report.changed.append((listing_id, ref))
        else:
            report.unchanged += 1
    return report


def totals(conn) -> dict[str, int]:
    """How much the database holds, for summaries and `status`."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM vehicles), (SELECT count(*) FROM listings),
                  (SELECT count(*) FROM auction_events), (SELECT count(*) FROM auction_comments),
                  (SELECT count(*) FROM page_snapshots)""").fetchone()
    return dict(zip(("vehicles", "listings", "auction_events", "comments", "snapshots"), row))


def save_snapshot(conn, url: str, http_status: int, content_type: str | None, body: bytes,
                  fetched_at: datetime | None = None) -> bytes:
    """Store a fetched page once, content-addressed; returns its sha256."""
    digest = hashlib.sha256(body).digest()
    conn.execute(
        """INSERT INTO page_snapshots (sha256, url, fetched_at, http_status, content_type, size_bytes, compression, body)
           VALUES (%s, %s, coalesce(%s, now()), %s, %s, %s, 'zlib', %s)
           ON CONFLICT (sha256) DO NOTHING""",
        # Level 3: an 824 KB BaT page compresses 6.6× in 5 ms; level 6 gains 12 % more space for twice the
        # CPU, which on listing pages is more than the parse itself.
        (digest, url, fetched_at, http_status, content_type, len(body), zlib.compress(body, 3)),
    )
    return digest


def load_snapshot(conn, sha256: bytes) -> tuple[str, bytes, datetime] | None:
    row = conn.execute("SELECT url, compression, body, fetched_at FROM page_snapshots WHERE sha256 = %s",
                       (sha256,)).fetchone()
    if row is None:
        return None
    url, compression, body, fetched_at = row
    return url, snapshot_body(compression, body), fetched_at


def snapshot_body(compression: str | None, body: bytes) -> bytes:
    """The page bytes of a stored snapshot body."""
    return zlib.decompress(body) if compression == "zlib" else bytes(body)


def upsert_vehicle(conn, listing: VehicleListing, existing_vehicle_id: int | None) -> tuple[int, str]:
    """One vehicle across sources when a valid VIN matches; otherwise the listing keeps its own vehicle.
    Never merges on year + make, nor on a VIN whose check digit fails."""
    values = {name: getattr(listing, name) for name in _VEHICLE_FIELDS}
    values["vin"] = listing.vin
    values["vin_state"] = str(listing.vin_state) if listing.vin_state else None
    if listing.vin and listing.vin_state == VinState.VALID:
        row = conn.execute(
            f"""INSERT INTO vehicles AS v (vin, vin_state, {", ".join(_VEHICLE_FIELDS)})
                VALUES (%(vin)s, %(vin_state)s, {", ".join(f"%({f})s" for f in _VEHICLE_FIELDS)})
                ON CONFLICT (vin) WHERE vin_state = 'valid' DO UPDATE SET
                    {", ".join(f"{f} = coalesce(excluded.{f}, v.{f})" for f in _VEHICLE_FIELDS)},
                    last_seen_at = now()
                RETURNING id, (xmax = 0)""",
            values).fetchone()
        return row[0], "inserted" if row[1] else "updated"
    if existing_vehicle_id is not None:
        conn.execute(
            f"""UPDATE vehicles v SET
                    vin = coalesce(v.vin, %(vin)s), vin_state = coalesce(v.vin_state, %(vin_state)s),
                    {", ".join(f"{f} = coalesce(%({f})s, v.{f})" for f in _VEHICLE_FIELDS)},
                    last_seen_at = now()
                WHERE id = %(id)s""",
            values | {"id": existing_vehicle_id})
        return existing_vehicle_id, "updated"
    row = conn.execute(
        f"""INSERT INTO vehicles (vin, vin_state, {", ".join(_VEHICLE_FIELDS)})
            VALUES (%(vin)s, %(vin_state)s, {", ".join(f"%({f})s" for f in _VEHICLE_FIELDS)}) RETURNING id""",
        values).fetchone()
    return row[0], "inserted"


def _listing_status(listing: VehicleListing) -> str:
    if listing.outcome in ENDED_OUTCOMES:
        return "ended"
    return "active"


def _contract_json(listing: VehicleListing) -> dict:
    return json.loads(json.dumps(listing.to_contract(), default=str))


def update_listing(conn, listing_id: int, listing: VehicleListing, vehicle_id: int, snapshot: bytes | None,
                   etag: str | None = None, last_modified: str | None = None) -> None:
    """Record what the listing page said; known values survive a page that omits them."""
    conn.execute(
        """UPDATE listings SET
               status = %(status)s, vehicle_id = %(vehicle_id)s,
               title = coalesce(%(title)s, title),
               url = %(url)s,
               asking_price = coalesce(%(asking_price)s, asking_price),
               currency = coalesce(%(currency)s, currency),
               seller = coalesce(%(seller)s, seller),
               location = coalesce(%(location)s, location),
               mileage = coalesce(%(mileage)s, mileage),
               mileage_unit = coalesce(%(mileage_unit)s, mileage_unit),
               etag = coalesce(%(etag)s, etag), last_modified = coalesce(%(last_modified)s, last_modified),
               last_snapshot = coalesce(%(snapshot)s, last_snapshot),
               parsed = CASE WHEN parsed IS NULL THEN %(parsed)s::jsonb
                             ELSE parsed || jsonb_strip_nulls(%(parsed)s::jsonb) END,
               last_fetched_at = now(), last_seen_at = now()
           WHERE id = %(id)s""",
        {"status": _listing_status(listing), "vehicle_id": vehicle_id, "title": listing.title, "url": listing.url,
         "asking_price": listing.asking_price, "currency": listing.currency, "seller": listing.seller,
         "location": listing.location, "mileage": listing.mileage, "mileage_unit": listing.mileage_unit,
         "etag": etag, "last_modified": last_modified, "snapshot": snapshot,
         "parsed": Jsonb(_contract_json(listing)), "id": listing_id},
    )


def mark_listing(conn, listing_id: int, status: str) -> None:
    conn.execute("UPDATE listings SET status = %s, last_fetched_at = now() WHERE id = %s", (status, listing_id))


def record_observation(conn, listing_id: int, listing: VehicleListing, snapshot: bytes | None) -> bool:
    """Append what this fetch saw, only when something changed since the last observation."""
    price = listing.sale_price if listing.sale_price is not None else (
        listing.high_bid if listing.high_bid is not None else listing.asking_price)
    row = conn.execute(
        """INSERT INTO listing_observations (listing_id, snapshot_sha256, status, outcome, price, currency,
                                             bid_count, ended_at)
           SELECT %(id)s, %(snap)s, %(status)s, %(outcome)s, %(price)s, %(currency)s, %(bids)s, %(ended)s
           WHERE NOT EXISTS (
               SELECT 1 FROM (SELECT status, outcome, price, currency, bid_count, ended_at
                              FROM listing_observations WHERE listing_id = %(id)s
                              ORDER BY observed_at DESC, id DESC LIMIT 1) last
               WHERE last.status IS NOT DISTINCT FROM %(status)s AND last.outcome IS NOT DISTINCT FROM %(outcome)s
                 AND last.price IS NOT DISTINCT FROM %(price)s::numeric
                 AND last.currency IS NOT DISTINCT FROM %(currency)s::char(3)
                 AND last.bid_count IS NOT DISTINCT FROM %(bids)s::int
                 AND last.ended_at IS NOT DISTINCT FROM %(ended)s::timestamptz)
           RETURNING id""",
        {"id": listing_id, "snap": snapshot, "status": _listing_status(listing),
         "outcome": str(listing.outcome) if listing.outcome else None, "price": price, "currency": listing.currency,
         "bids": listing.bid_count, "ended": listing.ended_at},
    ).fetchone()
    return row is not None


def save_images(conn, listing_id: int, vehicle_id: int | None, urls: Sequence[str]) -> int:
    if not urls:
        return 0
    # The count comes back as a row (not rowcount) so this also works inside a psycopg pipeline.
    return conn.execute(
        """WITH ins AS (
               INSERT INTO vehicle_images (vehicle_id, listing_id, url, position)
               SELECT %s, %s, u, ord - 1 FROM unnest(%s::text[]) WITH ORDINALITY AS t(u, ord)
               ON CONFLICT (listing_id, url) DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM ins""",
        (vehicle_id, listing_id, list(urls)),
    ).fetchone()[0]


_EVENT_KEEP = ("high_bid", "currency", "bid_count", "comment_count", "view_count", "watcher_count", "no_reserve",
               "ended_at", "lot_number", "seller", "buyer")


def upsert_auction_event(conn, listing_id: int, vehicle_id: int | None, listing: VehicleListing,
                         snapshot: bytes | None) -> str:
    """Write the auction's outcome. Known values are never replaced by null; but a corrected outcome
    (a repair turning "sold" into "bid_to") clears the sale price, which only a sale may carry."""
    if listing.outcome is None:
        raise ValueError(f"{listing.url}: not an auction listing")
    params = {name: getattr(listing, name) for name in _EVENT_KEEP}
    params |= {"listing_id": listing_id, "vehicle_id": vehicle_id, "source": listing.source,
               "outcome": str(listing.outcome), "sale_price": listing.sale_price,
               "evidence": listing.outcome_evidence, "snapshot": snapshot,
               "is_sale": listing.outcome in SALE_OUTCOMES,
               "unknown": listing.outcome == Outcome.UNKNOWN}
    before = conn.execute(
        f"""SELECT outcome, sale_price, {", ".join(_EVENT_KEEP)} FROM auction_events WHERE listing_id = %s""",
        (listing_id,)).fetchone()
    conn.execute(
        f"""INSERT INTO auction_events AS e (listing_id, vehicle_id, source, outcome, sale_price, evidence,
                                            snapshot_sha256, {", ".join(_EVENT_KEEP)})
            VALUES (%(listing_id)s, %(vehicle_id)s, %(source)s, %(outcome)s, %(sale_price)s, %(evidence)s,
                    %(snapshot)s, {", ".join(f"%({f})s" for f in _EVENT_KEEP)})
            ON CONFLICT (listing_id) DO UPDATE SET
                vehicle_id = coalesce(excluded.vehicle_id, e.vehicle_id),
                -- "unknown" never overwrites a decided outcome
                outcome = CASE WHEN %(unknown)s THEN e.outcome ELSE excluded.outcome END,
                sale_price = CASE WHEN %(unknown)s THEN e.sale_price
                                  WHEN %(is_sale)s THEN coalesce(excluded.sale_price, e.sale_price)
                                  ELSE NULL END,
                evidence = CASE WHEN %(unknown)s THEN e.evidence ELSE coalesce(excluded.evidence, e.evidence) END,
                snapshot_sha256 = CASE WHEN %(unknown)s THEN e.snapshot_sha256
                                       ELSE coalesce(excluded.snapshot_sha256, e.snapshot_sha256) END,
                {", ".join(f"{f} = coalesce(excluded.{f}, e.{f})" for f in _EVENT_KEEP)},
                updated_at = now()""",
        params)
    if before is None:
        return "inserted"
    after = conn.execute(
        f"""SELECT outcome, sale_price, {", ".join(_EVENT_KEEP)} FROM auction_events WHERE listing_id = %s""",
        (listing_id,)).fetchone()
    return "unchanged" if after == before else "updated"


def save_comments(conn, listing_id: int, comments: Sequence[Comment]) -> int:
    """Insert comments and bids not stored yet; returns how many were new."""
    if not comments:
        return 0
    # The count comes back as a row (not rowcount) so this also works inside a psycopg pipeline.
    return conn.execute(
        """WITH ins AS (
               INSERT INTO auction_comments (listing_id, external_id, kind, author, posted_at, body, amount, currency)
               SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[],
                                        %s::numeric[], %s::text[])
               ON CONFLICT (listing_id, external_id) DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM ins""",
        (listing_id, [c.external_id for c in comments], [str(c.kind) for c in comments],
         [c.author for c in comments], [c.posted_at for c in comments], [c.text for c in comments],
         [c.amount for c in comments], [c.currency for c in comments]),
    ).fetchone()[0]
