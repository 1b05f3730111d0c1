"""Domain writes against a real Postgres: idempotent upserts that report what they did, history kept,
known values never replaced by null, a sale price only on a sale."""

from datetime import datetime, timezone

from vehicle_pipeline.model import ListingRef, Outcome, VehicleListing, VinState
from vehicle_pipeline.store.records import (
    record_observation,
    save_snapshot,
    update_listing,
    upsert_auction_event,
    upsert_listing_refs,
    upsert_vehicle,
)

ENDED = datetime(2026, 10, 4, 18, 8, 33, tzinfo=timezone.utc)


def _setup(conn):
    for name, kind in (("bat", "auction"), ("carsandbids", "auction"), ("craigslist:sfbay", "classified")):
        conn.execute("INSERT INTO sources (name, kind) VALUES (%s, %s)", (name, kind))


def _listing(**kw) -> VehicleListing:
    base = dict(source="bat", url="https://bringatrailer.com/listing/x/", external_id="x", title="2000 Toyota Land Cruiser",
                year=2000, make="Toyota", model="Land Cruiser", vin="JT3HT05J8Y0099999", vin_state=VinState.VALID,
                mileage=120000, mileage_unit="mi", outcome=Outcome.SOLD, sale_price=33000, high_bid=33000,
                currency="USD", bid_count=16, ended_at=ENDED, outcome_evidence=".listing-available-info")
    return VehicleListing(**(base | kw))


def test_refs_report_new_known_and_changed(db):
    with db.connection() as conn:
        _setup(conn)
        first = upsert_listing_refs(conn, "bat", [ListingRef("u1", "a", outcome=Outcome.LIVE),
                                                  ListingRef("u2", "b", outcome=Outcome.LIVE)])
        assert len(first.new) == 2
        again = upsert_listing_refs(conn, "bat", [ListingRef("u1", "a", outcome=Outcome.LIVE)])
        assert (len(again.new), len(again.not_imported), len(again.changed)) == (0, 1, 0)
        listing_id = first.new[0][0]
        update_listing(conn, listing_id, _listing(url="u1", external_id="a", outcome=Outcome.LIVE, sale_price=None),
                       None, None)
        assert upsert_listing_refs(conn, "bat", [ListingRef("u1", "a", outcome=Outcome.LIVE)]).unchanged == 1
        ended = upsert_listing_refs(conn, "bat", [ListingRef("u1", "a", outcome=Outcome.SOLD, price=33000)])
        assert [lid for lid, _ in ended.changed] == [listing_id], "a live auction that ended is fetched again"
        # a classified whose asking price dropped is fetched again; the same price is not
        cl = upsert_listing_refs(conn, "craigslist:sfbay", [ListingRef("c1", "7001", price=9500)]).new[0][0]
        update_listing(conn, cl, _listing(source="craigslist", url="c1", external_id="7001", outcome=None,
                                          sale_price=None, high_bid=None, asking_price=9500), None, None)
        assert upsert_listing_refs(conn, "craigslist:sfbay", [ListingRef("c1", "7001", price=9500)]).unchanged == 1
        assert len(upsert_listing_refs(conn, "craigslist:sfbay", [ListingRef("c1", "7001", price=8900)]).changed) == 1


def test_vehicles_merge_on_a_valid_vin_only(db):
    with db.connection() as conn:
        _setup(conn)
        a, action_a = upsert_vehicle(conn, _listing(), None)
        b, action_b = upsert_vehicle(conn, _listing(source="carsandbids", mileage=None, exterior_color="Red"), None)
        assert a == b and (action_a, action_b) == ("inserted", "updated")
        row = conn.execute("SELECT mileage, exterior_color FROM vehicles WHERE id = %s", (a,)).fetchone()
        assert row == (120000, "Red"), "a page that omits the mileage does not erase it"
        bad = _listing(vin="JT3HT05J8Y0099990", vin_state=VinState.BAD_CHECK_DIGIT)
        c, _ = upsert_vehicle(conn, bad, None)
        d, _ = upsert_vehicle(conn, bad, None)
        assert c != d and a not in (c, d), "a VIN whose check digit fails is flagged, not merged"
        same_make_year = _listing(vin=None, vin_state=None)
        assert upsert_vehicle(conn, same_make_year, None)[0] not in (a, c, d), "never merged on year + make"


def test_auction_event_upsert_reports_and_never_loses_known_values(db):
    with db.connection() as conn:
        _setup(conn)
        listing_id = upsert_listing_refs(conn, "bat", [ListingRef("u", "x")]).new[0][0]
        sha = save_snapshot(conn, "u", 200, "text/html", b"<html>sold</html>")
        assert upsert_auction_event(conn, listing_id, None, _listing(), sha) == "inserted"
        assert upsert_auction_event(conn, listing_id, None, _listing(), sha) == "unchanged"
        assert upsert_auction_event(conn, listing_id, None, _listing(bid_count=None, buyer=None), sha) == "unchanged"
        # a repair: the page really said "Bid to" -> the sale price goes, the high bid stays
        fixed = _listing(outcome=Outcome.BID_TO, sale_price=None, outcome_evidence="title:bid to")
        assert upsert_auction_event(conn, listing_id, None, fixed, sha) == "updated"
        row = conn.execute("SELECT outcome, sale_price, high_bid, bid_count, evidence FROM auction_events").fetchone()
        assert (row[0], row[1], int(row[2]), row[3], row[4]) == ("bid_to", None, 33000, 16, "title:bid to")
        # "unknown" never overwrites a decided outcome
        upsert_auction_event(conn, listing_id, None, _listing(outcome=Outcome.UNKNOWN, sale_price=None), sha)
        assert conn.execute("SELECT outcome FROM auction_events").fetchone()[0] == "bid_to"


def test_observations_only_when_something_changed(db):
    with db.connection() as conn:
        _setup(conn)
        listing_id = upsert_listing_refs(conn, "bat", [ListingRef("u", "x")]).new[0][0]
        live = _listing(outcome=Outcome.LIVE, sale_price=None, high_bid=20000, bid_count=5)
        assert record_observation(conn, listing_id, live, None)
        assert not record_observation(conn, listing_id, live, None)
        assert record_observation(conn, listing_id, _listing(outcome=Outcome.LIVE, sale_price=None, high_bid=25000,
                                                             bid_count=9), None)
        assert record_observation(conn, listing_id, _listing(), None)
        history = conn.execute("SELECT outcome, price FROM listing_observations ORDER BY id").fetchall()
        assert [(o, int(p)) for o, p in history] == [("live", 20000), ("live", 25000), ("sold", 33000)]


def test_snapshots_are_stored_once_by_content(db):
    with db.connection() as conn:
        a = save_snapshot(conn, "u1", 200, "text/html", b"same page")
        b = save_snapshot(conn, "u2", 200, "text/html", b"same page")
        assert a == b and len(a) == 32
        assert conn.execute("SELECT count(*), max(size_bytes) FROM page_snapshots").fetchone() == (1, 9)
