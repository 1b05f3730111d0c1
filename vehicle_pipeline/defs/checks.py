"""Data-quality checks that run after the assets they guard."""


import dagster as dg

from vehicle_pipeline.defs.assets.listings import (
    bat_listings,
    broadarrow_listings,
    carsandbids_listings,
    craigslist_listings,
    dealer_inventory,
    mecum_listings,
)
from vehicle_pipeline.defs.assets.profiles import auction_outcomes, vehicle_profiles
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.ingest import drift
from vehicle_pipeline.store.parses import parse_counts

REQUIRED_FIELDS = ("year", "make", "model")
MIN_COVERAGE = 0.8


def _one(postgres: PostgresResource, sql: str, params=()):
    with postgres.database().connection() as conn:
        return conn.execute(sql, params).fetchall()


@dg.asset_check(asset=auction_outcomes, blocking=True)
def no_sale_price_without_sale(postgres: PostgresResource) -> dg.AssetCheckResult:
    """A sale price only on sold / sold_after: "Bid to $X" must never read as a sale."""
    [(bad,)] = _one(postgres, "SELECT count(*) FROM auction_events WHERE sale_price IS NOT NULL "
                              "AND outcome NOT IN ('sold', 'sold_after')")
    return dg.AssetCheckResult(passed=bad == 0, metadata={"violations": bad})


@dg.asset_check(asset=auction_outcomes)
def high_bid_on_bid_to(postgres: PostgresResource) -> dg.AssetCheckResult:
    """Every reserve-not-met auction records the high bid it reached."""
    [(missing, total)] = _one(postgres, "SELECT count(*) FILTER (WHERE high_bid IS NULL), count(*) "
                                        "FROM auction_events WHERE outcome = 'bid_to'")
    return dg.AssetCheckResult(passed=missing == 0, metadata={"bid_to": total, "missing_high_bid": missing})


@dg.asset_check(asset=vehicle_profiles)
def vin_state_distribution(postgres: PostgresResource) -> dg.AssetCheckResult:
    """How VINs split into valid / bad check digit / not applicable / none; warns when bad check digits
    exceed 10 % (a parser picking up the wrong field looks like that)."""
    rows = dict(_one(postgres, "SELECT coalesce(vin_state, 'none'), count(*) FROM vehicles GROUP BY 1"))
    total = sum(rows.values()) or 1
    bad_share = rows.get("bad_check_digit", 0) / total
    return dg.AssetCheckResult(
        passed=bad_share <= 0.10, severity=dg.AssetCheckSeverity.WARN,
        metadata={f"vin_{k}": v for k, v in rows.items()} | {"bad_check_digit_share": round(bad_share, 4)})


@dg.asset_check(asset=vehicle_profiles, blocking=True)
def one_vehicle_per_valid_vin(postgres: PostgresResource) -> dg.AssetCheckResult:
    """A valid VIN identifies one vehicle across every source."""
    [(dupes,)] = _one(postgres, "SELECT count(*) FROM (SELECT vin FROM vehicles WHERE vin_state = 'valid' "
                                "GROUP BY vin HAVING count(*) > 1) d")
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"duplicated_vins": dupes})


@dg.asset_check(asset=vehicle_profiles)
def required_field_coverage(postgres: PostgresResource) -> dg.AssetCheckResult:
    """Share of profiled listings per source with year, make and model; below 80 % means a parser lost its
    grip on a page layout."""
    rows = _one(postgres, """
        SELECT split_part(l.source, ':', 1) AS source, count(*),
               count(*) FILTER (WHERE v.year IS NOT NULL AND v.make IS NOT NULL AND v.model IS NOT NULL)
        FROM listings l JOIN vehicles v ON v.id = l.vehicle_id GROUP BY 1 ORDER BY 1""")
    coverage = {source: round(ok / n, 4) for source, n, ok in rows if n}
    low = {s: c for s, c in coverage.items() if c < MIN_COVERAGE}
    return dg.AssetCheckResult(passed=not low, metadata={f"coverage_{s}": c for s, c in coverage.items()}
                               | {"below_threshold": ", ".join(sorted(low)) or "none"})


def _index_coverage_check(asset_def, source_prefix: str):
    @dg.asset_check(asset=asset_def, name="index_coverage")
    def _check(context: dg.AssetCheckExecutionContext, postgres: PostgresResource) -> dg.AssetCheckResult:
        """Listings registered against the total the site states; zero results from a source that had
        results before is a failure, not a quiet success."""
        event = context.instance.get_latest_materialization_event(asset_def.key)
        meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
        found = meta["found"].value if "found" in meta else 0
        stated = meta["stated_total"].value if "stated_total" in meta else -1
        [(registered,)] = _one(postgres, "SELECT count(*) FROM listings WHERE source = %s OR source LIKE %s",
                               (source_prefix, source_prefix + ":%"))
        metadata = {"found_last_walk": found, "stated_total": stated, "registered": registered}
        if found == 0 and registered > 0 and stated != 0:
            return dg.AssetCheckResult(passed=False, metadata=metadata | {"problem": "zero results from a source "
                                                                          "that had results"})
        if stated and stated > 0:
            ratio = min(registered, stated) / stated
            metadata["coverage"] = round(ratio, 4)
            return dg.AssetCheckResult(passed=ratio >= 0.9, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
        return dg.AssetCheckResult(passed=True, metadata=metadata)

    return _check


def _parse_drift_check(asset_def, family: str):
    @dg.asset_check(asset=asset_def, name="parse_drift")
    def _check(postgres: PostgresResource) -> dg.AssetCheckResult:
        """The source's share of pages that failed to parse or parsed only through the structured-data fallback,
        over the last day against the week before: a clear rise is markup drift (the failed pages stay as
        snapshots, ready for replay once the parser is fixed)."""
        with postgres.database().connection() as conn:
            now = conn.execute("SELECT now()").fetchone()[0]
            (recent_since, recent_until), (earlier_since, earlier_until) = drift.windows(now)
            verdict = drift.assess(parse_counts(conn, family, since=recent_since, until=recent_until),
                                   parse_counts(conn, family, since=earlier_since, until=earlier_until))
        return dg.AssetCheckResult(passed=not verdict.drifting, metadata=verdict.metadata())

    return _check


parse_drift_checks = [
    _parse_drift_check(bat_listings, "bat"),
    _parse_drift_check(carsandbids_listings, "carsandbids"),
    _parse_drift_check(mecum_listings, "mecum"),
    _parse_drift_check(broadarrow_listings, "broadarrow"),
    _parse_drift_check(craigslist_listings, "craigslist"),
    _parse_drift_check(dealer_inventory, "dealer"),
]

index_coverage_checks = [
    _index_coverage_check(bat_listings, "bat"),
    _index_coverage_check(carsandbids_listings, "carsandbids"),
    _index_coverage_check(mecum_listings, "mecum"),
    _index_coverage_check(broadarrow_listings, "broadarrow"),
    _index_coverage_check(craigslist_listings, "craigslist"),
    _index_coverage_check(dealer_inventory, "dealer"),
]

all_checks = [no_sale_price_without_sale, high_bid_on_bid_to, vin_state_distribution, one_vehicle_per_valid_vin,
              required_field_coverage, *index_coverage_checks, *parse_drift_checks]
