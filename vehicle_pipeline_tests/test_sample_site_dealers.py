"""The stand-in's dealers as configuration (`dealers=N`) and the "even" mix of listings over hosts: the world,
the stand-in serving every dealer at its own host, the pipeline discovering and walking every one, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import httpx
import pytest

from vehicle_pipeline.sample_site.dealers import DEALERS, MAX_DEALERS, PLATFORMS, dealer_roster
from vehicle_pipeline.sample_site.server import SampleSite
from vehicle_pipeline.sample_site.sites import dealer_host
from vehicle_pipeline.sample_site.world import METROS, build_world
from vehicle_pipeline_tests.conftest import pipeline_resources, stand_in_client

pytestmark = pytest.mark.timeout(300)

AUCTIONS = ("bat", "carsandbids", "mecum", "broadarrow")
# What the scenario prefix alone shows on the auction sites (world.build_world's docstring): the only hosts
# the even mix may leave more than one listing above the rest.
SCENARIO_AUCTION_COUNTS = {"bat": 11, "carsandbids": 14, "mecum": 5, "broadarrow": 5}  # requests (C&B: 7 pages)


def _host_counts(world) -> Counter:
    """Requests for the listings shown at the world's clock per host: each auction site, each metro, each dealer
    (none: 0). A Cars & Bids page is two requests (the shell and the data its script loads)."""
    counts = Counter({(s, None): 0 for s in AUCTIONS})
    counts.update({("craigslist", m.code): 0 for m in METROS})
    counts.update({("dealer", d.slug): 0 for d in world.dealers})
    for l in world.visible():
        counts[(l.source, l.metro or l.dealer)] += 2 if l.source == "carsandbids" else 1
    return counts


# ---------------------------------------------------------------------------------------------------
# the world


def test_default_world_is_the_world_of_before():
    """Same seed, same world as before `dealers`/`mix` existed: the defaults change nothing (the digest was
    taken of the world these options were added to; a deliberate change of the world updates it)."""
    default = build_world(7, 120)
    explicit = build_world(7, 120, None, dealers=4, mix="real")
    assert default.listings == explicit.listings and default.cars == explicit.cars
    assert default.dealers == explicit.dealers == DEALERS
    facts = [(l.source, l.external_id, l.title, l.outcome, l.sale_price, l.high_bid, l.asking_price, l.dealer, l.metro,
              l.starts_at, l.ends_at, l.car.vin) for l in default.listings]
    assert hashlib.sha256(repr(facts).encode()).hexdigest() == \
        "188f3fac44994aff6f91a79a5b364672f4d376c0ed8e84999c9ca3450911092d"


def test_a_world_of_31_dealers_is_deterministic_with_unique_dealers():
    a, b = build_world(7, 400, dealers=31), build_world(7, 400, dealers=31)
    assert a.listings == b.listings and a.cars == b.cars and a.dealers == b.dealers
    dealers = a.dealers
    assert len(dealers) == 31 and dealers[:4] == DEALERS
    assert len({d.slug for d in dealers}) == 31 and len({dealer_host(d.slug) for d in dealers}) == 31
    assert len({d.name for d in dealers}) == 31
    for i, d in enumerate(dealers):
        assert d.platform == PLATFORMS[i % 4]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", d.slug), d.slug
        assert re.fullmatch(r"[A-Z][A-Za-z .]+, [A-Z]{2} \d{5}", d.location), d.location
        assert re.fullmatch(r"\(\d{3}\) 555-01\d\d", d.phone), d.phone
    # The roster is one list for every world: dealer k is the same whatever the seed or the count.
    assert build_world(8, 10, dealers=12).dealers == dealers[:12] == dealer_roster(12)
    # Every dealer listing belongs to a dealer of the world, and stock numbers never repeat across dealers.
    stock = [l for l in a.listings if l.source == "dealer"]
    assert {l.dealer for l in stock} <= {d.slug for d in dealers}
    assert len({l.external_id for l in stock}) == len(stock)
    by_slug = {d.slug: d for d in dealers}
    assert all(l.seller == by_slug[l.dealer].name for l in stock)


def test_dealers_and_mix_are_checked():
    with pytest.raises(ValueError, match="dealers"):
        build_world(7, 10, dealers=0)
    with pytest.raises(ValueError, match="dealers"):
        build_world(7, 10, dealers=MAX_DEALERS + 1)
    with pytest.raises(ValueError, match="mix"):
        build_world(7, 10, mix="uniform")


@pytest.mark.parametrize("seed", [1, 7])
@pytest.mark.parametrize("listings", [100, 400, 700])  # below, around and above 11 visible per host
def test_even_mix_spreads_listings_over_hosts_within_the_bound(seed, listings):
    world = build_world(seed, listings, dealers=31, mix="even")
    assert len(world.listings) == listings
    counts = _host_counts(world)
    assert len(counts) == 4 + len(METROS) + 31
    low = min(counts.values())
    for (source, _key), n in counts.items():
        if n > low + (2 if source == "carsandbids" else 1):  # a page's requests over; else the scenario prefix
            assert source in SCENARIO_AUCTION_COUNTS and n == SCENARIO_AUCTION_COUNTS[source], (source, n, low)
    if sum(counts.values()) >= 14 * len(counts):
        assert all(n - low <= (2 if source == "carsandbids" else 1) for (source, _key), n in counts.items())
    # Outcomes and phases are still drawn: the auction sites show more than one outcome, some not yet started.
    assert len({l.outcome for l in world.listings if l.source == "bat"}) >= 3
    assert len(world.visible()) < listings
    # Deterministic, and a mix of its own (not the "real" one).
    assert build_world(seed, listings, dealers=31, mix="even").listings == world.listings
    assert [l.source for l in build_world(seed, listings, dealers=31).listings] != [l.source for l in world.listings]


# ---------------------------------------------------------------------------------------------------
# the stand-in and the pipeline


@pytest.fixture(scope="module")
def site12():
    with SampleSite(seed=7, listings=150, dealers=12, mix="even") as site:
        yield site


@pytest.fixture(scope="module")
def truth12(site12):
    return httpx.get(site12.base_url + "/_truth", timeout=60).json()


def test_stand_in_serves_every_dealer_of_the_world(site12, truth12):
    hosts = {dealer_host(d.slug) for d in site12.world.dealers}
    assert len(hosts) == 12
    assert hosts <= set(site12.resolve)
    assert hosts <= set(site12.client_settings()["allow_private_hosts"])
    assert {k for k in site12.source_base_urls() if k.startswith("dealer:")} == \
        {f"dealer:{d.slug}" for d in site12.world.dealers}
    assert {k for k in truth12["index_entry_points"] if k.startswith("dealer:")} == \
        {f"dealer:{d.slug}" for d in site12.world.dealers}
    # classic.com's directory lists every dealer, paginated as before; each profile scores for auto-enabling.
    dealer_sellers = [s for s in truth12["sellers"] if s["kind"] == "dealer"]
    assert sorted(s["name"] for s in dealer_sellers) == sorted(d.name for d in site12.world.dealers)
    assert all(s["confidence"] >= 0.70 for s in dealer_sellers)
    directory = [p for p in truth12["indexes"] if p["kind"] == "sellers" and "/dealers/" in p["url"]]
    assert len(directory) == 4 and sum(len(p["items"]) for p in directory) == 12
    with stand_in_client(site12) as client:
        for host in sorted(hosts):
            robots = client.get(f"https://{host}/robots.txt")
            assert robots.status_code == 200 and b"User-agent: *" in robots.content
            assert client.get(f"https://{host}/inventory/").status_code == 200


@pytest.mark.dagster
def test_pipeline_discovers_all_12_dealers_and_walks_each_inventory(db_url, db, site12, truth12):
    """classic_sellers registers and enables every dealer of the world; each dealer's inventory walk registers
    exactly that dealer's listings per the truth."""
    from vehicle_pipeline.defs.assets.listings import classic_sellers, dealer_inventory

    resources = pipeline_resources(db_url, site12)
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([classic_sellers], resources=resources, instance=instance).success
    with db.connection() as conn:
        rows = conn.execute("SELECT name, enabled, confidence, config->>'inventory_url' FROM sources "
                            "WHERE kind = 'dealer' ORDER BY name").fetchall()
    assert len(rows) == 12 and all(enabled and confidence >= 0.70 for _, enabled, confidence, _ in rows), rows
    host_of = {name: urlsplit(inventory).hostname for name, _, _, inventory in rows}
    assert set(host_of.values()) == {dealer_host(d.slug) for d in site12.world.dealers}
    expected: dict[str, set[str]] = {}
    for listing in truth12["listings"]:
        if listing["source"] == "dealer":
            expected.setdefault(urlsplit(listing["url"]).hostname, set()).add(listing["url"])
    instance.add_dynamic_partitions("dealers", list(host_of))
    for name, host in host_of.items():
        result = dg.materialize([dealer_inventory], resources=resources, instance=instance, partition_key=name)
        assert result.success
        with db.connection() as conn:
            found = {r[0] for r in conn.execute("SELECT url FROM listings WHERE source = %s", (name,))}
        assert found == expected.get(host, set()), name


# ---------------------------------------------------------------------------------------------------
# the CLI


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("vehicle-pipeline")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "vehicle_pipeline.cli"]


def test_cli_sample_site_takes_dealers_and_mix():
    help_text = subprocess.run(_cli() + ["sample-site", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert "--dealers" in help_text and "--mix" in help_text
    bad = subprocess.run(_cli() + ["sample-site", "--port", "0", "--dealers", "0"], capture_output=True, text=True,
                         timeout=60, start_new_session=True)
    assert bad.returncode == 2 and "--dealers" in bad.stderr
    proc = subprocess.Popen(_cli() + ["sample-site", "--port", "0", "--listings", "60", "--dealers", "6", "--mix", "even"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:"), (first, proc.stderr.read() if proc.poll() is not None else "")
        proc.stdout.readline()  # ca PATH
        config = json.loads(Path(proc.stdout.readline().split(maxsplit=1)[1].strip()).read_text())
        expected = {dealer_host(d.slug) for d in dealer_roster(6)}
        assert expected <= set(config["resolve"])
        assert not {h for h in config["resolve"] if h.endswith(".example")} - expected
        truth = httpx.get(first + "/_truth", timeout=60).json()
        assert len([s for s in truth["sellers"] if s["kind"] == "dealer"]) == 6
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
