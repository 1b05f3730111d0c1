"""Live auctions followed to the hammer, on the stand-in: the import of a live page queues its own re-fetch a
few minutes after the stated end (here a second, by configuration), so the outcome lands from that fetch with
no index walk; an auction extended on the way (soft close) is fetched again at its new end. Every change on the
way (bid, end time, outcome) is a listing observation."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.hammer import refetch_at_end
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.outcomes import drain_outcomes
from vehicle_pipeline.model import ListingRef, Outcome, VehicleListing
from vehicle_pipeline.sample_site.server import SampleSite
from vehicle_pipeline.sample_site.world import build_world
from vehicle_pipeline.store.queue import NewItem
from vehicle_pipeline.store.records import upsert_listing_refs
from vehicle_pipeline_tests.conftest import sample_settings

SEED, LISTINGS = 7, 60
AHEAD = 15  # seconds of real time between the first import and the auction's end
DELAY = 1.0  # refetch_after_end_seconds: minutes in production, a second here


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


@pytest.fixture
def ending_soon():
    """A stand-in whose soonest-ending live BaT auction ends AHEAD seconds from now in real time (the world's
    times are offsets from its clock, so the clock is chosen for that), and that auction."""
    probe = build_world(SEED, LISTINGS)
    first = min((l for l in probe.listings if l.source == "bat" and probe.is_live(l, probe.clock)
                 and l.starts_at <= probe.clock), key=lambda l: l.ends_at)
    offset = first.ends_at - probe.clock
    clock = int(time.time()) + AHEAD - offset
    world = build_world(SEED, LISTINGS, clock)
    auction = next(l for l in world.listings if l.source == "bat" and l.slug == first.slug)
    assert auction.ends_at == clock + offset and world.is_live(auction, clock)
    site = SampleSite(world=world).start()
    yield site, auction
    site.stop()


def _truth(site, slug: str) -> dict:
    return next(t for t in site.truth()["listings"] if t["url"] == f"https://bringatrailer.com/listing/{slug}/")


def _wait_until(epoch: float) -> None:
    """Real time passes the re-fetch's due time (the queue compares available_at with the database's clock)."""
    while time.time() < epoch + 0.2:
        time.sleep(min(1.0, max(0.05, epoch + 0.2 - time.time())))


def _discover(ingest: Ingest, db, site, slug: str) -> int:
    """What an index walk did once: the listing registered and its import queued."""
    t = _truth(site, slug)
    with db.connection() as conn:
        [(listing_id, _)] = upsert_listing_refs(conn, "bat", [ListingRef(t["url"], t["external_id"], t["title"])]).new
    ingest.queue.enqueue(NewItem("listing_import", "bat", f"bat:{t['external_id']}",
                                 {"listing_id": listing_id, "url": t["url"]}))
    return listing_id


def _pending(db) -> list[tuple]:
    with db.connection() as conn:
        return conn.execute("""SELECT dedupe_key, available_at, priority FROM work_items
                               WHERE queue = 'listing_import' AND state = 'pending' ORDER BY id""").fetchall()


def _observations(db, listing_id: int) -> list[tuple]:
    with db.connection() as conn:
        return conn.execute("""SELECT outcome, price, bid_count, ended_at FROM listing_observations
                               WHERE listing_id = %s ORDER BY id""", (listing_id,)).fetchall()


def _event(db, listing_id: int) -> tuple:
    with db.connection() as conn:
        return conn.execute("SELECT outcome, sale_price, high_bid, ended_at FROM auction_events WHERE listing_id = %s",
                            (listing_id,)).fetchone()


def _drain(ingest: Ingest) -> None:
    drain_imports(ingest, time_budget=60)
    drain_outcomes(ingest, time_budget=60)


def _settings(site) -> IngestSettings:
    return sample_settings(site, refetch_after_end_seconds=DELAY, time_budget_seconds=60)


def test_a_live_auction_gets_its_outcome_from_the_timed_refetch(db, ending_soon):
    site, auction = ending_soon
    end = auction.ends_at
    with Ingest(db, _settings(site), worker_id="test") as ingest:
        ingest.ensure_sources()
        listing_id = _discover(ingest, db, site, auction.slug)
        _drain(ingest)
        assert _event(db, listing_id)[0] == "live"
        # the live page queued its own re-fetch, due DELAY after the stated end, ahead of new work
        assert _pending(db) == [(f"hammer:{listing_id}:{end}", _utc(end + DELAY), 200)]
        site.set_clock(end + 2)  # the stand-in's auction ends
        site.clear_requests()
        _wait_until(end + DELAY)
        _drain(ingest)
    final = _truth(site, auction.slug)
    assert final["outcome"] in ("sold", "bid_to", "no_sale")
    outcome, sale_price, high_bid, ended_at = _event(db, listing_id)
    assert (outcome, sale_price, high_bid) == (final["outcome"], final["sale_price"], final["high_bid"])
    assert ended_at == _utc(end)
    # no index walk: the one page fetched is the listing's own
    assert {r["path"] for r in site.requests()} == {f"/listing/{auction.slug}/"}
    observed = _observations(db, listing_id)
    assert [o[0] for o in observed] == ["live", final["outcome"]]
    assert observed[-1][1] == (final["sale_price"] or final["high_bid"])
    assert _pending(db) == []  # an ended auction queues nothing more


def test_an_extended_auction_is_refetched_at_its_new_end(db, ending_soon):
    site, auction = ending_soon
    end = auction.ends_at
    with Ingest(db, _settings(site), worker_id="test") as ingest:
        ingest.ensure_sources()
        listing_id = _discover(ingest, db, site, auction.slug)
        _drain(ingest)
        assert _pending(db) == [(f"hammer:{listing_id}:{end}", _utc(end + DELAY), 200)]
        # a late bid: the soft close moves the end 5 seconds on; the stand-in is past the old end, not the new
        new_end = end + 5
        auction.ends_at = new_end
        site.set_clock(end + 2)
        _wait_until(end + DELAY)
        _drain(ingest)
        assert _event(db, listing_id)[0] == "live"
        assert _pending(db) == [(f"hammer:{listing_id}:{new_end}", _utc(new_end + DELAY), 200)]
        site.set_clock(new_end + 2)
        _wait_until(new_end + DELAY)
        _drain(ingest)
    final = _truth(site, auction.slug)
    assert _event(db, listing_id)[:2] == (final["outcome"], final["sale_price"])
    ends = [o[3] for o in _observations(db, listing_id)]
    assert ends == [_utc(end), _utc(new_end), _utc(new_end)]  # the extension is history, not an overwrite


def _live(ended_at: datetime | None, outcome=Outcome.LIVE) -> VehicleListing:
    return VehicleListing(source="bat", url="https://bringatrailer.com/listing/x/", external_id="x",
                          outcome=outcome, ended_at=ended_at)


def test_the_refetch_rule():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    delay = timedelta(minutes=3)
    item = refetch_at_end("bat", 7, "u", _live(now + timedelta(hours=2)), now, delay)
    assert item.available_at == now + timedelta(hours=2, minutes=3)
    assert item.dedupe_key == f"hammer:7:{int((now + timedelta(hours=2)).timestamp())}"
    assert item.payload == {"listing_id": 7, "url": "u", "reason": "auction end"}
    # past its end and still live (the site has not settled): again in `delay`, keyed by the new due time
    late = refetch_at_end("bat", 7, "u", _live(now - timedelta(minutes=4)), now, delay)
    assert late.available_at == now + delay and late.dedupe_key == f"hammer:7:{int((now + delay).timestamp())}"
    # never for an ended auction, a page without an end, or one that never settles
    assert refetch_at_end("bat", 7, "u", _live(now, Outcome.SOLD), now, delay) is None
    assert refetch_at_end("bat", 7, "u", _live(None), now, delay) is None
    assert refetch_at_end("bat", 7, "u", _live(now - timedelta(hours=7)), now, delay) is None
