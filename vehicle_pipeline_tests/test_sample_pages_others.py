"""Sample-site renderers of mecum, broadarrow, craigslist, dealer and classic: every page parses to its truth.

Listings are built by hand so every outcome, km odometers, non-USD money and pre-1981 chassis numbers
are covered regardless of what a seed's world happens to draw.
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlsplit

import pytest

from vehicle_pipeline import sources
from vehicle_pipeline.model import ParseError
from vehicle_pipeline.sample_site.pages import broadarrow as r_broadarrow
from vehicle_pipeline.sample_site.pages import classic as r_classic
from vehicle_pipeline.sample_site.pages import craigslist as r_craigslist
from vehicle_pipeline.sample_site.pages import dealer as r_dealer
from vehicle_pipeline.sample_site.pages import mecum as r_mecum
from vehicle_pipeline.sample_site.spec import SampleCar, SampleListing, SiteContext

CTX = SiteContext(base_url="http://127.0.0.1:8765", now=1793491200)
DAY = 86400

VALID = SampleCar(1, 2009, "Porsche", "911", "Carrera 4S", "WP0AB299X9S721066", "valid", 15200, "mi", "Basalt Black",
                  "Black", "6-Speed Manual", "AWD", "3.8L Flat-6", "Coupe", "Kennesaw, GA")
KM_EURO = SampleCar(2, 1990, "Lancia", "Delta", "HF Integrale", "ZLA831AB000512345", "not_applicable", 88000, "km",
                    "Rosso Monza", "Alcantara Grey", "5-Speed Manual", "AWD", "2.0L Turbo I4", "Hatchback", "Turin, Italy")
CHASSIS = SampleCar(3, 1967, "Chevrolet", "Corvette", "427/435 Convertible", "194677S112233", "not_applicable", 41215, "mi",
                    "Marlboro Maroon", "Black", "4-Speed Manual", "RWD", "427 V8", "Convertible", "Tulsa, OK")
BAD_CHECK = SampleCar(4, 1995, "Chevrolet", "Camaro", "Z28", "2G1FP22P0S2100001", "bad_check_digit", 61000, "mi",
                      "Red", "Grey", "Automatic", "RWD", "5.7L V8", "Coupe", "Oakland, CA")
NO_TRIM = SampleCar(5, 1972, "Datsun", "240Z", None, "HLS30123456", "not_applicable", 99000, "mi", "Orange", "Black",
                    "4-Speed Manual", "RWD", "2.4L I6", "Coupe", "Burnaby, BC")


def title(car: SampleCar) -> str:
    return " ".join(p for p in (str(car.year), car.make, car.model, car.trim) if p)


def check_listing(renderer, listing: SampleListing) -> dict:
    rendered = renderer.render_listing(listing, CTX)
    url = CTX.url(renderer.SOURCE, renderer.listing_path(listing))
    parsed = sources.get(renderer.SOURCE).parse(rendered.body, url=url).to_contract()
    truth = renderer.listing_truth(listing, CTX)
    assert parsed == truth
    assert sources.get(renderer.SOURCE).parse(rendered.body).to_contract() == truth  # the page names its own URL
    return parsed


def check_index(renderer, path: str, query: dict, listings: list[SampleListing]) -> dict:
    rendered = renderer.render_index(path, query, listings, CTX)
    assert rendered is not None
    url = CTX.url(renderer.SOURCE, path) + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    parsed = sources.get(renderer.SOURCE).parse(rendered.body, url=url).to_contract()
    truth = renderer.index_truth(path, query, listings, CTX)
    assert parsed == truth
    return parsed


# ---- mecum ---------------------------------------------------------------------------------------
def mecum_lot(i: int, car: SampleCar, outcome: str, **kw) -> SampleListing:
    base = dict(source="mecum", external_id=str(550600 + i), slug=f"lot-{i}", car=car, title=title(car), outcome=outcome,
                lot_number=f"S{100 + i}.1", sale_code="IN26", low_estimate=40000, high_estimate=60000,
                starts_at=CTX.now - 30 * DAY, ends_at=CTX.now - DAY, description="Indy 2026",
                images=[f"/_img/mecum/{550600 + i}/1.jpg", f"/_img/mecum/{550600 + i}/2.jpg"])
    base.update(kw)
    return SampleListing(**base)


MECUM = [
    mecum_lot(1, VALID, "sold", sale_price=98000, high_bid=98000),
    mecum_lot(2, CHASSIS, "bid_to", high_bid=150000, no_reserve=False),
    mecum_lot(3, BAD_CHECK, "no_sale"),
    mecum_lot(4, KM_EURO, "live", ends_at=CTX.now + 5 * DAY, no_reserve=True),
    mecum_lot(5, NO_TRIM, "withdrawn"),
    mecum_lot(6, VALID, "sold_after", sale_price=101000, high_bid=95000),
]


@pytest.mark.parametrize("listing", MECUM, ids=lambda l: l.outcome)
def test_mecum_lot_pages(listing):
    c = check_listing(r_mecum, listing)
    if c["outcome"] != "sold":
        assert c["sale_price"] is None


def test_mecum_outcomes_and_units():
    got = [r_mecum.listing_truth(l, CTX) for l in MECUM]
    assert [g["outcome"] for g in got] == ["sold", "bid_to", "no_sale", "live", "withdrawn", "sold"]
    assert got[1]["high_bid"] == 150000 and got[1]["sale_price"] is None
    assert got[3]["mileage_unit"] == "km" and got[3]["no_reserve"] is True
    assert got[1]["vin_state"] == "not_applicable"


def test_mecum_algolia_pages():
    many = [mecum_lot(i, VALID, "sold", sale_price=50000 + i, high_bid=50000 + i) for i in range(10, 35)] + MECUM
    first = check_index(r_mecum, r_mecum.INDEX_PATH, {"query": "", "page": "0", "hitsPerPage": "20"}, many)
    assert (first["page"], first["pages_total"], first["total_items"]) == (1, 2, len(many))
    assert first["next_page_url"].endswith("page=1")
    last = check_index(r_mecum, r_mecum.INDEX_PATH, {"query": "", "page": "1", "hitsPerPage": "20"}, many)
    assert last["next_page_url"] is None
    assert {i["outcome"] for i in last["items"]} >= {"bid_to", "no_sale", "live", "withdrawn"}


# ---- broadarrow ---------------------------------------------------------------------------------
def ba_lot(i: int, car: SampleCar, outcome: str, currency="USD", **kw) -> SampleListing:
    code = {"USD": "am26", "EUR": "zo26", "GBP": "lc26"}[currency]
    sale = {"USD": "The Amelia Auction 2026, Amelia Island, Florida", "EUR": "Zoute Concours Auction 2026, Knokke-Heist, Belgium",
            "GBP": "London Concours Auction 2026, London, United Kingdom"}[currency]
    base = dict(source="broadarrow", external_id=f"{code}_{i:03d}", slug=f"lot-{i}", car=car, title=title(car),
                outcome=outcome, currency=currency, lot_number=f"{i:03d}", sale_code=code, low_estimate=100000,
                high_estimate=140000, description=sale, images=[f"/_img/broadarrow/{code}_{i}/1.jpg", f"/_img/broadarrow/{code}_{i}/2.jpg"])
    base.update(kw)
    return SampleListing(**base)


BROADARROW = [
    ba_lot(1, VALID, "sold", sale_price=120000, high_bid=120000),
    ba_lot(2, KM_EURO, "bid_to", "EUR", high_bid=85000),
    ba_lot(3, CHASSIS, "no_sale", "GBP"),
    ba_lot(4, BAD_CHECK, "live"),
    ba_lot(5, NO_TRIM, "withdrawn"),
    ba_lot(6, KM_EURO, "sold", "GBP", sale_price=61000, high_bid=61000),
]


@pytest.mark.parametrize("listing", BROADARROW, ids=lambda l: f"{l.outcome}-{l.currency}")
def test_broadarrow_lot_pages(listing):
    check_listing(r_broadarrow, listing)


def test_broadarrow_truth_facts():
    got = [r_broadarrow.listing_truth(l, CTX) for l in BROADARROW]
    assert [g["outcome"] for g in got] == ["sold", "bid_to", "no_sale", "live", "withdrawn", "sold"]
    assert (got[1]["currency"], got[1]["high_bid"], got[1]["sale_price"]) == ("EUR", 85000, None)
    assert (got[5]["currency"], got[5]["sale_price"], got[5]["mileage_unit"]) == ("GBP", 61000, "km")


def test_broadarrow_lists():
    ended = [l for l in BROADARROW if l.outcome != "live"] * 3
    ended = [dataclasses.replace(l, external_id=f"{l.external_id[:5]}{n:03d}") for n, l in enumerate(ended)]
    p1 = check_index(r_broadarrow, "/vehicles/results", {}, ended)
    assert (p1["page"], p1["pages_total"], p1["total_items"]) == (1, 2, 15)
    p2 = check_index(r_broadarrow, "/vehicles/results", {"page": "2"}, ended)
    assert p2["next_page_url"] is None and len(p2["items"]) == 3
    live = check_index(r_broadarrow, "/vehicles/available", {}, BROADARROW)
    assert [i["outcome"] for i in live["items"]] == ["live"]
    empty = check_index(r_broadarrow, "/vehicles/available", {}, [])
    assert empty["items"] == []


# ---- craigslist ---------------------------------------------------------------------------------
def cl_post(i: int, car: SampleCar, metro: str, price: int | None, currency="USD") -> SampleListing:
    return SampleListing(source="craigslist", external_id=str(7930000000 + i), slug=f"hood-{car.year}-{car.make.lower()}",
                         car=car, title=title(car) + " - Clean Title", outcome=None, currency=currency, asking_price=price,
                         starts_at=CTX.now - 3 * DAY, metro=metro, description="Runs great.",
                         images=[f"/_img/craigslist/{7930000000 + i}/1.jpg"])


CRAIGSLIST = [
    cl_post(1, VALID, "sfbay", 61000),
    cl_post(2, NO_TRIM, "vancouver", 24500, "CAD"),
    cl_post(3, KM_EURO, "vancouver", 39000, "CAD"),
    cl_post(4, CHASSIS, "sacramento", 72000),
    cl_post(5, BAD_CHECK, "seattle", None),
    cl_post(6, KM_EURO, "seattle", 30000),  # a km car in a miles metro: the seller types miles
]


@pytest.mark.parametrize("listing", CRAIGSLIST, ids=lambda l: f"{l.metro}-{l.external_id}")
def test_craigslist_postings(listing):
    c = check_listing(r_craigslist, listing)
    assert c["outcome"] is None and c["sale_price"] is None


def test_craigslist_units_follow_the_metro():
    got = {l.external_id: r_craigslist.listing_truth(l, CTX) for l in CRAIGSLIST}
    assert (got["7930000002"]["mileage_unit"], got["7930000002"]["currency"]) == ("km", "CAD")
    assert (got["7930000006"]["mileage_unit"], got["7930000006"]["mileage"]) == ("mi", round(88000 / 1.609344))
    assert got["7930000005"]["asking_price"] is None


@pytest.mark.parametrize("metro", ["sfbay", "seattle", "sacramento", "vancouver"])
def test_craigslist_search_layouts(metro):
    c = check_index(r_craigslist, f"/{metro}/search/cto", {}, CRAIGSLIST)
    assert {i["external_id"] for i in c["items"]} == {l.external_id for l in CRAIGSLIST if l.metro == metro}
    if metro == "sacramento":
        # the legacy page shows other metros' rows under the "nearby" banner; they are not this metro's
        body = r_craigslist.render_index(f"/{metro}/search/cto", {}, CRAIGSLIST, CTX).body
        assert b"ban nearby" in body


def test_craigslist_search_paging_and_empty():
    many = [cl_post(100 + n, VALID, "sfbay", 20000 + n) for n in range(45)]
    p1 = check_index(r_craigslist, "/sfbay/search/cto", {}, many)
    assert p1["next_page_url"] == CTX.url("craigslist", "/sfbay/search/cto?page=2")
    p2 = check_index(r_craigslist, "/sfbay/search/cto", {"page": "2"}, many)
    assert p2["next_page_url"] is None and len(p2["items"]) == 15
    for metro in ("sfbay", "sacramento", "vancouver"):
        assert check_index(r_craigslist, f"/{metro}/search/cto", {}, [])["items"] == []


# ---- dealer -------------------------------------------------------------------------------------
def stock(i: int, car: SampleCar, dealer: str, price: int | None) -> SampleListing:
    return SampleListing(source="dealer", external_id=f"SC{1000 + i}", slug=f"{car.year}-{car.make.lower()}-sc{1000 + i}",
                         car=car, title=title(car), outcome=None, asking_price=price, seller=None, dealer=dealer,
                         description="Clean car.", images=[f"/_img/dealer/{dealer}-SC{1000 + i}/1.jpg", f"/_img/dealer/{dealer}-SC{1000 + i}/2.jpg"])


DEALER_SLUGS = ("sunset-classics", "harbor-motorcars", "lone-star-vintage", "ridgeline-autohaus")
DEALER = [stock(n * 10 + k, car, slug, price)
          for n, slug in enumerate(DEALER_SLUGS)
          for k, (car, price) in enumerate([(VALID, 89900), (KM_EURO, None), (CHASSIS, 125000), (dataclasses.replace(NO_TRIM, vin=None, vin_state="not_applicable"), 45995)])]


@pytest.mark.parametrize("listing", DEALER, ids=lambda l: f"{l.dealer}-{l.external_id}")
def test_dealer_vdps(listing):
    c = check_listing(r_dealer, listing)
    assert c["outcome"] is None and c["sale_price"] is None


def test_dealer_truth_facts():
    by = {(l.dealer, l.car.car_id): r_dealer.listing_truth(l, CTX) for l in DEALER}
    assert by[("sunset-classics", 1)]["title"] == "Used 2009 Porsche 911 Carrera 4S"
    assert by[("sunset-classics", 1)]["trim"] == "Carrera 4S"
    assert by[("harbor-motorcars", 2)]["asking_price"] is None and by[("harbor-motorcars", 2)]["mileage_unit"] == "km"
    ridgeline = by[("ridgeline-autohaus", 5)]
    assert ridgeline["vin"] is None and ridgeline["external_id"] == urlsplit(ridgeline["url"]).path.rstrip("/")


@pytest.mark.parametrize("slug", DEALER_SLUGS)
def test_dealer_inventory_pages(slug):
    many = [dataclasses.replace(l, external_id=f"{l.external_id}-{n}", slug=f"{l.slug}-{n}") for n in range(4) for l in DEALER if l.dealer == slug]
    p1 = check_index(r_dealer, f"/{slug}/inventory/", {}, many)
    assert len(p1["items"]) == 12 and p1["next_page_url"] == CTX.url("dealer", f"/{slug}/inventory/?page=2")
    p2 = check_index(r_dealer, f"/{slug}/inventory/", {"page": "2"}, many)
    assert len(p2["items"]) == 4 and p2["next_page_url"] is None


# ---- classic ------------------------------------------------------------------------------------
def test_classic_directory_and_profiles():
    p1 = check_index(r_classic, "/dealers/", {}, DEALER)
    assert p1["next_page_url"] == CTX.url("classic", "/dealers/?page=2")
    p2 = check_index(r_classic, "/dealers/", {"page": "2"}, DEALER)
    houses = check_index(r_classic, "/auction-houses/", {}, DEALER)
    assert {s["kind"] for s in houses["items"]} == {"auction_house"}
    sellers = p1["items"] + p2["items"] + houses["items"]
    assert len(sellers) >= 3
    for s in sellers:
        path = s["profile_url"][len(CTX.url("classic", "")):]
        profile = check_index(r_classic, path, {}, DEALER)
        ref = profile["items"][0]
        if ref["kind"] == "dealer":
            assert ref["confidence"] >= 0.7  # website + inventory on the sample dealer site
            route = CTX.sites.route(urlsplit(ref["inventory_url"]).hostname)
            assert route.source == "dealer" and ref["inventory_url"].endswith("/inventory/")
            # the inventory URL it discovers is a dealer inventory page the dealer renderer serves, on its own host
            slug = route.prefix.strip("/")
            assert r_dealer.render_index(f"/{slug}/inventory/", {}, DEALER, CTX) is not None
        else:
            assert ref["confidence"] < 0.7


def test_unknown_paths_render_nothing():
    for r in (r_mecum, r_broadarrow, r_craigslist, r_dealer, r_classic):
        assert r.render_index("/nope/", {}, [], CTX) is None
        assert r.index_truth("/nope/", {}, [], CTX) is None


def test_markup_change_breaks_loudly():
    """A lot page whose key element disappears must be a ParseError, never a guess."""
    body = r_broadarrow.render_listing(BROADARROW[0], CTX).body.decode().replace('class="lot-sale"', 'class="lot-x"')
    body = body.replace('class="vehicle-result', 'class="vr').replace('class="vehicle-estimate"', 'class="ve"')
    with pytest.raises(ParseError):
        sources.get("broadarrow").parse(body)
    body = r_mecum.render_listing(MECUM[0], CTX).body.decode().replace("__NEXT_DATA__", "__DATA__")
    with pytest.raises(ParseError):
        sources.get("mecum").parse(body)
    data = json.loads(r_mecum.render_index(r_mecum.INDEX_PATH, {}, MECUM, CTX).body)
    data.pop("hits")
    with pytest.raises(ParseError):
        sources.get("mecum").parse(json.dumps(data))


def test_a_generated_world_renders_to_its_truth():
    """The world generator's own listings (listing_state at its clock) parse to their truth, index pages too."""
    import importlib

    from vehicle_pipeline.sample_site import world as W

    w = W.build_world(11, 300, W.DEFAULT_CLOCK)
    ctx = SiteContext("http://127.0.0.1:8765", W.DEFAULT_CLOCK)
    checked = 0
    for src in ("mecum", "broadarrow", "craigslist", "dealer"):
        r = importlib.import_module(f"vehicle_pipeline.sample_site.pages.{src}")
        visible = [w.listing_state(l) for l in w.visible() if l.source == src]
        for l in visible:
            body = r.render_listing(l, ctx).body
            assert sources.get(src).parse(body, url=ctx.url(src, r.listing_path(l))).to_contract() == r.listing_truth(l, ctx)
            checked += 1
        for p in r.index_paths(visible):
            body = r.render_index(p, {}, visible, ctx).body
            assert sources.get(src).parse(body, url=ctx.url(src, p)).to_contract() == r.index_truth(p, {}, visible, ctx)
    dealers = [l for l in w.visible() if l.source == "dealer"]
    for p in r_classic.index_paths():
        body = r_classic.render_index(p, {}, dealers, ctx).body
        assert sources.get("classic").parse(body, url=ctx.url("classic", p)).to_contract() == r_classic.index_truth(p, {}, dealers, ctx)
    assert checked > 20


def test_sellers_truth_matches_each_profile_page():
    for s in r_classic.sellers_truth(DEALER, CTX):
        path = s["profile_url"][len(CTX.url("classic", "")):]
        body = r_classic.render_index(path, {}, DEALER, CTX).body
        assert sources.get("classic").parse_seller(body).to_contract() == s
