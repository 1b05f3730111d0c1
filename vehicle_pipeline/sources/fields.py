"""Field parsers shared by every source: text, numbers, money, mileage, dates, VINs, titles, times.

Every function takes whatever text a page holds and returns a value or None. None of them raises on
odd input: parsers call them on untrusted page content, and "unknown" must stay unknown (None)
rather than become an exception or a guess.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from vehicle_pipeline.model import VinState

__all__ = [
    "clean_text",
    "parse_int",
    "parse_money",
    "parse_mileage",
    "parse_us_date",
    "vin_check_digit_ok",
    "vin_state",
    "normalize_vin",
    "split_title",
    "epoch_to_utc",
    "parse_iso_utc",
    "MULTI_WORD_MAKES",
]

_WS = re.compile(r"\s+")


def clean_text(s: str | None) -> str | None:
    """Unescape HTML entities, collapse whitespace (including NBSP), strip; empty → None."""
    if s is None:
        return None
    if not isinstance(s, str):
        s = str(s)
    if "&" in s:
        # Titles are sometimes double-escaped ("&amp;#038;"); two rounds settle both forms.
        s = html.unescape(s)
        if "&" in s:
            s = html.unescape(s)
    if "\u200b" in s or "\ufeff" in s:
        s = s.replace("\u200b", "").replace("\ufeff", "")
    s = " ".join(s.split())
    return s or None


# A number as written on pages: digits with optional thousands separators and a decimal part.
_NUMBER = re.compile(
    r"\d{1,3}(?:([,.'\u2019\u00a0\u202f ])\d{3}(?!\d))(?:\1\d{3}(?!\d))*(?:[.,]\d+(?![.,]?\d))?"
    r"|\d+(?:[.,]\d+)?"
)


def _to_decimal(token: str) -> Decimal | None:
    """'137,000' / '85.000' / '1.234,56' / '1,234.56' / '1 234' → Decimal, resolving which mark is decimal."""
    t = token.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "").replace("\u2019", "")
    if not t:
        return None
    has_dot, has_comma = "." in t, "," in t
    if has_dot and has_comma:
        # Whichever mark comes last is the decimal mark ("1.234,56" Europe, "1,234.56" US).
        dec = "." if t.rfind(".") > t.rfind(",") else ","
        thou = "," if dec == "." else "."
        t = t.replace(thou, "")
        if t.count(dec) > 1:
            return None
        t = t.replace(dec, ".")
    elif has_dot or has_comma:
        mark = "." if has_dot else ","
        parts = t.split(mark)
        if len(parts) > 2:
            # Repeated mark can only be a thousands separator ("1.234.567").
            if all(len(p) == 3 for p in parts[1:]):
                t = "".join(parts)
            else:
                return None
        else:
            head, tail = parts
            # "85.000" / "137,000" group thousands; "1.5" / "12,50" are decimals.
            if len(tail) == 3 and head and head != "0":
                t = head + tail
            else:
                t = head + "." + tail
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


def parse_int(text) -> int | None:
    """First integer in the text: '12,193 views' → 12193, '42' → 42, 42 → 42. Decimals are truncated."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        return int(text) if text == text and abs(text) != float("inf") else None
    if not isinstance(text, str):
        text = str(text)
    m = _NUMBER.search(text)
    if not m:
        return None
    value = _to_decimal(m.group(0))
    if value is None:
        return None
    return int(value)


# Currency markers, longest first so "CA$" wins over "$" and "CHF" over nothing.
_CURRENCY_CODES = (
    "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "NZD", "JPY", "SEK", "NOK", "DKK", "HKD", "SGD", "AED", "ZAR",
    "MXN", "CNY", "PLN", "CZK",
)
_CURRENCY_SYMBOLS = (
    ("US$", "USD"), ("CA$", "CAD"), ("C$", "CAD"), ("AU$", "AUD"), ("A$", "AUD"), ("NZ$", "NZD"),
    ("HK$", "HKD"), ("S$", "SGD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₹", "INR"), ("Fr.", "CHF"),
)
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD"})
_CODE_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(_CURRENCY_CODES) + r")(?![A-Za-z])")
_MULTIPLIER = re.compile(r"\s?([kKmM])(?![A-Za-z])")
_ZERO_DECIMAL = frozenset({"JPY"})
# A number token `_to_decimal` reads as a whole number: digits, or digits grouped by commas (a group
# starting with 0, "0,123", is a decimal there). At most 18 digits, so that even times a million it stays
# inside Decimal's 28-digit context, where the general path would give up.
_PLAIN_INT = re.compile(r"[1-9]\d{0,2}(?:,\d{3}){1,5}|\d{1,18}")
# "$1,234" / "$5995" and nothing else (no code, no other symbol, no decimals, no k/M): that whole number
# of the default dollar currency, as the general path reads it.
_PLAIN_DOLLARS = re.compile(r"\$([1-9]\d{0,2}(?:,\d{3}){1,5}|\d{1,18})")


# No letter and no "$": none of the codes or symbols below can be in the text (a bare JSON price).
_NO_MARK = re.compile(r"[^A-Za-z$]*")


def _currency_of(text: str, default_currency: str) -> str:
    if text.isascii() and _NO_MARK.fullmatch(text):
        return default_currency
    m = _CODE_RE.search(text.upper())
    if m:
        return m.group(1)
    for symbol, code in _CURRENCY_SYMBOLS:
        if symbol in text:
            return code
    if "$" in text:
        return default_currency if default_currency in _DOLLAR_CURRENCIES else "USD"
    return default_currency


def parse_money(text: str | None, default_currency: str = "USD") -> tuple[int, str] | None:
    """'USD $137,000' → (137000, 'USD'); '€85.000' → (85000, 'EUR'); '$45k' → (45000, 'USD').

    Amounts are whole units of the currency, rounded half up ('$1,234.50' → 1235).
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        return (text, default_currency) if text >= 0 else None
    if isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")) or text < 0:
            return None
        text = repr(text)
    if not isinstance(text, str):
        return None
    if text.isdigit() and text.isascii() and len(text) <= 18:
        return int(text), default_currency  # a bare whole number (data-price="45995"): what the path below gives
    plain = _PLAIN_DOLLARS.fullmatch(text)
    if plain:
        return int(plain.group(1).replace(",", "")), (
            default_currency if default_currency in _DOLLAR_CURRENCIES else "USD"
        )
    m = _NUMBER.search(text)
    if not m:
        return None
    token = m.group(0)
    if _PLAIN_INT.fullmatch(token):
        # a whole number: what the Decimal path below yields, without it (up to 18 digits, times k/M)
        amount = int(token.replace(",", ""))
        mult = _MULTIPLIER.match(text, m.end())
        if mult:
            amount *= 1000 if mult.group(1) in "kK" else 1_000_000
        return amount, _currency_of(text, default_currency)
    value = _to_decimal(token)
    if value is None:
        return None
    mult = _MULTIPLIER.match(text, m.end())
    if mult:
        value *= 1000 if mult.group(1) in "kK" else 1_000_000
    try:
        amount = int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None
    return amount, _currency_of(text, default_currency)


_MILEAGE_TAIL = re.compile(r"\s?(?P<k>[kK](?![a-zA-Z]))?[\s-]*(?P<unit>[A-Za-z]+)?")


def parse_mileage(text: str | None) -> tuple[int, str] | None:
    """'6k Miles' → (6000, 'mi'); '35k-Kilometer' → (35000, 'km'); '94,000 km'; '19611 SMI'; 'TMU' → None.

    A bare number is miles (US sites). A number followed by a unit that is not a distance (hours,
    liters) is not a mileage.
    """
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int):
        return (text, "mi") if text >= 0 else None
    if not isinstance(text, str):
        return None
    m = _NUMBER.search(text)
    if not m:
        return None
    value = _to_decimal(m.group(0))
    if value is None:
        return None
    tail = _MILEAGE_TAIL.match(text, m.end())
    if tail.group("k"):
        value *= 1000
    unit_word = (tail.group("unit") or "").lower()
    if unit_word.startswith(("km", "kilom")):
        unit = "km"
    elif unit_word == "" or unit_word.startswith(("mi", "smi", "mile")):
        unit = "mi"
    else:
        return None
    try:
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP)), unit
    except InvalidOperation:
        return None


_US_DATE = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?!\d)")


def parse_us_date(text) -> date | None:
    """'12/24/25' → 2025-12-24; '4/20/2026'; '04/20/2026'. Month first, as US sites write it."""
    if text is None or not isinstance(text, str):
        return None
    m = _US_DATE.search(text)
    if not m:
        return None
    month, day, year = int(m.group(1)), int(m.group(2)), m.group(3)
    y = int(year)
    if len(year) == 2:
        y += 2000 if y < 70 else 1900
    try:
        return date(y, month, day)
    except ValueError:
        return None


_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalize_vin(s) -> str | None:
    """Upper case without spaces/dashes; empty → None."""
    if s is None or not isinstance(s, str):
        return None
    v = _VIN_SEPARATORS.sub("", html.unescape(s)).upper()
    return v or None


def vin_check_digit_ok(vin: str) -> bool:
    """The ISO 3779 / 49 CFR 565 check digit (position 9) of a 17-char VIN holds."""
    if not isinstance(vin, str) or len(vin) != 17:
        return False
    vin = vin.upper()
    try:
        total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS))
    except KeyError:
        return False
    expected = total % 11
    return vin[8] == ("X" if expected == 10 else str(expected))


def vin_state(vin: str | None, year: int | None = None) -> VinState | None:
    """valid / bad_check_digit / not_applicable (see DESIGN.md 'VIN state'); None when there is no VIN."""
    v = normalize_vin(vin)
    if v is None:
        return None
    if len(v) != 17:
        return VinState.NOT_APPLICABLE  # pre-1981 chassis/serial numbers have no standard form
    if vin_check_digit_ok(v):
        return VinState.VALID
    if year is not None and year < 1981:
        return VinState.NOT_APPLICABLE
    # Only North-American VINs (WMI 1-5) must carry the check digit; Europe and Asia do not use it.
    if v[0] in "12345":
        return VinState.BAD_CHECK_DIGIT
    return VinState.NOT_APPLICABLE


# Canonical spellings; the key is the lower-case form with spaces for hyphens.
MULTI_WORD_MAKES = {
    "mercedes benz": "Mercedes-Benz",
    "mercedes amg": "Mercedes-AMG",
    "land rover": "Land Rover",
    "alfa romeo": "Alfa Romeo",
    "aston martin": "Aston Martin",
    "rolls royce": "Rolls-Royce",
    "austin healey": "Austin-Healey",
    "de tomaso": "De Tomaso",
    "de lorean": "DeLorean",
    "am general": "AM General",
    "american motors": "American Motors",
    "international harvester": "International Harvester",
    "harley davidson": "Harley-Davidson",
    "mercedes maybach": "Mercedes-Maybach",
    "iso rivolta": "Iso Rivolta",
    "hispano suiza": "Hispano-Suiza",
    "pierce arrow": "Pierce-Arrow",
    "willys overland": "Willys-Overland",
}
_TITLE_YEAR = re.compile(r"(?<![\w-])((?:18[89]|19\d|20[0-4])\d)(?![\w-])")
_NO_RESERVE_PREFIX = re.compile(r"^\s*no\s+reserve\s*:\s*", re.I)


def split_title(
    title: str | None, make: str | None = None
) -> tuple[int | None, str | None, str | None, str | None]:
    """(year, make, model, trim) from a listing title.

    '15k-Mile 2009 Porsche 911 Carrera 4S Coupe 6-Speed' → (2009, 'Porsche', '911', 'Carrera 4S Coupe 6-Speed').
    Anything before the model year (mileage, colour, 'No Reserve:') is dropped. Without a year the
    title is not split: (None, None, None, None). When the page states the make (a chip, a JSON
    field), pass it as `make`: it is matched after the year, whatever its number of words.
    """
    t = clean_text(title) if isinstance(title, str) else None
    if not t:
        return None, None, None, None
    t = _NO_RESERVE_PREFIX.sub("", t)
    m = _TITLE_YEAR.search(t)
    if not m:
        return None, None, None, None
    year = int(m.group(1))
    words = t[m.end():].split()
    if not words:
        return year, None, None, None
    known = clean_text(make) if isinstance(make, str) else None
    make = None
    used = 0
    if known:
        n = len(known.split())
        norm = known.lower().replace("-", " ")
        for size in {n, len(norm.split())}:
            if " ".join(words[:size]).lower().replace("-", " ") == norm:
                make, used = known, size
                break
    if make is None and len(words) >= 2:
        key = (words[0] + " " + words[1]).lower().replace("-", " ")
        if key in MULTI_WORD_MAKES:
            make, used = MULTI_WORD_MAKES[key], 2
    if make is None:
        key = words[0].lower().replace("-", " ")
        if key in MULTI_WORD_MAKES:  # "Mercedes-Benz" written as one hyphenated word
            make = MULTI_WORD_MAKES[key]
        else:
            make = words[0]
        used = 1
    rest = words[used:]
    model = rest[0] if rest else None
    trim = " ".join(rest[1:]) or None
    # A stated make spelled differently in the title ("VW" for Volkswagen) still names the make.
    return year, known or make, model, trim


def epoch_to_utc(value) -> datetime | None:
    """Unix seconds (or milliseconds) as int/float/str → aware UTC datetime; junk → None."""
    if value is None or isinstance(value, bool):
        return None
    if value.__class__ is int and 0 < value <= 100_000_000_000:
        # whole seconds, as the APIs send them: what the float round trip below gives for them
        return datetime.fromtimestamp(value, tz=timezone.utc)
    try:
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"\d{1,16}(?:\.\d+)?", value):
                return None
            value = float(value)
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if seconds != seconds or seconds <= 0:
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(int(seconds), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


_fromisoformat = datetime.fromisoformat
_ISO = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$",
    re.I,
)


def parse_iso_utc(s, assume_utc: bool = False) -> datetime | None:
    """'2022-04-27T19:38:00.000+00:00' / '…Z' → aware UTC datetime.

    A time without an offset is unknown-zone and gives None, unless the caller knows it is UTC
    (`assume_utc=True`, e.g. an API documented to speak UTC).
    """
    if not isinstance(s, str):
        return None
    if s.endswith("+00:00"):
        # The form APIs send (C&B writes it on every list item): a UTC datetime needs no conversion.
        try:
            dt = _fromisoformat(s)
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is timezone.utc:
            return dt
    if len(s) >= 20 and s[10:11] == "T" and s[-1] == "Z" or s[-6:-5] in ("+", "-") and s[-3:-2] == ":":
        # Fast path for the common API forms ("…Z", "…+00:00"); anything odd falls through to the regex.
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is not None:
            try:
                return dt.astimezone(timezone.utc)
            except (OverflowError, ValueError):
                return None
    m = _ISO.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0), micro)
    except ValueError:
        return None
    if tz is None:
        if not assume_utc:
            return None
        return dt.replace(tzinfo=timezone.utc)
    if tz.upper() == "Z":
        return dt.replace(tzinfo=timezone.utc)
    sign = 1 if tz[0] == "+" else -1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    from datetime import timedelta

    offset = timedelta(hours=hours, minutes=minutes) * sign
    try:
        return (dt - offset).replace(tzinfo=timezone.utc)
    except OverflowError:
        return None
