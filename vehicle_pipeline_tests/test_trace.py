"""`vehicle-pipeline trace` tells an item's whole story: a BaT listing found by an index walk, whose import fails
twice (the site's markup broke) and then succeeds, then its outcome is extracted; real Dagster runs against the
sample site, the command run as a user runs it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from vehicle_pipeline.defs.assets.listings import bat_listings
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles
from vehicle_pipeline_tests.conftest import pipeline_resources

pytestmark = pytest.mark.dagster
EXE = [str(Path(sys.executable).with_name("vehicle-pipeline"))]
BAT_ONLY = {"config": {"sources": ["bat"], "batch_size": 5}}


def _cli(args, db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    env["DATABASE_URL"] = db_url
    return subprocess.run(EXE + args, env=env, capture_output=True, text=True, timeout=300)


def _run(assets, resources, instance, partition=None, op=None):
    result = dg.materialize(assets, resources=resources, instance=instance, partition_key=partition,
                            run_config={"ops": {op: BAT_ONLY}} if op else None)
    assert result.success
    return result.run_id


def test_trace_shows_an_item_that_failed_twice_and_then_succeeded(db_url, db, sample_site):
    resources = pipeline_resources(db_url, sample_site)
    with dg.instance_for_test() as instance:
        walk = _run([bat_listings], resources, instance, "2026-11-01")
        sample_site.set_faults("bat:markup_change")  # the pages lose their key markup: a parse error each
        drains = []
        for _ in range(2):
            drains.append(_run([vehicle_profiles], resources, instance, op="vehicle_profiles"))
            with db.connection() as conn:  # the retry's backoff passes
                conn.execute("UPDATE work_items SET available_at = now() WHERE state = 'pending'")
        sample_site.set_faults(None)
        drains.append(_run([vehicle_profiles], resources, instance, op="vehicle_profiles"))
        outcomes = _run([auction_outcomes], resources, instance, op="auction_outcomes")
    with db.connection() as conn:  # a listing whose page the broken markup hid (the live board's are read anyway)
        listing_id, url = conn.execute(
            """SELECT l.id, l.url FROM listings l JOIN work_items w ON w.queue = 'listing_import'
                   AND (w.payload ->> 'listing_id')::bigint = l.id
               WHERE w.state = 'done' AND w.attempts = 3 ORDER BY l.id LIMIT 1""").fetchone()

    traced = _cli(["trace", url, "--json"], db_url)
    assert traced.returncode == 0, traced.stderr
    [story] = json.loads(traced.stdout)
    assert story["listing"]["id"] == listing_id
    assert story["found_by"] == f"run:{walk}"
    imports = [(e["event"], e["attempt"], e["worker"]) for e in story["events"] if e["queue"] == "listing_import"]
    assert imports == [
        ("queued", 0, f"run:{walk}"),
        ("claimed", 1, f"run:{drains[0]}"), ("retry", 1, f"run:{drains[0]}"),
        ("claimed", 2, f"run:{drains[1]}"), ("retry", 2, f"run:{drains[1]}"),
        ("claimed", 3, f"run:{drains[2]}"), ("done", 3, f"run:{drains[2]}"),
    ]
    errors = [e["error"] for e in story["events"] if e["event"] == "retry"]
    assert len(errors) == 2 and all(e.startswith("parse error") for e in errors)
    deep = [(e["event"], e["worker"]) for e in story["events"] if e["queue"] == "deep_extraction"]
    assert deep == [("queued", None), ("claimed", f"run:{outcomes}"), ("done", f"run:{outcomes}")]
    assert {i["queue"]: i["state"] for i in story["items"]} == {"listing_import": "done", "deep_extraction": "done"}
    # three fetches of the page: the broken page (twice the same bytes, kept once) and the good one, the latest
    assert [s["url"] for s in story["snapshots"]] == [url, url]
    assert story["snapshots"][-1]["sha256"] == story["listing"]["last_snapshot"]
    with db.connection() as conn:
        vehicle_id, = conn.execute("SELECT vehicle_id FROM listings WHERE id = %s", (listing_id,)).fetchone()
        outcome, = conn.execute("SELECT outcome FROM auction_events WHERE listing_id = %s", (listing_id,)).fetchone()
    assert story["vehicle"]["id"] == vehicle_id
    assert story["auction"]["outcome"] == outcome

    text = _cli(["trace", url], db_url)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert f"found by run:{walk}" in out
    assert len(re.findall(r"listing_import\s+retry\s+attempt \d by run:\S+: parse error", out)) == 2
    assert re.search(r"listing_import\s+done\s+attempt 3", out)
    assert f"vehicle #{vehicle_id}:" in out and f"auction #" in out and outcome in out
    # the same story by the work item's id and by the correlation id
    item_id = story["items"][0]["id"]
    for key in (str(item_id), story["correlation_id"]):
        again = _cli(["trace", key, "--json"], db_url)
        assert again.returncode == 0 and json.loads(again.stdout)[0]["correlation_id"] == story["correlation_id"]


def test_trace_of_something_unknown_is_one_line(db_url):
    missing = _cli(["trace", "https://bringatrailer.com/listing/nothing-here/"], db_url)
    assert missing.returncode == 1 and missing.stderr.startswith("error: trace: nothing found")
    assert missing.stderr.count("\n") == 1
