"""Each alert fires on its condition, clears when it passes, and is posted once per change to a real HTTP
receiver on loopback (the alert sensor, evaluated with dg.build_sensor_context against a real database)."""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context

from vehicle_pipeline.defs.alerts import current_alerts, pipeline_alerts
from vehicle_pipeline.defs.resources import PostgresResource
from vehicle_pipeline.ingest.alerts import reconcile
from vehicle_pipeline.notify import WEBHOOK_ENV, post_webhook
from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.queue import NewItem, WorkQueue

pytestmark = pytest.mark.dagster


class Receiver:
    """A Slack-style incoming webhook: keeps every JSON body POSTed to it; answers 500 while `failing`."""

    def __init__(self):
        self.posts: list[dict] = []
        self.failing = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.failing:
                    self.send_response(500)
                else:
                    outer.posts.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def take(self) -> list[tuple[str, str]]:
        out = [(p["alert"], p["state"]) for p in self.posts]
        self.posts.clear()
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    r = Receiver()
    monkeypatch.setenv(WEBHOOK_ENV, r.url)
    yield r
    r.close()


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _tick(db_url, instance):
    from vehicle_pipeline.definitions import defs

    with dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                 resources={"postgres": PostgresResource(database_url=db_url)}) as context, \
            partition_loading_context(dynamic_partitions_store=instance):
        return pipeline_alerts.evaluate_tick(context)


def _sql(db, statement, params=()):
    with db.connection() as conn:
        conn.execute(statement, params)


def _depth_on(db):
    WorkQueue(db).enqueue_many([NewItem("listing_import", "bat", f"bat:{i}", {}) for i in range(1001)])


def _depth_off(db):
    _sql(db, "DELETE FROM work_items")


def _drain_on(db):
    WorkQueue(db).enqueue(NewItem("deep_extraction", "bat", "deep:1", {}))
    _sql(db, "UPDATE work_items SET created_at = now() - interval '2 hours'")


def _backoff_on(db):
    _sql(db, """UPDATE sources SET backoff_level = 2, backoff_until = now() + interval '2 hours',
                backoff_since = now() - interval '7 hours' WHERE name = 'bat'""")


def _backoff_off(db):
    _sql(db, "UPDATE sources SET backoff_level = 0, backoff_until = NULL WHERE name = 'bat'")


def _dead_on(db):
    _sql(db, """INSERT INTO work_items (queue, source, dedupe_key, state, last_error, finished_at)
                VALUES ('listing_import', 'bat', 'bat:dead', 'dead', 'failed http_status status=500', now())""")


def _dead_off(db):  # still dead, but no more are dying
    _sql(db, "UPDATE work_items SET finished_at = now() - interval '2 hours' WHERE state = 'dead'")


def _parse_on(db):
    # the day before: 20 pages read fine; the last hour: 3 of 4 pages unreadable
    _sql(db, """INSERT INTO work_item_events (at, item_id, correlation_id, queue, source, event, error, result)
                SELECT now() - interval '5 hours', g, gen_random_uuid(), 'listing_import', 'bat', 'done', NULL,
                       '{"result": "stored"}'::jsonb FROM generate_series(1, 20) g
                UNION ALL
                SELECT now() - interval '10 minutes', g, gen_random_uuid(), 'listing_import', 'bat', 'retry',
                       'parse error: bat: no .listing-title', NULL FROM generate_series(21, 23) g
                UNION ALL
                SELECT now() - interval '10 minutes', 24, gen_random_uuid(), 'listing_import', 'bat', 'done', NULL,
                       '{"result": "stored"}'::jsonb""")


def _parse_off(db):  # the hour passes
    _sql(db, "UPDATE work_item_events SET at = at - interval '1 hour' WHERE at > now() - interval '1 hour'")


CONDITIONS = {
    "queue_depth:listing_import": (_depth_on, _depth_off),
    "drain_rate:deep_extraction": (_drain_on, _depth_off),
    "source_backoff:bat": (_backoff_on, _backoff_off),
    "dead_items:listing_import": (_dead_on, _dead_off),
    "parse_failures:bat": (_parse_on, _parse_off),
}


@pytest.mark.parametrize("alert", sorted(CONDITIONS))
def test_each_database_alert_fires_clears_and_posts_once_per_change(alert, db_url, db, instance, receiver):
    _sql(db, "INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
    on, off = CONDITIONS[alert]
    assert "no alerts" in _tick(db_url, instance).skip_message
    assert receiver.take() == []

    on(db)
    result = _tick(db_url, instance)
    assert "1 alert(s) on" in result.skip_message
    assert receiver.take() == [(alert, "firing")]
    _tick(db_url, instance)
    _tick(db_url, instance)
    assert receiver.take() == []  # not every minute
    # a restart (a new process, a new pool) posts nothing again: the state is in the database
    fresh = Database(db_url)
    try:
        reconcile(fresh, current_alerts(instance, fresh))
    finally:
        fresh.close()
    assert receiver.take() == []

    off(db)
    assert "no alerts" in _tick(db_url, instance).skip_message
    assert receiver.take() == [(alert, "resolved")]
    _tick(db_url, instance)
    assert receiver.take() == []
    with db.connection() as conn:
        assert conn.execute("SELECT active, posted FROM alert_states WHERE key = %s", (alert,)).fetchone() == \
            (False, "resolved")


def test_a_post_that_fails_is_tried_again_and_a_slack_text_is_sent(db_url, db, instance, receiver):
    _sql(db, "INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
    _backoff_on(db)
    receiver.failing = True
    _tick(db_url, instance)
    assert receiver.take() == []
    receiver.failing = False
    _tick(db_url, instance)
    [post] = receiver.posts
    assert post["alert"] == "source_backoff:bat" and post["state"] == "firing"
    assert post["text"].startswith("[vehicle_pipeline] FIRING source_backoff:bat: bat in backoff since")


def test_a_failed_run_alerts_until_the_job_succeeds(db_url, db, instance, receiver):
    state = {"fail": True}

    @dg.asset(name="flaky")
    def flaky():
        if state["fail"]:
            raise RuntimeError("boom")

    job = dg.define_asset_job("flaky_job", selection=[flaky])
    definitions = dg.Definitions(assets=[flaky], jobs=[job])
    definitions.resolve_job_def("flaky_job").execute_in_process(instance=instance, raise_on_error=False)
    result = _tick(db_url, instance)
    assert "the latest run of flaky_job failed" in result.skip_message
    assert receiver.take() == [("run_failed:flaky_job", "firing")]
    _tick(db_url, instance)
    assert receiver.take() == []
    state["fail"] = False
    assert definitions.resolve_job_def("flaky_job").execute_in_process(instance=instance).success
    _tick(db_url, instance)
    assert receiver.take() == [("run_failed:flaky_job", "resolved")]


def test_a_stale_asset_alerts_until_it_materializes_again(db_url, db, instance, receiver):
    instance.report_runless_asset_event(dg.AssetMaterialization("pipeline_health"))
    assert not [a for a in current_alerts(instance, db) if a.kind == "stale_asset"]  # never-run assets: unknown
    later = datetime.now(timezone.utc) + timedelta(hours=3)  # pipeline_health's window is 1 h + 1 h
    alerts = current_alerts(instance, db, now=later)
    assert [a.key for a in alerts] == ["stale_asset:pipeline_health"]
    reconcile(db, alerts)
    assert receiver.take() == [("stale_asset:pipeline_health", "firing")]
    reconcile(db, current_alerts(instance, db, now=later))
    assert receiver.take() == []
    instance.report_runless_asset_event(dg.AssetMaterialization("pipeline_health"))
    reconcile(db, current_alerts(instance, db))
    assert receiver.take() == [("stale_asset:pipeline_health", "resolved")]


def test_without_a_webhook_nothing_is_posted_and_the_alert_still_shows(db_url, db, instance, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    assert post_webhook({"text": "x"}) is False
    _sql(db, "INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
    _dead_on(db)
    assert "went dead" in _tick(db_url, instance).skip_message
    with db.connection() as conn:
        assert conn.execute("SELECT active, posted FROM alert_states").fetchall() == [(True, None)]


def test_each_scheduled_asset_has_its_freshness_policy_in_the_definitions():
    from vehicle_pipeline.definitions import defs
    from vehicle_pipeline.defs.freshness import PERIODS, WINDOWS

    graph = defs.get_repository_def().asset_graph
    for name, window in WINDOWS.items():
        policy = graph.get(dg.AssetKey(name)).freshness_policy
        assert policy is not None, name
        assert policy.fail_window.to_timedelta() == window and policy.warn_window.to_timedelta() == PERIODS[name]
    assert graph.get(dg.AssetKey("bat_repairs")).freshness_policy is None  # backfilled by hand, never stale
