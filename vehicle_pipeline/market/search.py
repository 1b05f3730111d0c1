"""Comparable sales for a query ("porsche 911", "911 carrera 4s", "mazda miata"): what `vehicle-pipeline comps`
prints. Only sales (`sold`, `sold_after`) count; statistics are per currency, never across currencies.

The query names a make and/or a model family the way families.py understands them, so "911" finds a "997 911
Carrera S"; words beyond the family ("carrera 4s") must appear in the vehicle's trim or title. Plain Python.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from vehicle_pipeline.market.families import canonical_make, family_of, is_make, make_of_model, same_name


class QueryError(ValueError):
    """A query or filter that cannot be read (the message says why)."""


@dataclass(frozen=True)
class Query:
    make: str | None
    family: str | None
    words: tuple[str, ...] = ()  # beyond the family: each must appear in the trim or title


def parse_query(text: str) -> Query:
    words = (text or "").split()
    if not words:
        raise QueryError("comps needs a query, e.g. 'porsche 911' or 'mazda miata'")
    make = None
    for n in (2, 1):
        if len(words) >= n and is_make(" ".join(words[:n])):
            make, words = canonical_make(" ".join(words[:n])), words[n:]
            break
    if make is None:
        make = make_of_model(words[0])
    if not words:
        return Query(make, None)
    found = family_of(make or "-", " ".join(words))
    return Query(make, found.family, tuple(found.trim.lower().split()) if found and found.trim else ())


_SALES_SQL = """
SELECT e.ended_at, e.source, e.outcome, e.sale_price, e.currency, coalesce(v.mileage, l.mileage) AS mileage,
       coalesce(v.mileage_unit, l.mileage_unit) AS mileage_unit, l.url, l.title, v.year, v.make, v.model, v.trim
FROM auction_events e
JOIN listings l ON l.id = e.listing_id
LEFT JOIN vehicles v ON v.id = e.vehicle_id
WHERE e.outcome IN ('sold', 'sold_after') AND e.sale_price IS NOT NULL
  AND (%(year_min)s::int IS NULL OR v.year >= %(year_min)s::int)
  AND (%(year_max)s::int IS NULL OR v.year <= %(year_max)s::int)
  AND (%(since)s::date IS NULL OR e.ended_at >= %(since)s::date)
  AND (%(source)s::text IS NULL OR e.source = %(source)s::text OR split_part(e.source, ':', 1) = %(source)s::text)
ORDER BY e.ended_at DESC NULLS LAST, e.id DESC
"""


def _matches(query: Query, row: dict) -> bool:
    found = family_of(row["make"], row["model"], row["trim"], row["title"])
    if found is None:
        return False
    if query.make and found.make != query.make:
        return False
    if query.family and not same_name(found.family, query.family):
        return False
    text = " ".join(filter(None, (found.trim, row["title"]))).lower()
    return all(word in text for word in query.words)


@dataclass
class Comps:
    query: Query
    sales: list[dict] = field(default_factory=list)
    stats: dict[str, dict] = field(default_factory=dict)  # currency → count, p25, median, p75, min, max


def find_comps(conn, text: str, *, years: tuple[int | None, int | None] = (None, None), since: date | None = None,
               source: str | None = None) -> Comps:
    query = parse_query(text)
    cur = conn.execute(_SALES_SQL, {"year_min": years[0], "year_max": years[1], "since": since, "source": source})
    names = [d.name for d in cur.description]
    sales = [row for row in (dict(zip(names, r)) for r in cur.fetchall()) if _matches(query, row)]
    return Comps(query, sales, sale_stats(sales))


def sale_stats(sales: list[dict]) -> dict[str, dict]:
    """Per currency: count, quartiles by linear interpolation (as percentile_cont), min and max."""
    by_currency: dict[str, list[int]] = {}
    for sale in sales:
        by_currency.setdefault(sale["currency"], []).append(int(sale["sale_price"]))
    out = {}
    for currency, prices in sorted(by_currency.items()):
        q = statistics.quantiles(prices, n=4, method="inclusive") if len(prices) > 1 else [prices[0]] * 3
        out[currency] = {"count": len(prices), "p25": q[0], "median": q[1], "p75": q[2],
                         "min": min(prices), "max": max(prices)}
    return out
