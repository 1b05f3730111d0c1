"""Seeding listings, vehicles and auction events through the store's own writes (shared by the market tests)."""

from __future__ import annotations

from datetime import datetime

from vehicle_pipeline.model import ListingRef, Outcome, VehicleListing
from vehicle_pipeline.sources.fields import vin_state
from vehicle_pipeline.store.records import ListingWrite, update_listings, upsert_auction_events, upsert_listing_refs, \
    upsert_vehicles

SOURCES = (("bat", "auction"), ("carsandbids", "auction"), ("broadarrow", "auction"),
           ("craigslist:sfbay", "classified"), ("dealer:sunset-classics", "dealer"))


def add_sources(conn) -> None:
    for name, kind in SOURCES:
        conn.execute("INSERT INTO sources (name, kind) VALUES (%s, %s) ON CONFLICT DO NOTHING", (name, kind))


def valid_vin(prefix16: str) -> str:
    """A VIN whose check digit holds: the digit computed into position 9 of a 17-character VIN."""
    from vehicle_pipeline.sample_site.world import vin_check_digit

    vin = prefix16[:8] + "0" + prefix16[8:16]
    return vin[:8] + vin_check_digit(vin) + vin[9:]


_counter = iter(range(1, 1_000_000))


def seed_listing(conn, source: str = "bat", *, year: int | None = 2009, make: str | None = "Porsche",
                 model: str | None = "911", trim: str | None = None, title: str | None = None,
                 outcome: str | None = "sold", sale_price: int | None = None, high_bid: int | None = None,
                 asking_price: int | None = None, currency: str | None = "USD", ended_at: datetime | None = None,
                 vin: str | None = None, mileage: int | None = None, first_seen_at: datetime | None = None) -> int:
    """One listing as the pipeline stores it: registry row, vehicle, and (auctions) its event. Returns its id."""
    n = next(_counter)
    external_id = f"seed-{n}"
    url = f"https://example.test/{source}/{external_id}"
    listing = VehicleListing(
        source=source, url=url, external_id=external_id, title=title or f"{year} {make} {model} {trim or ''}".strip(),
        year=year, make=make, model=model, trim=trim, vin=vin, vin_state=vin_state(vin, year) if vin else None,
        mileage=mileage, mileage_unit="mi" if mileage is not None else None,
        outcome=Outcome(outcome) if outcome else None, sale_price=sale_price, high_bid=high_bid,
        asking_price=asking_price, currency=currency, ended_at=ended_at)
    [(listing_id, _)] = upsert_listing_refs(conn, source, [ListingRef(url, external_id, listing.title)]).new
    [(vehicle_id, _)] = upsert_vehicles(conn, [(listing, None)])
    write = ListingWrite(listing_id, vehicle_id, listing)
    update_listings(conn, [write])
    if outcome:
        upsert_auction_events(conn, [write])
    if first_seen_at:
        conn.execute("UPDATE listings SET first_seen_at = %s WHERE id = %s", (first_seen_at, listing_id))
    return listing_id
