"""Dealer VDPs and inventory pages (JSON-LD, meta, DDC/DealerCenter/DealerOn): own fixtures, then the corpus."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vehicle_pipeline.model import IndexPage, ParseError, VehicleListing
from vehicle_pipeline.sources import dealer

FIX = Path(__file__).parent / "fixtures" / "dealer"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dealer"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus folder not present")


def test_ddc_vdp_graph_and_dom_price():
    lst = dealer.parse((FIX / "ddc_vdp.html").read_bytes())
    assert isinstance(lst, VehicleListing)
    c = lst.to_contract()
    assert c["vin"] == "WP0AA2993SS321456"
    assert c["external_id"] == urlsplit(c["url"]).path.rstrip("/"), "a dealer listing is identified by its URL"
    assert (c["year"], c["make"], c["model"], c["trim"]) == (1995, "Porsche", "911", "Carrera")
    assert (c["mileage"], c["mileage_unit"]) == (61250, "mi")
    # the JSON-LD offer has no price: the DDC final price, not the "similar vehicles" one
    assert (c["asking_price"], c["currency"]) == (94950, "USD")
    assert c["outcome"] is None and c["sale_price"] is None
    assert c["seller"] == "Example Motors" and c["location"] == "Portland, OR"
    assert c["drivetrain"] == "RearWheelDriveConfiguration" and c["engine"] == "3.6L H-6"
    assert len(c["images"]) == 2


def test_dealercenter_makes_offer_eur_km_chassis():
    c = dealer.parse((FIX / "dealercenter_vdp.html").read_text()).to_contract()
    assert (c["asking_price"], c["currency"]) == (1250000, "EUR")
    assert (c["mileage"], c["mileage_unit"]) == (45000, "km")
    assert c["vin"] == "1980427500123" and c["vin_state"] == "not_applicable"
    assert (c["year"], c["make"], c["model"], c["trim"]) == (1957, "Mercedes-Benz", "300SL", "Roadster")
    assert c["seller"] == "SAMPLE CLASSICS"


def test_meta_only_page():
    html = """<html><head><link rel="canonical" href="https://d.example/inventory/ford/bronco/b777/">
    <meta property="og:type" content="product"><meta property="og:title" content="1974 Ford Bronco Sport">
    <meta property="product:price:amount" content="41000.00"><meta property="product:price:currency" content="USD">
    <meta property="product:retailer_item_id" content="B777"></head><body></body></html>"""
    c = dealer.parse(html).to_contract()
    assert c["external_id"] == "/inventory/ford/bronco/b777"
    assert (c["asking_price"], c["currency"]) == (41000, "USD")
    assert (c["year"], c["make"], c["model"], c["trim"]) == (1974, "Ford", "Bronco", "Sport")


def test_type_as_string_and_zero_price_is_unknown():
    html = """<html><head><script type="application/ld+json">{"@context":"https://schema.org","@type":"Vehicle",
    "name":"1969 Chevrolet Camaro","url":"https://d.example/used/1969-camaro.htm","sku":"C6901","vehicleModelDate":"1969",
    "brand":"Chevrolet","model":"Camaro","offers":{"@type":"Offer","price":"0","priceCurrency":"USD"},
    "mileageFromOdometer":{"value":52000}}</script></head><body></body></html>"""
    c = dealer.parse(html).to_contract()
    assert c["url"] == "https://d.example/used/1969-camaro.htm"
    assert c["external_id"] == "/used/1969-camaro.htm" and c["vin"] is None
    assert c["asking_price"] is None and c["currency"] is None
    assert (c["mileage"], c["mileage_unit"]) == (52000, None)  # no unit code: unit unknown


def test_srp_item_list():
    idx = dealer.parse((FIX / "srp_itemlist.html").read_bytes())
    assert isinstance(idx, IndexPage)
    c = idx.to_contract()
    assert (c["total_items"], c["page"]) == (57, 2)
    assert c["next_page_url"] == "https://www.examplemotors.com/used-inventory/index.htm?page=3"
    assert [i["price"] for i in c["items"]] == [94950, None]
    assert all(i["external_id"] == urlsplit(i["url"]).path.rstrip("/") for i in c["items"])
    assert c["items"][1]["url"] == "https://www.examplemotors.com/used/Chevrolet/1969-Chevrolet-Camaro-aa11.htm"


def test_srp_dealeron_cards():
    c = dealer.parse((FIX / "srp_dealeron.html").read_bytes()).to_contract()
    assert [(i["price"], i["title"]) for i in c["items"]] == [
        (48900, "2006 Chevrolet Corvette Z06"),
        (None, "1974 Ford Bronco"),
    ]
    assert all(i["external_id"] == urlsplit(i["url"]).path.rstrip("/") for i in c["items"])
    assert c["next_page_url"] == "https://www.sampleauto.com/searchused.aspx?pt=2"


def test_url_rules():
    assert dealer.matches("https://www.sugarloafcdjr.com/used/Ram/2026-Ram-1500-4d08.htm")
    assert dealer.matches("https://x.example/inventory/bmw/x5/o-y37600/")
    assert not dealer.matches("https://x.example/about-us/")
    assert dealer.ALLOWED_HOSTS == ()
    assert dealer.canonical_url("https://X.example/inventory/a/?utm=1#top") == "https://x.example/inventory/a/"
    assert dealer.index_url("http://127.0.0.1:1/dealer/acme") == "http://127.0.0.1:1/dealer/acme/inventory/"


@pytest.mark.parametrize(
    "content, missing",
    [
        ("", "empty"),
        ("<html><body><h1>Welcome</h1></body></html>", "JSON-LD"),
        ('<html><head><script type="application/ld+json">{"@type":"Car"}</script></head></html>', "no VIN"),
        ('{"@type": "Car"}', "HTML"),
    ],
)
def test_bad_input(content, missing):
    with pytest.raises(ParseError) as exc:
        dealer.parse(content, url="https://d.example/used/x.htm")
    assert missing in str(exc.value)


# ---- corpus -------------------------------------------------------------------------------------
@needs_corpus
def test_corpus_ddc_excerpt():
    c = dealer.parse((CORPUS / "dealer_ddc_sugarloafcdjr_vdp_2026-ram-1500_EXCERPT.html").read_bytes()).to_contract()
    assert c["url"] == "https://www.sugarloafcdjr.com/used/Ram/2026-Ram-1500-4d08aa78ac184f13fc02510b1e1a2ac2.htm"
    assert c["vin"] == "1C6SRFJP4TN259019" and c["vin_state"] == "valid"
    assert (c["mileage"], c["mileage_unit"]) == (19611, "mi")
    assert c["asking_price"] is None  # the offer has no price and the excerpt has no DOM price
    assert (c["year"], c["make"], c["model"], c["trim"]) == (2026, "Ram", "1500", "Laramie")
    assert c["exterior_color"] == "Diamond Black Crystal Pearlcoat" and c["interior_color"] == "Black"
    assert (c["transmission"], c["drivetrain"], c["engine"]) == ("8-speed automatic", "4x4", "3.0L I-6 cyl")
    assert c["seller"] == "Sugar Loaf Chrysler Dodge Jeep Ram (Formerly Chrysler Winona)"
    assert c["location"] == "Winona, MN"


@needs_corpus
def test_corpus_dealercenter_excerpt():
    c = dealer.parse((CORPUS / "dealer_dealercenter_orangeautosalesmiami_vdp_2025-bmw-x5_EXCERPT.html").read_bytes()).to_contract()
    assert c["url"] == "https://www.orangeautosalesmiami.com/inventory/bmw/x5/o-y37600/"
    assert c["vin"] == "5UX43EU03S9Y37600"
    assert (c["asking_price"], c["currency"]) == (57998, "USD")
    assert (c["year"], c["make"], c["model"]) == (2025, "BMW", "X5")
    assert (c["body_style"], c["engine"], c["transmission"]) == ("SUV", "6-CYL, HYBRID, TURBO, 3.0 LITER", "AUTOMATIC")
    assert (c["exterior_color"], c["interior_color"]) == ("WHITE", "BLACK")
    assert c["mileage"] is None  # only in free text


# ---- inventory pages without vehicle JSON-LD, as the dealer-website platforms render them -------------------
def _items(name: str) -> tuple[dict, list[tuple]]:
    c = dealer.parse((FIX / name).read_bytes()).to_contract()
    assert c["kind"] == "index" and c["fallback"] is False
    return c, [(i["vin"], i["stock_number"], i["price"], i["mileage"]) for i in c["items"]]


def test_dealercenter_srp_labelled_text_call_for_price_and_page_no():
    c, rows = _items("dealercenter_srp.html")
    assert rows == [("5UX43EU03S9Y37600", "O-Y37600", 57998, 31547), ("5TFJX4GN0EX012345", "O-M01234", None, 142310)]
    assert (c["page"], c["pages_total"], c["total_items"]) == (1, 4, 87)  # "Page 1 of 4 (87 vehicles)"
    assert c["next_page_url"] == "https://www.orangeautosales.example/inventory/?page_no=2"
    assert c["items"][0]["url"] == "https://www.orangeautosales.example/inventory/bmw/x5/o-y37600/"
    assert c["items"][0]["title"] == "2025 BMW X5 xDrive50e"
    assert all(i["outcome"] is None for i in c["items"])


def test_ddc_srp_final_price_wins_and_call_for_pricing_is_none():
    c, rows = _items("ddc_srp.html")
    assert rows == [("1C6SRFJP4TN259019", "14147", 49990, 19611), ("1C4HJXEG0KW123456", "13990A", None, 48002)]
    assert (c["page"], c["pages_total"], c["total_items"]) == (1, 3, 40)  # "Showing 1 - 18 of 40"
    assert c["next_page_url"] == "https://www.sugarloaf.example/used-inventory/index.htm?start=18"


def test_dealerinspire_srp_data_attributes():
    c, rows = _items("dealerinspire_srp.html")
    assert rows == [("1FTEW1EP0MFA12345", "F21345", 41988, 22104), ("3GCUKREC9JG123456", "P9912", None, None)]
    assert c["items"][0]["title"] == "2021 Ford F-150 XLT"
    assert (c["page"], c["pages_total"], c["total_items"]) == (1, 3, 57)
    assert c["next_page_url"] == "https://www.lakesideford.example/used-vehicles/?page=2"


def test_carsforsale_srp_page_of_n_and_page_parameter():
    c, rows = _items("carsforsale_srp.html")
    assert rows == [("2GCEK13M781123456", "8842", 9950, 168220), (None, "8850", None, 71005)]
    assert (c["page"], c["pages_total"]) == (2, 3)
    assert c["next_page_url"] == "https://www.prairiemotors.example/inventory?page=3"


def test_a_vehicle_page_without_structured_data_is_not_read_as_an_inventory_of_its_similar_vehicles():
    html = (FIX / "dealercenter_srp.html").read_text().replace(
        'href="https://www.orangeautosales.example/inventory/"', 'href="https://www.orangeautosales.example/inventory/bmw/x4/o-z11111/"')
    with pytest.raises(ParseError):
        dealer.parse(html)


def test_a_card_carrying_its_vehicle_as_json_in_a_data_attribute():
    html = """<html><head><link rel="canonical" href="https://www.bayside.example/used-inventory/"></head><body>
    <div class="srp-list"><div class="vehicle-tile" data-vehicle='{"vin": "1HGCM82633A004352", "stockNumber": "B22",
      "price": 6495, "mileage": "151,200", "year": 2003, "make": "Honda", "model": "Accord"}'>
      <a href="/used-inventory/2003-honda-accord-b22/">2003 Honda Accord EX</a></div>
    <div class="vehicle-tile" data-vehicle='{"vin": "1FTEW1EP0MFA12345"}'>
      <a href="/used-inventory/2021-ford-f-150-f9/">2021 Ford F-150</a><span class="price">Contact us for price</span></div></div>
    </body></html>"""
    c = dealer.parse(html).to_contract()
    assert [(i["vin"], i["stock_number"], i["price"], i["mileage"], i["title"]) for i in c["items"]] == [
        ("1HGCM82633A004352", "B22", 6495, 151200, "2003 Honda Accord"),
        ("1FTEW1EP0MFA12345", None, None, None, "2021 Ford F-150")]
