"""The work queue against a real Postgres: exactly-once draining, leases, fencing, retries, priorities."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.queue import (
    _CLAIM_BIG_SQL,
    _CLAIM_SOURCES_SQL,
    _CLAIM_SQL,
    PRIORITY_NEW,
    PRIORITY_REPAIR,
    PRIORITY_USER,
    EnqueueStatus,
    NewItem,
    WorkQueue,
    retry_delay,
)
from vehicle_pipeline.store.sources import SourceRegistry

WORKER = Path(__file__).with_name("queue_worker.py")
SIX_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist:sfbay", "dealer:a")


def _register_sources(db, names=SIX_SOURCES):
    registry = SourceRegistry(db)
    for name in names:
        registry.upsert(name, "dealer" if name.startswith("dealer") else "auction")
    return registry


def _fill(queue: WorkQueue, n: int, *, queue_name="listing_import", priority=PRIORITY_NEW, prefix="k"):
    items = [NewItem(queue_name, SIX_SOURCES[i % 6], f"{prefix}{i}", {"i": i}, priority) for i in range(n)]
    for start in range(0, n, 2000):
        queue.enqueue_many(items[start:start + 2000])


def _counts(db) -> dict[str, int]:
    with db.connection() as conn:
        return dict(conn.execute("SELECT state, count(*) FROM work_items GROUP BY state").fetchall())


def test_sixteen_threads_drain_ten_thousand_items_exactly_once(db_url, db):
    _register_sources(db)
    _fill(WorkQueue(db), 10_000)
    completed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        own = Database(db_url, max_size=1, name=f"worker-{n}")  # a connection of its own
        queue = WorkQueue(own, worker_id=f"w{n}")
        try:
            empty = 0
            while empty < 3:
                items = queue.claim("listing_import", 50)
                if not items:
                    empty += 1
                    time.sleep(0.02)
                    continue
                empty = 0
                report = queue.complete_many([(i, None) for i in items])
                assert not report.refused
                with lock:
                    completed.extend(report.accepted)
        except BaseException as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(completed) == 10_000
    assert len(set(completed)) == 10_000, "an item was completed twice"
    assert _counts(db) == {"done": 10_000}
    with db.connection() as conn:
        assert conn.execute("SELECT max(attempts) FROM work_items").fetchone()[0] == 1, "an item was claimed twice"


def test_separate_processes_drain_exactly_once(db_url, db):
    _register_sources(db)
    _fill(WorkQueue(db), 3000)
    procs = [subprocess.Popen([sys.executable, str(WORKER), db_url, "listing_import", "25", "drain"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True) for _ in range(4)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ids = [int(line) for out in outputs for line in out.split()]
    assert len(ids) == 3000 and len(set(ids)) == 3000
    assert sum(1 for out in outputs if out.strip()) >= 2, "work was not shared between processes"
    assert _counts(db) == {"done": 3000}


def test_sigkilled_worker_items_return_and_are_finished_by_another(db_url, db):
    _register_sources(db)
    _fill(WorkQueue(db), 30)
    holder = subprocess.Popen([sys.executable, str(WORKER), db_url, "listing_import", "20", "hold", "1.5"],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = holder.stdout.readline()
    held = {int(x) for x in line.split()[1:]}
    assert len(held) == 20
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)

    queue = WorkQueue(db, worker_id="rescuer", rescue_every=timedelta(0))
    first = queue.claim("listing_import", 100)
    assert {i.id for i in first}.isdisjoint(held), "leased items must not be handed out before expiry"
    queue.complete_many([(i, None) for i in first])
    time.sleep(1.7)
    rescued = queue.claim("listing_import", 100)  # the claim itself takes the expired leases back
    assert {i.id for i in rescued} == held
    assert all(i.attempts == 2 for i in rescued)
    queue.complete_many([(i, None) for i in rescued])
    assert _counts(db) == {"done": 30}


def test_late_worker_is_fenced_off(db):
    _register_sources(db)
    queue_a = WorkQueue(db, worker_id="A", lease_ttl=timedelta(milliseconds=200))
    queue_b = WorkQueue(db, worker_id="B")
    queue_a.enqueue(NewItem("listing_import", "bat", "only"))
    [a_item] = queue_a.claim("listing_import", 1)
    time.sleep(0.3)
    [b_item] = queue_b.claim("listing_import", 1)  # B's first claim takes A's expired lease back
    assert b_item.id == a_item.id and b_item.claim_token != a_item.claim_token
    assert queue_a.complete(a_item, {"by": "A"}) is False
    assert queue_a.fail(a_item, "late").accepted is False
    assert queue_a.snooze(a_item, timedelta(hours=1), "late") is False
    assert queue_b.complete(b_item, {"by": "B"}) is True
    with db.connection() as conn:
        state, result = conn.execute("SELECT state, result FROM work_items WHERE id = %s", (b_item.id,)).fetchone()
    assert (state, result) == ("done", {"by": "B"})


def test_lease_renewal_keeps_the_item(db):
    _register_sources(db)
    queue = WorkQueue(db, lease_ttl=timedelta(milliseconds=300))
    queue.enqueue(NewItem("listing_import", "bat", "long-job"))
    [item] = queue.claim("listing_import", 1)
    for _ in range(3):
        time.sleep(0.15)
        assert queue.renew([item]) == [item.id]
    assert queue.reap_expired() == {"pending": 0, "dead": 0}
    assert queue.complete(item)


def test_retry_backoff_schedule():
    rng = random.Random(1)
    for attempt, minutes in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 320), (8, 360), (20, 360)]:
        for _ in range(50):
            delay = retry_delay(attempt, rng).total_seconds() / 60
            assert minutes * 0.8 - 1e-9 <= delay <= minutes * 1.2 + 1e-9, (attempt, delay)


def test_failures_back_off_then_die_with_the_error_kept(db):
    _register_sources(db)
    queue = WorkQueue(db, rng=random.Random(3))
    queue.enqueue(NewItem("deep_extraction", "bat", "flaky", max_attempts=3))
    for attempt in (1, 2, 3):
        [item] = queue.claim("deep_extraction", 1)
        assert item.attempts == attempt
        before = datetime.now(timezone.utc)
        result = queue.fail(item, f"boom {attempt}")
        if attempt < 3:
            assert result.state == "pending"
            wait = (result.retry_at - before).total_seconds() / 60
            expected = 5 * 2 ** (attempt - 1)
            assert expected * 0.8 - 0.1 <= wait <= expected * 1.2 + 0.1
            assert queue.claim("deep_extraction", 1) == [], "a retry waits for its backoff"
            with db.connection() as conn:
                conn.execute("UPDATE work_items SET available_at = now() WHERE id = %s", (item.id,))
        else:
            assert result.state == "dead"
    with db.connection() as conn:
        state, error, attempts = conn.execute("SELECT state, last_error, attempts FROM work_items").fetchone()
    assert (state, error, attempts) == ("dead", "boom 3", 3)


def test_snooze_consumes_no_attempt_and_dead_items_can_be_requeued(db):
    _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue(NewItem("listing_import", "bat", "x", max_attempts=1))
    [item] = queue.claim("listing_import", 1)
    assert queue.snooze(item, timedelta(milliseconds=1), "429 Retry-After 7200")
    time.sleep(0.01)
    [again] = queue.claim("listing_import", 1)
    assert again.attempts == 1, "the snooze gave the attempt back"
    assert queue.fail(again, "parse error").state == "dead"
    assert queue.requeue_dead("listing_import") == 1
    [revived] = queue.claim("listing_import", 1)
    assert revived.id == item.id and revived.attempts == 1
    assert queue.complete(revived)


def test_requeue_drops_a_dead_item_whose_key_is_live_again(db):
    _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue(NewItem("listing_import", "bat", "k", max_attempts=1))
    [item] = queue.claim("listing_import", 1)
    queue.fail(item, "gone")
    fresh = queue.enqueue(NewItem("listing_import", "bat", "k"))
    assert fresh.status == EnqueueStatus.QUEUED and fresh.id != item.id
    assert queue.requeue_dead() == 0
    assert _counts(db) == {"pending": 1}


def test_priority_order(db):
    _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue_many([
        NewItem("deep_extraction", "bat", "repair", priority=PRIORITY_REPAIR),
        NewItem("deep_extraction", "bat", "new", priority=PRIORITY_NEW),
        NewItem("deep_extraction", "bat", "user", priority=PRIORITY_USER),
    ])
    got = [queue.claim("deep_extraction", 1, low_priority_share=0)[0].dedupe_key for _ in range(3)]
    assert got == ["user", "new", "repair"]


def test_repairs_get_their_share_under_a_stream_of_new_work(db):
    _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue_many([NewItem("deep_extraction", "bat", f"r{i}", priority=PRIORITY_REPAIR) for i in range(30)])
    repaired = 0
    for round_ in range(10):
        # New work keeps arriving faster than it drains.
        queue.enqueue_many([NewItem("deep_extraction", "bat", f"n{round_}-{i}") for i in range(60)])
        batch = queue.claim("deep_extraction", 20)
        repaired += sum(1 for i in batch if i.priority == PRIORITY_REPAIR)
        assert sum(1 for i in batch if i.priority == PRIORITY_NEW) >= 16
        queue.complete_many([(i, None) for i in batch])
    assert repaired == 30, "repairs starved"


def test_duplicate_enqueue_reports_what_happened(db):
    _register_sources(db)
    queue = WorkQueue(db)
    first = queue.enqueue(NewItem("listing_import", "bat", "url-1", priority=PRIORITY_REPAIR))
    same = queue.enqueue(NewItem("listing_import", "bat", "url-1", priority=PRIORITY_REPAIR))
    raised = queue.enqueue(NewItem("listing_import", "bat", "url-1", priority=PRIORITY_USER))
    lower = queue.enqueue(NewItem("listing_import", "bat", "url-1", priority=PRIORITY_NEW))
    assert first.status == EnqueueStatus.QUEUED
    assert same.status == EnqueueStatus.ALREADY_QUEUED and same.id == first.id
    assert raised.status == EnqueueStatus.PRIORITY_RAISED and raised.priority == PRIORITY_USER
    assert lower.status == EnqueueStatus.ALREADY_QUEUED and lower.priority == PRIORITY_USER
    # while running it is still "already queued"
    [item] = queue.claim("listing_import", 1)
    assert queue.enqueue(NewItem("listing_import", "bat", "url-1")).status == EnqueueStatus.ALREADY_QUEUED
    queue.complete(item)
    # once done, the same key may be queued again (a later re-fetch)
    assert queue.enqueue(NewItem("listing_import", "bat", "url-1")).status == EnqueueStatus.QUEUED
    batch = queue.enqueue_many([NewItem("listing_import", "bat", k) for k in ("a", "b", "a", "url-1")])
    assert [r.status for r in batch] == [EnqueueStatus.QUEUED, EnqueueStatus.QUEUED,
                                         EnqueueStatus.QUEUED, EnqueueStatus.ALREADY_QUEUED]
    assert batch[0].id == batch[2].id


def test_three_concurrent_enqueues_of_one_key(db_url, db):
    _register_sources(db)
    results = []
    barrier = threading.Barrier(3)

    def go(n):
        own = Database(db_url, max_size=1)
        try:
            barrier.wait()
            results.append(WorkQueue(own).enqueue(NewItem("listing_import", "bat", "same", {"n": n})))
        finally:
            own.close()

    threads = [threading.Thread(target=go, args=(n,)) for n in range(3)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert len(results) == 3
    assert Counter(r.status for r in results) == {EnqueueStatus.QUEUED: 1, EnqueueStatus.ALREADY_QUEUED: 2}
    assert len({r.id for r in results}) == 1
    assert _counts(db) == {"pending": 1}


def test_claims_skip_sources_in_backoff_or_disabled(db):
    registry = _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue_many([NewItem("listing_import", s, s) for s in ("bat", "mecum", "carsandbids")])
    for _ in range(3):
        registry.record_failure("bat", blocked=True, reason="HTTP 429")
    registry.set_enabled("mecum", False)
    got = queue.claim("listing_import", 10)
    assert [i.source for i in got] == ["carsandbids"]
    # parked out of the claim index's way, and new work for them starts parked too
    queue.enqueue(NewItem("listing_import", "bat", "bat-later"))
    with db.connection() as conn:
        parked = conn.execute("""SELECT source, count(*) FROM work_items WHERE state = 'pending' AND parked
                                 AND available_at > now() GROUP BY 1 ORDER BY 1""").fetchall()
    assert parked == [("bat", 2), ("mecum", 1)]
    registry.set_enabled("mecum", True)
    registry.record_success("bat")
    assert sorted(i.source for i in queue.claim("listing_import", 10)) == ["bat", "bat", "mecum"]


def test_pending_sources_are_those_a_claim_would_take_now(db):
    registry = _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue_many([NewItem("listing_import", "bat", "b1"), NewItem("listing_import", "dealer:a", "d1", priority=PRIORITY_REPAIR),
                        NewItem("listing_import", "carsandbids", "c1", priority=PRIORITY_USER),
                        NewItem("listing_import", "mecum", "m1"), NewItem("listing_import", "broadarrow", "a1"),
                        NewItem("image_fetch", "craigslist:sfbay", "other queue")])
    for _ in range(3):
        registry.record_failure("mecum", blocked=True, reason="HTTP 429")  # in backoff: not claimable now
    (ba,) = queue.claim("listing_import", 1, sources=["broadarrow"])
    queue.snooze(ba, timedelta(hours=1), "later")  # pending, but not due
    assert queue.pending_sources("listing_import") == ["carsandbids", "bat", "dealer:a"]  # most urgent first
    assert queue.pending_sources("listing_import", ["bat", "mecum", "dealer:a"]) == ["bat", "dealer:a"]
    assert queue.pending_sources("image_fetch") == ["craigslist:sfbay"]
    queue.claim("listing_import", 10)
    assert queue.pending_sources("listing_import") == []  # running is not pending


def test_stats_and_depth_snapshots(db):
    _register_sources(db)
    queue = WorkQueue(db)
    _fill(queue, 12)
    queue.enqueue(NewItem("deep_extraction", "bat", "x", max_attempts=1))
    [x] = queue.claim("deep_extraction", 1)
    queue.fail(x, "nope")
    done = queue.claim("listing_import", 2)
    queue.complete_many([(i, None) for i in done])
    rows = {(r["queue"], r["source"]): r for r in queue.record_depth_snapshot()}
    assert sum(r["pending"] for r in rows.values()) == 10
    assert rows[("deep_extraction", "bat")]["dead"] == 1
    assert sum(r["done_last_hour"] for r in rows.values()) == 2
    assert all(r["oldest_pending_secs"] >= 0 for r in rows.values() if r["pending"])
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM queue_depth_snapshots").fetchone()[0] == len(rows)


def test_finished_items_leave_the_hot_table(db):
    _register_sources(db)
    queue = WorkQueue(db)
    _fill(queue, 5)
    queue.complete_many([(i, {"ok": True}) for i in queue.claim("listing_import", 5)])
    assert queue.purge_finished(timedelta(hours=1)) == 0, "retention keeps recent items"
    assert queue.purge_finished(timedelta(0)) == 5
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM work_items").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM work_items_history").fetchone()[0] == 5
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'work_items'").fetchone()[0]
    assert any(o.startswith("autovacuum_vacuum_scale_factor") for o in options)


def _as_prepared(statement: str) -> tuple[str, list[str]]:
    """The statement with its %(name)s placeholders numbered, for PREPARE."""
    names: list[str] = []

    def number(match):
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    prepared = re.sub(r"%\((\w+)\)s", number, statement)
    return prepared, names


def test_the_claim_walks_the_partial_index(db):
    """The real claim statements, on a uniform queue (where array-valued filters once made the planner pick a
    sequential scan and a sort of the whole table), with the values known (a custom plan) and unknown (the
    generic plan a worker's connection settles on after a few claims)."""
    _register_sources(db)
    queue = WorkQueue(db)
    for start in range(0, 20_000, 2_000):
        queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(start, start + 2_000)])
    statements = [queue.claim_statement("listing_import", 50),
                  queue.claim_statement("listing_import", 50, sources=["bat", "mecum"]),
                  queue.claim_statement("listing_import", 600)]
    assert [sql for sql, _ in statements] == [_CLAIM_SQL, _CLAIM_SOURCES_SQL, _CLAIM_BIG_SQL]
    with db.connection() as conn:
        conn.execute("ANALYZE work_items")
        for statement, params in statements:
            with conn.transaction(force_rollback=True):
                custom = "\n".join(r[0] for r in conn.execute("EXPLAIN " + statement, params))
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                prepared, names = _as_prepared(statement)
                conn.execute("PREPARE claim_plan AS " + prepared)
                try:
                    generic = "\n".join(r[0] for r in psycopg.ClientCursor(conn).execute(
                        f"EXPLAIN EXECUTE claim_plan({', '.join(['%s'] * len(names))})", [params[n] for n in names]))
                finally:
                    conn.execute("DEALLOCATE claim_plan")
            for plan in (custom, generic):
                assert "work_items_claim" in plan, plan
                assert "Seq Scan on work_items" not in plan, plan


def _buffers_read(conn, statement: str, params: dict) -> int:
    """Shared buffers (hit or read) one run of `statement` touches, its effects rolled back."""
    with conn.transaction(force_rollback=True):
        (plan,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params).fetchone()
    top = plan[0]["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"]


def test_a_claim_for_a_site_reads_that_sites_items_only(db):
    """A drain claims a share from each site, and a site can be several sources (Craigslist's metros). With
    20,000 items of another site ahead of its 5,000 (a fifth of the queue: the planner expects to meet the
    site's items early in claim order), a claim for the site reads about what it reads when the queue holds
    its items alone: the walks lock from each source's next items, read from work_items_claim_source, instead
    of stepping over the other site's entries (20,000 heap visits; ~60 ms a claim at 250,000)."""
    metros = ["craigslist:sfbay", "craigslist:seattle"]
    _register_sources(db, names=("bat", *metros))
    queue = WorkQueue(db)

    def site_items(queue_name: str) -> list[NewItem]:
        return [NewItem(queue_name, metro, f"{metro}:{i}", priority=PRIORITY_REPAIR if i % 5 == 0 else PRIORITY_NEW)
                for i in range(2_500) for metro in metros]

    def buffers(queue_name: str) -> int:
        with db.connection() as conn:
            conn.execute("ANALYZE work_items")
            return _buffers_read(conn, *queue.claim_statement(queue_name, 20, sources=metros))

    queue.enqueue_many(site_items("deep_extraction"))  # the site's items alone in a queue
    for start in range(0, 20_000, 2_000):
        queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}", priority=PRIORITY_REPAIR if i % 4 == 0 else PRIORITY_NEW)
                            for i in range(start, start + 2_000)])
    queue.enqueue_many(site_items("listing_import"))  # and behind the other site's
    alone, behind = buffers("deep_extraction"), buffers("listing_import")
    assert behind < 2 * alone + 100, (alone, behind)

    with db.connection() as conn:
        order = [r[0] for r in conn.execute(
            "SELECT dedupe_key FROM work_items WHERE queue = 'listing_import' AND source = ANY(%s) "
            "ORDER BY priority DESC, available_at, id", (metros,))]
        repairs = {r[0] for r in conn.execute(
            "SELECT dedupe_key FROM work_items WHERE queue = 'listing_import' AND source = ANY(%s) AND priority < %s",
            (metros, PRIORITY_NEW))}
    claimed = [i.dedupe_key for i in queue.claim("listing_import", 20, sources=metros)]
    first_repairs = [k for k in order if k in repairs][:4]  # the repairs' share: a fifth of 20
    first_new = [k for k in order if k not in repairs][:16]
    assert sorted(claimed) == sorted(first_repairs + first_new)


def test_a_claim_beside_another_on_the_same_site_still_fills(db):
    """Two workers claiming one site at once: the second skips what the first holds and takes the next items
    (each source's candidates are twice the claim), instead of coming back empty."""
    _register_sources(db, names=("bat",))
    queue = WorkQueue(db)
    queue.enqueue_many([NewItem("listing_import", "bat", f"b{i}") for i in range(40)])
    with db.connection() as conn, conn.transaction():
        held = [r[0] for r in conn.execute(
            "SELECT id FROM work_items WHERE source = 'bat' ORDER BY priority DESC, available_at, id LIMIT 10 "
            "FOR UPDATE")]
        second = queue.claim("listing_import", 10, sources=["bat"])
    assert len(second) == 10 and not set(held) & {i.id for i in second}


def test_one_token_per_claim_still_fences_each_item(db):
    """The items of one claim share its token; an item taken over by another worker is still refused alone."""
    _register_sources(db)
    queue_a = WorkQueue(db, worker_id="A", lease_ttl=timedelta(milliseconds=200))
    queue_b = WorkQueue(db, worker_id="B")
    queue_a.enqueue_many([NewItem("listing_import", "bat", k) for k in ("x", "y")])
    kept, lost = queue_a.claim("listing_import", 2)
    assert kept.claim_token == lost.claim_token
    assert queue_a.renew([kept], lease_ttl=timedelta(hours=1)) == [kept.id]
    time.sleep(0.3)
    [taken] = queue_b.claim("listing_import", 5)
    assert taken.id == lost.id and taken.claim_token != lost.claim_token
    report = queue_a.complete_many([(kept, None), (lost, None)])
    assert (report.accepted, report.refused) == ([kept.id], [lost.id])
    assert queue_b.complete(taken)
    assert _counts(db) == {"done": 2}


def test_completing_items_of_several_claims_in_one_batch(db):
    _register_sources(db)
    queue = WorkQueue(db)
    _fill(queue, 6)
    first = queue.claim("listing_import", 3)
    second = queue.claim("listing_import", 3)
    assert first[0].claim_token != second[0].claim_token
    stale = first[0]._replace(claim_token=uuid.uuid4())
    report = queue.complete_many([(i, None) for i in [stale, *first[1:], *second]])
    assert report.refused == [stale.id]
    assert sorted(report.accepted) == sorted(i.id for i in [*first[1:], *second])
    assert queue.complete(first[0])
    assert _counts(db) == {"done": 6}


def test_a_claim_bigger_than_the_plan_caps_keeps_the_repair_share(db):
    _register_sources(db)
    queue = WorkQueue(db)
    queue.enqueue_many([NewItem("deep_extraction", "bat", f"r{i}", priority=PRIORITY_REPAIR) for i in range(300)])
    queue.enqueue_many([NewItem("deep_extraction", "bat", f"n{i}") for i in range(900)])
    batch = queue.claim("deep_extraction", 800, low_priority_share=0.25)
    assert len(batch) == 800 and len({i.id for i in batch}) == 800
    assert sum(1 for i in batch if i.priority == PRIORITY_REPAIR) == 200
    assert [i.priority for i in batch] == sorted((i.priority for i in batch), reverse=True)
    rest = queue.claim("deep_extraction", 800)
    assert len(rest) == 400 and {i.id for i in rest}.isdisjoint(i.id for i in batch)
    assert sum(1 for i in rest if i.priority == PRIORITY_REPAIR) == 100


def test_claimed_payload_round_trips(db):
    _register_sources(db)
    queue = WorkQueue(db)
    payload = {"url": "https://example.com/l/1?q=\u00e9", "listing_id": 12, "nested": {"a": [1, 2.5, None, True]},
               "quote": "say \"hi\"\n", "emoji": "\U0001F697"}
    queue.enqueue(NewItem("listing_import", "bat", "p", payload))
    [item] = queue.claim("listing_import", 1)
    assert item.payload == payload
    assert item.queue == "listing_import" and item.source == "bat" and item.dedupe_key == "p"
    assert item.attempts == 1 and item.max_attempts == 5 and item.lease_expires_at > datetime.now(timezone.utc)


ENQUEUER = Path(__file__).with_name("enqueue_worker.py")


def test_eight_processes_enqueue_overlapping_batches_without_an_error(db_url, db):
    """Eight processes enqueue batches of 1,000 keys drawn from 1,500 in random orders and priorities, all at
    once (index walks of one site beside a repair auto-queue). Batches upserted in the caller's order used to
    deadlock (the error reached the caller as a lost connection); sorted batches wait for each other."""
    _register_sources(db, names=("bat",))
    procs = [subprocess.Popen([sys.executable, str(ENQUEUER), db_url, str(seed), "1500", "1000", "4"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) for seed in range(8)]
    try:
        for p in procs:  # each connects first, then all are released together
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, outputs)] == [(0, "ok 4000")] * 8, outputs
    with db.connection() as conn:
        live = conn.execute("SELECT dedupe_key, count(*) FROM work_items WHERE state IN ('pending', 'running') "
                            "GROUP BY dedupe_key").fetchall()
        total = conn.execute("SELECT count(*) FROM work_items").fetchone()[0]
    assert len(live) == total == len({k for k, _ in live})
    assert all(n == 1 for _, n in live)
    assert len(live) == len({k for seed in range(8) for k in _keys_drawn(seed)})


def _keys_drawn(seed: int, keys: int = 1500, batch: int = 1000, rounds: int = 4) -> set[str]:
    """The keys an enqueue_worker with this seed enqueues (it draws them, and a priority per key, the same way)."""
    rng = random.Random(seed)
    drawn = set()
    for _ in range(rounds):
        drawn.update(f"k{k}" for k in rng.sample(range(keys), batch))
        for _ in range(batch):
            rng.choice((0, 1, 2))
    return drawn


def test_a_retried_completion_that_landed_reports_success(db):
    """A worker whose completion reply was lost (the connection went after the commit) sends it again: the
    done row still holds its token, so it hears "accepted"; a worker whose lease was taken over still hears
    "refused", before and after the new owner completes."""
    _register_sources(db)
    queue_a = WorkQueue(db, worker_id="A", lease_ttl=timedelta(milliseconds=200))
    queue_b = WorkQueue(db, worker_id="B")
    queue_a.enqueue_many([NewItem("listing_import", "bat", k) for k in ("mine", "lost")])
    mine, lost = sorted(queue_a.claim("listing_import", 2), key=lambda i: i.dedupe_key == "lost")
    assert queue_a.renew([mine], lease_ttl=timedelta(hours=1)) == [mine.id]
    assert queue_a.complete(mine, {"by": "A"}) is True
    assert queue_a.complete(mine, {"by": "A"}) is True, "the retry of a completion that landed"
    time.sleep(0.3)
    [taken] = queue_b.claim("listing_import", 5)
    assert taken.id == lost.id
    report = queue_a.complete_many([(mine, None), (lost, None)])
    assert (report.accepted, report.refused) == ([mine.id], [lost.id])
    assert queue_b.complete(taken) is True and queue_b.complete(taken) is True
    assert queue_a.complete(lost) is False, "another worker's completion is not ours"
    assert queue_a.fail(lost, "late").accepted is False
    with db.connection() as conn:
        results = dict(conn.execute("SELECT dedupe_key, result FROM work_items").fetchall())
    assert results == {"mine": {"by": "A"}, "lost": None}


def test_an_expired_lease_out_of_attempts_goes_dead_at_the_next_claim(db):
    """A poison item that kills its worker every time runs out of attempts even though no one fails it."""
    _register_sources(db)
    queue = WorkQueue(db, lease_ttl=timedelta(milliseconds=100), rescue_every=timedelta(0))
    queue.enqueue(NewItem("listing_import", "bat", "poison", max_attempts=2))
    for attempt in (1, 2):
        [item] = queue.claim("listing_import", 1)
        assert item.attempts == attempt
        time.sleep(0.2)  # the worker "dies": its lease runs out
    assert queue.claim("listing_import", 1) == []
    with db.connection() as conn:
        state, error = conn.execute("SELECT state, last_error FROM work_items").fetchone()
    assert state == "dead" and error.startswith("lease expired")
