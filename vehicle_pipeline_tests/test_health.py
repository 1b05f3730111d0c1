"""pipeline_health's figures from seeded activity equal the hand-computed values; the queue's event log is
kept by the database (triggers) for every state change."""

from datetime import datetime, timedelta, timezone

import pandas as pd
from psycopg.types.json import Jsonb

from vehicle_pipeline.ingest.health import dead_reason, pipeline_health
from vehicle_pipeline.store.queue import NewItem, WorkQueue
from vehicle_pipeline.store.trace import run_progress

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def ago(**kw) -> datetime:
    return NOW - timedelta(**kw)


def _seed(conn) -> dict[str, int]:
    for name, kind in (("bat", "auction"), ("mecum", "auction"), ("craigslist:sfbay", "classified")):
        conn.execute("INSERT INTO sources (name, kind) VALUES (%s, %s)", (name, kind))
    conn.execute("""UPDATE sources SET backoff_level = 2, backoff_until = %s WHERE name = 'mecum'""", (NOW + timedelta(hours=3),))
    conn.execute("UPDATE sources SET backoff_since = %s WHERE name = 'mecum'", (ago(hours=5),))
    ids = {}
    for key, source, first_seen in (("v1", "bat", ago(hours=2)), ("v2", "bat", ago(hours=3)),
                                    ("v3", "mecum", ago(hours=30)), ("v_old", "bat", ago(days=9))):
        vid = conn.execute("INSERT INTO vehicles (first_seen_at) VALUES (%s) RETURNING id", (first_seen,)).fetchone()[0]
        ids[key] = vid
    for key, source, vehicle, parsed, fetched in (
            ("L1", "bat", "v1", {"title": "a"}, ago(hours=2)),
            ("L2", "bat", "v2", {"title": "b", "fallback": True}, ago(hours=3)),
            ("L3", "mecum", "v3", None, ago(hours=30)),
            ("L4", "bat", None, None, None),
            ("L5", "mecum", None, None, None),
            ("L6", "bat", "v_old", {"fallback": True}, ago(days=2))):  # fallback, but fetched before the window
        ids[key] = conn.execute(
            """INSERT INTO listings (source, external_id, url, vehicle_id, parsed, last_fetched_at)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
            (source, key, f"https://x/{key}", ids.get(vehicle), Jsonb(parsed) if parsed else None, fetched)).fetchone()[0]
    for key, source, outcome, ended in (("L1", "bat", "sold", ago(hours=5)), ("L4", "bat", "sold", ago(hours=20)),
                                        ("L5", "mecum", "bid_to", ago(hours=4))):
        conn.execute("INSERT INTO auction_events (listing_id, source, outcome, ended_at) VALUES (%s, %s, %s, %s)",
                     (ids[key], source, outcome, ended))
    return ids


def _event(conn, ids, at, queue, source, event, *, listing=None, error=None, result=None):
    corr = conn.execute("SELECT correlation_id FROM listings WHERE id = %s", (ids[listing],)).fetchone()[0] \
        if listing else "00000000-0000-0000-0000-000000000000"
    conn.execute("""INSERT INTO work_item_events (at, item_id, correlation_id, queue, source, event, error, result)
                    VALUES (%s, 0, %s, %s, %s, %s, %s, %s)""",
                 (at, corr, queue, source, event, error, Jsonb(result) if result is not None else None))


def test_health_figures_from_seeded_activity_equal_hand_computed_values(db):
    with db.connection() as conn:
        ids = _seed(conn)
        ev = lambda *a, **k: _event(conn, ids, *a, **k)  # noqa: E731
        stored = {"result": "stored"}
        ev(ago(hours=2), "listing_import", "bat", "done", listing="L1", result=stored)
        ev(ago(hours=3), "listing_import", "bat", "done", listing="L2", result=stored)
        ev(ago(minutes=70), "listing_import", "bat", "done", listing="L1", result=stored)   # an update of v1
        ev(ago(hours=30), "listing_import", "mecum", "done", listing="L3", result=stored)
        ev(ago(days=8), "listing_import", "bat", "done", listing="L1", result=stored)       # outside the week
        ev(ago(minutes=90), "deep_extraction", "bat", "done", listing="L1", result={"result": "inserted", "outcome": "sold"})
        ev(ago(hours=22), "deep_extraction", "bat", "done", listing="L4", result={"result": "inserted", "outcome": "live"})
        ev(ago(hours=14), "deep_extraction", "bat", "done", listing="L4", result={"result": "updated", "outcome": "sold"})
        ev(ago(hours=2), "deep_extraction", "mecum", "done", listing="L5", result={"result": "inserted", "outcome": "bid_to"})
        ev(ago(hours=5), "listing_import", "bat", "done", result={"result": "not_modified"})
        ev(ago(hours=6), "listing_import", "bat", "done", result={"result": "gone", "status": 404})
        ev(ago(hours=4), "listing_import", "bat", "snoozed", error="snoozed: blocked challenge status=403")
        ev(ago(hours=7), "listing_import", "bat", "retry", error="failed http_status status=500")
        ev(ago(minutes=30), "listing_import", "bat", "retry", error="parse error: bat: no title")
        ev(ago(hours=10), "listing_import", "bat", "dead", error="expected a listing page at https://x, got IndexPage")
        ev(ago(hours=20), "listing_import", "mecum", "snoozed", error="snoozed: retry_later status=429")
        ev(ago(minutes=20), "dealer_inventory", "bat", "retry", error="failed")  # not a listing fetch queue
        ev(ago(minutes=5), "listing_import", "bat", "claimed")                   # a claim is no outcome
        for taken, queue, source, pending, done in (
                (ago(hours=2), "listing_import", "bat", 100, 5), (ago(hours=2), "listing_import", "mecum", 20, 1),
                (ago(minutes=10), "listing_import", "bat", 80, 30), (ago(minutes=10), "listing_import", "mecum", 10, 2),
                (ago(minutes=10), "deep_extraction", "bat", 5, 0), (ago(days=8), "listing_import", "bat", 999, 0)):
            conn.execute("""INSERT INTO queue_depth_snapshots (taken_at, queue, source, pending, running, dead,
                            done_last_hour) VALUES (%s, %s, %s, %s, 0, 0, %s)""", (taken, queue, source, pending, done))
        for queue, error in (("listing_import", "parse error: bat: x"), ("listing_import", "parse error: bat: y"),
                             ("listing_import", "failed http_status status=500"), ("deep_extraction", "ValueError: bad")):
            conn.execute("""INSERT INTO work_items (queue, source, dedupe_key, state, last_error, finished_at)
                            VALUES (%s, 'bat', gen_random_uuid()::text, 'dead', %s, now())""", (queue, error))

        health = pipeline_health(conn, now=NOW)

    profiles = health.profiles.assign(day=health.profiles["day"].dt.strftime("%Y-%m-%d"))
    assert profiles.to_dict("records") == [
        {"day": "2026-10-31", "source": "mecum", "created": 1, "updated": 0},
        {"day": "2026-11-01", "source": "bat", "created": 2, "updated": 1},
    ]
    assert health.queues.to_dict("records") == [
        {"queue": "deep_extraction", "depth": 5, "drain_rate_per_hour": 0},
        {"queue": "listing_import", "depth": 90, "drain_rate_per_hour": 32},
    ]
    assert health.queue_trend.to_dict() == {
        "deep_extraction": {pd.Timestamp("2026-11-01 10:00Z"): 0, pd.Timestamp("2026-11-01 11:00Z"): 5},
        "listing_import": {pd.Timestamp("2026-11-01 10:00Z"): 120, pd.Timestamp("2026-11-01 11:00Z"): 90}}
    assert health.fetches.to_dict("records") == [
        {"source": "bat", "ok": 6, "unchanged": 1, "gone": 1, "blocked": 1, "failed": 1, "parse_failures": 2,
         "fallback_parses": 1},
        {"source": "mecum", "ok": 1, "unchanged": 0, "gone": 0, "blocked": 1, "failed": 0, "parse_failures": 0,
         "fallback_parses": 0},
    ]
    assert health.recent_parse.to_dict("records") == [
        {"source": "bat", "parse_failures_last_hour": 1, "pages_last_hour": 1, "parse_failures_before": 1,
         "pages_before": 11},
        {"source": "mecum", "parse_failures_last_hour": 0, "pages_last_hour": 0, "parse_failures_before": 0,
         "pages_before": 2},
    ]
    assert health.backoff[["source", "backoff_level"]].to_dict("records") == [{"source": "mecum", "backoff_level": 2}]
    assert health.backoff["backoff_since"][0] == pd.Timestamp(ago(hours=5))
    assert health.backoff["backoff_until"][0] == pd.Timestamp(NOW + timedelta(hours=3))
    assert health.dead.to_dict("records") == [
        {"queue": "deep_extraction", "reason": "ValueError", "items": 1},
        {"queue": "listing_import", "reason": "parse error", "items": 2},
        {"queue": "listing_import", "reason": "failed http_status", "items": 1},
    ]
    # bat: L1 ended 5 h ago, decided 1.5 h ago (3.5 h); L4 ended 20 h ago, decided 14 h ago (6 h; its earlier
    # "live" extraction does not count); mecum: L5 ended 4 h ago, decided 2 h ago
    assert health.latency.to_dict("records") == [
        {"site": "bat", "outcomes": 2, "median_hours": 4.75, "p90_hours": 5.75},
        {"site": "mecum", "outcomes": 1, "median_hours": 2.0, "p90_hours": 2.0},
    ]
    meta = health.metadata()
    assert meta == {
        "profiles_created_today/bat": 2, "profiles_updated_today/bat": 1,
        "profiles_created_today/mecum": 0, "profiles_updated_today/mecum": 0,
        "queue_depth/deep_extraction": 5, "drain_rate_per_hour/deep_extraction": 0,
        "queue_depth/listing_import": 90, "drain_rate_per_hour/listing_import": 32,
        "fetch_ok_24h/bat": 6, "fetch_unchanged_24h/bat": 1, "fetch_gone_24h/bat": 1, "fetch_blocked_24h/bat": 1,
        "fetch_failed_24h/bat": 1, "parse_failures_24h/bat": 2, "fallback_parses_24h/bat": 1,
        "fetch_ok_24h/mecum": 1, "fetch_unchanged_24h/mecum": 0, "fetch_gone_24h/mecum": 0,
        "fetch_blocked_24h/mecum": 1, "fetch_failed_24h/mecum": 0, "parse_failures_24h/mecum": 0,
        "fallback_parses_24h/mecum": 0,
        "sources_in_backoff": 1,
        "dead_items/deep_extraction": 1, "dead_items/listing_import": 3, "dead_items_total": 4,
        "outcome_latency_median_hours/bat": 4.75, "outcome_latency_p90_hours/bat": 5.75,
        "outcome_latency_median_hours/mecum": 2.0, "outcome_latency_p90_hours/mecum": 2.0,
    }
    text = health.markdown()
    assert "| bat | 6 | 1 | 1 | 1 | 1 | 2 | 1 |" in text
    assert "| listing_import | parse error | 2 |" in text


def test_an_empty_database_gives_zeros_and_says_what_is_missing(db):
    with db.connection() as conn:
        health = pipeline_health(conn, now=NOW)
    assert health.metadata() == {"sources_in_backoff": 0, "dead_items_total": 0}
    text = health.markdown()
    assert "no queue depth snapshots" in text and "fallback parses: none recorded" in text


def test_the_event_log_records_every_state_change_with_the_run_and_the_error(db):
    with db.connection() as conn:
        conn.execute("INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
        listing = conn.execute("INSERT INTO listings (source, external_id, url) VALUES ('bat', '1', 'https://x/1') "
                               "RETURNING id, correlation_id").fetchone()
    walk = WorkQueue(db, worker_id="run:walk")
    walk.enqueue(NewItem("listing_import", "bat", "bat:1", {"listing_id": listing[0], "found_by": "run:walk"}))
    queue = WorkQueue(db, worker_id="run:drain-1")
    [item] = queue.claim("listing_import", 1)
    queue.fail(item, "failed http_status status=500")
    with db.connection() as conn:
        conn.execute("UPDATE work_items SET available_at = now()")
    [item] = queue.claim("listing_import", 1)
    queue.snooze(item, timedelta(0), "blocked status=429")
    [item] = queue.claim("listing_import", 1)
    queue.complete(item, {"result": "stored"})
    with db.connection() as conn:
        rows = conn.execute("""SELECT event, attempt, worker, error, result, correlation_id FROM work_item_events
                               ORDER BY id""").fetchall()
        [item_corr] = conn.execute("SELECT correlation_id FROM work_items").fetchone()
    assert item_corr == listing[1]  # the listing's correlation id, given by the database
    assert [r[:4] for r in rows] == [
        ("queued", 0, "run:walk", None),
        ("claimed", 1, "run:drain-1", None),
        ("retry", 1, "run:drain-1", "failed http_status status=500"),
        ("claimed", 2, "run:drain-1", None),
        ("snoozed", 2, "run:drain-1", "snoozed: blocked status=429"),
        ("claimed", 2, "run:drain-1", None),
        ("done", 2, "run:drain-1", None),
    ]
    assert rows[-1][4] == {"result": "stored"}
    assert {r[5] for r in rows} == {listing[1]}
    with db.connection() as conn:  # what the drain assets log at intervals
        assert run_progress(conn, "run:drain-1", "listing_import") == {
            "done": 1, "retried": 1, "dead": 0, "snoozed": 1, "pending": 0}


def test_dead_reasons_drop_the_particulars():
    assert dead_reason("parse error: bat: no .listing-title") == "parse error"
    assert dead_reason("failed http_status status=503 upstream") == "failed http_status"
    assert dead_reason("lease expired (worker run:abc stopped or stalled)") == "lease expired"
    assert dead_reason("") == "unknown"
