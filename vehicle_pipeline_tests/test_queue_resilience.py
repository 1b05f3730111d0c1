"""A cut connection and a restarted server leave every claimed item done, pending again or retried."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from vehicle_pipeline.store.db import Database, EmbeddedServer, with_database
from vehicle_pipeline.store.migrations import migrate
from vehicle_pipeline.store.queue import NewItem, QueueError, QueueUnavailable, WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry


def _states(db) -> dict[str, int]:
    with db.connection() as conn:
        return dict(conn.execute("SELECT state, count(*) FROM work_items GROUP BY state").fetchall())


def _terminate_others(server_url: str, dbname: str) -> int:
    with psycopg.connect(server_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,)).fetchone()[0]


def test_connection_cut_mid_batch(server_url, db_url, db):
    SourceRegistry(db).upsert("bat", "auction")
    queue = WorkQueue(db, lease_ttl=timedelta(seconds=1))
    queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(20)])
    batch = queue.claim("listing_import", 20)
    queue.complete_many([(i, None) for i in batch[:5]])

    # A statement running when the backend is terminated fails with one clear error.
    errors = []

    def long_statement():
        try:
            queue._run("complete", lambda conn: conn.execute("SELECT pg_sleep(30)"))
        except QueueUnavailable as exc:
            errors.append(exc)

    t = threading.Thread(target=long_statement)
    t.start()
    time.sleep(0.5)
    dbname = urlsplit(db_url).path.lstrip("/")
    assert _terminate_others(server_url, dbname) >= 1
    t.join(20)
    assert errors and errors[0].failure.startswith("lost connection"), errors
    assert "queue complete: lost connection" in str(errors[0])

    # The pool hands out a fresh connection: the worker carries on with the rest of its batch.
    report = queue.complete_many([(i, None) for i in batch[5:12]])
    assert len(report.accepted) == 7
    # The items it never finishes come back after their lease and are done by someone else.
    time.sleep(1.1)
    rescuer = WorkQueue(db)  # its first claim takes the expired leases back
    rescued = rescuer.claim("listing_import", 20)
    assert len(rescued) == 8
    rescuer.complete_many([(i, None) for i in rescued])
    assert _states(db) == {"done": 20}


@pytest.mark.embedded
def test_server_restart_mid_batch():
    home = Path(tempfile.mkdtemp(prefix="vp-restart-", dir="/tmp"))
    server = EmbeddedServer(home)
    url = with_database(server.start(), "vehicle_pipeline")
    try:
        migrate(url)
        with Database(url, timeout=3) as db:
            SourceRegistry(db).upsert("bat", "auction")
            queue = WorkQueue(db, lease_ttl=timedelta(seconds=2))
            queue.enqueue_many([NewItem("listing_import", "bat", f"k{i}") for i in range(10)])
            batch = queue.claim("listing_import", 10)
            queue.complete_many([(i, None) for i in batch[:3]])
            server.stop()
            with pytest.raises(QueueUnavailable):
                queue.complete_many([(i, None) for i in batch[3:6]])
            server.start()
            # The pool reconnects in the background with its own backoff; a worker retries its write.
            deadline = time.monotonic() + 60
            while True:
                try:
                    report = queue.complete_many([(i, None) for i in batch[3:6]])
                    break
                except QueueUnavailable:
                    assert time.monotonic() < deadline, "the pool never reconnected to the restarted server"
                    time.sleep(0.5)
            assert len(report.accepted) == 3
            queue.fail_many([(i, "parse error") for i in batch[6:8]])
            time.sleep(2.1)
            # The two never finished come back to the next claim (the two failed wait out their retry delay).
            assert len(WorkQueue(db, worker_id="rescuer").claim("listing_import", 10)) == 2
            states = _states(db)
            assert states == {"done": 6, "pending": 2, "running": 2}, states
            with db.connection() as conn:
                stuck = conn.execute("SELECT count(*) FROM work_items WHERE state = 'running' "
                                     "AND claimed_by = %s", (queue.worker_id,)).fetchone()[0]
            assert stuck == 0
    finally:
        server.stop()


def _raise_sqlstate(code: str):
    """A statement that fails in the server with this SQLSTATE (the error a real deadlock etc. carries)."""
    return lambda conn: conn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = '{code}'; END $$")


def test_a_queue_error_names_what_happened(db_url, db):
    """Not every OperationalError is a lost connection: the error says deadlock, timeout, cancel or pool
    timeout, and only an unreachable database is QueueUnavailable."""
    queue = WorkQueue(db)
    for code, failure in [("40P01", "deadlock"), ("40001", "serialization failure"), ("55P03", "lock timeout")]:
        with pytest.raises(QueueError) as caught:
            queue._run("enqueue", _raise_sqlstate(code))
        assert caught.value.failure == failure and not isinstance(caught.value, QueueUnavailable)
        assert str(caught.value).startswith(f"queue enqueue: {failure} (")

    def slow(conn):
        conn.execute("SET statement_timeout = '100ms'")
        try:
            conn.execute("SELECT pg_sleep(5)")
        finally:
            conn.execute("RESET statement_timeout")

    with pytest.raises(QueueError, match=r"queue stats: statement canceled \(statement timeout") as caught:
        queue._run("stats", slow)
    assert not isinstance(caught.value, QueueUnavailable)

    with Database(db_url, max_size=1, timeout=0.5) as small:
        tight = WorkQueue(small)
        with small.connection():  # the only connection is taken
            with pytest.raises(QueueUnavailable, match="queue stats: pool timeout") as caught:
                tight.stats()
        assert caught.value.failure == "pool timeout"


def test_an_enqueue_deadlock_is_retried_inside_the_call(db):
    """A deadlock (here the real error, raised by the server on the first try) is run again, not reported."""
    queue = WorkQueue(db)
    tries = []

    def first_deadlocks(conn):
        tries.append(1)
        if len(tries) == 1:
            _raise_sqlstate("40P01")(conn)
        return conn.execute("SELECT 42").fetchone()[0]

    assert queue._retrying("enqueue", first_deadlocks) == 42 and len(tries) == 2
    with pytest.raises(QueueError, match="lock timeout"):  # not a deadlock: reported at once
        queue._retrying("enqueue", _raise_sqlstate("55P03"))
