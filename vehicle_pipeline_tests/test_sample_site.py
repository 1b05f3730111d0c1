"""The sample site itself: its world (determinism, coverage, invariants, clock), its HTTP server (truth,
admin, robots, request log), its fault endpoints and injected faults, and the CLI. Real sockets, httpx."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from protego import Protego

from vehicle_pipeline.sample_site import pages
from vehicle_pipeline.sample_site.faults import FaultPlan, FaultSpecError, parse_fault_spec
from vehicle_pipeline.sample_site.server import COMPRESSED_BODY, SampleSite
from vehicle_pipeline.sample_site.world import DAY, DEALERS, DEFAULT_CLOCK, METROS, SOURCES, build_world
from vehicle_pipeline_tests.conftest import stand_in_client

pytestmark = pytest.mark.timeout(120)

ALL_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")

BRIEF_SPEC = (
    "bat:429:rate=0.3:retry_after=5,carsandbids:503:burst=3,mecum:slow:seconds=1.5,broadarrow:truncate:rate=0.2,"
    "craigslist:challenge:vendor=cloudflare,dealer:gone:code=410:rate=0.1,bat:redirect_loop:rate=0.05,"
    "bat:redirect_private:rate=0.05,mecum:oversize:mb=12:rate=0.1,carsandbids:markup_change"
)


@pytest.fixture(scope="module")
def site():
    with SampleSite(seed=7, listings=60, extra_ports=1) as s:
        yield s


@pytest.fixture
def fresh_site():
    """A site of its own, for tests that move the clock or change faults."""
    s = SampleSite(seed=7, listings=60).start()
    try:
        yield s
    finally:
        s.stop()


def get(url: str, **kw) -> httpx.Response:
    """GET on the control origin (plain HTTP)."""
    return httpx.get(url, timeout=15, **kw)


def sget(site: SampleSite, url: str, **kw) -> httpx.Response:
    """GET a page at its real host name from `site` (HTTPS, the stand-in's CA)."""
    with stand_in_client(site) as client:
        return client.get(url, **kw)


def truth_of(base_url: str) -> dict:
    return get(f"{base_url}/_truth").json()


def a_listing_url(site: SampleSite) -> tuple[str, str]:
    """(source, fetch_url) of an ended auction listing of some source whose renderer exists."""
    t = truth_of(site.base_url)
    for entry in t["listings"]:
        if entry["source"] in ("mecum", "broadarrow", "bat", "carsandbids") and entry.get("outcome") not in (None, "live"):
            return entry["source"], entry["fetch_url"]
    if t["listings"]:
        return t["listings"][0]["source"], t["listings"][0]["fetch_url"]
    pytest.skip(f"no renderer exists yet ({', '.join(t['missing_renderers'])} missing)")


# ---------------------------------------------------------------------------------------------------
# world


def _check_digit(vin: str) -> str:
    # Written out again here so the world's own VIN code is checked against an independent copy.
    values = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
              "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    r = sum(values[c] * w for c, w in zip(vin, weights)) % 11
    return "X" if r == 10 else str(r)


def test_world_is_deterministic_for_a_seed():
    a, b = build_world(7, 120), build_world(7, 120)
    assert a.listings == b.listings and a.cars == b.cars
    c = build_world(8, 120)
    assert [l.car.vin for l in c.listings] != [l.car.vin for l in a.listings]
    assert a.clock == DEFAULT_CLOCK == build_world(99, 5).clock


def test_world_at_60_covers_every_source_outcome_and_trap():
    w = build_world(7, 60)
    assert len(w.listings) == 60
    snap = w.snapshot()
    by_source = Counter(l.source for l in snap)
    assert set(by_source) == set(SOURCES), by_source
    outcomes = {(l.source, l.outcome) for l in snap}
    for source in ("bat", "carsandbids", "mecum", "broadarrow"):
        for outcome in ("sold", "bid_to", "withdrawn", "live"):
            assert (source, outcome) in outcomes, (source, outcome)
    assert ("carsandbids", "sold_after") in outcomes
    assert {"no_sale"} <= {o for s, o in outcomes if s in ("bat", "mecum", "carsandbids")}
    assert {l.car.vin_state for l in snap} == {"valid", "bad_check_digit", "not_applicable"}
    assert any(l.car.vin_state == "not_applicable" and len(l.car.vin) < 17 for l in snap)  # chassis numbers
    assert any(l.car.vin_state == "not_applicable" and len(l.car.vin) == 17 for l in snap)  # European VINs
    assert any(l.car.mileage_unit == "km" for l in snap)
    assert {"EUR", "GBP"} <= {l.currency for l in snap if l.source == "broadarrow"}
    assert "CAD" in {l.currency for l in snap if l.source == "craigslist"}
    assert any(l.no_reserve for l in snap if l.source == "bat")
    assert len({l.metro for l in snap if l.source == "craigslist"}) >= 3
    assert {l.dealer for l in snap if l.source == "dealer"} == {d.slug for d in DEALERS}
    pairs = [{l.source for l in g} for g in w.duplicates()]
    assert {"bat", "dealer"} in pairs and {"carsandbids", "bat"} in pairs, pairs
    # Listings that have not appeared yet, so advancing the clock adds some.
    assert len(snap) < len(w.listings)


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_world_invariants(seed):
    w = build_world(seed, 400)
    keys = [(l.source, l.external_id) for l in w.listings]
    assert len(keys) == len(set(keys)) and all(l.external_id for l in w.listings)
    for l in w.listings:
        car = l.car
        assert 1955 <= car.year <= 2025
        if car.vin_state == "valid":
            assert len(car.vin) == 17 and car.vin[8] == _check_digit(car.vin)
        elif car.vin_state == "bad_check_digit":
            assert len(car.vin) == 17 and car.vin[8] != _check_digit(car.vin) and car.vin[0] in "12345" and car.year >= 1981
        else:
            assert len(car.vin) != 17 or car.vin[0] not in "12345"
        if car.year < 1981:
            assert len(car.vin) != 17 and car.vin_state == "not_applicable"
        if l.sale_price is not None:
            assert l.outcome in ("sold", "sold_after")
        if l.outcome in ("sold", "sold_after"):
            assert l.sale_price and l.high_bid
        if l.outcome == "sold_after":
            assert l.source == "carsandbids" and l.sale_price > l.high_bid
        if l.outcome is None:
            assert l.asking_price and l.source in ("craigslist", "dealer") and l.sale_price is None
        if l.source in ("broadarrow",):
            assert l.currency in ("USD", "EUR", "GBP")
        if l.source == "craigslist":
            assert l.currency == {m.code: m.currency for m in METROS}[l.metro]
        if l.source in ("bat", "carsandbids"):
            bids = [c for c in l.comments if c.kind == "bid"]
            amounts = [c.amount for c in bids]
            assert amounts == sorted(amounts) and len(set(amounts)) == len(amounts)
            assert l.bid_count == len(bids)
            assert l.comment_count == sum(1 for c in l.comments if c.kind == "comment")
            assert l.high_bid == (amounts[-1] if amounts else None)
            times = [c.posted_at for c in l.comments]
            assert times == sorted(times) and all(l.starts_at <= t <= l.ends_at for t in times)
            system = [c for c in l.comments if c.kind == "system"]
            if l.source == "bat" and l.outcome == "sold":
                assert l.buyer == bids[-1].author
                assert system[-1] is l.comments[-1]
                assert system[-1].text.startswith("Sold on ") and f"for USD ${l.sale_price:,}.00 to {l.buyer}" in system[-1].text
            elif l.source == "bat" and l.outcome == "bid_to":
                assert system[-1].text.startswith("Reserve not met on ") and system[-1].text.endswith(f"${l.high_bid:,}")
            else:
                assert not system
        if l.no_reserve and l.source in ("bat", "carsandbids"):
            assert l.outcome not in ("bid_to", "sold_after")
    # The "Sold for $..." trap sits in comments of listings that did not sell.
    assert any("sold for $" in c.text.lower() for l in w.listings if l.outcome != "sold" for c in l.comments)


def test_world_of_5000_builds_fast():
    started = time.process_time()
    w = build_world(3, 5000)
    elapsed = time.process_time() - started
    assert len(w.listings) == 5000
    assert elapsed < 2.0, f"building 5,000 listings took {elapsed:.2f}s of CPU"
    assert min(Counter(l.source for l in w.listings).values()) > 300


def test_live_auction_state_and_clock():
    w = build_world(7, 60)
    live = [l for l in w.visible() if l.source == "bat" and w.is_live(l, w.clock) and l.outcome == "sold"]
    assert live
    final = live[0]
    state = w.listing_state(final)
    assert state.outcome == "live" and state.sale_price is None and state.buyer is None
    shown = state.comments
    assert shown == [c for c in final.comments if c.posted_at <= w.clock and c.kind != "system"]
    bids = [c.amount for c in shown if c.kind == "bid"]
    assert state.high_bid == (bids[-1] if bids else None) and state.bid_count == len(bids)
    assert final.outcome == "sold" and final.sale_price  # the stored listing keeps its final facts
    ended = w.listing_state(final, final.ends_at)
    assert ended.outcome == "sold" and ended.sale_price == final.sale_price and ended.buyer == final.buyer
    # Advancing the clock: future listings appear, nothing disappears.
    now, later = w.visible(), w.visible(w.clock + 4 * DAY)
    assert len(later) > len(now) and {id(l) for l in now} <= {id(l) for l in later}
    assert [l for l in w.snapshot(w.clock + 4 * DAY) if l.outcome == "live"] != [l for l in w.snapshot() if l.outcome == "live"]


# ---------------------------------------------------------------------------------------------------
# server: truth, admin, robots, request log


def _normalized(truth: dict, base: str) -> str:
    truth = {k: v for k, v in truth.items() if k != "resolve"}  # addresses and ports of this run
    return json.dumps(truth, sort_keys=True).replace(base, "BASE")


def test_truth_is_deterministic_and_differs_by_seed(site):
    with SampleSite(seed=7, listings=60) as twin, SampleSite(seed=8, listings=60) as other:
        a = _normalized(truth_of(site.base_url), site.base_url)
        b = _normalized(truth_of(twin.base_url), twin.base_url)
        c = _normalized(truth_of(other.base_url), other.base_url)
    assert a == b
    t = json.loads(a)
    assert t["seed"] == 7 and t["clock"] == DEFAULT_CLOCK
    assert t["sources"]["bat"] == "https://bringatrailer.com"
    assert t["sources"]["dealer:sunset-classics"] == "https://www.sunset-classics.example"
    if t["listings"]:
        assert a != c
    assert json.loads(c)["seed"] == 8


def test_truth_at_60_covers_everything(site):
    """The same coverage as the world's, as the pages state it (needs every renderer)."""
    t = truth_of(site.base_url)
    if t["missing_renderers"]:
        pytest.skip("renderers missing: " + ", ".join(t["missing_renderers"]))
    entries = t["listings"]
    assert {e["source"] for e in entries} == {"bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"}
    assert {e["outcome"] for e in entries} >= {"sold", "sold_after", "bid_to", "no_sale", "withdrawn", "live", None}
    assert {e["vin_state"] for e in entries} >= {"valid", "bad_check_digit", "not_applicable"}
    assert "km" in {e["mileage_unit"] for e in entries}
    assert {"EUR", "GBP", "CAD"} <= {e["currency"] for e in entries}
    assert any(e["no_reserve"] for e in entries)
    assert len(t["duplicates"]) >= 2 and all(len(g) >= 2 for g in t["duplicates"])
    assert {k.split(":")[0] for k in t["index_entry_points"]} == set(ALL_SOURCES)
    assert t["sellers"]
    for e in entries:
        assert (e["sale_price"] is not None) == (e["outcome"] in ("sold", "sold_after")), e["fetch_url"]


def test_truth_urls_are_the_real_sites_urls(site):
    t = truth_of(site.base_urls[1])
    assert t["base_url"] == site.base_url and t["resolve"] == site.resolve
    hosts = {urlsplit(e["fetch_url"]).hostname for e in t["listings"]}
    assert all(e["fetch_url"].startswith("https://") for e in t["listings"])
    assert {"bringatrailer.com", "carsandbids.com", "www.mecum.com", "www.broadarrowauctions.com",
            "sacramento.craigslist.org", "www.sunset-classics.example"} <= hosts <= set(site.resolve)
    assert set(t["missing_renderers"]) == {s for s in ALL_SOURCES if not _has(s)}


def _has(source: str) -> bool:
    try:
        pages.load(source)
        return True
    except pages.RendererMissing:
        return False


def test_source_base_urls(site):
    urls = site.source_base_urls()
    assert urls["bat"] == "https://bringatrailer.com" and urls["craigslist:seattle"] == "https://seattle.craigslist.org"
    assert {k for k in urls if k.startswith("dealer:")} == {f"dealer:{d.slug}" for d in DEALERS}
    # one loopback address per site, each address one site
    by_address: dict[str, set[str]] = {}
    for host, target in site.resolve.items():
        by_address.setdefault(target.split(":")[0], set()).add(site.sites.route(host).group)
    assert all(len(groups) == 1 for groups in by_address.values())
    assert len(by_address) == 6 + len(DEALERS)


def test_missing_renderer_is_501_and_unknown_path_404(site):
    assert get(f"{site.base_url}/bat/listing/x/").status_code == 404  # the control origin serves no pages
    origins = site.source_base_urls()
    for source in ALL_SOURCES:
        origin = origins[source] if source != "dealer" else origins[f"dealer:{DEALERS[0].slug}"]
        r = sget(site, f"{origin}/certainly/not/a/page/")
        if _has(source):
            assert r.status_code == 404, (source, r.status_code)
        else:
            assert r.status_code == 501 and source in r.text


def test_clock_admin_moves_truth(fresh_site):
    base = fresh_site.base_url
    assert get(f"{base}/_admin/clock").json()["clock"] == DEFAULT_CLOCK
    before = truth_of(base)
    r = httpx.post(f"{base}/_admin/clock?advance={4 * DAY}", timeout=10)
    assert r.status_code == 200 and r.json()["clock"] == DEFAULT_CLOCK + 4 * DAY
    after = truth_of(base)
    assert after["clock"] == DEFAULT_CLOCK + 4 * DAY
    if not before["listings"]:
        pytest.skip("no renderer exists yet")
    assert len(after["listings"]) > len(before["listings"]) or before["missing_renderers"]
    was_live = {e["fetch_url"] for e in before["listings"] if e.get("outcome") == "live"}
    now_ended = {e["fetch_url"] for e in after["listings"] if e["fetch_url"] in was_live and e.get("outcome") != "live"}
    assert now_ended, "some auction that was live must have ended four days later"
    assert httpx.post(f"{base}/_admin/clock?set={DEFAULT_CLOCK}", timeout=10).json()["clock"] == DEFAULT_CLOCK
    assert _normalized(truth_of(base), base) == _normalized(before, base)
    assert httpx.post(f"{base}/_admin/clock?advance=soon", timeout=10).status_code == 400
    assert httpx.post(f"{base}/_admin/clock", timeout=10).status_code == 400


def test_robots_txt(site):
    r = get(f"{site.base_url}/robots.txt")
    assert r.status_code == 200
    rp = Protego.parse(r.text)
    for path in ("/_private/x", "/_fault/disallowed/x"):
        assert not rp.can_fetch(f"{site.base_url}{path}", "vehicle-pipeline")
    assert rp.can_fetch(f"{site.base_url}/_fault/status/200", "vehicle-pipeline")
    r = sget(site, "https://bringatrailer.com/robots.txt")
    rp = Protego.parse(r.text)
    assert not rp.can_fetch("https://bringatrailer.com/account/settings", "vehicle-pipeline")
    assert rp.can_fetch("https://bringatrailer.com/listing/some-car/", "vehicle-pipeline")
    # Disallowed pages exist, so a client that ignores robots.txt shows up in the request log.
    assert get(f"{site.base_url}/_private/x").status_code == 200
    assert get(f"{site.base_url}/_fault/disallowed/x").status_code == 200


def test_request_log(fresh_site):
    base, admin = fresh_site.base_url, f"{fresh_site.base_url}/_admin/requests"
    assert httpx.post(f"{admin}/clear", timeout=10).status_code == 200
    get(f"{base}/_fault/status/200?log=1")
    get(f"{base}/robots.txt")
    rows = get(admin).json()
    assert [(r["method"], r["path"], r["status"]) for r in rows] == [("GET", "/_fault/status/200?log=1", 200),
                                                                     ("GET", "/robots.txt", 200)]
    for r in rows:
        assert r["port"] == fresh_site.ports[0] and r["started"] <= r["finished"] <= time.monotonic()
    assert rows[0]["finished"] <= rows[1]["started"]
    assert httpx.post(f"{admin}/clear", timeout=10).json() == {"cleared": 2}
    assert get(admin).json() == []


def test_request_log_records_each_port(site):
    marker = f"ports{time.monotonic_ns()}"
    for base in site.base_urls:
        get(f"{base}/_fault/status/200?{marker}=1")
    rows = [r for r in site.requests() if marker in r["path"]]
    assert sorted(r["port"] for r in rows) == sorted(site.ports)


# ---------------------------------------------------------------------------------------------------
# explicit fault endpoints


def test_fault_status_and_retry_after(site):
    r = get(f"{site.base_url}/_fault/status/503?retry_after=7")
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    r = get(f"{site.base_url}/_fault/status/429")
    assert r.status_code == 429 and "retry-after" not in r.headers
    assert get(f"{site.base_url}/_fault/status/200").text == "ok"


def test_fault_flaky_fails_n_times_per_key(site):
    url = f"{site.base_url}/_fault/flaky/k{time.monotonic_ns()}?fail=2&code=429&retry_after=3"
    statuses = [get(url) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "3" and statuses[2].text == "ok"


def test_fault_slow(site):
    started = time.monotonic()
    r = get(f"{site.base_url}/_fault/slow?seconds=0.4")
    assert r.status_code == 200 and time.monotonic() - started >= 0.4


def test_fault_big_is_chunked_without_length(site):
    with httpx.stream("GET", f"{site.base_url}/_fault/big?mb=2", timeout=30) as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        assert r.headers["transfer-encoding"] == "chunked"
        size = sum(len(c) for c in r.iter_bytes())
    assert size == 2 * 1024 * 1024


def _raw_sget(site: SampleSite, url: str) -> tuple[bytes, bytes]:
    """_raw_get of a page at its real host name, over TLS to the stand-in's address for that host."""
    import ssl

    parts = urlsplit(url)
    address, port = site.resolve[parts.hostname].rsplit(":", 1)
    context = ssl.create_default_context(cafile=site.ca_file)
    with socket.create_connection((address, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=parts.hostname) as s:
        s.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except (ssl.SSLError, ConnectionResetError):
            pass  # a cut-off body: the server closed without a TLS close_notify
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def _raw_get(base: str, path: str) -> tuple[bytes, bytes]:
    """(head, body) read from a raw socket until the server closes: shows what was really sent."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_fault_truncated(site):
    head, body = _raw_get(site.base_url, "/_fault/truncated")
    assert b"Content-Length: 100000" in head and len(body) == 1000
    with pytest.raises(httpx.RemoteProtocolError):
        get(f"{site.base_url}/_fault/truncated")


@pytest.mark.parametrize("vendor, status, marker, header", [
    ("cloudflare", 403, "Just a moment...", ("cf-mitigated", "challenge")),
    ("datadome", 403, "captcha-delivery.com", ("x-datadome", "protected")),
    ("perimeterx", 403, "px-captcha", None),
    ("incapsula", 200, "Incapsula incident ID", ("x-cdn", "Imperva")),
])
def test_fault_challenge_pages(site, vendor, status, marker, header):
    r = get(f"{site.base_url}/_fault/challenge/{vendor}")
    assert r.status_code == status and marker in r.text
    if header:
        assert r.headers[header[0]] == header[1]
    if vendor == "cloudflare":
        assert r.headers["server"] == "cloudflare"
    if vendor == "perimeterx":
        assert "_pxAppId" in r.text
    if vendor == "incapsula":
        assert "_Incapsula_Resource" in r.text
    assert get(f"{site.base_url}/_fault/challenge/cloudflare?status=503").status_code == 503


def test_fault_redirects(site):
    base = site.base_url
    r = get(f"{base}/_fault/redirect_loop/4")
    assert r.status_code == 302 and r.headers["location"] == f"{base}/_fault/redirect_loop/5"
    with pytest.raises(httpx.TooManyRedirects):
        httpx.get(f"{base}/_fault/redirect_loop/0", follow_redirects=True, timeout=10)
    r = get(f"{base}/_fault/redirect_private")
    loc = urlsplit(r.headers["location"])
    assert r.status_code == 302 and loc.hostname == "127.0.0.2" and loc.port == site.ports[0]
    assert loc.path == "/_fault/status/200"
    r = httpx.get(f"{base}/_fault/redirect/3", follow_redirects=True, timeout=10)
    assert r.status_code == 200 and r.text == "ok" and len(r.history) == 3


def test_fault_etag(site):
    url = f"{site.base_url}/_fault/etag/k{time.monotonic_ns()}"
    first = get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.status_code == 200 and etag.startswith('"')
    r = get(url, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200
    assert get(url + "?v=2", headers={"If-None-Match": etag}).status_code == 200  # a new version


def test_fault_gone_and_compression(site):
    assert get(f"{site.base_url}/_fault/gone/404").status_code == 404
    assert get(f"{site.base_url}/_fault/gone/410").status_code == 410
    for name, encoding in (("gzip", "gzip"), ("brotli", "br")):
        r = get(f"{site.base_url}/_fault/{name}")
        assert r.headers["content-encoding"] == encoding and r.content == COMPRESSED_BODY
        assert r.num_bytes_downloaded < len(COMPRESSED_BODY) / 5  # compressed on the wire


# ---------------------------------------------------------------------------------------------------
# fault specs and injected faults


def test_brief_spec_parses():
    faults = parse_fault_spec(BRIEF_SPEC)
    assert [(f.source, f.kind) for f in faults] == [
        ("bat", "status"), ("carsandbids", "status"), ("mecum", "slow"), ("broadarrow", "truncate"),
        ("craigslist", "challenge"), ("dealer", "gone"), ("bat", "redirect_loop"), ("bat", "redirect_private"),
        ("mecum", "oversize"), ("carsandbids", "markup_change")]
    bat429 = faults[0]
    assert (bat429.code, bat429.rate, bat429.retry_after, bat429.attempts) == (429, 0.3, 5, 1)
    assert faults[1].burst == 3 and faults[2].seconds == 1.5 and faults[8].mb == 12
    assert faults[5].code == 410 and faults[5].on == "listing" and faults[5].attempts is None
    assert parse_fault_spec("dealer:sunset-classics:gone")[0].source == "dealer:sunset-classics"
    assert parse_fault_spec("") == () and parse_fault_spec(None) == ()


@pytest.mark.parametrize("spec, words", [
    ("bat", "expected <source>:<kind>"),
    ("bat:bogus", "unknown kind 'bogus'"),
    ("ebay:429", "unknown source 'ebay'"),
    ("bat:429:rate=2", "rate=2 must be between 0.0 and 1.0"),
    ("bat:429:rate=often", "rate='often' is not a number"),
    ("bat:slow:vendor=cloudflare", "slow takes no parameter 'vendor'"),
    ("bat:challenge:vendor=akamai", "unknown vendor 'akamai'"),
    ("dealer:gone:code=500", "code=404 or code=410"),
    ("bat:429,,mecum:503", "empty entry at position 2"),
    ("bat:429:rate=0.1:rate=0.2", "given twice"),
    ("bat:200", "not an error status"),
    ("bat:503:burst=3:rate=0.5", "burst cannot be combined"),
    ("bat:503:every=5", "every needs burst"),
    ("bat:429:retry_after", "is not name=value"),
    ("bat:markup_change:rate=0.5", "markup_change takes no parameter 'rate'"),
])
def test_bad_specs_are_rejected_clearly(spec, words):
    with pytest.raises(FaultSpecError) as err:
        parse_fault_spec(spec)
    assert words in str(err.value)


def test_fault_plan_is_deterministic_and_lets_retries_succeed():
    paths = [f"/bat/listing/car-{i}/" for i in range(2000)]

    def hits(plan, rounds=1):
        return [p for p in paths for _ in range(rounds) if plan.decide("bat", None, "listing", p)[0] is not None]

    first = hits(FaultPlan.from_spec("bat:429:rate=0.3", seed=7))
    assert 0.25 < len(first) / len(paths) < 0.35
    assert hits(FaultPlan.from_spec("bat:429:rate=0.3", seed=7)) == first
    assert hits(FaultPlan.from_spec("bat:429:rate=0.3", seed=8)) != first
    plan = FaultPlan.from_spec("bat:429:rate=0.3", seed=7)
    hits(plan)
    assert hits(plan) == []  # the second attempt of every path succeeds
    plan = FaultPlan.from_spec("bat:429:rate=0.3:attempts=2", seed=7)
    assert hits(plan) == first and hits(plan) == first and hits(plan) == []
    plan = FaultPlan.from_spec("bat:gone:rate=0.3", seed=7)
    assert hits(plan) == hits(plan)  # a removed listing stays removed
    plan = FaultPlan.from_spec("bat:503:burst=3:every=10", seed=7)
    pattern = [plan.decide("bat", None, "index", f"/bat/p{i}")[0] is not None for i in range(20)]
    assert pattern == ([True] * 3 + [False] * 7) * 2
    plan = FaultPlan.from_spec("mecum:503", seed=7)
    assert plan.decide("bat", None, "listing", "/bat/x")[0] is None


def test_bad_spec_refused_by_site_and_admin(fresh_site):
    with pytest.raises(FaultSpecError):
        SampleSite(faults="bat:teapot")
    r = httpx.post(f"{fresh_site.base_url}/_admin/faults", content=b"bat:teapot", timeout=10)
    assert r.status_code == 400 and "unknown kind 'teapot'" in r.json()["error"]
    r = httpx.post(f"{fresh_site.base_url}/_admin/faults", content=BRIEF_SPEC.encode(), timeout=10)
    assert r.status_code == 200 and len(r.json()["faults"]) == 10
    assert get(f"{fresh_site.base_url}/_admin/faults").json()["spec"] == BRIEF_SPEC
    assert httpx.post(f"{fresh_site.base_url}/_admin/faults", content=b"", timeout=10).json()["faults"] == []


def _set_faults(site: SampleSite, spec: str) -> None:
    r = httpx.post(f"{site.base_url}/_admin/faults", content=spec.encode(), timeout=10)
    assert r.status_code == 200, r.text


def test_faults_never_touch_truth_admin_or_robots(fresh_site):
    _set_faults(fresh_site, "*:503:attempts=all,*:challenge")
    base = fresh_site.base_url
    assert get(f"{base}/robots.txt").status_code == 200
    assert get(f"{base}/_truth").status_code == 200
    assert get(f"{base}/_admin/clock").status_code == 200
    assert get(f"{base}/_fault/status/200").status_code == 200


def test_injected_status_fault_then_retry_succeeds(fresh_site):
    source, url = a_listing_url(fresh_site)
    clean = sget(fresh_site, url)
    assert clean.status_code == 200
    _set_faults(fresh_site, f"{source}:429:retry_after=5")
    r = sget(fresh_site, url)
    assert r.status_code == 429 and r.headers["retry-after"] == "5"
    again = sget(fresh_site, url)
    assert again.status_code == 200 and again.content == clean.content


def test_injected_gone_challenge_and_redirects(fresh_site):
    source, url = a_listing_url(fresh_site)
    t = truth_of(fresh_site.base_url)
    index_url = next((u for u in t["index_entry_points"].get(source, [])), None)
    _set_faults(fresh_site, f"{source}:gone:code=410")
    assert sget(fresh_site, url).status_code == 410 and sget(fresh_site, url).status_code == 410
    if index_url:
        assert sget(fresh_site, index_url).status_code == 200  # gone hits listing pages only
    _set_faults(fresh_site, f"{source}:challenge:vendor=datadome")
    r = sget(fresh_site, url)
    assert r.status_code == 403 and r.headers["x-datadome"] == "protected"
    _set_faults(fresh_site, f"{source}:redirect_loop")
    with pytest.raises(httpx.TooManyRedirects), stand_in_client(fresh_site) as client:
        client.get(url, follow_redirects=True)
    r = sget(fresh_site, url)
    assert r.status_code == 302 and dict(parse_qsl(urlsplit(r.headers["location"]).query))["_loop"] == "1"
    _set_faults(fresh_site, f"{source}:redirect_private")
    loc = urlsplit(sget(fresh_site, url).headers["location"])
    assert loc.hostname == "127.0.0.2" and loc.path == urlsplit(url).path


def test_injected_truncate_oversize_slow(fresh_site):
    source, url = a_listing_url(fresh_site)
    clean = sget(fresh_site, url).content
    _set_faults(fresh_site, f"{source}:truncate")
    head, body = _raw_sget(fresh_site, url)
    assert f"Content-Length: {len(clean)}".encode() in head and body == clean[: len(clean) // 2]
    assert sget(fresh_site, url).content == clean  # the retry gets the whole page
    _set_faults(fresh_site, f"{source}:oversize:mb=1.5")
    r = sget(fresh_site, url)
    assert "content-length" not in r.headers and r.content.startswith(clean) and len(r.content) >= 1.5 * 1024 * 1024
    _set_faults(fresh_site, f"{source}:slow:seconds=0.4")
    started = time.monotonic()
    assert sget(fresh_site, url).content == clean and time.monotonic() - started >= 0.4


def test_rate_fault_hits_a_fixed_share_of_pages(fresh_site):
    t = truth_of(fresh_site.base_url)
    if len(t["listings"]) < 10:
        pytest.skip("too few rendered listings yet")
    urls = [e["fetch_url"] for e in t["listings"]]
    _set_faults(fresh_site, "*:503:rate=0.5")
    first = [sget(fresh_site, u).status_code for u in urls]
    assert set(first) == {200, 503}
    assert all(sget(fresh_site, u).status_code == 200 for u in urls)  # the first attempt only
    _set_faults(fresh_site, "*:503:rate=0.5")  # a fresh spec restarts the attempt counts
    assert [sget(fresh_site, u).status_code for u in urls] == first


@pytest.mark.parametrize("source", ["bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"])
def test_markup_change_never_yields_silently_wrong_data(fresh_site, source):
    """With markup_change on, a page is different, and its parser either fails loudly (ParseError) or reads
    nothing that contradicts the truth: a renderer may switch to another real-world layout the parser
    supports, and a fallback (e.g. product meta) may read less, but never a different value or identity."""
    if not _has(source):
        pytest.skip(f"vehicle_pipeline.sample_site.pages.{source} does not exist yet")
    entries = [e for e in truth_of(fresh_site.base_url)["listings"] if e["source"] == source]
    assert entries
    with stand_in_client(fresh_site) as client:
        clean = [client.get(e["fetch_url"]).content for e in entries]
        _set_faults(fresh_site, f"{source}:markup_change")
        changed = [client.get(e["fetch_url"]) for e in entries]
    assert all(r.status_code == 200 for r in changed)
    assert all(r.content != c for r, c in zip(changed, clean))
    try:
        from vehicle_pipeline import sources
        from vehicle_pipeline.model import ParseError

        module = sources.get(source)
    except ImportError as exc:
        pytest.skip(f"no parser for {source} yet: {exc}")
    for entry, r in zip(entries, changed):
        try:
            parsed = module.parse(r.content, url=entry["fetch_url"], deep=True)
        except ParseError:
            continue
        got = parsed.to_contract(deep=True)
        # "unknown" is the outcome vocabulary's "the page did not say": no claim, so no contradiction
        wrong = {k: (v, entry.get(k)) for k, v in got.items()
                 if v not in (None, []) and not (k == "outcome" and v == "unknown") and v != entry.get(k)}
        assert not wrong, f"{entry['fetch_url']}: with markup_change the parser read (got, truth) {wrong}"


# ---------------------------------------------------------------------------------------------------
# CLI


def test_cli_sample_site_prints_url_and_stops_on_sigterm():
    exe = Path(sys.executable).with_name("vehicle-pipeline")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "vehicle_pipeline.cli"]
    proc = subprocess.Popen(cmd + ["sample-site", "--port", "0", "--listings", "20", "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:"), (first, proc.stderr.read() if proc.poll() is not None else "")
        assert get(f"{first}/robots.txt").status_code == 200
        ca, config = proc.stdout.readline().split(), proc.stdout.readline().split()
        assert ca[0] == "ca" and Path(ca[1]).is_file() and config[0] == "config"
        settings = json.loads(Path(config[1]).read_text())
        assert settings["extra_ca_file"] == ca[1] and settings["control_url"] == first
        assert "bringatrailer.com" in settings["resolve"] and "*" not in "".join(settings["allow_private_hosts"])
        assert proc.stdout.readline().startswith("resolve ")
        t = truth_of(first)
        assert t["seed"] == 3 and t["base_url"] == first and t["resolve"] == settings["resolve"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def test_cli_rejects_bad_fault_spec():
    exe = Path(sys.executable).with_name("vehicle-pipeline")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "vehicle_pipeline.cli"]
    proc = subprocess.run(cmd + ["sample-site", "--port", "0", "--faults", "bat:slow:mb=3"], capture_output=True,
                          text=True, timeout=60, start_new_session=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: sample-site: fault 'bat:slow:mb=3': slow takes no parameter 'mb' "
                                                "(allowed: attempts, burst, every, on, rate, seconds)"]


def test_cached_pages_are_the_rendered_pages_and_move_with_the_clock():
    """`cache_pages` (benchmarks) serves a page rendered once, byte for byte what rendering it gives, until the
    clock moves; faults still apply to cached pages."""
    plain, cached = SampleSite(seed=3, listings=30).start(), SampleSite(seed=3, listings=30, cache_pages=True).start()
    try:
        truth = httpx.get(plain.base_url + "/_truth").json()
        urls = [l["fetch_url"] for l in truth["listings"]][:12]
        urls += ["https://bringatrailer.com/auctions/", "https://carsandbids.com/v2/autos/auctions?status=closed&limit=50"]
        with stand_in_client(plain) as p, stand_in_client(cached) as c:
            for _ in range(2):
                for url in urls:
                    a, b = p.get(url), c.get(url)
                    assert (a.status_code, a.content) == (b.status_code, b.content), url
            live = next(l for l in truth["listings"] if l.get("outcome") == "live")
            before = c.get(live["fetch_url"]).content
            for site in (plain, cached):
                site.advance(30 * 86400)  # long past its end: the auction has closed
            after = c.get(live["fetch_url"]).content
            assert after != before
            assert after == p.get(live["fetch_url"]).content
            bat_page = next(u for u in urls if u.startswith("https://bringatrailer.com/listing/"))
            cached.set_faults("bat:gone:code=410")
            assert c.get(bat_page).status_code == 410
    finally:
        plain.stop()
        cached.stop()


def test_site_map_puts_renderer_paths_at_the_real_host_names_and_back():
    from vehicle_pipeline.sample_site.sites import SITES

    cases = {
        ("bat", "/listing/x/"): "https://bringatrailer.com/listing/x/",
        ("mecum", "/lots/1/x/"): "https://www.mecum.com/lots/1/x/",
        ("craigslist", "/sfbay/sfc/cto/d/x/7931587034.html"): "https://sfbay.craigslist.org/sfc/cto/d/x/7931587034.html",
        ("craigslist", "/seattle/search/cto?s=120"): "https://seattle.craigslist.org/search/cto?s=120",
        ("dealer", "/sunset-classics/inventory/?page=2"): "https://www.sunset-classics.example/inventory/?page=2",
        ("classic", "/s/x-abc12/"): "https://www.classic.com/s/x-abc12/",
    }
    for (source, path), url in cases.items():
        assert SITES.url(source, path) == url
        assert SITES.renderer_path(url) == (source, path)
    assert SITES.route("www.bringatrailer.com").redirect_to == "bringatrailer.com"
    assert SITES.route("media.carsandbids.com").source == "carsandbids"
    assert SITES.route("sapi.craigslist.org").prefix == "" and SITES.route("evil.example") is None
    with pytest.raises(ValueError):
        SITES.url("dealer", "/")


def test_an_alias_host_redirects_to_the_canonical_one(site):
    r = sget(site, "https://mecum.com/lots/1/x/?a=1")
    assert r.status_code == 301 and r.headers["location"] == "https://www.mecum.com/lots/1/x/?a=1"


def test_front_serves_any_app_at_any_host_names():
    """The seam a replay of recorded crawls mounts on: any app, any host names, the same TLS and resolve map."""
    from vehicle_pipeline.http import HttpConfig, Pace, PoliteClient
    from vehicle_pipeline.sample_site.front import Front

    seen = []

    def app(handler, method, host):
        seen.append((method, host, handler.path))
        handler.reply(200, f"hello {host}".encode(), "text/plain")

    front = Front(lambda handler, method: handler.reply(404, b""))
    first = front.mount(["www.example.org", "example.org"], app)
    second = front.mount(["other.example.net"], app)
    assert first != second
    front.start()
    try:
        config = HttpConfig(pace=Pace(0, 0), resolve=front.resolve, extra_ca_file=front.ca_file,
                            allow_private_hosts=list(front.resolve))
        with PoliteClient(config) as client:
            ok = client.fetch("https://example.org/a?b=1")
            other = client.fetch("https://other.example.net/")
        ca = front.ca_file
    finally:
        front.stop()
    assert ok.ok and ok.content == b"hello example.org" and other.content == b"hello other.example.net"
    assert ("GET", "example.org", "/a?b=1") in seen
    assert not Path(ca).exists()  # the throwaway CA goes with the servers
