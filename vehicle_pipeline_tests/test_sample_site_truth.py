"""Every page the sample site serves parses into exactly its /_truth: listing pages (deep, with comments),
index/results/search pages and the seller directory, at the default clock and after the clock moved
(live auctions ended, new listings appeared). Fetched as the demo fetches them: by the pipeline's own HTTP
client with the production configuration, over HTTPS at the real host names (the stand-in reached through the
name-resolution override and its throwaway CA), and parsed by the real parsers.

A source is skipped, naming the missing module, while its renderer or parser does not exist yet."""

from __future__ import annotations

import importlib.util
import json

from urllib.parse import urlsplit

import httpx
import pytest

from vehicle_pipeline.fetch.render import RenderingFetcher
from vehicle_pipeline.ingest.context import IngestSettings, build_http_client
from vehicle_pipeline.sample_site.server import SampleSite
from vehicle_pipeline.sample_site.world import DAY
from vehicle_pipeline_tests.conftest import sample_settings
from vehicle_pipeline_tests.contract_defaults import with_defaults

pytestmark = pytest.mark.timeout(300)

SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")
CLOCKS = {"default": 0, "later": 3 * DAY}


def _require(source: str):
    for module in (f"vehicle_pipeline.sample_site.pages.{source}", f"vehicle_pipeline.sources.{source}"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} does not exist yet")
    from vehicle_pipeline import sources

    return sources.get(source)


@pytest.fixture(scope="module", params=list(CLOCKS))
def served(request):
    """(site, truth, client) with the site's clock moved by the param."""
    with SampleSite(seed=11, listings=90) as site:
        site.advance(CLOCKS[request.param])
        truth = httpx.get(f"{site.base_url}/_truth", timeout=30).json()
        with build_http_client(sample_settings(site)) as client:
            yield site, truth, client


def _source_of(site, url: str) -> str | None:
    """The source whose host `url` is on (by the stand-in's host names, not by anything the parsers decide)."""
    route = site.sites.route(urlsplit(url).hostname or "")
    return route.source if route else None


def _diff(expected: dict, got: dict) -> str:
    keys = sorted(set(expected) | set(got))
    lines = [f"  {k}: truth={json.dumps(expected.get(k))[:300]} parsed={json.dumps(got.get(k))[:300]}"
             for k in keys if expected.get(k) != got.get(k)]
    return "\n".join(lines)


def _compare(module, client, entry: dict, deep: bool, renderer=None) -> str | None:
    url = entry["fetch_url"]
    # A page built by its own script is read as a browser shows it (every request still through the client).
    r = (renderer or client).fetch(url, source=module.NAME)
    if not r.ok or r.final_url != url:
        return f"{url}: {r.describe()} (final url {r.final_url})"
    content = r.content
    from vehicle_pipeline.model import ParseError

    try:
        parsed = module.parse(content, url=url, deep=deep)
    except ParseError as exc:
        return f"{url}: ParseError {exc}"
    got = parsed.to_contract(deep=deep)
    expected = with_defaults({k: v for k, v in entry.items() if k != "fetch_url"})
    if "comments" not in expected and deep:
        # Sources without a comment thread: their truth has no "comments"; the parser must find none either.
        if got.get("comments"):
            return f"{url}: parser found {len(got['comments'])} comments where the page has none"
        got.pop("comments", None)
    if got != expected:
        return f"{url}:\n{_diff(expected, got)}"
    return None


@pytest.mark.parametrize("source", [s for s in SOURCES if s != "classic"])
def test_listing_pages_parse_into_their_truth(served, source):
    module = _require(source)
    site, truth, client = served
    entries = [e for e in truth["listings"] if e["source"] == source or _source_of(site, e["fetch_url"]) == source]
    assert entries, f"no {source} listings in /_truth"
    if source in IngestSettings().render_sources:
        with RenderingFetcher(client) as renderer:
            problems = [p for e in entries if (p := _compare(module, client, e, deep=True, renderer=renderer))]
    else:
        problems = [p for e in entries if (p := _compare(module, client, e, deep=True))]
    assert not problems, f"{len(problems)} of {len(entries)} {source} listing pages differ from /_truth:\n" + "\n".join(problems[:5])


@pytest.mark.parametrize("source", SOURCES)
def test_index_pages_parse_into_their_truth(served, source):
    module = _require(source)
    site, truth, client = served
    entries = [e for e in truth["indexes"] if _source_of(site, e["fetch_url"]) == source]
    entry_points = [u for name, urls in truth["index_entry_points"].items() if name.split(":")[0] == source for u in urls]
    assert entry_points, f"no {source} index entry points in /_truth"
    assert entries, f"no {source} index pages in /_truth"
    assert {e["fetch_url"] for e in entries} >= set(entry_points) - {None}
    problems = [p for e in entries if (p := _compare(module, client, e, deep=False))]
    assert not problems, f"{len(problems)} of {len(entries)} {source} index pages differ from /_truth:\n" + "\n".join(problems[:5])


def test_index_pages_reach_every_listing(served):
    """Walking the indexes finds every visible listing of the rendered sources (paginated to the end)."""
    site, truth, client = served
    from vehicle_pipeline import sources

    missing = []
    for source in ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"):
        if source in truth["missing_renderers"] or importlib.util.find_spec(f"vehicle_pipeline.sources.{source}") is None:
            continue
        module = sources.get(source)
        listed = {module.canonical_url(item["url"]) for page in truth["indexes"]
                  if _source_of(site, page["fetch_url"]) == source for item in page.get("items", [])}
        for e in truth["listings"]:
            if _source_of(site, e["fetch_url"]) == source and module.canonical_url(e["url"]) not in listed:
                missing.append(f"{source}: {e['url']}")
    assert not missing, f"{len(missing)} listings no index page links to:\n" + "\n".join(missing[:10])


def test_duplicates_are_the_same_car(served):
    site, truth, client = served
    by_url = {e["fetch_url"]: e for e in truth["listings"]}
    if not truth["duplicates"]:
        pytest.skip("no two offers of one car are rendered yet: " + ", ".join(truth["missing_renderers"]))
    for group in truth["duplicates"]:
        entries = [by_url[u] for u in group]
        vins = {e.get("vin") for e in entries} - {None}
        assert len(vins) <= 1, group
        assert len({(e.get("year"), e.get("make")) for e in entries}) == 1, group


def test_sellers_truth_matches_directory(served):
    _require("classic")
    site, truth, client = served
    pages = [e for e in truth["indexes"] if e.get("kind") == "sellers"]
    assert pages and truth["sellers"]
    listed = [item for page in pages for item in page["items"]]
    assert {s["profile_url"] for s in truth["sellers"]} <= {s["profile_url"] for s in listed}
