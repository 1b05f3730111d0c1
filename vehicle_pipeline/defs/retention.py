"""Retention, daily: page_parses, work_item_events, work_items_history and queue_depth_snapshots older than
`retention_days` (pipeline settings) go, in bounded batches. The rule (what is always kept, how it deletes) is store/retention.py; this is its Dagster shape:
one op, its job (so the Runs list says what ran) and a daily schedule."""

import dagster as dg

from vehicle_pipeline.defs.automation import SCHEDULE_STATUS
from vehicle_pipeline.defs.jobs import WORK_TAG
from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource
from vehicle_pipeline.defs.schedules import TIMEZONE
from vehicle_pipeline.store.retention import forget_old_rows


@dg.op
def delete_old_log_rows(context: dg.OpExecutionContext, postgres: PostgresResource,
                        settings: PipelineSettingsResource) -> dg.Output[None]:
    """Delete page_parses and work_item_events older than the retention window, in batches; the rows deleted
    per table are numeric metadata."""
    report = forget_old_rows(postgres.database(), days=settings.retention_days, batch=settings.retention_batch)
    if report.days != report.asked_days:
        context.log.info(f"retention_days={report.asked_days} is shorter than drift and health read: "
                         f"kept {report.days} days")
    context.log.info(f"deleted {report.page_parses} page_parses, {report.work_item_events} work_item_events, "
                     f"{report.work_items_history} work_items_history and {report.queue_depth_snapshots} "
                     f"queue_depth_snapshots rows from before {report.cutoff.isoformat()} in {sum(report.statements.values())} statements")
    return dg.Output(None, metadata={
        "page_parses_deleted": dg.MetadataValue.int(report.page_parses),
        "work_item_events_deleted": dg.MetadataValue.int(report.work_item_events),
        "work_items_history_deleted": dg.MetadataValue.int(report.work_items_history),
        "queue_depth_snapshots_deleted": dg.MetadataValue.int(report.queue_depth_snapshots),
        "retention_days": dg.MetadataValue.int(report.days),
        "statements": dg.MetadataValue.int(sum(report.statements.values())),
        "cutoff": dg.MetadataValue.text(report.cutoff.isoformat()),
    })


@dg.job(tags={WORK_TAG: "retention"},
        description="Delete page_parses and work_item_events older than the retention window, in batches.")
def retention():
    delete_old_log_rows()


@dg.schedule(job=retention, cron_schedule="0 9 * * *", execution_timezone=TIMEZONE, default_status=SCHEDULE_STATUS)
def retention_daily(context: dg.ScheduleEvaluationContext):
    """Once a day, after the overnight window (and the market comps) are done."""
    return dg.RunRequest(run_key=f"retention-{context.scheduled_execution_time:%Y-%m-%d}")


retention_jobs = [retention]
retention_schedules = [retention_daily]
