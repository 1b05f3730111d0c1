"""What the queue's event log costs (run by hand, not a test).

    .venv/bin/python bench/trigger_bench.py [--batches 300] [--rounds 3]

Every state change of a work item is written to work_item_events by statement-level triggers (sql/010), so the
queue's hot statements each write their events in the same statement. This times batch enqueues (500 items),
claims of 50 and completions of 50 with the triggers enabled and disabled, alternating, on the embedded server.
Medians per statement; enqueue per item.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchdb import bench_database  # noqa: E402
from vehicle_pipeline.store.db import Database  # noqa: E402
from vehicle_pipeline.store.queue import NewItem, WorkQueue  # noqa: E402


def cycle(db, queue: WorkQueue, tag: str, batches: int) -> tuple[float, float, float]:
    items = [NewItem("listing_import", "bat", f"{tag}:{i}", {"url": "https://x/"}) for i in range(50 * batches)]
    enqueues = []
    for i in range(0, len(items), 500):
        t = time.perf_counter()
        queue.enqueue_many(items[i:i + 500])
        enqueues.append((time.perf_counter() - t) / 500)
    claims, completes = [], []
    for _ in range(batches):
        t = time.perf_counter()
        got = queue.claim("listing_import", 50)
        claims.append(time.perf_counter() - t)
        t = time.perf_counter()
        queue.complete_many([(g, None) for g in got])
        completes.append(time.perf_counter() - t)
    return statistics.median(enqueues) * 1e6, statistics.median(claims) * 1e3, statistics.median(completes) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with bench_database("trigger_bench", embedded=True) as bench:
        db = Database(bench.url, max_size=4)
        with db.connection() as conn:
            conn.execute("INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
        queue = WorkQueue(db, worker_id="run:bench")
        results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
        for rnd in range(args.rounds):
            for on in (False, True):
                with db.connection() as conn:
                    conn.execute(f"ALTER TABLE work_items {'ENABLE' if on else 'DISABLE'} TRIGGER USER")
                    conn.execute("DELETE FROM work_items")
                    conn.execute("TRUNCATE work_item_events")
                    conn.execute("VACUUM ANALYZE work_items")
                results[on].append(cycle(db, queue, f"r{rnd}{on}", args.batches))
        db.close()
    print(f"server: {bench.label}, PostgreSQL {bench.pg_version}; {args.rounds} rounds of {args.batches} batches")
    print("| triggers | enqueue µs/item | claim of 50 ms | complete of 50 ms |")
    print("|---|---:|---:|---:|")
    for on in (False, True):
        cols = list(zip(*results[on]))
        print(f"| {'on' if on else 'off'} | " + " | ".join(f"{statistics.median(c):.2f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
