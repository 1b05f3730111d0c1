"""The generic structured-data reader: the last resort of every source, marked as a fallback, never deciding an
outcome (own fixtures: pages whose markup drifted away from what their source's parser knows)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vehicle_pipeline import sources
from vehicle_pipeline.model import IndexPage, ListingRef, Outcome, ParseError, VehicleListing
from vehicle_pipeline.sources import bat, craigslist, dealer, structured

FIX = Path(__file__).parent / "fixtures"  # each drifted page beside its source's own fixtures


def test_dealer_vdp_in_microdata_only_is_read_by_the_fallback_as_an_asking_price():
    lst = dealer.parse((FIX / "dealer" / "vdp_microdata.html").read_bytes())
    assert isinstance(lst, VehicleListing) and lst.fallback
    c = lst.to_contract()
    assert c["fallback"] is True
    assert (c["year"], c["make"], c["model"], c["vin"], c["vin_state"]) == (2012, "Porsche", "911", "WP0AB2A99CS720123", "valid")
    assert (c["mileage"], c["mileage_unit"], c["transmission"], c["exterior_color"]) == (41250, "mi", "7-Speed PDK", "Guards Red")
    assert (c["asking_price"], c["currency"], c["sale_price"], c["outcome"]) == (64900, "USD", None, None)
    assert c["external_id"] == "/inventory/2012-porsche-911-carrera-s-cs7731"
    assert c["images"] == ["https://www.coastline.example/photos/cs7731/1.jpg"]


def test_auction_page_in_rdfa_only_is_a_high_bid_of_an_unknown_outcome_never_a_sale():
    """The drifted page says "Sold for" beside the price and a comment says "Sold for $120,000": neither decides
    anything; schema.org's price on an auction page is the high bid whether or not the car sold."""
    lst = bat.parse((FIX / "bat" / "listing_drifted_rdfa.html").read_bytes(), deep=True)
    assert lst.fallback and lst.outcome == Outcome.UNKNOWN
    assert (lst.high_bid, lst.sale_price, lst.asking_price, lst.currency) == (98000, None, None, "USD")
    assert lst.external_id == "1989-porsche-911-carrera-targa-77" and lst.outcome_evidence == "fallback:rdfa"
    assert (lst.year, lst.make, lst.model) == (1989, "Porsche", "911")


def test_classified_page_with_only_opengraph_product_tags():
    lst = craigslist.parse((FIX / "craigslist" / "posting_og_only.html").read_bytes())
    assert lst.fallback and lst.outcome is None
    assert (lst.external_id, lst.asking_price, lst.currency, lst.year, lst.make) == ("7855550001", 5500, "USD", 1999, "Jeep")
    assert lst.images == ["https://images.craigslist.org/00z0z_xjSport_600x450.jpg"]


def test_results_page_whose_data_moved_into_a_json_ld_item_list():
    idx = bat.parse((FIX / "bat" / "results_drifted_itemlist.html").read_bytes())
    assert isinstance(idx, IndexPage) and idx.fallback
    c = idx.to_contract()
    assert c["fallback"] is True and c["total_items"] == 208940
    # the list's own links only (not /about/), and no outcome: the price is a figure, not a result
    assert [(i["external_id"], i["price"], i["outcome"]) for i in c["items"]] == [
        ("2005-ford-thunderbird-41", 21250, None), ("1987-toyota-supra-turbo-52", 18787, None)]


def test_the_parse_contract_json_shows_the_fallback():
    run = subprocess.run([sys.executable, "-m", "vehicle_pipeline.cli", "parse", "dealer",
                          str(FIX / "dealer" / "vdp_microdata.html")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["fallback"] is True
    normal = subprocess.run([sys.executable, "-m", "vehicle_pipeline.cli", "parse", "dealer",
                             str(FIX / "dealer" / "ddc_vdp.html")],
                            capture_output=True, text=True, timeout=120)
    assert json.loads(normal.stdout)["fallback"] is False


def test_a_page_the_parser_reads_is_never_a_fallback():
    page = (FIX / "bat" / "listing_sold.html").read_bytes()
    lst = bat.parse(page, deep=True)
    assert not lst.fallback and lst.sale_price is not None


def test_nothing_structured_is_still_a_parse_error():
    for name in ("bat", "carsandbids", "craigslist", "dealer", "mecum", "broadarrow"):
        with pytest.raises(ParseError):
            sources.get(name).parse("<html><head><title>x</title></head><body><p>nothing</p></body></html>",
                                    url="https://example.com/inventory/2001-x-12345/")


# ---- the rule, in one place: a fallback decides no outcome and carries no sale price ------------------------
@pytest.mark.parametrize("outcome", [o for o in Outcome if o is not Outcome.UNKNOWN])
def test_a_fallback_listing_cannot_state_an_outcome(outcome):
    with pytest.raises(ValueError, match="fallback"):
        VehicleListing(source="bat", url="https://bringatrailer.com/listing/x/", external_id="x", outcome=outcome,
                       high_bid=1000, currency="USD", fallback=True)


def test_a_fallback_listing_cannot_carry_a_sale_price():
    with pytest.raises(ValueError):
        VehicleListing(source="bat", url="https://bringatrailer.com/listing/x/", external_id="x",
                       outcome=Outcome.UNKNOWN, sale_price=1000, currency="USD", fallback=True)
    # what a fallback may say
    VehicleListing(source="bat", url="u", external_id="x", outcome=Outcome.UNKNOWN, high_bid=1000, currency="USD",
                   fallback=True)
    VehicleListing(source="dealer", url="u", external_id="x", asking_price=1000, currency="USD", fallback=True)


def test_a_fallback_index_cannot_state_outcomes():
    with pytest.raises(ValueError, match="fallback"):
        IndexPage(source="bat", url="u", items=[ListingRef(url="u/1", external_id="1", outcome=Outcome.SOLD, price=5)],
                  fallback=True)


def test_a_fallback_record_round_trips_with_its_flag():
    lst = bat.parse((FIX / "bat" / "listing_drifted_rdfa.html").read_bytes(), deep=True)
    back = VehicleListing.from_record(json.loads(json.dumps(lst.to_record())))
    assert back == lst and back.fallback


def test_rdfa_nodes_are_compacted_with_references_resolved():
    found = structured.read((FIX / "bat" / "listing_drifted_rdfa.html").read_bytes(),
                            url="https://bringatrailer.com/listing/1989-porsche-911-carrera-targa-77/")
    [(syntax, node)] = found.vehicles
    assert syntax == "rdfa" and node["name"] == "1989 Porsche 911 Carrera Targa"
    assert node["offers"]["price"] == "98000"
