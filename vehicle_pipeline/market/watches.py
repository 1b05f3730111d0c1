"""Saved searches that alert: each new match (a new listing, a price drop, an auction's result) posted once.

A match is read from the listing observations (every fetch that saw a change appends one, store/records.py):
a listing's first observation is "new", an asking price below the one before is a "price drop", an ended
outcome is a "result". What was posted is kept in `saved_search_posts`, written only after the webhook took
the post, so a restart never posts twice and a post that failed is tried again on the next tick. A search
matches what is observed after it was saved (`since_observation`), not the whole history.

Each tick reads only the observations it has not read (a `WatchCursor`, kept as the sensor's cursor): those
after the last id read, plus the few ids below it it must look at again. Ids are handed out when a row is
inserted, not when its transaction commits, so a drain's batch still open when a tick reads is a gap that
becomes visible later: gaps are read again until they appear or an hour has passed (a rolled-back insert never
appears). A match whose post failed is read again on the next tick too.

A price bound is in a currency (`max_price_currency`, default USD): only listings priced in that currency are
compared with it, never a converted price.

Families decide make and model (`families.family_of`), so "--model 911" matches a "997 911 Carrera 4S".
Plain Python over psycopg: no Dagster. The sensor in defs/market.py calls `post_matches`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
    max_price_currency: str | None = None  # set exactly when max_price is


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


_COLUMNS = "id, name, make, model, year_min, year_max, max_price, sources, since_observation, max_price_currency"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
DEFAULT_CURRENCY = "USD"


def add_watch(conn, name: str, *, make: str | None = None, model: str | None = None, years: str | None = None,
              max_price: int | None = None, currency: str | None = None,
              source_names: list[str] | None = None) -> SavedSearch:
    """Save a search; it matches what is observed from now on. `max_price` is in `currency` (default USD)."""
    name = (name or "").strip()
    if not name:
        raise WatchError("a saved search needs a name")
    if not (make or model):
        raise WatchError("a saved search needs --make or --model")
    if max_price is not None and max_price < 0:
        raise WatchError(f"--max-price {max_price}: must not be negative")
    if currency is not None and max_price is None:
        raise WatchError(f"--currency {currency}: is the currency of --max-price, which is not given")
    if max_price is not None:
        currency = (currency or DEFAULT_CURRENCY).strip().upper()
        if not _CURRENCY.match(currency):
            raise WatchError(f"--currency {currency!r}: expected an ISO code such as USD, EUR, GBP")
    for source in source_names or ():
        if sources.family(source) not in sources.SOURCE_NAMES:
            raise WatchError(f"unknown source {source!r}; known: {', '.join(sources.SOURCE_NAMES)}")
    year_min, year_max = parse_years(years)
    row = conn.execute(
        f"""INSERT INTO saved_searches (name, make, model, year_min, year_max, max_price, max_price_currency,
                                        sources, since_observation)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, (SELECT coalesce(max(id), 0) FROM listing_observations))
            ON CONFLICT (name) DO NOTHING
            RETURNING {_COLUMNS}""",
        (name, make, model, year_min, year_max, max_price, currency, source_names or None)).fetchone()
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
    observation_id: int = 0  # the observation that made it (read again when its post fails)


GAP_WAIT = 3600.0  # seconds an id missing below the last one read is looked for again


@dataclass
class WatchCursor:
    """What the saved-search ticks have read of `listing_observations`: every id up to `after`, except the
    `gaps` ((first id, last id, when first missed, epoch seconds): not visible when read) and the `retry` ids
    (observations whose match the webhook did not take). `after` None: nothing read yet."""

    after: int | None = None
    gaps: list[tuple[int, int, float]] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)

    def ranges(self) -> list[tuple[int, int]]:
        """The id ranges below `after` to read again."""
        return [(lo, hi) for lo, hi, _ in self.gaps] + [(i, i) for i in self.retry]

    def to_json(self) -> str:
        return json.dumps({"after": self.after, "gaps": [list(g) for g in self.gaps], "retry": self.retry})

    @classmethod
    def from_json(cls, text: str | None) -> "WatchCursor":
        """The cursor a tick stored; an empty or unreadable one starts over (posts are never repeated: they are
        recorded in saved_search_posts)."""
        try:
            data = json.loads(text or "")
            return cls(after=None if data["after"] is None else int(data["after"]),
                       gaps=[(int(lo), int(hi), float(t)) for lo, hi, t in data.get("gaps", [])],
                       retry=[int(i) for i in data.get("retry", [])])
        except (ValueError, TypeError, KeyError):
            return cls()

    def advanced(self, start: int, read: Iterable[int], failed: Iterable[int], now: float) -> "WatchCursor":
        """The cursor after a tick that read from `start` (the ids above it and this cursor's ranges) and saw
        the ids `read`, whose matches in `failed` were not posted."""
        seen = set(read)
        top = max([start, *seen])
        # still missing: the old gaps' ids not seen (until they are GAP_WAIT old), and the new ids skipped
        missing = [(i, t) for lo, hi, t in self.gaps if now - t < GAP_WAIT for i in range(lo, hi + 1) if i not in seen]
        missing += [(i, now) for i in range(start + 1, top) if i not in seen]
        return WatchCursor(after=top, gaps=_as_ranges(sorted(missing)), retry=sorted(set(failed)))


def _as_ranges(missing: list[tuple[int, float]]) -> list[tuple[int, int, float]]:
    """Consecutive ids missed at one time as one (first, last, time) range."""
    out: list[tuple[int, int, float]] = []
    for i, t in missing:
        if out and out[-1][1] == i - 1 and out[-1][2] == t:
            out[-1] = (out[-1][0], i, t)
        else:
            out.append((i, i, t))
    return out


# The observations to read (above `after`, and the ranges below it to read again), each with the price of the
# observation before it and its place in its listing's history: those are read over the listing's whole history.
_OBSERVATIONS_SQL = """
WITH fresh AS (
    SELECT id, listing_id FROM listing_observations WHERE id > %(after)s
    UNION
    SELECT o.id, o.listing_id
    FROM unnest(%(lo)s::bigint[], %(hi)s::bigint[]) AS r(lo, hi)
    JOIN listing_observations o ON o.id BETWEEN r.lo AND r.hi)
SELECT * FROM (
    SELECT o.id, o.listing_id, o.outcome, o.price, o.currency, o.observed_at,
           lag(o.price) OVER w AS previous_price, row_number() OVER w AS nth,
           l.source, l.url, l.title, v.year, v.make, v.model, v.trim
    FROM listing_observations o
    JOIN listings l ON l.id = o.listing_id
    LEFT JOIN vehicles v ON v.id = l.vehicle_id
    WHERE o.listing_id IN (SELECT listing_id FROM fresh)
    WINDOW w AS (PARTITION BY o.listing_id ORDER BY o.observed_at, o.id)) seen
WHERE id IN (SELECT id FROM fresh)
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
    # a bound in one currency says nothing about a price in another: such listings are not compared, and
    # not matched (converting at some rate would post cars the user did not ask for)
    if search.max_price is not None and row["price"] is not None:
        if row["currency"] != search.max_price_currency or row["price"] > search.max_price:
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


@dataclass
class Found:
    matches: list[Match]
    start: int | None  # the ids above this were read (and the cursor's ranges); None: nothing was read
    read: list[int]  # the observation ids read


def find_matches(conn, cursor: WatchCursor | None = None) -> Found:
    """Every match not posted yet among the observations `cursor` has not read (without one: all since the
    oldest search was saved), oldest first."""
    cursor = cursor or WatchCursor()
    searches = list_watches(conn)
    if not searches:
        return Found([], None, [])
    # nothing below the oldest search's start can match (a first tick, or searches saved after a long pause)
    oldest = min(s.since_observation for s in searches)
    start = oldest if cursor.after is None else max(cursor.after, oldest)
    ranges = [(lo, hi) for lo, hi in cursor.ranges() if hi > oldest] if cursor.after is not None else []
    cur = conn.execute(_OBSERVATIONS_SQL, {"after": start, "lo": [lo for lo, _ in ranges],
                                           "hi": [hi for _, hi in ranges]})
    names = [d.name for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    found = Found([], start, [r["id"] for r in rows])
    if not rows:
        return found
    posted = set(conn.execute("SELECT search_id, listing_id, event FROM saved_search_posts WHERE listing_id = ANY (%s)",
                              (sorted({r["listing_id"] for r in rows}),)).fetchall())
    out = found.matches
    for row in rows:
        event = _event(row)
        if event is None:
            continue
        kind, key = event
        for search in searches:
            if (search.id, row["listing_id"], key) in posted or not _matches(search, row):
                continue
            posted.add((search.id, row["listing_id"], key))  # a listing observed twice posts once
            out.append(Match(search, row["listing_id"], key, _payload(search, row, kind), row["id"]))
    return found


@dataclass
class WatchReport:
    matches: int = 0
    posted: int = 0
    failed: int = 0  # left to the next tick
    observations_read: int = 0
    cursor: WatchCursor = field(default_factory=WatchCursor)  # where the next tick starts


def post_matches(db, *, post: Callable[[dict], bool] = notify.post_webhook, cursor: WatchCursor | None = None,
                 now: float | None = None) -> WatchReport:
    """Post each new match among the observations `cursor` has not read, once; a match is recorded as posted
    only after the webhook took it, and its observation is read again next time (`report.cursor`) until then."""
    cursor = cursor or WatchCursor()
    with db.connection() as conn:
        found = find_matches(conn, cursor)
    report = WatchReport(matches=len(found.matches), observations_read=len(found.read))
    failed: list[int] = []
    for match in found.matches:
        if not post(match.payload):
            report.failed += 1
            failed.append(match.observation_id)
            continue
        with db.connection() as conn:
            conn.execute(
                """INSERT INTO saved_search_posts (search_id, listing_id, event, payload)
                   VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING""",
                (match.search.id, match.listing_id, match.event, json.dumps(match.payload, default=str)))
        report.posted += 1
    if found.start is not None:
        report.cursor = cursor.advanced(found.start, found.read, failed, time.time() if now is None else now)
    else:
        report.cursor = cursor
    return report

