"""Model families: the rules of vehicle_pipeline.market.families on fixtures of our own and on the real titles
of the corpus (read from ../shared/corpus at test time through the parsers, never copied)."""

from __future__ import annotations

import pytest

from vehicle_pipeline.market.families import Family, canonical_make, family_of, year_band
from vehicle_pipeline import sources


@pytest.mark.parametrize("args, expected", [
    # the three spellings of one family
    (dict(make="Porsche", model="991 911"), Family("Porsche", "911", "991", None)),
    (dict(make="Porsche", model="911", trim="Carrera"), Family("Porsche", "911", None, "Carrera")),
    (dict(title="2013 Porsche 911 Carrera 4S Coupe"), Family("Porsche", "911", None, "Carrera 4S Coupe")),
    # BaT's model group repeats the make and names the generation
    (dict(make="Porsche", model="Porsche 997 911 Carrera 4S"), Family("Porsche", "911", "997", "Carrera 4S")),
    (dict(make="porsche", model="997", trim="Carrera S"), Family("Porsche", "911", "997", "Carrera S")),
    (dict(make="Porsche", model="Carrera", trim="4S"), Family("Porsche", "911", None, "Carrera 4S")),
    (dict(make="Porsche", model="Carrera GT"), Family("Porsche", "Carrera GT", None, None)),
    (dict(make="Porsche", model="911SC"), Family("Porsche", "911", None, "SC")),
    (dict(make="Porsche", model="718 Cayman GT4"), Family("Porsche", "Cayman", "718", "GT4")),
    (dict(make="BMW", model="E46 M3"), Family("BMW", "M3", "E46", None)),
    (dict(make="BMW", model="325i"), Family("BMW", "3 Series", None, "325i")),
    (dict(make="BMW", model="3-Series", trim="330i"), Family("BMW", "3 Series", None, "330i")),
    (dict(make="VW", model="GTI"), Family("Volkswagen", "GTI", None, None)),
    (dict(make="Chevy", model="C2 Corvette"), Family("Chevrolet", "Corvette", "C2", None)),
    (dict(make="Mercedes", model="560SL"), Family("Mercedes-Benz", "SL", None, "560SL")),
    (dict(make="Mercedes-Benz", model="G550"), Family("Mercedes-Benz", "G-Class", None, "G550")),
    (dict(make="Toyota", model="FJ40"), Family("Toyota", "Land Cruiser", "FJ40", None)),
    (dict(make="Mazda", model="Miata", trim="MX-5 Club"), Family("Mazda", "MX-5 Miata", None, "Club")),
    (dict(make="FORD", model="MUSTANG", trim="GT"), Family("Ford", "Mustang", None, "GT")),
    (dict(title="Mazda Miata 1992"), Family("Mazda", "MX-5 Miata", None, None)),
    (dict(title="2018 TACOMA - ONLY 2359 KM"), Family("Toyota", "Tacoma", None, "- ONLY 2359 KM")),
])
def test_family_rules(args, expected):
    assert family_of(**args) == expected


def test_no_car_no_family():
    assert family_of() is None
    assert family_of(title="Collection of Porsche Literature & Automobilia") is None
    assert family_of(title="Truck Canopy") is None
    assert family_of(make="Porsche") is None


def test_makes_and_year_bands():
    assert canonical_make("mercedes benz") == canonical_make("MERCEDES-BENZ") == "Mercedes-Benz"
    assert canonical_make("BMW") == "BMW" and canonical_make("vw") == "Volkswagen" and canonical_make(None) is None
    assert year_band(2009) == "2005-2009" and year_band(2010) == "2010-2014" and year_band(None) is None


def _titles(corpus_dir, source: str, rel: str) -> list[str]:
    page = sources.get(source).parse((corpus_dir / rel).read_bytes())
    return [item.title for item in page.items if item.title]


@pytest.mark.corpus
def test_every_car_on_bats_911_page_is_a_911(corpus_dir):
    """BaT's /porsche/911/ page lists 911s (and parts): every title that names a model year is family 911,
    whatever its spelling ("911SC Project", "911 Turbo 3.6"), with the trim kept."""
    titles = _titles(corpus_dir, "bat", "bat/bat_model_page_porsche-911_2025-12.html")
    families = {t: family_of(title=t) for t in titles}
    cars = {t: f for t, f in families.items() if f is not None}
    assert len(cars) >= 20
    assert {(f.make, f.family) for f in cars.values()} == {("Porsche", "911")}
    assert cars["Euro 1978 Porsche 911SC Project"].trim == "SC Project"
    assert cars["6k-Mile 2020 Porsche 911 Carrera 4S Coupe"].trim == "Carrera 4S Coupe"
    # the parts and literature on the page are no car
    assert families["Collection of Porsche Literature & Automobilia"] is None
    assert families["20×9″ and 20×12″ Center-Lock Wheels for Porsche 991 GT3"] is None


@pytest.mark.corpus
def test_classified_titles_of_one_model_are_one_family(corpus_dir):
    """Craigslist searches for Miatas and Tacomas: the sellers' spellings ("mazda miata MX-5 2006", "2007 MX-5
    Miata", "2018 TACOMA - ONLY 2359 KM", "2006 toyota tacoma") land in one family each."""
    miatas = _titles(corpus_dir, "craigslist", "craigslist/cl_sacramento_search_cto_mazda-miata_2019-05.html")
    assert len(miatas) == 5
    assert {(f.make, f.family) for f in map(lambda t: family_of(title=t), miatas)} == {("Mazda", "MX-5 Miata")}
    tacoma_search = _titles(corpus_dir, "craigslist", "craigslist/cl_vancouver_sapi_search_cto_tacoma_2026-07.json")
    tacomas = [t for t in tacoma_search if "tacoma" in t.lower()]
    assert len(tacomas) >= 15
    assert {(f.make, f.family) for f in map(lambda t: family_of(title=t), tacomas)} == {("Toyota", "Tacoma")}
    others = {family_of(title=t) for t in tacoma_search if "tacoma" not in t.lower()}
    assert ("Dodge", "Dakota") in {(f.make, f.family) for f in others if f}


@pytest.mark.corpus
def test_results_pages_across_sources_agree(corpus_dir):
    """The same family named by two sites' titles: BaT's results and Cars & Bids' closed auctions."""
    bat = {family_of(title=t) for t in _titles(corpus_dir, "bat", "bat/bat_auctions_results_2025-09.html")}
    cab = {family_of(title=t) for t in _titles(
        corpus_dir, "carsandbids", "carsandbids/cab_api_v2_auctions_list_status-closed.json")}
    pairs = lambda fs: {(f.make, f.family) for f in fs if f}  # noqa: E731
    shared = pairs(bat) & pairs(cab)
    assert {("Porsche", "911"), ("BMW", "M3"), ("Ford", "Mustang"), ("Mazda", "MX-5 Miata"),
            ("Toyota", "Land Cruiser"), ("Mercedes-Benz", "SL")} <= shared
    assert all(f.family and f.family != f.make for f in bat | cab if f)
