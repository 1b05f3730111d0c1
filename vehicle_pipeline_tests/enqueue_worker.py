"""An enqueuer run as a separate process by the queue tests.

usage: python enqueue_worker.py DB_URL SEED KEYS BATCH ROUNDS
Waits for a line on stdin (so every process starts at once), then enqueues ROUNDS batches of BATCH keys drawn
from k0 … k{KEYS-1} in a random order, each with a random priority (so re-enqueues raise priorities and lock
existing rows). Prints "ok <n>" after its last batch, or the error that reached it and exits 1.
"""

import random
import signal
import sys

from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.queue import PRIORITY_NEW, PRIORITY_REPAIR, PRIORITY_USER, NewItem, WorkQueue


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    url, seed, keys, batch, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)
    db = Database(url, max_size=1)
    queue = WorkQueue(db)
    sys.stdin.readline()
    done = 0
    try:
        for _ in range(rounds):
            chosen = rng.sample(range(keys), batch)  # a random subset, in a random order
            items = [NewItem("listing_import", "bat", f"k{k}", {"k": k},
                             priority=rng.choice((PRIORITY_REPAIR, PRIORITY_NEW, PRIORITY_USER))) for k in chosen]
            done += len(queue.enqueue_many(items))
    except Exception as exc:
        print(f"error {type(exc).__name__}: {exc}", flush=True)
        sys.exit(1)
    finally:
        db.close()
    print(f"ok {done}", flush=True)


if __name__ == "__main__":
    main()
