"""How fetched pages parsed, per source: `page_parses` rows written beside the snapshots, and the counts that
tell markup drift (a source's share of failed or fallback parses) and list the pages to replay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

PARSED, FALLBACK, FAILED = "parsed", "fallback", "failed"


@dataclass(frozen=True)
class ParseRecord:
    source: str
    page_kind: str  # "listing" | "index"
    result: str  # PARSED | FALLBACK | FAILED
    snapshot: bytes | None = None
    url: str | None = None
    error: str | None = None


def parse_record(source: str, page_kind: str, parsed, snapshot: bytes | None, url: str | None) -> ParseRecord:
    """The record of one page's parse: `parsed` is what the parser returned (a listing, an index or a seller
    directory page, `fallback` when the structured-data reader made it), or why the page could not be read
    (a ParseError or its message)."""
    if isinstance(parsed, (str, Exception)) or parsed is None:
        return ParseRecord(source, page_kind, FAILED, snapshot, url, str(parsed or "") or "unreadable")
    return ParseRecord(source, page_kind, FALLBACK if getattr(parsed, "fallback", False) else PARSED, snapshot, url)


def record_parses(conn, records: Sequence[ParseRecord]) -> None:
    if not records:
        return
    conn.execute(
        """INSERT INTO page_parses (source, page_kind, result, snapshot_sha256, url, error)
           SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bytea[], %b::text[], %b::text[])""",
        [[getattr(r, name) for r in records] for name in ("source", "page_kind", "result", "snapshot", "url", "error")])


@dataclass(frozen=True)
class ParseCounts:
    """Parses of a source family in a period: how many, and how many failed or read only by the fallback."""

    pages: int = 0
    failed: int = 0
    fallback: int = 0

    @property
    def unread(self) -> int:
        return self.failed + self.fallback


def parse_counts(conn, family: str, *, since: datetime, until: datetime) -> ParseCounts:
    """Counts of the parses of every source of `family` ("craigslist" covers "craigslist:<metro>") in
    [since, until)."""
    row = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE result = 'failed'), count(*) FILTER (WHERE result = 'fallback')
           FROM page_parses
           WHERE (source = %(family)s OR source LIKE %(prefix)s) AND parsed_at >= %(since)s AND parsed_at < %(until)s""",
        {"family": family, "prefix": family.replace("%", r"\%").replace("_", r"\_") + ":%", "since": since,
         "until": until}).fetchone()
    return ParseCounts(*row)


def parse_counts_by_source(conn, *, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
    """(source, result, pages) for every source with parses in [since, until): the shares pipeline health plots."""
    return [tuple(r) for r in conn.execute(
        """SELECT source, result, count(*) FROM page_parses WHERE parsed_at >= %s AND parsed_at < %s
           GROUP BY 1, 2 ORDER BY 1, 2""", (since, until))]


def unread_snapshots(conn, source: str | None = None, *, since: datetime | None = None) -> list[tuple[bytes, str, str]]:
    """(snapshot sha256, source, url) of the pages that failed or parsed only by the fallback, newest first:
    what to replay once the parser is fixed."""
    return [(bytes(r[0]), r[1], r[2]) for r in conn.execute(
        """SELECT DISTINCT ON (snapshot_sha256) snapshot_sha256, source, url FROM page_parses
           WHERE result <> 'parsed' AND snapshot_sha256 IS NOT NULL
             AND (%(source)s::text IS NULL OR source = %(source)s) AND (%(since)s::timestamptz IS NULL OR parsed_at >= %(since)s)
           ORDER BY snapshot_sha256, parsed_at DESC""", {"source": source, "since": since})]
