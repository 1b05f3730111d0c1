"""Saved searches that alert: each new match (a new listing, a price drop, an auction's result) posted once.

A match is read from the listing observations (every fetch that saw a change appends one, store/records.py):
a listing's first observation is "new", an asking price below the one before is a "price drop", an ended
outcome is a "result". What was posted is kept in `saved_search_posts`, written only after the webhook took
the post, so a restart never posts twice and a post that failed is tried again on the next tick. A search
matches what is observed after it was saved (`since_observation`), not the whole history.

Families decide make and model (`families.family_of`), so "--model 911" matches a "997 911 Carrera 4S".
Plain Python over psycopg: no Dagster. The sensor in defs/market.py calls `post_matches`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from vehicle_pipeline import notify, sources
from vehicle_pipeline.market.families import canonical_make, family_of

RESULT_OUTCOMES = ("sold", "sold_after", "bid_to", "no_sale", "withdrawn")


class WatchError(ValueError):
    """A saved search that cannot be stored as given (the message says why)."""


@dataclass(frozen=True)
class SavedSearch:
    id: int
    name: str
    make: str | None
    model: str | None
    year_min: int | None
    year_max: int | None
    max_price: Decimal | None
    sources: list[str] | None
    since_observation: int = 0


_YEARS = re.compile(r"^\s*(\d{4})\s*(?:[-–]\s*(\d{4})\s*)?$")


def parse_years(text: str | None) -> tuple[int | None, int | None]:
    """"1995-1998" → (1995, 1998); "1995" → (1995, 1995); None → (None, None)."""
    if text is None:
        return None, None
    m = _YEARS.match(text)
    if not m:
        raise WatchError(f"years {text!r}: expected YEAR or FROM-TO, e.g. 1995-1998")
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    if low > high:
        raise WatchError(f"years {text!r}: {low} is after {high}")
    return low, high


_COLUMNS = "id, name, make, model, year_min, year_max, max_price, sources, since_observation"


def add_watch(conn, name: str, *, make: str | None = None, model: str | None = None, years: str | None = None,
              max_price: int | None = None, source_names: list[str] | None = None) -> SavedSearch:
    """Save a search; it matches what is observed from now on."""
    name = (name or "").strip()
    if not name:
        raise WatchError("a saved search needs a name")
    if not (make or model):
        raise WatchError("a saved search needs --make or --model")
    if max_price is not None and max_price < 0:
        raise WatchError(f"--max-price {max_price}: must not be negative")
    for source in source_names or ():
        if sources.family(source) not in sources.SOURCE_NAMES:
            raise WatchError(f"unknown source {source!r}; known: {', '.join(sources.SOURCE_NAMES)}")
    year_min, year_max = parse_years(years)
    row = conn.execute(
        f"""INSERT INTO saved_searches (name, make, model, year_min, year_max, max_price, sources, since_observation)
            VALUES (%s, %s, %s, %s, %s, %s, %s, (SELECT coalesce(max(id), 0) FROM listing_observations))
            ON CONFLICT (name) DO NOTHING
            RETURNING {_COLUMNS}""",
        (name, make, model, year_min, year_max, max_price, source_names or None)).fetchone()
    if row is None:
        raise WatchError(f"a saved search named {name!r} exists already (remove it first)")
    return SavedSearch(*row)


def list_watches(conn) -> list[SavedSearch]:
    return [SavedSearch(*r) for r in conn.execute(f"SELECT {_COLUMNS} FROM saved_searches ORDER BY name")]


def remove_watch(conn, name: str) -> bool:
    return conn.execute("DELETE FROM saved_searches WHERE name = %s", (name,)).rowcount > 0


@dataclass(frozen=True)
class Match:
    search: SavedSearch
    listing_id: int
    event: str  # the key of what is posted once: "new", "price_drop:<price>", "result:<outcome>"
    payload: dict


# Observations since the oldest search's start, each with the price of the observation before it (of any time).
_OBSERVATIONS_SQL = """
SELECT * FROM (
    SELECT o.id, o.listing_id, o.outcome, o.price, o.currency, o.observed_at,
           lag(o.price) OVER w AS previous_price, row_number() OVER w AS nth,
           l.source, l.url, l.title, v.year, v.make, v.model, v.trim
    FROM listing_observations o
    JOIN listings l ON l.id = o.listing_id
    LEFT JOIN vehicles v ON v.id = l.vehicle_id
    WHERE o.listing_id IN (SELECT listing_id FROM listing_observations WHERE id > %(since)s)
    WINDOW w AS (PARTITION BY o.listing_id ORDER BY o.observed_at, o.id)) seen
WHERE id > %(since)s
ORDER BY id
"""


def _event(row: dict) -> tuple[str, str] | None:
    """(kind, key) of what an observation says, or None when it says nothing a search posts."""
    if row["outcome"] in RESULT_OUTCOMES:
        return "result", f"result:{row['outcome']}"
    if row["nth"] == 1:
        return "new", "new"
    # asking prices (classifieds, dealers) drop; an auction's running bid only rises
    if row["outcome"] is None and row["previous_price"] is not None and row["price"] is not None \
            and row["price"] < row["previous_price"]:
        return "price_drop", f"price_drop:{row['price']}"
    return None


def _matches(search: SavedSearch, row: dict) -> bool:
    if row["id"] <= search.since_observation:
        return False
    if search.sources and row["source"] not in search.sources \
            and sources.family(row["source"]) not in search.sources:
        return False
    year = row["year"]
    if (search.year_min is not None or search.year_max is not None) and year is None:
        return False
    if search.year_min is not None and year < search.year_min or search.year_max is not None and year > search.year_max:
        return False
    if search.max_price is not None and row["price"] is not None and row["price"] > search.max_price:
        return False
    found = family_of(row["make"], row["model"], row["trim"], row["title"])
    if found is None:
        return False
    if search.make and canonical_make(search.make) != found.make:
        return False
    if search.model:
        wanted = family_of(search.make or found.make, search.model)
        if wanted is None or wanted.family != found.family:
            return False
    return True


def _payload(search: SavedSearch, row: dict, kind: str) -> dict:
    price = None if row["price"] is None else int(row["price"])
    money = f"{price:,} {row['currency'] or ''}".strip() if price is not None else "no price"
    what = {"new": "new listing", "price_drop": "price drop", "result": f"result: {row['outcome']}"}[kind]
    if kind == "price_drop":
        money = f"{int(row['previous_price']):,} → {money}"
    title = row["title"] or row["url"]
    return {"text": f"[{search.name}] {what}: {title}, {money} {row['url']}",
            "search": search.name, "event": kind, "url": row["url"], "title": row["title"], "source": row["source"],
            "price": price, "currency": row["currency"], "outcome": row["outcome"],
            "previous_price": None if row["previous_price"] is None else int(row["previous_price"])}


def find_matches(conn) -> list[Match]:
    """Every match of every saved search not posted yet, oldest first."""
    searches = list_watches(conn)
    if not searches:
        return []
    cur = conn.execute(_OBSERVATIONS_SQL, {"since": min(s.since_observation for s in searches)})
    names = [d.name for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    posted = set(conn.execute("SELECT search_id, listing_id, event FROM saved_search_posts").fetchall())
    out: list[Match] = []
    for row in rows:
        event = _event(row)
        if event is None:
            continue
        kind, key = event
        for search in searches:
            if (search.id, row["listing_id"], key) in posted or not _matches(search, row):
                continue
            posted.add((search.id, row["listing_id"], key))  # a listing observed twice posts once
            out.append(Match(search, row["listing_id"], key, _payload(search, row, kind)))
    return out


@dataclass
class WatchReport:
    matches: int = 0
    posted: int = 0
    failed: int = 0  # left to the next tick


def post_matches(db, *, post: Callable[[dict], bool] = notify.post_webhook) -> WatchReport:
    """Post each new match once; a match is recorded as posted only after the webhook took it."""
    with db.connection() as conn:
        matches = find_matches(conn)
    report = WatchReport(matches=len(matches))
    for match in matches:
        if not post(match.payload):
            report.failed += 1
            continue
        with db.connection() as conn:
            conn.execute(
                """INSERT INTO saved_search_posts (search_id, listing_id, event, payload)
                   VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING""",
                (match.search.id, match.listing_id, match.event, json.dumps(match.payload, default=str)))
        report.posted += 1
    return report

