"""The sample site's world: which cars exist and how each is offered, deterministic for a seed.

`build_world(seed, listings, clock)` decides every fact once (cars, VINs, listings, bids, comments,
start and end times, FINAL outcomes). Time is the only thing that moves: `World.visible(clock)` is what
has appeared by `clock`, and `World.listing_state(listing, clock)` is what a page shows at `clock`
(a live auction shows its running high bid and the comments so far, never its final result).

Only `random.Random(seed)` is used, never the global generator or wall time, so a seed always gives the
same world. Facts are drawn in a fixed order from one generator; changing the order changes worlds.

Conventions the renderers rely on:
- `images` are site-relative paths (`/_img/...`); renderers prefix `ctx.base_url`.
- Dealer listings carry `dealer` (the slug of one of `World.dealers`) and `seller` (the dealer's name); a
  dealer's pages live below `/<slug>/` of the dealer renderer, at www.<slug>.example.
- Craigslist listings carry `metro` (a code of `METROS`); prices are in that metro's currency.
- Comments (BaT and Cars & Bids) are in time order: kind "comment", "bid" (ascending amounts; the last
  bid is `high_bid`) and, on BaT only, one closing "system" message. `bid_count` is the number of bids
  and `comment_count` the number of plain comments.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from vehicle_pipeline.sample_site.dealers import DEALERS, Dealer, dealer_roster, stock_prefixes
from vehicle_pipeline.sample_site.spec import SampleCar, SampleComment, SampleListing
from vehicle_pipeline.sample_site.truth import car_title

# 2026-11-01T00:00:00Z: a fixed default clock so runs are reproducible (never wall time).
DEFAULT_CLOCK = 1793491200

SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer")

DAY = 86400
HOUR = 3600


@dataclass(frozen=True)
class Metro:
    code: str  # craigslist subdomain: "sfbay", "seattle", ...
    name: str
    currency: str
    mileage_unit: str
    subareas: tuple[str, ...]
    hoods: tuple[tuple[str, str], ...]  # (neighbourhood shown in listings, "City, ST")


METROS: tuple[Metro, ...] = (
    Metro("sfbay", "SF bay area", "USD", "mi", ("sfc", "eby", "pen", "sby", "nby"),
          (("Oakland", "Oakland, CA"), ("San Jose", "San Jose, CA"), ("Palo Alto", "Palo Alto, CA"),
           ("Santa Rosa", "Santa Rosa, CA"), ("SF", "San Francisco, CA"))),
    Metro("seattle", "seattle-tacoma", "USD", "mi", ("see", "est", "tac", "sno"),
          (("Bellevue", "Bellevue, WA"), ("Tacoma", "Tacoma, WA"), ("Everett", "Everett, WA"),
           ("Ballard", "Seattle, WA"))),
    Metro("sacramento", "sacramento", "USD", "mi", ("",),
          (("Roseville", "Roseville, CA"), ("Folsom", "Folsom, CA"), ("Davis", "Davis, CA"),
           ("Elk Grove", "Elk Grove, CA"))),
    Metro("vancouver", "vancouver, BC", "CAD", "km", ("van", "bnc", "rds", "pml"),
          (("Coquitlam", "Coquitlam, BC"), ("Burnaby", "Burnaby, BC"), ("Richmond", "Richmond, BC"),
           ("Langley", "Langley, BC"))),
)
METRO_BY_CODE = {m.code: m for m in METROS}


# Broad Arrow sales: code prefix, sale name, currency, location of the sale.
_BROADARROW_SALES = (
    ("am", "The Amelia Auction", "USD", "Amelia Island, Florida"),
    ("mo", "Monterey Jet Center Auction", "USD", "Monterey, California"),
    ("ql", "The Quail Auction", "USD", "Carmel, California"),
    ("zo", "Zoute Concours Auction", "EUR", "Knokke-Heist, Belgium"),
    ("lc", "London Concours Auction", "GBP", "London, United Kingdom"),
)
# Mecum sales: code prefix and name.
_MECUM_SALES = (
    ("F", "Kissimmee"), ("S", "Indy"), ("T", "Monterey"), ("K", "Kansas City"), ("W", "Glendale"), ("L", "Las Vegas"),
)
_MECUM_SALE_CODES = {"F": "FL", "S": "IN", "T": "MO", "K": "KC", "W": "AZ", "L": "LV"}


# ---------------------------------------------------------------------------------------------------
# Catalog: (make, model, year_from, year_to, trims, bodies, engines, transmissions, drivetrain,
#           us_wmis (17-char VIN makers; "" = none), euro_wmi or None, chassis pattern before 1981,
#           value range USD)

@dataclass(frozen=True)
class _Model:
    make: str
    model: str
    years: tuple[int, int]
    trims: tuple[str | None, ...]
    bodies: tuple[str, ...]
    engines: tuple[str, ...]
    transmissions: tuple[str, ...]
    drivetrains: tuple[str, ...]
    wmis: tuple[str, ...]  # North-American-market 17-char VIN makers (check digit applies)
    euro_wmi: str | None  # European-market VINs (no check digit; filler 'Z')
    chassis: str  # pattern for chassis numbers before 1981 / domestic-market cars: '#' digit, '@' letter
    value: tuple[int, int]
    chassis_only: bool = False  # a domestic-market model whose cars never had a 17-char VIN


_M = _Model
CATALOG: tuple[_Model, ...] = (
    _M("Porsche", "911", (1965, 1989), ("S", "T", "E", "SC", "Carrera 3.2", None), ("Coupe", "Targa", "Cabriolet"),
       ("2.0-Liter Flat-Six", "2.2-Liter Flat-Six", "3.0-Liter Flat-Six", "3.2-Liter Flat-Six"),
       ("5-Speed Manual", "4-Speed Manual", "915 5-Speed Manual"), ("RWD",), ("WP0",), "WP0ZZZ", "911######", (45000, 220000)),
    _M("Porsche", "911", (1990, 1998), ("Carrera 2", "Carrera 4", "Carrera S", "Turbo", "Carrera RS"), ("Coupe", "Cabriolet", "Targa"),
       ("3.6-Liter Flat-Six", "3.6-Liter Twin-Turbo Flat-Six"), ("5-Speed Manual", "6-Speed Manual", "4-Speed Tiptronic"),
       ("RWD", "AWD"), ("WP0",), "WP0ZZZ", "", (55000, 320000)),
    _M("Porsche", "911", (2005, 2025), ("Carrera S", "Carrera 4S", "GT3", "GT3 Touring", "Turbo S", "Targa 4S"),
       ("Coupe", "Cabriolet", "Targa"), ("3.8-Liter Flat-Six", "4.0-Liter Flat-Six", "3.0-Liter Twin-Turbo Flat-Six"),
       ("6-Speed Manual", "7-Speed Manual", "7-Speed PDK", "8-Speed PDK"), ("RWD", "AWD"), ("WP0",), "WP0ZZZ", "",
       (45000, 280000)),
    _M("Porsche", "356", (1955, 1965), ("A 1600 Coupe", "B Roadster", "C Coupe", "Speedster"), ("Coupe", "Roadster"),
       ("1.6-Liter Flat-Four",), ("4-Speed Manual",), ("RWD",), (), None, "######", (85000, 420000)),
    _M("Porsche", "944", (1983, 1991), ("Turbo", "S2", None), ("Coupe", "Cabriolet"), ("2.5-Liter Inline-Four", "3.0-Liter Inline-Four"),
       ("5-Speed Manual",), ("RWD",), ("WP0",), "WP0ZZZ", "", (9000, 45000)),
    _M("Mercedes-Benz", "190SL", (1955, 1963), (None,), ("Roadster",), ("1.9-Liter Inline-Four",), ("4-Speed Manual",), ("RWD",),
       (), None, "121040##0#####", (90000, 210000)),
    _M("Mercedes-Benz", "280SL", (1968, 1971), (None,), ("Convertible",), ("2.8-Liter Inline-Six",),
       ("4-Speed Automatic", "4-Speed Manual"), ("RWD",), (), None, "11304412######", (70000, 180000)),
    _M("Mercedes-Benz", "300TD", (1979, 1985), ("Turbodiesel",), ("Wagon",), ("3.0-Liter Turbodiesel Inline-Five",),
       ("4-Speed Automatic",), ("RWD",), ("WDB",), "WDBZZZ", "12319312######", (8000, 35000)),
    _M("Mercedes-Benz", "560SL", (1986, 1989), (None,), ("Convertible",), ("5.6-Liter V8",), ("4-Speed Automatic",), ("RWD",),
       ("WDB",), "WDBZZZ", "", (14000, 60000)),
    _M("Mercedes-Benz", "300SL Gullwing", (1955, 1957), (None,), ("Coupe",), ("3.0-Liter Inline-Six",), ("4-Speed Manual",), ("RWD",),
       (), None, "1980405500###", (1200000, 1900000)),
    _M("BMW", "M3", (1988, 1991), (None, "Evolution"), ("Coupe",), ("2.3-Liter S14 Inline-Four",), ("5-Speed Manual",), ("RWD",),
       ("WBS",), "WBSZZZ", "", (45000, 140000)),
    _M("BMW", "M3", (1995, 2006), (None, "Lightweight", "Competition"), ("Coupe", "Sedan", "Convertible"),
       ("3.2-Liter S52 Inline-Six", "3.2-Liter S54 Inline-Six"), ("5-Speed Manual", "6-Speed Manual", "6-Speed SMG"), ("RWD",),
       ("WBS",), "WBSZZZ", "", (18000, 90000)),
    _M("BMW", "2002", (1968, 1976), ("tii", None, "Turbo"), ("Coupe",), ("2.0-Liter Inline-Four",), ("4-Speed Manual",), ("RWD",),
       (), None, "27#####", (18000, 90000)),
    _M("Ford", "Mustang", (1965, 1970), ("GT", "Mach 1", "Boss 302", "Shelby GT350", None), ("Fastback", "Coupe", "Convertible"),
       ("289ci V8", "302ci V8", "351ci V8", "428ci Cobra Jet V8"), ("4-Speed Manual", "3-Speed Automatic"), ("RWD",),
       (), None, "#F##@######", (28000, 160000)),
    _M("Ford", "Mustang", (1984, 1993), ("GT", "LX 5.0", "SVT Cobra"), ("Hatchback", "Coupe", "Convertible"), ("5.0-Liter V8",),
       ("5-Speed Manual", "4-Speed Automatic"), ("RWD",), ("1FA",), None, "", (12000, 55000)),
    _M("Ford", "Mustang", (2005, 2023), ("GT", "Shelby GT500", "Boss 302", "Shelby GT350", "Mach 1"), ("Coupe", "Convertible"),
       ("4.6-Liter V8", "5.0-Liter V8", "5.2-Liter V8", "5.4-Liter Supercharged V8"), ("5-Speed Manual", "6-Speed Manual",
       "10-Speed Automatic"), ("RWD",), ("1FA",), None, "", (18000, 90000)),
    _M("Ford", "Bronco", (1966, 1977), ("Sport", "Explorer", None), ("SUV",), ("289ci V8", "302ci V8", "170ci Inline-Six"),
       ("3-Speed Manual", "3-Speed Automatic"), ("4WD",), (), None, "U15@@@#####", (45000, 160000)),
    _M("Ford", "Bronco", (2021, 2024), ("Badlands", "Wildtrak", "First Edition", "Raptor"), ("SUV",),
       ("2.7-Liter Twin-Turbo V6", "3.0-Liter Twin-Turbo V6"), ("7-Speed Manual", "10-Speed Automatic"), ("4WD",), ("1FM",), None, "",
       (38000, 95000)),
    _M("Ford", "GT", (2005, 2006), (None, "Heritage Edition"), ("Coupe",), ("5.4-Liter Supercharged V8",), ("6-Speed Manual",), ("RWD",),
       ("1FA",), None, "", (380000, 650000)),
    _M("Chevrolet", "Corvette", (1955, 1967), ("Fuel-Injected", "327/350", "L79", None), ("Convertible", "Coupe"),
       ("283ci V8", "327ci V8", "427ci V8"), ("4-Speed Manual", "2-Speed Powerglide"), ("RWD",), (), None, "194#7S1#####",
       (55000, 220000)),
    _M("Chevrolet", "Corvette", (1968, 1982), ("Stingray", "L82", "Collector Edition", None), ("Coupe", "Convertible", "T-Top"),
       ("350ci V8", "454ci V8"), ("4-Speed Manual", "3-Speed Automatic"), ("RWD",), ("1G1",), None, "194#7S4#####",
       (16000, 70000)),
    _M("Chevrolet", "Corvette", (1984, 2013), ("ZR-1", "Grand Sport", "Z06", None), ("Coupe", "Convertible"),
       ("5.7-Liter L98 V8", "5.7-Liter LT1 V8", "5.7-Liter LS1 V8", "7.0-Liter LS7 V8"), ("6-Speed Manual", "4-Speed Automatic"),
       ("RWD",), ("1G1",), None, "", (12000, 95000)),
    _M("Chevrolet", "C10", (1960, 1987), ("Custom Deluxe", "Cheyenne", "Silverado", None), ("Pickup",), ("350ci V8", "250ci Inline-Six"),
       ("3-Speed Automatic", "4-Speed Manual"), ("RWD",), ("1GC",), None, "CE14#@######", (14000, 70000)),
    _M("Toyota", "Land Cruiser", (1963, 1983), ("FJ40",), ("SUV",), ("4.2-Liter 2F Inline-Six",), ("4-Speed Manual",), ("4WD",),
       ("JT3",), None, "FJ40######", (30000, 120000)),
    _M("Toyota", "Land Cruiser", (1991, 1997), ("FZJ80",), ("SUV",), ("4.5-Liter 1FZ-FE Inline-Six",), ("4-Speed Automatic",), ("4WD",),
       ("JT3",), None, "", (22000, 75000)),
    _M("Toyota", "Supra", (1986, 1998), ("Turbo", None), ("Hatchback", "Targa"), ("3.0-Liter Turbocharged Inline-Six",),
       ("5-Speed Manual", "6-Speed Manual", "4-Speed Automatic"), ("RWD",), ("JT2",), None, "", (18000, 150000)),
    _M("Mazda", "MX-5 Miata", (1990, 2024), (None, "M Edition", "Club", "Special Edition"), ("Convertible",),
       ("1.6-Liter Inline-Four", "1.8-Liter Inline-Four", "2.0-Liter Inline-Four"), ("5-Speed Manual", "6-Speed Manual"), ("RWD",),
       ("JM1",), None, "", (6000, 32000)),
    _M("Nissan", "Skyline GT-R", (1989, 1994), ("V-Spec", None), ("Coupe",), ("2.6-Liter RB26DETT Twin-Turbo Inline-Six",),
       ("5-Speed Manual",), ("AWD",), (), None, "BNR32######", (45000, 110000), chassis_only=True),
    _M("Acura", "NSX", (1991, 2005), (None, "-T"), ("Coupe", "Targa"), ("3.0-Liter V6", "3.2-Liter V6"),
       ("5-Speed Manual", "6-Speed Manual", "4-Speed Automatic"), ("RWD",), ("JH4",), None, "", (70000, 220000)),
    _M("Land Rover", "Defender 110", (1987, 2016), ("County", "300Tdi", None), ("SUV",), ("2.5-Liter Turbodiesel Inline-Four", "3.9-Liter V8"),
       ("5-Speed Manual",), ("4WD",), ("SAL",), "SALZZZ", "", (30000, 110000)),
    _M("Jaguar", "E-Type", (1961, 1974), ("Series 1 Roadster", "Series 2 Coupe", "Series 3 V12"), ("Roadster", "Coupe"),
       ("3.8-Liter Inline-Six", "4.2-Liter Inline-Six", "5.3-Liter V12"), ("4-Speed Manual",), ("RWD",), (), None, "1E#####",
       (70000, 260000)),
    _M("Ferrari", "308 GTS", (1977, 1985), ("Quattrovalvole", "GTSi", None), ("Targa",), ("2.9-Liter V8",), ("5-Speed Manual",), ("RWD",),
       ("ZFF",), "ZFFZZZ", "#####", (60000, 140000)),
    _M("Ferrari", "F355", (1995, 1999), ("Spider", "Berlinetta", "GTS"), ("Coupe", "Convertible"), ("3.5-Liter V8",),
       ("6-Speed Manual", "6-Speed F1"), ("RWD",), ("ZFF",), "ZFFZZZ", "", (90000, 260000)),
    _M("Jeep", "CJ-7", (1976, 1986), ("Renegade", "Laredo", None), ("SUV",), ("258ci Inline-Six", "304ci V8"),
       ("4-Speed Manual", "3-Speed Automatic"), ("4WD",), ("1JC",), None, "J#M93@A######", (15000, 60000)),
    _M("Volkswagen", "Type 2 Bus", (1955, 1979), ("21-Window Deluxe", "Westfalia", "Kombi"), ("Van",), ("1.6-Liter Flat-Four",),
       ("4-Speed Manual",), ("RWD",), (), None, "2#########", (25000, 160000)),
    _M("Volkswagen", "Golf GTI", (1983, 1992), (None, "16V"), ("Hatchback",), ("1.8-Liter Inline-Four",), ("5-Speed Manual",),
       ("FWD",), ("1VW", "3VW"), "WVWZZZ", "", (9000, 35000)),
    _M("Dodge", "Challenger", (1970, 1974), ("R/T", "T/A", None), ("Coupe", "Convertible"), ("383ci V8", "440ci V8", "426ci Hemi V8"),
       ("4-Speed Manual", "3-Speed Automatic"), ("RWD",), (), None, "JS23@0B######", (35000, 180000)),
    _M("Dodge", "Challenger", (2008, 2023), ("SRT8", "SRT Hellcat", "R/T Scat Pack"), ("Coupe",),
       ("6.1-Liter V8", "6.4-Liter V8", "6.2-Liter Supercharged V8"), ("6-Speed Manual", "5-Speed Automatic", "8-Speed Automatic"),
       ("RWD",), ("2B3", "2C3"), None, "", (18000, 75000)),
    _M("Datsun", "240Z", (1970, 1973), (None,), ("Coupe",), ("2.4-Liter Inline-Six",), ("4-Speed Manual",), ("RWD",), (), None,
       "HLS30######", (25000, 90000)),
    _M("Honda", "S2000", (2000, 2009), (None, "CR"), ("Roadster",), ("2.0-Liter Inline-Four", "2.2-Liter Inline-Four"),
       ("6-Speed Manual",), ("RWD",), ("JHM",), None, "", (18000, 75000)),
    _M("Alfa Romeo", "Spider", (1966, 1993), ("Veloce", "Graduate", None), ("Convertible",), ("2.0-Liter Inline-Four",),
       ("5-Speed Manual",), ("RWD",), ("ZAR",), "ZARZZZ", "AR#######", (12000, 55000)),
    _M("Aston Martin", "DB6", (1965, 1971), ("Vantage", "Volante", None), ("Coupe", "Convertible"), ("4.0-Liter Inline-Six",),
       ("5-Speed Manual",), ("RWD",), (), None, "DB6####R", (450000, 1200000)),
    _M("Lamborghini", "Diablo", (1991, 2001), ("VT", "SV", "Roadster"), ("Coupe",), ("5.7-Liter V12",), ("5-Speed Manual",),
       ("AWD", "RWD"), ("ZA9",), "ZA9ZZZ", "", (250000, 600000)),
)
_AUCTION_HOUSE_MODELS = tuple(m for m in CATALOG if m.value[1] >= 150000)  # Broad Arrow sells the top end

_EXTERIORS = (
    "Guards Red", "Basalt Black Metallic", "Arctic Silver Metallic", "Rosso Corsa", "Wimbledon White", "Grabber Blue",
    "Brilliant Black Crystal Pearl", "British Racing Green", "Labrador Blue", "Garnet Pearl", "Signal Yellow", "Riviera Blue",
    "Nogaro Blue", "Silver Blue Metallic", "Olive Drab", "Sahara Beige", "Chalk", "Midnight Blue", "Candy Apple Red", "Ivory",
)
_INTERIORS = ("Black Leather", "Tan Leather", "Gray Cloth", "Red Leather", "Cognac Leather", "Blue Vinyl", "Black Vinyl",
              "Houndstooth Cloth", "Parchment Leather")
_US_LOCATIONS = (
    "Kennesaw, Georgia 30152", "Phoenix, Arizona 85018", "Greenwood, Indiana 46142", "Kenmore, Washington 98028",
    "Fort Lauderdale, Florida 33325", "Portland, Oregon 97209", "Austin, Texas 78704", "Denver, Colorado 80216",
    "Scottsdale, Arizona 85251", "Boulder, Colorado 80302", "Charlotte, North Carolina 28202", "Naples, Florida 34102",
    "Los Angeles, California 90038", "San Diego, California 92101", "Chicago, Illinois 60614", "Boston, Massachusetts 02116",
    "Nashville, Tennessee 37203", "Salt Lake City, Utah 84101", "Minneapolis, Minnesota 55401", "Richmond, Virginia 23220",
)
_EU_LOCATIONS = ("Munich, Germany", "Stuttgart, Germany", "Antwerp, Belgium", "Maranello, Italy", "London, United Kingdom",
                 "Geneva, Switzerland", "Amsterdam, Netherlands")
_USER_SYLLABLES = ("speed", "vintage", "turbo", "classic", "garage", "mike", "pet", "sea", "red", "blue", "flat6", "carrera",
                   "mustang", "bimmer", "gtr", "z", "miata", "drive", "apex", "boxer", "v8", "gull", "ridge", "rally")
_COMMENT_TEXT = (
    "Beautiful example. Those colors are perfect together.",
    "Any records of the last major service?",
    "Great photos, thanks for the thorough listing.",
    "Is the paint original or was it resprayed at some point?",
    "The seller has been very responsive to questions.",
    "I owned one of these in the nineties and still miss it.",
    "What tires are on it and how old are they?",
    "Those wheels are a great period-correct choice.",
    "Good luck to the seller and bidders!",
    "Has the timing belt been done recently?",
    "Love the interior, it looks barely used.",
    "Curious about the underside photos near the rear frame rails.",
)
# Comments that quote prices: parsers that search page text for "Sold for" or "Bid to" read these wrongly.
_TRAP_TEXT = (
    "A similar one sold for ${amount:,} at Mecum last spring.",
    "Sold for ${amount:,} on BaT two years ago if I remember right.",
    "Bid to ${amount:,} last time and the reserve was not met.",
    "I remember when these sold for ${amount:,} and nobody wanted them.",
)


# ---------------------------------------------------------------------------------------------------
# VINs

_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))),
               "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 1980..2009, then again from 2010


def vin_check_digit(vin: str) -> str:
    """The check digit (position 9) a 17-char VIN must carry (ISO 3779 / 49 CFR 565)."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS))
    r = total % 11
    return "X" if r == 10 else str(r)


def classify_vin(vin: str | None, year: int) -> str | None:
    """The VIN state DESIGN.md defines: only North-American VINs (WMI 1-5) from 1981 on must carry the digit."""
    if vin is None:
        return None
    if len(vin) != 17:
        return "not_applicable"
    if all(c in _VIN_VALUES for c in vin) and vin[8] == vin_check_digit(vin):
        return "valid"
    if year >= 1981 and vin[0] in "12345":
        return "bad_check_digit"
    return "not_applicable"


def _year_code(year: int) -> str:
    return _YEAR_CODES[(year - 1980) % 30]


def _pattern(rng: random.Random, pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(rng.choice("0123456789"))
        elif ch == "@":
            out.append(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ"))
        else:
            out.append(ch)
    return "".join(out)


def _us_vin(rng: random.Random, wmi: str, year: int, bad: bool) -> str:
    vds = "".join(rng.choice(_VIN_CHARS) for _ in range(5))
    tail = _year_code(year) + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") + "".join(rng.choice("0123456789") for _ in range(6))
    body = wmi + vds + "0" + tail
    digit = vin_check_digit(body)
    if bad:
        digit = rng.choice([d for d in "0123456789X" if d != digit])
    return body[:8] + digit + body[9:]


def _euro_vin(rng: random.Random, euro_wmi: str, year: int) -> str:
    # European-market VINs fill unused positions with 'Z' (e.g. WP0ZZZ99ZTS312345): position 9 is no check digit.
    return euro_wmi + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXY") for _ in range(2)) + "Z" + _year_code(year) + \
        rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(6))


# ---------------------------------------------------------------------------------------------------
# World

def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _fmt_money(amount: int) -> str:
    return f"{amount:,}"


def _us_date(epoch: int) -> str:
    d = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return f"{d.month}/{d.day}/{d.strftime('%y')}"


@dataclass
class World:
    seed: int
    clock: int  # the default clock of this world
    cars: list[SampleCar]
    listings: list[SampleListing]  # FINAL facts; see listing_state for what a page shows at a clock

    dealers: tuple[Dealer, ...] = DEALERS
    metros: tuple[Metro, ...] = METROS

    def __post_init__(self) -> None:
        # Newest first (starts_at descending), ties by source and id so the order never depends on dict order.
        self._ordered = sorted(self.listings, key=lambda l: (-(l.starts_at or 0), l.source, l.external_id))
        self._starts = [l.starts_at or 0 for l in self._ordered]

    def visible(self, clock: int | None = None) -> list[SampleListing]:
        """The listings that have appeared by `clock` (FINAL facts), newest first."""
        now = self.clock if clock is None else clock
        return [l for l in self._ordered if (l.starts_at or 0) <= now]

    def snapshot(self, clock: int | None = None, source: str | None = None) -> list[SampleListing]:
        """What pages show at `clock`: `listing_state` of every visible listing (of one source), newest first."""
        now = self.clock if clock is None else clock
        return [self.listing_state(l, now) for l in self.visible(now) if source is None or l.source == source]

    @staticmethod
    def is_live(listing: SampleListing, clock: int) -> bool:
        return listing.outcome is not None and listing.ends_at is not None and listing.ends_at > clock

    def listing_state(self, listing: SampleListing, clock: int | None = None) -> SampleListing:
        """A copy of the listing as its page shows it at `clock`.

        An auction whose `ends_at` is still ahead is "live": running high bid, bid count and the comments
        posted so far, no sale price, no buyer, views and watchers growing with elapsed time. An ended
        auction (ends_at <= clock) shows its final facts. Classifieds and dealer stock never change.
        """
        now = self.clock if clock is None else clock
        if not self.is_live(listing, now):
            return dataclasses.replace(listing, images=list(listing.images), comments=list(listing.comments))
        so_far = [c for c in listing.comments if c.posted_at <= now and c.kind != "system"]
        bids = [c for c in so_far if c.kind == "bid"]
        start = listing.starts_at or now
        span = max(1, (listing.ends_at or now) - start)
        frac = min(1.0, max(0.0, (now - start) / span))
        has_thread = listing.source in ("bat", "carsandbids")
        return dataclasses.replace(
            listing,
            outcome="live",
            sale_price=None,
            buyer=None,
            high_bid=bids[-1].amount if bids else None,
            bid_count=len(bids) if has_thread else listing.bid_count,
            comment_count=sum(1 for c in so_far if c.kind == "comment") if has_thread else listing.comment_count,
            view_count=int(listing.view_count * max(frac, 0.05)) if listing.view_count is not None else None,
            watcher_count=int(listing.watcher_count * max(frac, 0.05)) if listing.watcher_count is not None else None,
            images=list(listing.images),
            comments=so_far,
        )

    def duplicates(self, clock: int | None = None) -> list[list[SampleListing]]:
        """Groups of visible listings of the same car (same VIN or chassis number) on several sources/offers."""
        groups: dict[int, list[SampleListing]] = {}
        for l in self.visible(clock):
            groups.setdefault(l.car.car_id, []).append(l)
        return [sorted(g, key=lambda l: l.starts_at or 0) for g in groups.values() if len(g) > 1]

    def by_source(self, source: str) -> list[SampleListing]:
        return [l for l in self._ordered if l.source == source]


class _Builder:
    """Draws the world. Every random choice comes from `self.rng` in a fixed order."""

    def __init__(self, seed: int, clock: int, dealers: tuple[Dealer, ...] = DEALERS):
        self.rng = random.Random(seed)
        self.clock = clock
        self.dealers = dealers
        self.cars: list[SampleCar] = []
        self.listings: list[SampleListing] = []
        self.users = self._make_users(400)
        self._slugs: dict[str, int] = {}
        self._cab_ids: set[str] = set()
        self._comment_id = 19_000_000 + self.rng.randrange(1_000_000)
        self._values: dict[int, int] = {}

    def _make_users(self, n: int) -> list[str]:
        rng = self.rng
        users: list[str] = []
        seen = set()
        while len(users) < n:
            name = rng.choice(_USER_SYLLABLES) + rng.choice(_USER_SYLLABLES)
            name = name.capitalize() if rng.random() < 0.4 else name
            if rng.random() < 0.5:
                name += str(rng.randrange(1, 999))
            if name.lower() not in seen:
                seen.add(name.lower())
                users.append(name)
        return users

    # --- cars -------------------------------------------------------------------------------------

    def car(self, *, vin_kind: str | None = None, km: bool | None = None, model: _Model | None = None,
            location: str | None = None, top_end: bool = False) -> SampleCar:
        """A new car. vin_kind forces "valid" | "bad" | "chassis" | "euro" when the model allows it."""
        rng = self.rng
        candidates = _AUCTION_HOUSE_MODELS if top_end else CATALOG
        if model is None:
            if vin_kind == "chassis":
                candidates = [m for m in candidates if m.chassis and m.years[0] < 1981]
            elif vin_kind == "bad":
                candidates = [m for m in CATALOG if any(w[0] in "12345" for w in m.wmis) and m.years[1] >= 1981]
            elif vin_kind == "euro":
                candidates = [m for m in CATALOG if m.euro_wmi and m.years[1] >= 1981]
            elif vin_kind == "valid":
                candidates = [m for m in candidates if m.wmis and m.years[1] >= 1981] or [m for m in CATALOG if m.wmis]
            model = rng.choice(candidates)
        lo, hi = model.years
        if vin_kind == "chassis":
            hi = min(hi, 1980) if not model.chassis_only else hi
        elif vin_kind in ("bad", "euro", "valid"):
            lo = max(lo, 1981)
        year = rng.randint(lo, hi)
        if year < 1981 or model.chassis_only or (not model.wmis and not model.euro_wmi):
            vin = _pattern(rng, model.chassis or "######")
        elif vin_kind == "euro" or (vin_kind is None and model.euro_wmi and rng.random() < 0.12):
            vin = _euro_vin(rng, model.euro_wmi or "WP0ZZZ", year)
        else:
            wmis = [w for w in model.wmis if w[0] in "12345"] if vin_kind == "bad" else list(model.wmis)
            bad = vin_kind == "bad" or (vin_kind is None and wmis[0][0] in "12345" and rng.random() < 0.04)
            vin = _us_vin(rng, rng.choice(wmis), year, bad)
        state = classify_vin(vin, year)
        euro = vin.startswith(model.euro_wmi) if model.euro_wmi else False
        if km is None:
            km = euro or model.chassis_only or (year < 1981 and model.make in ("Porsche", "Mercedes-Benz", "BMW") and rng.random() < 0.2)
        age = max(1, self.year_now - year)
        miles = int(rng.uniform(0.1, 1.0) * age * rng.choice((600, 1500, 3500, 7000)))
        miles = max(120, min(miles, 260_000))
        miles = (miles // 100) * 100 if rng.random() < 0.7 else miles
        mileage = int(miles * 1.609) if km else miles
        if km:
            mileage = (mileage // 100) * 100
        car = SampleCar(
            car_id=len(self.cars) + 1,
            year=year,
            make=model.make,
            model=model.model,
            trim=rng.choice(model.trims),
            vin=vin,
            vin_state=state,
            mileage=mileage,
            mileage_unit="km" if km else "mi",
            exterior_color=rng.choice(_EXTERIORS),
            interior_color=rng.choice(_INTERIORS),
            transmission=rng.choice(model.transmissions),
            drivetrain=rng.choice(model.drivetrains),
            engine=rng.choice(model.engines),
            body_style=rng.choice(model.bodies),
            location=location or (rng.choice(_EU_LOCATIONS) if euro else rng.choice(_US_LOCATIONS)),
        )
        self.cars.append(car)
        self._values[car.car_id] = self._value(model, year)
        return car

    @property
    def year_now(self) -> int:
        return datetime.fromtimestamp(self.clock, tz=timezone.utc).year

    def _value(self, model: _Model, year: int) -> int:
        lo, hi = model.value
        return int(lo * (hi / lo) ** self.rng.random())

    def value(self, car: SampleCar) -> int:
        return self._values[car.car_id]

    # --- helpers ------------------------------------------------------------------------------------

    def slug(self, base: str) -> str:
        # BaT-style uniqueness: the first listing of a title keeps the bare slug, later ones get -2, -3, ...
        n = self._slugs.get(base, 0) + 1
        self._slugs[base] = n
        return base if n == 1 else f"{base}-{n}"

    def times(self, phase: str, duration: int, ended_days: tuple[int, int] | None = None) -> tuple[int, int]:
        """(starts_at, ends_at) for an auction: phase "ended", "live" or "future" relative to the default clock."""
        rng, now = self.rng, self.clock
        if phase == "ended":
            lo, hi = ended_days or (0, 75)
            ends = now - rng.randint(max(2 * HOUR, lo * DAY), hi * DAY)
        elif phase == "live":
            ends = now + rng.randint(2 * HOUR, min(duration, 6 * DAY) - HOUR)
        else:  # future: appears after the default clock (advance the clock to see it)
            start = now + rng.randint(HOUR, 3 * DAY)
            return start, start + duration
        return ends - duration, ends

    @staticmethod
    def increment(amount: int) -> int:
        for limit, inc in ((10_000, 100), (50_000, 250), (100_000, 500), (500_000, 1000)):
            if amount < limit:
                return inc
        return 2500

    def round_price(self, amount: int) -> int:
        inc = self.increment(amount)
        return max(inc, (amount // inc) * inc)

    def bid_ladder(self, high: int, n: int) -> list[int]:
        """n strictly ascending bids ending at `high`."""
        inc = self.increment(high)
        n = max(1, min(n, high // inc))
        start = max(inc, self.round_price(int(high * self.rng.uniform(0.1, 0.45))))
        if n == 1:
            return [high]
        weights = [self.rng.random() + 0.05 for _ in range(n - 1)]
        total = sum(weights)
        amounts, acc = [], 0.0
        for w in weights[:-1]:
            acc += w
            amounts.append(start + int((high - start) * acc / total) // inc * inc)
        amounts = [start] + amounts[: n - 2] + [high]
        for i in range(len(amounts) - 2, -1, -1):
            amounts[i] = min(amounts[i], amounts[i + 1] - inc)
        return [a for a in amounts if a > 0]

    def next_comment_id(self) -> str:
        self._comment_id += self.rng.randint(3, 400)
        return str(self._comment_id)

    def thread(self, listing: SampleListing, bids: list[int], n_comments: int, system: str | None) -> list[SampleComment]:
        """Comments and bids over the auction window, in time order; bids skew towards the end."""
        rng = self.rng
        start, end = listing.starts_at or 0, listing.ends_at or 0
        span = max(60, end - start - 60)
        bid_times = sorted(start + int(span * (1 - (1 - rng.random()) ** 3)) for _ in bids)
        comment_times = sorted(start + int(span * rng.random()) for _ in range(n_comments))
        events: list[tuple[int, str, int | None]] = [(t, "bid", a) for t, a in zip(bid_times, bids)]
        events += [(t, "comment", None) for t in comment_times]
        events.sort(key=lambda e: (e[0], e[1]))
        out: list[SampleComment] = []
        last_bidder = None
        is_bat = listing.source == "bat"
        for t, kind, amount in events:
            if kind == "bid":
                bidder = rng.choice(self.users)
                while bidder == last_bidder or bidder == listing.seller:
                    bidder = rng.choice(self.users)
                last_bidder = bidder
                text = (f"USD ${_fmt_money(amount)} bid placed by {bidder}" if is_bat else f"Bid ${_fmt_money(amount)}")
                out.append(SampleComment(self.next_comment_id(), "bid", bidder, t, text, amount))
            else:
                author = listing.seller if rng.random() < 0.12 else rng.choice(self.users)
                if rng.random() < 0.15:
                    trap = rng.choice(_TRAP_TEXT).format(amount=self.round_price(int(self.value(listing.car) * rng.uniform(0.5, 1.6))))
                    text = trap
                else:
                    text = rng.choice(_COMMENT_TEXT)
                out.append(SampleComment(self.next_comment_id(), "comment", author or "guest", t, text))
        if system is not None:
            out.append(SampleComment(self.next_comment_id(), "system", "BaT", end, system))
        return out

    def last_bidder(self, comments: list[SampleComment]) -> str | None:
        bids = [c for c in comments if c.kind == "bid"]
        return bids[-1].author if bids else None

    def images(self, source: str, key: str, n: int) -> list[str]:
        return [f"/_img/{source}/{key}/{i}.jpg" for i in range(1, n + 1)]

    # --- listings per source ------------------------------------------------------------------------

    def _title(self, car: SampleCar) -> str:
        return car_title(car)

    def bat(self, car: SampleCar, outcome: str, phase: str, *, no_reserve: bool | None = None,
            after: int | None = None, ended_days: tuple[int, int] | None = None) -> SampleListing:
        rng = self.rng
        start, end = self.times(phase, 7 * DAY, ended_days)
        if after is not None and start < after:  # a relist starts after the earlier offer ended
            start = after + rng.randint(DAY, 10 * DAY)
            end = start + 7 * DAY
        if no_reserve is None:
            no_reserve = outcome == "sold" and rng.random() < 0.3
        title = self._title(car)
        if car.mileage < 60_000 and rng.random() < 0.5:
            unit = "Kilometer" if car.mileage_unit == "km" else "Mile"
            title = f"{max(1, car.mileage // 1000)}k-{unit} {title}"
        if "Manual" in car.transmission and rng.random() < 0.6:
            title += " " + car.transmission.split(" ")[0]
        value = self.value(car)
        seller = rng.choice(self.users)
        listing = SampleListing(
            source="bat", external_id="", slug=self.slug(_slugify(self._title(car))), car=car, title=title,
            outcome=outcome, currency="USD", starts_at=start, ends_at=end, seller=seller, no_reserve=no_reserve,
            view_count=rng.randint(1500, 30000), watcher_count=rng.randint(80, 2200),
            images=[], description=f"This {self._title(car)} is offered by its owner in {car.location}.",
        )
        n_comments = rng.randint(3, 60)
        if outcome == "no_sale":
            bids: list[int] = []
        elif outcome == "withdrawn":
            bids = self.bid_ladder(self.round_price(int(value * rng.uniform(0.3, 0.7))), rng.randint(0, 8))
            if rng.random() < 0.3:
                bids = []
            # Withdrawn mid-auction: the page stops when the listing is pulled.
            listing.ends_at = start + rng.randint(DAY, 6 * DAY)
        else:
            high = self.round_price(int(value * rng.uniform(0.7, 1.25)))
            bids = self.bid_ladder(high, rng.randint(4, 45))
        system = None
        if outcome == "sold":
            system = ""  # filled once the buyer is known
        elif outcome == "bid_to":
            system = f"Reserve not met on {_us_date(listing.ends_at)} at USD ${_fmt_money(bids[-1])}"
        comments = self.thread(listing, bids, n_comments, system)
        listing.comments = comments
        listing.high_bid = bids[-1] if bids else None
        listing.bid_count = len(bids)
        listing.comment_count = sum(1 for c in comments if c.kind == "comment")
        if outcome == "sold":
            listing.buyer = self.last_bidder(comments)
            listing.sale_price = listing.high_bid
            text = f"Sold on {_us_date(listing.ends_at)} for USD ${_fmt_money(listing.sale_price)}.00 to {listing.buyer}"
            comments[-1] = dataclasses.replace(comments[-1], text=text)
        self.listings.append(listing)
        return listing

    def carsandbids(self, car: SampleCar, outcome: str, phase: str, *, no_reserve: bool | None = None,
                    ended_days: tuple[int, int] | None = None) -> SampleListing:
        rng = self.rng
        start, end = self.times(phase, 7 * DAY, ended_days)
        if no_reserve is None:
            no_reserve = outcome == "sold" and rng.random() < 0.35
        while True:
            cab_id = "".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
            if cab_id not in self._cab_ids:
                self._cab_ids.add(cab_id)
                break
        title = self._title(car)
        value = self.value(car)
        listing = SampleListing(
            source="carsandbids", external_id=cab_id, slug=_slugify(title), car=car, title=title, outcome=outcome,
            currency="USD", starts_at=start, ends_at=end, seller=rng.choice(self.users), no_reserve=no_reserve,
            view_count=rng.randint(800, 20000), watcher_count=rng.randint(40, 600),
            description=rng.choice(("Mostly Unmodified", "Some Modifications", "Numerous Modifications")) + f", {car.exterior_color}",
        )
        if outcome == "no_sale":
            bids: list[int] = []
        elif outcome == "withdrawn":
            bids = self.bid_ladder(self.round_price(int(value * rng.uniform(0.3, 0.6))), rng.randint(1, 10))
            listing.ends_at = start + rng.randint(DAY, 6 * DAY)
        else:
            bids = self.bid_ladder(self.round_price(int(value * rng.uniform(0.6, 1.2))), rng.randint(4, 40))
        comments = self.thread(listing, bids, rng.randint(2, 40), None)
        listing.comments = comments
        listing.high_bid = bids[-1] if bids else None
        listing.bid_count = len(bids)
        listing.comment_count = sum(1 for c in comments if c.kind == "comment")
        if outcome == "sold":
            listing.sale_price = listing.high_bid
            listing.buyer = self.last_bidder(comments)
        elif outcome == "sold_after":
            # A deal struck after the reserve was not met: above the high bid, below the reserve.
            listing.sale_price = self.round_price(int((listing.high_bid or 0) * rng.uniform(1.02, 1.12)))
            listing.buyer = self.last_bidder(comments)
        self.listings.append(listing)
        listing.images = self.images("carsandbids", cab_id, rng.randint(3, 8))
        return listing

    def mecum(self, car: SampleCar, outcome: str, phase: str) -> SampleListing:
        rng = self.rng
        start, end = self.times(phase, 30 * DAY)
        prefix, city = rng.choice(_MECUM_SALES)
        year2 = datetime.fromtimestamp(end, tz=timezone.utc).strftime("%y")
        value = self.value(car)
        low = self.round_price(int(value * 0.85))
        high_est = self.round_price(int(value * 1.2))
        title = self._title(car)
        listing = SampleListing(
            source="mecum", external_id="", slug=_slugify(title), car=car, title=title, outcome=outcome, currency="USD",
            starts_at=start, ends_at=end, lot_number=f"{prefix}{rng.randint(1, 299)}{rng.choice(('', '', '.1', '.2'))}",
            low_estimate=low, high_estimate=high_est, sale_code=f"{_MECUM_SALE_CODES[prefix]}{year2}",
            no_reserve=rng.random() < 0.25, description=f"{city} 20{year2}",
        )
        if outcome == "sold":
            listing.high_bid = self.round_price(int(value * rng.uniform(0.8, 1.2)))
            listing.sale_price = listing.high_bid
        elif outcome == "bid_to":
            listing.no_reserve = False
            listing.high_bid = self.round_price(int(value * rng.uniform(0.5, 0.85)))
        elif outcome == "no_sale":
            listing.no_reserve = False
        self.listings.append(listing)
        return listing

    def broadarrow(self, car: SampleCar, outcome: str, phase: str, *, sale: int | None = None) -> SampleListing:
        rng = self.rng
        start, end = self.times(phase, 35 * DAY)
        code, name, currency, place = _BROADARROW_SALES[sale if sale is not None else rng.randrange(len(_BROADARROW_SALES))]
        year2 = datetime.fromtimestamp(end, tz=timezone.utc).strftime("%y")
        rate = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}[currency]
        value = int(self.value(car) * rate)
        lot = rng.randint(1, 260)
        title = self._title(car)
        listing = SampleListing(
            source="broadarrow", external_id=f"{code}{year2}_{lot:03d}", slug=_slugify(title), car=car, title=title,
            outcome=outcome, currency=currency, starts_at=start, ends_at=end, lot_number=f"{lot:03d}",
            low_estimate=self.round_price(int(value * 0.85)), high_estimate=self.round_price(int(value * 1.15)),
            sale_code=f"{code}{year2}", no_reserve=rng.random() < 0.15, description=f"{name} 20{year2}, {place}",
        )
        if outcome == "sold":
            listing.high_bid = self.round_price(int(value * rng.uniform(0.85, 1.25)))
            listing.sale_price = listing.high_bid
        elif outcome == "bid_to":
            listing.no_reserve = False
            listing.high_bid = self.round_price(int(value * rng.uniform(0.6, 0.85)))
        elif outcome == "no_sale":
            listing.no_reserve = False
        self.listings.append(listing)
        return listing

    def craigslist(self, metro: Metro, *, future: bool = False, car: SampleCar | None = None) -> SampleListing:
        rng = self.rng
        start = self.clock + rng.randint(HOUR, 3 * DAY) if future else self.clock - rng.randint(HOUR, 45 * DAY)
        hood, place = rng.choice(metro.hoods)
        if car is None:
            car = self.car(location=place, km=metro.mileage_unit == "km")
        rate = 1.37 if metro.currency == "CAD" else 1.0
        price = int(self.value(car) * rng.uniform(0.7, 1.1) * rate) // 50 * 50
        words = [str(car.year), car.make, car.model] + ([car.trim] if car.trim and rng.random() < 0.5 else [])
        extra = rng.choice(("", "", " - Clean Title", " w/ records", " - must see", " runs great"))
        title = " ".join(words) + extra
        slug = _slugify(f"{hood} {car.year} {car.make} {car.model}")[:40].strip("-")
        listing = SampleListing(
            source="craigslist", external_id="", slug=slug, car=car, title=title, outcome=None, currency=metro.currency,
            asking_price=price, starts_at=start, metro=metro.code, description=f"{title}. Serious buyers only. {car.mileage:,} {car.mileage_unit}.",
        )
        self.listings.append(listing)
        return listing

    def dealer(self, car: SampleCar, dealer: Dealer, *, after: int | None = None, future: bool = False) -> SampleListing:
        rng = self.rng
        if after is not None:
            start = after + rng.randint(3 * DAY, 20 * DAY)
        elif future:
            start = self.clock + rng.randint(HOUR, 3 * DAY)
        else:
            start = self.clock - rng.randint(DAY, 90 * DAY)
        price = int(self.value(car) * rng.uniform(1.05, 1.3)) // 100 * 100 + rng.choice((0, 0, 95, 900))
        title = self._title(car)
        listing = SampleListing(
            source="dealer", external_id="", slug="", car=car, title=title, outcome=None, currency="USD",
            asking_price=price, starts_at=start, seller=dealer.name, dealer=dealer.slug,
            description=f"{title} in {car.exterior_color} over {car.interior_color}. Call {dealer.phone}.",
        )
        self.listings.append(listing)
        return listing

    # --- finishing -----------------------------------------------------------------------------------

    def assign_ids(self) -> None:
        """Ids and lot numbers grow with start time, as on the real sites."""
        rng = self.rng
        ordered = sorted(self.listings, key=lambda l: (l.starts_at or 0))
        bat_id, bat_lot = 106_000_000 + rng.randrange(500_000), 224_000 + rng.randrange(2000)
        mecum_id = 550_000 + rng.randrange(20_000)
        cl_id = 7_930_000_000 + rng.randrange(1_000_000)
        stock = {d.slug: 1000 + rng.randrange(500) for d in self.dealers}
        prefixes = stock_prefixes(self.dealers)
        for l in ordered:
            if l.source == "bat":
                bat_id += rng.randint(50, 4000)
                bat_lot += rng.randint(1, 40)
                l.external_id = str(bat_id)
                l.lot_number = str(bat_lot)
                l.images = self.images("bat", l.external_id, rng.randint(3, 8))
            elif l.source == "mecum":
                mecum_id += rng.randint(1, 300)
                l.external_id = str(mecum_id)
                l.images = self.images("mecum", l.external_id, rng.randint(2, 6))
            elif l.source == "broadarrow":
                l.images = self.images("broadarrow", l.external_id, rng.randint(2, 6))
            elif l.source == "craigslist":
                cl_id += rng.randint(1000, 900_000)
                l.external_id = str(cl_id)
                l.images = self.images("craigslist", l.external_id, rng.randint(1, 5))
            elif l.source == "dealer":
                assert l.dealer is not None
                stock[l.dealer] += rng.randint(1, 9)
                l.external_id = f"{prefixes[l.dealer]}{stock[l.dealer]}"
                l.slug = _slugify(f"{l.title} {l.external_id}")
                l.images = self.images("dealer", f"{l.dealer}-{l.external_id}", rng.randint(2, 6))
        # Broad Arrow lot numbers are unique within a sale; re-draw the rare clash.
        seen: set[str] = set()
        for l in ordered:
            if l.source == "broadarrow":
                while l.external_id in seen:
                    lot = rng.randint(261, 999)
                    l.lot_number = f"{lot:03d}"
                    l.external_id = f"{l.sale_code}_{l.lot_number}"
                seen.add(l.external_id)


# Scenario list: the facts a world must show whenever it has room for them, in priority order.
def _scenarios(b: _Builder) -> list:
    rng = b.rng
    # The scenarios name four dealers: the named four (a world with fewer dealers reuses its first ones).
    d0, d1, d2, d3 = (b.dealers[i % len(b.dealers)] for i in range(4))
    m_sf, m_sea, m_sac, m_van = METROS

    # Both offers of a car must have appeared by the default clock, so the first one ended long enough ago.
    def bat_then_dealer():
        sold = b.bat(b.car(vin_kind="valid"), "sold", "ended", ended_days=(25, 60))
        b.dealer(dataclasses.replace(sold.car, location=d0.location, mileage=sold.car.mileage + 150), d0, after=sold.ends_at)

    def cab_then_bat():
        first = b.carsandbids(b.car(vin_kind="valid"), "bid_to", "ended", ended_days=(20, 60))
        b.bat(first.car, "sold", "ended", after=first.ends_at)

    return [
        lambda: b.bat(b.car(vin_kind="valid"), "sold", "ended"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "sold", "ended"),
        lambda: b.mecum(b.car(), "sold", "ended"),
        lambda: b.broadarrow(b.car(top_end=True, vin_kind="euro", km=True), "sold", "ended", sale=3),  # EUR
        lambda: b.craigslist(m_sf),
        lambda: b.dealer(b.car(location=d0.location), d0),
        lambda: b.bat(b.car(vin_kind="valid"), "bid_to", "ended"),
        lambda: b.bat(b.car(), "sold", "live"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "sold_after", "ended"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "bid_to", "ended"),
        lambda: b.bat(b.car(vin_kind="bad"), "sold", "ended"),
        lambda: b.bat(b.car(vin_kind="chassis"), "sold", "ended", no_reserve=True),
        lambda: b.bat(b.car(vin_kind="euro", km=True), "sold", "ended"),
        lambda: b.craigslist(m_van),  # CAD, km
        lambda: b.broadarrow(b.car(top_end=True, vin_kind="chassis"), "sold", "ended", sale=4),  # GBP
        bat_then_dealer,
        cab_then_bat,
        lambda: b.bat(b.car(), "no_sale", "ended"),
        lambda: b.bat(b.car(), "withdrawn", "ended"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "withdrawn", "ended"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "bid_to", "live"),
        lambda: b.mecum(b.car(), "bid_to", "ended"),
        lambda: b.mecum(b.car(), "no_sale", "ended"),
        lambda: b.mecum(b.car(), "withdrawn", "ended"),
        lambda: b.mecum(b.car(), "sold", "live"),
        lambda: b.broadarrow(b.car(top_end=True), "bid_to", "ended", sale=0),
        lambda: b.broadarrow(b.car(top_end=True), "withdrawn", "ended", sale=1),
        lambda: b.broadarrow(b.car(top_end=True), "sold", "live", sale=2),
        lambda: b.craigslist(m_sea),
        lambda: b.craigslist(m_sac),
        lambda: b.dealer(b.car(location=d1.location), d1),
        lambda: b.dealer(b.car(location=d2.location), d2),
        lambda: b.dealer(b.car(location=d3.location), d3),
        lambda: b.bat(b.car(), "sold", "future"),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "sold", "future"),
        lambda: b.craigslist(rng.choice(METROS), future=True),
        lambda: b.carsandbids(b.car(vin_kind="valid"), "no_sale", "ended"),
        lambda: b.bat(b.car(), "bid_to", "live"),
    ]


# Random fill: source weights and outcome weights per source.
_SOURCE_WEIGHTS = (("bat", 30), ("carsandbids", 18), ("mecum", 12), ("broadarrow", 9), ("craigslist", 16), ("dealer", 15))
_OUTCOME_WEIGHTS = {
    "bat": (("sold", 62), ("bid_to", 25), ("no_sale", 4), ("withdrawn", 4)),
    "carsandbids": (("sold", 60), ("bid_to", 22), ("sold_after", 8), ("withdrawn", 4), ("no_sale", 3)),
    "mecum": (("sold", 60), ("bid_to", 25), ("no_sale", 10), ("withdrawn", 5)),
    "broadarrow": (("sold", 70), ("bid_to", 20), ("withdrawn", 10)),
}


def _weighted(rng: random.Random, pairs) -> str:
    names = [p[0] for p in pairs]
    return rng.choices(names, weights=[p[1] for p in pairs])[0]


MIXES = ("real", "even")


@dataclass(frozen=True)
class _Host:
    """A host that holds listings: an auction site, a Craigslist metro or a dealer."""

    source: str
    metro: Metro | None = None
    dealer: Dealer | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return self.source, self.metro.code if self.metro else self.dealer.slug if self.dealer else None


def _hosts(dealers: tuple[Dealer, ...]) -> list[_Host]:
    """The hosts listings are spread over by the "even" mix, in its tie-break order: each auction site, each
    Craigslist metro, each dealer (classic.com holds no listings)."""
    return ([_Host(s) for s in ("bat", "carsandbids", "mecum", "broadarrow")]
            + [_Host("craigslist", metro=m) for m in METROS] + [_Host("dealer", dealer=d) for d in dealers])


def _host_key(listing: SampleListing) -> tuple[str, str | None]:
    return listing.source, listing.metro or listing.dealer


# Requests a listing's page costs its host, where more than one: a Cars & Bids page is a shell whose script
# loads the listing's data from the same host (pages/carsandbids.py).
_REQUESTS_PER_PAGE = {"carsandbids": 2}


def _requests(listing: SampleListing, now: int) -> int:
    """What a listing adds to its host's count in the even mix: its page's requests, if the site shows it."""
    return _REQUESTS_PER_PAGE.get(listing.source, 1) if (listing.starts_at or 0) <= now else 0


def build_world(seed: int, listings: int, clock: int | None = None, *, dealers: int = 4, mix: str = "real") -> World:
    """A world of `listings` listings, deterministic for (seed, listings, clock, dealers, mix).

    The first listings follow a fixed scenario list so every source, every outcome and every trap
    (bad check digit, chassis number, kilometres, non-USD, the same car on two sources, live and
    not-yet-started auctions) is present as soon as there is room (about 40 listings); the rest are
    drawn at random.

    `dealers`: how many dealers the world has, the first `dealers` of the roster (`dealers.dealer_roster`:
    the four named dealers, then generated ones, each at its own host www.<slug>.example).

    `mix` decides where the listings after the scenarios go:
    - "real" (default): sources in realistic proportions (`_SOURCE_WEIGHTS`), a metro or dealer at random.
    - "even": each listing goes to the host with the fewest listings so far (the hosts: each auction site,
      each metro, each dealer; ties in that order), so that a benchmark can keep every host equally busy.
      A listing counts when the site shows it at the world's clock (`World.visible()`): one drawn to start
      later does not, so the pages a crawl finds are what is even (all listings, future ones included, are
      even only up to the phases drawn). A listing counts the requests its page costs the host: two on Cars
      & Bids (a shell and the data its script loads), one elsewhere, so what is even is the requests a crawl
      makes of each host. Outcomes and phases are drawn as in the "real" mix.
      The bound, in requests for visible listings: with m the fewest any host ends with, every host ends
      with m or m + 1 (m + 2 on Cars & Bids, whose pages come in twos), except a host the scenario prefix
      alone gave more (it is not rebalanced: after the scenarios BaT shows 11 listings, Cars & Bids 7 (14
      requests), Mecum and Broad Arrow 5, the first dealer 2, the other named dealers and the metros at most
      1, generated dealers none). So every host is within a page's requests of the others once there are
      about 14 requests per host; with fewer, those hosts stay above.

    With the defaults (4 dealers, "real") the world is exactly what it was before these options existed.
    """
    if listings < 0:
        raise ValueError("listings must be >= 0")
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {', '.join(MIXES)}, not {mix!r}")
    now = DEFAULT_CLOCK if clock is None else int(clock)
    b = _Builder(seed, now, dealer_roster(dealers))
    for make in _scenarios(b):
        if len(b.listings) >= listings:
            break
        make()
    hosts = _hosts(b.dealers)
    counts = {h.key: 0 for h in hosts}  # requests for the pages shown at the world's clock, per host
    for listing in b.listings:
        counts[_host_key(listing)] += _requests(listing, now)
    while len(b.listings) < listings:
        if mix == "even":
            host = min(hosts, key=lambda h: counts[h.key])  # min() keeps the first of equals: the fixed order
        else:
            host = _Host(_weighted(b.rng, _SOURCE_WEIGHTS))
        made = _fill(b, now, host.source, host.metro, host.dealer)
        counts[_host_key(made)] += _requests(made, now)
    b.listings = b.listings[:listings]
    b.assign_ids()
    return World(seed=seed, clock=now, cars=b.cars, listings=b.listings, dealers=b.dealers)


def _fill(b: _Builder, now: int, source: str, metro: Metro | None, dealer: Dealer | None) -> SampleListing:
    """One listing of `source` after the scenarios, its phase and outcome drawn at random; a metro or dealer
    not given is drawn too (the "real" mix). Draws in the same order as ever: worlds stay what they were."""
    rng = b.rng
    r = rng.random()
    phase = "ended" if r < 0.72 else ("live" if r < 0.9 else "future")
    if source in _OUTCOME_WEIGHTS:
        outcome = _weighted(rng, _OUTCOME_WEIGHTS[source])
        # The same car offered again: an unsold auction car comes back elsewhere.
        earlier = [l for l in b.listings[-200:] if l.outcome in ("bid_to", "no_sale") and (l.ends_at or 0) < now - 20 * DAY]
        if source == "bat" and earlier and rng.random() < 0.08:
            prev = rng.choice(earlier)
            return b.bat(prev.car, outcome, "ended", after=prev.ends_at)
        car = b.car(top_end=source == "broadarrow")
        return getattr(b, source)(car, outcome, phase)
    if source == "craigslist":
        return b.craigslist(metro if metro is not None else rng.choice(METROS), future=phase == "future")
    dealer = dealer if dealer is not None else rng.choice(b.dealers)
    sold = [l for l in b.listings[-200:] if l.outcome == "sold" and (l.ends_at or 0) < now - 25 * DAY and l.source != "dealer"]
    if sold and rng.random() < 0.1:
        prev = rng.choice(sold)
        return b.dealer(dataclasses.replace(prev.car, location=dealer.location), dealer, after=prev.ends_at)
    return b.dealer(b.car(location=dealer.location), dealer, future=phase == "future")


__all__ = [
    "CATALOG", "DEALERS", "DEFAULT_CLOCK", "Dealer", "METROS", "METRO_BY_CODE", "MIXES", "Metro", "SOURCES",
    "World", "build_world", "classify_vin", "vin_check_digit",
]
