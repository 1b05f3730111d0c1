"""Mecum lot pages (__NEXT_DATA__) and the Algolia mecum_lots response, on the project's own fixtures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vehicle_pipeline.model import IndexPage, ParseError, VehicleListing
from vehicle_pipeline.sources import mecum

FIX = Path(__file__).parent / "fixtures" / "mecum"


def lot_page(**changes) -> str:
    """The sold fixture with keys of `post` replaced (None deletes the key)."""
    html = (FIX / "lot_sold.html").read_text()
    m = re.search(r'(<script id="__NEXT_DATA__" type="application/json">)(.*?)(</script>)', html, re.S)
    data = json.loads(m.group(2))
    post = data["props"]["pageProps"]["post"]
    for key, value in changes.items():
        if value is None:
            post.pop(key, None)
        else:
            post[key] = value
    return html[: m.start(2)] + json.dumps(data) + html[m.end(2) :]


def test_sold_lot():
    lst = mecum.parse((FIX / "lot_sold.html").read_bytes())
    assert isinstance(lst, VehicleListing)
    c = lst.to_contract()
    assert c["url"] == "https://www.mecum.com/lots/550602/1967-chevrolet-corvette-427-435-convertible/"
    assert c["external_id"] == "550602"
    assert (c["year"], c["make"], c["model"], c["trim"]) == (1967, "Chevrolet", "Corvette", "427/435 Convertible")
    assert c["outcome"] == "sold" and c["sale_price"] == 187000 and c["high_bid"] == 187000
    assert c["currency"] == "USD"
    assert c["vin"] == "194677S112233" and c["vin_state"] == "not_applicable"  # pre-1981 serial
    assert (c["mileage"], c["mileage_unit"]) == (41215, "mi")
    assert c["lot_number"] == "S113"
    assert (c["exterior_color"], c["interior_color"], c["transmission"]) == ("Marlboro Maroon", "Black", "4-Speed Manual")
    assert c["images"] == ["https://img.mecum.com/lots/550602/01.jpg", "https://img.mecum.com/lots/550602/02.jpg"]
    assert c["ended_at"] is None  # run date has no time of day
    assert c["no_reserve"] is None
    assert lst.outcome_evidence == "saleResults:sold"


def test_not_sold_with_bid_is_bid_to_without_sale_price():
    c = mecum.parse(lot_page(saleResults={"edges": [{"node": {"slug": "not-sold"}}]}, hammerPrice=0, currentBid=150000)).to_contract()
    assert c["outcome"] == "bid_to"
    assert c["high_bid"] == 150000
    assert c["sale_price"] is None


def test_not_sold_without_bid_is_no_sale():
    c = mecum.parse(lot_page(saleResults={"edges": [{"node": {"slug": "not-sold"}}]}, hammerPrice=None, currentBid=0)).to_contract()
    assert c["outcome"] == "no_sale" and c["high_bid"] is None and c["sale_price"] is None


def test_hammer_price_on_a_not_sold_lot_is_never_a_sale_price():
    c = mecum.parse(lot_page(saleResults={"edges": [{"node": {"slug": "not-sold"}}]}, hammerPrice=99000, currentBid=99000)).to_contract()
    assert c["outcome"] == "bid_to" and c["sale_price"] is None and c["high_bid"] == 99000


def test_upcoming_lot_is_live_and_without_run_date_unknown():
    c = mecum.parse(lot_page(saleResults={"edges": []}, hammerPrice=None, currentBid=None)).to_contract()
    assert c["outcome"] == "live" and c["sale_price"] is None and c["high_bid"] is None
    c = mecum.parse(lot_page(saleResults=None, runDates=None, hammerPrice=None, currentBid=None)).to_contract()
    assert c["outcome"] == "unknown"


def test_withdrawn_and_kilometres_and_no_reserve():
    c = mecum.parse(
        lot_page(
            saleResults={"edges": [{"node": {"slug": "withdrawn"}}]},
            hammerPrice=None,
            currentBid=None,
            odometer=88000,
            odometerUnits="K",
            collectionsTax={"edges": [{"node": {"name": "No Reserve", "slug": "no-reserve"}}]},
        )
    ).to_contract()
    assert c["outcome"] == "withdrawn"
    assert (c["mileage"], c["mileage_unit"]) == (88000, "km")
    assert c["no_reserve"] is True


def test_unknown_odometer_unit_leaves_mileage_unknown():
    c = mecum.parse(lot_page(odometerUnits=None)).to_contract()
    assert c["mileage"] is None and c["mileage_unit"] is None


def test_url_from_uri_or_argument():
    page = lot_page(link=None)
    assert mecum.parse(page).url == "https://www.mecum.com/lots/550602/1967-chevrolet-corvette-427-435-convertible/"
    page = lot_page(link=None, uri=None, databaseId=None, slug=None)
    lst = mecum.parse(page, url="https://www.mecum.com/lots/FL0125-550602/some-car/?utm=x")
    assert lst.url == "https://www.mecum.com/lots/FL0125-550602/some-car/"
    assert lst.external_id == "FL0125-550602"


def test_algolia_index():
    idx = mecum.parse((FIX / "algolia_lots_page0.json").read_bytes(), url="https://x-dsn.algolia.net/1/indexes/mecum_lots?query=&page=0&hitsPerPage=50")
    assert isinstance(idx, IndexPage)
    c = idx.to_contract()
    assert (c["total_items"], c["page"], c["pages_total"]) == (1234, 1, 25)
    assert c["next_page_url"] == "https://x-dsn.algolia.net/1/indexes/mecum_lots?query=&hitsPerPage=50&page=1"
    items = c["items"]
    assert [i["external_id"] for i in items] == ["550602", "550777", "550800", "551000"]  # link-less hit dropped
    assert [i["outcome"] for i in items] == ["sold", "bid_to", "no_sale", "live"]
    assert [i["price"] for i in items] == [187000, 1450000, None, None]
    assert items[1]["url"] == "https://www.mecum.com/lots/550777/1970-plymouth-hemi-cuda/" or items[1]["url"].endswith(
        "/lots/550777/1970-plymouth-hemi-cuda/"
    )
    assert items[3]["no_reserve"] is True and items[0]["no_reserve"] is None


def test_algolia_last_page_has_no_next():
    data = json.loads((FIX / "algolia_lots_page0.json").read_text())
    data.update(page=24)
    c = mecum.parse(json.dumps(data)).to_contract()
    assert c["page"] == 25 and c["next_page_url"] is None


def test_url_rules():
    u = "https://www.mecum.com/lots/550602/1967-chevrolet-corvette/?src=search#photos"
    assert mecum.matches(u)
    assert mecum.external_id(u) == "550602"
    assert mecum.canonical_url(u) == "https://www.mecum.com/lots/550602/1967-chevrolet-corvette/"
    assert not mecum.matches("https://www.mecum.com/auctions/kissimmee-2024/")
    assert mecum.index_url("http://127.0.0.1:8765/mecum", page=3) == "http://127.0.0.1:8765/mecum/1/indexes/mecum_lots?query=&page=2&hitsPerPage=50"


@pytest.mark.parametrize(
    "content, missing",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("<html><body><h1>Lots</h1></body></html>", "__NEXT_DATA__"),
        ('<script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"lots":[]}}}</script>', "Algolia"),
        ('<script id="__NEXT_DATA__" type="application/json">{"props":', "not valid JSON"),
        ('{"results": []}', "hits"),
        ("<html><title>Just a moment...</title></html>", "challenge"),
    ],
)
def test_bad_input_is_a_clean_parse_error(content, missing):
    with pytest.raises(ParseError) as exc:
        mecum.parse(content)
    assert exc.value.source == "mecum"
    assert missing in str(exc.value)


def test_truncated_lot_page_is_a_parse_error():
    html = (FIX / "lot_sold.html").read_text()
    with pytest.raises(ParseError):
        mecum.parse(html[: html.index('"title"') + 20])


def test_post_without_title_names_it():
    with pytest.raises(ParseError, match="post.title"):
        mecum.parse(lot_page(title=None))
