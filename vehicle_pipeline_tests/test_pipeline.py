"""The Dagster pipeline end to end: real Postgres, the sample site over HTTP, real Dagster runs."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest

from vehicle_pipeline.defs.assets.listings import (
    bat_listings,
    broadarrow_listings,
    carsandbids_listings,
    classic_sellers,
    craigslist_listings,
    dealer_inventory,
    mecum_listings,
)
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, bat_repairs, vehicle_profiles
from vehicle_pipeline.defs.checks import all_checks
from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS
from vehicle_pipeline_tests.conftest import pipeline_resources

pytestmark = pytest.mark.dagster
DAY = "2026-11-01"
AUCTIONS = [(bat_listings, "bat"), (carsandbids_listings, "carsandbids"), (mecum_listings, "mecum"),
            (broadarrow_listings, "broadarrow")]
COMPARED = ("title", "year", "make", "model", "vin", "vin_state", "mileage", "mileage_unit", "outcome", "sale_price",
            "high_bid", "asking_price", "currency", "bid_count", "ended_at", "no_reserve")


def _materialize(assets, resources, partition=None, instance=None, run_config=None):
    result = dg.materialize(assets, resources=resources, partition_key=partition, instance=instance,
                            run_config=run_config)
    assert result.success
    return result


def _meta(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def _queued(db, prefix: str) -> set[str]:
    with db.connection() as conn:
        return {r[0] for r in conn.execute(
            "SELECT dedupe_key FROM work_items WHERE queue = 'listing_import' AND (source = %s OR source LIKE %s)",
            (prefix, prefix + ":%"))}


def _metro(url: str) -> str:
    return urlsplit(url).path.split("/craigslist/", 1)[1].split("/", 1)[0]


def _walk_everything(db_url, site_url, instance, db):
    resources = pipeline_resources(db_url, site_url)
    for asset, _ in AUCTIONS:
        _materialize([asset], resources, DAY, instance)
    for metro in CRAIGSLIST_METROS:
        _materialize([craigslist_listings], resources, dg.MultiPartitionKey({"metro": metro, "day": DAY}), instance)
    _materialize([classic_sellers], resources, instance=instance)
    with db.connection() as conn:
        dealers = [r[0] for r in conn.execute("SELECT name FROM sources WHERE kind = 'dealer' AND enabled ORDER BY 1")]
    instance.add_dynamic_partitions("dealers", dealers)
    for dealer in dealers:
        _materialize([dealer_inventory], resources, dealer, instance)
    return resources, dealers


def test_source_assets_enqueue_exactly_the_truth_and_reruns_add_nothing(db_url, db, sample_site, truth):
    resources = pipeline_resources(db_url, sample_site.base_url)
    instance = dg.DagsterInstance.ephemeral()
    for asset, source in AUCTIONS:
        first = _meta(_materialize([asset], resources, DAY, instance))
        expected = {f"{source}:{l['external_id']}" for l in truth["listings"] if l["source"] == source}
        assert _queued(db, source) == expected, source
        assert first["new"] == len(expected) and first["failed"] == 0 and first["blocked"] == 0
        again = _meta(_materialize([asset], resources, DAY, instance))
        assert (again["new"], again["enqueued"]) == (0, 0), source
        assert _queued(db, source) == expected
    for metro in CRAIGSLIST_METROS:
        _materialize([craigslist_listings], resources, dg.MultiPartitionKey({"metro": metro, "day": DAY}), instance)
    expected = {f"craigslist:{_metro(l['url'])}:{l['external_id']}" for l in truth["listings"]
                if l["source"] == "craigslist"}
    assert _queued(db, "craigslist") == expected
    sellers = _meta(_materialize([classic_sellers], resources, instance=instance))
    assert sellers["enabled"] >= 1 and sellers["failed"] == 0
    with db.connection() as conn:
        dealers = [r[0] for r in conn.execute("SELECT name FROM sources WHERE kind = 'dealer' AND enabled")]
    instance.add_dynamic_partitions("dealers", dealers)
    for dealer in dealers:
        _materialize([dealer_inventory], resources, dealer, instance)
    dealer_truth = {l["url"] for l in truth["listings"] if l["source"] == "dealer"}
    with db.connection() as conn:
        registered = {r[0] for r in conn.execute("SELECT url FROM listings WHERE source LIKE 'dealer:%'")}
    assert registered == dealer_truth


def test_full_pass_matches_the_truth(db_url, db, sample_site, truth):
    instance = dg.DagsterInstance.ephemeral()
    resources, _ = _walk_everything(db_url, sample_site.base_url, instance, db)
    profiles = _meta(_materialize([vehicle_profiles, *all_checks], resources, instance=instance))
    assert profiles["dead"] == 0 and profiles["retried"] == 0 and profiles["done"] == len(truth["listings"])
    outcomes = _materialize([auction_outcomes, *all_checks], resources, instance=instance)
    assert all(e.passed for e in outcomes.get_asset_check_evaluations())
    assert _meta(outcomes)["reparsed"] == 0, "every auction page was parsed once, by its import"
    with db.connection() as conn:
        rows = {r[0]: r for r in conn.execute(
            """SELECT l.url, l.parsed, l.vehicle_id, e.outcome, e.sale_price, e.high_bid, e.bid_count,
                      (SELECT count(*) FROM auction_comments c WHERE c.listing_id = l.id)
               FROM listings l LEFT JOIN auction_events e ON e.listing_id = l.id""")}
    assert len(rows) == len(truth["listings"])
    for listing in truth["listings"]:
        url, parsed, vehicle_id, outcome, sale_price, high_bid, bid_count, comments = rows[listing["url"]]
        for key in COMPARED:
            assert parsed.get(key) == listing.get(key), (listing["url"], key)
        if listing["outcome"] is not None:
            assert outcome == listing["outcome"], listing["url"]
            assert (int(sale_price) if sale_price is not None else None) == listing["sale_price"]
            assert (int(high_bid) if high_bid is not None else None) == listing["high_bid"]
            if outcome == "bid_to":
                assert sale_price is None
        if listing["source"] == "bat":
            assert comments == len(listing.get("comments") or [])
    by_url = {url: row[2] for url, row in rows.items()}
    merged = 0
    for pair in truth["duplicates"]:
        states = {l["vin_state"] for l in truth["listings"] if l["url"] in pair}
        if states == {"valid"}:
            assert len({by_url[u] for u in pair}) == 1, pair
            merged += 1
    assert merged >= 1
    # bad check digits are flagged and never merged across sources
    with db.connection() as conn:
        bad = conn.execute("SELECT count(*) FROM vehicles WHERE vin_state = 'bad_check_digit'").fetchone()[0]
    assert bad == len({l["url"] for l in truth["listings"] if l["vin_state"] == "bad_check_digit"})


def _event_state(db):
    with db.connection() as conn:
        return sorted(conn.execute(
            """SELECT e.listing_id, e.outcome, e.sale_price, e.high_bid, v.vin, v.mileage
               FROM auction_events e JOIN listings l ON l.id = e.listing_id LEFT JOIN vehicles v ON v.id = l.vehicle_id
               WHERE e.source = 'bat'""").fetchall())


def test_bat_repairs_backfill_fixes_exactly_the_wrong_records(db_url, db, sample_site, truth):
    instance = dg.DagsterInstance.ephemeral()
    resources, _ = _walk_everything(db_url, sample_site.base_url, instance, db)
    _materialize([vehicle_profiles], resources, instance=instance)
    _materialize([auction_outcomes], resources, instance=instance)
    good = _event_state(db)
    with db.connection() as conn:
        months = conn.execute(
            """SELECT to_char(date_trunc('month', ended_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') m,
                      array_agg(e.listing_id ORDER BY e.listing_id), array_agg(e.outcome ORDER BY e.listing_id)
               FROM auction_events e WHERE source = 'bat' AND ended_at IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC
               LIMIT 2""").fetchall()
        assert len(months) == 2
        seeded = 0
        for _, ids, outcomes in months:
            bid_to = [i for i, o in zip(ids, outcomes) if o == "bid_to"]
            sold = [i for i, o in zip(ids, outcomes) if o == "sold"]
            if bid_to:  # the old pipeline's bug: "Bid to $X" stored as a sale
                conn.execute("UPDATE auction_events SET outcome = 'sold', sale_price = high_bid, evidence = NULL "
                             "WHERE listing_id = %s", (bid_to[0],))
                seeded += 1
            if sold:
                conn.execute("UPDATE auction_events SET sale_price = NULL WHERE listing_id = %s", (sold[0],))
                conn.execute("UPDATE vehicles SET vin = NULL, vin_state = NULL WHERE id = "
                             "(SELECT vehicle_id FROM listings WHERE id = %s)", (sold[0],))
                seeded += 1
    assert seeded >= 2 and _event_state(db) != good
    dry = _meta(_materialize([bat_repairs], resources, months[0][0], instance,
                             run_config={"ops": {"bat_repairs": {"config": {"dry_run": True}}}}))
    assert dry["dry_run"] is True and dry["repaired"] >= 1
    assert _event_state(db) != good, "a dry run writes nothing"
    repaired = 0
    for month, _, _ in months:
        meta = _meta(_materialize([bat_repairs], resources, month, instance))
        repaired += meta["repaired"]
        assert meta["after_sold_without_price"] == 0 and meta["after_price_without_evidence"] == 0
    assert repaired == seeded
    assert _event_state(db) == good
    again = sum(_meta(_materialize([bat_repairs], resources, m, instance))["repaired"] for m, _, _ in months)
    assert again == 0, "repairs are idempotent"


_DOOMED_DRAIN = """
import sys
import dagster as dg
from vehicle_pipeline.defs.assets.profiles import vehicle_profiles
from vehicle_pipeline_tests.conftest import pipeline_resources
resources = pipeline_resources(sys.argv[1], sys.argv[2], lease_seconds=2.0, batch_size=20)
dg.materialize([vehicle_profiles], resources=resources, instance=dg.DagsterInstance.ephemeral())
"""


def _import_states(db) -> Counter:
    with db.connection() as conn:
        return Counter(dict(conn.execute(
            "SELECT state, count(*) FROM work_items WHERE queue = 'listing_import' GROUP BY 1").fetchall()))


def test_a_killed_drain_run_loses_nothing_and_the_next_drain_finishes_its_items(db_url, db, sample_site, truth):
    """With no sensor, schedule or janitor running: a Dagster drain run in another process is SIGKILLed
    mid-batch; its items stay leased until their leases expire, and the next drain run takes them back itself
    and finishes them, each once."""
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(db_url, sample_site.base_url, lease_seconds=2.0)
    _materialize([bat_listings], resources, DAY, instance)
    bat_total = len([l for l in truth["listings"] if l["source"] == "bat"])
    sample_site.set_faults("bat:slow:seconds=0.5")
    proc = subprocess.Popen([sys.executable, "-c", _DOOMED_DRAIN, db_url, sample_site.base_url],
                            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _import_states(db)["running"] == 0:  # the run has claimed its first batches
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the drain run never claimed"
            time.sleep(0.2)
        time.sleep(1.0)  # a page or two into the batch
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        sample_site.set_faults(None)
    killed = _import_states(db)
    assert killed["running"] > 0 and killed["done"] < bat_total, "the kill must land mid-batch"
    with db.connection() as conn:
        doomed = conn.execute("SELECT max(lease_expires_at) FROM work_items WHERE state = 'running'").fetchone()[0]
        wait = (doomed - conn.execute("SELECT now()").fetchone()[0]).total_seconds()
    time.sleep(max(0.0, wait) + 0.2)
    meta = _meta(_materialize([vehicle_profiles], resources, instance=instance))
    assert _import_states(db) == {"done": bat_total}
    assert meta["done"] == bat_total - killed["done"], "every item done once: the killed run's, then the rest"
    with db.connection() as conn:
        taken_back = conn.execute("SELECT count(*) FROM work_items WHERE queue = 'listing_import' AND attempts = 2"
                                  ).fetchone()[0]
    assert taken_back == killed["running"], "the killed run's items were taken back, an attempt counted each"


def test_faults_on_one_source_back_it_off_and_the_others_finish(db_url, db, sample_site, truth):
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(db_url, sample_site.base_url)
    for asset, _ in AUCTIONS:
        _materialize([asset], resources, DAY, instance)
    sample_site.set_faults("carsandbids:challenge:vendor=cloudflare")
    try:
        meta = _meta(_materialize([vehicle_profiles], resources, instance=instance))
    finally:
        sample_site.set_faults(None)
    assert meta["blocked"] >= 3 and meta["dead"] == 0
    with db.connection() as conn:
        states = {(r[0], r[1]): r[2] for r in conn.execute(
            """SELECT source, state, count(*) FROM work_items WHERE queue = 'listing_import' GROUP BY 1, 2""")}
        backoff = conn.execute("SELECT backoff_level, backoff_until > now() FROM sources WHERE name = 'carsandbids'"
                               ).fetchone()
    for source in ("bat", "mecum", "broadarrow"):
        assert set(k for k in states if k[0] == source) == {(source, "done")}, states
    assert states.get(("carsandbids", "pending")) == len([l for l in truth["listings"] if l["source"] == "carsandbids"])
    assert backoff == (1, True)


def test_fast_mode_defers_image_rows_until_a_normal_drain(db_url, db, sample_site, truth):
    instance = dg.DagsterInstance.ephemeral()
    fast = pipeline_resources(db_url, sample_site.base_url, fast_mode=True)
    _materialize([bat_listings], fast, DAY, instance)
    meta = _meta(_materialize([vehicle_profiles], fast, instance=instance))
    bat = [l for l in truth["listings"] if l["source"] == "bat"]
    assert meta["images"] == 0 and meta["done"] == len(bat)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM vehicle_images").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM work_items WHERE queue = 'image_fetch' AND state = 'pending'"
                            ).fetchone()[0] == sum(1 for l in bat if l["images"])
    normal = pipeline_resources(db_url, sample_site.base_url)
    meta = _meta(_materialize([vehicle_profiles], normal, instance=instance))
    assert meta["deferred_images"] == sum(len(l["images"]) for l in bat)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM vehicle_images").fetchone()[0] == meta["deferred_images"]


def test_per_source_pacing_is_configuration(db_url, sample_site):
    from vehicle_pipeline.defs.resources import PipelineSettingsResource, SourceSitesResource, ingest_settings
    from vehicle_pipeline.ingest.context import build_http_client

    sites = SourceSitesResource(sample_site_url=sample_site.base_url,
                                pace_per_source_json='{"bat": [0.3, 0.3], "dealer:sunset-classics": [1, 2]}')
    settings = ingest_settings(sites, PipelineSettingsResource())
    assert settings.source_pace == {"bat": (0.3, 0.3), "dealer:sunset-classics": (1.0, 2.0)}
    client = build_http_client(settings)
    try:
        urls = [f"{sample_site.base_url}/bat/auctions/results/?page={n}" for n in (1, 2, 3)]
        sample_site.clear_requests()
        for url in urls:
            assert client.fetch(url, source="bat").ok
        starts = sorted(r["started"] for r in sample_site.requests() if r["path"].startswith("/bat/auctions/results"))
        assert all(b - a >= 0.29 for a, b in zip(starts, starts[1:])), starts
    finally:
        client.close()
    with pytest.raises(dg.Failure):
        ingest_settings(SourceSitesResource(pace_per_source_json='{"bat": 3}'), PipelineSettingsResource())
