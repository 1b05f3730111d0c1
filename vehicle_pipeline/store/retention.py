"""Retention of the logs that grow without bound: `page_parses` (one row per parsed page, sql/012),
`work_item_events` (every state change of every work item, kept by triggers, sql/010), `work_items_history`
(finished items moved out of the hot queue table after a day) and `queue_depth_snapshots` (a row per queue per
queue-sensor tick).

Rows older than the window go, in batches: one DELETE of millions of rows would hold its locks and write its
whole WAL in one transaction, so each statement deletes at most `batch` rows (by primary key for page_parses,
by ctid for the events, which have no key) and the loop runs until a batch comes back short. What is kept
whatever the window says:

- the last `KEEP_AT_LEAST` (8 days): markup drift judges the last 24 h against the 7 days before it
  (ingest/drift.py) and the health figures read 7 days of events (ingest/health.py);
- every event of a correlation id that still has an open (pending or running) work item, so `trace` on work
  that is not finished shows its story from the start.

The daily `retention` job in defs/ calls `forget_old_rows`. Plain psycopg: no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_DAYS = 90
KEEP_AT_LEAST = timedelta(days=8)
DEFAULT_BATCH = 5_000

_PARSES_SQL = """
DELETE FROM page_parses
WHERE id = ANY (ARRAY(SELECT id FROM page_parses WHERE parsed_at < %(cutoff)s LIMIT %(batch)s))"""

# Events are never updated, so a row's ctid is stable between the inner SELECT and the DELETE of one statement.
# work_items has no index on correlation_id: NOT EXISTS plans as a hash anti join (one scan of work_items per
# statement). Not NOT IN: once the open ids outgrow work_mem, that becomes a scan of work_items per event.
_EVENTS_SQL = """
DELETE FROM work_item_events
WHERE ctid = ANY (ARRAY(
    SELECT e.ctid FROM work_item_events e
    WHERE e.at < %(cutoff)s
      AND NOT EXISTS (SELECT FROM work_items w
                      WHERE w.correlation_id = e.correlation_id AND w.state IN ('pending', 'running'))
    LIMIT %(batch)s))"""

# The other two are plain logs by time: the archive of finished items and the depth readings (health reads a
# week of them).
_HISTORY_SQL = """
DELETE FROM work_items_history
WHERE id = ANY (ARRAY(SELECT id FROM work_items_history WHERE finished_at < %(cutoff)s LIMIT %(batch)s))"""
_DEPTHS_SQL = """
DELETE FROM queue_depth_snapshots
WHERE id = ANY (ARRAY(SELECT id FROM queue_depth_snapshots WHERE taken_at < %(cutoff)s LIMIT %(batch)s))"""


@dataclass
class RetentionReport:
    asked_days: int
    days: int  # the window applied: the one asked for, or KEEP_AT_LEAST when that was shorter
    cutoff: datetime  # rows from before this were deleted
    page_parses: int = 0
    work_item_events: int = 0
    work_items_history: int = 0
    queue_depth_snapshots: int = 0
    # DELETE statements run per table, each its own transaction
    statements: dict[str, int] = field(default_factory=dict)


def window_days(days: int) -> int:
    """The window in days for a configured `days`: never shorter than what drift and health read."""
    if days < 0:
        raise ValueError(f"retention of {days} days: must not be negative")
    return max(days, KEEP_AT_LEAST.days)


def forget_old_rows(db, *, days: int = DEFAULT_DAYS, batch: int = DEFAULT_BATCH) -> RetentionReport:
    """Delete rows of the four logs older than `days` (at least KEEP_AT_LEAST), `batch` rows per
    statement, each statement committed on its own (the pool's connections are autocommit)."""
    if batch < 1:
        raise ValueError(f"batch of {batch}: must be at least 1")
    kept = window_days(days)
    with db.connection() as conn:
        # one cutoff for the whole run, from the database's clock
        [cutoff] = conn.execute("SELECT now() - %s", (timedelta(days=kept),)).fetchone()
        report = RetentionReport(asked_days=days, days=kept, cutoff=cutoff)
        for table, sql in (("page_parses", _PARSES_SQL), ("work_item_events", _EVENTS_SQL),
                           ("work_items_history", _HISTORY_SQL), ("queue_depth_snapshots", _DEPTHS_SQL)):
            deleted, report.statements[table] = _in_batches(conn, sql, cutoff, batch)
            setattr(report, table, deleted)
    return report


def _in_batches(conn, sql: str, cutoff: datetime, batch: int) -> tuple[int, int]:
    """(rows deleted, statements run): DELETE until a statement deletes fewer than `batch` rows."""
    deleted = statements = 0
    while True:
        n = conn.execute(sql, {"cutoff": cutoff, "batch": batch}).rowcount
        deleted += n
        statements += 1
        if n < batch:
            return deleted, statements
