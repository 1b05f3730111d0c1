"""Schedules: the overnight drain window, seller discovery, active auctions, dealer inventory, Craigslist.

The overnight window runs every 5 minutes from 20:00 through 08:00 (the 08:00 tick included) in the
configured timezone (VEHICLE_PIPELINE_TIMEZONE, default America/Los_Angeles); Dagster evaluates the cron in
that zone, so the window keeps its local hours across DST changes.
"""


import os

import dagster as dg

from vehicle_pipeline.defs.automation import SCHEDULE_STATUS
from vehicle_pipeline.defs.jobs import (
    auction_walk_jobs,
    craigslist_job,
    dealer_inventory_job,
    drain_queues_job,
    seller_discovery_job,
)
from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS

TIMEZONE = os.environ.get("VEHICLE_PIPELINE_TIMEZONE", "America/Los_Angeles")
DEALERS_PER_RUN = 5
ACTIVE = SCHEDULE_STATUS


def overnight_crons(start_hour: int = 20, end_hour: int = 8, every_minutes: int = 5) -> list[str]:
    """Cron strings for every N minutes from start_hour:00 through end_hour:00 inclusive, across midnight."""
    return [f"*/{every_minutes} {start_hour}-23 * * *", f"*/{every_minutes} 0-{end_hour - 1} * * *",
            f"0 {end_hour} * * *"]


def _in_progress(context, job_name: str) -> bool:
    runs = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
                                                           dg.DagsterRunStatus.STARTED]), limit=1)
    return bool(runs)


@dg.schedule(job=drain_queues_job, cron_schedule=overnight_crons(), execution_timezone=TIMEZONE,
             default_status=ACTIVE)
def overnight_drain(context: dg.ScheduleEvaluationContext):
    """Every 5 minutes through the night: drain the queues, unless a drain is still running."""
    if _in_progress(context, drain_queues_job.name):
        return dg.SkipReason("a drain run is still in progress")
    tick = context.scheduled_execution_time
    return dg.RunRequest(run_key=f"overnight-{tick.isoformat()}", tags={"vehicle_pipeline/window": "overnight"})


@dg.schedule(job=seller_discovery_job, cron_schedule=["0 20-23 * * *", "0 0-8 * * *"],
             execution_timezone=TIMEZONE, default_status=ACTIVE)
def hourly_seller_discovery(context: dg.ScheduleEvaluationContext):
    """Hourly through the overnight window: classic.com seller discovery."""
    return dg.RunRequest(run_key=f"sellers-{context.scheduled_execution_time.isoformat()}")


def _auction_walk_schedule(job) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"{job.name}_every_6h", job=job, cron_schedule="0 */6 * * *", execution_timezone=TIMEZONE,
                 default_status=ACTIVE)
    def _schedule(context: dg.ScheduleEvaluationContext):
        """Every 6 hours: walk the site (a run per site) so live auctions that ended are re-imported."""
        tick = context.scheduled_execution_time
        return dg.RunRequest(run_key=f"{job.name}-{tick.isoformat()}", partition_key=tick.strftime("%Y-%m-%d"))

    return _schedule


active_auctions_every_6h = [_auction_walk_schedule(job) for job in auction_walk_jobs]


@dg.schedule(job=dealer_inventory_job, cron_schedule="0 */12 * * *", execution_timezone=TIMEZONE,
             default_status=ACTIVE)
def dealer_inventory_every_12h(context: dg.ScheduleEvaluationContext):
    """Every 12 hours: every enabled dealer's inventory, five dealers per run."""
    dealers = sorted(context.instance.get_dynamic_partitions("dealers"))
    if not dealers:
        return dg.SkipReason("no dealer partitions yet (the dealer discovery sensor adds them)")
    tick = context.scheduled_execution_time.isoformat()
    requests = []
    for start in range(0, len(dealers), DEALERS_PER_RUN):
        chunk = dealers[start:start + DEALERS_PER_RUN]
        tags = {"dagster/asset_partition_range_start": chunk[0], "dagster/asset_partition_range_end": chunk[-1]}
        if len(chunk) == 1:
            requests.append(dg.RunRequest(run_key=f"dealers-{tick}-{start}", partition_key=chunk[0]))
        else:
            requests.append(dg.RunRequest(run_key=f"dealers-{tick}-{start}", tags=tags))
    return requests


@dg.schedule(job=craigslist_job, cron_schedule="0 6 * * *", execution_timezone=TIMEZONE, default_status=ACTIVE)
def craigslist_daily(context: dg.ScheduleEvaluationContext):
    """Daily: each configured metro's cars & trucks by owner."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(run_key=f"craigslist-{metro}-{day}",
                          partition_key=dg.MultiPartitionKey({"metro": metro, "day": day}))
            for metro in CRAIGSLIST_METROS]


all_schedules = [overnight_drain, hourly_seller_discovery, *active_auctions_every_6h, dealer_inventory_every_12h,
                 craigslist_daily]
