"""Bad input: a clear ParseError (exit 2, one line), never a traceback, never an invented value."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vehicle_pipeline import sources
from vehicle_pipeline.sources import _pagekit, bat
from vehicle_pipeline.model import IndexPage, ParseError, SellerDirectoryPage, VehicleListing

FIXTURES = Path(__file__).parent / "fixtures"
MINE = ("bat", "carsandbids")


def existing_modules() -> list[str]:
    out = []
    for name in sources.SOURCE_NAMES:
        try:
            importlib.import_module(f"vehicle_pipeline.sources.{name}")
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


CHALLENGES = {
    "cloudflare": b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><div id=\"cf-wrapper\">"
                  b"<script>window._cf_chl_opt={cType:'managed'};</script>Checking your browser</div></body></html>",
    "datadome": b"<html><head><title>carsandbids.com</title></head><body><script>var dd={'cid':'AHrlqAAA','hsh':'x',"
                b"'host':'geo.captcha-delivery.com'}</script><script src=\"https://ct.captcha-delivery.com/c.js\"></script></body></html>",
    "perimeterx": b"<html><head><title>Access to this page has been denied.</title></head><body><div id=\"px-captcha\"></div>"
                  b"<script>window._pxAppId='PXabc123';</script></body></html>",
    "incapsula": b"<html><head><META NAME=\"robots\" CONTENT=\"noindex,nofollow\"><script src=\"/_Incapsula_Resource?SWJIYLWA=719d\">"
                 b"</script></head><body>Request unsuccessful. Incapsula incident ID: 1234</body></html>",
}


def bad_inputs() -> dict[str, bytes]:
    bat_page = (FIXTURES / "bat" / "listing_sold.html").read_bytes()
    cab_page = (FIXTURES / "carsandbids" / "auction_sold.html").read_bytes()
    return {
        "empty": b"",
        "whitespace": b"  \n\t ",
        "binary": bytes(range(256)) * 40,
        "gzip-bytes": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(200),
        "truncated-bat": bat_page[:300],
        "truncated-cab": cab_page[:400],
        "json-garbage": b'{"items": [1, 2',
        "json-other": b'{"hello": "world"}',
        "plain-html": b"<html><body><h1>Hello</h1><p>Sold for $1,000,000</p></body></html>",
        **{f"challenge-{k}": v for k, v in CHALLENGES.items()},
    }


@pytest.mark.parametrize("source", MINE)
@pytest.mark.parametrize("case", sorted(bad_inputs()))
def test_bad_input_is_a_parse_error(source, case):
    module = sources.get(source)
    with pytest.raises(ParseError) as err:
        module.parse(bad_inputs()[case], url=None)
    assert err.value.source == source and err.value.missing


@pytest.mark.parametrize("source", MINE)
@pytest.mark.parametrize("vendor", sorted(CHALLENGES))
def test_challenge_pages_are_named(source, vendor):
    with pytest.raises(ParseError) as err:
        sources.get(source).parse(CHALLENGES[vendor])
    assert vendor in err.value.missing


def test_other_sources_pages_are_rejected():
    bat_page = (FIXTURES / "bat" / "listing_sold.html").read_bytes()
    cab_page = (FIXTURES / "carsandbids" / "auction_sold.html").read_bytes()
    cab_json = (FIXTURES / "carsandbids" / "detail_sold_2026.json").read_bytes()
    with pytest.raises(ParseError):
        sources.get("carsandbids").parse(bat_page)
    with pytest.raises(ParseError):
        sources.get("carsandbids").parse((FIXTURES / "bat" / "listings_filter_page2.json").read_bytes())
    for page in (cab_page, cab_json, (FIXTURES / "carsandbids" / "list_closed.json").read_bytes()):
        with pytest.raises(ParseError):
            sources.get("bat").parse(page)


def test_key_element_removed():
    cab_page = (FIXTURES / "carsandbids" / "auction_sold.html").read_bytes()
    _fails_or_falls_back("carsandbids", cab_page.replace(b'<ul class="bid-stats">', b'<ul class="x">'))
    bat_page = (FIXTURES / "bat" / "listing_bidto_2021.html").read_bytes()
    # Banner and title gone: the only "Sold for" left is in the sidebar; it must not become a sale.
    stripped = bat_page.replace(b'class="listing-available-info"', b'class="x"').replace(b"<title>", b"<title>x")
    stripped = stripped.replace(b"bid to $61,000", b"")
    _fails_or_falls_back("bat", stripped)


def _fails_or_falls_back(source: str, page: bytes) -> None:
    """The source's parser refuses the page; the structured-data last resort may read it, deciding nothing."""
    module = sources.get(source)
    with pytest.raises(ParseError):
        module.parse.__wrapped__(page)
    try:
        read = module.parse(page)
    except ParseError:
        return
    assert read.fallback and read.sale_price is None and read.outcome in (None, "unknown")


def test_truncated_bat_vms_is_a_parse_error_only_when_deep():
    page = (FIXTURES / "bat" / "listing_sold.html").read_bytes()
    cut = page[: page.index(b'"type":"bat-bid-reserve"')]
    assert sources.get("bat").parse(cut).outcome == "sold"
    assert not sources.get("bat").parse(cut).fallback
    with pytest.raises(ParseError) as err:
        bat.parse.__wrapped__(cut, deep=True)  # the parser itself, without the structured-data last resort
    assert "BAT_VMS" in err.value.missing
    # through the last resort the page is read from its JSON-LD: a high bid of an outcome nobody decided
    fallback = sources.get("bat").parse(cut, deep=True)
    assert fallback.fallback and fallback.outcome == "unknown" and fallback.sale_price is None
    assert fallback.high_bid == 18500 and fallback.outcome_evidence == "fallback:json-ld"


def test_ten_megabyte_page():
    filler = b"<div class='noise'>" + b"x" * 1000 + b"</div>\n"
    big = b"<html><body>" + filler * (10 * 1024) + b"</body></html>"
    assert len(big) > 10_000_000
    for source in MINE:
        with pytest.raises(ParseError):
            sources.get(source).parse(big)
    # A real page padded to 10 MB still parses to the same facts.
    page = (FIXTURES / "bat" / "listing_sold.html").read_bytes()
    padded = page.replace(b"</body>", filler * (10 * 1024) + b"</body>")
    assert sources.get("bat").parse(padded).sale_price == 18500


def _cli(*args: str, stdin_file: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vehicle_pipeline.cli", "parse", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["empty", "binary", "challenge-cloudflare", "truncated-bat"])
def test_cli_exit_2_with_one_line(tmp_path, case):
    path = tmp_path / f"{case}.html"
    path.write_bytes(bad_inputs()[case])
    for source in MINE:
        proc = _cli(source, str(path))
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr
        assert source in lines[0] and path.name in lines[0]


def test_cli_never_prints_a_sale_price_on_bid_to(tmp_path):
    proc = _cli("bat", str(FIXTURES / "bat" / "listing_bidto_2021.html"))
    d = json.loads(proc.stdout)
    assert d["outcome"] == "bid_to" and d["sale_price"] is None and d["high_bid"] == 61000


# ---------------------------------------------------------------- properties

SEEDS = {
    "bat": (FIXTURES / "bat" / "listing_sold.html").read_bytes(),
    "carsandbids": (FIXTURES / "carsandbids" / "auction_sold.html").read_bytes(),
}


def _check(module, data: bytes) -> None:
    try:
        out = module.parse(data)
    except ParseError:
        return
    assert isinstance(out, (VehicleListing, IndexPage, SellerDirectoryPage))
    json.dumps(out.to_contract(deep=True))  # the contract is always printable
    if isinstance(out, VehicleListing):
        assert out.sale_price is None or out.outcome in ("sold", "sold_after")


@pytest.mark.parametrize("source", existing_modules())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_any_bytes_give_a_page_or_a_parse_error(source, data):
    _check(sources.get(source), data)


@pytest.mark.parametrize("source", MINE)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mangled_real_shaped_pages_give_a_page_or_a_parse_error(source, data):
    page = bytearray(SEEDS[source])
    cut = data.draw(st.integers(min_value=0, max_value=len(page)))
    junk = data.draw(st.binary(max_size=64))
    at = data.draw(st.integers(min_value=0, max_value=cut))
    mangled = bytes(page[:at]) + junk + bytes(page[at:cut])
    _check(sources.get(source), mangled)


@pytest.mark.parametrize("path", sorted(p for p in (Path(__file__).parent / "fixtures").rglob("*.htm*")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_unreadable_canonical_link_is_a_parse_error_not_a_crash(path):
    """Found by the property test: a canonical link of "http://[" made urlsplit raise ValueError."""
    page = re.sub(rb'(rel="canonical"[^>]*href=")[^"]*"', rb'\1https://[/auctions/x"', path.read_bytes())
    page = re.sub(rb'(property="og:url"[^>]*content=")[^"]*"', rb'\1http://[x"', page)
    module = sources.get(path.parent.name)
    try:
        module.parse(page)
    except ParseError:
        pass


# Scripts the bot-protection vendors put into the ordinary pages they protect (Cloudflare's JS detection,
# Incapsula's resource loader): a page carrying them is still a page, not a challenge.
_VENDOR_SCRIPTS = (b'<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
                   b'<script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script>')
_PROTECTED = [("dealer", "dealer/ddc_vdp.html"), ("dealer", "dealer/srp_itemlist.html"),
              ("craigslist", "craigslist/posting_modern.html"), ("craigslist", "craigslist/legacy_search.html"),
              ("mecum", "mecum/lot_sold.html"), ("broadarrow", "broadarrow/lot_sold.html"),
              ("classic", "classic/seller_dealer.html"), ("bat", "bat/listing_sold.html"),
              ("carsandbids", "carsandbids/auction_sold.html")]


@pytest.mark.parametrize("source,fixture", _PROTECTED)
def test_a_protected_page_with_the_vendors_scripts_still_parses(source, fixture):
    page = (FIXTURES / fixture).read_bytes()
    assert b"</head>" in page
    with_scripts = page.replace(b"</head>", _VENDOR_SCRIPTS + b"</head>", 1)
    parse = sources.get(source).parse
    assert repr(parse(with_scripts)) == repr(parse(page))


@pytest.mark.parametrize("source", sorted(set(existing_modules()) - set(MINE)))
@pytest.mark.parametrize("vendor", ["cloudflare", "perimeterx", "incapsula"])
def test_the_interstitials_are_still_refused_by_every_parser(source, vendor):
    with pytest.raises(ParseError) as err:
        sources.get(source).parse(CHALLENGES[vendor])
    assert "challenge" in err.value.missing


# ---------------------------------------------------------------- one challenge check, after a failed parse
# Every parser checks for a bot challenge only when a page fails to parse (`_pagekit.guarded`): a challenge page
# never has a listing's or a list's structure, so it always fails there, and a page that parses pays nothing.

# URLs the pipeline passes along with a page (the URL decides some parsers' page kind).
_URLS = {
    "bat": ["https://bringatrailer.com/listing/1990-x/", "https://bringatrailer.com/auctions/results/"],
    "carsandbids": ["https://carsandbids.com/auctions/abc123/1990-x", "https://carsandbids.com/v2/autos/auctions/abc123"],
    "mecum": ["https://www.mecum.com/lots/123/1990-x/", "https://www.mecum.com/1/indexes/mecum_lots"],
    "broadarrow": ["https://www.broadarrowauctions.com/vehicles/am26_123/1990-x",
                   "https://www.broadarrowauctions.com/vehicles/results", "https://www.broadarrowauctions.com/vehicles/available"],
    "craigslist": ["https://sfbay.craigslist.org/sfc/cto/d/x/7955306228.html", "https://sfbay.craigslist.org/search/cto"],
    "dealer": ["https://dealer.example/inventory/", "https://dealer.example/used/2010-x.htm"],
    "classic": ["https://www.classic.com/dealers/", "https://www.classic.com/auction-houses/",
                "https://www.classic.com/s/x-abc123/", "https://www.classic.com/veh/x/"],
}


def _sample_site_challenges() -> dict[str, bytes]:
    from vehicle_pipeline.sample_site.faults import VENDORS, challenge_page

    return {vendor: challenge_page(vendor)[2] for vendor in VENDORS}


@pytest.mark.parametrize("source", existing_modules())
@pytest.mark.parametrize("origin", ["fixture", "sample-site"])
def test_every_parser_names_every_vendors_challenge_whatever_the_url(source, origin):
    pages = CHALLENGES if origin == "fixture" else _sample_site_challenges()
    for vendor, page in pages.items():
        for url in [None, *_URLS[source]]:
            for content in (page, page.decode("utf-8")):
                with pytest.raises(ParseError) as err:
                    sources.get(source).parse(content, url=url)
                assert vendor in err.value.missing and "challenge" in err.value.missing, (vendor, url)
                assert err.value.source == source


# A real page after a passed Cloudflare challenge: the token of the challenge is in its head, and it is a page.
_PASSED_CHALLENGE = b'<script>history.replaceState(null, null, "/?__cf_chl_rt_tk=abc.def-1793491200-0-gaNycGzNCqU")</script>'


@pytest.mark.parametrize("source,fixture", _PROTECTED)
def test_a_page_that_parses_is_not_refused_for_a_challenge_marker(source, fixture):
    page = (FIXTURES / fixture).read_bytes()
    marked = page.replace(b"</head>", _PASSED_CHALLENGE + b"</head>", 1)
    assert _pagekit.challenge(marked) is not None
    parse = sources.get(source).parse
    assert repr(parse(marked)) == repr(parse(page))


# pages whose head alone is no page of their source: dealer pages often carry the whole vehicle in JSON-LD in
# their head, and a craigslist posting's head its posting JSON-LD, which makes a (non-vehicle) posting of it
_HEAD_IS_NO_PAGE = ([(s, f) for s, f in _PROTECTED if s not in ("dealer", "craigslist")]
                    + [("dealer", "dealer/srp_dealeron.html"), ("craigslist", "craigslist/legacy_search.html")])


@pytest.mark.parametrize("source,fixture", _HEAD_IS_NO_PAGE)
def test_a_page_that_fails_and_carries_a_challenge_marker_is_reported_as_the_challenge(source, fixture):
    page = (FIXTURES / fixture).read_bytes()
    # the head (with the marker) of the real page, its body cut away: no listing or list is left in it
    head = page[: page.index(b"</head>")]
    parse = sources.get(source).parse
    try:
        read = parse(head + b"</head><body></body></html>")
    except ParseError as plain:
        assert "challenge" not in plain.missing
    else:  # the head's structured data names the listing: read by the last resort, flagged, deciding nothing
        assert read.fallback and getattr(read, "sale_price", None) is None
    with pytest.raises(ParseError) as err:
        parse(head + _PASSED_CHALLENGE + b"</head><body></body></html>")
    assert "cloudflare" in err.value.missing and "cf_chl_" in err.value.missing
