"""How the parse contract (README, "The parse contract") states the world's facts: the stand-in's own rules.

The sample site never imports the parsers (`vehicle_pipeline.sources`) nor anything that wraps them: its
ground truth comes from the world (`world.py`) and the renderers, so a parser bug shows up at `/_truth`
as a mismatch instead of being copied into the truth. What the truth needs beyond the world's facts
(a time in the contract's spelling, an index item, where a title-only page's model ends) is written
out here, plainly.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from vehicle_pipeline.sample_site.spec import SampleCar


def iso_z(epoch: int | None) -> str | None:
    """UTC epoch seconds as the contract writes a time: ISO-8601 UTC ending in `Z`, whole seconds."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def vin(number: str | None) -> str | None:
    """A VIN or chassis number as the contract identifies it: upper case, without the spaces, dashes,
    underscores or dots a page may write in it ('AR 242811' → 'AR242811')."""
    if number is None:
        return None
    return re.sub(r"[\s\-_.]+", "", number).upper() or None


def index_item(*, url: str, external_id: str, title: str | None, outcome: str | None, price: int | None,
               ended_at: int | None, no_reserve: bool | None) -> dict:
    """One listing of an index, results or search page, as the contract's `items` hold it."""
    return {"url": url, "external_id": external_id, "title": title, "outcome": outcome, "price": price,
            "ended_at": iso_z(ended_at), "no_reserve": no_reserve}


def car_title(car: SampleCar) -> str:
    """The plain title the world gives a car: 'YEAR MAKE MODEL [TRIM]'."""
    return " ".join(p for p in (str(car.year), car.make, car.model, car.trim) if p)


def title_parts(car: SampleCar, title: str) -> tuple[int, str, str, str | None]:
    """(year, make, model, trim) of a page that states the car only in its title.

    Such a page says where the year and the make are, not where the model ends, so the contract's rule
    is: the first word after the make is the model and every word after it the trim ('15k-Mile 2009
    Porsche 911 Carrera 4S 6-Speed' → 2009, Porsche, 911, 'Carrera 4S 6-Speed'; words before the year
    are not part of it). The world built `title` around `car_title(car)`, so the parts come from the car,
    never from splitting the text the parser reads.
    """
    base = car_title(car)
    if base not in title:
        raise ValueError(f"title {title!r} does not contain the car's own title {base!r}")
    words = car.model.split() + (car.trim.split() if car.trim else []) + title.split(base, 1)[1].split()
    return car.year, car.make, words[0], " ".join(words[1:]) or None


__all__ = ["car_title", "index_item", "iso_z", "title_parts", "vin"]
