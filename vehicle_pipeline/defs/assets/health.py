"""pipeline_health: the pipeline's health figures, hourly (computed by `ingest.health` with pandas)."""

import dagster as dg

from vehicle_pipeline.defs.freshness import freshness
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.ingest.health import pipeline_health as compute_health
from vehicle_pipeline.store.queue import WorkQueue

OPERATIONS_GROUP = "operations"


@dg.asset(
    group_name=OPERATIONS_GROUP,
    kinds={"pandas", "postgres"},
    freshness_policy=freshness("pipeline_health"),
)
def pipeline_health(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    """The pipeline's health, hourly: profiles created and updated per source per day, queue depth and drain
    rate per queue (from the depth snapshots; one is taken at each materialization), fetch outcomes (ok,
    unchanged, gone, blocked, failed), parse failures and fallback parses per source (markup drift), sources
    in backoff and until when, dead items by reason, and outcome latency (auction end to outcome row).
    Each figure is numeric metadata per site and queue, plotted over time; the tables are in `health`."""
    db = postgres.database()
    WorkQueue(db, worker_id=f"run:{context.run.run_id}").record_depth_snapshot()
    with db.connection() as conn:
        health = compute_health(conn)
    for note in health.notes:
        context.log.info(note)
    metadata: dict = {k: dg.MetadataValue.float(float(v)) if isinstance(v, float) else dg.MetadataValue.int(int(v))
                      for k, v in health.metadata().items()}
    metadata["health"] = dg.MetadataValue.md(health.markdown())
    return dg.MaterializeResult(metadata=metadata)
