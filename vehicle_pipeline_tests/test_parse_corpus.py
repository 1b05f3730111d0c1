"""Every fact ../shared/corpus/MANIFEST.md states for a file is what `vehicle-pipeline parse` prints for it.

Runs through the command (subprocess), as every other tool would. Skips when the corpus is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus folder ../shared/corpus not present"),
]


def run(source: str, rel: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vehicle_pipeline.cli", "parse", source, str(CORPUS / rel), *extra],
        capture_output=True, text=True, timeout=120,
    )


def parsed(source: str, rel: str, *extra: str) -> dict:
    proc = run(source, rel, *extra)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def by_id(index: dict) -> dict[str, dict]:
    return {item["external_id"]: item for item in index["items"]}


# ---------------------------------------------------------------- BaT


def test_bat_sold_listing_997():
    d = parsed("bat", "bat/bat_listing_sold_2009-porsche-911-carrera-4s-coupe-28.html", "--deep")
    assert d["kind"] == "listing" and d["source"] == "bat"
    assert d["url"] == "https://bringatrailer.com/listing/2009-porsche-911-carrera-4s-coupe-28/"
    assert d["external_id"] == "2009-porsche-911-carrera-4s-coupe-28"
    assert d["title"] == "15k-Mile 2009 Porsche 911 Carrera 4S Coupe 6-Speed"
    assert (d["year"], d["make"], d["model"]) == (2009, "Porsche", "911")
    assert d["outcome"] == "sold" and d["sale_price"] == 105000 and d["high_bid"] == 105000 and d["currency"] == "USD"
    assert d["buyer"] == "993pet" and d["seller"] == "begoniatulip"
    assert d["ended_at"] == "2025-12-22T19:12:52Z"
    assert (d["bid_count"], d["comment_count"], d["view_count"], d["watcher_count"]) == (42, 65, 12193, 1543)
    assert d["location"] == "Kennesaw, Georgia 30152" and d["lot_number"] == "224499"
    assert d["vin"] == "WP0AB299X9S721066" and d["vin_state"] == "valid"
    assert (d["mileage"], d["mileage_unit"]) == (15000, "mi")
    assert d["engine"] == "3.8-Liter Flat-Six" and d["transmission"] == "Six-Speed Manual Transaxle"
    assert "Basalt Black Metallic" in d["exterior_color"]
    assert d["no_reserve"] is False
    kinds = Counter(c["kind"] for c in d["comments"])
    assert kinds == {"comment": 65, "bid": 42, "system": 1}
    assert max(c["amount"] for c in d["comments"] if c["kind"] == "bid") == 105000
    system = [c for c in d["comments"] if c["kind"] == "system"][0]
    assert system["text"] == "Sold on 12/22/25 for USD $105,000.00 to 993pet"


def test_bat_model_page_completed_results():
    d = parsed("bat", "bat/bat_model_page_porsche-911_2025-12.html")
    assert d["kind"] == "index" and d["url"] == "https://bringatrailer.com/porsche/911/"
    assert (d["total_items"], d["page"], d["pages_total"]) == (17403, 1, 726)
    assert d["next_page_url"] == "https://bringatrailer.com/porsche/911/?page=2"
    assert len(d["items"]) == 24
    assert Counter(i["outcome"] for i in d["items"]) == {"sold": 18, "bid_to": 6}
    first, second, third = d["items"][:3]
    assert first["title"] == "Voodoo Blue 2018 Porsche 911 GT3 Touring 6-Speed"
    assert first["url"] == "https://bringatrailer.com/listing/2018-porsche-911-gt3-touring-66/"
    assert (first["outcome"], first["price"]) == ("bid_to", 271000)
    assert first["ended_at"] == "2025-12-26T21:16:32Z"  # timestamp_end 1766783792
    assert (second["title"], second["outcome"], second["price"]) == ("30k-Mile 2008 Porsche 911 Carrera S Cabriolet 6-Speed", "bid_to", 55500)
    assert (third["title"], third["outcome"], third["price"]) == ("24k-Mile 2001 Porsche 911 Carrera Cabriolet 6-Speed", "sold", 30250)


def test_bat_results_page():
    d = parsed("bat", "bat/bat_auctions_results_2025-09.html")
    assert d["url"] == "https://bringatrailer.com/auctions/results/"
    assert (d["total_items"], d["pages_total"]) == (208940, 5804)
    assert len(d["items"]) == 36
    assert Counter(i["outcome"] for i in d["items"]) == {"sold": 29, "bid_to": 7}
    first = d["items"][0]
    assert (first["title"], first["price"], first["outcome"], first["no_reserve"]) == ("14k-Mile 2005 Ford Thunderbird", 21250, "sold", True)
    bid_to = [i for i in d["items"] if i["outcome"] == "bid_to"][0]
    assert (bid_to["title"], bid_to["price"]) == ("35k-Kilometer 1987 Toyota Supra Turbo 5-Speed", 18787)


def test_bat_results_card_snippet():
    d = parsed("bat", "bat/bat_results_listing_card_snippet_2026-04.html")
    assert d["kind"] == "index" and len(d["items"]) == 1
    item = d["items"][0]
    assert item["url"] == "https://bringatrailer.com/listing/1958-gmc-pickup-7/"
    assert item["title"] == "1958 GMC 9310 Stepside Pickup 3-Speed"
    assert (item["outcome"], item["price"]) == ("sold", 10000)


def test_bat_available_info_snippet_2023_without_usd():
    d = parsed("bat", "bat/bat_listing_available_info_snippet_2023-12.html")
    assert d["kind"] == "listing" and d["outcome"] == "sold"
    assert (d["sale_price"], d["currency"], d["comment_count"]) == (439000, "USD", 185)
    assert "67000570" in d["url"] or d["external_id"] == "67000570"


# ---------------------------------------------------------------- Cars & Bids

CAB = "carsandbids"


def test_cab_sold_page():
    d = parsed(CAB, "carsandbids/cab_auction_sold_3gvwNPwG_1995-toyota-4runner-sr5-4x4.html")
    assert d["url"] == "https://carsandbids.com/auctions/3gvwNPwG/1995-toyota-4runner-sr5-4x4" and d["external_id"] == "3gvwNPwG"
    assert d["title"] == "1995 Toyota 4Runner SR5 4x4" and d["no_reserve"] is True
    assert (d["outcome"], d["sale_price"], d["high_bid"]) == ("sold", 7300, 7300)
    assert (d["bid_count"], d["comment_count"], d["view_count"]) == (10, 13, 5485)
    assert (d["buyer"], d["seller"]) == ("badger2142", "bumperlt")
    assert d["ended_at"] == "2022-04-21T17:46:00Z"
    assert (d["make"], d["model"], d["mileage"], d["mileage_unit"]) == ("Toyota", "4Runner", 129600, "mi")
    assert d["vin"] == "JT3VN39W0S0195671" and d["location"] == "Kenmore, WA 98028"
    assert (d["engine"], d["drivetrain"], d["transmission"], d["body_style"]) == ("3.0L V6", "4WD/AWD", "Automatic (4-Speed)", "SUV/Crossover")
    assert (d["exterior_color"], d["interior_color"]) == ("Garnet Pearl", "Gray")


def test_cab_reserve_not_met_page():
    d = parsed(CAB, "carsandbids/cab_auction_bidto_rxOqZmEQ_2011-dodge-challenger-srt8.html")
    assert d["external_id"] == "rxOqZmEQ" and d["title"] == "2011 Dodge Challenger SRT8" and d["no_reserve"] is False
    assert (d["outcome"], d["sale_price"], d["high_bid"]) == ("bid_to", None, 18350)
    assert (d["bid_count"], d["comment_count"], d["view_count"], d["seller"]) == (23, 17, 6935, "Redeye797")
    assert d["ended_at"] == "2022-04-21T17:54:00Z"
    assert (d["make"], d["model"], d["mileage"], d["vin"]) == ("Dodge", "Challenger", 56100, "2B3CJ7DJXBH569153")
    assert d["location"] == "Greenwood, IN 46142" and d["engine"] == "6.4L V8" and d["drivetrain"] == "Rear-wheel drive"
    assert (d["transmission"], d["body_style"]) == ("Automatic (5-Speed)", "Coupe")
    assert (d["exterior_color"], d["interior_color"]) == ("Brilliant Black Crystal Pearl", "Black")


def test_cab_live_page():
    d = parsed(CAB, "carsandbids/cab_auction_live_KZpLVWQA_1984-mercedes-benz-300td.html")
    assert d["external_id"] == "KZpLVWQA" and d["title"] == "1984 Mercedes-Benz 300TD" and d["no_reserve"] is True
    assert (d["outcome"], d["sale_price"], d["high_bid"]) == ("live", None, 1700)
    assert (d["bid_count"], d["comment_count"], d["view_count"], d["seller"]) == (5, 9, 1267, "Bbossingg")
    assert d["ended_at"] == "2022-04-27T19:38:00Z"
    assert (d["make"], d["model"], d["mileage"], d["vin"]) == ("Mercedes-Benz", "300TD", 236200, "WDBAB93A2EF026271")
    assert (d["engine"], d["drivetrain"], d["transmission"], d["body_style"]) == ("3.0L Turbodiesel I5", "Rear-wheel drive", "Automatic (4-Speed)", "Wagon")


def test_cab_detail_json_live():
    d = parsed(CAB, "carsandbids/cab_api_v2_auction_KZpLVWQA_live.json")
    assert d["kind"] == "listing" and d["external_id"] == "KZpLVWQA"
    assert (d["outcome"], d["sale_price"], d["high_bid"], d["no_reserve"]) == ("live", None, 5000, True)
    assert (d["view_count"], d["bid_count"], d["comment_count"], d["watcher_count"]) == (3435, 13, 16, 190)
    assert d["ended_at"] == "2022-04-27T19:38:00Z" and d["seller"] == "Bbossingg"
    assert (d["year"], d["make"], d["model"], d["vin"], d["mileage"]) == (1984, "Mercedes-Benz", "300TD", "WDBAB93A2EF026271", 236200)
    assert (d["engine"], d["transmission"], d["drivetrain"], d["body_style"]) == ("3.0L Turbodiesel I5", "Automatic (4-Speed)", "Rear-wheel drive", "Wagon")


def test_cab_detail_json_sold_2022_without_sale_amount():
    d = parsed(CAB, "carsandbids/cab_api_v2_auction_9ANj0Jzv_sold.json")
    assert (d["outcome"], d["sale_price"], d["high_bid"], d["no_reserve"]) == ("sold", 10000, 10000, True)
    assert (d["view_count"], d["bid_count"], d["comment_count"], d["watcher_count"]) == (5679, 23, 15, 212)
    assert d["ended_at"] == "2022-04-22T18:41:01Z" and d["seller"] == "kandiman"
    assert (d["title"], d["year"], d["model"], d["vin"], d["mileage"]) == ("2001 Mercedes-Benz CLK55 AMG", 2001, "CLK 55 AMG", "WDBLJ74G01F180247", 111800)
    assert (d["engine"], d["transmission"], d["body_style"]) == ("5.4L V8", "Automatic (5-Speed)", "Coupe")
    assert (d["exterior_color"], d["interior_color"], d["location"]) == ("Brilliant Silver Metallic", "Charcoal/Silver", "Portland, OR 97209")


def test_cab_detail_json_images_are_the_cars_photos_not_the_paperwork():
    """The response's photos come in groups; the listing's images are the car's (exterior, interior,
    mechanical, other) in that order, not the handful of document scans in `docs`."""
    rel = "carsandbids/cab_api_v2_auction_9ANj0Jzv_sold.json"
    photos = json.loads((CORPUS / rel).read_text())["listing"]["photos"]
    d = parsed(CAB, rel)
    cars = [p["link"] for group in ("exterior", "interior", "mechanical", "other") for p in photos.get(group) or []]
    assert len(d["images"]) == len(dict.fromkeys(cars)) > len(photos["docs"])
    assert d["images"][0].endswith(photos["exterior"][0]["link"])
    assert not any(img.endswith(p["link"]) for img in d["images"] for p in photos["docs"])


def test_cab_list_new():
    d = parsed(CAB, "carsandbids/cab_api_v2_auctions_list_status-new.json")
    assert d["kind"] == "index" and d["total_items"] == 92 and len(d["items"]) == 92
    first = d["items"][0]
    assert (first["external_id"], first["title"], first["no_reserve"]) == ("3505djqR", "2015 Mercedes-Benz E63 S AMG Sedan", False)
    assert all(i["price"] is None and i["ended_at"] is None for i in d["items"])  # the list has no bid or end time


def test_cab_list_closed():
    d = parsed(CAB, "carsandbids/cab_api_v2_auctions_list_status-closed.json")
    assert d["total_items"] == 6789 and len(d["items"]) == 50
    assert Counter(i["outcome"] for i in d["items"]) == {"sold": 40, "bid_to": 9, "withdrawn": 1}
    items = by_id(d)
    assert (items["KdYMLW6B"]["title"], items["KdYMLW6B"]["outcome"]) == ("2004 Volkswagen Phaeton W12 Premiere Edition", "withdrawn")
    assert (items["9XQkMm2o"]["outcome"], items["9XQkMm2o"]["price"], items["9XQkMm2o"]["ended_at"]) == ("bid_to", 30000, "2022-04-22T19:54:00Z")
    assert (items["9eJEaXw6"]["outcome"], items["9eJEaXw6"]["price"], items["9eJEaXw6"]["no_reserve"]) == ("sold", 10150, True)
    assert d["next_page_url"] is not None


# ---------------------------------------------------------------- Craigslist (module by another helper)


def test_craigslist_legacy_search():
    d = parsed("craigslist", "craigslist/cl_sacramento_search_cto_mazda-miata_2019-05.html")
    assert d["kind"] == "index" and d["url"].startswith("https://sacramento.craigslist.org/search/cto")
    assert d["total_items"] == 5  # nearby results do not count
    first = d["items"][0]
    assert first["external_id"] == "6879524822" and first["price"] == 5995
    assert first["title"] == "2008 Mazda Miata w. Android/Apple"
    assert first["url"] == "https://sacramento.craigslist.org/cto/d/antelope-2008-mazda-miata-android-apple/6879524822.html"
    fifth = d["items"][4]
    assert (fifth["external_id"], fifth["price"]) == ("6873546318", 15000)
    assert fifth["title"] == "2016 Mazda Miata Mx-5 Club Edition BBS Brembo LED Lighting"
    last = by_id(d).get("6871498521")
    if last is not None:  # a nearby row: listing it is the module's choice, its facts are not
        assert last["price"] == 28250


def test_craigslist_sapi_json():
    d = parsed("craigslist", "craigslist/cl_vancouver_sapi_search_cto_tacoma_2026-07.json")
    assert d["kind"] == "index" and d["total_items"] == 20 and len(d["items"]) == 20
    items = by_id(d)
    tacoma = items["7930578957"]
    assert tacoma["title"] == "The Nicest.. 2012 Toyota Tacoma TRD SPORT 4X4" and tacoma["price"] == 14800
    assert tacoma["url"] == "https://vancouver.craigslist.org/van/cto/d/coquitlam-north-the-nicest-2012-toyota/7930578957.html"
    assert "7943747852" in items


def test_craigslist_modern_posting_template():
    d = parsed("craigslist", "craigslist/cl_posting_cto_modern-markup_SANITIZED.html")
    assert d["kind"] == "listing" and d["external_id"] == "7000000002"
    assert d["title"] == "SAMPLE VEHICLE"
    assert (d["asking_price"], d["currency"], d["sale_price"], d["outcome"]) == (1234, "USD", None, None)
    assert d["year"] == 1998 and d["make"] == "Dodge"
    assert d["vin"] == "1B7KF23D3WJ123456"  # the attribute, never the decoy in the body text
    assert (d["mileage"], d["mileage_unit"]) == (94000, "mi")


def test_craigslist_housing_posting_is_not_a_car():
    proc = run("craigslist", "craigslist/cl_seattle_posting_apa_7344465455_2021-07_NONCAR.html")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        d = json.loads(proc.stdout)
        assert d["external_id"] == "7344465455" and d["asking_price"] == 1967
        assert d["title"] == "Recycling, Controlled Access, Guest Room" and d["sale_price"] is None
    else:
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- dealer (module by another helper)


def test_dealer_ddc_excerpt():
    d = parsed("dealer", "dealer/dealer_ddc_sugarloafcdjr_vdp_2026-ram-1500_EXCERPT.html")
    assert d["kind"] == "listing"
    assert d["url"] == "https://www.sugarloafcdjr.com/used/Ram/2026-Ram-1500-4d08aa78ac184f13fc02510b1e1a2ac2.htm"
    assert d["vin"] == "1C6SRFJP4TN259019" and d["vin_state"] == "valid"
    assert (d["year"], d["make"], d["model"]) == (2026, "Ram", "1500")
    assert (d["mileage"], d["mileage_unit"]) == (19611, "mi")
    assert (d["exterior_color"], d["interior_color"]) == ("Diamond Black Crystal Pearlcoat", "Black")
    assert d["asking_price"] is None and d["sale_price"] is None  # the JSON-LD offer has no price
    assert d["outcome"] is None


def test_dealer_dealercenter_excerpt():
    d = parsed("dealer", "dealer/dealer_dealercenter_orangeautosalesmiami_vdp_2025-bmw-x5_EXCERPT.html")
    assert d["url"] == "https://www.orangeautosalesmiami.com/inventory/bmw/x5/o-y37600/"
    assert d["vin"] == "5UX43EU03S9Y37600" and d["vin_state"] == "valid"
    assert (d["year"], d["make"], d["model"]) == (2025, "BMW", "X5")
    assert (d["asking_price"], d["currency"], d["sale_price"]) == (57998, "USD", None)
    assert d["outcome"] is None


# ---------------------------------------------------------------- every corpus file parses or fails cleanly


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else [],
                         ids=lambda p: p.name)
def test_no_corpus_file_gives_a_traceback_or_a_sale_price_without_a_sale(path):
    source = {"bat": "bat", "carsandbids": CAB, "craigslist": "craigslist", "dealer": "dealer"}[path.parent.name]
    proc = run(source, f"{path.parent.name}/{path.name}")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        d = json.loads(proc.stdout)
        if d["kind"] == "listing":
            assert d["sale_price"] is None or d["outcome"] in ("sold", "sold_after")
    else:
        assert proc.returncode == 2
