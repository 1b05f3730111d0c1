"""Cars & Bids parser on the project's own fixtures: rendered pages, detail JSON, list JSON."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from vehicle_pipeline.model import IndexPage, Outcome, ParseError, VehicleListing, VinState
from vehicle_pipeline.sources import carsandbids as cab

FIXTURES = Path(__file__).parent / "fixtures" / "carsandbids"


def parse(name: str, **kw):
    return cab.parse((FIXTURES / name).read_bytes(), **kw)


def test_sold_page():
    lst = parse("auction_sold.html")
    assert isinstance(lst, VehicleListing)
    assert lst.url == "https://carsandbids.com/auctions/3gvwNPwG/1995-toyota-4runner-sr5-4x4"
    assert lst.external_id == "3gvwNPwG"
    assert lst.outcome == Outcome.SOLD and lst.outcome_evidence == "ul.bid-stats li.ended"
    assert (lst.sale_price, lst.high_bid, lst.currency) == (7300, 7300, "USD")
    assert lst.buyer == "badger2142" and lst.seller == "bumperlt"
    assert (lst.bid_count, lst.comment_count, lst.view_count) == (10, 13, 5485)
    assert lst.ended_at == datetime(2022, 4, 21, 17, 46, tzinfo=timezone.utc)  # 10:46pm PKT
    assert (lst.year, lst.make, lst.model, lst.trim) == (1995, "Toyota", "4Runner", "SR5 4x4")
    assert lst.vin == "JT3VN39W0S0195671" and lst.vin_state == VinState.VALID
    assert (lst.mileage, lst.mileage_unit) == (129600, "mi")
    assert lst.location == "Kenmore, WA 98028"
    assert (lst.engine, lst.drivetrain, lst.transmission, lst.body_style) == ("3.0L V6", "4WD/AWD", "Automatic (4-Speed)", "SUV/Crossover")
    assert (lst.exterior_color, lst.interior_color) == ("Garnet Pearl", "Gray")
    assert lst.no_reserve is True  # the tag inside the subtitle h2
    assert lst.images == ["https://media.carsandbids.com/photos/4runner-main.jpg", "https://media.carsandbids.com/photos/4runner-2.jpg"]


def test_reserve_not_met_page_has_no_sale_price():
    lst = parse("auction_bidto.html")
    assert lst.outcome == Outcome.BID_TO
    assert lst.sale_price is None and lst.high_bid == 18350 and lst.buyer is None
    assert lst.no_reserve is False
    assert lst.ended_at == datetime(2022, 4, 21, 17, 54, tzinfo=timezone.utc)  # 1:54pm EDT


def test_sold_after_page():
    lst = parse("auction_sold_after.html")
    assert lst.outcome == Outcome.SOLD_AFTER and lst.sale_price == 8000
    assert lst.high_bid is None  # the page shows the deal price, not the auction high bid


def test_canceled_page_is_withdrawn_and_unknown_zone_gives_no_end_time():
    lst = parse("auction_canceled.html")
    assert lst.outcome == Outcome.WITHDRAWN
    assert lst.sale_price is None and lst.high_bid is None
    assert lst.ended_at is None  # "IST" is ambiguous: no guess


def test_live_page_year_from_the_page_and_weekday():
    lst = parse("auction_live.html")
    assert lst.outcome == Outcome.LIVE and lst.high_bid == 1700 and lst.sale_price is None
    assert lst.ended_at == datetime(2022, 4, 27, 19, 38, tzinfo=timezone.utc)


def test_shown_time_rules():
    assert cab.parse_shown_time("Apr 21, 2022 10:46pm PKT") == datetime(2022, 4, 21, 17, 46, tzinfo=timezone.utc)
    assert cab.parse_shown_time("Apr 21, 2022 10:46am PST") == datetime(2022, 4, 21, 18, 46, tzinfo=timezone.utc)
    assert cab.parse_shown_time("Apr 21, 2022 12:05am UTC") == datetime(2022, 4, 21, 0, 5, tzinfo=timezone.utc)
    assert cab.parse_shown_time("Apr 21, 2022 10:46pm") is None  # browser-local, zone unknown
    assert cab.parse_shown_time("Apr 21, 2022 10:46pm XYZT") is None
    assert cab.parse_shown_time("Thu, Apr 28 12:38am PKT") is None  # no year, no hint
    assert cab.parse_shown_time("Fri, Apr 28 12:38am PKT", year_hint=2022) is None  # weekday contradicts 2022
    assert cab.parse_shown_time("Fri, Apr 28 12:38am PKT", year_hint=2023) == datetime(2023, 4, 27, 19, 38, tzinfo=timezone.utc)
    # Shown on 1 January, page dated the previous December.
    assert cab.parse_shown_time("Mon, Jan 1 12:30am UTC", year_hint=2023) == datetime(2024, 1, 1, 0, 30, tzinfo=timezone.utc)


def test_page_without_bid_stats_is_a_parse_error():
    page = (FIXTURES / "auction_sold.html").read_bytes().replace(b"bid-stats", b"x-stats")
    with pytest.raises(ParseError) as err:
        cab.parse(page)
    assert "bid-stats" in err.value.missing


def test_bid_stats_without_a_result_verb_is_a_parse_error():
    page = (FIXTURES / "auction_bidto.html").read_bytes()
    page = page.replace(b"Bid to <span", b"<span").replace(b"<h4>Reserve not met, bid to</h4>", b"<h4></h4>")
    with pytest.raises(ParseError):
        cab.parse(page)


def test_detail_json_sold_2026_uses_sale_amount_and_buyer():
    lst = parse("detail_sold_2026.json")
    assert lst.outcome == Outcome.SOLD and lst.outcome_evidence == "api:status=sold"
    assert (lst.sale_price, lst.high_bid) == (152000, 152000)
    assert lst.buyer == "latebidder" and lst.seller == "gt3owner"
    assert lst.url == "https://carsandbids.com/auctions/Ab12Cd34/2018-porsche-911-gt3-touring"
    assert lst.ended_at == datetime(2026, 3, 2, 21, 5, 11, tzinfo=timezone.utc)
    assert (lst.transmission, lst.drivetrain, lst.body_style) == ("Manual (6-Speed)", "Rear-wheel drive", "Coupe")
    assert (lst.model, lst.trim) == ("911", "GT3 Touring")
    assert (lst.bid_count, lst.comment_count, lst.view_count, lst.watcher_count) == (41, 77, 8123, 640)
    # the car's photos in gallery order (exterior, interior, mechanical), each once; paperwork scans left out
    assert lst.images == ["https://media.carsandbids.com/abc/photos/" + name
                          for name in ("one.jpg", "two.jpg", "seats.jpg", "engine.jpg")]


def test_detail_json_reserve_not_met_and_unknown_enum():
    lst = parse("detail_reserve_not_met.json")
    assert lst.outcome == Outcome.BID_TO and lst.sale_price is None and lst.high_bid == 30000
    assert lst.buyer is None
    assert lst.drivetrain is None  # drive_train 9 is not a known enum value
    assert lst.body_style == "Sedan" and lst.transmission == "Manual (5-Speed)"
    assert (lst.mileage, lst.mileage_unit) == (98000, "mi")


def test_detail_json_canceled_is_withdrawn():
    lst = parse("detail_canceled.json", url="http://127.0.0.1:9/carsandbids/v2/autos/auctions/KdYMLW6B")
    assert lst.outcome == Outcome.WITHDRAWN and lst.sale_price is None
    assert lst.url == "http://127.0.0.1:9/carsandbids/auctions/KdYMLW6B/2004-volkswagen-phaeton-w12-premiere-edition"
    assert lst.drivetrain == "4WD/AWD"


def test_detail_json_never_puts_a_sale_price_on_a_live_or_unknown_status():
    import json

    obj = json.loads((FIXTURES / "detail_sold_2026.json").read_text())
    for status, outcome in (("live", Outcome.LIVE), ("paused_for_review", Outcome.UNKNOWN)):
        obj["status"] = status
        lst = cab.parse(json.dumps(obj))
        assert lst.outcome == outcome and lst.sale_price is None and lst.high_bid == 152000


def test_closed_list_json():
    idx = parse("list_closed.json", url="https://carsandbids.com/v2/autos/auctions?limit=3&status=closed&timestamp=1&signature=abc")
    assert isinstance(idx, IndexPage)
    assert idx.url == "https://carsandbids.com/v2/autos/auctions?limit=3&status=closed"  # signing params dropped
    assert (idx.total_items, idx.page, idx.pages_total) == (7, 1, 3)
    assert idx.next_page_url == "https://carsandbids.com/v2/autos/auctions?limit=3&status=closed&offset=3"
    assert [i.outcome for i in idx.items] == [Outcome.WITHDRAWN, Outcome.BID_TO, Outcome.SOLD]
    assert [i.price for i in idx.items] == [5678, 30000, 10500]
    assert idx.items[2].no_reserve is True
    assert idx.items[1].url == "https://carsandbids.com/auctions/9XQkMm2o/1997-bmw-m3-sedan"
    last = parse("list_closed.json", url="https://carsandbids.com/v2/autos/auctions?limit=3&offset=6&status=closed")
    assert last.page == 3 and last.next_page_url is None


def test_new_list_json_is_the_live_board_without_prices():
    idx = parse("list_new.json")
    assert [i.outcome for i in idx.items] == [Outcome.LIVE, Outcome.LIVE]
    assert all(i.price is None and i.ended_at is None for i in idx.items)
    assert idx.total_items == 2 and idx.next_page_url is None


def test_url_rules():
    url = "https://carsandbids.com/auctions/3gvwNPwG/1995-toyota-4runner-sr5-4x4?utm_medium=x"
    assert cab.external_id(url) == "3gvwNPwG"
    assert cab.canonical_url(url) == "https://carsandbids.com/auctions/3gvwNPwG/1995-toyota-4runner-sr5-4x4"
    assert cab.external_id("https://carsandbids.com/v2/autos/auctions/KZpLVWQA?timestamp=1&signature=2") == "KZpLVWQA"
    assert cab.external_id("https://carsandbids.com/auctions/KZpLVWQA/x") == "KZpLVWQA"
    assert cab.external_id("http://127.0.0.1:1/carsandbids/auctions/KZpLVWQA/x") is None  # no prefix mode
    assert cab.matches(url) and not cab.matches("https://carsandbids.com/user/bumperlt")
    assert cab.index_url("http://h/carsandbids", status="new", limit=95) == "http://h/carsandbids/v2/autos/auctions?limit=95&status=new"
    assert cab.index_url("https://carsandbids.com", offset=50) == "https://carsandbids.com/v2/autos/auctions?limit=50&status=closed&offset=50"
