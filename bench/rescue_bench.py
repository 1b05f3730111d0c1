"""What the queue's self-healing costs (run by hand, not a test).

    .venv/bin/python bench/rescue_bench.py [--pending 250000] [--done 250000] [--running 200] [--embedded]

A claim takes back expired leases when its worker's turn to look has come (its first claim, then every
`rescue_every`, 60 s by default): one UPDATE of the running items whose lease expired, which reads the table
(no index on leases: that index would cost every claim an index entry per item, sql/005). This times that
statement on a queue of `--pending` pending and `--done` done items with `--running` running (half of them
expired), and a claim of 50 beside it, so the rescue's share of a worker's time can be read off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.benchdb import bench_database  # noqa: E402
from vehicle_pipeline.store.db import Database  # noqa: E402
from vehicle_pipeline.store.queue import _RESCUE_SQL, NewItem, WorkQueue  # noqa: E402
from vehicle_pipeline.store.sources import SourceRegistry  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pending", type=int, default=250_000)
    p.add_argument("--done", type=int, default=250_000)
    p.add_argument("--running", type=int, default=200)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--embedded", action="store_true")
    args = p.parse_args()
    with bench_database("rescue", embedded=args.embedded) as bench, Database(bench.url, max_size=2) as db:
        SourceRegistry(db).upsert("bat", "auction")
        queue = WorkQueue(db, rescue_every=timedelta(hours=1))
        total = args.pending + args.done + args.running
        for start in range(0, total, 5_000):
            queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}", {"url": f"https://example.com/{i}"})
                                for i in range(start, min(total, start + 5_000))])
        for start in range(0, args.done, 1_000):
            queue.complete_many([(i, None) for i in queue.claim("listing_import", 1_000)])
        with db.connection() as conn:
            conn.execute("VACUUM ANALYZE work_items")
        rescue_ms, claim_ms = [], []
        for _ in range(args.rounds):
            half = args.running // 2
            queue.claim("listing_import", half, lease_ttl=timedelta(milliseconds=1))
            queue.claim("listing_import", args.running - half, lease_ttl=timedelta(hours=1))
            time.sleep(0.01)
            with db.connection() as conn:
                started = time.perf_counter()
                taken = len(conn.execute(_RESCUE_SQL).fetchall())
                rescue_ms.append((time.perf_counter() - started) * 1000)
                assert taken == half, taken
                started = time.perf_counter()
            claimed = queue.claim("listing_import", 50)
            claim_ms.append((time.perf_counter() - started) * 1000)
            queue.complete_many([(i, None) for i in claimed])
            with db.connection() as conn:  # the long leases go back too, for the next round
                conn.execute("UPDATE work_items SET state = 'pending', claim_token = NULL, lease_expires_at = NULL "
                             "WHERE state = 'running'")
        print(f"server: {bench.label}, PostgreSQL {bench.pg_version}")
        print(f"queue: {args.pending:,} pending, {args.done:,} done, {args.running} running ({args.running // 2} "
              f"expired)")
        print(f"rescue statement: median {statistics.median(rescue_ms):.1f} ms, max {max(rescue_ms):.1f} ms "
              f"over {args.rounds} rounds")
        print(f"claim of 50 beside it: median {statistics.median(claim_ms):.2f} ms")
        print(f"once a minute per worker: {statistics.median(rescue_ms) / 600:.3f} % of one worker's minute")


if __name__ == "__main__":
    main()
