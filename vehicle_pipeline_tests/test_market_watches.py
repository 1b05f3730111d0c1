"""Saved searches: the sensor posts a new listing, a price drop and a result once each to a real local HTTP
receiver (through notify.post_webhook), nothing on a second run, and a post the webhook refused is sent again."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from vehicle_pipeline.defs.market import saved_search_sensor
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.market.watches import WatchError, add_watch, list_watches, parse_years, remove_watch
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
