"""Alerts in Dagster: a sensor that evaluates them every minute and posts each start and clear to the webhook
(VEHICLE_PIPELINE_ALERT_WEBHOOK) once, checks on pipeline_health that fail while an alert of their kind is on,
and the hourly schedule of pipeline_health.

The rules are `ingest.alerts`; this module hands them what only Dagster knows: each job's latest run, and when
each asset with a freshness policy last materialized.
"""

from datetime import datetime, timezone

import dagster as dg

from vehicle_pipeline.defs.assets.health import pipeline_health
from vehicle_pipeline.defs.automation import SCHEDULE_STATUS, SENSOR_STATUS
from vehicle_pipeline.defs.freshness import WINDOWS
from vehicle_pipeline.defs.jobs import pipeline_health_job
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.ingest.alerts import (
    KINDS,
    Alert,
    database_alerts,
    failed_run_alerts,
    reconcile,
    stale_asset_alerts,
)

RUNS_LOOKED_AT = 500


def latest_runs(instance: dg.DagsterInstance) -> list[tuple[str, str, bool, datetime]]:
    """(job, run id, succeeded, ended at) of each job's latest finished run."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]),
        limit=RUNS_LOOKED_AT)  # newest first
    seen: dict[str, tuple[str, str, bool, datetime]] = {}
    for record in records:
        run = record.dagster_run
        if run.job_name not in seen:
            ended_at = datetime.fromtimestamp(record.end_time, timezone.utc) if record.end_time else \
                record.update_timestamp
            seen[run.job_name] = (run.job_name, run.run_id, run.status == dg.DagsterRunStatus.SUCCESS, ended_at)
    return list(seen.values())


def last_materializations(instance: dg.DagsterInstance) -> list:
    """(asset, last materialization, freshness window) for each asset with a freshness policy."""
    out = []
    for name, window in WINDOWS.items():
        event = instance.get_latest_materialization_event(dg.AssetKey(name))
        out.append((name, datetime.fromtimestamp(event.timestamp, timezone.utc) if event else None, window))
    return out


def current_alerts(instance: dg.DagsterInstance, db, now: datetime | None = None) -> list[Alert]:
    return (database_alerts(db) + failed_run_alerts(latest_runs(instance))
            + stale_asset_alerts(last_materializations(instance), now=now))


@dg.sensor(minimum_interval_seconds=60, default_status=SENSOR_STATUS)
def pipeline_alerts(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Every minute: queue depth > 1000, drain rate < 10/h, a source in backoff over 6 h, items going dead, parse
    failures rising, a job whose latest run failed, a stale asset. Each start and each clear is posted once to
    VEHICLE_PIPELINE_ALERT_WEBHOOK when it is set; the tick says which alerts are on."""
    db = postgres.database()
    alerts = current_alerts(context.instance, db)
    for change in reconcile(db, alerts):
        line = f"alert {change.state}: {change.alert}: {change.message}" + ("" if change.posted else " (not posted)")
        (context.log.error if change.state == "firing" else context.log.info)(line)
    if not alerts:
        return dg.SkipReason("no alerts")
    return dg.SkipReason(f"{len(alerts)} alert(s) on: " + "; ".join(a.message for a in alerts))


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(f"no_{kind}_alert", asset=pipeline_health,
                             description=f"fails while a {kind.replace('_', ' ')} alert is on") for kind in KINDS],
)
def pipeline_alert_checks(context: dg.AssetCheckExecutionContext, postgres: PostgresResource):
    """One check per kind of alert, evaluated with pipeline_health: failing while such an alert is on."""
    db = postgres.database()
    alerts = current_alerts(context.instance, db)
    reconcile(db, alerts)  # the webhook hears of it even while the alert sensor is stopped
    for kind in KINDS:
        mine = [a for a in alerts if a.kind == kind]
        yield dg.AssetCheckResult(check_name=f"no_{kind}_alert", asset_key=pipeline_health.key, passed=not mine,
                                  metadata={"alerts": len(mine), "text": "; ".join(a.message for a in mine) or "none"})


@dg.schedule(job=pipeline_health_job, cron_schedule="0 * * * *", default_status=SCHEDULE_STATUS)
def pipeline_health_hourly(context: dg.ScheduleEvaluationContext):
    """Hourly: pipeline_health and its alert checks."""
    return dg.RunRequest(run_key=f"health-{context.scheduled_execution_time.isoformat()}")


alert_sensors = [pipeline_alerts]
alert_checks = [pipeline_alert_checks]
alert_schedules = [pipeline_health_hourly]
