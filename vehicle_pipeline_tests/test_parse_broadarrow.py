"""Broad Arrow results lists and lot pages, on the project's own fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from vehicle_pipeline.model import IndexPage, ParseError, VehicleListing
from vehicle_pipeline.sources import broadarrow

FIX = Path(__file__).parent / "fixtures" / "broadarrow"
SOLD_BLOCK = '<div class="vehicle-result sold">Sold for <span class="amount">$4,845,000</span></div>'


def lot(result_block: str | None = SOLD_BLOCK, estimate: bool = True) -> str:
    html = (FIX / "lot_sold.html").read_text()
    html = html.replace(SOLD_BLOCK, result_block or "")
    if not estimate:
        start = html.index('<div class="vehicle-estimate">')
        html = html[:start] + html[html.index("</div>", start) + 6 :]
    return html


def test_results_list():
    idx = broadarrow.parse((FIX / "results_page2.html").read_bytes())
    assert isinstance(idx, IndexPage)
    c = idx.to_contract()
    assert c["url"] == "https://www.broadarrowauctions.com/vehicles/results?page=2"
    assert (c["total_items"], c["page"], c["pages_total"]) == (75, 2, 4)
    assert c["next_page_url"] == "https://www.broadarrowauctions.com/vehicles/results?page=3"
    items = c["items"]
    assert [i["external_id"] for i in items] == ["am23_155", "zu24_r0158", "lb24_042", "mo24_201", "lb24_077"]
    assert [i["outcome"] for i in items] == ["sold", "bid_to", "no_sale", "live", "sold"]
    assert [i["price"] for i in items] == [4845000, 6200000, None, None, 87400]
    assert items[0]["title"] == "1968 Porsche 907 K"
    assert items[1]["url"] == "https://www.broadarrowauctions.com/vehicles/zu24_r0158/1961-ferrari-250-gt-swb"
    assert [r.currency for r in idx.items] == ["USD", "EUR", None, None, "GBP"]


def test_sold_lot():
    lst = broadarrow.parse((FIX / "lot_sold.html").read_text())
    assert isinstance(lst, VehicleListing)
    c = lst.to_contract()
    assert c["external_id"] == "am23_155" and c["lot_number"] == "155"
    assert c["outcome"] == "sold" and c["sale_price"] == 4845000 and c["high_bid"] == 4845000
    assert c["currency"] == "USD"
    assert (c["year"], c["make"], c["model"]) == (1968, "Porsche", "907")
    assert c["vin_state"] == "not_applicable"  # chassis number, not a VIN
    assert (c["mileage"], c["mileage_unit"]) == (1234, "km")
    assert c["location"] == "Amelia Island, Florida"
    assert c["images"][1] == "https://cdn.broadarrowauctions.com/am23_155/2.jpg"


def test_not_sold_with_high_bid_is_bid_to():
    c = broadarrow.parse(
        lot('<div class="vehicle-result not-sold">Not Sold <span class="high-bid">High Bid €3,900,000</span></div>')
    ).to_contract()
    assert c["outcome"] == "bid_to" and c["high_bid"] == 3900000 and c["sale_price"] is None
    assert c["currency"] == "EUR"


def test_not_sold_without_bid_is_no_sale():
    c = broadarrow.parse(lot('<div class="vehicle-result not-sold">Not Sold</div>')).to_contract()
    assert c["outcome"] == "no_sale" and c["high_bid"] is None and c["sale_price"] is None


def test_estimate_only_is_live_and_page_text_does_not_decide():
    # highlights and the specialist card say "Sold …"; only the result block may decide
    c = broadarrow.parse(lot(None)).to_contract()
    assert c["outcome"] == "live" and c["sale_price"] is None and c["high_bid"] is None
    assert c["currency"] == "USD"


def test_withdrawn_and_gbp_sale():
    c = broadarrow.parse(lot('<div class="vehicle-result withdrawn">Withdrawn</div>')).to_contract()
    assert c["outcome"] == "withdrawn"
    c = broadarrow.parse(lot('<div class="vehicle-result sold">Sold for <span>£612,500</span></div>')).to_contract()
    assert (c["outcome"], c["sale_price"], c["currency"]) == ("sold", 612500, "GBP")


def test_no_result_and_no_estimate_is_unknown():
    c = broadarrow.parse(lot(None, estimate=False)).to_contract()
    assert c["outcome"] == "unknown"


def test_url_rules():
    u = "https://www.broadarrowauctions.com/vehicles/QL26_R0158/2025-bugatti-w16-mistral?utm_source=x"
    assert broadarrow.matches(u)
    assert broadarrow.external_id(u) == "ql26_r0158"
    assert broadarrow.canonical_url(u) == "https://www.broadarrowauctions.com/vehicles/ql26_r0158/2025-bugatti-w16-mistral"
    assert broadarrow.index_url("http://127.0.0.1:1/broadarrow", page=2) == "http://127.0.0.1:1/broadarrow/vehicles/results?page=2"
    assert broadarrow.index_url("https://www.broadarrowauctions.com") == "https://www.broadarrowauctions.com/vehicles/results"
    assert not broadarrow.matches("https://www.broadarrowauctions.com/about")


@pytest.mark.parametrize(
    "content, missing",
    [
        ("", "empty"),
        ("<html><body><p>hello</p></body></html>", "ft-vehicle-item"),
        ('{"lots": []}', "HTML"),
        ('<html><body><div class="ft-vehicle-item grid-block"><a class="vehicle-card" href="/about">x</a></div></body></html>', "vehicle-card"),
    ],
)
def test_bad_input(content, missing):
    with pytest.raises(ParseError) as exc:
        broadarrow.parse(content, url="https://www.broadarrowauctions.com/vehicles/results")
    assert missing in str(exc.value)


def test_lot_page_without_header_is_a_parse_error():
    html = lot().replace("Lot 155 | The Amelia Auction 2023", "The Amelia Auction 2023")
    with pytest.raises(ParseError, match="Lot N"):
        broadarrow.parse(html)


def test_unrelated_page_without_url_names_both_shapes():
    with pytest.raises(ParseError, match="lot header"):
        broadarrow.parse("<html><body><p>hello</p></body></html>")
