"""The README's main command and the operational commands, run as a user runs them (subprocesses)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from vehicle_pipeline_tests.conftest import CLI as EXE
from vehicle_pipeline_tests.conftest import run_cli as _run


@pytest.mark.dagster
def test_demo_twice_from_a_fresh_home(user_env):
    first = _run(["demo", "--json", "--listings", "60", "--port", "0"], user_env)
    assert first.returncode == 0, first.stderr[-3000:]
    one = json.loads(first.stdout)
    assert one["failed_steps"] == 0 and all(one["checks"].values())
    assert set(one["profiles_by_source"]) == {"bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"}
    assert {"sold", "bid_to", "withdrawn", "live"} <= set(one["outcomes"])
    assert all(r["pending"] == 0 and r["dead"] == 0 and r["running"] == 0 for r in one["queue"])
    assert (Path(user_env["VEHICLE_PIPELINE_HOME"]) / "demo" / "dagster.yaml").exists()  # the demo's own instance
    second = _run(["demo", "--json", "--listings", "60", "--port", "0"], user_env)
    assert second.returncode == 0, second.stderr[-3000:]
    two = json.loads(second.stdout)
    # snapshots are content-addressed and this test's site port changes between runs, so index pages differ
    same = ("vehicles", "listings", "auction_events", "comments")
    assert {k: two["totals"][k] for k in same} == {k: one["totals"][k] for k in same}
    assert two["outcomes"] == one["outcomes"]
    assert two["profiles_by_source"] == one["profiles_by_source"]
    assert "new=0" in second.stderr and "new=1" not in second.stderr  # progress lines: nothing new to import
    stats = _run(["--demo", "queue", "stats", "--json"], user_env)
    assert stats.returncode == 0 and all(r["dead"] == 0 for r in json.loads(stats.stdout))
    status = _run(["--demo", "status", "--json"], user_env)
    assert status.returncode == 0 and json.loads(status.stdout)["alerts"] == []
    assert json.loads(status.stdout)["totals"]["vehicles"] == one["totals"]["vehicles"]
    assert "alerts: none" in _run(["--demo", "status"], user_env).stdout
    sources = json.loads(_run(["--demo", "sources", "list", "--json"], user_env).stdout)
    assert {s["name"] for s in sources} >= {"bat", "carsandbids", "mecum", "broadarrow", "classic"}
    # the demo leaves sensors and schedules as the user will find them: no state of its own in the instance
    import psycopg

    dagster_url = _run(["--demo", "db", "url", "--dagster"], user_env).stdout.strip().replace("postgresql+psycopg2://",
                                                                                      "postgresql://")
    with psycopg.connect(dagster_url) as conn:
        assert conn.execute("SELECT count(*) FROM instigators").fetchone()[0] == 0
    # Nothing the stand-in served is in the real instance.
    real = json.loads(_run(["status", "--json"], user_env).stdout)
    assert real["totals"] == {k: 0 for k in real["totals"]} and real["sources"] == []


@pytest.mark.dagster
def test_demo_on_a_sample_site_started_by_hand(user_env):
    """`sample-site` prints its config; `demo --sample-site CONFIG` works it at the real host names, and every
    visible listing of its truth becomes a profile."""
    import signal

    import httpx

    site = subprocess.Popen(EXE + ["sample-site", "--port", "0", "--listings", "40", "--seed", "5"], env=user_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        control = site.stdout.readline().strip()
        assert control.startswith("http://127.0.0.1:"), site.stderr.read() if site.poll() is not None else control
        assert site.stdout.readline().startswith("ca ")
        config = site.stdout.readline().split()[1]
        truth = httpx.get(control + "/_truth", timeout=60).json()
        demo = _run(["demo", "--json", "--sample-site", config], user_env)
        assert demo.returncode == 0, demo.stderr[-3000:]
        report = json.loads(demo.stdout)
        assert report["failed_steps"] == 0
        assert sum(report["profiles_by_source"].values()) == len(truth["listings"])
        assert f"sample site: {control}" in demo.stderr
        bad = _run(["demo", "--json", "--sample-site", "/nonexistent/client.json"], user_env)
        assert bad.returncode == 2 and "--sample-site /nonexistent/client.json" in bad.stderr
    finally:
        site.send_signal(signal.SIGTERM)
        try:
            site.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(site.pid, signal.SIGKILL)
            site.wait(5)


def test_operational_commands_and_one_line_errors(user_env):
    assert _run(["migrate"], user_env).returncode == 0
    again = _run(["migrate"], user_env)
    assert again.returncode == 0 and "up to date" in again.stdout
    url = _run(["db", "url", "--dagster"], user_env)
    assert url.returncode == 0 and url.stdout.startswith("postgresql+psycopg2://")
    bad = _run(["sources", "enable", "no-such-source"], user_env)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    requeue = _run(["queue", "requeue", "--dead", "--queue", "bogus"], user_env)
    assert requeue.returncode == 1 and "unknown queue" in requeue.stderr and "Traceback" not in requeue.stderr
    assert "requeued 0" in _run(["queue", "requeue", "--dead"], user_env).stdout
    table = _run(["queue", "stats"], user_env)
    assert table.returncode == 0 and table.stdout.strip() == "(none)"
    if "DATABASE_URL" in user_env:
        stop = _run(["db", "stop"], user_env)
        assert stop.returncode == 1 and "not ours to stop" in stop.stderr
    broken = dict(user_env, DATABASE_URL="postgresql://nobody:wrong@127.0.0.1:1/none")
    failed = _run(["queue", "stats"], broken, timeout=120)
    assert failed.returncode == 1 and failed.stderr.startswith("error:") and "Traceback" not in failed.stderr


@pytest.mark.dagster
def test_dev_serves_the_ui_on_loopback_and_stops_with_its_children(user_env):
    import signal
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(EXE + ["dev", "--port", str(port), "--site-port", "0"], env=user_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2)
                if info.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert info is not None and info.status_code == 200, "the UI never came up"
        query = {"query": "{ assetNodes { assetKey { path } } }"}
        nodes = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query, timeout=60).json()["data"]["assetNodes"]
        assert {"/".join(n["assetKey"]["path"]) for n in nodes} >= {"bat_listings", "vehicle_profiles",
                                                                    "auction_outcomes", "bat_repairs"}
        # automation runs as soon as the daemon runs the code location: no switch to find in the UI
        query = {"query": "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {"
                          " ... on RepositoryLocation { repositories { sensors { name sensorState { status } }"
                          " schedules { name scheduleState { status } } } } } } } } }"}
        entries = httpx.post(f"http://127.0.0.1:{port}/graphql", json=query, timeout=60).json()
        repos = [r for e in entries["data"]["workspaceOrError"]["locationEntries"]
                 for r in e["locationOrLoadError"]["repositories"]]
        statuses = {s["name"]: s["sensorState"]["status"] for r in repos for s in r["sensors"]}
        statuses |= {s["name"]: s["scheduleState"]["status"] for r in repos for s in r["schedules"]}
        assert {"queue_depth_sensor", "dealer_discovery_sensor", "repair_auto_queue_sensor",
                "overnight_drain"} <= set(statuses)
        assert set(statuses.values()) == {"RUNNING"}, statuses
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        time.sleep(2)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of the group may outlive the test
        except ProcessLookupError:
            pass


def test_run_refuses_the_sample_sites_settings(user_env):
    """`run` works the real sites: with the stand-in's settings in the environment (its CA among them) it
    stops before anything starts, naming the variables. (A resolve override or private-host exceptions alone
    are configuration `run` accepts; test_replay_pipeline holds them to what they name.)"""
    env = user_env | {"VEHICLE_PIPELINE_RESOLVE": '{"bringatrailer.com": "127.0.0.10:1"}',
                      "VEHICLE_PIPELINE_EXTRA_CA": "/tmp/none.pem"}
    result = _run(["run"], env, timeout=120)
    assert result.returncode != 0
    assert "VEHICLE_PIPELINE_RESOLVE, VEHICLE_PIPELINE_EXTRA_CA" in result.stderr and "unset" in result.stderr
