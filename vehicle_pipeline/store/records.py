"""Writes of the domain records: listings registry, page snapshots, vehicles, observations, auction events.

Every write is an idempotent upsert that reports what it did ("inserted", "updated", "unchanged"), and a
re-fetch never replaces a known value with null.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import zstandard

from vehicle_pipeline.model import ENDED_OUTCOMES, Comment, ListingRef, VehicleListing, VinState

_VEHICLE_FIELDS = ("year", "make", "model", "trim", "mileage", "mileage_unit", "exterior_color", "interior_color",
                   "transmission", "drivetrain", "engine", "body_style", "location")


@dataclass
class RefUpsert:
    """What registering the listings of an index page did."""

    new: list[tuple[int, ListingRef]] = field(default_factory=list)
    not_imported: list[tuple[int, ListingRef]] = field(default_factory=list)  # known, never imported yet
    changed: list[tuple[int, ListingRef]] = field(default_factory=list)  # known, but the index shows news
    unchanged: int = 0


# Array parameters travel in binary (%b): psycopg's text format escapes each element in Python, ~50× slower
# for a batch of page bodies or JSON documents.


def upsert_listing_refs(conn, source: str, refs: Sequence[ListingRef]) -> RefUpsert:
    """Register listings seen on an index page. A known listing counts as changed when the index shows an
    outcome the registry has not recorded yet (a live auction ended) or a new asking price, so it is
    fetched again and the change becomes a listing observation."""
    report = RefUpsert()
    if not refs:
        return report
    # Sorted, and inserted in that order: two walks of one source lock the rows they share in one order, so
    # they wait for each other instead of deadlocking (as the queue's batch enqueue does).
    unique = dict(sorted({ref.external_id: ref for ref in refs}.items()))
    rows = conn.execute(
        """WITH incoming AS (
               SELECT * FROM unnest(%b::text[], %b::text[], %b::text[]) WITH ORDINALITY
                   AS t(external_id, url, title, ord))
           INSERT INTO listings AS l (source, external_id, url, title)
           SELECT %s, external_id, url, title FROM incoming ORDER BY ord
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


@dataclass(frozen=True)
class PackedBody:
    """A page body as a snapshot stores it: its sha256 (the snapshot's key) and its compressed bytes."""

    sha256: bytes
    compressed: bytes


_compressors = threading.local()


def pack_body(body: bytes) -> PackedBody:
    """Hash and compress a page body. Both release the GIL, so a drain packs pages on worker threads while
    its main thread parses. zstd level 3: an 805 KB BaT page compresses 8.0x in 1.8 ms, where zlib level 3
    took 5 ms for 6.6x, more than the page's own parse."""
    compressor = getattr(_compressors, "zstd", None)
    if compressor is None:  # a compressor must not be shared between threads
        compressor = _compressors.zstd = zstandard.ZstdCompressor(level=3)
    return PackedBody(hashlib.sha256(body).digest(), compressor.compress(body))


@dataclass(frozen=True)
class Page:
    """A fetched page to keep as a snapshot; `packed` when the caller has already hashed and compressed it."""

    url: str
    http_status: int
    content_type: str | None
    body: bytes
    fetched_at: datetime | None = None
    packed: PackedBody | None = None


def save_snapshots(conn, pages: Sequence[Page]) -> list[bytes]:
    """Store fetched pages once each, content-addressed, in one statement; returns their sha256s in order."""
    packs = [page.packed or pack_body(page.body) for page in pages]
    unique = {pack.sha256: (page, pack) for page, pack in zip(pages, packs)}
    if unique:
        conn.execute(
            """INSERT INTO page_snapshots (sha256, url, fetched_at, http_status, content_type, size_bytes,
                                           compression, body)
               SELECT sha, url, coalesce(fetched_at, now()), http_status, content_type, size_bytes, 'zstd', body
               FROM unnest(%b::bytea[], %b::text[], %b::timestamptz[], %b::int[], %b::text[], %b::int[], %b::bytea[])
                    AS t(sha, url, fetched_at, http_status, content_type, size_bytes, body)
               ON CONFLICT (sha256) DO NOTHING""",
            (list(unique), [p.url for p, _ in unique.values()], [p.fetched_at for p, _ in unique.values()],
             [p.http_status for p, _ in unique.values()], [p.content_type for p, _ in unique.values()],
             [len(p.body) for p, _ in unique.values()], [pack.compressed for _, pack in unique.values()]),
        )
    return [pack.sha256 for pack in packs]


def save_snapshot(conn, url: str, http_status: int, content_type: str | None, body: bytes,
                  fetched_at: datetime | None = None) -> bytes:
    """Store a fetched page once, content-addressed; returns its sha256."""
    return save_snapshots(conn, [Page(url, http_status, content_type, body, fetched_at)])[0]


def load_snapshot(conn, sha256: bytes) -> tuple[str, bytes, datetime] | None:
    row = conn.execute("SELECT url, compression, body, fetched_at FROM page_snapshots WHERE sha256 = %s",
                       (sha256,)).fetchone()
    if row is None:
        return None
    url, compression, body, fetched_at = row
    return url, snapshot_body(compression, body), fetched_at


def snapshot_body(compression: str | None, body: bytes) -> bytes:
    """The page bytes of a stored snapshot body (zlib rows are those written before zstd)."""
    if compression == "zstd":
        return zstandard.ZstdDecompressor().decompress(body)
    if compression == "zlib":
        return zlib.decompress(body)
    return bytes(body)


@dataclass(frozen=True)
class ListingWrite:
    """One parsed listing page to store against its registry row."""

    listing_id: int
    vehicle_id: int | None  # the listing's vehicle so far
    listing: VehicleListing
    snapshot: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class ListingStored:
    """What storing one listing page did."""

    vehicle_id: int
    vehicle_action: str  # "inserted" | "updated"
    observation: bool = False
    images: int = 0
    event: str | None = None  # "inserted" | "updated" | "unchanged" (auction pages)
    comments_new: int = 0


def store_profiles(conn, writes: Sequence[ListingWrite], *, images: bool = True) -> list[ListingStored]:
    """A batch of listing pages as vehicle profiles: vehicles, registry rows, observations and (unless
    `images` is off) image rows, in a handful of multi-row statements whatever the batch size."""
    vehicles = upsert_vehicles(conn, [(w.listing, w.vehicle_id) for w in writes])
    writes = [replace(w, vehicle_id=vid) for w, (vid, _) in zip(writes, vehicles)]
    update_listings(conn, writes)
    changed = record_observations(conn, writes)
    added = (save_images_many(conn, [(w.listing_id, w.vehicle_id, w.listing.images) for w in writes]) if images
             else [0] * len(writes))
    return [ListingStored(vid, action, observation=c, images=n)
            for (vid, action), c, n in zip(vehicles, changed, added)]


def store_auctions(conn, writes: Sequence[ListingWrite]) -> list[ListingStored]:
    """A batch of deep-parsed auction pages: vehicles, registry rows, auction events and comments."""
    vehicles = upsert_vehicles(conn, [(w.listing, w.vehicle_id) for w in writes])
    writes = [replace(w, vehicle_id=vid) for w, (vid, _) in zip(writes, vehicles)]
    update_listings(conn, writes)
    events = upsert_auction_events(conn, writes)
    comments = save_comments_many(conn, [(w.listing_id, w.listing.comments or []) for w in writes])
    return [ListingStored(vid, action, event=e, comments_new=n)
            for (vid, action), e, n in zip(vehicles, events, comments)]


def _merged(listings: Sequence[VehicleListing]) -> dict:
    """The vehicle values a run of pages leaves, as if upserted one after another: the latest non-null
    value of each field wins; the first VIN seen sticks."""
    values = dict.fromkeys(_VEHICLE_FIELDS)
    values["vin"] = values["vin_state"] = None
    for listing in listings:
        for name in _VEHICLE_FIELDS:
            value = getattr(listing, name)
            if value is not None:
                values[name] = value
        if values["vin"] is None and listing.vin is not None:
            values["vin"], values["vin_state"] = listing.vin, str(listing.vin_state) if listing.vin_state else None
    return values


def _whole(amounts) -> list[int | None]:
    """Money for a numeric(14, 0) array parameter: whole units, one Python type (binary arrays need one)."""
    return [None if a is None else int(a) for a in amounts]


def _columns(rows: Sequence[dict], names: Sequence[str]) -> list[list]:
    return [[row[name] for row in rows] for name in names]


_VEHICLE_TYPES = {"year": "int", "mileage": "int"}
_VEHICLE_UNNEST = ", ".join(f"%b::{_VEHICLE_TYPES.get(f, 'text')}[]" for f in ("vin", "vin_state") + _VEHICLE_FIELDS)
_VEHICLE_COLUMNS = ", ".join(("vin", "vin_state") + _VEHICLE_FIELDS)


def upsert_vehicles(conn, entries: Sequence[tuple[VehicleListing, int | None]]) -> list[tuple[int, str]]:
    """One vehicle across sources when a valid VIN matches; otherwise each listing keeps its own vehicle.
    Never merges on year + make, nor on a VIN whose check digit fails. Returns (vehicle id, "inserted" |
    "updated") per entry, in order."""
    by_vin: dict[str, list[int]] = {}
    by_id: dict[int, list[int]] = {}
    new: list[int] = []
    for i, (listing, existing) in enumerate(entries):
        if listing.vin and listing.vin_state == VinState.VALID:
            by_vin.setdefault(listing.vin, []).append(i)
        elif existing is not None:
            by_id.setdefault(existing, []).append(i)
        else:
            new.append(i)
    out: list[tuple[int, str] | None] = [None] * len(entries)
    names = ("vin", "vin_state") + _VEHICLE_FIELDS
    if by_vin:
        # Sorted by VIN so concurrent batches take the row locks in one order.
        vins = sorted(by_vin)
        rows = [_merged([entries[i][0] for i in by_vin[vin]]) for vin in vins]
        returned = conn.execute(
            f"""INSERT INTO vehicles AS v ({_VEHICLE_COLUMNS})
                SELECT * FROM unnest({_VEHICLE_UNNEST}) ORDER BY 1
                ON CONFLICT (vin) WHERE vin_state = 'valid' DO UPDATE SET
                    {", ".join(f"{f} = coalesce(excluded.{f}, v.{f})" for f in _VEHICLE_FIELDS)},
                    last_seen_at = now()
                RETURNING vin, id, (xmax = 0)""",
            _columns(rows, names)).fetchall()
        for vin, vehicle_id, inserted in returned:
            first, *rest = by_vin[vin]
            out[first] = (vehicle_id, "inserted" if inserted else "updated")
            for i in rest:
                out[i] = (vehicle_id, "updated")
    if by_id:
        ids = sorted(by_id)
        rows = [_merged([entries[i][0] for i in by_id[vid]]) for vid in ids]
        conn.execute(
            f"""UPDATE vehicles v SET
                    vin = coalesce(v.vin, t.vin), vin_state = coalesce(v.vin_state, t.vin_state),
                    {", ".join(f"{f} = coalesce(t.{f}, v.{f})" for f in _VEHICLE_FIELDS)},
                    last_seen_at = now()
                FROM unnest(%b::bigint[], {_VEHICLE_UNNEST}) AS t(id, {_VEHICLE_COLUMNS})
                WHERE v.id = t.id""",
            [ids] + _columns(rows, names))
        for vid in ids:
            for i in by_id[vid]:
                out[i] = (vid, "updated")
    if new:
        # Ids drawn first, so each page knows its vehicle without relying on the order of RETURNING.
        ids = [r[0] for r in conn.execute(
            "SELECT nextval(pg_get_serial_sequence('vehicles', 'id')) FROM generate_series(1, %s)", (len(new),))]
        rows = [_merged([entries[i][0]]) for i in new]
        conn.execute(
            f"""INSERT INTO vehicles (id, {_VEHICLE_COLUMNS})
                SELECT * FROM unnest(%b::bigint[], {_VEHICLE_UNNEST})""",
            [ids] + _columns(rows, names))
        for i, vid in zip(new, ids):
            out[i] = (vid, "inserted")
    return out  # type: ignore[return-value]




def _listing_status(listing: VehicleListing) -> str:
    if listing.outcome in ENDED_OUTCOMES:
        return "ended"
    return "active"


def update_listings(conn, writes: Sequence[ListingWrite]) -> None:
    """Record what each listing page said; known values survive a page that omits them."""
    if not writes:
        return
    latest = {w.listing_id: w for w in writes}  # one row per listing, the latest page winning
    rows = sorted(latest.values(), key=lambda w: w.listing_id)
    conn.execute(
        """UPDATE listings l SET
               status = t.status, vehicle_id = t.vehicle_id,
               title = coalesce(t.title, l.title),
               url = t.url,
               asking_price = coalesce(t.asking_price, l.asking_price),
               currency = coalesce(t.currency, l.currency),
               seller = coalesce(t.seller, l.seller),
               location = coalesce(t.location, l.location),
               mileage = coalesce(t.mileage, l.mileage),
               mileage_unit = coalesce(t.mileage_unit, l.mileage_unit),
               etag = coalesce(t.etag, l.etag), last_modified = coalesce(t.last_modified, l.last_modified),
               last_snapshot = coalesce(t.snapshot, l.last_snapshot),
               parsed = CASE WHEN l.parsed IS NULL THEN t.parsed::jsonb
                             ELSE l.parsed || jsonb_strip_nulls(t.parsed::jsonb) END,
               last_fetched_at = now(), last_seen_at = now()
           FROM unnest(%b::bigint[], %b::text[], %b::bigint[], %b::text[], %b::text[], %b::numeric[], %b::text[],
                       %b::text[], %b::text[], %b::int[], %b::text[], %b::text[], %b::text[], %b::bytea[], %b::text[])
                AS t(id, status, vehicle_id, title, url, asking_price, currency, seller, location, mileage,
                     mileage_unit, etag, last_modified, snapshot, parsed)
           WHERE l.id = t.id""",
        ([w.listing_id for w in rows], [_listing_status(w.listing) for w in rows], [w.vehicle_id for w in rows],
         [w.listing.title for w in rows], [w.listing.url for w in rows], _whole(w.listing.asking_price for w in rows),
         [w.listing.currency for w in rows], [w.listing.seller for w in rows], [w.listing.location for w in rows],
         [w.listing.mileage for w in rows], [w.listing.mileage_unit for w in rows], [w.etag for w in rows],
         [w.last_modified for w in rows], [w.snapshot for w in rows],
         [json.dumps(w.listing.to_contract(), default=str) for w in rows]),
    )




def mark_unreadable(conn, pages: Sequence[tuple[int, bytes, bool]]) -> None:
    """Pages the parser could not read, as (listing id, snapshot sha256, last attempt): each is kept as its
    listing's latest page, and on the last attempt the listing is marked unparseable."""
    if not pages:
        return
    conn.execute(
        """UPDATE listings l SET last_snapshot = t.sha,
               status = CASE WHEN t.last_attempt THEN 'unparseable' ELSE l.status END,
               last_fetched_at = CASE WHEN t.last_attempt THEN now() ELSE l.last_fetched_at END
           FROM unnest(%b::bigint[], %b::bytea[], %b::boolean[]) AS t(id, sha, last_attempt)
           WHERE l.id = t.id""",
        [list(column) for column in zip(*pages)])


def record_observations(conn, writes: Sequence[ListingWrite]) -> list[bool]:
    """Append what each fetch saw, only where something changed since the listing's last observation;
    returns, per write, whether a row was added."""
    if not writes:
        return []
    latest = {w.listing_id: w for w in writes}
    rows = list(latest.values())
    added = {r[0] for r in conn.execute(
        """INSERT INTO listing_observations (listing_id, snapshot_sha256, status, outcome, price, currency,
                                             bid_count, ended_at)
           SELECT t.* FROM unnest(%b::bigint[], %b::bytea[], %b::text[], %b::text[], %b::numeric[], %b::char(3)[],
                                  %b::int[], %b::timestamptz[])
                AS t(listing_id, snap, status, outcome, price, currency, bids, ended)
           WHERE NOT EXISTS (
               SELECT 1 FROM (SELECT o.status, o.outcome, o.price, o.currency, o.bid_count, o.ended_at
                              FROM listing_observations o WHERE o.listing_id = t.listing_id
                              ORDER BY o.observed_at DESC, o.id DESC LIMIT 1) last
               WHERE last.status IS NOT DISTINCT FROM t.status AND last.outcome IS NOT DISTINCT FROM t.outcome
                 AND last.price IS NOT DISTINCT FROM t.price AND last.currency IS NOT DISTINCT FROM t.currency
                 AND last.bid_count IS NOT DISTINCT FROM t.bids AND last.ended_at IS NOT DISTINCT FROM t.ended)
           RETURNING listing_id""",
        ([w.listing_id for w in rows], [w.snapshot for w in rows], [_listing_status(w.listing) for w in rows],
         [str(w.listing.outcome) if w.listing.outcome else None for w in rows],
         _whole(_observed_price(w.listing) for w in rows), [w.listing.currency for w in rows],
         [w.listing.bid_count for w in rows], [w.listing.ended_at for w in rows]),
    )}
    return [w.listing_id in added and latest[w.listing_id] is w for w in writes]


def _observed_price(listing: VehicleListing):
    if listing.sale_price is not None:
        return listing.sale_price
    return listing.high_bid if listing.high_bid is not None else listing.asking_price




def save_images_many(conn, galleries: Sequence[tuple[int, int | None, Sequence[str]]]) -> list[int]:
    """Image URLs of each listing (listing id, vehicle id, URLs) not stored yet; returns how many were new
    per listing, in order."""
    flat = [(vehicle_id, listing_id, url, position)
            for listing_id, vehicle_id, urls in galleries for position, url in enumerate(urls)]
    if not flat:
        return [0] * len(galleries)
    counts = dict(conn.execute(
        """WITH ins AS (
               INSERT INTO vehicle_images (vehicle_id, listing_id, url, position)
               SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::int[])
               ON CONFLICT (listing_id, url) DO NOTHING
               RETURNING listing_id)
           SELECT listing_id, count(*) FROM ins GROUP BY listing_id""",
        [list(column) for column in zip(*flat)]).fetchall())
    return [counts.pop(listing_id, 0) for listing_id, _, _ in galleries]  # a listing twice in a batch counts once




_EVENT_KEEP = ("high_bid", "currency", "bid_count", "comment_count", "view_count", "watcher_count", "no_reserve",
               "ended_at", "lot_number", "seller", "buyer")


_EVENT_TYPES = {"high_bid": "numeric", "currency": "char(3)", "bid_count": "int", "comment_count": "int",
                "view_count": "int", "watcher_count": "int", "no_reserve": "boolean", "ended_at": "timestamptz"}


def upsert_auction_events(conn, writes: Sequence[ListingWrite]) -> list[str]:
    """Write each auction's outcome; returns "inserted", "updated" or "unchanged" per write. Known values
    are never replaced by null; but a corrected outcome (a repair turning "sold" into "bid_to") clears the
    sale price, which only a sale may carry; and "unknown" never overwrites a decided outcome."""
    for w in writes:
        if w.listing.outcome is None:
            raise ValueError(f"{w.listing.url}: not an auction listing")
    if not writes:
        return []
    latest = {w.listing_id: w for w in writes}
    rows = sorted(latest.values(), key=lambda w: w.listing_id)
    keep = ", ".join(_EVENT_KEEP)
    actions = dict(conn.execute(
        f"""WITH t AS (
                SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::numeric[], %b::text[],
                                     %b::bytea[], {", ".join(f"%b::{_EVENT_TYPES.get(f, 'text')}[]" for f in _EVENT_KEEP)})
                    AS t(listing_id, vehicle_id, source, outcome, sale_price, evidence, snapshot, {keep})),
            before AS (
                SELECT e.listing_id, {", ".join(f"e.{c}" for c in ("outcome", "sale_price") + _EVENT_KEEP)}
                FROM auction_events e JOIN t USING (listing_id)),
            written AS (
                INSERT INTO auction_events AS e (listing_id, vehicle_id, source, outcome, sale_price, evidence,
                                                snapshot_sha256, {keep})
                SELECT * FROM t ORDER BY listing_id
                ON CONFLICT (listing_id) DO UPDATE SET
                    vehicle_id = coalesce(excluded.vehicle_id, e.vehicle_id),
                    outcome = CASE WHEN excluded.outcome = 'unknown' THEN e.outcome ELSE excluded.outcome END,
                    sale_price = CASE WHEN excluded.outcome = 'unknown' THEN e.sale_price
                                      WHEN excluded.outcome IN ('sold', 'sold_after')
                                          THEN coalesce(excluded.sale_price, e.sale_price)
                                      ELSE NULL END,
                    evidence = CASE WHEN excluded.outcome = 'unknown' THEN e.evidence
                                    ELSE coalesce(excluded.evidence, e.evidence) END,
                    snapshot_sha256 = CASE WHEN excluded.outcome = 'unknown' THEN e.snapshot_sha256
                                           ELSE coalesce(excluded.snapshot_sha256, e.snapshot_sha256) END,
                    {", ".join(f"{f} = coalesce(excluded.{f}, e.{f})" for f in _EVENT_KEEP)},
                    updated_at = now()
                RETURNING e.listing_id, {", ".join(f"e.{c}" for c in ("outcome", "sale_price") + _EVENT_KEEP)})
            SELECT w.listing_id,
                   CASE WHEN b.listing_id IS NULL THEN 'inserted'
                        WHEN (w.outcome, w.sale_price, {", ".join(f"w.{f}" for f in _EVENT_KEEP)})
                             IS NOT DISTINCT FROM (b.outcome, b.sale_price, {", ".join(f"b.{f}" for f in _EVENT_KEEP)})
                            THEN 'unchanged'
                        ELSE 'updated' END
            FROM written w LEFT JOIN before b USING (listing_id)""",
        [[w.listing_id for w in rows], [w.vehicle_id for w in rows], [w.listing.source for w in rows],
         [str(w.listing.outcome) for w in rows], _whole(w.listing.sale_price for w in rows),
         [w.listing.outcome_evidence for w in rows], [w.snapshot for w in rows]]
        + [_whole(w.listing.high_bid for w in rows) if f == "high_bid" else [getattr(w.listing, f) for w in rows]
           for f in _EVENT_KEEP]).fetchall())
    return [actions[w.listing_id] for w in writes]




def save_comments_many(conn, threads: Sequence[tuple[int, Sequence[Comment]]]) -> list[int]:
    """Insert the comments and bids not stored yet, for many listings at once; returns how many were new
    per listing, in order."""
    flat = [(listing_id, c.external_id, str(c.kind), c.author, c.posted_at, c.text, c.amount, c.currency)
            for listing_id, comments in threads for c in comments]
    if not flat:
        return [0] * len(threads)
    counts = dict(conn.execute(
        """WITH ins AS (
               INSERT INTO auction_comments (listing_id, external_id, kind, author, posted_at, body, amount, currency)
               SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[],
                                    %b::numeric[], %b::char(3)[])
               ON CONFLICT (listing_id, external_id) DO NOTHING
               RETURNING listing_id)
           SELECT listing_id, count(*) FROM ins GROUP BY listing_id""",
        [list(column) if i != 6 else _whole(column) for i, column in enumerate(zip(*flat))]).fetchall())
    return [counts.pop(listing_id, 0) for listing_id, _ in threads]

