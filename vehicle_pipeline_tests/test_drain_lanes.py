"""A drain run works on several batches at once (lanes): every item is handled exactly once and the run's
report holds every lane's counts. Real Postgres."""

import threading
import time

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.drain import DrainReport, drain, fail_item
from vehicle_pipeline.ingest.outcomes import OutcomeReport
from vehicle_pipeline.store.queue import NewItem


def test_lanes_handle_every_item_once_and_the_report_adds_up(db):
    settings = IngestSettings(time_budget_seconds=60, batch_size=7, drain_lanes=3)
    with Ingest(db, settings, worker_id="lanes") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", "bat", f"k{i}", {"n": i}) for i in range(100)])
        seen: list[int] = []
        threads: set[str] = set()
        lock = threading.Lock()

        def handle(items, lane: DrainReport) -> None:
            time.sleep(0.02)  # a batch takes a while, as a fetch would: the lanes overlap
            with lock:
                seen.extend(item.payload["n"] for item in items)
                threads.add(threading.current_thread().name)
            for item in items:
                if item.payload["n"] % 10 == 0:
                    fail_item(ingest, item, "every tenth fails", lane, permanent=True)
            done = ingest.queue.complete_many([(item, None) for item in items if item.payload["n"] % 10])
            lane.done += len(done.accepted)

        report = drain(ingest, "image_fetch", handle, DrainReport())
    assert sorted(seen) == list(range(100))
    assert len(threads) > 1, "the batches were worked on by more than one lane"
    assert (report.claimed, report.done, report.dead) == (100, 90, 10)
    assert report.batches >= 100 // 7
    assert len(report.errors) == 10 and all(e.endswith("every tenth fails") for e in report.errors)


def test_a_report_adds_another_of_its_kind_keeping_the_error_cap():
    one, two = OutcomeReport(done=2, reparsed=1, errors=["a"] * 15), OutcomeReport(done=3, events_new=4, errors=["b"] * 15)
    one.add(two)
    assert (one.done, one.reparsed, one.events_new) == (5, 1, 4)
    assert one.errors == ["a"] * 15 + ["b"] * 5
