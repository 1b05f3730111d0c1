"""Vehicle profiles and auction outcomes: the import and deep-extraction queues, drained in bounded batches."""


import threading
from contextlib import contextmanager
from datetime import date

import dagster as dg

from vehicle_pipeline.defs.assets.listings import listing_assets
from vehicle_pipeline.defs.freshness import freshness
from vehicle_pipeline.defs.partitions import monthly
from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource, SourceSitesResource, open_ingest
from vehicle_pipeline.ingest.images import drain_images
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.outcomes import drain_outcomes
from vehicle_pipeline.ingest.repairs import repair_month
from vehicle_pipeline.store.trace import run_failures, run_progress

PROFILES_GROUP = "profiles"
MAX_LOGGED = 50
PROGRESS_EVERY_SECONDS = 30.0


class DrainConfig(dg.Config):
    """Limits for one drain run; unset values come from the pipeline settings resource."""

    time_budget_seconds: float | None = None
    batch_size: int | None = None
    sources: list[str] | None = None  # restrict to these sources (to run drains per site in parallel)


def _log_failures(context: dg.AssetExecutionContext, db) -> None:
    """The run's failed attempts, each with its item's correlation id (`vehicle-pipeline trace <id>`)."""
    with db.connection() as conn:
        failures = run_failures(conn, f"run:{context.run.run_id}")
    for f in failures[:MAX_LOGGED]:
        context.log.warning(f"{f['queue']} item {f['item_id']} [correlation {f['correlation_id']}] {f['source']} "
                            f"attempt {f['attempt']} {f['event']}: {f['error']}")
    if len(failures) > MAX_LOGGED:
        context.log.warning(f"... and {len(failures) - MAX_LOGGED} more failed attempt(s) in this run")


@contextmanager
def _progress_log(context: dg.AssetExecutionContext, db, queue: str):
    """While a drain runs, log every PROGRESS_EVERY_SECONDS how far it has come (from the queue's event log, so
    the drain itself needs no hook)."""
    stop = threading.Event()
    worker = f"run:{context.run.run_id}"

    def watch():
        while not stop.wait(PROGRESS_EVERY_SECONDS):
            try:
                with db.connection() as conn:
                    p = run_progress(conn, worker, queue)
            except Exception as exc:  # progress is a courtesy: never fail the drain over it
                context.log.debug(f"progress unavailable: {exc}")
                continue
            context.log.info(f"{queue} progress: {p['done']} done, {p['retried']} retried, {p['dead']} dead, "
                             f"{p['snoozed']} snoozed; {p['pending']} pending")

    thread = threading.Thread(target=watch, name=f"progress-{queue}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _numeric(metadata: dict) -> dict:
    return {k: dg.MetadataValue.float(float(v)) if isinstance(v, float) else v for k, v in metadata.items()}


@dg.asset(
    deps=listing_assets,
    group_name=PROFILES_GROUP,
    freshness_policy=freshness("vehicle_profiles"),
    kinds={"python", "postgres"},
    op_tags={"vehicle_pipeline/drain": "listing_import"},
)
def vehicle_profiles(context: dg.AssetExecutionContext, config: DrainConfig, postgres: PostgresResource,
                     sites: SourceSitesResource, settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """Vehicles (one per valid VIN across sources) and their listings: the import queue drained within a
    time budget: each listing page fetched (hosts in parallel), kept as a snapshot, parsed and upserted;
    auction listings are queued for deep extraction."""
    with open_ingest(context, postgres, sites, settings) as ingest:
        with _progress_log(context, ingest.db, "listing_import"):
            report = drain_imports(ingest, time_budget=config.time_budget_seconds, batch_size=config.batch_size,
                                   sources=config.sources)
        deferred_images = 0
        if not ingest.settings.fast_mode:  # image rows that fast mode deferred, from the stored pages
            budget = max(10.0, (config.time_budget_seconds or ingest.settings.time_budget_seconds) - report.seconds)
            deferred_images = drain_images(ingest, time_budget=budget).images
        with ingest.db.connection() as conn:
            vehicles, listings = conn.execute(
                "SELECT (SELECT count(*) FROM vehicles), (SELECT count(*) FROM listings WHERE vehicle_id IS NOT NULL)"
            ).fetchone()
        _log_failures(context, ingest.db)
    metadata = _numeric(report.metadata())
    metadata |= {"vehicles_total": vehicles, "listings_with_profile": listings, "deferred_images": deferred_images}
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    deps=[vehicle_profiles],
    group_name=PROFILES_GROUP,
    freshness_policy=freshness("auction_outcomes"),
    kinds={"python", "postgres"},
    op_tags={"vehicle_pipeline/drain": "deep_extraction"},
)
def auction_outcomes(context: dg.AssetExecutionContext, config: DrainConfig, postgres: PostgresResource,
                     sites: SourceSitesResource, settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """Auction events: outcome (sold, sold_after, bid_to, no_sale, withdrawn, live), sale price only on a
    sale, high bid, counts, end time and the evidence that decided them, plus BaT comments and bids, from
    the deep-extraction queue drained within a time budget."""
    with open_ingest(context, postgres, sites, settings) as ingest:
        with _progress_log(context, ingest.db, "deep_extraction"):
            report = drain_outcomes(ingest, time_budget=config.time_budget_seconds, batch_size=config.batch_size,
                                    sources=config.sources)
        with ingest.db.connection() as conn:
            by_outcome = dict(conn.execute("SELECT outcome, count(*) FROM auction_events GROUP BY outcome").fetchall())
        _log_failures(context, ingest.db)
    metadata = _numeric(report.metadata())
    metadata |= {f"outcome_{k}": v for k, v in sorted(by_outcome.items())}
    return dg.MaterializeResult(metadata=metadata)


class RepairConfig(dg.Config):
    dry_run: bool = False  # report the diff without writing


@dg.asset(
    deps=[auction_outcomes],
    partitions_def=monthly,
    group_name=PROFILES_GROUP,
    kinds={"python", "postgres"},
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=12),
)
def bat_repairs(context: dg.AssetExecutionContext, config: RepairConfig, postgres: PostgresResource,
                sites: SourceSitesResource, settings: PipelineSettingsResource) -> dg.MaterializeResult:
    """BaT records of a month (by auction end) that break the repair rules, re-extracted from their stored
    page snapshots (a re-fetch is queued only when there is none or it is stale), with before/after counts.
    Backfill a range of months after a parser fix; `dry_run` reports the diff without writing."""
    totals: dict[str, int] = {"candidates": 0, "repaired": 0, "unchanged": 0, "refetch_queued": 0, "failed": 0}
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    diffs = []
    with open_ingest(context, postgres, sites, settings) as ingest:
        for key in context.partition_keys:
            report = repair_month(ingest, date.fromisoformat(key), dry_run=config.dry_run)
            for name in totals:
                totals[name] += getattr(report, name)
            for name, n in report.before.items():
                before[name] = before.get(name, 0) + n
            for name, n in report.after.items():
                after[name] = after.get(name, 0) + n
            diffs.extend(report.diffs)
    metadata: dict = dict(totals)
    metadata["dry_run"] = config.dry_run
    metadata |= {f"before_{k}": v for k, v in before.items()}
    metadata |= {f"after_{k}": v for k, v in after.items()}
    metadata["diff_sample"] = dg.MetadataValue.json(diffs[:20])
    return dg.MaterializeResult(metadata=metadata)
