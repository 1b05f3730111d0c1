"""A queue worker run as a separate process by the queue tests.

usage: python queue_worker.py DB_URL QUEUE BATCH MODE [LEASE_SECONDS]
MODE "drain": claim and complete until the queue is empty; prints the ids it completed, one per line.
MODE "hold":  claim one batch, print "claimed <ids>", then sleep forever (the test kills it with SIGKILL).
"""

import signal
import sys
import time
from datetime import timedelta

from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.queue import WorkQueue


def main() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    url, queue_name, batch, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    lease = timedelta(seconds=float(sys.argv[5])) if len(sys.argv) > 5 else timedelta(minutes=15)
    db = Database(url, max_size=1)
    queue = WorkQueue(db, lease_ttl=lease)
    if mode == "hold":
        items = queue.claim(queue_name, batch)
        print("claimed " + " ".join(str(i.id) for i in items), flush=True)
        while True:
            time.sleep(1)
    empty_rounds = 0
    while empty_rounds < 3:
        items = queue.claim(queue_name, batch)
        if not items:
            empty_rounds += 1
            time.sleep(0.05)
            continue
        empty_rounds = 0
        report = queue.complete_many([(i, {"by": queue.worker_id}) for i in items])
        for item_id in report.accepted:
            print(item_id)
    sys.stdout.flush()
    db.close()


if __name__ == "__main__":
    main()
