"""`vehicle-pipeline status --json` says what the database holds: totals, queue rows, sources and the alerts,
each compared with the database itself (the command run as a user runs it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from vehicle_pipeline.store.queue import NewItem, WorkQueue

EXE = [str(Path(sys.executable).with_name("vehicle-pipeline"))]


def _status(db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    env["DATABASE_URL"] = db_url
    return subprocess.run(EXE + ["status", "--json"], env=env, capture_output=True, text=True, timeout=300)


def test_status_json_matches_the_database(db_url, db):
    with db.connection() as conn:
        for name, kind in (("bat", "auction"), ("mecum", "auction"), ("craigslist:sfbay", "classified")):
            conn.execute("INSERT INTO sources (name, kind) VALUES (%s, %s)", (name, kind))
        conn.execute("""UPDATE sources SET backoff_level = 1, backoff_until = now() + interval '2 hours'
                        WHERE name = 'mecum'""")
        vehicle = conn.execute("INSERT INTO vehicles (year, make, model) VALUES (1967, 'Porsche', '911') "
                               "RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO listings (source, external_id, url, vehicle_id) VALUES ('bat', '1', 'https://x/1', %s)",
                     (vehicle,))
    queue = WorkQueue(db, worker_id="run:test")
    queue.enqueue_many([NewItem("listing_import", "bat", f"bat:{i}", {}) for i in range(5)]
                       + [NewItem("listing_import", "mecum", "mecum:1", {}), NewItem("deep_extraction", "bat", "deep:1", {})])
    claimed = queue.claim("listing_import", 2, sources=["bat"])
    queue.complete(claimed[0])
    queue.fail(claimed[1], "parse error: bat: no title", permanent=True)

    first = _status(db_url)
    assert first.returncode == 1, first.stderr  # an item went dead in the last hour: an alert is on
    status = json.loads(first.stdout)
    with db.connection() as conn:
        totals = dict(zip(("vehicles", "listings", "auction_events", "comments", "snapshots"), conn.execute(
            """SELECT (SELECT count(*) FROM vehicles), (SELECT count(*) FROM listings),
                      (SELECT count(*) FROM auction_events), (SELECT count(*) FROM auction_comments),
                      (SELECT count(*) FROM page_snapshots)""").fetchone()))
        states = {(q, s): (p, r, d) for q, s, p, r, d in conn.execute(
            """SELECT queue, source, count(*) FILTER (WHERE state = 'pending'),
                      count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'dead')
               FROM work_items GROUP BY 1, 2""")}
        sources = {n: (lvl, until is not None) for n, lvl, until in conn.execute(
            "SELECT name, backoff_level, backoff_until FROM sources")}
    assert status["totals"] == totals == {"vehicles": 1, "listings": 1, "auction_events": 0, "comments": 0,
                                          "snapshots": 0}
    assert {(r["queue"], r["source"]): (r["pending"], r["running"], r["dead"]) for r in status["queue"]} == states == {
        ("listing_import", "bat"): (3, 0, 1), ("listing_import", "mecum"): (1, 0, 0), ("deep_extraction", "bat"): (1, 0, 0)}
    assert {s["name"]: (s["backoff_level"], s["backoff_until"] is not None) for s in status["sources"]} == sources
    assert {s["name"] for s in status["sources"] if s["in_backoff"]} == {"mecum"}
    assert status["alert_keys"] == ["dead_items:listing_import"]
    assert "1 item(s) went dead" in status["alerts"][0]

    with db.connection() as conn:  # the dead item is an hour old: nothing is dying now
        conn.execute("UPDATE work_items SET finished_at = now() - interval '2 hours' WHERE state = 'dead'")
    quiet = _status(db_url)
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["alerts"] == []
