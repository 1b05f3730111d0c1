"""The pipeline's health in numbers, computed with pandas from the database (plain Python: no Dagster).

What an operator of the old pipeline could not see: profiles created and updated per source per day, how
deep each queue is and how fast it drains, how fetches and parses end per source (a rising share of parse
failures is markup drift), which sources are held off and until when, dead items by reason, and how long an
auction's outcome takes to arrive after it ends.

The database aggregates (per day, source and kind) and pandas shapes the figures. The queue's history comes
from `work_item_events` (kept by triggers, sql/010), depth trends from `queue_depth_snapshots`.

Fallback parses (a page read by the generic structured-data reader because its markup drifted) are counted
from the parse the listing keeps (`listings.parsed ->> 'fallback'`); until the parsers mark such parses, the
count is 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pandas as pd

from vehicle_pipeline.model import ENDED_OUTCOMES

FETCH_OUTCOMES = ("ok", "unchanged", "gone", "blocked", "failed")
FETCH_QUEUES = ("listing_import", "deep_extraction")
PARSE_FAILURE_PREFIXES = ("parse error", "expected a listing page")

# How a queue event ends a fetch. A page fetched but unreadable is a parse failure, not a fetch failure.
_PARSE_FAILED = " OR ".join(f"error LIKE '{p}%%'" for p in PARSE_FAILURE_PREFIXES)
_FETCH_KIND = f"""CASE
    WHEN event = 'done' AND result ->> 'result' = 'not_modified' THEN 'unchanged'
    WHEN event = 'done' AND result ->> 'result' = 'gone' THEN 'gone'
    WHEN event = 'done' THEN 'ok'
    WHEN event = 'snoozed' THEN 'blocked'
    WHEN event IN ('retry', 'dead') AND ({_PARSE_FAILED}) THEN 'parse_failed'
    WHEN event IN ('retry', 'dead') THEN 'failed' END"""

_SQL = {
    # fetches per source over the last 24 h, the last hour apart (for the parse-failure alert's "rising")
    "fetches": f"""
        SELECT source, {_FETCH_KIND} AS kind, at >= %(hour)s AS last_hour, count(*) AS n
        FROM work_item_events
        WHERE at >= %(recent)s AND at < %(now)s AND queue = ANY (%(fetch_queues)s)
          AND event IN ('done', 'snoozed', 'retry', 'dead')
        GROUP BY 1, 2, 3""",
    "stored": """
        SELECT date_trunc('day', at) AS day, source, count(*) AS stored
        FROM work_item_events
        WHERE at >= %(since)s AND at < %(now)s AND queue = 'listing_import' AND event = 'done'
          AND result ->> 'result' = 'stored'
        GROUP BY 1, 2""",
    # a vehicle is created by the source of its first listing
    "created": """
        SELECT date_trunc('day', v.first_seen_at) AS day, first.source, count(*) AS created
        FROM vehicles v
        CROSS JOIN LATERAL (SELECT source FROM listings WHERE vehicle_id = v.id ORDER BY id LIMIT 1) first
        WHERE v.first_seen_at >= %(since)s AND v.first_seen_at < %(now)s
        GROUP BY 1, 2""",
    "fallbacks": """
        SELECT source, count(*) AS fallback_parses
        FROM listings
        WHERE last_fetched_at >= %(recent)s AND last_fetched_at < %(now)s AND parsed ->> 'fallback' = 'true'
        GROUP BY 1""",
    "depth": """
        SELECT taken_at, queue, sum(pending)::int AS depth, sum(done_last_hour)::int AS drained_last_hour
        FROM queue_depth_snapshots
        WHERE taken_at >= %(since)s AND taken_at <= %(now)s
        GROUP BY 1, 2""",
    "backoff": """
        SELECT name AS source, backoff_level, backoff_since, backoff_until, auto_disabled
        FROM sources
        WHERE backoff_until > %(now)s OR auto_disabled""",
    "dead": """
        SELECT queue, coalesce(last_error, 'no error recorded') AS error, count(*) AS items
        FROM work_items WHERE state = 'dead'
        GROUP BY 1, 2""",
    # the first extraction that saw an ended auction's outcome, for outcomes that arrived in the window
    "latency": """
        SELECT a.source, a.listing_id, a.ended_at, min(e.at) AS decided_at
        FROM work_item_events e
        JOIN listings l ON l.correlation_id = e.correlation_id
        JOIN auction_events a ON a.listing_id = l.id
        WHERE e.queue = 'deep_extraction' AND e.event = 'done' AND e.result ->> 'outcome' = ANY (%(ended)s)
          AND a.ended_at IS NOT NULL AND e.at < %(now)s
        GROUP BY 1, 2, 3
        HAVING min(e.at) >= %(recent)s""",
}


def family(source: str) -> str:
    """Metadata is per site: "dealer:<slug>" and "craigslist:<metro>" count under their family (dealers are many;
    the markdown table keeps each source)."""
    return source.split(":", 1)[0]


def dead_reason(error: str) -> str:
    """A dead item's reason without its particulars: "parse error", "failed http_status", "ValueError"."""
    head = re.split(r"[:(]| status=| url=", error, maxsplit=1)[0].strip()
    return " ".join(head.split()[:3]) or "unknown"


@dataclass
class PipelineHealth:
    now: datetime
    profiles: pd.DataFrame  # day, source, created, updated
    queues: pd.DataFrame  # queue, depth, drain_rate_per_hour (latest snapshot)
    queue_trend: pd.DataFrame  # hour × queue depth (last snapshot of each hour)
    fetches: pd.DataFrame  # per source (last 24 h): ok, unchanged, gone, blocked, failed, parse_failures, fallback_parses
    recent_parse: pd.DataFrame  # per source: parse failures and pages in the last hour and in the 23 before
    backoff: pd.DataFrame  # source, backoff_level, backoff_since, backoff_until, auto_disabled
    dead: pd.DataFrame  # queue, reason, items
    latency: pd.DataFrame  # per source: outcomes, median_hours, p90_hours (last 24 h)
    notes: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, float | int]:
        """Numbers per site and queue (the UI plots each key over the hourly materializations)."""
        out: dict[str, float | int] = {}
        # today's counts (UTC) for every site seen in the window, zero included, so each plot has a point an hour
        today = self.profiles.assign(site=self.profiles["source"].map(family))
        today.loc[today["day"] != _day(self.now), ["created", "updated"]] = 0
        by_family = today.groupby("site")[["created", "updated"]].sum()
        for site, row in by_family.iterrows():
            out[f"profiles_created_today/{site}"] = int(row["created"])
            out[f"profiles_updated_today/{site}"] = int(row["updated"])
        for _, row in self.queues.iterrows():
            out[f"queue_depth/{row['queue']}"] = int(row["depth"])
            out[f"drain_rate_per_hour/{row['queue']}"] = int(row["drain_rate_per_hour"])
        fetch_sites = self.fetches.assign(site=self.fetches["source"].map(family)).groupby("site").sum(numeric_only=True) \
            if len(self.fetches) else pd.DataFrame()
        for site, row in fetch_sites.iterrows():
            for kind in (*FETCH_OUTCOMES, "parse_failures", "fallback_parses"):
                out[f"fetch_{kind}_24h/{site}" if kind in FETCH_OUTCOMES else f"{kind}_24h/{site}"] = int(row[kind])
        out["sources_in_backoff"] = int(len(self.backoff))
        for _, row in self.dead.groupby("queue")["items"].sum().reset_index().iterrows():
            out[f"dead_items/{row['queue']}"] = int(row["items"])
        out["dead_items_total"] = int(self.dead["items"].sum()) if len(self.dead) else 0
        for _, row in self.latency.iterrows():
            out[f"outcome_latency_median_hours/{row['site']}"] = round(float(row["median_hours"]), 3)
            out[f"outcome_latency_p90_hours/{row['site']}"] = round(float(row["p90_hours"]), 3)
        return out

    def markdown(self) -> str:
        parts = [f"## Pipeline health at {self.now:%Y-%m-%d %H:%M}Z"]
        sections = [
            ("Profiles per source per day (UTC)", self.profiles.assign(day=self.profiles["day"].dt.strftime("%Y-%m-%d"))
             if len(self.profiles) else self.profiles),
            ("Queues (latest depth snapshot)", self.queues),
            ("Queue depth by hour (last snapshot of each hour)", self.queue_trend.reset_index().assign(
                hour=lambda d: d["hour"].dt.strftime("%m-%d %H:00")) if len(self.queue_trend) else self.queue_trend),
            ("Fetch and parse outcomes per source, last 24 h", self.fetches),
            ("Sources in backoff", self.backoff),
            ("Dead items by reason", self.dead),
            ("Outcome latency (auction end to outcome row), last 24 h", self.latency),
        ]
        for title, frame in sections:
            parts.append(f"### {title}")
            parts.append(_table(frame))
        if self.notes:
            parts.append("### Notes")
            parts.extend(f"- {n}" for n in self.notes)
        return "\n\n".join(parts)


def _day(t: datetime) -> pd.Timestamp:
    return pd.Timestamp(t).tz_convert("UTC").floor("D")


def _table(frame: pd.DataFrame) -> str:
    """A markdown table (pandas' to_markdown needs tabulate, which the project does not carry)."""
    if frame is None or not len(frame):
        return "(none)"
    cols = [str(c) for c in frame.columns]

    def cell(v) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
            return "-"
        if isinstance(v, pd.Timestamp):
            return v.strftime("%Y-%m-%d %H:%M")
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _recent_parse(fr: pd.DataFrame) -> pd.DataFrame:
    """Per source: parse failures and pages in the last hour and in the 23 hours before it."""
    cols = ["parse_failures_last_hour", "pages_last_hour", "parse_failures_before", "pages_before"]
    if not len(fr):
        return pd.DataFrame(columns=["source", *cols])
    fr = fr.assign(parse=(fr["kind"] == "parse_failed") * fr["n"],
                   when=fr["last_hour"].map({True: "last_hour", False: "before"}))
    out = fr.pivot_table(index="source", columns="when", values=["parse", "n"], aggfunc="sum", fill_value=0)
    out.columns = [f"{'parse_failures' if m == 'parse' else 'pages'}_{w}" for m, w in out.columns]
    return out.reindex(columns=cols, fill_value=0).astype(int).reset_index()


def recent_parse_failures(conn, *, now: datetime | None = None) -> pd.DataFrame:
    """`PipelineHealth.recent_parse` alone (one query), for the alert evaluated every minute."""
    now = (now or conn.execute("SELECT now()").fetchone()[0]).astimezone(timezone.utc)
    return _recent_parse(_frame(conn, "fetches", _params(now, 7)))


def _params(now: datetime, days: int) -> dict:
    return {"now": now, "since": now - timedelta(days=days), "recent": now - timedelta(days=1),
            "hour": now - timedelta(hours=1), "fetch_queues": list(FETCH_QUEUES),
            "ended": sorted(str(o) for o in ENDED_OUTCOMES)}


def _frame(conn, name: str, params: dict) -> pd.DataFrame:
    cur = conn.execute(_SQL[name], params)
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def pipeline_health(conn, *, now: datetime | None = None, days: int = 7) -> PipelineHealth:
    """Read the database and compute the figures as of `now` (default: the database's clock)."""
    now = now or conn.execute("SELECT now()").fetchone()[0]
    now = now.astimezone(timezone.utc)
    params = _params(now, days)
    raw = {name: _frame(conn, name, params) for name in _SQL}
    return compute(raw, now)


def compute(raw: dict[str, pd.DataFrame], now: datetime) -> PipelineHealth:
    """The figures from the database's aggregates (see `_SQL`)."""
    notes = []
    # profiles: created by the source of a vehicle's first listing; updated = stored by an import, not created
    stored, created = raw["stored"], raw["created"]
    profiles = pd.merge(stored, created, on=["day", "source"], how="outer").fillna({"stored": 0, "created": 0})
    if len(profiles):
        profiles["day"] = pd.to_datetime(profiles["day"], utc=True)
        profiles["updated"] = (profiles["stored"] - profiles["created"]).clip(lower=0).astype(int)
        profiles["created"] = profiles["created"].astype(int)
        profiles = profiles.sort_values(["day", "source"]).reset_index(drop=True)[["day", "source", "created", "updated"]]
    else:
        profiles = pd.DataFrame({"day": pd.Series(dtype="datetime64[ns, UTC]"), "source": [], "created": [], "updated": []})

    # queues: the latest snapshot per queue, and the last snapshot of each hour for the trend
    depth = raw["depth"]
    if len(depth):
        depth["taken_at"] = pd.to_datetime(depth["taken_at"], utc=True)
        latest = depth.sort_values("taken_at").groupby("queue").tail(1)
        queues = latest[["queue", "depth", "drained_last_hour"]].rename(
            columns={"drained_last_hour": "drain_rate_per_hour"}).sort_values("queue").reset_index(drop=True)
        trend = depth.assign(hour=depth["taken_at"].dt.floor("h")).sort_values("taken_at") \
            .groupby(["hour", "queue"])["depth"].last().unstack("queue").fillna(0).astype(int)
    else:
        queues = pd.DataFrame(columns=["queue", "depth", "drain_rate_per_hour"])
        trend = pd.DataFrame()
        notes.append("no queue depth snapshots in the window (the queue depth sensor and this asset record them)")

    # fetches and parses per source, last 24 h
    fr = raw["fetches"]
    kinds = [*FETCH_OUTCOMES, "parse_failed"]
    fetches = (fr.pivot_table(index="source", columns="kind", values="n", aggfunc="sum", fill_value=0)
               .reindex(columns=kinds, fill_value=0) if len(fr) else pd.DataFrame(columns=kinds))
    fetches = fetches.rename(columns={"parse_failed": "parse_failures"})
    fallbacks = raw["fallbacks"].set_index("source")["fallback_parses"] if len(raw["fallbacks"]) else pd.Series(
        dtype=int, name="fallback_parses")
    fetches = fetches.join(fallbacks, how="outer").fillna(0).astype(int)
    fetches.index.name = "source"
    fetches = fetches.reset_index().sort_values("source").reset_index(drop=True)
    if not len(raw["fallbacks"]):
        notes.append("fallback parses: none recorded (counted from listings.parsed.fallback once the parsers mark them)")

    recent_parse = _recent_parse(fr)

    backoff = raw["backoff"].sort_values("source").reset_index(drop=True)
    for col in ("backoff_since", "backoff_until"):
        backoff[col] = pd.to_datetime(backoff[col], utc=True)

    dead = raw["dead"]
    if len(dead):
        dead = dead.assign(reason=dead["error"].map(dead_reason)).groupby(["queue", "reason"], as_index=False)["items"] \
            .sum().sort_values(["queue", "items", "reason"], ascending=[True, False, True]).reset_index(drop=True)
    else:
        dead = pd.DataFrame(columns=["queue", "reason", "items"])

    lat = raw["latency"]
    if len(lat):
        hours = (pd.to_datetime(lat["decided_at"], utc=True) - pd.to_datetime(lat["ended_at"], utc=True)) \
            .dt.total_seconds().clip(lower=0) / 3600
        lat = lat.assign(site=lat["source"].map(family), hours=hours)
        latency = lat.groupby("site")["hours"].agg(outcomes="count", median_hours="median",
                                                   p90_hours=lambda s: s.quantile(0.9)).reset_index()
    else:
        latency = pd.DataFrame(columns=["site", "outcomes", "median_hours", "p90_hours"])
    return PipelineHealth(now=now, profiles=profiles, queues=queues, queue_trend=trend, fetches=fetches,
                          recent_parse=recent_parse, backoff=backoff, dead=dead, latency=latency, notes=notes)

