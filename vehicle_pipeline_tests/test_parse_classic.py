"""classic.com seller directory, seller profiles (scored) and vehicle pages, on the project's own fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from vehicle_pipeline.model import ParseError, SellerDirectoryPage, SellerKind, VehicleListing
from vehicle_pipeline.sources import classic

FIX = Path(__file__).parent / "fixtures" / "classic"


def test_directory_page():
    page = classic.parse((FIX / "dealers_page1.html").read_bytes())
    assert isinstance(page, SellerDirectoryPage)
    c = page.to_contract()
    assert c["kind"] == "sellers"
    assert (c["total_items"], c["page"], c["pages_total"]) == (2413, 1, 97)
    assert c["next_page_url"] == "https://www.classic.com/dealers/?page=2"
    names = [s["name"] for s in c["items"]]
    assert names == ["111 Motorcars", "Sample Garage", "Mecum Auctions"]  # avatar link does not duplicate a row
    first, garage, mecum = c["items"]
    assert first["profile_url"] == "https://www.classic.com/s/111-motorcars-ZnQygen/"
    assert first["external_id"] == "ZnQygen" and first["kind"] == "dealer"
    assert (first["location"], first["listing_count"]) == ("Franklin, TN", 154)
    assert first["confidence"] == 0.4  # listings + location + dealer; no website known from a row
    assert (garage["listing_count"], garage["confidence"]) == (0, 0.1)
    assert mecum["kind"] == "auction_house" and mecum["confidence"] == 0.3


def test_dealer_profile_scores_full():
    ref = classic.parse_seller((FIX / "seller_dealer.html").read_bytes())
    assert ref.kind == SellerKind.DEALER
    assert ref.website == "https://www.111motorcars.com/"
    assert ref.inventory_url == "https://www.111motorcars.com/inventory/"
    assert ref.listing_count == 154 and ref.location == "Franklin, TN"
    assert ref.confidence == 1.0


def test_auction_house_profile_found_by_link_text_and_path():
    ref = classic.parse_seller((FIX / "seller_auction_house.html").read_text())
    assert ref.kind == SellerKind.AUCTION_HOUSE
    assert ref.website == "https://www.sampleauctions.example/"
    assert ref.inventory_url == "https://www.sampleauctions.example/vehicles/results"
    assert ref.confidence == 0.5  # website + inventory would give 0.6; auction houses are capped
    assert ref.confidence < 0.7  # never auto-enabled as a dealer source


def test_scoring_weights():
    assert classic.score(None, None, None, None, SellerKind.AUCTION_HOUSE) == 0.0
    assert classic.score("w", None, 3, "x", SellerKind.DEALER) == 0.7
    assert classic.score("w", "i", 0, None, SellerKind.DEALER) == 0.7
    assert classic.score("w", "i", 5, "x", SellerKind.AUCTION_HOUSE) == 0.5


def test_vehicle_page_vin_from_url():
    lst = classic.parse((FIX / "vehicle.html").read_bytes())
    assert isinstance(lst, VehicleListing)
    assert lst.vin == "WP0CA298X5L001385" and str(lst.vin_state) == "valid"
    assert lst.external_id == "peDZywW" and lst.year == 2005
    assert lst.outcome is None and lst.asking_price is None


def test_url_rules():
    assert classic.vin_from_url("https://www.classic.com/veh/2005-porsche-carrera-gt-wp0ca298x5l001385-peDZywW") == "WP0CA298X5L001385"
    assert classic.external_id("https://www.classic.com/s/111-motorcars-ZnQygen/") == "ZnQygen"
    assert classic.matches("https://www.classic.com/auction-houses/?page=3")
    assert classic.canonical_url("https://www.classic.com/dealers/?page=1&utm=x") == "https://www.classic.com/dealers/"
    assert classic.index_url("http://127.0.0.1:1/classic", kind="auction_house", page=2) == "http://127.0.0.1:1/classic/auction-houses/?page=2"


@pytest.mark.parametrize(
    "content, url, missing",
    [
        ("", None, "empty"),
        ("<html><body><h1>x</h1></body></html>", None, "no link[rel=canonical]"),
        ("<html><body><h1>Dealers</h1><p>none</p></body></html>", "https://www.classic.com/dealers/", "no seller rows"),
        ("<html><body><h1>111 Motorcars</h1></body></html>", "https://www.classic.com/s/111-motorcars-ZnQygen/", ".seller-type"),
        ("<html><body><p>x</p></body></html>", "https://www.classic.com/m/porsche/911/", "is not a"),
    ],
)
def test_bad_input(content, url, missing):
    with pytest.raises(ParseError) as exc:
        classic.parse(content, url=url)
    assert missing in str(exc.value)


# ---- any input: a parsed page or a clean ParseError, for all five sources of this family -------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vehicle_pipeline.sources import broadarrow, craigslist, dealer, mecum  # noqa: E402

_MODULES = (mecum, broadarrow, craigslist, dealer, classic)
_SNIPPETS = st.sampled_from([
    "", "<html>", '<script id="__NEXT_DATA__" type="application/json">', '{"hits":', '{"data":{"items":[[1,2,3,4,"1:1"]]',
    '<div class="ft-vehicle-item grid-block">', '<a class="vehicle-card" href="/vehicles/am23_001/x">', '<li class="result-row" data-pid="1">',
    '<span id="titletextonly">', '<script type="application/ld+json">', '{"@type":"Car","vehicleIdentificationNumber":"X"}',
    '<p class="lot-sale">Lot 1 | X</p>', '<a href="/s/a-b1234567/">', "</script>", "\x00", "\ufffd", "Sold for $1",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_SNIPPETS, st.text(max_size=40)), max_size=12), st.sampled_from(_MODULES),
       st.sampled_from([None, "https://www.classic.com/dealers/", "http://127.0.0.1:1/x/vehicles/results"]))
def test_any_input_gives_a_page_or_a_clean_parse_error(parts, module, url):
    try:
        page = module.parse("".join(parts), url=url)
    except ParseError as exc:
        assert exc.source == module.NAME
        return
    contract = page.to_contract()
    if contract["kind"] == "listing":
        assert contract["sale_price"] is None or contract["outcome"] in ("sold", "sold_after")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(_MODULES))
def test_any_bytes_give_a_page_or_a_clean_parse_error(data, module):
    try:
        module.parse(data)
    except ParseError:
        pass
