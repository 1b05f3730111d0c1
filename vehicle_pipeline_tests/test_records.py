"""Domain writes against a real Postgres: idempotent upserts that report what they did, history kept,
known values never replaced by null, a sale price only on a sale."""

from datetime import datetime, timezone

from vehicle_pipeline.model import ListingRef, Outcome, VehicleListing, VinState
from vehicle_pipeline.store.records import (
    ListingWrite,
    record_observations,
    save_snapshot,
    update_listings,
    upsert_auction_events,
    upsert_listing_refs,
    upsert_vehicles,
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


def upsert_vehicle(conn, listing, existing):
    return upsert_vehicles(conn, [(listing, existing)])[0]


def update_listing(conn, listing_id, listing, vehicle_id, snapshot):
    update_listings(conn, [ListingWrite(listing_id, vehicle_id, listing, snapshot)])


def record_observation(conn, listing_id, listing, snapshot):
    return record_observations(conn, [ListingWrite(listing_id, None, listing, snapshot)])[0]


def upsert_auction_event(conn, listing_id, vehicle_id, listing, snapshot):
    return upsert_auction_events(conn, [ListingWrite(listing_id, vehicle_id, listing, snapshot)])[0]


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


def test_snapshots_are_zstd_and_zlib_rows_stay_readable(db):
    """New snapshots are zstd-compressed; rows written as zlib before that change still read back."""
    import zlib

    from vehicle_pipeline.store.records import load_snapshot

    page = b"<html>" + b"<div class='comment'>Sold for $33,000 on a sunny day</div>" * 500 + b"</html>"
    with db.connection() as conn:
        sha = save_snapshot(conn, "https://bringatrailer.com/listing/x/", 200, "text/html", page)
        compression, stored = conn.execute("SELECT compression, body FROM page_snapshots WHERE sha256 = %s",
                                           (sha,)).fetchone()
        assert compression == "zstd" and len(stored) < len(page) // 20
        assert load_snapshot(conn, sha)[:2] == ("https://bringatrailer.com/listing/x/", page)
        old = b"<html>an older page</html>"
        conn.execute("INSERT INTO page_snapshots (sha256, url, http_status, size_bytes, compression, body) "
                     "VALUES (%s, 'u-old', 200, %s, 'zlib', %s)", (b"o" * 32, len(old), zlib.compress(old, 3)))
        assert load_snapshot(conn, b"o" * 32)[1] == old


def test_a_batch_writes_like_the_pages_one_after_another(db):
    """Two pages of one VIN in one batch are one vehicle (the later page's values win, none erased); pages
    without a valid VIN keep their own vehicles; every page gets its row, observation and images."""
    from vehicle_pipeline.store.records import store_profiles

    with db.connection() as conn:
        _setup(conn)
        ids = [lid for lid, _ in upsert_listing_refs(conn, "bat", [ListingRef(f"u{i}", f"x{i}") for i in range(4)]).new]
        pages = [
            _listing(url="u0", external_id="x0", images=["https://img/a.jpg", "https://img/b.jpg"]),
            _listing(url="u1", external_id="x1", mileage=None, exterior_color="Red", images=["https://img/a.jpg"]),
            _listing(url="u2", external_id="x2", vin=None, vin_state=None),
            _listing(url="u3", external_id="x3", vin="JT3HT05J8Y0099990", vin_state=VinState.BAD_CHECK_DIGIT),
        ]
        stored = store_profiles(conn, [ListingWrite(lid, None, page) for lid, page in zip(ids, pages)])
        assert stored[0].vehicle_id == stored[1].vehicle_id
        assert [s.vehicle_action for s in stored] == ["inserted", "updated", "inserted", "inserted"]
        assert len({s.vehicle_id for s in stored}) == 3
        assert [s.images for s in stored] == [2, 1, 0, 0] and all(s.observation for s in stored)
        row = conn.execute("SELECT mileage, exterior_color FROM vehicles WHERE id = %s",
                           (stored[0].vehicle_id,)).fetchone()
        assert row == (120000, "Red")
        linked = conn.execute("SELECT id, vehicle_id, status FROM listings ORDER BY id").fetchall()
        assert linked == [(lid, s.vehicle_id, "ended") for lid, s in zip(ids, stored)]
        # the same batch again: nothing new, the same vehicles
        again = store_profiles(conn, [ListingWrite(lid, s.vehicle_id, page)
                                      for lid, s, page in zip(ids, stored, pages)])
        assert [a.vehicle_id for a in again] == [s.vehicle_id for s in stored]
        assert not any(a.observation or a.images for a in again)
        assert conn.execute("SELECT count(*) FROM vehicles").fetchone()[0] == 3


def test_a_batch_of_auctions_reports_each_event(db):
    from vehicle_pipeline.model import Comment, CommentKind
    from vehicle_pipeline.store.records import store_auctions

    with db.connection() as conn:
        _setup(conn)
        a, b = [lid for lid, _ in upsert_listing_refs(conn, "bat", [ListingRef("u", "x"), ListingRef("v", "y")]).new]
        bid = Comment("c1", CommentKind.BID, "bidder", ENDED, "USD $33,000 bid placed", amount=33000, currency="USD")
        first = store_auctions(conn, [ListingWrite(a, None, _listing(comments=[bid])),
                                      ListingWrite(b, None, _listing(url="v", external_id="y", vin=None,
                                                                     vin_state=None))])
        assert [(s.event, s.comments_new) for s in first] == [("inserted", 1), ("inserted", 0)]
        fixed = _listing(outcome=Outcome.BID_TO, sale_price=None, comments=[bid])
        second = store_auctions(conn, [ListingWrite(a, first[0].vehicle_id, fixed),
                                       ListingWrite(b, first[1].vehicle_id, _listing(url="v", external_id="y",
                                                                                     vin=None, vin_state=None))])
        assert [(s.event, s.comments_new) for s in second] == [("updated", 0), ("unchanged", 0)]
        assert conn.execute("SELECT outcome, sale_price FROM auction_events WHERE listing_id = %s",
                            (a,)).fetchone() == ("bid_to", None)


def test_one_bad_record_costs_only_itself(db):
    """A batch whose one page breaks a constraint is written again page by page: the others are stored and
    the bad one comes back with its error (for the drain to fail that item and keep its reason)."""

    from vehicle_pipeline.ingest.drain import write_batch
    from vehicle_pipeline.store.records import store_profiles

    with db.connection() as conn:
        _setup(conn)
        ids = [lid for lid, _ in upsert_listing_refs(conn, "bat", [ListingRef(f"u{i}", f"x{i}") for i in range(3)]).new]
    pages = [_listing(url="u0", external_id="x0"), _listing(url="u1", external_id="x1", vin=None, vin_state=None, year=3000),
             _listing(url="u2", external_id="x2", vin=None, vin_state=None)]
    results = write_batch(db, [ListingWrite(lid, None, p) for lid, p in zip(ids, pages)],
                          store_profiles)
    assert isinstance(results[1], Exception) and "year" in str(results[1])
    assert [type(r).__name__ for r in (results[0], results[2])] == ["ListingStored", "ListingStored"]
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM listings WHERE vehicle_id IS NOT NULL").fetchone()[0] == 2


def test_an_unreadable_page_is_kept_and_marks_the_listing_on_the_last_attempt(db):
    from vehicle_pipeline.store.records import mark_unreadable

    with db.connection() as conn:
        _setup(conn)
        a, b = [lid for lid, _ in upsert_listing_refs(conn, "bat", [ListingRef("u", "x"), ListingRef("v", "y")]).new]
        sha = save_snapshot(conn, "u", 200, "text/html", b"<html>markup the parser does not know</html>")
        mark_unreadable(conn, [(a, sha, False), (b, sha, True)])
        rows = conn.execute("SELECT id, status, last_snapshot = %s, last_fetched_at IS NOT NULL FROM listings "
                            "ORDER BY id", (sha,)).fetchall()
        assert rows == [(a, "discovered", True, False), (b, "unparseable", True, True)]
