"""A drain run works on several batches at once (lanes): every item is handled exactly once and the run's
report holds every lane's counts. Real Postgres."""

import threading
from collections import Counter
import time
from datetime import timedelta

import httpx

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline_tests.conftest import sample_settings
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
    page by page at that site's pace. A batch takes a share from each source with work (dealer:a and dealer:b
    are a host each), and what one source lacks the others make up."""
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
    first = batches[0] + batches[1]  # a batch of each lane, claimed at once: the two share the four dealer items
    assert set(first) == {"bat", "mecum", "dealer:a", "dealer:b"}, batches[:2]
    assert max(b.count("bat") for b in batches[:2]) <= 5, "bat, queued first, does not fill the batch"
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
    settings = sample_settings(sample_site, time_budget_seconds=60, batch_size=12, drain_lanes=1,
                               pace_seconds=(0.1, 0.1))
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

    def site(row) -> str | None:  # the source whose host was asked
        route = sample_site.sites.route(row["host"] or "")
        return route.source if route else None

    requests = sorted((r for r in log if site(r) in wanted and "robots" not in r["path"]), key=lambda r: r["started"])
    # A Cars & Bids page is rendered: the page's own requests (its scripts, the signed API call) go through
    # the same lane, paced like the page; the listing pages are its /auctions/ documents.
    pages = [r for r in requests if site(r) != "carsandbids" or r["path"].startswith("/auctions/")]
    assert len(pages) == expected
    plain = {"bat", "mecum"}
    assert {site(r) for r in pages[:6]} >= plain, [(r["host"], r["path"]) for r in pages[:6]]
    # The rendered site's first request waits for its browser to start, but not for the other sites' work.
    first_rendered = min(r["started"] for r in requests if site(r) == "carsandbids")
    assert first_rendered < max(r["started"] for r in pages if site(r) in plain)
    for source in wanted:
        starts = [r["started"] for r in requests if site(r) == source]
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


def test_a_spread_batch_takes_from_every_host_of_a_family(db):
    """Dealers and Craigslist metros are a host each: a batch of 80 over 40 such sources takes 2 from each
    (when they were one "dealer" site, a batch took its dealer items in queue order: one dealer's pages)."""
    sites = [f"dealer:d{i:02d}" for i in range(36)] + [f"craigslist:m{i}" for i in range(4)]
    registry = SourceRegistry(db)
    for name in sites:
        registry.upsert(name, "dealer" if name.startswith("dealer") else "classified")
    settings = IngestSettings(time_budget_seconds=60, batch_size=80, drain_lanes=1)
    with Ingest(db, settings, worker_id="hosts") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", s, f"{s}-{i}") for s in sites for i in range(10)])
        batch = SiteSpread(ingest.queue, "listing_import", None).claim(80)
    per_source = Counter(i.source for i in batch)
    assert len(batch) == 80 and set(per_source) == set(sites)
    assert set(per_source.values()) == {2}


def test_more_hosts_than_a_batch_take_turns(db):
    """120 sources and batches of 50: each batch takes one item from 50 sources, and the next batches serve the
    sources the earlier ones did not before any source comes round again."""
    sites = [f"dealer:d{i:03d}" for i in range(120)]
    registry = SourceRegistry(db)
    for name in sites:
        registry.upsert(name, "dealer")
    settings = IngestSettings(time_budget_seconds=60, batch_size=50, drain_lanes=1)
    with Ingest(db, settings, worker_id="turns") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", s, f"{s}-{i}") for s in sites for i in range(3)])
        spread = SiteSpread(ingest.queue, "listing_import", None)
        batches = [spread.claim(50) for _ in range(3)]
    assert [len(b) for b in batches] == [50, 50, 50]
    for b in batches:
        assert len({i.source for i in b}) == 50
    first_round = [i.source for b in batches for i in b][:120]
    assert len(set(first_round)) == 120  # every source served once before any twice


def test_shares_are_sized_by_what_an_item_costs_its_host(db):
    """A batch waits for its slowest host, so a host whose items cost twice the time gets half the share: a
    source paced twice as slow, or one whose pages took two requests each (a rendered page and its data)."""
    sites = ["bat", "mecum", "broadarrow", "carsandbids"]
    registry = SourceRegistry(db)
    for name in sites:
        registry.upsert(name, "auction")
    pace = {"bat": 0.5, "mecum": 1.0, "broadarrow": 0.5, "carsandbids": 0.5}
    with Ingest(db, IngestSettings(time_budget_seconds=60, batch_size=60), worker_id="cost") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", s, f"{s}-{i}") for s in sites for i in range(40)])
        spread = SiteSpread(ingest.queue, "listing_import", None, lambda source: pace[source])
        spread.observe({"carsandbids": [2, 2, 2], "bat": [1, 1], "broadarrow": [0]})  # 0: nothing sent, still 1
        per_source = Counter(i.source for i in spread.claim(60))
    # weights 2 : 1 : 2 : 1 (items per second of the host's time) over a batch of 60
    assert per_source == {"bat": 20, "mecum": 10, "broadarrow": 20, "carsandbids": 10}, per_source


def test_items_over_an_even_split_take_turns(db):
    """80 items over 39 equal hosts: two hosts get a third item, and not the same two in the next batches
    (always the same two would make every batch wait for them)."""
    sites = [f"dealer:d{i:02d}" for i in range(39)]
    registry = SourceRegistry(db)
    for name in sites:
        registry.upsert(name, "dealer")
    with Ingest(db, IngestSettings(time_budget_seconds=60, batch_size=80), worker_id="turns") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", s, f"{s}-{i}") for s in sites for i in range(12)])
        spread = SiteSpread(ingest.queue, "listing_import", None)
        batches = [Counter(i.source for i in spread.claim(80)) for _ in range(3)]
    thirds = []
    for batch in batches:
        assert sum(batch.values()) == 80 and len(batch) == 39
        assert sorted(batch.values()) == [2] * 37 + [3] * 2, batch
        thirds.append({s for s, n in batch.items() if n == 3})
    assert thirds[0].isdisjoint(thirds[1]) and thirds[1].isdisjoint(thirds[2]), thirds


def test_a_host_whose_items_another_claim_holds_stays_in_line(db, db_url):
    """A claim beside another on the same host skips the rows the other has locked and can come back empty
    while the host has work: the host stays in line for the next batch (dropped, it sat out until the next
    look, and a drain's last minute was four hosts fetched alone)."""
    import psycopg

    registry = SourceRegistry(db)
    for name in ("dealer:a", "dealer:b"):
        registry.upsert(name, "dealer")
    with Ingest(db, IngestSettings(time_budget_seconds=60, batch_size=4), worker_id="held") as ingest:
        ingest.queue.enqueue_many([NewItem("listing_import", s, f"{s}-{i}") for s in ("dealer:a", "dealer:b")
                                   for i in range(12)])
        spread = SiteSpread(ingest.queue, "listing_import", None)
        with psycopg.connect(db_url) as other:  # another worker's claim, mid-statement: dealer:b's rows locked
            other.execute("SELECT id FROM work_items WHERE source = 'dealer:b' FOR UPDATE").fetchall()
            first = Counter(i.source for i in spread.claim(4))
            other.rollback()
        second = Counter(i.source for i in spread.claim(4))
    assert first == {"dealer:a": 4}, first  # dealer:b held elsewhere: the others make up its share
    assert second == {"dealer:a": 2, "dealer:b": 2}, second
