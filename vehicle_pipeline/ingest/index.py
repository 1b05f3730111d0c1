"""Walking a source's index pages: register what they list and queue imports for what is new or changed.

The walk is incremental: newest first, it stops after a page on which nothing was new or changed (or at
`max_pages`), so a first run walks everything and a re-run costs one page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from vehicle_pipeline.http import FetchKind
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import StepReport
from vehicle_pipeline.model import IndexPage, ParseError
from vehicle_pipeline.store.parses import parse_record, record_parses
from vehicle_pipeline.store.queue import PRIORITY_NEW, NewItem
from vehicle_pipeline.store.records import save_snapshot, upsert_listing_refs


@dataclass
class IndexWalk(StepReport):
    source: str = ""
    pages: int = 0
    found: int = 0
    new: int = 0
    changed: int = 0
    already_known: int = 0
    enqueued: int = 0
    failed: int = 0
    blocked: int = 0
    stated_total: int | None = None  # the total the site states, for the coverage check

    _NOT_METADATA = ("errors", "source")


def read_page(ingest: Ingest, source: str, url: str, expected: type, report):
    """Fetch and parse one page of a paginated list, keep it as a snapshot (readable or not, so a parser fix
    can replay it) with how its parse went; on anything but a page of the `expected` kind, count it on
    `report` (blocked or failed), note why, and return None."""
    result = ingest.client.fetch(url, source=source)
    if result.kind is not FetchKind.OK:
        if result.kind is FetchKind.BLOCKED:
            report.blocked += 1
        else:
            report.failed += 1
        report.note(f"{url}: {result.describe()}")
        return None
    try:
        page = ingest.module(source).parse(result.content, url=result.final_url)
        problem = None if isinstance(page, expected) else \
            f"{url}: expected a {expected.__name__}, got a {type(page).__name__}"
    except ParseError as exc:
        page, problem = None, str(exc)
    with ingest.db.connection() as conn:
        sha = save_snapshot(conn, result.final_url, result.status or 200, result.content_type, result.content,
                           headers=result.headers)
        record_parses(conn, [parse_record(source, "index", problem or page, sha, result.final_url)])
    if problem is not None:
        report.failed += 1
        report.note(problem)
        return None
    return result, page


def walk_index(ingest: Ingest, source: str, start_url: str, *, max_pages: int | None = None,
               full: bool = False, priority: int = PRIORITY_NEW) -> IndexWalk:
    """Walk index pages from `start_url`; every URL the pages link to is checked by the HTTP client."""
    report = IndexWalk(source=source)
    started = time.monotonic()
    url: str | None = start_url
    seen_urls: set[str] = set()
    max_pages = max_pages or ingest.settings.max_index_pages
    while url and report.pages < max_pages and url not in seen_urls:
        seen_urls.add(url)
        fetched = read_page(ingest, source, url, IndexPage, report)
        if fetched is None:
            break
        result, page = fetched
        report.pages += 1
        if report.stated_total is None:
            report.stated_total = page.total_items
        with ingest.db.connection() as conn:
            registered = upsert_listing_refs(conn, source, page.items)
        report.found += len(page.items)
        report.new += len(registered.new)
        report.changed += len(registered.changed)
        report.already_known += registered.unchanged + len(registered.not_imported)
        todo = registered.new + registered.changed
        # Known but never imported (its import died or is still queued): make sure it is queued, quietly.
        retry = registered.not_imported
        if todo or retry:
            results = ingest.queue.enqueue_many([
                NewItem("listing_import", source, f"{source}:{ref.external_id}",
                        # found_by: the run whose walk found it, for `trace` (the queue's event log keeps it)
                        {"listing_id": listing_id, "url": ref.url, "found_by": ingest.queue.worker_id}, priority,
                        ingest.settings.max_attempts)
                for listing_id, ref in todo + retry])
            report.enqueued += sum(1 for r in results if r.status == "queued")
        if not todo and not full:
            break
        url = page.next_page_url
    report.seconds = round(time.monotonic() - started, 3)
    return report
