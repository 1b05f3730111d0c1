"""robots.txt handling (RFC 9309) and what goes on the wire, against a real socket on 127.0.0.1.

The sample site always serves a 200 robots.txt, so this file runs its own few-line server whose
robots.txt answer each test sets (status, body, redirect).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vehicle_pipeline.http import FetchKind, HttpConfig, Pace, PoliteClient, Reason

pytestmark = pytest.mark.timeout(60)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server: RobotsServer = self.server  # type: ignore[assignment]
        # Logged before answering: a client that got its answer must find its request in the log.
        entry = {"path": self.path, "ua": self.headers.get("User-Agent"), "started": time.monotonic(),
                 "finished": None, "accept_encoding": self.headers.get("Accept-Encoding")}
        server.log.append(entry)
        if self.path == "/robots.txt":
            status, body, headers = server.robots
        elif self.path == "/moved-robots.txt":
            status, body, headers = 200, server.moved_robots, {}
        else:
            status, body, headers = 200, b"<html>page</html>", {}
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        entry["finished"] = time.monotonic()


class RobotsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.robots: tuple[int, bytes, dict] = (200, b"", {})
        self.moved_robots = b""
        self.log: list[dict] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.log]


@pytest.fixture
def server():
    srv = RobotsServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(**kw) -> PoliteClient:
    kw.setdefault("pace", Pace(0, 0))
    return PoliteClient(HttpConfig(allow_private_hosts=["127.0.0.1"], **kw))


@pytest.mark.parametrize("status", [404, 410, 401, 403])
def test_robots_4xx_means_no_restrictions(server, status):
    server.robots = (status, b"nope", {})
    with client() as c:
        assert c.fetch(f"{server.base}/_private/x").ok
    assert server.paths() == ["/robots.txt", "/_private/x"]


@pytest.mark.parametrize("status", [500, 503, 429])
def test_robots_unavailable_means_disallow_everything_for_a_while(server, status):
    server.robots = (status, b"down", {})
    with client(robots_error_ttl=120) as c:
        before = datetime.now(timezone.utc)
        first = c.fetch(f"{server.base}/page")
        second = c.fetch(f"{server.base}/other")
    for result in (first, second):
        assert result.kind is FetchKind.FAILED and result.reason is Reason.ROBOTS_UNAVAILABLE
        assert result.attempts == 0
        assert result.retry_at - before == pytest.approx(timedelta(seconds=120), abs=timedelta(seconds=5))
    assert server.paths() == ["/robots.txt"]  # the verdict is cached; no page was requested


def test_robots_fetched_again_after_the_ttl(server):
    server.robots = (200, b"User-agent: *\nDisallow: /no\n", {})
    with client(robots_ttl=0.3) as c:
        assert c.fetch(f"{server.base}/a").ok
        assert c.fetch(f"{server.base}/no").reason is Reason.ROBOTS_DISALLOWED
        time.sleep(0.4)
        server.robots = (200, b"User-agent: *\nAllow: /\n", {})
        assert c.fetch(f"{server.base}/no").ok
    assert server.paths().count("/robots.txt") == 2


def test_robots_group_for_our_user_agent(server):
    server.robots = (200, b"User-agent: *\nAllow: /\n\nUser-agent: vehicle-pipeline\nDisallow: /listings/\n", {})
    with client() as c:
        assert c.fetch(f"{server.base}/listings/1").reason is Reason.ROBOTS_DISALLOWED
        assert c.fetch(f"{server.base}/about").ok


def test_robots_redirect_is_followed(server):
    server.robots = (301, b"", {"Location": "/moved-robots.txt"})
    server.moved_robots = b"User-agent: *\nDisallow: /secret\n"
    with client() as c:
        assert c.fetch(f"{server.base}/secret/1").reason is Reason.ROBOTS_DISALLOWED
        assert c.fetch(f"{server.base}/open").ok
    assert server.paths() == ["/robots.txt", "/moved-robots.txt", "/open"]


def test_crawl_delay_raises_the_pace(server):
    server.robots = (200, b"User-agent: *\nCrawl-delay: 0.3\n", {})
    with client() as c:
        for i in range(3):
            assert c.fetch(f"{server.base}/p{i}").ok
    pages = [r for r in server.log if r["path"].startswith("/p")]
    for prev, nxt in zip(pages, pages[1:]):
        assert nxt["started"] - prev["started"] >= 0.3
        assert nxt["started"] - prev["finished"] >= 0.28  # "finished" is stamped after the last write


def test_crawl_delay_can_be_ignored_by_configuration(server):
    server.robots = (200, b"User-agent: *\nCrawl-delay: 5\n", {})
    with client(honor_crawl_delay=False) as c:
        started = time.monotonic()
        for i in range(3):
            assert c.fetch(f"{server.base}/p{i}").ok
        assert time.monotonic() - started < 2


def test_user_agent_and_encodings_on_the_wire(server):
    server.robots = (404, b"", {})
    with PoliteClient(HttpConfig(pace=Pace(0, 0), allow_private_hosts=["127.0.0.1"], user_agent="acme-bot/2.0")) as c:
        assert c.fetch(f"{server.base}/ua").ok
    assert {r["ua"] for r in server.log} == {"acme-bot/2.0"}  # robots.txt too
    page = [r for r in server.log if r["path"] == "/ua"][0]
    assert "gzip" in page["accept_encoding"] and "br" in page["accept_encoding"]


def test_robots_can_be_turned_off(server):
    server.robots = (503, b"", {})
    with client(obey_robots=False) as c:
        assert c.fetch(f"{server.base}/x").ok
    assert server.paths() == ["/x"]
