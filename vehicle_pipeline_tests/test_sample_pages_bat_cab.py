"""Sample-site renderers for BaT and Cars & Bids: what the parser reads off a rendered page is the truth."""

from __future__ import annotations

import dataclasses
import json

import pytest

from vehicle_pipeline.model import NeedsBrowser
from vehicle_pipeline.sample_site.pages import bat as bat_pages
from vehicle_pipeline.sample_site.pages import carsandbids as cab_pages
from vehicle_pipeline_tests.contract_defaults import with_defaults
from vehicle_pipeline.sample_site.spec import SampleCar, SampleComment, SampleListing, SiteContext
from vehicle_pipeline.sources import bat, carsandbids

NOW = 1793491200  # 2026-11-01T00:00:00Z
DAY = 86400


def ctx(variant: str | None = None, source: str = "bat") -> SiteContext:
    return SiteContext(base_url="http://127.0.0.1:8765", now=NOW, markup_variant={source: variant} if variant else {})


PORSCHE = SampleCar(1, 2009, "Porsche", "911", "Carrera 4S Coupe", "WP0AB299X9S721066", "valid", 15200, "mi",
                    "Basalt Black Metallic", "Black Leather", "Six-Speed Manual Transaxle", "All-Wheel Drive",
                    "3.8-Liter Flat-Six", "Coupe", "Kennesaw, Georgia 30152")
ALFA = SampleCar(2, 1967, "Alfa Romeo", "Giulia", "Sprint GT Veloce", "AR 242811", "not_applicable", 35800, "km",
                 "Rosso Alfa", "Black Vinyl", "Five-Speed Manual Transmission", "Rear-Wheel Drive",
                 "1.6-Liter Twin-Cam Inline-Four", "Coupe", "Milan, Italy")
TOYOTA = SampleCar(3, 1995, "Toyota", "4Runner", "SR5 4x4", "JT3VN39W0S0195671", "valid", 129600, "mi",
                   "Garnet Pearl", "Gray", "Automatic (4-Speed)", "4WD/AWD", "3.0L V6", "SUV/Crossover", "Kenmore, WA 98028")
MERC = SampleCar(4, 1984, "Mercedes-Benz", "300TD", None, "WDBAB93A2EF026271", "valid", 236200, "mi", "Labrador Blue",
                 "Blue", "Automatic (4-Speed)", "Rear-wheel drive", "3.0L Turbodiesel I5", "Wagon", "Fort Lauderdale, FL 33325")


def thread(bids: list[int], system: str | None, start: int) -> list[SampleComment]:
    out = [SampleComment("9001", "comment", "Flatsix", start + 100, "Sold for $250,000 in 2019 if I remember right.")]
    for i, amount in enumerate(bids):
        out.append(SampleComment(str(9100 + i), "bid", f"bidder{i % 2}", start + 1000 * (i + 1), f"USD ${amount:,} bid placed by bidder{i % 2}", amount))
    out.append(SampleComment("9900", "comment", "seller1", start + 50_000, "Thanks all & good luck </script> <b>!</b>"))
    if system:
        out.append(SampleComment("9999", "system", "BaT", start + 7 * DAY, system))
    return out


def bat_listing(outcome: str, car: SampleCar = PORSCHE, no_reserve: bool = False, slug: str = "x") -> SampleListing:
    start = NOW - 10 * DAY
    end = start + 7 * DAY
    bids = {"sold": [20000, 50000, 105000], "bid_to": [30000, 61000], "live": [5000, 9000], "withdrawn": [], "no_sale": []}[outcome]
    system = {"sold": "Sold on 10/29/26 for USD $105,000.00 to bidder0", "bid_to": "Reserve not met on 10/29/26 at USD $61,000"}.get(outcome)
    if outcome == "live":
        end = NOW + 2 * DAY
    comments = thread(bids, system, start)
    return SampleListing(
        source="bat", external_id="106089530", slug=f"{car.year}-{slug}-{outcome}", car=car,
        title=f"{car.year} {car.make} {car.model}" + (f" {car.trim}" if car.trim else ""), outcome=outcome,
        sale_price=105000 if outcome == "sold" else None, high_bid=bids[-1] if bids else None,
        bid_count=len(bids), comment_count=sum(1 for c in comments if c.kind == "comment"), view_count=12193,
        watcher_count=1543, starts_at=start, ends_at=end, seller="begoniatulip",
        buyer="bidder0" if outcome == "sold" else None, lot_number="224499", no_reserve=no_reserve,
        images=["/_img/bat/1/1.jpg", "/_img/bat/1/2.jpg"], comments=comments, description="A well kept example.",
    )


BAT_CASES = [
    bat_listing("sold"),
    bat_listing("sold", car=ALFA, no_reserve=True),
    bat_listing("bid_to"),
    bat_listing("live", car=ALFA),
    bat_listing("withdrawn"),
    bat_listing("no_sale", car=ALFA, no_reserve=True),
]


@pytest.mark.parametrize("variant", [None, "changed"])
@pytest.mark.parametrize("listing", BAT_CASES, ids=lambda l: f"{l.outcome}-{l.car.make}")
def test_bat_listing_page_parses_to_its_truth(listing, variant):
    c = ctx(variant)
    page = bat_pages.render_listing(listing, c)
    got = bat.parse(page.body, deep=True).to_contract(deep=True)
    want = with_defaults(bat_pages.listing_truth(listing, c))
    assert got == want
    # Independent of the shared rules: the facts the sample listing decided.
    assert got["outcome"] == listing.outcome and got["external_id"] == listing.slug
    assert got["sale_price"] == (105000 if listing.outcome == "sold" else None)
    assert got["bid_count"] == listing.bid_count and got["comment_count"] == listing.comment_count
    kinds = [c["kind"] for c in got["comments"]]
    assert kinds.count("bid") == got["bid_count"] and kinds.count("comment") == got["comment_count"]
    assert got["vin_state"] == listing.car.vin_state
    assert got["no_reserve"] is listing.no_reserve


def test_bat_page_carries_the_noise_a_text_search_would_trip_on():
    body = bat_pages.render_listing(bat_listing("bid_to"), ctx()).body
    assert body.count(b"Sold for") >= 2 and body.count(b"No Reserve") >= 2
    assert bat.parse(body).sale_price is None


def test_bat_results_pages_paginate_24_per_page():
    ended = [dataclasses.replace(bat_listing(o), slug=f"car-{i}", ends_at=NOW - i * 3600)
             for i, o in enumerate(["sold", "bid_to", "withdrawn", "no_sale"] * 13)]
    c = ctx()
    seen = []
    page_no = 1
    while True:
        query = {"page": str(page_no)} if page_no > 1 else {}
        rendered = bat_pages.render_index("/auctions/results/", query, ended, c)
        got = bat.parse(rendered.body).to_contract()
        assert got == with_defaults(bat_pages.index_truth("/auctions/results/", query, ended, c))
        seen += [i["external_id"] for i in got["items"]]
        if got["next_page_url"] is None:
            break
        assert got["next_page_url"].endswith(f"?page={page_no + 1}")
        page_no += 1
    assert page_no == 3 and seen == [l.slug for l in ended]
    assert got["total_items"] == 52 and got["pages_total"] == 3


def test_bat_live_board():
    live = [dataclasses.replace(bat_listing("live"), slug=f"live-{i}") for i in range(3)]
    live[1] = dataclasses.replace(live[1], high_bid=None, bid_count=0)
    c = ctx()
    rendered = bat_pages.render_index("/auctions/", {}, live + [bat_listing("sold")], c)
    got = bat.parse(rendered.body).to_contract()
    assert got == with_defaults(bat_pages.index_truth("/auctions/", {}, live + [bat_listing("sold")], c))
    assert [i["price"] for i in got["items"]] == [9000, None, 9000]
    assert bat_pages.render_index("/nope/", {}, live, c) is None


# ---------------------------------------------------------------- Cars & Bids


def cab_listing(outcome: str, car: SampleCar = TOYOTA, no_reserve: bool = False, cab_id: str = "3gvwNPwG") -> SampleListing:
    start = NOW - 9 * DAY
    end = NOW + 3 * DAY if outcome == "live" else start + 7 * DAY + 37
    bids = [] if outcome == "no_sale" else [1500, 4000, 7300]
    comments = [SampleComment("c1", "comment", "fan", start + 60, "Bid to $9,000 would be fair; sold for $7,300? steal")]
    comments += [SampleComment(f"b{i}", "bid", f"u{i % 2}", start + 600 * (i + 1), f"Bid ${a:,}", a) for i, a in enumerate(bids)]
    sale = {"sold": 7300, "sold_after": 8000}.get(outcome)
    return SampleListing(
        source="carsandbids", external_id=cab_id, slug="x", car=car, title=f"{car.year} {car.make} {car.model}" + (f" {car.trim}" if car.trim else ""),
        outcome=outcome, sale_price=sale, high_bid=bids[-1] if bids else None, bid_count=len(bids), comment_count=1,
        view_count=5485, watcher_count=212, starts_at=start, ends_at=end, seller="bumperlt",
        buyer="u0" if sale else None, no_reserve=no_reserve, images=["/_img/carsandbids/a/1.jpg"], comments=comments,
        description="V6 Power, 4WD, Some Modifications",
    )


CAB_CASES = [
    cab_listing("sold", no_reserve=True),
    cab_listing("bid_to", car=MERC, cab_id="rxOqZmEQ"),
    cab_listing("sold_after", cab_id="SaFt3r01"),
    cab_listing("withdrawn", cab_id="CnCl0001"),
    cab_listing("live", car=MERC, no_reserve=True, cab_id="KZpLVWQA"),
    cab_listing("no_sale", cab_id="NoSa1e01"),
]


@pytest.mark.parametrize("variant", [None, "changed"])
@pytest.mark.parametrize("listing", CAB_CASES, ids=lambda l: l.outcome)
def test_cab_auction_page_dom_parses_to_its_truth(listing, variant):
    """The page as a browser leaves it, with no captured JSON: the DOM parser's own contract."""
    c = ctx(variant, "carsandbids")
    page = cab_pages.render_dom(listing, c)
    got = carsandbids.parse(page.body).to_contract()
    assert got == with_defaults(cab_pages.dom_truth(listing, c))
    assert got["outcome"] == listing.outcome and got["external_id"] == listing.external_id
    assert got["ended_at"] is not None  # PKT or UTC: both known zones
    assert got["sale_price"] == listing.sale_price


def signed(auction_id: str, timestamp: str = "1780000000") -> dict[str, str]:
    return {"timestamp": timestamp, "signature": cab_pages.sign(auction_id, timestamp)}


@pytest.mark.parametrize("listing", CAB_CASES, ids=lambda l: l.outcome)
def test_cab_served_page_is_a_shell_the_parser_says_needs_a_browser(listing):
    """What the server sends is an empty #root and a script: a clear NeedsBrowser, never a guessed listing."""
    c = ctx(source="carsandbids")
    page = cab_pages.render_listing(listing, c)
    assert b'class="bid-stats"' not in page.body and listing.title.encode() not in page.body
    with pytest.raises(NeedsBrowser, match="needs a browser"):
        carsandbids.parse(page.body, url=c.url("carsandbids", cab_pages.listing_path(listing)), deep=True)


def test_cab_detail_api_refuses_an_unsigned_or_badly_signed_request():
    listing = CAB_CASES[0]
    c = ctx(source="carsandbids")
    path = f"/v2/autos/auctions/{listing.external_id}"
    for query in ({}, {"timestamp": "1780000000", "signature": "00000000"}, signed("OtherId1", "1780000000")):
        refused = cab_pages.render_path(path, query, CAB_CASES, c)
        assert refused.status == 403 and json.loads(refused.body) == {"error": "invalid signature"}
    assert cab_pages.render_path(path, signed(listing.external_id), CAB_CASES, c).status == 200


@pytest.mark.parametrize("listing", CAB_CASES, ids=lambda l: l.outcome)
def test_cab_detail_json_parses_to_its_truth(listing):
    c = ctx(source="carsandbids")
    rendered = cab_pages.render_path(f"/v2/autos/auctions/{listing.external_id}", signed(listing.external_id), CAB_CASES, c)
    assert rendered.content_type == "application/json"
    got = carsandbids.parse(rendered.body, url=c.url("carsandbids", f"/v2/autos/auctions/{listing.external_id}")).to_contract()
    assert got == with_defaults(cab_pages.detail_truth(listing, c))
    assert got["sale_price"] == listing.sale_price and got["high_bid"] == (listing.high_bid or 0)


def test_cab_list_json_paginates_with_offset_and_limit():
    ended = [dataclasses.replace(cab_listing(o), external_id=f"Id{i:06d}") for i, o in enumerate(["sold", "bid_to", "withdrawn", "sold_after"] * 3)]
    live = [dataclasses.replace(cab_listing("live"), external_id=f"Lv{i:06d}") for i in range(2)]
    c = ctx(source="carsandbids")
    seen = []
    query = {"status": "closed", "limit": "5"}
    url = cab_pages._list_url(c, "closed", 5, 0)
    while url:
        rendered = cab_pages.render_index("/v2/autos/auctions", query, ended + live, c)
        got = carsandbids.parse(rendered.body, url=url).to_contract()
        assert got == with_defaults(cab_pages.index_truth("/v2/autos/auctions", query, ended + live, c))
        seen += [i["external_id"] for i in got["items"]]
        url = got["next_page_url"]
        if url:
            query = dict(p.split("=") for p in url.split("?", 1)[1].split("&"))
    assert seen == [l.external_id for l in ended]
    new = carsandbids.parse(cab_pages.render_index("/v2/autos/auctions", {"status": "new"}, ended + live, c).body)
    assert [i.external_id for i in new.items] == ["Lv000000", "Lv000001"]
    assert all(i.price is None for i in new.items)
    assert cab_pages.render_path("/v2/autos/auctions/NOPE1234", signed("NOPE1234"), ended, c) is None


def test_cab_unknown_enums_are_rendered_as_codes_the_parser_must_not_guess():
    odd = dataclasses.replace(TOYOTA, drivetrain="Front-wheel drive", body_style="Hatchback")
    listing = cab_listing("sold", car=odd)
    c = ctx(source="carsandbids")
    raw = json.loads(cab_pages.render_path(f"/v2/autos/auctions/{listing.external_id}", signed(listing.external_id), [listing], c).body)
    assert raw["listing"]["drive_train"] == 0 and raw["listing"]["body_style"] == 0
    got = carsandbids.parse(json.dumps(raw)).to_contract()
    assert got["drivetrain"] is None and got["body_style"] is None


def test_renderers_over_a_generated_world_if_present():
    world_mod = pytest.importorskip("vehicle_pipeline.sample_site.world")
    w = world_mod.build_world(11, 300)
    c = SiteContext(base_url="http://127.0.0.1:8765", now=w.clock)
    checked = 0
    for listing in w.visible():
        if listing.source not in ("bat", "carsandbids"):
            continue
        state = w.listing_state(listing)
        pages, parser = (bat_pages, bat) if listing.source == "bat" else (cab_pages, carsandbids)
        if listing.source == "bat":
            got, want = parser.parse(pages.render_listing(state, c).body, deep=True).to_contract(deep=True), pages.listing_truth(state, c)
        else:  # the page's DOM once rendered (the served page is a shell: test_render.py reads it in Chromium)
            got, want = parser.parse(pages.render_dom(state, c).body).to_contract(), pages.dom_truth(state, c)
        assert got == with_defaults(want), listing.slug
        checked += 1
    assert checked > 20


def test_parse_errors_cross_a_process_pool_intact():
    """A parser's error raised in a worker process is pickled back to the caller (bench/floor_bench's pool, a
    process pool of replays): rebuilt from its fields, not from its message, so it arrives as itself."""
    import pickle

    from vehicle_pipeline.model import ParseError

    for error in (ParseError("bat", "https://bringatrailer.com/listing/x/", "no result element"),
                  NeedsBrowser("carsandbids", "https://carsandbids.com/auctions/x", "an HTML shell")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert (back.source, back.page, back.missing) == (error.source, error.page, error.missing)
