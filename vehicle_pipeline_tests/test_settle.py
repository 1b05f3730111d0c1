"""The drains' one mapping of what became of an item to a queue action (ingest.settle), against a real queue:
every fetch outcome ends in exactly one action, counted once, a refused write included."""

import time
from datetime import datetime, timedelta, timezone

from vehicle_pipeline.http import FetchKind, FetchResult, Reason
from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.drain import DrainReport
from vehicle_pipeline.ingest.outcomes import OutcomeReport
from vehicle_pipeline.ingest.settle import Settlement
from vehicle_pipeline.store.queue import NewItem, WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry

KINDS = {  # dedupe key → what its fetch came to
    "unchanged": dict(kind=FetchKind.NOT_MODIFIED, status=304),
    "gone": dict(kind=FetchKind.GONE, status=410, reason=Reason.HTTP_STATUS),
    "blocked": dict(kind=FetchKind.BLOCKED, status=403, reason=Reason.HTTP_STATUS),
    "later": dict(kind=FetchKind.RETRY_LATER, status=429, reason=Reason.HTTP_STATUS),
    "broken": dict(kind=FetchKind.FAILED, status=500, reason=Reason.HTTP_STATUS),
    "taken": dict(kind=FetchKind.RETRY_LATER, status=429, reason=Reason.HTTP_STATUS),  # its lease is lost first
}


def _listings(db) -> dict[str, int]:
    with db.connection() as conn:
        return {key: conn.execute(
            "INSERT INTO listings (source, external_id, url) VALUES ('bat', %s, %s) RETURNING id",
            (key, f"https://bringatrailer.com/listing/{key}/")).fetchone()[0] for key in KINDS}


def _settle_every_kind(db, report):
    SourceRegistry(db).upsert("bat", "auction")
    listing_ids = _listings(db)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with Ingest(db, IngestSettings(lease_seconds=0.2), worker_id="drain") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", "bat", key, {"listing_id": listing_ids[key]})
                                   for key in KINDS])
        items = {i.dedupe_key: i for i in ingest.queue.claim("listing_import", 10)}
        ingest.queue.renew([i for k, i in items.items() if k != "taken"], timedelta(hours=1))
        time.sleep(0.3)
        [taken] = WorkQueue(db, worker_id="other").claim("listing_import", 10)  # takes the lapsed lease
        assert taken.dedupe_key == "taken"
        settle = Settlement(ingest, report)
        for key, item in items.items():
            url = f"https://bringatrailer.com/listing/{key}/"
            settle.fetched(item, listing_ids[key], FetchResult(url=url, final_url=url, retry_at=later, **KINDS[key]))
        settle.close()
    with db.connection() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            """SELECT w.dedupe_key, w.state, w.attempts, w.parked, w.available_at > now() + interval '50 minutes',
                      l.status, l.last_fetched_at IS NOT NULL
               FROM work_items w JOIN listings l ON l.id = (w.payload->>'listing_id')::bigint""")}
    return rows


def test_each_fetch_outcome_is_one_queue_action_counted_once(db):
    report = DrainReport()
    rows = _settle_every_kind(db, report)
    assert rows["unchanged"] == ("done", 1, False, False, "discovered", True)
    assert rows["gone"] == ("done", 1, False, False, "gone", True)
    assert rows["blocked"] == ("pending", 0, True, True, "discovered", False)  # parked, no attempt spent
    assert rows["later"] == ("pending", 0, False, True, "discovered", False)  # at the site's Retry-After
    assert rows["broken"][:2] == ("pending", 1)  # a retry after backoff, the attempt spent
    assert rows["taken"][:2] == ("running", 2)  # the other worker's now; our snooze was refused
    assert (report.done, report.unchanged, report.gone, report.blocked, report.snoozed, report.retried,
            report.refused, report.dead) == (2, 1, 1, 1, 2, 1, 1, 0)
    assert len(report.errors) == 1 and report.errors[0].startswith("broken: failed")


def test_the_outcome_drain_settles_the_same_way(db):
    """The import and deep-extraction drains once mapped fetch results each their own way (a refused snooze
    counted in one, dropped in the other); both settle through the one Settlement now."""
    report = OutcomeReport()
    _settle_every_kind(db, report)
    assert (report.done, report.snoozed, report.refused, report.retried) == (2, 2, 1, 1)
