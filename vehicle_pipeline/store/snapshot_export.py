"""Stored page snapshots out as a standard WARC file (ISO 28500, written with warcio), for replay.

Each snapshot becomes a `request` record (GET of its URL) and a `response` record concurrent to it: the URL
the page was fetched from (after redirects: the snapshot keeps the final URL), its HTTP status, its headers
and its fetch time as WARC-Date. The headers are those the snapshot kept (records.KEPT_HEADERS: what
describes the resource, never cookies or transfer codings); a page stored before snapshots kept headers gets
its Content-Type and the ETag / Last-Modified the listing registry kept. The body is the page as the parser
saw it (decoded), so no Content-Encoding is recorded.

`vehicle-pipeline sample-site --replay FILE.warc.gz` serves such a file again (sample_site/replay.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import BinaryIO
from urllib.parse import urlsplit

from vehicle_pipeline import sources
from vehicle_pipeline.store.records import snapshot_body

_REASONS = {200: "OK", 203: "Non-Authoritative Information", 204: "No Content", 206: "Partial Content",
            301: "Moved Permanently", 302: "Found", 304: "Not Modified", 404: "Not Found", 410: "Gone"}
_BODY_BATCH = 64  # snapshots decompressed and written per query: bounded memory on a large export


@dataclass(frozen=True)
class ExportReport:
    records: int  # response records written (one per snapshot; each with its request record)
    bytes: int  # page bytes written, uncompressed


def _source_matcher(conn, source: str):
    """A predicate on snapshot URLs: does the page belong to `source` (a name such as "bat",
    "craigslist:sfbay", "dealer:x", or a family: "craigslist", "dealer")? A page belongs to a source when it
    lies under one of the source's configured URLs (its base URL, a dealer's inventory URL) or on one of the
    hosts the source's parser allows."""
    try:
        module = sources.get(source)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    rows = conn.execute(
        """SELECT base_url, config->>'inventory_url' FROM sources
           WHERE name = %s OR (%s NOT LIKE '%%:%%' AND name LIKE %s || ':%%')""",
        (source, source, source)).fetchall()
    prefixes = tuple(p for row in rows for p in row if p)
    hosts = tuple(h.lower().lstrip("*").lstrip(".") for h in getattr(module, "ALLOWED_HOSTS", ()) or ())

    def belongs(url: str) -> bool:
        if url.startswith(prefixes):
            return True
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in hosts)

    return belongs


def _linked_to(conn, source: str) -> set[bytes]:
    """Snapshots that listings of `source` (or of its family) point at."""
    pattern = source + (":%" if ":" not in source else "")
    return {bytes(r[0]) for r in conn.execute(
        """SELECT l.last_snapshot FROM listings l
           WHERE (l.source = %(s)s OR l.source LIKE %(p)s) AND l.last_snapshot IS NOT NULL
           UNION SELECT o.snapshot_sha256 FROM listing_observations o JOIN listings l ON l.id = o.listing_id
           WHERE (l.source = %(s)s OR l.source LIKE %(p)s) AND o.snapshot_sha256 IS NOT NULL
           UNION SELECT e.snapshot_sha256 FROM auction_events e JOIN listings l ON l.id = e.listing_id
           WHERE (l.source = %(s)s OR l.source LIKE %(p)s) AND e.snapshot_sha256 IS NOT NULL""",
        {"s": source, "p": pattern})}


def export_snapshots(conn, out: BinaryIO, *, source: str | None = None, since: datetime | None = None) -> ExportReport:
    """Write the snapshots (of one source, fetched since a time, or all) to `out` as gzipped WARC records,
    oldest first. Raises ValueError for an unknown source."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rows = conn.execute(
        """SELECT sha256, url, fetched_at FROM page_snapshots
           WHERE %(since)s::timestamptz IS NULL OR fetched_at >= %(since)s
           ORDER BY fetched_at, url, sha256""", {"since": since}).fetchall()
    if source is not None:
        belongs, linked = _source_matcher(conn, source), _linked_to(conn, source)
        rows = [r for r in rows if bytes(r[0]) in linked or belongs(r[1])]
    writer = WARCWriter(out, gzip=True)
    written = total = 0
    for start in range(0, len(rows), _BODY_BATCH):
        shas = [r[0] for r in rows[start:start + _BODY_BATCH]]
        batch = conn.execute(
            """SELECT s.url, s.fetched_at, s.http_status, s.content_type, s.compression, s.body, s.headers,
                      (SELECT l.etag FROM listings l WHERE l.last_snapshot = s.sha256 AND l.etag IS NOT NULL LIMIT 1),
                      (SELECT l.last_modified FROM listings l
                       WHERE l.last_snapshot = s.sha256 AND l.last_modified IS NOT NULL LIMIT 1)
               FROM page_snapshots s JOIN unnest(%s::bytea[]) WITH ORDINALITY AS k(sha, n) ON k.sha = s.sha256
               ORDER BY k.n""", (shas,)).fetchall()
        for url, fetched_at, status, content_type, compression, stored, kept, etag, last_modified in batch:
            body = snapshot_body(compression, stored)
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            date = fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            request = writer.create_warc_record(
                url, "request",
                http_headers=StatusAndHeaders(f"GET {target} HTTP/1.1", [("Host", parts.netloc)], is_http_request=True),
                warc_headers_dict={"WARC-Date": date})
            known = {k.lower(): v for k, v in (kept or {}).items()}  # the response's own (records.KEPT_HEADERS)
            if content_type and "content-type" not in known:
                known["content-type"] = content_type
            for name, value in (("etag", etag), ("last-modified", last_modified)):
                if value and name not in known:  # pages stored before headers were: the registry kept these
                    known[name] = value
            headers = [("-".join(p.capitalize() for p in k.split("-")).replace("Etag", "ETag"), v)
                       for k, v in sorted(known.items())]
            headers.append(("Content-Length", str(len(body))))
            response = writer.create_warc_record(
                url, "response", payload=BytesIO(body), length=len(body),
                http_headers=StatusAndHeaders(f"{status} {_REASONS.get(status, 'Status')}", headers,
                                              protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": date})
            writer.write_request_response_pair(request, response)
            written += 1
            total += len(body)
    return ExportReport(records=written, bytes=total)


__all__ = ["ExportReport", "export_snapshots"]
