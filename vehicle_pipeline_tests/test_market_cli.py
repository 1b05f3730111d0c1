"""`vehicle-pipeline comps` and `vehicle-pipeline watch`, run as a user runs them (subprocesses) against a
seeded database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vehicle_pipeline_tests.market_seed import add_sources, seed_listing

EXE = [str(Path(sys.executable).with_name("vehicle-pipeline"))]


def run(env, *args):
    return subprocess.run(EXE + list(args), env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(db_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    return env | {"DATABASE_URL": db_url, "VEHICLE_PIPELINE_HOME": str(tmp_path)}


def _seed(db):
    dec = datetime(2025, 12, 10, tzinfo=timezone.utc)
    jan = datetime(2026, 1, 20, tzinfo=timezone.utc)
    with db.connection() as conn:
        add_sources(conn)
        seed_listing(conn, "bat", year=2009, model="911", trim="Carrera 4S Coupe", sale_price=100_000,
                     high_bid=100_000, ended_at=dec, mileage=15_000)
        seed_listing(conn, "carsandbids", year=2008, model="997 911", trim="Carrera S", sale_price=120_000,
                     high_bid=120_000, ended_at=jan)
        seed_listing(conn, "bat", year=2007, model="911", trim="Carrera", outcome="sold_after", sale_price=90_000,
                     high_bid=85_000, ended_at=jan)
        seed_listing(conn, "bat", year=2009, model="911", outcome="bid_to", high_bid=150_000, ended_at=jan)  # no sale
        seed_listing(conn, "broadarrow", year=2008, model="911", sale_price=80_000, high_bid=80_000, currency="EUR",
                     ended_at=jan)
        seed_listing(conn, "bat", year=1987, model="911", trim="Carrera", sale_price=70_000, high_bid=70_000,
                     ended_at=jan)
        seed_listing(conn, "bat", year=2008, make="BMW", model="M3", sale_price=40_000, high_bid=40_000, ended_at=jan)


def test_comps_lists_sales_and_their_statistics(db, env):
    _seed(db)
    out = run(env, "comps", "porsche 911", "--years", "2005-2009", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["query"] == {"make": "Porsche", "family": "911", "words": []}
    assert sorted(s["sale_price"] for s in data["sales"]) == [80_000, 90_000, 100_000, 120_000]
    assert data["stats"]["USD"] == {"count": 3, "p25": 95_000, "median": 100_000, "p75": 110_000,
                                    "min": 90_000, "max": 120_000}
    assert data["stats"]["EUR"]["count"] == 1  # never pooled with dollars
    # trim words narrow it; --since and --source filter
    assert [s["sale_price"] for s in json.loads(run(env, "comps", "911 carrera 4s", "--json").stdout)["sales"]] \
        == [100_000]
    assert sorted(s["sale_price"] for s in json.loads(
        run(env, "comps", "911", "--since", "2026-01-01", "--source", "bat", "--json").stdout)["sales"]) \
        == [70_000, 90_000]
    table = run(env, "comps", "porsche 911", "--years", "2005-2009")
    assert table.returncode == 0, table.stderr
    assert "sales of Porsche 911: 4" in table.stdout
    assert "https://example.test/bat/" in table.stdout and "15,000 mi" in table.stdout
    assert "100,000" in table.stdout  # the USD median


def test_comps_refuses_bad_input_with_one_line(db, env):
    for args, message in ((["comps", "911", "--years", "2009-2005"], "2009 is after 2005"),
                          (["comps", "911", "--since", "last week"], "--since"),
                          (["comps", " "], "needs a query")):
        out = run(env, *args)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_watch_add_list_remove(db, env):
    with db.connection() as conn:
        add_sources(conn)
    add = run(env, "watch", "add", "early 911s", "--make", "Porsche", "--model", "911", "--years", "1965-1973",
              "--max-price", "150000", "--sources", "bat,carsandbids")
    assert add.returncode == 0, add.stderr
    listed = run(env, "watch", "list")
    assert "early 911s" in listed.stdout and "1965-1973" in listed.stdout and "bat,carsandbids" in listed.stdout
    assert "150000 USD" in listed.stdout and "150,000 USD" in add.stdout
    euros = run(env, "watch", "add", "euro 911s", "--make", "Porsche", "--max-price", "90000", "--currency", "EUR")
    assert euros.returncode == 0 and "90,000 EUR" in euros.stdout and "other currencies are not matched" in euros.stdout
    assert run(env, "watch", "add", "z", "--make", "Porsche", "--currency", "EUR").returncode == 2
    helped = run(env, "watch", "add", "--help")
    words = " ".join(helped.stdout.split())  # argparse wraps the help to the terminal
    assert "--currency CURRENCY ISO currency of --max-price (default USD)" in words and "(no conversion)" in words
    assert run(env, "watch", "remove", "euro 911s").returncode == 0
    again = run(env, "watch", "add", "early 911s", "--make", "Porsche")
    assert again.returncode == 2 and "exists already" in again.stderr
    assert run(env, "watch", "add", "x", "--make", "Porsche", "--sources", "ebay").returncode == 2
    assert run(env, "watch", "remove", "early 911s").returncode == 0
    gone = run(env, "watch", "remove", "early 911s")
    assert gone.returncode == 1 and "no saved search" in gone.stderr
    assert "(none)" in run(env, "watch", "list").stdout
