"""Markup drift is loud: every page's parse is recorded as parsed / fallback / failed beside its snapshot, a failed
page stays as a snapshot for replay, and each source's listings asset has a check that fails when its share of
failed or fallback parses rises clearly above its earlier level."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from vehicle_pipeline.defs.assets.listings import bat_listings, craigslist_listings
from vehicle_pipeline.defs.checks import all_checks, parse_drift_checks
from vehicle_pipeline.ingest import drift
from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.index import walk_index
from vehicle_pipeline.store.parses import (
    FAILED,
    FALLBACK,
    PARSED,
    ParseCounts,
    ParseRecord,
    parse_counts,
    parse_record,
    record_parses,
    unread_snapshots,
)
from vehicle_pipeline.store.records import load_snapshot, save_snapshot
from vehicle_pipeline_tests.conftest import pipeline_resources, sample_settings


# ---- the rule (plain Python) ---------------------------------------------------------------------------------
@pytest.mark.parametrize("recent, earlier, drifting", [
    (ParseCounts(100, 60, 0), ParseCounts(700, 35, 0), True),     # 5 % → 60 %: drift
    (ParseCounts(100, 10, 50), ParseCounts(700, 35, 0), True),    # the fallback counts as much as a failure
    (ParseCounts(100, 30, 0), ParseCounts(700, 210, 0), False),   # 30 % as before: a hard source, not drift
    (ParseCounts(100, 12, 0), ParseCounts(700, 35, 0), False),    # 5 % → 12 %: not clearly above
    (ParseCounts(100, 45, 0), ParseCounts(700, 210, 0), False),   # 30 % → 45 %: not twice as high
    (ParseCounts(10, 10, 0), ParseCounts(700, 0, 0), False),      # too few pages to say anything
    (ParseCounts(40, 30, 0), ParseCounts(5, 0, 0), True),         # no earlier level: 75 % is drift
    (ParseCounts(40, 8, 0), ParseCounts(0, 0, 0), False),         # no earlier level: 20 % is not
])
def test_assess(recent, earlier, drifting):
    verdict = drift.assess(recent, earlier)
    assert verdict.drifting is drifting, verdict.reason
    assert verdict.metadata()["recent_pages"] == recent.pages


def test_parse_record_kinds():
    from vehicle_pipeline.model import VehicleListing

    ok = VehicleListing(source="bat", url="u", external_id="x")
    fb = VehicleListing(source="bat", url="u", external_id="x", fallback=True, outcome="unknown")
    assert parse_record("bat", "listing", ok, None, "u").result == PARSED
    assert parse_record("bat", "listing", fb, None, "u").result == FALLBACK
    failed = parse_record("bat", "listing", "parse error: bat: cannot parse u: x", None, "u")
    assert (failed.result, failed.error) == (FAILED, "parse error: bat: cannot parse u: x")


# ---- the records -------------------------------------------------------------------------------------------
def _seed(conn, source: str, result: str, n: int, age: timedelta) -> None:
    record_parses(conn, [ParseRecord(source, "listing", result, None, f"https://x/{i}",
                                     "boom" if result == FAILED else None) for i in range(n)])
    conn.execute("UPDATE page_parses SET parsed_at = now() - %s WHERE parsed_at > now() - interval '1 minute'",
                 (age,))


def test_counts_per_family_and_window(db):
    with db.connection() as conn:
        _seed(conn, "craigslist:sfbay", PARSED, 5, timedelta(hours=2))
        _seed(conn, "craigslist:seattle", FAILED, 3, timedelta(hours=3))
        _seed(conn, "craigslist:seattle", FALLBACK, 2, timedelta(hours=4))
        _seed(conn, "craigslistx", FAILED, 7, timedelta(hours=1))       # another family entirely
        _seed(conn, "craigslist", PARSED, 4, timedelta(days=3))          # the earlier window
        now = conn.execute("SELECT now()").fetchone()[0]
        (rs, ru), (es, eu) = drift.windows(now)
        assert parse_counts(conn, "craigslist", since=rs, until=ru) == ParseCounts(10, 3, 2)
        assert parse_counts(conn, "craigslist", since=es, until=eu) == ParseCounts(4, 0, 0)
        with pytest.raises(Exception):  # a failed parse always says why
            record_parses(conn, [ParseRecord("bat", "listing", FAILED)])


# ---- failed pages stay as snapshots, and every parse is recorded ----------------------------------------------
def test_failed_listing_and_index_pages_are_kept_and_recorded(db, sample_site, truth):
    settings = sample_settings(sample_site, time_budget_seconds=60)
    with Ingest(db, settings, worker_id="drift-test") as ingest:
        ingest.ensure_sources()
        module = ingest.module("carsandbids")
        results = module.index_url(settings.base_url("carsandbids"), status="closed")
        assert walk_index(ingest, "carsandbids", results).pages >= 1
        sample_site.set_faults("carsandbids:markup_change")
        try:
            drain_imports(ingest)
            broken = walk_index(ingest, "carsandbids", results, full=True)
        finally:
            sample_site.set_faults(None)
    assert broken.pages == 0 and broken.failed == 1
    with db.connection() as conn:
        rows = conn.execute("SELECT page_kind, result, snapshot_sha256, error FROM page_parses "
                            "WHERE source = 'carsandbids' ORDER BY id").fetchall()
        kinds = {(kind, result) for kind, result, _, _ in rows}
        assert ("index", PARSED) in kinds and ("listing", FAILED) in kinds and ("index", FAILED) in kinds
        failed = [r for r in rows if r[1] == FAILED]
        assert all(r[2] is not None and r[3] for r in failed), "a failed page keeps its snapshot and its reason"
        for _, _, sha, _ in failed:
            assert load_snapshot(conn, bytes(sha)) is not None
        replay = unread_snapshots(conn, "carsandbids")
        assert {sha for sha, _, _ in replay} == {bytes(r[2]) for r in failed}
        # the listings whose page failed point at that page
        assert conn.execute("SELECT count(*) FROM listings WHERE source = 'carsandbids' AND last_snapshot IS NOT NULL "
                            "AND last_snapshot IN (SELECT snapshot_sha256 FROM page_parses WHERE result = 'failed')"
                            ).fetchone()[0] >= 1


# ---- the asset check -----------------------------------------------------------------------------------------
def _check_result(db_url, site, asset, check):
    """The check alone, run by Dagster (it reads the database, not the asset's partition)."""
    result = dg.materialize([asset, check], resources=pipeline_resources(db_url, site),
                            selection=dg.AssetSelection.checks(check), raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_parse_drift_check_fails_on_a_rise_and_passes_otherwise(db_url, db, sample_site):
    bat_check = next(c for c in parse_drift_checks if next(iter(c.check_keys)).asset_key == bat_listings.key)
    cl_check = next(c for c in parse_drift_checks if next(iter(c.check_keys)).asset_key == craigslist_listings.key)
    assert {next(iter(c.check_keys)).name for c in parse_drift_checks} == {"parse_drift"}
    assert len(parse_drift_checks) == 6 and all(c in all_checks for c in parse_drift_checks)
    with db.connection() as conn:
        # bat: 4 % failed over the week before, 70 % failed or fallback today
        _seed(conn, "bat", PARSED, 96, timedelta(days=3))
        _seed(conn, "bat", FAILED, 4, timedelta(days=3))
        _seed(conn, "bat", PARSED, 15, timedelta(hours=1))
        _seed(conn, "bat", FALLBACK, 20, timedelta(hours=1))
        _seed(conn, "bat", FAILED, 15, timedelta(hours=1))
        # craigslist: as hard as ever (30 % before, 30 % now)
        _seed(conn, "craigslist:sfbay", PARSED, 70, timedelta(days=2))
        _seed(conn, "craigslist:sfbay", FAILED, 30, timedelta(days=2))
        _seed(conn, "craigslist:seattle", PARSED, 35, timedelta(hours=5))
        _seed(conn, "craigslist:seattle", FAILED, 15, timedelta(hours=5))
    bad = _check_result(db_url, sample_site, bat_listings, bat_check)
    assert not bad.passed
    assert bad.metadata["recent_pages"].value == 50 and bad.metadata["recent_fallback"].value == 20
    assert bad.metadata["recent_unread_share"].value == 0.7 and bad.metadata["earlier_unread_share"].value == 0.04
    fine = _check_result(db_url, sample_site, craigslist_listings, cl_check)
    assert fine.passed, fine.metadata["reason"].value


def test_a_fallback_parse_is_stored_as_such_and_decides_no_outcome(db):
    """Where a parse is kept (the listing's parse contract, the auction event's evidence) a fallback shows as
    one, and an auction read by the fallback stays 'unknown' with its figure as the high bid."""
    from pathlib import Path

    from vehicle_pipeline.model import ListingRef
    from vehicle_pipeline.sources import bat
    from vehicle_pipeline.store.records import ListingWrite, store_auctions, upsert_listing_refs
    from vehicle_pipeline.store.sources import SourceRegistry

    page = (Path(__file__).parent / "fixtures" / "bat" / "listing_drifted_rdfa.html").read_bytes()
    lst = bat.parse(page, deep=True)
    assert lst.fallback
    with db.connection() as conn:
        SourceRegistry(db).upsert("bat", "auction", "https://bringatrailer.com")
        [(listing_id, _)] = upsert_listing_refs(conn, "bat", [ListingRef(lst.url, lst.external_id)]).new
        sha = save_snapshot(conn, lst.url, 200, "text/html", page)
        [stored] = store_auctions(conn, [ListingWrite(listing_id, None, lst, sha)])
        assert stored.event == "inserted"
        row = conn.execute("""SELECT l.parsed->>'fallback', e.outcome, e.sale_price, e.high_bid, e.evidence
                              FROM listings l JOIN auction_events e ON e.listing_id = l.id WHERE l.id = %s""",
                           (listing_id,)).fetchone()
    assert row == ("true", "unknown", None, 98000, "fallback:rdfa")
