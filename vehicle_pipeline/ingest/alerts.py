"""Alerts: what is wrong now, and a webhook post once when each alert starts and once when it clears.

The rules (plain Python, no Dagster): a queue deeper than 1000, a drain slower than 10 items an hour with work
waiting (both `ingest.monitoring.assess`), a source held off longer than `backoff_limit`, items going dead
(any in the last hour), parse failures rising on a source (last hour's share well above the day's), and two
that Dagster knows and the sensor hands in: a job whose latest run failed, an asset past its freshness window.

`reconcile` keeps each alert's state in `alert_states`, so an evaluation every minute, a restart or two
evaluators at once post each change once; a failed post is tried again at the next evaluation
(`notify.post_webhook` is the one sender).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from vehicle_pipeline.ingest.health import recent_parse_failures
from vehicle_pipeline.ingest.monitoring import DEPTH_ALERT, MIN_DRAIN_PER_HOUR, assess
from vehicle_pipeline.notify import post_webhook
from vehicle_pipeline.store.queue import WorkQueue

KINDS = ("queue_depth", "drain_rate", "source_backoff", "dead_items", "parse_failures", "run_failed", "stale_asset")
_LOCK = 0x76705F616C657274  # "vp_alert": one evaluator at a time decides what to post


@dataclass(frozen=True)
class Alert:
    key: str  # "<kind>:<subject>", e.g. "queue_depth:listing_import"
    message: str

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]


@dataclass(frozen=True)
class AlertRules:
    depth_limit: int = DEPTH_ALERT
    min_drain_per_hour: int = MIN_DRAIN_PER_HOUR
    backoff_limit: timedelta = timedelta(hours=6)
    dead_window: timedelta = timedelta(hours=1)
    parse_min_failures: int = 3  # in the last hour
    parse_share_floor: float = 0.10  # the last hour's share of pages that failed to parse must exceed this ...
    parse_share_ratio: float = 2.0  # ... and this many times the share of the 23 hours before


@dataclass(frozen=True)
class Transition:
    alert: str
    state: str  # "firing" or "resolved"
    message: str
    posted: bool


def database_alerts(db, rules: AlertRules = AlertRules()) -> list[Alert]:
    """The alerts the database shows now."""
    health = assess(WorkQueue(db).stats(), depth_limit=rules.depth_limit, min_rate=rules.min_drain_per_hour)
    alerts = [Alert(key, text) for key, text in health.alert_keys.items()]
    with db.connection() as conn:
        for name, since, until in conn.execute(
                """SELECT name, backoff_since, backoff_until FROM sources
                   WHERE backoff_until > now() AND backoff_since < now() - %s ORDER BY name""",
                (rules.backoff_limit,)):
            alerts.append(Alert(f"source_backoff:{name}",
                                f"{name} in backoff since {since:%Y-%m-%d %H:%M}Z (over {_hours(rules.backoff_limit)}), "
                                f"until {until:%Y-%m-%d %H:%M}Z"))
        for queue, recent, total in conn.execute(
                """SELECT queue, count(*) FILTER (WHERE finished_at > now() - %s), count(*)
                   FROM work_items WHERE state = 'dead' GROUP BY queue
                   HAVING count(*) FILTER (WHERE finished_at > now() - %s) > 0 ORDER BY queue""",
                (rules.dead_window, rules.dead_window)):
            alerts.append(Alert(f"dead_items:{queue}", f"{queue}: {recent} item(s) went dead in the last "
                                                       f"{_hours(rules.dead_window)} ({total} dead in all)"))
        recent = recent_parse_failures(conn)
    for row in recent.itertuples(index=False):
        share = row.parse_failures_last_hour / row.pages_last_hour if row.pages_last_hour else 0.0
        before = row.parse_failures_before / row.pages_before if row.pages_before else 0.0
        if row.parse_failures_last_hour >= rules.parse_min_failures and share > rules.parse_share_floor \
                and share > rules.parse_share_ratio * before:
            alerts.append(Alert(f"parse_failures:{row.source}",
                                f"{row.source}: {row.parse_failures_last_hour} of {row.pages_last_hour} pages failed to "
                                f"parse in the last hour ({share:.0%}, against {before:.0%} before): markup drift?"))
    return alerts


def failed_run_alerts(latest_runs: Iterable[tuple[str, str, bool, datetime]]) -> list[Alert]:
    """(job, run id, succeeded, ended at) of each job's latest finished run → an alert per job whose run failed;
    it clears when the job's next run succeeds."""
    return [Alert(f"run_failed:{job}", f"the latest run of {job} failed ({run_id}, {ended:%Y-%m-%d %H:%M}Z)")
            for job, run_id, ok, ended in sorted(latest_runs) if not ok]


def stale_asset_alerts(last_materialized: Iterable[tuple[str, datetime | None, timedelta]],
                       now: datetime | None = None) -> list[Alert]:
    """(asset, last materialization, freshness window) → an alert per asset materialized before but not within
    its window (an asset never materialized has no freshness yet: Dagster shows it as unknown)."""
    now = now or datetime.now(timezone.utc)
    out = []
    for asset, last, window in sorted(last_materialized, key=lambda t: t[0]):
        if last is not None and now - last > window:
            out.append(Alert(f"stale_asset:{asset}", f"{asset} last materialized {last:%Y-%m-%d %H:%M}Z, "
                                                      f"over {_hours(window)} ago"))
    return out


def reconcile(db, alerts: Iterable[Alert], *, post: Callable[[dict], bool] = post_webhook,
              kinds: Iterable[str] = KINDS) -> list[Transition]:
    """Record which alerts (of `kinds`, the ones just evaluated) are on, and post each start and each clear
    once. Returns what changed or was posted now."""
    current = {a.key: a for a in alerts}
    kinds = set(kinds)
    out: list[Transition] = []
    with db.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        known = {r[0]: r for r in conn.execute("SELECT key, kind, active, message, posted FROM alert_states")}
        for key, alert in current.items():
            row = known.get(key)
            if row is None or not row[2]:
                conn.execute(
                    """INSERT INTO alert_states (key, kind, active, message, since) VALUES (%s, %s, true, %s, now())
                       ON CONFLICT (key) DO UPDATE SET active = true, message = excluded.message, since = now(),
                           updated_at = now()""", (key, alert.kind, alert.message))
            elif row[3] != alert.message:
                conn.execute("UPDATE alert_states SET message = %s, updated_at = now() WHERE key = %s",
                             (alert.message, key))
        for key, kind, active, message, posted in known.values():
            if active and kind in kinds and key not in current:
                conn.execute("UPDATE alert_states SET active = false, since = now(), updated_at = now() WHERE key = %s",
                             (key,))
        for key, kind, active, message, posted, since in conn.execute(
                """SELECT key, kind, active, message, posted, since FROM alert_states
                   WHERE (active AND posted IS DISTINCT FROM 'firing') OR (NOT active AND posted = 'firing')
                   ORDER BY key""").fetchall():
            state = "firing" if active else "resolved"
            delivered = post(_payload(key, kind, state, message, since))
            if delivered:
                conn.execute("UPDATE alert_states SET posted = %s, posted_at = now() WHERE key = %s", (state, key))
            out.append(Transition(key, state, message, delivered))
    return out


def active_alerts(db) -> list[tuple[str, str, datetime]]:
    """(key, message, since) of every alert on now."""
    with db.connection() as conn:
        return conn.execute("SELECT key, message, since FROM alert_states WHERE active ORDER BY key").fetchall()


def _payload(key: str, kind: str, state: str, message: str, since: datetime) -> dict:
    """A Slack-style incoming-webhook body (`text`), with the alert's fields for receivers that read them."""
    mark = "FIRING" if state == "firing" else "RESOLVED"
    return {"text": f"[vehicle_pipeline] {mark} {key}: {message}", "alert": key, "kind": kind, "state": state,
            "message": message, "since": since.astimezone(timezone.utc).isoformat()}


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"
