"""Replay end to end, and a demo kept apart from real work, run as a user runs them (CLI subprocesses).

One demo per module (its own home): its snapshots are exported to WARC and replayed into a fresh demo
database; a capture folder made from the same crawl, with one page the parser cannot read, is replayed;
and a real `run` after the demo, with the real web unreachable by configuration, touches no sample-site
source and says what failed in one line each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from vehicle_pipeline.sample_site.replay import ReplayArchive

pytestmark = pytest.mark.dagster
EXE = [str(Path(sys.executable).with_name("vehicle-pipeline"))]
CORE = ("bat", "carsandbids", "mecum", "broadarrow", "classic", "craigslist")
URL, STATUS, PARSED, VIN, OUTCOME = 0, 1, 2, 3, 5  # positions in a _facts tuple


def _run(args, env, timeout=900):
    return subprocess.run(EXE + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def home_env(server_url):
    """A fresh home of a user; with DATABASE_URL, a fresh database of its own on that server."""
    home = Path(tempfile.mkdtemp(prefix="vp-replay-home-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    env["VEHICLE_PIPELINE_HOME"] = str(home)
    names = []
    if os.environ.get("DATABASE_URL"):
        from vehicle_pipeline.store.db import with_database

        name = f"vp_replay_{uuid.uuid4().hex[:10]}"
        names = [name, name + "_demo"]
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        env["DATABASE_URL"] = with_database(server_url, name)
    yield env
    if names:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    else:
        _run(["db", "stop"], env, timeout=120)


def _db_url(env, demo: bool) -> str:
    out = _run((["--demo"] if demo else []) + ["db", "url"], env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _facts(url: str) -> dict[tuple[str, str], tuple]:
    """What the pipeline concluded about each listing: its profile (the listing's parse and its vehicle's VIN;
    the vehicle row's other fields merge listings of one VIN in the order they were stored) and its auction
    outcome, without ids or times of the run."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT l.source, l.external_id, l.url, l.status, l.parsed::text, v.vin, v.vin_state,
                      e.outcome, e.sale_price, e.high_bid, e.currency, e.bid_count, e.comment_count, e.ended_at,
                      e.no_reserve, e.evidence,
                      (SELECT count(*) FROM auction_comments c WHERE c.listing_id = l.id),
                      (SELECT count(*) FROM vehicle_images i WHERE i.listing_id = l.id)
               FROM listings l LEFT JOIN vehicles v ON v.id = l.vehicle_id
               LEFT JOIN auction_events e ON e.listing_id = l.id""").fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


@pytest.fixture(scope="module")
def crawl(home_env, tmp_path_factory):
    """A demo, its conclusions and its snapshots exported as WARC."""
    demo = _run(["demo", "--json", "--listings", "40", "--port", "0"], home_env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    facts = _facts(_db_url(home_env, demo=True))
    assert len(facts) > 20 and any(f[OUTCOME] == "sold" for f in facts.values())
    warc = tmp_path_factory.mktemp("crawl") / "demo.warc.gz"
    export = _run(["--demo", "snapshots", "export", str(warc)], home_env)
    assert export.returncode == 0, export.stderr
    assert export.stdout.startswith("wrote ") and warc.exists()
    return {"facts": facts, "warc": warc, "summary": json.loads(demo.stdout)}


def test_a_demo_exported_to_warc_replays_into_a_fresh_database_with_the_same_profiles_and_outcomes(home_env, crawl):
    replay = _run(["demo", "--json", "--replay", str(crawl["warc"])], home_env)
    assert replay.returncode == 0, replay.stderr[-3000:]
    summary = json.loads(replay.stdout)
    assert summary["failed_steps"] == 0
    assert f"replaying {crawl['warc']}" in replay.stderr
    assert _facts(_db_url(home_env, demo=True)) == crawl["facts"]
    assert summary["profiles_by_source"] == crawl["summary"]["profiles_by_source"]
    assert summary["outcomes"] == crawl["summary"]["outcomes"]
    assert all(r["dead"] == 0 and r["pending"] == 0 for r in summary["queue"])


def test_a_capture_folder_with_a_page_the_parser_cannot_read_ends_that_item_dead_and_completes_the_rest(
        home_env, crawl, tmp_path):
    archive = ReplayArchive.load(crawl["warc"])
    folder = tmp_path / "captures"
    folder.mkdir()
    entries = []
    for i, url in enumerate(archive.urls()):
        recorded = archive.get(url)
        (folder / f"{i}.body").write_bytes(recorded.body)
        entries.append({"url": url, "status": recorded.status, "content_type": recorded.content_type,
                        "file": f"{i}.body"})
    broken = next(key for key, f in sorted(crawl["facts"].items()) if key[0] == "bat" and f[OUTCOME] == "sold")
    broken_url = crawl["facts"][broken][URL]
    entry = next(e for e in entries if archive.get(e["url"]) is archive.get(broken_url))
    (folder / entry["file"]).write_bytes(b"<!DOCTYPE html><html><head><title>Bring a Trailer</title></head>"
                                         b"<body><p>We are updating this page.</p></body></html>")
    (folder / "manifest.json").write_text(json.dumps(entries))

    replay = _run(["demo", "--json", "--replay", str(folder)], home_env)
    assert replay.returncode == 0, replay.stderr[-3000:]
    url = _db_url(home_env, demo=True)
    facts = _facts(url)
    expected = dict(crawl["facts"])
    expected.pop(broken)
    assert {k: v for k, v in facts.items() if k != broken} == expected
    assert facts[broken][STATUS] == "unparseable" and facts[broken][VIN] is None and facts[broken][OUTCOME] is None
    with psycopg.connect(url) as conn:
        items = conn.execute("SELECT dedupe_key, state, last_error FROM work_items WHERE state <> 'done'").fetchall()
    assert [(key, state) for key, state, _ in items] == [(f"bat:{broken[1]}", "dead")]
    assert items[0][2].startswith("parse error: bat")


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_after_a_demo_a_real_run_touches_no_sample_site_source_and_prints_one_line_per_failure(home_env, crawl):
    # A source row left pointing at a local stand-in (as an installation from before demos had their own
    # database kept): `run` must refuse it whole, without a request.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stand_in = f"http://127.0.0.1:{server.server_port}/dealer/sunset-classics"
    assert _run(["migrate"], home_env).returncode == 0
    real_url = _db_url(home_env, demo=False)
    with psycopg.connect(real_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM sources").fetchone()[0] == 0  # the demo left nothing here
        conn.execute("INSERT INTO sources (name, kind, base_url) VALUES ('dealer:sunset-classics', 'dealer', %s)",
                     (stand_in,))
    # The real web, unreachable by configuration: every real host resolves to a closed port on loopback
    # (the name-resolution override), which only those hosts may reach.
    real_hosts = ["bringatrailer.com", "carsandbids.com", "www.mecum.com", "www.broadarrowauctions.com",
                  "www.classic.com"] + [f"{m}.craigslist.org" for m in ("sacramento", "seattle", "sfbay", "vancouver")]
    env = dict(home_env, VEHICLE_PIPELINE_RESOLVE=json.dumps({h: "127.0.0.1:9" for h in real_hosts}),
               VEHICLE_PIPELINE_ALLOW_PRIVATE_HOSTS=json.dumps(real_hosts), VEHICLE_PIPELINE_PACE='{"*": [0, 0]}')
    try:
        run = _run(["run"], env)
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 1
    assert _Recorder.hits == []
    failures = [ln for ln in run.stdout.splitlines() if re.match(r"^(source|[a-z]+_[a-z_]+)(\[[^\]]+\])?: ", ln)]
    labels = [ln.split(": ", 1)[0] for ln in failures]
    assert len(labels) == len(set(labels))  # one line per failed step
    day = labels[2].partition("[")[2].rstrip("]")
    assert labels == ["source[dealer:sunset-classics]", "classic_sellers", f"bat_listings[{day}]",
                      f"carsandbids_listings[{day}]", f"mecum_listings[{day}]", f"broadarrow_listings[{day}]",
                      "craigslist_listings[sacramento]", "craigslist_listings[seattle]", "craigslist_listings[sfbay]",
                      "craigslist_listings[vancouver]"]
    assert failures[0].startswith(f"source[dealer:sunset-classics]: refused {stand_in}: loopback address 127.0.0.1 "
                                  "is not allowed")
    assert "dealer_inventory" not in run.stdout  # the refused dealer's steps never ran
    assert failures[2] == (f"bat_listings[{day}]: no index page could be read: https://bringatrailer.com/auctions/results/: "
                           "cannot read robots.txt, so nothing may be fetched: cannot connect to bringatrailer.com "
                           "(the connection failed) (and 1 more)")
    assert failures[6].startswith("craigslist_listings[sacramento]: no index page could be read: "
                                  "https://sacramento.craigslist.org/")
    assert all(len(line) < 400 and "Execution of step" not in line for line in failures)
    assert f"{len(failures)} step(s) failed" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr and run.stderr == ""
    sources = json.loads(_run(["sources", "list", "--json"], env).stdout)
    bat = next(s for s in sources if s["name"] == "bat")
    assert bat["last_error"] == ("cannot read robots.txt, so nothing may be fetched: cannot connect to bringatrailer.com "
                                 "(the connection failed)")
    assert bat["last_error_raw"].startswith("failed: failed robots_unavailable")
    # The real instance has none of the demo's data or sources.
    status = json.loads(_run(["status", "--json"], env).stdout)
    assert status["totals"]["listings"] == 0
    assert [s["name"] for s in status["sources"] if not s["name"].startswith(("craigslist:", *CORE))] == \
        ["dealer:sunset-classics"]
    assert not any(".example" in (s["base_url"] or "") for s in status["sources"])
