"""Dealer discovery through classic.com's seller directory, and dealer inventory syncs.

Each dealer found in the directory is fetched once on its profile page (website, inventory link) and
scored; it becomes a `dealer:<slug>` source, enabled automatically at confidence ≥ 0.70.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from vehicle_pipeline.http import FetchKind
from vehicle_pipeline.ingest.context import Ingest
from vehicle_pipeline.ingest.drain import StepReport
from vehicle_pipeline.ingest.index import IndexWalk, read_page, walk_index
from vehicle_pipeline.model import ParseError, SellerDirectoryPage, SellerKind, SellerRef
from vehicle_pipeline.store.records import save_snapshot
from vehicle_pipeline.store.sources import AUTO_ENABLE_CONFIDENCE


@dataclass
class DiscoveryReport(StepReport):
    pages: int = 0
    sellers_found: int = 0
    dealers: int = 0
    auction_houses: int = 0
    profiles_fetched: int = 0
    enabled: int = 0
    below_threshold: int = 0
    failed: int = 0
    blocked: int = 0


def dealer_source_name(seller: SellerRef) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (seller.name or seller.external_id).lower()).strip("-")
    return f"dealer:{slug or seller.external_id.lower()}"


def discover_sellers(ingest: Ingest, *, max_pages: int | None = None) -> DiscoveryReport:
    report = DiscoveryReport()
    started = time.monotonic()
    module = ingest.module("classic")
    url: str | None = module.index_url(ingest.settings.base_url("classic"), kind="dealer")
    seen: set[str] = set()
    sellers: list[SellerRef] = []
    while url and url not in seen and report.pages < (max_pages or ingest.settings.max_index_pages):
        seen.add(url)
        fetched = read_page(ingest, "classic", url, SellerDirectoryPage, report)
        if fetched is None:
            break
        result, page = fetched
        with ingest.db.connection() as conn:  # every page read is kept (replay needs the directory too)
            save_snapshot(conn, result.final_url, result.status or 200, result.content_type, result.content,
                          headers=result.headers)
        report.pages += 1
        sellers.extend(page.sellers)
        url = page.next_page_url
    report.sellers_found = len(sellers)
    dealers = [s for s in sellers if s.kind == SellerKind.DEALER]
    report.dealers = len(dealers)
    report.auction_houses = len(sellers) - len(dealers)
    for request, result in ingest.client.fetch_many([s.profile_url for s in dealers]):
        seller = next(s for s in dealers if s.profile_url == request.url)
        if result.kind is not FetchKind.OK:
            report.failed += 1
            report.note(f"{request.url}: {result.describe()}")
            continue
        report.profiles_fetched += 1
        with ingest.db.connection() as conn:
            save_snapshot(conn, result.final_url, result.status or 200, result.content_type, result.content,
                          headers=result.headers)
        try:
            profile = module.parse_seller(result.content, url=result.final_url)
        except ParseError as exc:
            report.failed += 1
            report.note(str(exc))
            continue
        merged = SellerRef(
            name=profile.name or seller.name, profile_url=seller.profile_url, external_id=seller.external_id,
            kind=profile.kind, website=profile.website, inventory_url=profile.inventory_url,
            location=profile.location or seller.location,
            listing_count=profile.listing_count if profile.listing_count is not None else seller.listing_count,
            confidence=max(profile.confidence, seller.confidence))
        if merged.kind != SellerKind.DEALER or not merged.inventory_url:
            report.below_threshold += 1
            continue
        health = ingest.registry.upsert(
            dealer_source_name(merged), "dealer", merged.inventory_url, confidence=merged.confidence,
            discovered=True,
            config={"inventory_url": merged.inventory_url, "profile_url": merged.profile_url,
                    "website": merged.website, "display_name": merged.name, "location": merged.location})
        if merged.confidence >= AUTO_ENABLE_CONFIDENCE and health.enabled:
            report.enabled += 1
        else:
            report.below_threshold += 1
    report.seconds = round(time.monotonic() - started, 3)
    return report


def sync_dealer(ingest: Ingest, dealer: str) -> IndexWalk:
    with ingest.db.connection() as conn:
        row = conn.execute("SELECT base_url, config->>'inventory_url' FROM sources WHERE name = %s",
                           (dealer,)).fetchone()
    if row is None:
        raise KeyError(f"unknown dealer source {dealer}")
    start = row[1] or ingest.module("dealer").index_url(row[0])
    return walk_index(ingest, dealer, start, full=True)
