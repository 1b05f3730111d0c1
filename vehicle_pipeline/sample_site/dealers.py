"""The stand-in's dealers: the four named ones every default world has, and as many more as a world asks for.

A world with `dealers=N` has the first N dealers of one fixed roster (`dealer_roster(N)`): the four named
dealers, then generated ones. The roster does not depend on the world's seed and never changes its
order, so dealer k is the same dealer in every world that has it: a dealer's host name
(www.<slug>.example) is stable across seeds, and a renderer that is given only a listing (its dealer's
slug) can still find the dealer's page style with `find_dealer`.

Generated dealers get a plausible name (unique, so their slugs and hosts are too; the slug is the
name's slug, as the pipeline names a discovered dealer source), a US location in the shape of the named
ones ("City, ST 12345"), a 555-01xx phone number (the range reserved for fiction) in the city's area
code, and the page styles in turn: dealer k imitates `PLATFORMS[k % 4]`, as the named four do.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

PLATFORMS = ("ddc", "dealercenter", "dealeron", "generic")


@dataclass(frozen=True)
class Dealer:
    slug: str
    name: str
    location: str
    platform: str  # the page style its site imitates: "ddc" | "dealercenter" | "dealeron" | "generic"
    phone: str


DEALERS: tuple[Dealer, ...] = (
    Dealer("sunset-classics", "Sunset Classics", "Los Angeles, CA 90038", "ddc", "(323) 555-0142"),
    Dealer("harbor-motorcars", "Harbor Motorcars", "Portland, ME 04101", "dealercenter", "(207) 555-0178"),
    Dealer("lone-star-vintage", "Lone Star Vintage Autos", "Austin, TX 78704", "dealeron", "(512) 555-0119"),
    Dealer("ridgeline-autohaus", "Ridgeline Autohaus", "Denver, CO 80216", "generic", "(303) 555-0165"),
)

_NAME_FIRST = (
    "Bayside", "Copper Canyon", "Blue Ridge", "Heritage", "Summit", "Redwood", "Prairie", "Silver State", "Northgate",
    "Lakeshore", "Old Town", "Ironwood", "Magnolia", "Granite", "Keystone", "Pacific Coast", "Sierra", "Cedar Creek",
    "Riverbend", "Crossroads", "Foothill", "Harborview", "Tidewater", "Highland", "Pinecrest", "Canyon Road",
    "Meridian", "Twin Oaks", "Westbrook", "Gold Coast", "Desert Sun", "Bluebonnet", "Thunder Road", "Coastline",
    "Stonebridge", "Cypress",
)
_NAME_SECOND = (
    "Motorcars", "Classics", "Classic Cars", "Autohaus", "Motor Company", "Collector Cars", "Vintage Autos",
    "Auto Gallery", "Motorworks", "Sports Cars", "Fine Automobiles", "Garage",
)
# (city, state, ZIP, area code)
_CITIES = (
    ("Scottsdale", "AZ", "85251", "480"), ("Nashville", "TN", "37203", "615"), ("Charlotte", "NC", "28202", "704"),
    ("Naples", "FL", "34102", "239"), ("Boise", "ID", "83702", "208"), ("Tulsa", "OK", "74103", "918"),
    ("Kansas City", "MO", "64108", "816"), ("Minneapolis", "MN", "55401", "612"), ("Richmond", "VA", "23220", "804"),
    ("Savannah", "GA", "31401", "912"), ("Greenwich", "CT", "06830", "203"), ("Santa Barbara", "CA", "93101", "805"),
    ("San Diego", "CA", "92101", "619"), ("Seattle", "WA", "98109", "206"), ("Salt Lake City", "UT", "84101", "801"),
    ("Columbus", "OH", "43215", "614"), ("Indianapolis", "IN", "46204", "317"), ("Milwaukee", "WI", "53202", "414"),
    ("Omaha", "NE", "68102", "402"), ("Louisville", "KY", "40202", "502"), ("Birmingham", "AL", "35203", "205"),
    ("New Orleans", "LA", "70112", "504"), ("Houston", "TX", "77002", "713"), ("Dallas", "TX", "75201", "214"),
    ("Albuquerque", "NM", "87102", "505"), ("Las Vegas", "NV", "89101", "702"), ("Reno", "NV", "89501", "775"),
    ("Sacramento", "CA", "95814", "916"), ("Tampa", "FL", "33602", "813"), ("Atlanta", "GA", "30303", "404"),
    ("Raleigh", "NC", "27601", "919"), ("Pittsburgh", "PA", "15222", "412"), ("Philadelphia", "PA", "19103", "215"),
    ("Burlington", "VT", "05401", "802"), ("Providence", "RI", "02903", "401"), ("Detroit", "MI", "48226", "313"),
    ("Chicago", "IL", "60614", "773"), ("Cincinnati", "OH", "45202", "513"), ("Spokane", "WA", "99201", "509"),
    ("Bozeman", "MT", "59715", "406"), ("Cheyenne", "WY", "82001", "307"), ("Des Moines", "IA", "50309", "515"),
    ("Little Rock", "AR", "72201", "501"), ("Charleston", "SC", "29401", "843"),
)
# The roster's own generator seed: fixed, so the roster is one list for every world (see the module docstring).
_ROSTER_SEED = 1793491200


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@functools.cache
def _roster() -> tuple[Dealer, ...]:
    """Every dealer a world can have, in roster order: the named four, then every generated name once."""
    rng = random.Random(_ROSTER_SEED)
    names = [f"{first} {second}" for first in _NAME_FIRST for second in _NAME_SECOND]
    rng.shuffle(names)  # a varied order (not every "Bayside …" first), fixed by the roster seed
    taken = {d.slug for d in DEALERS} | {_slugify(d.name) for d in DEALERS}
    out = list(DEALERS)
    for name in names:
        slug = _slugify(name)
        if slug in taken:
            continue
        taken.add(slug)
        city, state, zip_code, area = rng.choice(_CITIES)
        platform = PLATFORMS[len(out) % len(PLATFORMS)]
        out.append(Dealer(slug, name, f"{city}, {state} {zip_code}", platform, f"({area}) 555-01{rng.randrange(100):02d}"))
    return tuple(out)


MAX_DEALERS = len(_roster())


def dealer_roster(n: int) -> tuple[Dealer, ...]:
    """The first `n` dealers of the roster (1 <= n <= MAX_DEALERS); the first four are `DEALERS`."""
    if not 1 <= n <= MAX_DEALERS:
        raise ValueError(f"dealers must be between 1 and {MAX_DEALERS}, not {n}")
    return _roster()[:n]


@functools.cache
def _by_slug() -> dict[str, Dealer]:
    return {d.slug: d for d in _roster()}


def find_dealer(slug: str | None) -> Dealer | None:
    """The roster's dealer with this slug (None for a slug no world has)."""
    return _by_slug().get(slug or "")


def stock_prefixes(dealers: tuple[Dealer, ...]) -> dict[str, str]:
    """Slug -> the prefix of the dealer's stock numbers: the slug's initials ("sunset-classics" -> "SC"), with
    a letter added when an earlier dealer already has that prefix. Prefixes are letters and stock numbers
    digits, so distinct prefixes mean no two dealers of a world show the same stock number."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for d in dealers:
        initials = "".join(w[0] for w in d.slug.split("-")).upper()
        prefix = initials
        extra = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        while prefix in used:
            prefix = initials + next(extra)
        used.add(prefix)
        out[d.slug] = prefix
    return out


__all__ = ["DEALERS", "Dealer", "MAX_DEALERS", "PLATFORMS", "dealer_roster", "find_dealer", "stock_prefixes"]
