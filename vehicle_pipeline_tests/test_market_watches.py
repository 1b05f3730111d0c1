"""Saved searches: the sensor posts a new listing, a price drop and a result once each to a real local HTTP
receiver (through notify.post_webhook), nothing on a second run, and a post the webhook refused is sent again."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import psycopg
import pytest

from vehicle_pipeline.defs.market import saved_search_sensor
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.market.watches import GAP_WAIT, WatchCursor, WatchError, add_watch, list_watches, parse_years, \
    remove_watch
from vehicle_pipeline.model import Outcome, VehicleListing
from vehicle_pipeline.notify import WEBHOOK_ENV
from vehicle_pipeline.store.records import ListingWrite, record_observations
from vehicle_pipeline_tests.market_seed import add_sources, seed_listing


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def observe(conn, listing_id: int, **fields) -> None:
    """What one fetch of the listing saw, recorded as the pipeline records it."""
    base = dict(source="bat", url="https://example.test/x", external_id="x", currency="USD")
    record_observations(conn, [ListingWrite(listing_id, None, VehicleListing(**(base | fields)))])


def tick(db_url: str):
    with dg.build_sensor_context(resources={"postgres": PostgresResource(database_url=db_url, pool_size=2)}) as ctx:
        return saved_search_sensor(ctx)


def _seed_before_watch(conn) -> int:
    add_sources(conn)
    auction = seed_listing(conn, "bat", year=2009, model="997 911", trim="Carrera 4S", outcome="live",
                           high_bid=90_000)
    observe(conn, auction, outcome=Outcome.LIVE, high_bid=90_000, bid_count=10)
    return auction


def _seed_after_watch(conn, auction: int) -> None:
    car = seed_listing(conn, "craigslist:sfbay", year=2006, model="911", trim="Carrera", outcome=None,
                       asking_price=110_000, title="2006 Porsche 911 Carrera")
    observe(conn, car, source="craigslist:sfbay", asking_price=110_000)
    observe(conn, car, source="craigslist:sfbay", asking_price=100_000)  # the price drop
    observe(conn, car, source="craigslist:sfbay", asking_price=100_000)  # seen again, unchanged: no observation
    observe(conn, auction, outcome=Outcome.LIVE, high_bid=95_000, bid_count=12)  # a bid: no post
    observe(conn, auction, outcome=Outcome.SOLD, sale_price=100_000, high_bid=100_000, bid_count=12)
    # not matches: another family, and a 911 over the price
    other = seed_listing(conn, "craigslist:sfbay", year=2006, make="Toyota", model="Tacoma", outcome=None,
                         asking_price=20_000)
    observe(conn, other, source="craigslist:sfbay", asking_price=20_000)
    dear = seed_listing(conn, "craigslist:sfbay", year=2008, model="911", outcome=None, asking_price=200_000)
    observe(conn, dear, source="craigslist:sfbay", asking_price=200_000)


def test_a_watch_posts_each_match_once(db, db_url, receiver, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    with db.connection() as conn:
        auction = _seed_before_watch(conn)
        add_watch(conn, "911s", make="Porsche", model="911", years="2000-2012", max_price=120_000)
        add_watch(conn, "bat 911s", make="Porsche", model="911", source_names=["bat"])
        add_watch(conn, "old 911s", make="Porsche", model="911", years="1965-1973")
        _seed_after_watch(conn, auction)
    tick(db_url)
    posts = [p for p in receiver.received if p["search"] == "911s"]
    events = sorted((p["event"], p["price"], p["outcome"]) for p in posts)
    assert events == [("new", 110_000, None), ("price_drop", 100_000, None), ("result", 100_000, "sold")]
    assert all(p["url"].startswith("https://example.test/") for p in posts)
    drop = next(p for p in posts if p["event"] == "price_drop")
    assert drop["previous_price"] == 110_000 and "110,000 → 100,000 USD" in drop["text"]
    # the BaT-only search sees the auction's result and not the classified; the 1965-1973 one sees nothing
    assert [(p["search"], p["event"]) for p in receiver.received if p["search"] != "911s"] == [("bat 911s", "result")]
    # a second run (a restart reads the same database) posts nothing
    tick(db_url)
    assert len(receiver.received) == 4
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM saved_search_posts").fetchone()[0] == 4


def test_a_post_the_webhook_did_not_take_is_sent_on_the_next_tick(db, db_url, receiver, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on: the webhook is down
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    monkeypatch.setenv(WEBHOOK_ENV, down)
    with db.connection() as conn:
        auction = _seed_before_watch(conn)
        add_watch(conn, "911s", make="Porsche", model="911", max_price=120_000)
        _seed_after_watch(conn, auction)
    tick(db_url)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM saved_search_posts").fetchone()[0] == 0
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    tick(db_url)
    tick(db_url)
    assert sorted(p["event"] for p in receiver.received) == ["new", "price_drop", "result"]


def test_sources_filter_and_watch_commands(db):
    with db.connection() as conn:
        add_sources(conn)
        add_watch(conn, "cl only", make="porsche", model="911", source_names=["craigslist"])
        assert [w.name for w in list_watches(conn)] == ["cl only"]
        with pytest.raises(WatchError, match="exists already"):
            add_watch(conn, "cl only", make="Porsche")
        with pytest.raises(WatchError, match="unknown source"):
            add_watch(conn, "x", make="Porsche", source_names=["ebay"])
        with pytest.raises(WatchError, match="needs --make or --model"):
            add_watch(conn, "y")
        assert remove_watch(conn, "cl only") and not remove_watch(conn, "cl only")
    assert parse_years("1995-1998") == (1995, 1998) and parse_years("1995") == (1995, 1995)
    with pytest.raises(WatchError):
        parse_years("1998-1995")
    with pytest.raises(WatchError):
        parse_years("nineties")


def _tick_from(db_url: str, cursor: str | None) -> tuple[str, str]:
    """One tick from `cursor`: (the cursor it leaves, its skip message)."""
    with dg.build_sensor_context(cursor=cursor,
                                 resources={"postgres": PostgresResource(database_url=db_url, pool_size=2)}) as ctx:
        result = saved_search_sensor(ctx)
        return ctx.cursor, result.skip_message


def _read(message: str) -> int:
    return int(re.match(r"(\d+) observation\(s\) read", message).group(1))


def test_each_tick_reads_only_new_observations_and_a_failed_post_is_read_again(db, db_url, receiver, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    with db.connection() as conn:
        auction = _seed_before_watch(conn)
        add_watch(conn, "911s", make="Porsche", model="911", max_price=120_000)
        _seed_after_watch(conn, auction)
        after_watch = conn.execute("SELECT count(*) FROM listing_observations").fetchone()[0] - 1
    cursor, message = _tick_from(db_url, None)
    assert _read(message) == after_watch and len(receiver.received) == 3

    with db.connection() as conn:  # one more car: the next tick reads it alone
        car = seed_listing(conn, "craigslist:sfbay", year=2004, model="911", outcome=None, asking_price=60_000)
        observe(conn, car, source="craigslist:sfbay", asking_price=60_000)
    cursor, message = _tick_from(db_url, cursor)
    assert _read(message) == 1 and [p["price"] for p in receiver.received[3:]] == [60_000]
    cursor, message = _tick_from(db_url, cursor)
    assert _read(message) == 0 and len(receiver.received) == 4

    with socket.socket() as s:  # the webhook is down while a price drops
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{s.getsockname()[1]}/hook")
    with db.connection() as conn:
        observe(conn, car, source="craigslist:sfbay", asking_price=55_000)
        [drop] = conn.execute("SELECT max(id) FROM listing_observations").fetchone()
    cursor, message = _tick_from(db_url, cursor)
    assert _read(message) == 1 and "1 left for the next tick" in message
    assert json.loads(cursor)["retry"] == [drop]
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    cursor, message = _tick_from(db_url, cursor)  # nothing new: the failed one is read again and posted
    assert _read(message) == 1 and [p["event"] for p in receiver.received[4:]] == ["price_drop"]
    cursor, message = _tick_from(db_url, cursor)
    assert _read(message) == 0 and json.loads(cursor)["retry"] == [] and len(receiver.received) == 5
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM saved_search_posts").fetchone()[0] == 5


def test_an_observation_committed_after_a_later_one_is_not_skipped(db, db_url, receiver, monkeypatch):
    """Ids are handed out at insert, not at commit: a drain's transaction still open when a tick reads leaves a
    gap below the last id read, which the next tick reads once it commits."""
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    with db.connection() as conn:
        add_sources(conn)
        add_watch(conn, "911s", make="Porsche", model="911")
        slow = seed_listing(conn, "craigslist:sfbay", year=2004, model="911", outcome=None, asking_price=60_000)
        fast = seed_listing(conn, "craigslist:sfbay", year=2005, model="911", outcome=None, asking_price=70_000)
    cursor, _ = _tick_from(db_url, None)
    with psycopg.connect(db_url) as open_tx:  # not autocommit: the insert stays invisible until commit
        observe(open_tx, slow, source="craigslist:sfbay", asking_price=60_000)
        with db.connection() as conn:
            observe(conn, fast, source="craigslist:sfbay", asking_price=70_000)
        cursor, message = _tick_from(db_url, cursor)
        assert _read(message) == 1 and [p["price"] for p in receiver.received] == [70_000]
        assert [g[:2] for g in json.loads(cursor)["gaps"]] == [[1, 1]]
        open_tx.commit()
    cursor, message = _tick_from(db_url, cursor)
    assert _read(message) == 1 and [p["price"] for p in receiver.received] == [70_000, 60_000]
    assert json.loads(cursor)["gaps"] == []


def test_a_gap_that_never_fills_is_given_up_after_an_hour():
    cursor = WatchCursor(after=10)
    later = cursor.advanced(10, [11, 14], [], now=1000.0)
    assert (later.after, later.gaps) == (14, [(12, 13, 1000.0)])
    assert later.advanced(14, [13], [], now=1000.0 + GAP_WAIT - 1).gaps == [(12, 12, 1000.0)]
    assert later.advanced(14, [], [], now=1000.0 + GAP_WAIT).gaps == []
    assert WatchCursor.from_json(later.to_json()) == later
    assert WatchCursor.from_json("not json") == WatchCursor() == WatchCursor.from_json(None)


def test_no_webhook_leaves_the_observations_unread(db, db_url, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    cursor, message = _tick_from(db_url, None)
    assert cursor is None and "no webhook configured" in message


def test_a_price_bound_is_in_one_currency_and_other_currencies_never_match(db, db_url, receiver, monkeypatch):
    monkeypatch.setenv(WEBHOOK_ENV, receiver.url)
    with db.connection() as conn:
        add_sources(conn)
        euro = add_watch(conn, "911s in euros", make="Porsche", model="911", max_price=100_000, currency="eur")
        dollars = add_watch(conn, "911s in dollars", make="Porsche", model="911", max_price=100_000)
        anything = add_watch(conn, "any 911", make="Porsche", model="911")
        assert [w.max_price_currency for w in (euro, dollars, anything)] == ["EUR", "USD", None]
        for price, currency in ((90_000, "EUR"), (90_000, "USD"), (120_000, "EUR"), (90_000, "GBP")):
            car = seed_listing(conn, "dealer:sunset-classics", model="911", outcome=None, asking_price=price,
                               currency=currency)
            observe(conn, car, source="dealer:sunset-classics", asking_price=price, currency=currency)
        with pytest.raises(WatchError, match="currency of --max-price"):
            add_watch(conn, "x", make="Porsche", currency="EUR")
        with pytest.raises(WatchError, match="ISO code"):
            add_watch(conn, "y", make="Porsche", max_price=1, currency="euros")
    tick(db_url)
    posted = sorted((p["search"], p["price"], p["currency"]) for p in receiver.received)
    assert posted == [("911s in dollars", 90_000, "USD"), ("911s in euros", 90_000, "EUR"),
                      ("any 911", 90_000, "EUR"), ("any 911", 90_000, "GBP"), ("any 911", 90_000, "USD"),
                      ("any 911", 120_000, "EUR")]
