"""The polite client against the sample site: real sockets on 127.0.0.1, no mocked transport.

Pacing is measured with the server's own timestamps (`GET /_admin/requests`), which use the same monotonic
clock as this process, so "no two requests closer than the pace" is checked where the site sees it.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx
import pytest

from vehicle_pipeline.http import (
    FetchKind,
    FetchRequest,
    HealthReporter,
    HttpConfig,
    Pace,
    PoliteClient,
    Reason,
    SourcePolicy,
)
from vehicle_pipeline.fetch.transport import GuardedBackend, RefusedConnect

SampleSite = pytest.importorskip("vehicle_pipeline.sample_site.server").SampleSite

pytestmark = pytest.mark.timeout(120)

NO_PACE = Pace(0, 0)
FINISH_STAMP_LAG = 0.02


@pytest.fixture(scope="module")
def site():
    with SampleSite(seed=7, listings=60, extra_ports=3) as s:
        yield s


def make_client(site, *, pace: Pace = NO_PACE, health: HealthReporter | None = None, **overrides) -> PoliteClient:
    cfg = HttpConfig(**{"pace": pace, "allow_private_hosts": ["127.0.0.1"], "retry_backoff": 0.05, **overrides})
    return PoliteClient(cfg, health=health)


def admin_requests(site) -> list[dict]:
    return httpx.get(f"{site.base_url}/_admin/requests", timeout=10).json()


def seen(site, path_prefix: str, port: int | None = None) -> list[dict]:
    """Requests the server saw whose path starts with `path_prefix`, oldest first (admin calls excluded)."""
    rows = [r for r in admin_requests(site) if r["path"].startswith(path_prefix)]
    if port is not None:
        rows = [r for r in rows if r["port"] == port]
    return sorted(rows, key=lambda r: r["started"])


def port_of(url: str) -> int:
    return urlsplit(url).port


def key() -> str:
    return uuid.uuid4().hex[:10]


class RecordingHealth:
    """A real HealthReporter that keeps what it is told, in order."""

    def __init__(self):
        self.events: list[tuple] = []
        self.threads: set[str] = set()

    def record_success(self, source: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append(("success", source))

    def record_failure(self, source: str, *, blocked: bool, reason: str) -> None:
        self.threads.add(threading.current_thread().name)
        self.events.append(("failure", source, blocked, reason))


# ---- pacing and parallel hosts


def test_per_host_pacing_measured_at_the_server(site):
    tag = key()
    urls = [f"{site.base_url}/_fault/status/200?pace={tag}&i={i}" for i in range(6)]
    with make_client(site, pace=Pace(0.3, 0.4)) as client:
        started = time.monotonic()
        results = list(client.fetch_many(urls, max_in_flight=6))
        wall = time.monotonic() - started
    assert all(r.ok for _, r in results), [r.describe() for _, r in results]
    rows = [r for r in seen(site, "/", port_of(site.base_url)) if tag in r["path"] or r["path"] == "/robots.txt"]
    rows = [r for r in rows if r["started"] >= started]
    assert len(rows) >= 6
    for prev, nxt in zip(rows, rows[1:]):
        assert nxt["started"] - prev["started"] >= 0.3, (prev, nxt)
        # and one pace after the previous one *finished* (the server stamps "finished" after its last
        # write, which can lag the moment the client has the response by a few ms)
        assert nxt["started"] - prev["finished"] >= 0.3 - FINISH_STAMP_LAG, (prev, nxt)
    gaps = [b["started"] - a["started"] for a, b in zip(rows, rows[1:])]
    assert max(gaps) - min(gaps) > 0.005  # randomized between 0.3 and 0.4, not a fixed tick
    assert wall >= 5 * 0.3


def test_hosts_are_served_in_parallel_each_at_its_own_pace(site):
    assert len(site.base_urls) >= 4
    tag = key()
    per_host = 5
    urls = [f"{base}/_fault/status/200?par={tag}&i={i}" for i in range(per_host) for base in site.base_urls]
    with make_client(site, pace=Pace(0.3, 0.3)) as client:
        started = time.monotonic()
        results = list(client.fetch_many(urls, max_in_flight=32))
        wall = time.monotonic() - started
    assert len(results) == len(urls) and all(r.ok for _, r in results)
    # robots.txt + 5 pages per host: 5 gaps of 0.3 s. Serially over 4 hosts it would take 4x as long.
    per_host_floor = per_host * 0.3
    assert wall >= per_host_floor
    assert wall < per_host_floor * 1.8, wall
    rows = [r for r in admin_requests(site) if tag in r["path"]]
    by_port = defaultdict(list)
    for r in rows:
        by_port[r["port"]].append(r)
    assert sorted(by_port) == sorted(port_of(b) for b in site.base_urls)
    for port, port_rows in by_port.items():
        port_rows.sort(key=lambda r: r["started"])
        assert len(port_rows) == per_host
        for prev, nxt in zip(port_rows, port_rows[1:]):
            assert nxt["started"] - prev["started"] >= 0.3, (port, prev, nxt)
            assert nxt["started"] - prev["finished"] >= 0.3 - FINISH_STAMP_LAG, (port, prev, nxt)
    # the hosts overlapped: every host's first page came before any host's last page
    firsts = [min(r["started"] for r in v) for v in by_port.values()]
    lasts = [max(r["started"] for r in v) for v in by_port.values()]
    assert max(firsts) < min(lasts)


def test_per_host_concurrency_limit(site):
    tag = key()
    urls = [f"{site.base_url}/_fault/slow?seconds=0.4&conc={tag}&i={i}" for i in range(6)]
    with make_client(site, pace=Pace(0, 0, concurrency=2)) as client:
        results = list(client.fetch_many(urls, max_in_flight=6))
    assert all(r.ok for _, r in results)
    rows = [r for r in admin_requests(site) if tag in r["path"]]
    assert _peak_in_flight(rows) == 2


def _peak_in_flight(rows: list[dict]) -> int:
    events = sorted([(r["started"], 1) for r in rows] + [(r["finished"], -1) for r in rows])
    in_flight = peak = 0
    for _, delta in events:
        in_flight += delta
        peak = max(peak, in_flight)
    return peak


def site_client(site, **overrides) -> PoliteClient:
    """A client that reaches the stand-in at the real host names: the override, its CA, its hosts allowed."""
    return make_client(site, resolve=site.resolve, extra_ca_file=site.ca_file,
                       allow_private_hosts=list(site.resolve), **overrides)


def test_each_site_of_the_stand_in_is_a_host_with_a_lane_of_its_own(site, truth_urls):
    """The stand-in answers each site at its real host names, each site on a loopback address of its own: the
    client runs one lane per host (each host one request at a time, the hosts at once), as on the real web.
    Two Craigslist metros are two hosts."""
    hosts = ("bringatrailer.com", "www.mecum.com", "sacramento.craigslist.org", "seattle.craigslist.org")
    wanted = [[u for u in truth_urls if urlsplit(u).hostname == h][:2] for h in hosts]
    assert all(len(urls) == 2 for urls in wanted), wanted
    sources = {"bringatrailer.com": "bat", "www.mecum.com": "mecum"}
    requests = [FetchRequest(u, source=sources.get(urlsplit(u).hostname, "craigslist")) for urls in wanted for u in urls]
    site.set_faults("bat:slow:seconds=0.3,mecum:slow:seconds=0.3,craigslist:slow:seconds=0.3")
    try:
        with site_client(site) as client:
            site.clear_requests()
            results = list(client.fetch_many(requests, max_in_flight=16))
    finally:
        site.set_faults(None)
    assert len(results) == len(requests) and all(r.ok for _, r in results), [r.describe() for _, r in results]
    rows = [r for r in admin_requests(site) if r["host"] in hosts and r["path"] != "/robots.txt"]
    assert len(rows) == len(requests)
    assert _peak_in_flight(rows) == len(hosts)
    for host in hosts:
        assert _peak_in_flight([r for r in rows if r["host"] == host]) == 1, host


@pytest.fixture(scope="module")
def truth_urls(site) -> list[str]:
    truth = httpx.get(f"{site.base_url}/_truth", timeout=30).json()
    return [item["fetch_url"] for item in truth["listings"]] + [page["fetch_url"] for page in truth["indexes"]]


# ---- robots.txt


def test_robots_disallow_is_honoured_and_fetched_once(site):
    base = site.base_urls[1]
    with make_client(site) as client:
        for path in ("/_private/x", "/_fault/disallowed/x", "/_private/y?z=1"):
            result = client.fetch(base + path)
            assert result.kind is FetchKind.FAILED and result.reason is Reason.ROBOTS_DISALLOWED
            assert result.attempts == 0
        assert client.fetch(base + "/_fault/status/200?robots=" + key()).ok
    port = port_of(base)
    assert seen(site, "/_private", port) == []
    assert seen(site, "/_fault/disallowed", port) == []
    assert len(seen(site, "/robots.txt", port)) >= 1


def test_robots_cached_once_per_client(site):
    base = site.base_urls[2]
    with make_client(site) as client:
        before = len(seen(site, "/robots.txt", port_of(base)))
        for _ in range(3):
            assert client.fetch(f"{base}/_fault/status/200?rc={key()}").ok
        assert len(seen(site, "/robots.txt", port_of(base))) == before + 1


# ---- retries and Retry-After


def test_short_retry_after_is_honoured(site):
    k = key()
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/flaky/{k}?fail=1&code=503&retry_after=1")
    assert result.ok and result.attempts == 2
    rows = seen(site, f"/_fault/flaky/{k}")
    assert len(rows) == 2
    assert rows[1]["started"] - rows[0]["finished"] >= 1.0


def test_retry_after_on_429_then_success(site):
    k = key()
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/flaky/{k}?fail=2&code=429&retry_after=0")
    assert result.ok and result.attempts == 3


def test_long_retry_after_returns_retry_later_without_sleeping(site):
    with make_client(site) as client:
        url = f"{site.base_url}/_fault/status/429?retry_after=600&k={key()}"
        before = datetime.now(timezone.utc)
        result = client.fetch(url)
        assert result.kind is FetchKind.RETRY_LATER and result.reason is Reason.RETRY_AFTER
        assert result.elapsed < 2 and result.attempts == 1
        assert result.retry_at - before == pytest.approx(timedelta(seconds=600), abs=timedelta(seconds=5))
        # the host asked for ten minutes: the next request to it is snoozed without being sent
        again = client.fetch(f"{site.base_url}/_fault/status/200?after={key()}")
        assert again.kind is FetchKind.RETRY_LATER and again.reason is Reason.HOST_BACKOFF
        assert again.attempts == 0 and again.retry_at is not None
    assert seen(site, "/_fault/status/200?after=") == []


def test_retry_after_as_an_http_date(site):
    with make_client(site) as client:
        before = datetime.now(timezone.utc)
        result = client.fetch(f"{site.base_urls[2]}/_fault/status/503?retry_after_date=600&k={key()}")
    assert result.kind is FetchKind.RETRY_LATER and result.reason is Reason.RETRY_AFTER
    assert result.retry_at - before == pytest.approx(timedelta(seconds=600), abs=timedelta(seconds=5))


def test_retry_after_beyond_one_hour_is_capped(site):
    with make_client(site) as client:
        before = datetime.now(timezone.utc)
        result = client.fetch(f"{site.base_urls[3]}/_fault/status/503?retry_after=86400&k={key()}")
    assert result.kind is FetchKind.RETRY_LATER
    assert result.retry_at - before == pytest.approx(timedelta(hours=1), abs=timedelta(seconds=5))


def test_retries_are_bounded_on_a_permanent_503(site):
    k = key()
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/status/503?k={k}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.HTTP_STATUS and result.status == 503
    assert result.attempts == 3
    assert len(seen(site, f"/_fault/status/503?k={k}")) == 3


def test_429_after_retries_is_blocked(site):
    k = key()
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/status/429?k={k}")
    assert result.kind is FetchKind.BLOCKED and result.status == 429 and result.attempts == 3


def test_connection_refused_is_failed_after_bounded_retries(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with make_client(site, obey_robots=False) as client:
        result = client.fetch(f"http://127.0.0.1:{dead_port}/x")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.CONNECTION and result.attempts == 3


# ---- block signals and source health


@pytest.mark.parametrize("vendor", ["cloudflare", "datadome", "perimeterx", "incapsula"])
def test_challenge_pages_are_blocked(site, vendor):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/challenge/{vendor}?k={key()}")
    assert result.kind is FetchKind.BLOCKED and result.reason is Reason.CHALLENGE
    assert result.challenge == vendor
    assert result.attempts == 1  # retrying a challenge only digs deeper


@pytest.mark.parametrize("status", [401, 403])
def test_auth_statuses_are_blocked(site, status):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/status/{status}?k={key()}")
    assert result.kind is FetchKind.BLOCKED and result.status == status and result.attempts == 1


def test_outcomes_reach_the_health_reporter(site):
    health = RecordingHealth()
    b = site.base_url
    with make_client(site, health=health) as client:
        client.fetch(f"{b}/_fault/status/200?h={key()}", source="bat")
        client.fetch(f"{b}/_fault/challenge/cloudflare?h={key()}", source="bat")
        client.fetch(f"{b}/_fault/status/403?h={key()}", source="carsandbids")
        client.fetch(f"{b}/_fault/status/503?h={key()}", source="mecum")
        client.fetch(f"{b}/_fault/gone/410?h={key()}", source="broadarrow")
        client.fetch(f"{b}/_private/x", source="craigslist")  # robots: our rule, not reported
        client.fetch("http://127.0.0.2:9/x", source="craigslist")  # refused: never sent, not reported
        client.fetch(f"{b}/_fault/status/200?anon={key()}")  # no source: nothing to report
    assert health.events[0] == ("success", "bat")
    assert health.events[1][:3] == ("failure", "bat", True) and "challenge" in health.events[1][3]
    assert health.events[2][:3] == ("failure", "carsandbids", True) and "403" in health.events[2][3]
    assert health.events[3][:3] == ("failure", "mecum", False) and "503" in health.events[3][3]
    assert health.events[4] == ("success", "broadarrow")
    assert len(health.events) == 5
    # called in the caller's thread, so a reporter may use the caller's database connection
    assert health.threads == {threading.current_thread().name}


def test_retry_later_reports_a_block_for_429(site):
    health = RecordingHealth()
    with make_client(site, health=health) as client:
        result = client.fetch(f"{site.base_urls[3]}/_fault/status/429?retry_after=7200&k={key()}", source="bat")
    assert result.kind is FetchKind.RETRY_LATER
    assert health.events == [("failure", "bat", True, health.events[0][3])]


def test_isinstance_health_protocol():
    assert isinstance(RecordingHealth(), HealthReporter)


# ---- bodies


def test_body_cap_enforced_while_streaming(site):
    with make_client(site, max_body_bytes=1 * 1024 * 1024) as client:
        result = client.fetch(f"{site.base_url}/_fault/big?mb=5&k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.BODY_TOO_LARGE
    assert result.content == b""


def test_body_under_the_cap_is_read_whole(site):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/big?mb=2&k={key()}")
    assert result.ok and len(result.content) == 2 * 1024 * 1024


def test_default_cap_is_ten_megabytes(site):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/big?mb=11&k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.BODY_TOO_LARGE


def test_truncated_body_fails(site):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/truncated?k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.TRUNCATED and result.status == 200


@pytest.mark.parametrize("encoding", ["gzip", "brotli"])
def test_compressed_bodies_are_decoded(site, encoding):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/{encoding}?k={key()}")
    assert result.ok
    assert result.headers["content-encoding"] == {"gzip": "gzip", "brotli": "br"}[encoding]
    assert len(result.content) > 0
    assert not result.content.startswith(b"\x1f\x8b")  # not the gzip magic: decoded


def test_read_timeout(site):
    with make_client(site, read_timeout=0.5) as client:
        result = client.fetch(f"{site.base_url}/_fault/slow?seconds=3&k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.TIMEOUT
    assert result.elapsed < 2.5


def test_whole_attempt_deadline(site):
    # read_timeout is per read; attempt_timeout bounds the whole request however the server dribbles
    with make_client(site, read_timeout=10, attempt_timeout=0.5) as client:
        result = client.fetch(f"{site.base_url}/_fault/slow?seconds=3&k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.TIMEOUT
    assert result.elapsed < 2.5


# ---- redirects and refused URLs


def test_redirects_followed_and_checked(site):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/redirect/3?k={key()}")
    assert result.ok and result.attempts == 4 and result.final_url != result.url


def test_redirect_loop_stopped(site):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/redirect_loop/2?k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.TOO_MANY_REDIRECTS
    assert result.attempts == 6  # the first request and 5 redirects


def test_redirect_to_a_private_address_refused_before_connecting(site):
    k = key()
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/redirect_private?k={k}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.REFUSED_URL
    assert urlsplit(result.final_url).hostname == "127.0.0.2"
    assert result.attempts == 1
    rows = admin_requests(site)
    (origin,) = [r for r in rows if r["path"] == f"/_fault/redirect_private?k={k}"]
    # the redirect points at /_fault/status/200 on 127.0.0.2: no such request may follow
    assert not [r for r in rows if r["path"] == "/_fault/status/200" and r["started"] >= origin["started"]]


def test_source_allowed_hosts_enforced(site):
    other = site.base_urls[1]
    with make_client(site, sources={"bat": SourcePolicy(allowed_hosts=[urlsplit(site.base_url).netloc])}) as client:
        assert client.fetch(f"{site.base_url}/_fault/status/200?k={key()}", source="bat").ok
        refused = client.fetch(f"{other}/_fault/status/200?k={key()}", source="bat")
    assert refused.kind is FetchKind.FAILED and refused.reason is Reason.REFUSED_URL and refused.attempts == 0


def test_private_host_refused_by_default(site):
    # the same sample site, but without allow_private_hosts: refused before any connection
    with PoliteClient(HttpConfig(pace=NO_PACE)) as client:
        result = client.fetch(f"{site.base_url}/_fault/status/200?k={key()}")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.REFUSED_URL and result.attempts == 0


def test_connect_guard_refuses_names_that_resolve_to_loopback():
    import asyncio

    async def attempt():
        # "localhost" resolves to loopback: the guard must refuse it before opening a socket
        await GuardedBackend([]).connect_tcp("localhost", 9, timeout=5)

    with pytest.raises(RefusedConnect, match="loopback"):
        asyncio.run(attempt())


def test_connect_guard_refusal_is_a_refused_url_not_a_connection_error(site):
    """Past the URL check (as after a DNS answer changed), a name that resolves to loopback is refused at
    connect time, reported as refused_url (not retried as a connection error) and never connected to."""
    import asyncio

    port = site.base_url.rsplit(":", 1)[1]
    before = len(admin_requests(site))
    with PoliteClient(HttpConfig(pace=NO_PACE, obey_robots=False)) as client:
        got = asyncio.run_coroutine_threadsafe(
            client._attempt(f"http://localhost:{port}/_fault/status/200?k={key()}", {}), client._ensure_loop()
        ).result(timeout=30)
    assert got.reason is Reason.REFUSED_URL and "loopback" in got.detail and not got.retryable
    assert got.status is None and len(admin_requests(site)) == before


# ---- conditional GET and removed listings


def test_conditional_get_etag_and_last_modified(site):
    url = f"{site.base_url}/_fault/etag/{key()}"
    with make_client(site) as client:
        first = client.fetch(url)
        assert first.ok and first.etag and first.last_modified
        by_etag = client.fetch(url, etag=first.etag)
        assert by_etag.kind is FetchKind.NOT_MODIFIED and by_etag.status == 304 and by_etag.content == b""
        assert by_etag.etag == first.etag
        by_date = client.fetch(url, last_modified=first.last_modified)
        assert by_date.kind is FetchKind.NOT_MODIFIED
        stale = client.fetch(url, etag='"something-else"')
        assert stale.ok


@pytest.mark.parametrize("status", [404, 410])
def test_removed_listing_is_gone(site, status):
    with make_client(site) as client:
        result = client.fetch(f"{site.base_url}/_fault/gone/{status}?k={key()}")
    assert result.kind is FetchKind.GONE and result.status == status and result.attempts == 1


# ---- the sync facade


def test_fetch_from_many_threads_and_repeatedly(site):
    with make_client(site) as client:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: client.fetch(f"{site.base_url}/_fault/status/200?t={i}"), range(20)))
        assert all(r.ok for r in results)
        assert client.fetch(f"{site.base_url}/_fault/status/200?again=1").ok


def test_fetch_many_yields_as_each_completes(site):
    slow = f"{site.base_urls[0]}/_fault/slow?seconds=1&k={key()}"
    fast = f"{site.base_urls[1]}/_fault/status/200?k={key()}"
    with make_client(site) as client:
        order = [req.url for req, _ in client.fetch_many([FetchRequest(slow, tag=1), FetchRequest(fast, tag=2)])]
    assert order == [fast, slow]


def test_fetch_many_consumes_its_input_lazily(site):
    taken = 0

    def requests():
        nonlocal taken
        for i in range(40):
            taken += 1
            yield FetchRequest(f"{site.base_urls[i % 4]}/_fault/status/200?lazy={i}", tag=i)

    with make_client(site) as client:
        tags = []
        for req, result in client.fetch_many(requests(), max_in_flight=2, lookahead=6):
            assert result.ok
            tags.append(req.tag)
            assert taken - len(tags) <= 6  # never more than the lookahead taken and not yet yielded
    assert sorted(tags) == list(range(40))


def test_a_slow_paced_host_at_the_head_does_not_starve_the_others(site):
    tag = key()
    slow_host = [FetchRequest(f"{site.base_urls[0]}/_fault/status/200?hol={tag}&i={i}", tag="slow") for i in range(6)]
    others = [FetchRequest(f"{b}/_fault/status/200?hol={tag}", tag="other") for b in site.base_urls[1:]]
    with make_client(site, pace=Pace(0.3, 0.3)) as client:
        order = [req.tag for req, _ in client.fetch_many(slow_host + others, max_in_flight=4, lookahead=16)]
    # the other hosts' pages come back while the slow host is still working through its queue
    assert order.index("other") < 3 and order[-1] == "slow", order


def test_close_while_fetch_many_waits_ends_the_iteration(site):
    urls = [f"{site.base_url}/_fault/status/200?closing={key()}&i={i}" for i in range(10)]
    client = make_client(site, pace=Pace(0.5, 0.5))
    got = []
    with pytest.raises(RuntimeError, match="closed"):
        for i, (_, result) in enumerate(client.fetch_many(urls, max_in_flight=10)):
            got.append(result)
            if i == 0:
                threading.Timer(0.1, client.close).start()
    assert len(got) < len(urls)


def test_leaving_fetch_many_early_cancels_the_rest(site):
    tag = key()
    urls = [f"{site.base_url}/_fault/status/200?early={tag}&i={i}" for i in range(20)]
    with make_client(site, pace=Pace(0.2, 0.2)) as client:
        for _ in client.fetch_many(urls, max_in_flight=20):
            break
        time.sleep(0.6)
    assert len([r for r in admin_requests(site) if tag in r["path"]]) <= 2


def test_closed_client_refuses_work(site):
    client = make_client(site)
    assert client.fetch(f"{site.base_url}/_fault/status/200?c={key()}").ok
    client.close()
    client.close()  # idempotent
    with pytest.raises(RuntimeError):
        client.fetch(f"{site.base_url}/_fault/status/200")


def test_listing_pages_fetch(site, truth_urls):
    urls = truth_urls[:10]
    assert urls and all(u.startswith("https://") for u in urls)
    with site_client(site) as client:
        results = list(client.fetch_many(urls))
    statuses = Counter(r.status for _, r in results)
    assert statuses[200] == len(urls), statuses


def test_fetch_async_from_another_event_loop(site):
    import asyncio

    health = RecordingHealth()

    async def main(client):
        urls = [f"{site.base_urls[i % 4]}/_fault/status/200?aio={key()}" for i in range(8)]
        return await asyncio.gather(*(client.fetch_async(u, source="bat") for u in urls))

    with make_client(site, health=health) as client:
        results = asyncio.run(main(client))
    assert all(r.ok for r in results)
    assert health.events == [("success", "bat")] * 8
