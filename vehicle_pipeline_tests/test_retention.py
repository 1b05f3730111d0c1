"""Retention of page_parses and work_item_events against a real Postgres: rows older than the window go in
bounded batches, newer rows and open items' events stay, drift's window is never cut into, the daily job
reports what it deleted, and `trace` says when an item's early events are gone."""

import inspect
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from vehicle_pipeline.cli import _print_story
from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource
from vehicle_pipeline.defs.retention import retention, retention_daily
from vehicle_pipeline.ingest import drift, health
from vehicle_pipeline.store.queue import NewItem, WorkQueue
from vehicle_pipeline.store.retention import KEEP_AT_LEAST, forget_old_rows, window_days
from vehicle_pipeline.store.sources import SourceRegistry
from vehicle_pipeline.store.trace import find, story


def _parses(conn, n: int, days_ago: float, result: str = "parsed") -> None:
    conn.execute(
        """INSERT INTO page_parses (source, parsed_at, page_kind, result, error)
           SELECT 'bat', now() - %s * interval '1 day', 'listing', %s, %s FROM generate_series(1, %s)""",
        (days_ago, result, "unreadable" if result == "failed" else None, n))


def _count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table: a literal of this file


def _age_events(conn, item_ids, days_ago: float) -> None:
    conn.execute("UPDATE work_item_events SET at = now() - %s * interval '1 day' WHERE item_id = ANY (%s)",
                 (days_ago, list(item_ids)))


def _items(db):
    """A finished item whose events are 100 days old, an open (pending) item of another listing whose events are
    as old, and a finished item with fresh events: (done_old, open_old, done_new) item ids."""
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, worker_id="run:test")
    queue.enqueue_many([NewItem("listing_import", "bat", k) for k in ("old", "new")])
    for claimed in queue.claim("listing_import", 2):
        queue.complete(claimed, {"result": "stored"})
    open_item = queue.enqueue(NewItem("listing_import", "bat", "open"))
    # a retry made it: queued, claimed, failed, pending again (an open item's early events)
    [claimed] = queue.claim("listing_import", 1)
    queue.fail(claimed, "http 500")
    with db.connection() as conn:
        ids = dict(conn.execute("SELECT dedupe_key, id FROM work_items").fetchall())
        _age_events(conn, [ids["old"], ids["open"]], 100)
    assert open_item is not None
    return ids["old"], ids["open"], ids["new"]


def test_old_rows_go_in_bounded_batches_and_open_items_keep_their_story(db):
    done_old, open_old, done_new = _items(db)
    with db.connection() as conn:
        _parses(conn, 350, 100)
        _parses(conn, 5, 100, "failed")
        _parses(conn, 30, 60)  # inside the 90 days
        _parses(conn, 20, 0.5)
        events_before = dict(conn.execute("SELECT item_id, count(*) FROM work_item_events GROUP BY 1").fetchall())
    assert events_before[open_old] >= 3  # queued, claimed, retry

    report = forget_old_rows(db, days=90, batch=100)

    assert report.page_parses == 355 and report.statements["page_parses"] == 4  # 100, 100, 100, 55
    assert report.work_item_events == events_before[done_old]
    assert report.statements["work_item_events"] == 1
    with db.connection() as conn:
        assert _count(conn, "page_parses") == 50
        assert conn.execute("SELECT min(parsed_at) > now() - interval '90 days' FROM page_parses").fetchone()[0]
        events = dict(conn.execute("SELECT item_id, count(*) FROM work_item_events GROUP BY 1").fetchall())
    assert done_old not in events
    assert events[open_old] == events_before[open_old], "an open item's events are kept, however old"
    assert events[done_new] == events_before[done_new]

    again = forget_old_rows(db, days=90, batch=100)
    assert (again.page_parses, again.work_item_events) == (0, 0)
    assert again.statements == {"page_parses": 1, "work_item_events": 1, "work_items_history": 1,
                                "queue_depth_snapshots": 1}


def test_the_archive_of_finished_items_and_the_depth_readings_go_by_their_own_time(db):
    """work_items_history by finished_at, queue_depth_snapshots by taken_at: older than the window gone."""
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, worker_id="run:test")
    queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(6)])
    queue.complete_many([(c, {"result": "stored"}) for c in queue.claim("listing_import", 6)])
    with db.connection() as conn:
        conn.execute("UPDATE work_items SET finished_at = now() - interval '2 days'")
        assert queue.purge_finished() == 6
        conn.execute("UPDATE work_items_history SET finished_at = now() - interval '120 days' WHERE dedupe_key < 'k4'")
        for days in (200, 100, 91, 10, 0):
            conn.execute("INSERT INTO queue_depth_snapshots (taken_at, queue, source, pending, "
                         "running, dead, done_last_hour) VALUES (now() - %s * interval '1 day', 'listing_import', 'bat', 1, 0, 0, 0)", (days,))
    report = forget_old_rows(db, days=90, batch=2)
    assert (report.work_items_history, report.queue_depth_snapshots) == (4, 3)
    assert report.statements["work_items_history"] == 3  # 2, 2, 0
    with db.connection() as conn:
        assert sorted(r[0] for r in conn.execute("SELECT dedupe_key FROM work_items_history")) == ["k4", "k5"]
        assert _count(conn, "queue_depth_snapshots") == 2


def test_an_exact_multiple_of_the_batch_takes_one_more_statement_to_see_it_is_done(db):
    with db.connection() as conn:
        _parses(conn, 300, 100)
    report = forget_old_rows(db, days=90, batch=100)
    assert report.page_parses == 300 and report.statements["page_parses"] == 4


def test_events_of_an_open_item_keep_the_rest_of_its_correlation(db):
    """trace shows a correlation id's story: a finished import's events stay while its listing's extraction
    is open."""
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, worker_id="run:test")
    queue.enqueue(NewItem("listing_import", "bat", "imp"))
    [imp] = queue.claim("listing_import", 1)
    queue.complete(imp, {"result": "stored"})
    with db.connection() as conn:
        [correlation] = conn.execute("SELECT correlation_id FROM work_items WHERE id = %s", (imp.id,)).fetchone()
    queue.enqueue(NewItem("deep_extraction", "bat", "deep", payload={"correlation_id": str(correlation)}))
    with db.connection() as conn:
        _age_events(conn, [imp.id], 200)
    assert forget_old_rows(db, days=90).work_item_events == 0
    with db.connection() as conn:
        conn.execute("UPDATE work_items SET state = 'dead', last_error = 'gave up' WHERE dedupe_key = 'deep'")
    assert forget_old_rows(db, days=90).work_item_events >= 2  # the import's queued, claimed, done


def test_the_window_is_never_shorter_than_drift_and_health_read(db):
    assert drift.RECENT + drift.EARLIER <= KEEP_AT_LEAST
    assert timedelta(days=inspect.signature(health.pipeline_health).parameters["days"].default) <= KEEP_AT_LEAST
    assert window_days(1) == KEEP_AT_LEAST.days and window_days(90) == 90
    with pytest.raises(ValueError):
        window_days(-1)
    with db.connection() as conn:
        _parses(conn, 10, 7.5)  # drift's earlier week still reads these
        _parses(conn, 10, 9)
    report = forget_old_rows(db, days=1)
    assert report.days == KEEP_AT_LEAST.days and report.asked_days == 1
    assert report.page_parses == 10
    with db.connection() as conn:
        assert _count(conn, "page_parses") == 10


def test_trace_says_when_early_events_were_deleted(db, capsys):
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, worker_id="run:test")
    queue.enqueue(NewItem("listing_import", "bat", "k", payload={"found_by": "run:walk"}))
    [item] = queue.claim("listing_import", 1)
    queue.fail(item, "http 500")
    with db.connection() as conn:
        [whole] = [story(conn, c) for c in find(conn, str(item.id))]
        assert whole["events_purged_for"] == [] and whole["found_by"] == "run:walk"
        # what retention does to a finished item's first events, seen on one still open
        conn.execute("DELETE FROM work_item_events WHERE item_id = %s AND event = 'queued'", (item.id,))
        [cut] = [story(conn, c) for c in find(conn, str(item.id))]
    assert cut["events_purged_for"] == [item.id] and cut["found_by"] is None
    _print_story(cut)
    assert f"earlier events deleted by retention: the history of item(s) #{item.id} starts mid-way" \
        in capsys.readouterr().out


@pytest.mark.dagster
def test_the_daily_job_reports_rows_deleted_and_the_schedule_asks_for_one_run_a_day(db, db_url):
    with db.connection() as conn:
        _parses(conn, 250, 40)
        _parses(conn, 5, 1)
    resources = {"postgres": PostgresResource(database_url=db_url, pool_size=2),
                 "settings": PipelineSettingsResource(retention_days=30, retention_batch=100)}
    result = retention.execute_in_process(resources=resources)
    assert result.success
    [output] = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["page_parses_deleted"] == dg.MetadataValue.int(250)
    assert metadata["work_item_events_deleted"] == dg.MetadataValue.int(0)
    assert metadata["statements"] == dg.MetadataValue.int(6)  # 3 for page_parses (100, 100, 50), 1 for each other
    assert metadata["retention_days"] == dg.MetadataValue.int(30)

    when = datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        request = retention_daily.evaluate_tick(context).run_requests[0]
    assert request.run_key == "retention-2026-12-07"
    assert retention_daily.job_name == "retention"
