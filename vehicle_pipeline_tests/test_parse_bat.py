"""Bring a Trailer parser on the project's own fixtures: every page kind and outcome."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from vehicle_pipeline.model import IndexPage, Outcome, ParseError, VehicleListing, VinState
from vehicle_pipeline.sources import bat

FIXTURES = Path(__file__).parent / "fixtures" / "bat"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str, **kw):
    return bat.parse(load(name), **kw)


def test_sold_listing_reads_banner_table_essentials_and_chips():
    lst = parse("listing_sold.html")
    assert isinstance(lst, VehicleListing)
    assert lst.url == "https://bringatrailer.com/listing/1991-mazda-mx-5-miata-412/"
    assert lst.external_id == "1991-mazda-mx-5-miata-412"
    assert lst.outcome == Outcome.SOLD and lst.outcome_evidence == ".listing-available-info"
    assert (lst.sale_price, lst.high_bid, lst.currency) == (18500, 18500, "USD")
    assert lst.buyer == "RoadsterFan" and lst.seller == "PopUpMan"
    assert (lst.bid_count, lst.comment_count, lst.view_count, lst.watcher_count) == (3, 4, 4321, 210)
    assert lst.ended_at.isoformat() == "2025-03-03T17:12:00+00:00"  # data-ends epoch, not the shown local time
    assert (lst.year, lst.make, lst.model, lst.trim) == (1991, "Mazda", "MX-5", "Miata 5-Speed")
    assert lst.vin == "JM1NA3516M1200001" and lst.vin_state == VinState.VALID
    assert (lst.mileage, lst.mileage_unit) == (31000, "mi")
    assert lst.location == "Denver, Colorado 80205" and lst.lot_number == "181204"
    assert lst.no_reserve is True  # from the h1 prefix
    assert lst.engine == "1.6-Liter DOHC Inline-Four"
    assert lst.transmission == "Five-Speed Manual Transmission"
    assert lst.exterior_color == "Mariner Blue" and lst.interior_color == "Black Cloth"
    assert lst.images == [
        "https://bringatrailer.com/wp-content/uploads/2025/02/miata-1.jpg",
        "https://bringatrailer.com/wp-content/uploads/2025/02/miata-2.jpg",
    ]
    assert lst.comments is None  # not deep


def test_deep_comments_are_typed_and_match_the_page_counts():
    lst = parse("listing_sold.html", deep=True)
    kinds = Counter(str(c.kind) for c in lst.comments)
    assert kinds == {"comment": 4, "bid": 3, "system": 1}
    assert kinds["comment"] == lst.comment_count and kinds["bid"] == lst.bid_count
    # A "};" inside comment text must not end the JSON (decoder, not a regex).
    assert lst.comments[0].text.endswith("seems like a deal. };")
    bids = [c for c in lst.comments if c.kind == "bid"]
    assert [b.amount for b in bids] == [12000, 15000, 18500] and bids[0].currency == "USD"
    assert max(b.amount for b in bids) == lst.high_bid
    assert lst.comments[2].text == "Thanks & good luck!"
    assert lst.comments[-1].text.startswith("Sold on 3/3/25")
    assert lst.comments[1].posted_at.isoformat() == "2025-02-26T20:00:00+00:00"
    contract = lst.to_contract(deep=True)
    assert len(contract["comments"]) == 8 and contract["comments"][1]["kind"] == "bid"


def test_bid_to_2021_markup_has_no_sale_price_despite_sold_for_text_elsewhere():
    lst = parse("listing_bidto_2021.html")
    assert lst.outcome == Outcome.BID_TO
    assert lst.sale_price is None and lst.high_bid == 61000 and lst.currency == "USD"
    assert lst.buyer is None  # the high bidder did not buy
    # Old essentials: <b> labels, no .item wrappers.
    assert lst.seller == "CCollector" and lst.location == "Austin, Texas 78701" and lst.lot_number == "48310"
    assert (lst.mileage, lst.mileage_unit) == (45000, "mi")  # "45k Miles Shown, TMU"
    assert lst.no_reserve is False  # sidebar "No Reserve" tags are not this listing's
    assert (lst.bid_count, lst.comment_count) == (31, 57)
    assert lst.ended_at.isoformat() == "2021-06-14T17:00:00+00:00"
    deep = parse("listing_bidto_2021.html", deep=True)
    assert [str(c.kind) for c in deep.comments] == ["comment", "bid", "system"]


def test_live_listing_takes_current_bid_and_scheduled_end_from_data_timestamp():
    lst = parse("listing_live.html")
    assert lst.outcome == Outcome.LIVE
    assert lst.high_bid == 21000 and lst.sale_price is None
    assert lst.ended_at.isoformat() == "2026-10-04T18:08:33+00:00"
    assert lst.bid_count == 11 and lst.comment_count == 9
    assert lst.buyer is None


def test_withdrawn_2026_listing():
    lst = parse("listing_withdrawn_2026.html")
    assert lst.outcome == Outcome.WITHDRAWN
    assert lst.sale_price is None and lst.high_bid is None
    assert (lst.mileage, lst.mileage_unit) == (35000, "km")
    assert lst.no_reserve is True
    assert lst.ended_at.isoformat() == "2026-09-15T13:46:40+00:00"


def test_non_usd_sale_and_short_chassis_number():
    lst = parse("listing_sold_2026_gbp.html")
    assert (lst.outcome, lst.sale_price, lst.currency) == (Outcome.SOLD, 612000, "GBP")
    assert lst.vin == "DB5/1234/R" and lst.vin_state == VinState.NOT_APPLICABLE
    assert lst.mileage is None  # "TMU" alone: no number, no guess
    assert (lst.make, lst.model) == ("Aston Martin", "DB5")


def test_title_is_the_fallback_result_element():
    page = load("listing_sold.html")
    start = page.index(b'<div class="listing-available-info">')
    end = page.index(b"</div>", start) + len(b"</div>")
    without_banner = page[:start] + page[end:]
    lst = bat.parse(without_banner)
    assert lst.outcome == Outcome.SOLD and lst.outcome_evidence == "title" and lst.sale_price == 18500


def test_listing_without_any_result_element_is_a_parse_error():
    page = load("listing_bidto_2021.html")
    page = page.replace(b"listing-available-info", b"x-info").replace(b"- bid to $61,000", b"")
    page = page.replace(b"<title>", b"<title>x").replace(b'id="listing-bid"', b'id="x"')
    with pytest.raises(ParseError) as err:
        bat.parse(page)
    assert "result element" in err.value.missing


def test_results_page_json():
    idx = parse("results.html")
    assert isinstance(idx, IndexPage)
    assert (idx.total_items, idx.page, idx.pages_total) == (208940, 1, 5804)
    assert idx.next_page_url == "https://bringatrailer.com/auctions/results/?page=2"
    assert [i.outcome for i in idx.items] == [Outcome.SOLD, Outcome.BID_TO, Outcome.SOLD, Outcome.WITHDRAWN]
    assert [i.price for i in idx.items] == [21250, 18787, 45500, None]  # the sold_text price, not current_bid
    assert idx.items[0].no_reserve is True and idx.items[1].no_reserve is False
    assert idx.items[2].title == "Fish & Chips 1972 Lotus Elan Sprint"
    assert idx.items[0].ended_at.isoformat() == "2025-09-06T18:32:46+00:00"
    assert all(i.external_id != "decoy-card-1" for i in idx.items)


def test_results_page_next_link_keeps_its_own_url_and_replaces_page():
    page = load("results.html").replace(b'"page_current":1', b'"page_current":7')
    page = page.replace(b'content="https://bringatrailer.com/auctions/results/"',
                        b'content="http://127.0.0.1:9/bat/auctions/results/?page=7"')
    idx = bat.parse(page)
    assert idx.next_page_url == "http://127.0.0.1:9/bat/auctions/results/?page=8"
    last = bat.parse(load("results.html").replace(b'"page_current":1', b'"page_current":5804'))
    assert last.next_page_url is None


def test_live_board():
    idx = parse("live_board.html")
    assert [i.outcome for i in idx.items] == [Outcome.LIVE, Outcome.LIVE]
    assert [i.price for i in idx.items] == [33000, None]  # current_bid false: no bids yet
    assert idx.total_items == 2 and idx.next_page_url is None


def test_listings_filter_json():
    idx = parse("listings_filter_page2.json", url="https://bringatrailer.com/wp-json/bringatrailer/1.0/data/listings-filter?page=2&minimum_year=1950")
    assert (idx.page, idx.pages_total, idx.total_items) == (2, 5805, 208941)
    assert idx.next_page_url == ("https://bringatrailer.com/wp-json/bringatrailer/1.0/data/listings-filter"
                                 "?minimum_year=1950&page=3")
    assert [(i.outcome, i.price, i.currency) for i in idx.items] == [(Outcome.SOLD, 9100, "USD"), (Outcome.BID_TO, 15500, "EUR")]


def test_url_rules():
    url = "https://bringatrailer.com/listing/2009-porsche-911-carrera-4s-coupe-28/?utm_source=x#comments"
    assert bat.external_id(url) == "2009-porsche-911-carrera-4s-coupe-28"
    assert bat.canonical_url(url) == "https://bringatrailer.com/listing/2009-porsche-911-carrera-4s-coupe-28/"
    assert bat.canonical_url("https://bringatrailer.com/listing/abc-1") == "https://bringatrailer.com/listing/abc-1/"
    # ids are read from the path as the site shapes it, from its root: no prefix mode
    assert bat.external_id("http://127.0.0.1:8765/bat/listing/abc-1/") is None
    assert not bat.matches("https://bringatrailer.com/bat/listing/abc-1/")
    assert bat.matches(url) and bat.matches("https://bringatrailer.com/auctions/results/")
    assert not bat.matches("https://bringatrailer.com/member/someone/")
    assert bat.external_id("https://bringatrailer.com/auctions/") is None
    assert bat.index_url("http://h/bat") == "http://h/bat/auctions/results/"
    assert bat.index_url("http://h/bat", page=3) == "http://h/bat/auctions/results/?page=3"
    assert bat.index_url("http://h/bat", kind="live") == "http://h/bat/auctions/"
    assert bat.index_url("https://bringatrailer.com", make="porsche", model="911") == "https://bringatrailer.com/porsche/911/"
    assert bat.is_auction is True and "bringatrailer.com" in bat.ALLOWED_HOSTS
