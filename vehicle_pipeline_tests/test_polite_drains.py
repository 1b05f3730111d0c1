"""Two Dagster drain runs at once, each its own process on one Dagster instance, against paced hosts: they
drain one backlog together and no host sees two requests closer than its pace (measured by the sample site,
server side, per host name). Each process paces hosts by itself; the shared ledger in Postgres (store.pace)
is what keeps the pace between them. The workers use the production sites configuration at the real host
names; only the stand-in's client settings (resolve override, CA, private-address exception) differ."""

from __future__ import annotations

import pytest

from vehicle_pipeline_tests.paced_hosts import (
    DagsterHome,
    backlog_hosts,
    gaps_by_host,
    paced_site,
    queue_backlog,
    start_worker,
    worker_result,
    worker_spec,
)

pytestmark = [pytest.mark.dagster, pytest.mark.timeout(400)]

PACE = 0.25


def test_two_drain_runs_at_once_keep_every_hosts_pace(db, db_url, server_url, tmp_path):
    site = paced_site()
    home = DagsterHome(server_url, tmp_path)
    try:
        hosts = backlog_hosts(site.truth())
        expected = queue_backlog(db, site)
        spec = worker_spec(db_url, site, PACE, batch_size=8)
        workers = [start_worker(spec, home.env()) for _ in range(2)]
        results = [worker_result(w) for w in workers]
        gaps = gaps_by_host(site.requests())
        instance = home.instance()
        runs = instance.get_run_records()
        instance.dispose()
    finally:
        site.stop()
        home.drop()
    assert all(r["success"] for r in results)
    done = [r["metadata"]["vehicle_profiles"]["done"] for r in results]
    assert sum(done) == expected and min(done) > 0, done  # both runs drained, nothing twice
    assert len([r for r in runs if r.dagster_run.is_success]) == 2  # one instance saw both runs
    with db.connection() as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM work_items WHERE queue = 'listing_import' "
                                   "GROUP BY state").fetchall())
    assert states == {"done": expected}
    assert len(hosts) >= 8 and hosts <= set(gaps), (sorted(hosts), sorted(gaps))  # every site host was drained
    for host, seen in gaps.items():
        assert seen and min(seen) >= PACE, (host, sorted(seen)[:3])
