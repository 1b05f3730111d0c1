"""Schedules with dg.build_schedule_context (window edges, both DST days) and sensors with
dg.build_sensor_context (cursor, run keys, alert thresholds), against a real database."""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._utils.schedules import schedule_execution_time_iterator  # what the daemon itself iterates

from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.defs.schedules import (
    TIMEZONE,
    active_auctions_every_6h,
    craigslist_daily,
    dealer_inventory_every_12h,
    hourly_seller_discovery,
    overnight_drain,
)
from vehicle_pipeline.defs.sensors import dealer_discovery_sensor, queue_depth_sensor, repair_auto_queue_sensor
from vehicle_pipeline.ingest.monitoring import assess
from vehicle_pipeline.store.queue import NewItem, WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry

pytestmark = pytest.mark.dagster
LA = ZoneInfo("America/Los_Angeles")


def _repo():
    from vehicle_pipeline.definitions import defs

    return defs.get_repository_def()


@pytest.fixture
def instance():
    # An instance with a ref: schedule and sensor contexts re-open the instance from it.
    with dg.instance_for_test() as inst:
        yield inst


def _night_ticks(schedule, evening: datetime) -> list[datetime]:
    start = evening.replace(hour=12, minute=0)
    end = start + timedelta(days=1)
    ticks = []
    for tick in schedule_execution_time_iterator(start.timestamp(), schedule.cron_schedule, TIMEZONE):
        if tick >= end:
            break
        ticks.append(tick.astimezone(LA))
    return ticks


@pytest.mark.parametrize("evening, ticks_expected, long_gaps", [
    (datetime(2026, 6, 10, tzinfo=LA), 145, 0),   # an ordinary night: 12 h of 5-minute ticks plus 08:00
    (datetime(2026, 3, 7, tzinfo=LA), 133, 0),    # spring forward: 02:00–02:55 do not exist
    (datetime(2026, 10, 31, tzinfo=LA), 145, 1),  # fall back: the repeated 01:00 hour ticks once, by wall clock
])
def test_overnight_window_edges_and_dst(evening, ticks_expected, long_gaps, instance):
    assert TIMEZONE == "America/Los_Angeles"
    ticks = _night_ticks(overnight_drain, evening)
    assert ticks[0].hour == 20 and ticks[0].minute == 0 and ticks[0].day == evening.day
    assert (ticks[-1].hour, ticks[-1].minute) == (8, 0), "the 08:00 tick is included"
    assert all(t.hour >= 20 or t.hour < 8 or (t.hour, t.minute) == (8, 0) for t in ticks)
    utc = [t.astimezone(ZoneInfo("UTC")) for t in ticks]
    gaps = [(b - a).total_seconds() for a, b in zip(utc, utc[1:])]
    assert all(g > 0 for g in gaps), "never a doubled tick"
    assert sum(1 for g in gaps if g != 300) == long_gaps
    assert len({(t.hour, t.minute) for t in ticks}) == len(ticks) == ticks_expected
    for tick in (ticks[0], ticks[-1]):
        with dg.build_schedule_context(instance=instance, repository_def=_repo(), scheduled_execution_time=tick) as context:
            request = overnight_drain.evaluate_tick(context).run_requests[0]
        assert request.run_key == f"overnight-{tick.isoformat()}"


def test_overnight_drain_skips_while_a_drain_runs(instance):
    instance.add_run(dg.DagsterRun(job_name="drain_queues", run_id="r1", status=dg.DagsterRunStatus.STARTED))
    with dg.build_schedule_context(instance=instance, repository_def=_repo(),
                                   scheduled_execution_time=datetime(2026, 6, 10, 21, tzinfo=LA)) as context:
        result = overnight_drain.evaluate_tick(context)
    assert not result.run_requests and "in progress" in result.skip_message


def test_hourly_discovery_active_auctions_and_craigslist(instance):
    ticks = _night_ticks(hourly_seller_discovery, datetime(2026, 6, 10, tzinfo=LA))
    assert [t.hour for t in ticks] == [20, 21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    tick = datetime(2026, 6, 10, 6, tzinfo=LA)
    with dg.build_schedule_context(instance=instance, repository_def=_repo(), scheduled_execution_time=tick) as context:
        requests = [(schedule.job_name, r.partition_key) for schedule in active_auctions_every_6h
                    for r in schedule.evaluate_tick(context).run_requests]
    assert sorted(requests) == [(f"{s}_index_walk", "2026-06-10") for s in ("bat", "broadarrow", "carsandbids", "mecum")]
    with dg.build_schedule_context(instance=instance, repository_def=_repo(), scheduled_execution_time=tick) as context:
        requests = craigslist_daily.evaluate_tick(context).run_requests
    assert sorted(r.partition_key.keys_by_dimension["metro"] for r in requests) == sorted(CRAIGSLIST_METROS)
    assert len({r.run_key for r in requests}) == len(CRAIGSLIST_METROS)


def test_dealer_inventory_runs_in_batches_of_five(instance):
    with dg.build_schedule_context(instance=instance, repository_def=_repo()) as context:
        assert dealer_inventory_every_12h.evaluate_tick(context).skip_message
    names = [f"dealer:d{i:02d}" for i in range(12)]
    instance.add_dynamic_partitions("dealers", names)
    with dg.build_schedule_context(instance=instance, repository_def=_repo(),
                                   scheduled_execution_time=datetime(2026, 6, 10, 12, tzinfo=LA)) as context:
        requests = dealer_inventory_every_12h.evaluate_tick(context).run_requests
    assert len(requests) == 3
    assert (requests[0].partition_key_range.start, requests[0].partition_key_range.end) == ("dealer:d00", "dealer:d04")
    assert (requests[1].partition_key_range.start, requests[1].partition_key_range.end) == ("dealer:d05", "dealer:d09")
    assert (requests[2].partition_key_range.start, requests[2].partition_key_range.end) == ("dealer:d10", "dealer:d11")


def _sensor(sensor, db_url, instance, cursor=None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=_repo(),
                                 resources={"postgres": PostgresResource(database_url=db_url)}) as context, \
            partition_loading_context(dynamic_partitions_store=instance):  # what the daemon provides
        return sensor.evaluate_tick(context)


def test_queue_depth_sensor_records_depth_requests_drains_with_batch_ids_and_only_reports(db_url, db, instance):
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, lease_ttl=timedelta(milliseconds=1))
    empty = _sensor(queue_depth_sensor, db_url, instance)
    assert not empty.run_requests and "nothing to drain" in empty.skip_message
    queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(5)])
    queue.claim("listing_import", 2)  # a worker that will never finish: its leases expire at once
    first = _sensor(queue_depth_sensor, db_url, instance, empty.cursor)
    [request] = first.run_requests
    assert request.run_key == "drain-batch-1" and json.loads(first.cursor) == {"batch": 1}
    [event] = first.asset_events
    meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    # it reports the expired leases as running and leaves them: the queue's own claims take them back
    assert (meta["listing_import_pending"], meta["listing_import_running"], meta["alerts"]) == (3, 2, 0)
    assert not any("reap" in k for k in meta)
    # the same pending work a minute later, no run started: a new batch id, so the request is not deduped away
    second = _sensor(queue_depth_sensor, db_url, instance, first.cursor)
    assert [r.run_key for r in second.run_requests] == ["drain-batch-2"]
    # with a drain in progress it waits
    instance.add_run(dg.DagsterRun(job_name="drain_queues", run_id="r1", status=dg.DagsterRunStatus.STARTED))
    third = _sensor(queue_depth_sensor, db_url, instance, second.cursor)
    assert not third.run_requests and "in progress" in third.skip_message
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM queue_depth_snapshots").fetchone()[0] >= 3
        assert conn.execute("SELECT count(*) FROM work_items WHERE state = 'running'").fetchone()[0] == 2
    assert len(WorkQueue(db).claim("listing_import", 10)) == 5  # a claim takes them back


def test_queue_alert_thresholds(db_url, db, instance):
    SourceRegistry(db).upsert("bat", "auction")
    WorkQueue(db).enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(1001)])
    result = _sensor(queue_depth_sensor, db_url, instance)
    meta = {k: getattr(v, "value", v) for k, v in result.asset_events[0].metadata.items()}
    assert meta["alerts"] == 1 and "1001 items pending" in meta["alert_text"]
    # the stalled-drain rule, on the pure function: work waiting over an hour, fewer than 10 done in it
    row = {"queue": "deep_extraction", "source": "bat", "pending": 4, "deferred": 0, "running": 0, "dead": 0,
           "oldest_pending_secs": 7200.0, "done_last_hour": 3}
    assert any("drain rate 3/h" in a for a in assess([row]).alerts)
    assert not assess([row | {"done_last_hour": 10}]).alerts
    assert not assess([row | {"oldest_pending_secs": 600.0}]).alerts
    assert not assess([row | {"deferred": 4}]).alerts, "work waiting for its retry time is not stuck"


def test_dealer_discovery_sensor_adds_partitions_once(db_url, db, instance):
    registry = SourceRegistry(db)
    registry.upsert("dealer:a", "dealer", "http://a.example", confidence=0.9, discovered=True)
    registry.upsert("dealer:low", "dealer", "http://low.example", confidence=0.5, discovered=True)
    # Invoked directly: the daemon adds the partitions before it resolves the run requests for them.
    with dg.build_sensor_context(instance=instance, repository_def=_repo(),
                                 resources={"postgres": PostgresResource(database_url=db_url)}) as context:
        result = dealer_discovery_sensor(context)
    [add] = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["dealer:a"]
    assert [r.partition_key for r in result.run_requests] == ["dealer:a"]
    instance.add_dynamic_partitions("dealers", ["dealer:a"])
    assert _sensor(dealer_discovery_sensor, db_url, instance).skip_message


def test_repair_sensor_queues_candidates_at_repair_priority(db_url, db, instance):
    SourceRegistry(db).upsert("bat", "auction")
    with db.connection() as conn:
        listing = conn.execute("INSERT INTO listings (source, external_id, url) VALUES ('bat', 'x', 'http://h/x') "
                               "RETURNING id").fetchone()[0]
        conn.execute("""INSERT INTO auction_events (listing_id, source, outcome, high_bid, currency, ended_at)
                        VALUES (%s, 'bat', 'sold', 5000, 'USD', now())""", (listing,))
    result = _sensor(repair_auto_queue_sensor, db_url, instance)
    assert "queued 1" in result.skip_message
    with db.connection() as conn:
        priority, payload = conn.execute("SELECT priority, payload FROM work_items WHERE queue = 'deep_extraction'"
                                         ).fetchone()
    assert priority == 75 and payload["repair"] is True and payload["refetch"] is True
    assert "queued 0" in _sensor(repair_auto_queue_sensor, db_url, instance).skip_message


def test_definitions_load_and_validate_with_no_secrets(tmp_path):
    from vehicle_pipeline.definitions import defs

    repo = defs.get_repository_def()
    # a named job for each kind of work, so the Runs list says what ran
    assert {j.name for j in repo.get_all_jobs()} - {"__ASSET_JOB"} == {
        "bat_index_walk", "carsandbids_index_walk", "mecum_index_walk", "broadarrow_index_walk",
        "craigslist_index_walk", "dealer_inventory_sync", "seller_discovery", "drain_queues", "import_drain",
        "outcome_drain", "bat_repairs_backfill", "health_figures", "market_comps_daily", "retention"}
    assert {s.name for s in repo.schedule_defs} == {"overnight_drain", "hourly_seller_discovery",
                                                    "bat_index_walk_every_6h", "carsandbids_index_walk_every_6h",
                                                    "mecum_index_walk_every_6h", "broadarrow_index_walk_every_6h",
                                                    "dealer_inventory_every_12h", "craigslist_daily",
                                                    "pipeline_health_hourly", "market_comps_daily",
                                                    "retention_daily"}
    assert {s.name for s in repo.sensor_defs} >= {"queue_depth_sensor", "dealer_discovery_sensor",
                                                  "repair_auto_queue_sensor", "release_claims_on_run_failure",
                                                  "saved_search_sensor"}
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys >= {"bat_listings", "carsandbids_listings", "mecum_listings", "broadarrow_listings",
                    "craigslist_listings", "dealer_inventory", "classic_sellers", "vehicle_profiles",
                    "auction_outcomes", "bat_repairs", "work_queue_depth", "market_comps"}
    for key in keys - {"work_queue_depth"}:
        assert repo.asset_graph.get(dg.AssetKey(key)).description, f"{key} needs a docstring"
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith(("DATABASE_URL", "DAGSTER_PG_URL", "VEHICLE_PIPELINE_"))}
    env["DAGSTER_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m",
                           "vehicle_pipeline.definitions"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_run_failure_sensor_releases_the_failed_runs_claims(db_url, db, instance):
    from vehicle_pipeline.defs.sensors import release_claims_on_run_failure

    @dg.asset
    def doomed():
        raise RuntimeError("the run dies")

    result = dg.materialize([doomed], instance=instance, raise_on_error=False)
    assert not result.success
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, worker_id=f"run:{result.run_id}")
    queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(3)])
    held = queue.claim("listing_import", 3)
    other = WorkQueue(db, worker_id="run:someone-else")
    other.enqueue(NewItem("listing_import", "bat", "theirs"))
    [theirs] = other.claim("listing_import", 1)
    with dg.build_run_status_sensor_context(
            sensor_name="release_claims_on_run_failure", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run,
            resources={"postgres": PostgresResource(database_url=db_url)}).for_run_failure() as context:
        release_claims_on_run_failure(context)
    with db.connection() as conn:
        states = dict(conn.execute("SELECT dedupe_key, state FROM work_items").fetchall())
    assert all(states[i.dedupe_key] == "pending" for i in held), "released at once, not after the lease"
    assert states[theirs.dedupe_key] == "running", "another run's claims are left alone"


def test_dagster_commands_in_the_project_root_use_the_projects_postgres(db_url, tmp_path):
    """No DAGSTER_HOME: Dagster reads the root dagster.yaml, whose storage class finds the database itself."""
    import os
    from pathlib import Path

    import psycopg

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "DAGSTER_", "VEHICLE_PIPELINE_"))}
    env |= {"DATABASE_URL": db_url, "VEHICLE_PIPELINE_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-m",
                           "vehicle_pipeline.definitions"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('runs') IS NOT NULL").fetchone()[0], "Dagster's tables live there"


_STATUSES = """
from vehicle_pipeline.definitions import defs
repo = defs.get_repository_def()
print(sorted({str(s.default_status) for s in [*repo.sensor_defs, *repo.schedule_defs]}))
"""


@pytest.mark.parametrize("setting, statuses", [
    (None, ["DefaultScheduleStatus.RUNNING", "DefaultSensorStatus.RUNNING"]),
    ("stopped", ["DefaultScheduleStatus.STOPPED", "DefaultSensorStatus.STOPPED"]),
    ("sometimes", None),
])
def test_automation_runs_by_default_and_one_setting_starts_it_all_stopped(setting, statuses, tmp_path):
    """Every sensor and schedule runs as soon as a daemon loads the code location, unless
    VEHICLE_PIPELINE_AUTOMATION=stopped; a value it does not know stops the load with a clear error."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("VEHICLE_PIPELINE_")}
    env["DAGSTER_HOME"] = str(tmp_path)
    if setting is not None:
        env["VEHICLE_PIPELINE_AUTOMATION"] = setting
    proc = subprocess.run([sys.executable, "-c", _STATUSES], env=env, capture_output=True, text=True, timeout=300)
    if statuses is None:
        assert proc.returncode != 0
        assert "VEHICLE_PIPELINE_AUTOMATION='sometimes': use 'running' (the default) or 'stopped'" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == repr(statuses)
