"""A drain run works on several batches at once (lanes): every item is handled exactly once and the run's
report holds every lane's counts. Real Postgres."""

import threading
import time
from datetime import timedelta

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.drain import DrainReport, drain, fail_item
from vehicle_pipeline.ingest.outcomes import OutcomeReport
from vehicle_pipeline.store.queue import NewItem
from vehicle_pipeline.store.sources import SourceRegistry


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


def test_lanes_take_turns_over_sites_so_several_sites_are_fetched_at_once(db):
    """Items are queued a site at a time; claimed in plain queue order every lane would get the same site and
    fetch it page by page. The rotation gives each batch one site (a family: dealer:a and dealer:b are one)
    and the lanes different sites at once."""
    registry = SourceRegistry(db)
    for name in ("bat", "mecum", "dealer:a", "dealer:b"):
        registry.upsert(name, "dealer" if name.startswith("dealer") else "auction")
    settings = IngestSettings(time_budget_seconds=60, batch_size=6, drain_lanes=3)
    counts = {"bat": 31, "mecum": 29, "dealer:a": 9, "dealer:b": 9}
    with Ingest(db, settings, worker_id="rotation") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", source, f"{source}-{i}", {"n": f"{source}-{i}"})
                                   for source, n in counts.items() for i in range(n)])
        batches: list[tuple[float, float, set[str], set[str]]] = []
        seen: list[str] = []
        lock = threading.Lock()

        def handle(items, lane: DrainReport) -> None:
            started = time.monotonic()
            time.sleep(0.03)
            with lock:
                seen.extend(item.payload["n"] for item in items)
                batches.append((started, time.monotonic(), {i.source.split(":")[0] for i in items},
                                {i.source for i in items}))
            lane.done += len(ingest.queue.complete_many([(item, None) for item in items]).accepted)

        report = drain(ingest, "image_fetch", handle, DrainReport())
    assert sorted(seen) == sorted(f"{s}-{i}" for s, n in counts.items() for i in range(n))
    assert report.done == sum(counts.values())
    assert all(len(families) == 1 for _, _, families, _ in batches)
    assert any(sources == {"dealer:a", "dealer:b"} for _, _, _, sources in batches)  # one family's batch
    first_three = sorted(batches, key=lambda b: b[0])[:3]
    assert len(set.union(*(families for _, _, families, _ in first_three))) == 3, "the lanes began on three sites"
    overlapping_sites = [(a[2], b[2]) for a in batches for b in batches
                         if a is not b and a[0] < b[1] and b[0] < a[1] and a[2] != b[2]]
    assert overlapping_sites, "lanes worked on different sites at the same time"


def test_a_drain_ends_when_what_is_left_is_not_due(db):
    """Items snoozed into the future leave the rotation empty: the run ends instead of claiming in a loop
    until its budget is spent."""
    settings = IngestSettings(time_budget_seconds=30, batch_size=5, drain_lanes=2)
    with Ingest(db, settings, worker_id="not-due") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", "bat", f"later-{i}") for i in range(4)])
        for item in ingest.queue.claim("image_fetch", 4):
            ingest.queue.snooze(item, timedelta(minutes=5), "later")
        ingest.queue.enqueue_many([NewItem("image_fetch", "mecum", f"now-{i}") for i in range(3)])
        handled = []

        def handle(items, lane: DrainReport) -> None:
            handled.extend(i.dedupe_key for i in items)
            ingest.queue.complete_many([(item, None) for item in items])

        started = time.monotonic()
        report = drain(ingest, "image_fetch", handle, DrainReport())
    assert sorted(handled) == ["now-0", "now-1", "now-2"]
    assert report.claimed == 3
    assert time.monotonic() - started < 5
