"""An auction page is parsed once: the import parses it deep and its deep-extraction item carries that parse,
tied to the page's snapshot. Extraction stores the carried parse only while that snapshot is the listing's
latest; a stale or unreadable carried parse is replaced by a parse of the latest stored page.
Real Postgres, the sample site over HTTP."""

import json
import os
from datetime import datetime, timezone

import pytest

from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline_tests.conftest import sample_settings
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.index import walk_index
from vehicle_pipeline.ingest.outcomes import drain_outcomes
from vehicle_pipeline.model import Comment, CommentKind, Outcome, VehicleListing, VinState
from vehicle_pipeline.sources import bat, parser_build
from vehicle_pipeline.store.queue import NewItem
from vehicle_pipeline.store.records import load_snapshot


def test_a_listing_record_reads_back_exactly_through_json():
    listing = VehicleListing(
        source="bat", url="https://example.test/listing/x/", external_id="x", title="1970 Mercedes-Benz 280SL",
        year=1970, make="Mercedes-Benz", model="280SL", vin="11304412012345", vin_state=VinState.NOT_APPLICABLE,
        mileage=45000, mileage_unit="mi", outcome=Outcome.BID_TO, high_bid=89500, currency="USD", bid_count=31,
        comment_count=2, ended_at=datetime(2026, 4, 20, 17, 5, 9, 250000, tzinfo=timezone.utc), no_reserve=False,
        images=["https://example.test/a.jpg", "https://example.test/b.jpg"], outcome_evidence=".listing-available-info",
        comments=[Comment("c1", CommentKind.BID, "alice", datetime(2026, 4, 20, 17, 4, tzinfo=timezone.utc),
                          "USD $89,500 bid placed by alice", amount=89500, currency="USD"),
                  Comment("c2", CommentKind.COMMENT, None, None, "Lovely car — “original” paint")])
    record = json.loads(json.dumps(listing.to_record()))
    assert VehicleListing.from_record(record) == listing
    assert VehicleListing.from_record(VehicleListing(source="mecum", url="u", external_id="1").to_record()) \
        == VehicleListing(source="mecum", url="u", external_id="1")


def test_the_parser_build_changes_with_any_byte_of_the_parsing_code(tmp_path):
    from vehicle_pipeline.sources import code_fingerprint

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("X = 1\n")
    b.write_text("Y = 2\n")
    first = code_fingerprint([a, b])
    assert code_fingerprint([a, b]) == first
    b.write_text("Y = 3\n")
    assert code_fingerprint([a, b]) != first
    b.write_text("Y = 2\n")
    a.write_text("X = 1\nY")  # the same bytes moved across a file boundary are another build
    b.write_text(" = 2\n")
    assert code_fingerprint([a, b]) != first
    assert len(parser_build()) == 16 and parser_build() == parser_build()


@pytest.mark.parametrize("broken", [
    {},
    {"outcome": "sold-ish"},
    {"ended_at": "2026-04-20T17:05:09"},  # a naive time is not UTC
    {"images": "https://example.test/a.jpg"},
    {"comments": [{"external_id": "c1"}]},
    {"sale_price": 1000, "outcome": "bid_to"},  # the model's own rule holds for records too
])
def test_a_record_that_is_not_a_listing_raises(broken):
    record = VehicleListing(source="bat", url="u", external_id="x", outcome=Outcome.BID_TO).to_record()
    record = {} if not broken else record | broken
    with pytest.raises((KeyError, TypeError, ValueError)):
        VehicleListing.from_record(record)


def _events(db) -> dict[int, tuple]:
    with db.connection() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            """SELECT e.listing_id, e.outcome, e.high_bid, e.bid_count, e.snapshot_sha256,
                      (SELECT count(*) FROM auction_comments c WHERE c.listing_id = e.listing_id)
               FROM auction_events e""")}


def test_extraction_stores_the_imports_parse_and_parses_again_only_when_it_is_stale(db, sample_site, truth):
    settings = sample_settings(sample_site, time_budget_seconds=60)
    with Ingest(db, settings, worker_id="one-parse") as ingest:
        ingest.ensure_sources()
        for kind in ("results", "live"):
            walk_index(ingest, "bat", bat.index_url(settings.base_url("bat"), kind=kind))
        imported = drain_imports(ingest)
        expected = [l for l in truth["listings"] if l["source"] == "bat"]
        assert imported.done == len(expected) and imported.deep_enqueued == len(expected)
        with db.connection() as conn:
            items = conn.execute(
                """SELECT (w.payload->>'listing_id')::bigint, w.payload->>'snapshot', w.payload->'parsed',
                          encode(l.last_snapshot, 'hex'), w.payload->>'parser'
                   FROM work_items w JOIN listings l ON l.id = (w.payload->>'listing_id')::bigint
                   WHERE w.queue = 'deep_extraction'""").fetchall()
        assert len(items) == len(expected)
        assert {i[4] for i in items} == {parser_build()}, "the item names the build that made its parse"
        for listing_id, carried_sha, parsed, latest, _ in items:
            assert carried_sha == latest, "the item carries the parse of the page the import stored"
            assert parsed["outcome"] is not None

        first = drain_outcomes(ingest)
        assert (first.done, first.reparsed, first.fetched, first.dead) == (len(expected), 0, 0, 0)
        with db.connection() as conn:
            kept = conn.execute("""SELECT count(*) FILTER (WHERE payload ? 'parsed'), count(*) FILTER (WHERE payload ? 'snapshot')
                                   FROM work_items WHERE queue = 'deep_extraction' AND state = 'done'""").fetchone()
        assert kept == (0, len(expected)), "a done item drops the parse it carried and keeps the rest of its payload"
        events = _events(db)
        # What was stored is what a deep parse of each stored page says.
        with db.connection() as conn:
            for listing_id, (outcome, high_bid, bid_count, evidence, comments) in events.items():
                url, body, _ = load_snapshot(conn, evidence)
                page = bat.parse(body, url=url, deep=True)
                assert (outcome, high_bid, bid_count, comments) == (
                    str(page.outcome), page.high_bid, page.bid_count, len(page.comments or [])), listing_id
        by_outcome = {row[0]: (lid, row) for lid, row in events.items()}
        listing_id, (outcome, high_bid, *_rest) = by_outcome["bid_to"]
        latest = dict((i[0], i[3]) for i in items)[listing_id]
        parsed = dict((i[0], i[2]) for i in items)[listing_id]
        changed = parsed | {"high_bid": int(high_bid) + 1000}

        def carry(snapshot: str, record: dict, build: str = parser_build()) -> None:
            ingest.queue.enqueue_many([NewItem("deep_extraction", "bat", f"deep:{listing_id}",
                                               {"listing_id": listing_id, "snapshot": snapshot, "parsed": record,
                                                "parser": build})])

        # A parse of a page that is no longer the latest: the latest stored page is parsed instead.
        carry(os.urandom(32).hex(), changed)
        stale = drain_outcomes(ingest)
        assert (stale.done, stale.reparsed) == (1, 1)
        assert _events(db)[listing_id][1] == high_bid
        # A record that does not read back: parsed again, never half-trusted.
        carry(latest, {"high_bid": 1})
        unreadable = drain_outcomes(ingest)
        assert (unreadable.done, unreadable.reparsed) == (1, 1)
        assert _events(db)[listing_id][1] == high_bid
        # A parse of the latest page by another build of the parsers (queued before a parser fix was deployed):
        # this build parses the page again.
        carry(latest, changed, build="0123456789abcdef")
        other_build = drain_outcomes(ingest)
        assert (other_build.done, other_build.reparsed) == (1, 1)
        assert _events(db)[listing_id][1] == high_bid
        # The parse of the latest page is stored as carried, with no second parse (the changed bid shows it).
        carry(latest, changed)
        fresh = drain_outcomes(ingest)
        assert (fresh.done, fresh.reparsed) == (1, 0)
        assert _events(db)[listing_id][1] == int(high_bid) + 1000
