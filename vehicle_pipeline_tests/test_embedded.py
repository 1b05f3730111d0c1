"""The embedded default: start, migrate, serve a claim, stop; and recovery after its owner is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from vehicle_pipeline.store.db import Database, EmbeddedServer, default_home, resolve_urls, with_database
from vehicle_pipeline.store.migrations import migrate
from vehicle_pipeline.store.queue import NewItem, WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry

pytestmark = pytest.mark.embedded
OWNER = Path(__file__).with_name("embedded_owner.py")


@pytest.fixture
def home():
    path = Path(tempfile.mkdtemp(prefix="vp-embedded-", dir="/tmp"))
    yield path
    EmbeddedServer(path).stop()


def _handles(home: Path) -> list[int]:
    return json.loads((home / "pgdata" / ".handle_pids.json").read_text() or "[]")


def _start_owner(home: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(OWNER), str(home)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("READY "), line
    return proc, line.split(" ", 1)[1]


def test_default_home_is_not_a_private_folder():
    home = default_home()
    if os.geteuid() == 0:
        assert home == Path("/var/lib/vehicle-pipeline")
    assert not str(home).startswith("/root")


def test_start_migrate_claim_stop(home, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("VEHICLE_PIPELINE_HOME", str(home))
    urls = resolve_urls()
    assert urls.embedded and urls.dagster.startswith("postgresql+psycopg2://") and "/dagster" in urls.dagster
    assert migrate(urls.domain)
    with Database(urls.domain) as db:
        SourceRegistry(db).upsert("bat", "auction")
        queue = WorkQueue(db)
        queue.enqueue(NewItem("listing_import", "bat", "k"))
        [item] = queue.claim("listing_import", 5)
        assert queue.complete(item)
    import sqlalchemy

    engine = sqlalchemy.create_engine(urls.dagster)
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select current_database()")).scalar() == "dagster"
    engine.dispose()
    server = EmbeddedServer(home)
    assert server.is_running()
    assert server.stop() is True
    assert not server.is_running()
    assert server.stop() is False


def test_owner_sigterm_releases_its_handle(home):
    proc, url = _start_owner(home)
    assert proc.pid in _handles(home)
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert proc.pid not in _handles(home), "SIGTERM must release the handle"
    server = EmbeddedServer(home)
    assert server.is_running(), "the server outlives its starter for other processes"
    with psycopg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert server.stop() and not server.is_running()


def test_owner_sigkill_leaves_a_dead_pid_that_the_next_start_drops(home):
    proc, url = _start_owner(home)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(15)
    assert proc.pid in _handles(home), "SIGKILL cannot clean up: the dead PID stays behind"
    server = EmbeddedServer(home)
    again = server.start()
    assert proc.pid not in _handles(home)
    with psycopg.connect(with_database(again, "vehicle_pipeline")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert server.stop() and not server.is_running()


def test_next_start_recovers_after_the_server_itself_was_killed(home):
    server = EmbeddedServer(home)
    server.start()
    pid = int((home / "pgdata" / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while server.is_running() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # children notice the postmaster's death
    url = server.start()
    with psycopg.connect(with_database(url, "vehicle_pipeline")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
