"""The sample site's pages are the size and shape of the real sites' pages, traps included, and cheap to serve.

The facts on the pages are checked against their truth elsewhere (test_sample_pages_*, test_sample_site_truth);
here: that the chrome around them is there (navigation, other listings with prices, extra JSON-LD, scripts
holding HTML) and that pages come to realistic sizes. What rendering costs is measured by the benchmarks
(pipeline_bench reports the seconds the site takes to render every listing page), not asserted here.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from vehicle_pipeline import sources
from vehicle_pipeline.sample_site.pages import load
from vehicle_pipeline.sample_site.spec import SiteContext
from vehicle_pipeline.sample_site.world import build_world


@pytest.fixture(scope="module")
def world_pages():
    """(source, kind, page bytes, url, render seconds) for every listing and index entry page of a 300-listing world.
    A Cars & Bids listing is its page as the browser shows it once its script ran (`render_dom`): the served
    shell is small by design, and its size is the real site's as a browser renders it."""
    w = build_world(11, 300)
    ctx = SiteContext("http://127.0.0.1:8765", w.clock)
    shown = w.snapshot()
    out = []
    for source in ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic"):
        r = load(source)
        mine = [l for l in shown if l.source == source]
        if source != "classic":
            for l in mine:
                t0 = time.perf_counter()
                body = (r.render_dom if source == "carsandbids" else r.render_listing)(l, ctx).body
                out.append((source, "listing", body, ctx.url(source, r.listing_path(l)), time.perf_counter() - t0))
        listed = shown if source == "classic" else mine
        for path in (r.index_paths() if source in ("bat", "carsandbids") else r.index_paths(listed)):
            base, _, q = path.partition("?")
            query = dict(p.split("=", 1) for p in q.split("&") if "=" in p)
            t0 = time.perf_counter()
            rendered = r.render_index(base, query, listed, ctx)
            out.append((source, "index", rendered.body, ctx.url(source, path), time.perf_counter() - t0))
    return out


def pages(world_pages, source, kind):
    return [p for p in world_pages if p[0] == source and p[1] == kind]


# KB ranges per (source, kind): what the renderers' chrome is sized to (see each renderer's notes)
SIZES = {
    ("bat", "listing"): (250, 900), ("bat", "index"): (350, 900),
    ("carsandbids", "listing"): (120, 500),
    ("mecum", "listing"): (150, 400), ("mecum", "index"): (30, 200),
    ("broadarrow", "listing"): (90, 300), ("broadarrow", "index"): (90, 300),
    ("craigslist", "listing"): (10, 60),
    ("dealer", "listing"): (60, 300), ("dealer", "index"): (70, 300),
    ("classic", "index"): (60, 300),
}


@pytest.mark.parametrize("key", list(SIZES), ids=lambda k: "-".join(k))
def test_pages_come_to_realistic_sizes(world_pages, key):
    lo, hi = SIZES[key]
    sizes = [len(p[2]) / 1024 for p in pages(world_pages, *key)]
    assert sizes, key
    assert lo <= min(sizes) and max(sizes) <= hi, (key, round(min(sizes)), round(max(sizes)))


def _scripts(body: bytes) -> str:
    return " ".join(re.findall(r"<script\b[^>]*>(.*?)</script>", body.decode(), re.S))


def _ld_types(body: bytes) -> set[str]:
    found = set()
    for block in re.findall(r'<script[^>]*type="application/ld\+json"[^>]*>(.*?)</script>', body.decode(), re.S):
        data = json.loads(block)
        for node in data.get("@graph", [data]) if isinstance(data, dict) else data:
            t = node.get("@type")
            found.update(t if isinstance(t, list) else [t])
    return found


def test_bat_listing_chrome_carries_the_traps(world_pages):
    source, _, body, url, _ = max(pages(world_pages, "bat", "listing"), key=lambda p: len(p[2]))
    text = body.decode()
    # the sidebar's other auctions: current bids without data-amount, other listings' links
    assert text.count("data-listing-current=") >= 30 and text.count('"/listing/') >= 30
    assert "Sold for" in text.split('class="listing-available-info"')[0]  # before the banner, in the chrome
    assert "listing-available-info" in _scripts(body)  # templates: HTML in scripts
    assert {"BreadcrumbList", "Product"} <= _ld_types(body)
    assert sources.get("bat").parse(body, url=url).outcome is not None


def test_other_sources_chrome_carries_the_traps(world_pages):
    ba = max(pages(world_pages, "broadarrow", "listing"), key=lambda p: len(p[2]))[2].decode()
    assert ba.count('class="ft-vehicle-item grid-block"') >= 12 and "Sold for" in ba  # other lots, as list cards
    cab = max(pages(world_pages, "carsandbids", "listing"), key=lambda p: len(p[2]))[2]
    assert cab.count(b"data:image/png;base64,") >= 10 and {"BreadcrumbList", "Product"} <= _ld_types(cab)
    mecum = max(pages(world_pages, "mecum", "listing"), key=lambda p: len(p[2]))[2].decode()
    next_data = json.loads(re.search(r'id="__NEXT_DATA__"[^>]*>(.*?)</script>', mecum, re.S).group(1))
    assert len(next_data["props"]["pageProps"]["relatedLots"]) >= 12 and "PriceBadge" in mecum.split("LotHeader_title")[1]
    classic = pages(world_pages, "classic", "index")[0][2].decode()
    assert len(re.findall(r'<aside class="featured-sellers">.*?/s/', classic, re.S)) == 1
    assert re.search(r'<header.*?"/s/.*?</header>', classic, re.S)
    dealers = [p[2] for p in pages(world_pages, "dealer", "listing")]
    assert all({"AutoDealer", "WebSite", "BreadcrumbList"} <= _ld_types(b) for b in dealers)
    assert any("ItemList" in _ld_types(b) for b in dealers)  # a VDP's similar vehicles as JSON-LD
    assert any(b.count(b"data-vin=") > 1 for b in dealers)  # a VDP's recommended vehicles as data-vin cards
    cl = [p[2] for p in pages(world_pages, "craigslist", "index")]
    assert any(b"ld_searchpage_results" in b for b in cl)
    posting = pages(world_pages, "craigslist", "listing")[0][2]
    assert {"BreadcrumbList", "Product"} <= _ld_types(posting)


def test_every_page_parses_in_a_deterministic_render(world_pages):
    """Two renders of a page are the same bytes (the chrome comes from seeds, never from the clock or hash order)."""
    w = build_world(11, 300)
    ctx = SiteContext("http://127.0.0.1:8765", w.clock)
    shown = w.snapshot()
    for source in ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer"):
        r = load(source)
        listing = next(l for l in shown if l.source == source)
        assert r.render_listing(listing, ctx).body == r.render_listing(listing, ctx).body
