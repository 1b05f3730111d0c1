"""Model families: one name for one car across sources, whatever each site calls it.

BaT groups a 997 as "Porsche 997 911 Carrera 4S", another site says "911 Carrera", a title says "2009 Porsche
911 Carrera 4S Coupe": all three are make "Porsche", family "911", with the generation ("997") and the trim
("Carrera 4S Coupe") kept beside it. Comps group by (make, family, year band), so every rule that decides a
family lives here, in data tables a reader can extend, and nowhere else.

Pure: no Dagster, no database. `family_of(make, model, trim, title)` takes what a vehicle record holds (any of
it may be missing) and returns a `Family`, or None when there is no car to name (a set of wheels, literature).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vehicle_pipeline.sources.fields import MULTI_WORD_MAKES, clean_text, split_title


@dataclass(frozen=True)
class Family:
    make: str
    family: str
    generation: str | None = None  # a chassis or generation code the name carried ("997", "E46", "FJ40")
    trim: str | None = None  # the rest of the name, as the source wrote it ("Carrera 4S Coupe")


def _key(text: str) -> str:
    """Spelling-insensitive lookup key: lower case, no hyphens, spaces or dots ("MX-5" = "mx5" = "Mx 5")."""
    return re.sub(r"[\s\-.]+", "", text.lower())


# Other spellings of a make.
_MAKE_ALIASES = {
    "vw": "Volkswagen", "volkswagon": "Volkswagen", "chevy": "Chevrolet", "mercedes": "Mercedes-Benz",
    "benz": "Mercedes-Benz", "mb": "Mercedes-Benz", "mazdaspeed": "Mazda", "alfa": "Alfa Romeo",
    "landrover": "Land Rover", "rangerover": "Land Rover", "astonmartin": "Aston Martin", "rollsroyce": "Rolls-Royce",
    "austinhealey": "Austin-Healey", "mercedesbenz": "Mercedes-Benz", "mercedesamg": "Mercedes-AMG",
    "delorean": "DeLorean",
}
# Sub-brands whose cars belong to the parent make's families ("Mercedes-AMG E63" is an E-Class).
_PARENT_MAKE = {"Mercedes-AMG": "Mercedes-Benz", "Mercedes-Maybach": "Mercedes-Benz"}
# The trim a sub-brand spelling leaves behind ("Mazdaspeed MX-5 Miata": trim "Mazdaspeed").
_MAKE_AS_TRIM = {"mazdaspeed": "Mazdaspeed"}

_KNOWN_MAKES = {_key(m): m for m in (
    "Acura", "Alfa Romeo", "AMC", "Aston Martin", "Audi", "Austin", "Austin-Healey", "Bentley", "BMW", "Bugatti",
    "Buick", "Cadillac", "Chevrolet", "Chrysler", "Citroen", "Datsun", "Daihatsu", "DeLorean", "De Tomaso", "Dodge",
    "Ducati", "Ferrari", "Fiat", "Ford", "GMC", "Harley-Davidson", "Honda", "Hummer", "Infiniti", "International",
    "International Harvester", "Isuzu", "Jaguar", "Jeep", "Kawasaki", "Lamborghini", "Lancia", "Land Rover",
    "Lexus", "Lincoln", "Lotus", "Maserati", "Mazda", "McLaren", "Mercedes-Benz", "Mercedes-AMG", "Mercury", "MG",
    "Mini", "Mitsubishi", "Nissan", "Oldsmobile", "Opel", "Packard", "Peugeot", "Plymouth", "Pontiac", "Porsche",
    "Ram", "Range Rover", "Renault", "Rivian", "Rolls-Royce", "Saab", "Saturn", "Shelby", "Smart", "Studebaker",
    "Subaru", "Sunbeam", "Suzuki", "Tesla", "Toyota", "Triumph", "TVR", "Volkswagen", "Volvo", "Willys", "Yamaha",
    *MULTI_WORD_MAKES.values())}
_KNOWN_MAKES.update({k: v for k, v in _MAKE_ALIASES.items()})


def canonical_make(make: str | None) -> str | None:
    """The one spelling of a make: "VW" → "Volkswagen", "PORSCHE" → "Porsche", "mercedes benz" →
    "Mercedes-Benz"."""
    make = clean_text(make) if isinstance(make, str) else None
    if not make:
        return None
    key = _key(make)
    if key in _KNOWN_MAKES:
        return _KNOWN_MAKES[key]
    return _casing(make)


def _casing(word: str) -> str:
    """A name shouted or whispered ("MUSTANG", "tacoma") in the casing sites use; short all-caps names
    ("GTO", "BMW") and mixed case ("4Runner", "GT3") stay as written."""
    if word.isupper() and len(word) > 3 and word.isalpha():
        return word.capitalize()
    if word.islower() and word.isalpha():
        return word.capitalize()
    return word


# Per make: family names in their canonical spelling, keyed by every spelling sites use. A model not listed keeps
# its own (first) word as its family: that is right for most cars ("Mustang", "Bronco", "Cayenne").
_FAMILY_SPELLINGS: dict[str, dict[str, str]] = {
    "Mazda": {"mx5": "MX-5 Miata", "miata": "MX-5 Miata", "mx5miata": "MX-5 Miata", "rx7": "RX-7", "rx8": "RX-8"},
    "Ford": {"f150": "F-150", "f250": "F-250", "f350": "F-350", "f100": "F-100"},
    "Chevrolet": {"c10": "C10", "k10": "K10", "chevyii": "Nova", "ii": "Nova"},
    "Porsche": {"carreragt": "Carrera GT"},
    "Toyota": {"landcruiser": "Land Cruiser", "fj": "Land Cruiser"},
    "Land Rover": {"rangerover": "Range Rover"},
    "Mercedes-Benz": {"gwagen": "G-Class", "gwagon": "G-Class", "gclass": "G-Class"},
    "DeLorean": {"dmc": "DMC-12", "dmc12": "DMC-12"},
}
# Names of two words: matched before the single-word rules.
_TWO_WORD_FAMILIES = {
    "Toyota": {"landcruiser"}, "Land Rover": {"rangerover"}, "Porsche": {"carreragt"},
    "Chevrolet": {"montecarlo", "elcamino", "chevyii"}, "Ford": {"modela", "modelt"}, "Jeep": {"grandcherokee",
                                                                                                "grandwagoneer"},
    "Tesla": {"models", "model3", "modelx", "modely"},
}

# Generation or chassis codes written before (or instead of) the family name. The code is kept as `generation`.
_GENERATIONS: dict[str, list[tuple[re.Pattern, str | None]]] = {
    # 911 generations; a code alone ("997 Carrera S", "930 Turbo") still names a 911.
    "Porsche": [(re.compile(r"^(901|930|964|993|996|997|991|992)$"), "911"),
                # 718 / 981 / 982 / 986 / 987 are Boxster and Cayman generations: the next word names which
                (re.compile(r"^(718|981|982|986|987)$"), None)],
    "BMW": [(re.compile(r"^([EFG]\d{2})$", re.I), None)],
    "Mercedes-Benz": [(re.compile(r"^([WRCX]\d{3})$", re.I), None)],
    "Chevrolet": [(re.compile(r"^(C[1-8])$"), "Corvette")],
    # FJ40, FJ60, FJ62, FJ80, HJ60...: Land Cruiser series
    "Toyota": [(re.compile(r"^([FHB]J\d{2})$", re.I), "Land Cruiser")],
}
# A family name with its variant glued on: "911SC" is a 911 SC, "2002tii" a 2002 tii.
_GLUED = {"Porsche": re.compile(r"^(911|912|914|924|928|944|968|356)([A-Za-z].*)$"),
          "BMW": re.compile(r"^(2002)([A-Za-z].*)$")}
# Numbered models that belong to a named family: BMW's "325i" is a 3 Series, Mercedes's "SL500" an SL.
_NUMBERED: dict[str, list[tuple[re.Pattern, str]]] = {
    "BMW": [(re.compile(r"^([1-8])\d{2}(?:[a-z]{1,3})?$"), r"\1 Series")],
    "Mercedes-Benz": [(re.compile(r"^(?:\d{3})?(SLK|SLS|SLR|SLC|SL)(?:\d{2,3})?$", re.I), "SL"),
                      (re.compile(r"^G(?:\d{2,3})$", re.I), "G-Class"),
                      (re.compile(r"^([CES])(?:\d{2,3})$", re.I), r"\1-Class"),
                      (re.compile(r"^(CLK|CLS|CL|ML|GL|GLE|GLS)(?:\d{2,3})$", re.I), r"\1-Class")],
}
# A BMW "3 Series" / "3-Series" written out.
_SERIES = re.compile(r"^([1-8])[\s-]?series$", re.I)
# Models that name their make when a title leaves the make out ("2007 MX-5 Miata", "2018 TACOMA").
_MODEL_MAKES = {"mx5": "Mazda", "miata": "Mazda", "tacoma": "Toyota", "4runner": "Toyota", "corvette": "Chevrolet",
                "mustang": "Ford", "bronco": "Ford", "wrangler": "Jeep", "camaro": "Chevrolet", "911": "Porsche",
                "landcruiser": "Toyota", "defender": "Land Rover", "supra": "Toyota"}


def family_of(make: str | None = None, model: str | None = None, trim: str | None = None,
              title: str | None = None) -> Family | None:
    """The family of a vehicle from its record's make, model and trim, or from its title when those are
    missing. None when neither names a car."""
    words: list[str] = []
    if model:
        words = (clean_text(model) or "").split() + ((clean_text(trim) or "").split() if trim else [])
    if not words and title:
        _, title_make, title_model, title_trim = split_title(_year_first(title), make)
        make = make or title_make
        words = [w for w in (title_model, title_trim) if w for w in w.split()]
        if not is_make(make):  # "2007 MX-5 Miata", "2018 TACOMA - ONLY 2359 KM": the word after the year is no make
            words = ([make] if make else []) + words
            make = None
        if make is None:
            make, words = _make_from_title(title, words)
    # "Mazdaspeed MX-5 Miata": a Mazda whose trim is "Mazdaspeed"
    lead_trim = [_MAKE_AS_TRIM[_key(make)]] if make and _key(make) in _MAKE_AS_TRIM else []
    make = canonical_make(make)
    if not make or not words:
        return None
    return _family_from_words(make, words, lead_trim)


_TRAILING_YEAR = re.compile(r"^(?P<name>.+?)\s+(?P<year>(?:19|20)\d{2})\s*$")


def _year_first(title: str) -> str:
    """Classified titles put the year last ("Mazda Miata 1992"); titles are split with the year first."""
    m = _TRAILING_YEAR.match(title.strip())
    return f"{m['year']} {m['name']}" if m else title


def is_make(word: str | None) -> bool:
    """Whether a word (or two: "Alfa Romeo") names a make, in any spelling."""
    return bool(word) and _key(word) in _KNOWN_MAKES


def make_of_model(word: str) -> str | None:
    """The make a model name implies on its own ("Miata" → Mazda), for text that leaves the make out."""
    return _MODEL_MAKES.get(_key(word))


def same_name(a: str, b: str) -> bool:
    """Two spellings of one name ("MX-5" and "mx5")."""
    return _key(a) == _key(b)


def _make_from_title(title: str, words: list[str]) -> tuple[str | None, list[str]]:
    """A title whose make is not where titles put it: a known make anywhere in it, else a model that names one."""
    all_words = (clean_text(title) or "").split()
    for word in all_words:
        if is_make(word) and word.lower() not in ("ram", "mini"):  # too common as plain words
            rest = [w for w in words if _key(w) != _key(word)]
            found = _MODEL_MAKES.get(_key(rest[0])) if rest else None
            if found is None and rest:
                # the model comes after the make in the title ("Tacoma Double Cab - 2013 ... Toyota Truck")
                known = [w for w in all_words if _key(w) in _MODEL_MAKES]
                if known:
                    return _MODEL_MAKES[_key(known[0])], known[:1] + [w for w in rest if w not in known[:1]]
            return word, rest
    for i, word in enumerate(all_words):
        if _key(word) in _MODEL_MAKES:
            return _MODEL_MAKES[_key(word)], all_words[i:i + 1] + [w for w in words if _key(w) != _key(word)]
    return None, words


def _family_from_words(make: str, words: list[str], extra_trim: list[str]) -> Family:
    parent = _PARENT_MAKE.get(make)
    if parent:
        extra_trim.append("AMG" if make == "Mercedes-AMG" else make)
        make = parent
    # A site's model field sometimes repeats the make ("Porsche 997 911 Carrera 4S").
    while words and _key(words[0]) in (_key(make),) + tuple(k for k, v in _KNOWN_MAKES.items() if v == make):
        if _key(words[0]) in _MAKE_AS_TRIM:
            extra_trim.append(_MAKE_AS_TRIM[_key(words[0])])
        words = words[1:]
    if not words:
        return Family(make, make, None, " ".join(extra_trim) or None)
    generation = None
    for pattern, family in _GENERATIONS.get(make, ()):
        if pattern.match(words[0]):
            generation, words = words[0], words[1:]
            if family and (not words or _key(words[0]) != _key(family)):
                return _build(make, family, generation, words, extra_trim)
            break
    if not words:
        return Family(make, generation or make, None, " ".join(extra_trim) or None)
    two = _key(" ".join(words[:2])) if len(words) >= 2 else None
    if two and two in _TWO_WORD_FAMILIES.get(make, ()):
        spelled = _FAMILY_SPELLINGS.get(make, {}).get(two) or " ".join(_casing(w) for w in words[:2])
        return _build(make, spelled, generation, words[2:], extra_trim)
    first = words[0]
    if len(words) >= 2 and _SERIES.match(" ".join(words[:2])):
        return _build(make, f"{_SERIES.match(' '.join(words[:2])).group(1)} Series", generation, words[2:], extra_trim)
    if _SERIES.match(first):
        return _build(make, f"{_SERIES.match(first).group(1)} Series", generation, words[1:], extra_trim)
    glued = _GLUED.get(make)
    if glued and (m := glued.match(first)):
        return _build(make, m.group(1), generation, [m.group(2)] + words[1:], extra_trim)
    for pattern, family in _NUMBERED.get(make, ()):
        if m := pattern.match(first):
            name = m.expand(family)
            if name.endswith("-Class"):
                name = name[:-len("-Class")].upper() + "-Class"
            return _build(make, name, generation, words, extra_trim)
    key = _key(first)
    spelled = _FAMILY_SPELLINGS.get(make, {})
    if key in spelled:
        rest = words[1:]
        # "MX-5 Miata" / "Miata MX-5" / "Chevy II Nova": another spelling of the same family is not trim
        while rest and (spelled.get(_key(rest[0])) == spelled[key] or _key(rest[0]) == _key(spelled[key])):
            rest = rest[1:]
        return _build(make, spelled[key], generation, rest, extra_trim)
    if make == "Porsche" and key == "carrera":  # "911 Carrera" with the 911 left out
        return _build(make, "911", generation, words, extra_trim)
    return _build(make, _casing(first), generation, words[1:], extra_trim)


def _build(make: str, family: str, generation: str | None, rest: list[str], extra_trim: list[str]) -> Family:
    trim = " ".join(extra_trim + rest) or None
    return Family(make, family, generation, trim)


def year_band(year: int | None, width: int = 5) -> str | None:
    """The comps' year band: five model years, "2005-2009"."""
    if year is None:
        return None
    start = year - year % width
    return f"{start}-{start + width - 1}"


__all__ = ["Family", "canonical_make", "family_of", "is_make", "make_of_model", "same_name", "year_band"]
