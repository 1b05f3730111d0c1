"""The rendering fetcher in a real headless Chromium (Debian's, installed by bin/setup; in CI too).

- A Cars & Bids page of the stand-in (an HTML shell whose script fetches the signed detail JSON and builds the
  page) read through the browser parses into its truth, the outcome taken from the captured JSON; the same
  page through the plain client is a clear NeedsBrowser parse error, not a wrong parse.
- Every request a rendered page makes goes through the polite client's policy: a sub-request to a host
  outside the source's allow-list or to a private address is refused (the other server never sees it),
  images are skipped, a site's scripts are kept across pages, and the browser itself never opens a
  connection to a site.
- A missing browser is one clear failed result (browser_error, reported to source health); a crashed one is
  replaced for the next page; no browser process outlives the fetcher.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time

import httpx
import pytest

from vehicle_pipeline.fetch.render import RenderConfig, RenderingFetcher, chromium_executable
from vehicle_pipeline.http import FetchKind, FetchRequest, HttpConfig, Pace, PoliteClient, Reason, SourcePolicy
from vehicle_pipeline.ingest.context import build_http_client
from vehicle_pipeline.model import NeedsBrowser
from vehicle_pipeline.sample_site.server import SampleSite
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources import carsandbids
from vehicle_pipeline_tests.conftest import sample_settings
from vehicle_pipeline_tests.contract_defaults import with_defaults

pytestmark = pytest.mark.timeout(300)


def _descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every live process below `pid`."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                names[int(entry)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":  # a zombie has ended; only its exit status is left to collect
            parents[int(entry)] = int(fields[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = names.get(child, "")
                frontier.append(child)
    return found


def _browsers() -> dict[int, str]:
    return {p: cmd for p, cmd in _descendants(os.getpid()).items() if "chrom" in cmd.split(" ", 1)[0].lower()}


@pytest.fixture(scope="module")
def site():
    with SampleSite(seed=7, listings=40) as s:
        yield s


@pytest.fixture(scope="module")
def cab_entries(site):
    truth = httpx.get(site.base_url + "/_truth", timeout=30).json()
    entries = [e for e in truth["listings"] if e["source"] == "carsandbids"]
    by_outcome = {}
    for e in entries:
        by_outcome.setdefault(e["outcome"], e)
    assert {"sold", "bid_to"} <= set(by_outcome), by_outcome.keys()
    return list(by_outcome.values())


@pytest.fixture(scope="module")
def client(site):
    # The production client, pointed at the stand-in by its resolve override and CA only: the page's
    # third-party scripts (ads, analytics) are off Cars & Bids' allow-list and refused, as on the real site.
    with build_http_client(sample_settings(site)) as c:
        yield c


@pytest.fixture(scope="module")
def renderer(client):
    with RenderingFetcher(client) as r:
        yield r


def test_debian_chromium_is_the_default_browser():
    assert chromium_executable(None) == "/usr/bin/chromium", "bin/setup installs Debian's chromium"
    assert chromium_executable("/opt/x/chrome") == "/opt/x/chrome"


def test_cab_page_read_in_chromium_takes_its_outcome_from_the_captured_json(site, cab_entries, renderer):
    site.clear_requests()
    for entry in cab_entries:
        result = renderer.fetch(entry["fetch_url"], source="carsandbids")
        assert result.kind is FetchKind.OK, result.describe()
        page = result.content
        tree = pk.html_tree(page)
        assert tree.css_first("ul.bid-stats") is not None, "the page's script built the page"
        captured = pk.captured_json(tree)
        assert [u for u, _ in captured if "/v2/autos/auctions/" in u], "the detail JSON the script loaded is kept"
        parsed = carsandbids.parse(page, url=result.final_url, deep=True)
        assert parsed.outcome_evidence.startswith("api:status="), parsed.outcome_evidence
        got = parsed.to_contract(deep=True)
        got.pop("comments", None)
        assert got == with_defaults({k: v for k, v in entry.items() if k != "fetch_url"})
    paths = [r["path"] for r in site.requests()]
    signed = [p for p in paths if "/v2/autos/auctions/" in p]
    assert len(signed) == len(cab_entries) and all("signature=" in p for p in signed)
    assert all(r["status"] == 200 for r in site.requests() if "/v2/autos/auctions/" in r["path"])
    # The site's scripts and stylesheets are asked for once, for every page after: those it serves and those it
    # answers 404 (the stand-in serves none of them); asking again on each page would spend the host's pace.
    assets = [r["path"] for r in site.requests()
              if r["host"] == "carsandbids.com" and r["path"].startswith(("/assets/", "/static/"))]
    assert len(cab_entries) >= 2 and assets and len(assets) == len(set(assets)), assets


def test_pages_open_at_once_ask_for_a_shared_bundle_once(site, cab_entries, client):
    """Two pages rendered at once by a fresh fetcher both want the site's scripts and stylesheets: each is
    requested once, the second page waiting for the first page's request instead of sending its own."""
    site.clear_requests()
    with RenderingFetcher(client, RenderConfig(max_pages=2)) as fresh:
        got = list(fresh.fetch_many([FetchRequest(e["fetch_url"], source="carsandbids") for e in cab_entries[:2]]))
    assert [r.kind for _, r in got] == [FetchKind.OK, FetchKind.OK], [r.describe() for _, r in got]
    assets = [r["path"] for r in site.requests()
              if r["host"] == "carsandbids.com" and r["path"].startswith(("/assets/", "/static/"))]
    assert assets and len(assets) == len(set(assets)), assets


def test_cab_page_through_the_plain_client_is_a_needs_a_browser_parse_error(cab_entries, client):
    entry = cab_entries[0]
    result = client.fetch(entry["fetch_url"], source="carsandbids")
    assert result.kind is FetchKind.OK
    with pytest.raises(NeedsBrowser, match="needs a browser"):
        carsandbids.parse(result.content, url=result.final_url, deep=True)


# ---------------------------------------------------------------- the policy applies to every sub-request


class _Recorder(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, pages: dict[str, tuple[str, bytes]]):
        self.pages = pages
        self.seen: list[tuple[str, str]] = []  # (path, user agent)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(h):  # noqa: N805
                self.seen.append((h.path, h.headers.get("User-Agent", "")))
                found = self.pages.get(h.path.split("?", 1)[0])
                if found is None:
                    h.send_response(404)
                    h.send_header("Content-Length", "0")
                    h.end_headers()
                    return
                ctype, body = found
                h.send_response(200)
                h.send_header("Content-Type", ctype)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


PROBE_PAGE = """<!DOCTYPE html><html><head><title>probe</title></head><body><div id="root"></div>
<img src="/photo.jpg"><script src="/app.js"></script><script>
async function get(url) {{
  try {{ const r = await fetch(url); return r.status + ":" + JSON.stringify(await r.json()); }}
  catch (e) {{ return "refused"; }}
}}
(async () => {{
  const out = {{app: window.appLoaded === true, own: await get("/data.json"), outside: await get("http://outside.example/data.json"),
               private: await get("{secret}/secret.json")}};
  const done = document.createElement("pre"); done.id = "done"; done.textContent = JSON.stringify(out);
  document.getElementById("root").appendChild(done);
}})();
</script></body></html>"""


@pytest.fixture
def probe():
    secret = _Recorder({"/secret.json": ("application/json", b'{"secret": true}')})
    page = _Recorder({})
    page.pages.update({
        "/page": ("text/html; charset=utf-8", PROBE_PAGE.format(secret=secret.origin).encode()),
        "/data.json": ("application/json", b'{"own": 1}'),
        "/photo.jpg": ("image/jpeg", b"\xff\xd8\xff"),
        "/app.js": ("application/javascript", b"window.appLoaded = true;"),
    })
    yield page, secret
    page.shutdown()
    secret.shutdown()


def test_rendered_pages_sub_requests_outside_the_allow_list_or_to_private_addresses_are_refused(probe):
    page, secret = probe
    page_host = page.origin.split("://", 1)[1]
    # "probe" may fetch any public host (allowed_hosts None, as dealers do) plus its own loopback origin;
    # "listed" only its own origin. The secret server is loopback on another port: a private address.
    config = HttpConfig(pace=Pace(0, 0), allow_private_hosts=(page_host,), user_agent="render-test/1",
                        sources={"probe": SourcePolicy(allowed_hosts=None),
                                 "listed": SourcePolicy(allowed_hosts=(page_host,))})
    with PoliteClient(config) as client, RenderingFetcher(
            client, RenderConfig(content_selectors={"probe": "#done", "listed": "#done"})) as renderer:
        for source in ("probe", "listed", "probe"):
            result = renderer.fetch(page.origin + "/page", source=source)
            assert result.kind is FetchKind.OK, result.describe()
            tree = pk.html_tree(result.content)
            outcome = json.loads(tree.css_first("#done").text())
            assert outcome == {"app": True, "own": '200:{"own":1}', "outside": "refused", "private": "refused"}, source
            assert pk.captured_json(tree) == [(page.origin + "/data.json", {"own": 1})]
    assert secret.seen == [], "the private address was never contacted"
    paths = [p for p, _ in page.seen]
    assert "/photo.jpg" not in paths, "images are skipped"
    assert set(paths) == {"/robots.txt", "/page", "/data.json", "/app.js"}
    # The site's script is fetched once per source and kept, as a browser's cache keeps it; the page and its
    # data are fetched each time.
    assert paths.count("/app.js") == 2 and paths.count("/page") == 3 and paths.count("/data.json") == 3
    # Every request that reached a server was the polite client's, none the browser's own.
    assert {ua for _, ua in page.seen} == {"render-test/1"}


def test_a_page_the_site_says_is_gone_is_gone_not_rendered(probe):
    page, _ = probe
    host = page.origin.split("://", 1)[1]
    config = HttpConfig(pace=Pace(0, 0), allow_private_hosts=(host,), sources={"probe": SourcePolicy(allowed_hosts=(host,))})
    with PoliteClient(config) as client, RenderingFetcher(client) as renderer:
        result = renderer.fetch(page.origin + "/no-such-page", source="probe")
    assert result.kind is FetchKind.GONE and result.status == 404


# ---------------------------------------------------------------- a missing or crashed browser, and no leftovers


class _Health:
    def __init__(self):
        self.events = []

    def record_success(self, source):
        self.events.append(("ok", source))

    def record_failure(self, source, *, blocked, reason):
        self.events.append(("failed", source, reason))


def test_a_missing_browser_is_one_clear_failure_reported_to_source_health(site, cab_entries):
    health = _Health()
    with build_http_client(sample_settings(site), health=health) as client, \
            RenderingFetcher(client, RenderConfig(chromium_path="/nonexistent/chromium")) as renderer:
        got = list(renderer.fetch_many([FetchRequest(e["fetch_url"], source="carsandbids") for e in cab_entries[:2]]))
    assert len(got) == 2
    for _, result in got:
        assert result.kind is FetchKind.FAILED and result.reason is Reason.BROWSER
        assert "no Chromium at /nonexistent/chromium" in result.detail
    assert [e[:2] for e in health.events] == [("failed", "carsandbids")] * 2
    assert "browser_error" in health.events[0][2]


def test_a_crashed_browser_is_replaced_and_none_outlives_the_fetcher(site, cab_entries, client):
    before = set(_browsers())
    renderer = RenderingFetcher(client)
    try:
        first = renderer.fetch(cab_entries[0]["fetch_url"], source="carsandbids")
        assert first.ok, first.describe()
        ours = set(_browsers()) - before
        assert ours, "a Chromium process runs while the fetcher is open"
        for pid in ours:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        results = [renderer.fetch(cab_entries[1]["fetch_url"], source="carsandbids") for _ in range(2)]
        # The page the crash took is one browser_error at most; the next is rendered in a new browser.
        assert all(r.ok or r.reason is Reason.BROWSER for r in results), [r.describe() for r in results]
        assert results[-1].ok, results[-1].describe()
    finally:
        renderer.close()
    deadline = time.monotonic() + 10
    while set(_browsers()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(_browsers()) - before, "no browser process outlives the fetcher"
