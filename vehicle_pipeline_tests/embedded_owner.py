"""Run by the embedded-server tests: start the embedded Postgres for HOME, print READY, then wait to be killed."""

import signal
import sys
import time
from pathlib import Path

from vehicle_pipeline.store.db import EmbeddedServer

if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the shell may have left it ignored; db.py installs its own
    url = EmbeddedServer(Path(sys.argv[1])).start()
    print("READY " + url, flush=True)
    while True:
        time.sleep(1)
