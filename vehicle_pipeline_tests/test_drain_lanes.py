"""A drain run works on several batches at once (lanes): every item is handled exactly once and the run's
report holds every lane's counts. Real Postgres."""

import threading
import time
from datetime import timedelta

import httpx

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.imports import drain_imports
from vehicle_pipeline.ingest.index import walk_index
from vehicle_pipeline.ingest.drain import DrainReport, SiteSpread
from vehicle_pipeline.ingest.settle import Settlement, drain
from vehicle_pipeline.ingest.outcomes import OutcomeReport
from vehicle_pipeline.store.queue import PRIORITY_NEW, PRIORITY_REPAIR, NewItem
from vehicle_pipeline.store.sources import SourceRegistry


def test_lanes_handle_every_item_once_and_the_report_adds_up(db):
    settings = IngestSettings(time_budget_seconds=60, batch_size=7, drain_lanes=3)
    with Ingest(db, settings, worker_id="lanes") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", "bat", f"k{i}", {"n": i}) for i in range(100)])
        seen: list[int] = []
        threads: set[str] = set()
        lock = threading.Lock()

        def handle(items, settle: Settlement[DrainReport]) -> None:
            time.sleep(0.02)  # a batch takes a while, as a fetch would: the lanes overlap
            with lock:
                seen.extend(item.payload["n"] for item in items)
                threads.add(threading.current_thread().name)
            for item in items:
                if item.payload["n"] % 10 == 0:
                    settle.fail(item, "every tenth fails", permanent=True)
                else:
                    settle.done(item)

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


def test_a_batch_is_spread_over_the_sites_with_work(db):
    """Items are queued a site at a time; claimed in plain queue order a batch would be one site's, fetched
    page by page at that site's pace. A batch takes a share from each site with work (dealer:a and dealer:b
    are one site's family), and what one site lacks the others make up."""
    registry = SourceRegistry(db)
    for name in ("bat", "mecum", "dealer:a", "dealer:b"):
        registry.upsert(name, "dealer" if name.startswith("dealer") else "auction")
    settings = IngestSettings(time_budget_seconds=60, batch_size=9, drain_lanes=2)
    counts = {"bat": 31, "mecum": 10, "dealer:a": 2, "dealer:b": 2}
    with Ingest(db, settings, worker_id="spread") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", source, f"{source}-{i}", {"n": f"{source}-{i}"})
                                   for source, n in counts.items() for i in range(n)])
        batches: list[list[str]] = []
        seen: list[str] = []
        lock = threading.Lock()

        def handle(items, settle: Settlement[DrainReport]) -> None:
            time.sleep(0.02)
            with lock:
                seen.extend(item.payload["n"] for item in items)
                batches.append([i.source for i in items])
            for item in items:
                settle.done(item)

        report = drain(ingest, "image_fetch", handle, DrainReport())
    assert sorted(seen) == sorted(f"{s}-{i}" for s, n in counts.items() for i in range(n))
    assert report.done == sum(counts.values())
    assert all(len(b) <= 9 for b in batches)
    first = batches[0]
    assert {s.split(":")[0] for s in first} == {"bat", "mecum", "dealer"}, first
    assert first.count("bat") <= 5, "bat, queued first, does not fill the batch"
    assert sum(1 for b in batches if len(b) == 9) >= len(batches) - 2, "short sites leave their share to the others"


def test_a_drain_ends_when_what_is_left_is_not_due(db):
    """Items snoozed into the future leave no site in the spread: the run ends instead of claiming in a loop
    until its budget is spent."""
    settings = IngestSettings(time_budget_seconds=30, batch_size=5, drain_lanes=2)
    with Ingest(db, settings, worker_id="not-due") as ingest:
        ingest.queue.enqueue_many([NewItem("image_fetch", "bat", f"later-{i}") for i in range(4)])
        for item in ingest.queue.claim("image_fetch", 4):
            ingest.queue.snooze(item, timedelta(minutes=5), "later")
        ingest.queue.enqueue_many([NewItem("image_fetch", "mecum", f"now-{i}") for i in range(3)])
        handled = []

        def handle(items, settle: Settlement[DrainReport]) -> None:
            handled.extend(i.dedupe_key for i in items)
            for item in items:
                settle.done(item)

        started = time.monotonic()
        report = drain(ingest, "image_fetch", handle, DrainReport())
    assert sorted(handled) == ["now-0", "now-1", "now-2"]
    assert report.claimed == 3
    assert time.monotonic() - started < 5


def test_an_import_drain_fetches_several_sites_at_once_each_at_its_pace(db, sample_site, truth):
    """End to end on the sample site, with 0.1 s between requests to a site: one drain run's first requests go
    to every site with work (not to the site queued first, page after page), and no site gets two requests
    closer than its pace."""
    settings = IngestSettings.for_sample_site(sample_site.base_url, time_budget_seconds=60, batch_size=12,
                                              drain_lanes=1, pace_seconds=(0.1, 0.1))
    wanted = ("bat", "mecum", "carsandbids")
    with Ingest(db, settings, worker_id="sites-at-once") as ingest:
        ingest.ensure_sources()
        for source in wanted:
            for url in truth["index_entry_points"][source]:
                walk_index(ingest, source, url)
        httpx.post(sample_site.base_url + "/_admin/requests/clear", timeout=10)
        report = drain_imports(ingest)
    expected = sum(1 for listing in truth["listings"] if listing["source"] in wanted)
    assert report.done == expected and report.dead == 0
    log = httpx.get(sample_site.base_url + "/_admin/requests", timeout=10).json()
    pages = sorted((r for r in log if r["path"].split("/")[1] in wanted and "robots" not in r["path"]),
                   key=lambda r: r["started"])
    assert len(pages) == expected
    assert {r["path"].split("/")[1] for r in pages[:6]} == set(wanted), [r["path"] for r in pages[:6]]
    for source in wanted:
        starts = [r["started"] for r in pages if r["path"].split("/")[1] == source]
        assert all(b - a >= 0.1 for a, b in zip(starts, starts[1:])), source


def test_a_spread_batch_keeps_the_repair_share(db):
    """Six sites, each with new work queued ahead of repairs: a batch of 50 takes 8-9 from each site, and the
    repair share (a fifth of a claim, rounded up) still comes to at least a fifth of the batch."""
    sites = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist:sfbay", "dealer:a")
    registry = SourceRegistry(db)
    for name in sites:
        registry.upsert(name, "dealer" if name.startswith("dealer") else "auction")
    settings = IngestSettings(time_budget_seconds=60, batch_size=50, drain_lanes=1)
    with Ingest(db, settings, worker_id="repair-share") as ingest:
        ingest.queue.enqueue_many([NewItem("deep_extraction", s, f"{s}-new-{i}", priority=PRIORITY_NEW)
                                   for s in sites for i in range(40)])
        ingest.queue.enqueue_many([NewItem("deep_extraction", s, f"{s}-repair-{i}", priority=PRIORITY_REPAIR)
                                   for s in sites for i in range(10)])
        batch = SiteSpread(ingest.queue, "deep_extraction", None).claim(50)
    assert len(batch) == 50
    assert {i.source for i in batch} == set(sites)
    assert sum(1 for i in batch if i.priority == PRIORITY_REPAIR) >= 10
