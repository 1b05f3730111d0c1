"""What the drains read and mark in the listings registry, a batch at a time (one round trip, not one per item)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple


class ListingToFetch(NamedTuple):
    """A listing the import fetches, with the validators of its last fetch (for a conditional request)."""

    id: int
    source: str
    url: str
    vehicle_id: int | None
    etag: str | None
    last_modified: str | None


def listings_to_fetch(conn, ids: Collection[int]) -> dict[int, ListingToFetch]:
    """The registry rows of these listings (listing id → row); an id not in the registry is absent."""
    if not ids:
        return {}
    return {r[0]: ListingToFetch(*r) for r in conn.execute(
        "SELECT id, source, url, vehicle_id, etag, last_modified FROM listings WHERE id = ANY(%s::bigint[])",
        (sorted(ids),))}


class ListingPage(NamedTuple):
    """A listing and its latest stored page; `body` is None when the page was not asked for (or none is stored)."""

    id: int
    url: str
    vehicle_id: int | None
    last_snapshot: bytes | None
    page_url: str | None
    compression: str | None
    body: bytes | None


def listings_with_pages(conn, carried: Mapping[int, bytes | None]) -> dict[int, ListingPage]:
    """These listings (id → the snapshot the caller already holds a parse of, or None) with their latest stored
    pages. A page's body is read only when it is not the one the caller holds."""
    if not carried:
        return {}
    ids = sorted(carried)
    return {r[0]: ListingPage(*r) for r in conn.execute(
        """SELECT l.id, l.url, l.vehicle_id, l.last_snapshot, s.url, s.compression,
                  CASE WHEN l.last_snapshot IS DISTINCT FROM t.carried THEN s.body END
           FROM unnest(%s::bigint[], %s::bytea[]) AS t(id, carried)
           JOIN listings l ON l.id = t.id
           LEFT JOIN page_snapshots s ON s.sha256 = l.last_snapshot""",
        (ids, [carried[i] for i in ids]))}


class ListingSnapshotRef(NamedTuple):
    id: int
    vehicle_id: int | None
    last_snapshot: bytes | None


def listing_snapshot_ref(conn, listing_id) -> ListingSnapshotRef | None:
    """A listing's vehicle and latest page (None when there is no such listing)."""
    row = conn.execute("SELECT id, vehicle_id, last_snapshot FROM listings WHERE id = %s", (listing_id,)).fetchone()
    return ListingSnapshotRef(row[0], row[1], bytes(row[2]) if row[2] is not None else None) if row else None


def mark_fetched(conn, ids: Collection[int], status: str | None = None) -> None:
    """These listings were fetched now (a 304 says unchanged), and when `status` is given, that is their status
    now (a 404 / 410 says "gone")."""
    if ids:
        conn.execute("UPDATE listings SET last_fetched_at = now(), status = coalesce(%s, status) "
                     "WHERE id = ANY(%s::bigint[])", (status, sorted(ids)))
