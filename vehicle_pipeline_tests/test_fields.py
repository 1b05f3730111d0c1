"""Field parsers: the rules of issue 4 §4, plus properties (any text in → a value or None, never an exception)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vehicle_pipeline.model import VinState
from vehicle_pipeline.sources.fields import (
    clean_text,
    epoch_to_utc,
    normalize_vin,
    parse_int,
    parse_iso_utc,
    parse_mileage,
    parse_money,
    parse_us_date,
    split_title,
    vin_check_digit_ok,
    vin_state,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("  Porsche&nbsp;911 &amp; more \n", "Porsche 911 & more"),
        ("1967 Ford Mustang &#8220;Eleanor&#8221;", "1967 Ford Mustang \u201cEleanor\u201d"),
        ("Fish &#038; Chips", "Fish & Chips"),
        ("Tom &amp;#038; Jerry", "Tom & Jerry"),  # double-escaped titles from BaT JSON
        ("   ", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_text(text, expected):
    assert clean_text(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("12,193 views", 12193), ("42", 42), ("Bids 42", 42), ("1,543 watchers", 1543), ("Lot #224,499", 224499),
     ("no digits", None), (None, None), ("", None), (7, 7)],
)
def test_parse_int(text, expected):
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("USD $137,000", (137000, "USD")),
        ("$439,000", (439000, "USD")),
        ("14800", (14800, "USD")),
        ("Sold for USD $10,000 on 04/20/2026", (10000, "USD")),
        ("€85,000", (85000, "EUR")),
        ("EUR 85.000", (85000, "EUR")),
        ("1.234.567 €", (1234567, "EUR")),
        ("€1.234,56", (1235, "EUR")),  # European decimal comma, rounded half up
        ("£12,500", (12500, "GBP")),
        ("GBP 12,500.00", (12500, "GBP")),
        ("CHF 1'250'000", (1250000, "CHF")),
        ("CAD $54,321", (54321, "CAD")),
        ("CA$54,321", (54321, "CAD")),
        ("AU$88,000", (88000, "AUD")),
        ("A$88,000", (88000, "AUD")),
        ("¥3,500,000", (3500000, "JPY")),
        ("$1,234.49", (1234, "USD")),
        ("$1,234.50", (1235, "USD")),
        ("$57,998.00", (57998, "USD")),
        ("$45k", (45000, "USD")),
        ("$", None),
        ("Bid to", None),
        (None, None),
    ],
)
def test_parse_money(text, expected):
    assert parse_money(text) == expected


def test_parse_money_default_currency_applies_to_bare_amounts_and_dollar_sign():
    assert parse_money("14800", default_currency="CAD") == (14800, "CAD")
    assert parse_money("$14,800", default_currency="CAD") == (14800, "CAD")
    # A euro sign is a euro whatever the default.
    assert parse_money("€9.500", default_currency="CAD") == (9500, "EUR")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("6k Miles", (6000, "mi")),
        ("15k Miles", (15000, "mi")),
        ("45k Miles Shown", (45000, "mi")),
        ("12k Miles Shown, TMU", (12000, "mi")),
        ("TMU", None),
        ("Mileage unknown", None),
        ("35k-Kilometer", (35000, "km")),
        ("35k Kilometers Shown", (35000, "km")),
        ("129,600", (129600, "mi")),
        ("94,000 km", (94000, "km")),
        ("94.000 km", (94000, "km")),
        ("19611 SMI", (19611, "mi")),
        ("1.2k miles", (1200, "mi")),
        ("62,400 Miles", (62400, "mi")),
        ("3.8-Liter Flat-Six", None),  # an engine, not a distance
        ("1,200 Hours", None),
        (None, None),
    ],
)
def test_parse_mileage(text, expected):
    assert parse_mileage(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("12/24/25", date(2025, 12, 24)),
        ("4/20/2026", date(2026, 4, 20)),
        ("04/20/2026", date(2026, 4, 20)),
        ("on 9/6/25", date(2025, 9, 6)),
        ("13/40/25", None),
        ("2/30/2024", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_us_date(text, expected):
    assert parse_us_date(text) == expected


@pytest.mark.parametrize(
    "vin,year,expected",
    [
        ("WP0AB299X9S721066", 2009, VinState.VALID),  # check digit X
        ("JT3VN39W0S0195671", 1995, VinState.VALID),
        ("2B3CJ7DJXBH569153", 2011, VinState.VALID),
        ("1B7KF23D3WJ123456", 1998, VinState.VALID),
        ("1B7KF23D4WJ123456", 1998, VinState.BAD_CHECK_DIGIT),  # North American, digit wrong
        ("1B7KF23D4WJ123456", None, VinState.BAD_CHECK_DIGIT),
        ("1B7KF23D4WJ123456", 1979, VinState.NOT_APPLICABLE),  # pre-1981: no standard
        ("WP0ZZZ99ZTS312345", 1996, VinState.NOT_APPLICABLE),  # European VIN, no check digit in use
        ("SCFAB01A5JGC12345", None, VinState.NOT_APPLICABLE),
        ("9113301234", 1973, VinState.NOT_APPLICABLE),  # short chassis number
        ("AR 10512 1234", 1960, VinState.NOT_APPLICABLE),
        ("wp0ab299x9s721066", None, VinState.VALID),
        (None, None, None),
        ("", None, None),
    ],
)
def test_vin_state(vin, year, expected):
    assert vin_state(vin, year) == expected


def test_vin_check_digit_rejects_forbidden_letters_and_wrong_length():
    assert vin_check_digit_ok("WP0AB299X9S721066")
    assert not vin_check_digit_ok("WP0AB299X9S72106")
    assert not vin_check_digit_ok("WP0AB299X9S7210O6")  # letter O is not allowed


def test_normalize_vin():
    assert normalize_vin(" wp0-ab299 x9s721066 ") == "WP0AB299X9S721066"
    assert normalize_vin("  ") is None
    assert normalize_vin(None) is None


@pytest.mark.parametrize(
    "title,expected",
    [
        ("15k-Mile 2009 Porsche 911 Carrera 4S Coupe 6-Speed", (2009, "Porsche", "911", "Carrera 4S Coupe 6-Speed")),
        ("No Reserve: 1958 GMC 9310 Stepside Pickup", (1958, "GMC", "9310", "Stepside Pickup")),
        ("1995 Toyota 4Runner SR5 4x4", (1995, "Toyota", "4Runner", "SR5 4x4")),
        ("Voodoo Blue 2018 Porsche 911 GT3 Touring 6-Speed", (2018, "Porsche", "911", "GT3 Touring 6-Speed")),
        ("1984 Mercedes-Benz 300TD", (1984, "Mercedes-Benz", "300TD", None)),
        ("2001 Mercedes Benz CLK55 AMG", (2001, "Mercedes-Benz", "CLK55", "AMG")),
        ("1967 Land Rover Series IIA 88", (1967, "Land Rover", "Series", "IIA 88")),
        ("1965 Alfa Romeo Giulia Sprint GT", (1965, "Alfa Romeo", "Giulia", "Sprint GT")),
        ("1963 Aston Martin DB5", (1963, "Aston Martin", "DB5", None)),
        ("1960 Austin-Healey 3000 BT7", (1960, "Austin-Healey", "3000", "BT7")),
        ("1972 De Tomaso Pantera", (1972, "De Tomaso", "Pantera", None)),
        ("2005 Rolls-Royce Phantom", (2005, "Rolls-Royce", "Phantom", None)),
        ("One-Owner 35k-Kilometer 1987 Toyota Supra Turbo 5-Speed", (1987, "Toyota", "Supra", "Turbo 5-Speed")),
        ("Fish &#038; Chips 2010 Lotus Exige S", (2010, "Lotus", "Exige", "S")),
        ("Porsche 911 project", (None, None, None, None)),
        ("", (None, None, None, None)),
    ],
)
def test_split_title(title, expected):
    assert split_title(title) == expected


def test_times():
    assert epoch_to_utc(1766430772) == datetime(2025, 12, 22, 19, 12, 52, tzinfo=timezone.utc)
    assert epoch_to_utc("1766430772") == epoch_to_utc(1766430772000) == epoch_to_utc(1766430772)
    assert epoch_to_utc("soon") is None and epoch_to_utc(None) is None and epoch_to_utc(-5) is None
    assert parse_iso_utc("2022-04-27T19:38:00.000+00:00") == datetime(2022, 4, 27, 19, 38, tzinfo=timezone.utc)
    assert parse_iso_utc("2022-04-27T19:38:00Z") == datetime(2022, 4, 27, 19, 38, tzinfo=timezone.utc)
    assert parse_iso_utc("2022-04-28T00:38:00+05:00") == datetime(2022, 4, 27, 19, 38, tzinfo=timezone.utc)
    # No offset means the zone is unknown: no guess unless the caller vouches for UTC.
    assert parse_iso_utc("2022-04-27T19:38:00") is None
    assert parse_iso_utc("2022-04-27T19:38:00", assume_utc=True) == datetime(2022, 4, 27, 19, 38, tzinfo=timezone.utc)
    assert parse_iso_utc("2022-13-27T19:38:00Z") is None


# ---------------------------------------------------------------- properties

ANY_TEXT = st.one_of(st.none(), st.text(max_size=80), st.text(alphabet="0123456789,.$€£¥kK mMiIlLeEsSkmUSDCHF-/':", max_size=30))


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_field_parsers_never_raise(text):
    assert clean_text(text) is None or isinstance(clean_text(text), str)
    assert parse_int(text) is None or isinstance(parse_int(text), int)
    money = parse_money(text)
    assert money is None or (isinstance(money[0], int) and money[0] >= 0 and len(money[1]) == 3)
    mileage = parse_mileage(text)
    assert mileage is None or (isinstance(mileage[0], int) and mileage[1] in ("mi", "km"))
    d = parse_us_date(text)
    assert d is None or isinstance(d, date)
    assert vin_state(text) in (None, *VinState)
    y, make, model, trim = split_title(text)
    assert y is None or 1880 <= y <= 2049
    assert epoch_to_utc(text) is None or epoch_to_utc(text).tzinfo is not None
    dt = parse_iso_utc(text)
    assert dt is None or dt.utcoffset().total_seconds() == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["USD $", "$", "€", "£", "CHF ", "CAD $", "AU$"]))
def test_money_round_trip_through_us_formatting(amount, prefix):
    currency = {"USD $": "USD", "$": "USD", "€": "EUR", "£": "GBP", "CHF ": "CHF", "CAD $": "CAD", "AU$": "AUD"}[prefix]
    assert parse_money(f"{prefix}{amount:,}") == (amount, currency)
    assert parse_money(f"{prefix}{amount:,}.00") == (amount, currency)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1000, max_value=10**9))
def test_money_round_trip_through_european_formatting(amount):
    european = f"{amount:,}".replace(",", ".")
    assert parse_money(f"EUR {european}") == (amount, "EUR")
    assert parse_money(f"{european},00 €") == (amount, "EUR")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=2_000_000), st.sampled_from([("Miles", "mi"), ("mi", "mi"), ("km", "km"), ("Kilometers", "km")]))
def test_mileage_round_trip(value, unit):
    word, code = unit
    assert parse_mileage(f"{value:,} {word}") == (value, code)
    assert parse_mileage(f"{value} {word}") == (value, code)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1970, 1, 1), max_value=date(2069, 12, 31)))
def test_us_date_round_trip(d):
    assert parse_us_date(f"{d.month}/{d.day}/{d.year}") == d
    assert parse_us_date(f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}") == d


VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=VIN_CHARS, min_size=17, max_size=17))
def test_vin_with_computed_check_digit_is_valid(vin):
    # Put the right check digit in place: exactly one of the 11 candidates must pass.
    candidates = [vin[:8] + c + vin[9:] for c in "0123456789X"]
    passing = [c for c in candidates if vin_check_digit_ok(c)]
    assert len(passing) == 1
    assert vin_state(passing[0]) == VinState.VALID
    for wrong in candidates:
        if wrong != passing[0]:
            expected = VinState.BAD_CHECK_DIGIT if wrong[0] in "12345" else VinState.NOT_APPLICABLE
            assert vin_state(wrong, 2000) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=4_000_000_000))
def test_epoch_round_trip(seconds):
    dt = epoch_to_utc(seconds)
    assert int(dt.timestamp()) == seconds
    assert parse_iso_utc(dt.isoformat()) == dt
