"""The per-host pace shared through Postgres (store.pace.HostPaceLedger, http.PaceLedger): real Postgres,
real sockets. Clients that share nothing but the database (their own lanes, event loops and connection
pools, as two processes or machines have) keep a host's pace between them, measured where the site sees it.
"""

from __future__ import annotations

import threading
import time

import pytest

from vehicle_pipeline.http import HttpConfig, Pace, PaceLedger, PoliteClient
from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.pace import HostPaceLedger
from vehicle_pipeline_tests.test_http_robots import RobotsServer

pytestmark = pytest.mark.timeout(120)

PACE = 0.3


@pytest.fixture
def server():
    srv = RobotsServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_host_is_held_by_one_fetch_and_opens_its_pace_after_the_release(db):
    one, two = HostPaceLedger(db), HostPaceLedger(db)
    assert isinstance(one, PaceLedger)
    assert one.reserve("https://a.example:443", 0.5) == 0.0  # a host never seen: free at once
    assert two.reserve("https://b.example:443", 0.5) == 0.0  # another host is not affected
    held = two.reserve("https://a.example:443", 0.5)
    assert 0 < held <= 0.5  # held elsewhere: ask again when that fetch could have finished at the earliest
    one.release("https://a.example:443", 0.5)
    wait = two.reserve("https://a.example:443", 0.5)
    assert 0.3 < wait <= 0.5  # the pace runs from the release
    time.sleep(wait)
    assert two.reserve("https://a.example:443", 0.5) == 0.0
    assert one.reserve("https://a.example:443", 0.5) > 0  # and now two holds it


def test_a_holder_that_died_frees_the_host_by_itself(db):
    crashed = HostPaceLedger(db, hold_seconds=0.4)
    assert crashed.reserve("https://a.example:443", 0.1) == 0.0  # then the process dies: no release
    survivor = HostPaceLedger(db)
    waits = []
    while (wait := survivor.reserve("https://a.example:443", 0.1)) > 0:
        waits.append(wait)
        time.sleep(wait)
    assert waits and sum(waits) <= 0.4 + 0.05 * len(waits)  # no longer than the dead holder's hold


def test_a_late_release_of_an_expired_hold_does_not_free_the_next_holder(db):
    slow, other = HostPaceLedger(db, hold_seconds=0.2), HostPaceLedger(db)
    assert slow.reserve("h", 0.0) == 0.0
    time.sleep(0.25)
    assert other.reserve("h", 0.0) == 0.0  # slow's hold ran out while its fetch went on
    slow.release("h", 0.2)  # its fetch finished: the pace after it counts, other's hold stays
    assert HostPaceLedger(db).reserve("h", 0.0) > 0.1


def test_bad_arguments_are_refused(db):
    with pytest.raises(ValueError):
        HostPaceLedger(db, hold_seconds=0)


def _fetch_all(clients: list[PoliteClient], urls: list[list[str]]) -> None:
    errors = []

    def run(c: PoliteClient, mine: list[str]) -> None:
        for url in mine:
            got = c.fetch(url)
            if not got.ok:
                errors.append(got.describe())

    threads = [threading.Thread(target=run, args=(c, u)) for c, u in zip(clients, urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def _gaps(server: RobotsServer) -> list[tuple[float, float]]:
    """(start to start, finish to start) of consecutive page requests, as the server saw them."""
    pages = sorted((r for r in server.log if r["path"].startswith("/p")), key=lambda r: r["started"])
    return [(b["started"] - a["started"], b["started"] - a["finished"]) for a, b in zip(pages, pages[1:])]


def _client(db_url: str | None, **config) -> tuple[PoliteClient, Database | None]:
    # Each client its own pool, as each process has: they share the database and nothing else.
    database = Database(db_url, max_size=2) if db_url else None
    ledger = HostPaceLedger(database) if database else None
    config.setdefault("pace", Pace(PACE, PACE))
    return PoliteClient(HttpConfig(allow_private_hosts=["127.0.0.1"], **config), ledger=ledger), database


def _run_three(db_url: str | None, server: RobotsServer, **config) -> list[tuple[float, float]]:
    made = [_client(db_url, **config) for _ in range(3)]
    try:
        urls = [[f"{server.base}/p{c}-{i}" for i in range(5)] for c in range(3)]
        _fetch_all([c for c, _ in made], urls)
    finally:
        for c, database in made:
            c.close()
            if database is not None:
                database.close()
    return _gaps(server)


def test_three_clients_keep_one_hosts_pace_between_them(db_url, server):
    gaps = _run_three(db_url, server)
    assert len(gaps) == 14
    for start_gap, after_finish in gaps:
        assert start_gap >= PACE
        assert after_finish >= PACE - 0.02  # "finished" is stamped after the last write


def test_without_the_ledger_three_clients_break_the_pace(server):
    """The setting of the test above is one where each process's own pacing is not enough."""
    gaps = _run_three(None, server)
    assert min(start for start, _ in gaps) < PACE


def test_a_crawl_delay_holds_across_clients(db_url, server):
    server.robots = (200, b"User-agent: *\nCrawl-delay: 0.3\n", {})
    gaps = _run_three(db_url, server, pace=Pace(0, 0))
    assert len(gaps) == 14
    assert all(start_gap >= 0.3 for start_gap, _ in gaps)


def test_without_its_ledger_a_paced_fetch_waits_instead_of_guessing(db_url, server):
    """The database holding the pace is gone: the fetch is not sent (another process may be at that host now);
    it comes back retry_later, saying why, so the queue snoozes the item without spending an attempt."""
    from vehicle_pipeline.http import FetchKind, Reason

    c, database = _client(db_url)
    database.close()
    try:
        got = c.fetch(f"{server.base}/p-no-ledger")
    finally:
        c.close()
    assert got.kind is FetchKind.RETRY_LATER and got.reason is Reason.HOST_BACKOFF
    assert "pace ledger unavailable" in got.detail and got.retry_at is not None
    assert server.log == []  # not even robots.txt went out


def test_unpaced_hosts_never_reach_the_ledger(db_url, server):
    c, database = _client(db_url, pace=Pace(0, 0))
    try:
        assert c.fetch(f"{server.base}/p-unpaced").ok
    finally:
        c.close()
        with database.connection() as conn:
            rows = conn.execute("SELECT count(*) FROM host_pace").fetchone()[0]
        database.close()
    assert rows == 0


def test_a_release_that_waited_for_a_ledger_thread_counts_the_gap_from_the_fetchs_finish(db):
    """The client releases the host on a ledger thread; when that thread was busy, the time the release waited
    is part of the gap already (the lane counts from the finish too), not added on top of it."""
    client = PoliteClient(HttpConfig(allow_private_hosts=["127.0.0.1"]), ledger=HostPaceLedger(db))
    other = HostPaceLedger(db)
    try:
        assert client.ledger.reserve("https://a.example:443", 0.5) == 0.0
        time.sleep(0.35)  # the fetch: it finished 0.3 s before its release reached the ledger
        client._release_shared("https://a.example:443", 0.5, time.monotonic() - 0.3)
        wait = other.reserve("https://a.example:443", 0.5)
        assert 0.1 < wait <= 0.25, wait  # 0.5 from the finish, not from the release (that would be 0.5)
    finally:
        client.close()
