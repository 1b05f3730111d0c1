"""The README's main command and the operational commands, run as a user runs them (subprocesses)."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

EXE = [str(Path(sys.executable).with_name("vehicle-pipeline"))]


def _run(args, env, timeout=600):
    return subprocess.run(EXE + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def user_env(db_url):
    """A fresh home; the embedded server when the suite runs without DATABASE_URL, else a fresh database."""
    home = Path(tempfile.mkdtemp(prefix="vp-cli-home-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    env["VEHICLE_PIPELINE_HOME"] = str(home)
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = db_url
    else:
        env.pop("DATABASE_URL", None)
    yield env
    if "DATABASE_URL" not in env:
        _run(["db", "stop"], env, timeout=120)


@pytest.mark.dagster
def test_demo_twice_from_a_fresh_home(user_env):
    first = _run(["demo", "--json", "--listings", "60", "--port", "0"], user_env)
    assert first.returncode == 0, first.stderr[-3000:]
    one = json.loads(first.stdout)
    assert one["failed_steps"] == 0 and all(one["checks"].values())
    assert set(one["profiles_by_source"]) == {"bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"}
    assert {"sold", "bid_to", "withdrawn", "live"} <= set(one["outcomes"])
    assert all(r["pending"] == 0 and r["dead"] == 0 and r["running"] == 0 for r in one["queue"])
    assert (Path(user_env["VEHICLE_PIPELINE_HOME"]) / "dagster" / "dagster.yaml").exists()
    second = _run(["demo", "--json", "--listings", "60", "--port", "0"], user_env)
    assert second.returncode == 0, second.stderr[-3000:]
    two = json.loads(second.stdout)
    # snapshots are content-addressed and this test's site port changes between runs, so index pages differ
    same = ("vehicles", "listings", "auction_events", "comments")
    assert {k: two["totals"][k] for k in same} == {k: one["totals"][k] for k in same}
    assert two["outcomes"] == one["outcomes"]
    assert two["profiles_by_source"] == one["profiles_by_source"]
    assert "new=0" in second.stderr and "new=1" not in second.stderr  # progress lines: nothing new to import
    stats = _run(["queue", "stats", "--json"], user_env)
    assert stats.returncode == 0 and all(r["dead"] == 0 for r in json.loads(stats.stdout))
    status = _run(["status", "--json"], user_env)
    assert status.returncode == 0 and json.loads(status.stdout)["alerts"] == []
    assert json.loads(status.stdout)["totals"]["vehicles"] == one["totals"]["vehicles"]
    assert "alerts: none" in _run(["status"], user_env).stdout
    sources = json.loads(_run(["sources", "list", "--json"], user_env).stdout)
    assert {s["name"] for s in sources} >= {"bat", "carsandbids", "mecum", "broadarrow", "classic"}
    # the demo leaves sensors and schedules as the user will find them: no state of its own in the instance
    import psycopg

    dagster_url = _run(["db", "url", "--dagster"], user_env).stdout.strip().replace("postgresql+psycopg2://",
                                                                                      "postgresql://")
    with psycopg.connect(dagster_url) as conn:
        assert conn.execute("SELECT count(*) FROM instigators").fetchone()[0] == 0


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
