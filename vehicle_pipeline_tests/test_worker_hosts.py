"""Workers on two machines: two network namespaces made here (each a "worker host" with its own address on a
veth pair) run Dagster drain runs against one Postgres and the sample site, both reached over the root side
of the veth pairs: the stand-in serves every site at its real host names on that address (a port each; the
namespaces cannot reach the root's loopback addresses) and the workers' resolve override names it, their
configuration otherwise the production one. One backlog, paced hosts; every process of one host is
SIGKILLed mid-run. The other host's next run takes the killed host's items back once their leases expire
(its own claims do) and finishes them, no item is done twice, and no host saw two requests closer than its
pace (the sample site's own log, per host name). Skipped where network namespaces cannot be made.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid

import dagster as dg
import pytest
from psycopg.conninfo import conninfo_to_dict

from vehicle_pipeline_tests.paced_hosts import (
    DagsterHome,
    PostgresRelay,
    backlog_hosts,
    gaps_by_host,
    paced_site,
    queue_backlog,
    start_worker,
    worker_result,
    worker_spec,
)

pytestmark = [pytest.mark.dagster, pytest.mark.timeout(600)]

PACE = 0.25
LEASE = 15.0
HOST_TAG = "vehicle_pipeline_tests/worker_host"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def _free_subnet() -> int:
    used = _ip("-o", "-4", "addr", "show").stdout
    for n in [100 + (os.getpid() + i) % 150 for i in range(150)]:
        if f" 10.{n}." not in used:
            return n
    raise RuntimeError("no free 10.N.0.0/16 subnet for the worker hosts")


@pytest.fixture
def worker_hosts():
    """Two namespaces: [(name, the root side's address, the namespace's address)]. The root side's address of
    the first pair is where the site and Postgres listen; the second namespace reaches it through its default
    route, as a machine on another subnet would."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2 (`ip netns add`)")
    tag = uuid.uuid4().hex[:6]
    probe = _ip("netns", "add", f"vp{tag}p", check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr.strip()}")
    _ip("netns", "del", f"vp{tag}p", check=False)
    net = _free_subnet()
    hosts = []
    try:
        for i in (1, 2):
            ns, outside, inside = f"vp{tag}h{i}", f"vp{tag}a{i}", f"vp{tag}b{i}"
            root_addr, ns_addr = f"10.{net}.{i}.1", f"10.{net}.{i}.2"
            _ip("netns", "add", ns)
            hosts.append((ns, root_addr, ns_addr))
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", ns)
            _ip("addr", "add", f"{root_addr}/24", "dev", outside)
            _ip("link", "set", outside, "up")
            for cmd in (("addr", "add", f"{ns_addr}/24", "dev", inside), ("link", "set", inside, "up"),
                        ("link", "set", "lo", "up"), ("route", "add", "default", "via", root_addr)):
                _ip("netns", "exec", ns, "ip", *cmd)
        yield hosts
    finally:
        for ns, _, _ in hosts:
            _kill_host(ns)
            _ip("netns", "del", ns, check=False)  # takes its end of the veth pair, and so the pair, with it


def _kill_host(ns: str) -> list[int]:
    """SIGKILL every process in the namespace: a machine that died."""
    pids = [int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def _run_of(instance, host: str) -> str | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={HOST_TAG: host}))
    return runs[0].run_id if runs else None


def _worker_done(db, run_id: str) -> int:
    with db.connection() as conn:
        return conn.execute("SELECT count(*) FROM work_items WHERE queue = 'listing_import' AND state = 'done' "
                            "AND claimed_by = %s", (f"run:{run_id}",)).fetchone()[0]


def test_two_worker_hosts_drain_one_backlog_and_survive_one_host_dying(db, db_url, server_url, tmp_path,
                                                                        worker_hosts):
    (ns_a, listen, _), (ns_b, _, _) = worker_hosts
    site = paced_site(host=listen, listings=120, site_address=listen)
    relay = PostgresRelay(server_url, listen)
    home = DagsterHome(server_url, tmp_path, reach_url=relay.url("postgres"))
    dbname = conninfo_to_dict(db_url)["dbname"]
    instance = home.instance()
    try:
        hosts = backlog_hosts(site.truth())
        expected = queue_backlog(db, site)
        spec = worker_spec(relay.url(dbname), site, PACE, batch_size=6, lease_seconds=LEASE)
        a = start_worker({**spec, "tags": {HOST_TAG: "a"}}, home.env(), ("ip", "netns", "exec", ns_a))
        b = start_worker({**spec, "tags": {HOST_TAG: "b"}}, home.env(), ("ip", "netns", "exec", ns_b))

        # Kill host a while it holds leases, once both hosts are at work.
        deadline = time.monotonic() + 180
        run_a = None
        while True:
            assert time.monotonic() < deadline, "the two worker hosts never both got to work"
            if a.poll() is not None or b.poll() is not None:
                ended = a if a.poll() is not None else b
                raise AssertionError(f"a worker ended before host a was killed: {ended.communicate()[1][-5000:]}")
            run_a = run_a or _run_of(instance, "a")
            run_b = _run_of(instance, "b")
            if run_a and run_b:
                with db.connection() as conn:
                    holding = dict(conn.execute(
                        "SELECT claimed_by, count(*) FILTER (WHERE state = 'running') FROM work_items "
                        "WHERE queue = 'listing_import' GROUP BY claimed_by").fetchall())
                if holding.get(f"run:{run_a}") and _worker_done(db, run_a) >= 6 and _worker_done(db, run_b) >= 6:
                    break
            time.sleep(0.1)
        assert _kill_host(ns_a)
        a.wait(10)
        with db.connection() as conn:  # a's leases last LEASE seconds: nobody can have taken these back yet
            stranded = [r[0] for r in conn.execute(
                "SELECT id FROM work_items WHERE state = 'running' AND claimed_by = %s", (f"run:{run_a}",))]
        assert stranded, "host a died holding items"

        first_b = worker_result(b)  # b drains everything it can claim (a's items too once their leases ran out)
        # Whatever of host a's items b's first run ended before taking back, b's next run takes back (its own
        # claims do: no reaper) once the leases have run out, and finishes.
        time.sleep(LEASE + 1)
        second_b = worker_result(start_worker({**spec, "tags": {HOST_TAG: "b"}}, home.env(),
                                              ("ip", "netns", "exec", ns_b)))
        gaps = gaps_by_host(site.requests())
        done_by_a = _worker_done(db, run_a)
    finally:
        instance.dispose()
        site.stop()
        relay.close()
        home.drop()

    assert first_b["success"] and second_b["success"]
    b_reports = [r["metadata"]["vehicle_profiles"] for r in (first_b, second_b)]
    # No item ran out of attempts. A refusal is allowed: on a loaded machine a batch of b's can outlast its own
    # lease, and the fencing then refuses b's late completion while b's next claim finishes the item, once.
    assert all(r["dead"] == 0 for r in b_reports), b_reports
    # Each item done once: the completions of every worker add up to the backlog, and all of it is done.
    assert done_by_a + sum(r["done"] for r in b_reports) == expected
    with db.connection() as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM work_items WHERE queue = 'listing_import' "
                                   "GROUP BY state").fetchall())
        profiles = conn.execute("SELECT count(*) FROM listings WHERE vehicle_id IS NOT NULL").fetchone()[0]
        finishers = dict(conn.execute("SELECT claimed_by, count(*) FROM work_items WHERE id = ANY(%s) "
                                      "GROUP BY claimed_by", (stranded,)).fetchall())
    assert states == {"done": expected}
    # Host a's stranded items were all finished by host b's runs.
    assert set(finishers) <= {f"run:{first_b['run_id']}", f"run:{second_b['run_id']}"}, finishers
    assert sum(finishers.values()) == len(stranded)
    assert profiles == expected
    assert len(hosts) >= 8 and hosts <= set(gaps), (sorted(hosts), sorted(gaps))  # every site host was drained
    for host, seen in gaps.items():
        assert seen and min(seen) >= PACE, (host, sorted(seen)[:3])
