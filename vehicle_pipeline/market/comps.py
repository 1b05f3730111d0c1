"""Market comps and repeat sales, computed with pandas from the database into tables of their own.

Comps: per make, model family (`families`), year band, month and currency: sales (`sold`, `sold_after` only)
with their quartiles, sell-through (sales over auctions that ended, withdrawn ones left out), the median high
bid the market refused (`bid_to`: reserve not met) and the median asking price of classifieds and dealers,
each in a column of its own, never mixed into the sale figures. Currencies are never mixed: currency is part
of the key. An ended auction that states no currency at all (a `no_sale` without a bid) cannot be put in a
currency's row and is counted as `no_currency` instead.

Repeat sales: a vehicle with a valid VIN sold more than once (across sources); each sale paired with the one
before it, with the price change (one currency only) and the days held.

Plain Python: no Dagster. `refresh_market(db)` is what the daily asset runs; `compute_comps` and
`compute_repeat_sales` are pure functions over frames, so they can be checked on hand-made rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from vehicle_pipeline.market.families import family_of, year_band

SALE_OUTCOMES = ("sold", "sold_after")
# Auctions that ended with a verdict on the car: the denominator of sell-through (withdrawn ones are left out:
# the market never got to say no).
ENDED_OUTCOMES = ("sold", "sold_after", "bid_to", "no_sale")
REFUSED_OUTCOME = "bid_to"
KEY = ["make", "family", "year_band", "month", "currency"]
UNKNOWN_BAND = "unknown"

COMPS_COLUMNS = KEY + ["sold_count", "sale_p25", "sale_median", "sale_p75", "ended_count", "sell_through",
                       "refused_count", "refused_median", "asking_count", "asking_median"]
REPEAT_COLUMNS = ["vehicle_id", "vin", "make", "family", "year_band", "first_listing_id", "second_listing_id",
                  "first_source", "second_source", "first_sold_at", "second_sold_at", "first_price", "second_price",
                  "first_currency", "second_currency", "price_change", "price_change_pct", "days_held"]

# Auction events that ended (live and unknown ones say nothing about the market yet), with the vehicle they are of.
_EVENTS_SQL = """
SELECT e.listing_id, e.vehicle_id, e.source, e.outcome, e.sale_price, e.high_bid,
       coalesce(e.currency, l.currency) AS currency, extract(epoch FROM e.ended_at) AS ended_at,
       v.year, v.make, v.model, v.trim, l.title,
       v.vin, v.vin_state
FROM auction_events e
JOIN listings l ON l.id = e.listing_id
LEFT JOIN vehicles v ON v.id = e.vehicle_id
WHERE e.ended_at IS NOT NULL AND e.outcome IN ('sold', 'sold_after', 'bid_to', 'no_sale', 'withdrawn')
"""
# Asking prices of classifieds and dealer stock, by the month the car was first listed.
_ASKING_SQL = """
SELECT l.id AS listing_id, l.asking_price, l.currency, extract(epoch FROM l.first_seen_at) AS listed_at,
       v.year, v.make, v.model,
       v.trim, l.title
FROM listings l
JOIN sources s ON s.name = l.source AND s.kind IN ('classified', 'dealer')
LEFT JOIN vehicles v ON v.id = l.vehicle_id
WHERE l.asking_price IS NOT NULL AND l.currency IS NOT NULL
"""


def read_frame(conn, query: str) -> pd.DataFrame:
    """A query's rows as a frame, through COPY (CSV): several times faster than fetching tuples for a
    million rows. `query` is one of this module's constant statements (no parameters)."""
    out = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for chunk in copy:
                out.write(chunk)
    out.seek(0)
    frame = pd.read_csv(out, keep_default_na=False, na_values=[""], dtype=_TEXT)
    for name in _NUMERIC.intersection(frame.columns):  # an empty result reads as text
        frame[name] = pd.to_numeric(frame[name]).astype("float64")
    for name in _EPOCHS.intersection(frame.columns):
        frame[name] = pd.to_datetime(pd.to_numeric(frame[name]), unit="s", utc=True)
    return frame


# Names repeat across a million rows: categories hold each once (a fraction of the memory of strings).
_TEXT = {name: "category" for name in ("vin_state", "model", "trim", "make", "source", "outcome", "currency")} | {
    "title": "string", "vin": "string"}
_NUMERIC = {"listing_id", "vehicle_id", "sale_price", "high_bid", "asking_price", "year", "mileage"}
_EPOCHS = {"ended_at", "listed_at"}  # times travel as epoch seconds: one number format, parsed in bulk
_NAMES = ["make", "model", "trim", "title"]


def _name_or_none(value):
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else value


def with_families(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds make (canonical), family and year band; rows naming no car are dropped. The rules run once per
    distinct (make, model, trim, title), not per row."""
    keys = frame[_NAMES].copy()
    # the title decides only when the record names no model: otherwise every listing would be a name of its own
    keys["title"] = keys["title"].where(keys["model"].isna())
    codes = keys.groupby(_NAMES, dropna=False, sort=False, observed=True).ngroup().to_numpy()
    firsts = pd.Series(np.arange(len(keys))).groupby(codes).min().to_numpy()  # one row per name, in code order
    resolved = [family_of(*map(_name_or_none, names))
                for names in keys.iloc[firsts].itertuples(index=False, name=None)]
    makes = np.array([f.make if f else None for f in resolved] + [None], dtype=object)
    families = np.array([f.family if f else None for f in resolved] + [None], dtype=object)
    frame = frame.assign(make=makes[codes], family=families[codes])
    frame = frame[frame["family"].notna()]
    years = frame["year"]
    bands = {y: year_band(int(y)) for y in years.dropna().unique()}
    return frame.assign(year_band=years.map(bands).fillna(UNKNOWN_BAND))


def _month(times: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(times, utc=True, format="ISO8601")
    return stamps.dt.tz_localize(None).dt.to_period("M").dt.start_time.dt.date


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=KEY + columns).set_index(KEY)


def _quartiles(values: pd.DataFrame, column: str, prefix: str) -> pd.DataFrame:
    if values.empty:
        return _empty([f"{prefix}_p25", f"{prefix}_median", f"{prefix}_p75"])
    grouped = values.groupby(KEY, sort=False, observed=True)[column]
    q = grouped.quantile([0.25, 0.5, 0.75]).unstack()  # linear interpolation, as percentile_cont
    q.columns = [f"{prefix}_p25", f"{prefix}_median", f"{prefix}_p75"]
    return q


@dataclass
class Comps:
    table: pd.DataFrame
    no_currency: int = 0  # ended auctions that state no currency: in no row


def compute_comps(events: pd.DataFrame, asking: pd.DataFrame) -> Comps:
    """The comps table from ended auction events and asking prices (frames shaped as `load_events` and
    `load_asking` return them)."""
    events = with_families(events)
    asking = with_families(asking)
    if events.empty and asking.empty:
        return Comps(pd.DataFrame(columns=COMPS_COLUMNS))
    no_currency = int(events["currency"].isna().sum())
    events = events[events["currency"].notna()]
    events = events.assign(month=_month(events["ended_at"]))
    is_sale = events["outcome"].isin(SALE_OUTCOMES) & events["sale_price"].notna()
    sales = events[is_sale]
    counts = events.assign(
        sold=is_sale, ended=events["outcome"].isin(ENDED_OUTCOMES),
        refused=events["outcome"].eq(REFUSED_OUTCOME) & events["high_bid"].notna(),
    ).groupby(KEY, sort=False, observed=True)[["sold", "ended", "refused"]].sum()
    counts.columns = ["sold_count", "ended_count", "refused_count"]
    sale_q = _quartiles(sales, "sale_price", "sale")
    refused = events[events["outcome"].eq(REFUSED_OUTCOME) & events["high_bid"].notna()]
    refused_median = refused.groupby(KEY, sort=False, observed=True)["high_bid"].median().rename("refused_median")
    table = counts.join(sale_q, how="left").join(refused_median, how="left") if not events.empty else _empty(
        ["sold_count", "ended_count", "refused_count", "sale_p25", "sale_median", "sale_p75", "refused_median"])
    if len(asking):
        asking = asking.assign(month=_month(asking["listed_at"]))
        ask = asking.groupby(KEY, sort=False, observed=True)["asking_price"].agg(
            asking_count="count", asking_median="median")
    else:
        ask = _empty(["asking_count", "asking_median"])
    table = table.join(ask, how="outer")
    for name in ("sold_count", "ended_count", "refused_count", "asking_count"):
        table[name] = table[name].fillna(0).astype("int64")
    ended = table["ended_count"]
    table["sell_through"] = (table["sold_count"] / ended.where(ended > 0)).round(4)
    table = table.reset_index()
    return Comps(table[COMPS_COLUMNS].sort_values(KEY, ignore_index=True), no_currency)


def compute_repeat_sales(events: pd.DataFrame) -> pd.DataFrame:
    """Each sale of a vehicle with a valid VIN paired with its previous sale (across sources)."""
    events = with_families(events)
    if events.empty:
        return pd.DataFrame(columns=REPEAT_COLUMNS)
    sales = events[events["outcome"].isin(SALE_OUTCOMES) & events["sale_price"].notna()
                   & events["vin_state"].eq("valid") & events["vehicle_id"].notna() & events["currency"].notna()]
    sales = sales.assign(ended_at=pd.to_datetime(sales["ended_at"], utc=True, format="ISO8601"))
    sales = sales.sort_values(["vehicle_id", "ended_at", "listing_id"])
    prev = sales.groupby("vehicle_id", sort=False).shift(1)
    pairs = sales[prev["listing_id"].notna()]
    prev = prev.loc[pairs.index]
    same = pairs["currency"].to_numpy() == prev["currency"].to_numpy()
    change = (pairs["sale_price"] - prev["sale_price"]).where(same)
    out = pd.DataFrame({
        "vehicle_id": pairs["vehicle_id"].astype("int64"), "vin": pairs["vin"], "make": pairs["make"],
        "family": pairs["family"], "year_band": pairs["year_band"],
        "first_listing_id": prev["listing_id"].astype("int64"),
        "second_listing_id": pairs["listing_id"].astype("int64"),
        "first_source": prev["source"], "second_source": pairs["source"],
        "first_sold_at": prev["ended_at"], "second_sold_at": pairs["ended_at"],
        "first_price": prev["sale_price"], "second_price": pairs["sale_price"],
        "first_currency": prev["currency"], "second_currency": pairs["currency"],
        "price_change": change,
        "price_change_pct": (change / prev["sale_price"].where(prev["sale_price"] > 0) * 100).round(4),
        "days_held": (pairs["ended_at"] - prev["ended_at"]).dt.days.astype("int64"),
    })
    return out[REPEAT_COLUMNS].reset_index(drop=True)


def load_events(conn) -> pd.DataFrame:
    return read_frame(conn, _EVENTS_SQL)


def load_asking(conn) -> pd.DataFrame:
    return read_frame(conn, _ASKING_SQL)


def _copy_rows(conn, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    """Replace a table's rows with a frame's, through COPY (CSV; money is written as whole numbers)."""
    buffer = io.StringIO()
    frame[columns].to_csv(buffer, index=False, header=False, na_rep="", date_format="%Y-%m-%dT%H:%M:%S%z")
    conn.execute(f"DELETE FROM {table}")
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


@dataclass
class MarketReport:
    rows: int = 0
    events: int = 0
    asking: int = 0
    repeat_sales: int = 0
    no_currency: int = 0
    seconds: float = 0.0
    comps: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


def refresh_market(db) -> MarketReport:
    """Recompute market_comps and repeat_sales from the database; each table is replaced in one transaction,
    so readers see yesterday's table or today's, never half of one."""
    started = datetime.now()
    with db.connection() as conn:
        events = load_events(conn)
        asking = load_asking(conn)
    comps = compute_comps(events, asking)
    repeats = compute_repeat_sales(events)
    with db.connection() as conn, conn.transaction():
        _copy_rows(conn, "market_comps", comps.table, COMPS_COLUMNS)
        _copy_rows(conn, "repeat_sales", repeats, REPEAT_COLUMNS)
    return MarketReport(rows=len(comps.table), events=len(events), asking=len(asking), repeat_sales=len(repeats),
                        no_currency=comps.no_currency, seconds=(datetime.now() - started).total_seconds(),
                        comps=comps.table)


def most_traded(comps: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The n (make, family, currency) with the most sales over the whole table."""
    totals = comps.groupby(["make", "family", "currency"])["sold_count"].sum()
    return totals[totals > 0].sort_values(ascending=False).head(n).reset_index()


def latest_medians(comps: pd.DataFrame, n: int = 5) -> dict[str, float]:
    """Numeric metadata for the most-traded families: the median sale price of the latest month with sales,
    all year bands together weighted by sales (one number per family, so the UI plots it run after run)."""
    out = {}
    for make, family, currency, _ in most_traded(comps, n).itertuples(index=False, name=None):
        rows = comps[(comps["make"] == make) & (comps["family"] == family) & (comps["currency"] == currency)
                     & (comps["sold_count"] > 0)]
        latest = rows[rows["month"] == rows["month"].max()]
        weighted = (latest["sale_median"] * latest["sold_count"]).sum() / latest["sold_count"].sum()
        out[f"median_{_slug(make)}_{_slug(family)}_{currency.lower()}"] = round(float(weighted), 0)
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def markdown_table(comps: pd.DataFrame, n: int = 10) -> str:
    """The most-traded families' rows of their latest month, as a markdown table."""
    top = most_traded(comps, n)
    if top.empty:
        return "_no sales yet_"
    keys = set(map(tuple, top[["make", "family", "currency"]].to_numpy()))
    mask = [k in keys for k in zip(comps["make"], comps["family"], comps["currency"])]
    rows = comps[mask]
    rows = rows[rows["month"] == rows.groupby(["make", "family", "currency"])["month"].transform("max")]
    lines = ["| make | family | years | month | cur | sold | p25 | median | p75 | sell-through | refused median "
             "| asking median |", "|" + "---|" * 12]
    fmt = lambda v: "" if pd.isna(v) else f"{v:,.0f}"  # noqa: E731
    for r in rows.sort_values(["sold_count"], ascending=False).itertuples(index=False):
        st = "" if pd.isna(r.sell_through) else f"{r.sell_through:.0%}"
        lines.append(f"| {r.make} | {r.family} | {r.year_band} | {r.month} | {r.currency} | {r.sold_count} | "
                     f"{fmt(r.sale_p25)} | {fmt(r.sale_median)} | {fmt(r.sale_p75)} | {st} | "
                     f"{fmt(r.refused_median)} | {fmt(r.asking_median)} |")
    return "\n".join(lines)
