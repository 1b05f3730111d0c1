"""Sensors: queue depth (and drain requests), dealer discovery, repair auto-queue, run failures."""


import json

import dagster as dg

from vehicle_pipeline.defs.automation import SENSOR_STATUS
from vehicle_pipeline.defs.jobs import dealer_inventory_job, drain_queues_job
from vehicle_pipeline.defs.partitions import dealers
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.ingest.monitoring import assess
from vehicle_pipeline.ingest.repairs import queue_repair_candidates
from vehicle_pipeline.store.queue import WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry

QUEUE_DEPTH_ASSET = dg.AssetSpec(
    "work_queue_depth",
    description="Depth of the work queues, recorded every minute by the queue depth sensor: pending, running, "
                "dead and done in the last hour per queue (plotted from this asset's metadata).",
    group_name="operations",
)
ACTIVE = SENSOR_STATUS


def _cursor(context) -> dict:
    try:
        return json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        return {}


def _drain_in_progress(instance: dg.DagsterInstance) -> bool:
    return bool(instance.get_run_records(
        filters=dg.RunsFilter(job_name=drain_queues_job.name,
                              statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                        dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]), limit=1))


@dg.sensor(job=drain_queues_job, minimum_interval_seconds=60, default_status=ACTIVE)
def queue_depth_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Every minute: record queue depth as numeric metadata, alert on depth > 1000 or a stalled drain, and
    request a drain run when work is pending and no drain is running. It heals nothing: the queue's own
    claims take back expired leases."""
    queue = WorkQueue(postgres.database(), worker_id="sensor:queue_depth")
    purged = queue.purge_finished()
    health = assess(queue.record_depth_snapshot())
    for alert in health.alerts:
        context.log.error(f"queue alert: {alert}")
    metadata = health.metadata() | {"purged_done": purged}
    if health.alerts:
        metadata["alert_text"] = "; ".join(health.alerts)
    cursor = _cursor(context)
    batch = int(cursor.get("batch", 0))
    run_requests = []
    if health.drainable and not _drain_in_progress(context.instance):
        batch += 1
        run_requests.append(dg.RunRequest(run_key=f"drain-batch-{batch}",
                                          tags={"vehicle_pipeline/drain_batch": str(batch)}))
    return dg.SensorResult(
        run_requests=run_requests,
        asset_events=[dg.AssetMaterialization(asset_key=QUEUE_DEPTH_ASSET.key, metadata=metadata)],
        cursor=json.dumps({"batch": batch}),
        skip_reason=None if run_requests else dg.SkipReason(
            "nothing to drain" if not health.drainable else "a drain run is already in progress"),
    )


@dg.sensor(job=dealer_inventory_job, minimum_interval_seconds=300, default_status=ACTIVE)
def dealer_discovery_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Adds a dealer_inventory partition for each enabled dealer source and syncs new dealers at once."""
    enabled = SourceRegistry(postgres.database()).enabled_dealers()
    known = set(context.instance.get_dynamic_partitions(dealers.name))
    new = [name for name in enabled if name not in known]
    if not new:
        return dg.SkipReason(f"{len(enabled)} enabled dealer(s), all with partitions")
    return dg.SensorResult(
        dynamic_partitions_requests=[dealers.build_add_request(new)],
        run_requests=[dg.RunRequest(run_key=f"dealer-added-{name}", partition_key=name) for name in new],
    )


@dg.sensor(minimum_interval_seconds=600, default_status=ACTIVE)
def repair_auto_queue_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Every 10 minutes: queue 20 BaT repair candidates at repair priority (75) for the drain to pick up."""
    queued = queue_repair_candidates(postgres.database(), limit=20)
    return dg.SkipReason(f"queued {queued} repair candidate(s) for deep extraction")


@dg.run_failure_sensor(default_status=ACTIVE)
def release_claims_on_run_failure(context: dg.RunFailureSensorContext, postgres: PostgresResource):
    """A failed run's queue items go back at once instead of waiting out their leases."""
    run = context.dagster_run
    released = WorkQueue(postgres.database()).release_worker(f"run:{run.run_id}")
    context.log.warning(f"run {run.run_id} ({run.job_name}) failed: released {released} claimed item(s)")


all_sensors = [queue_depth_sensor, dealer_discovery_sensor, repair_auto_queue_sensor, release_claims_on_run_failure]
