"""Mecum lot pages (Next.js `__NEXT_DATA__`) and the Algolia-style `mecum_lots` search endpoint.

Lot pages live at `/lots/<id>/<slug>/`; the search response at `/1/indexes/mecum_lots?page=<0-based>`
(`hitsPerPage` defaults to 20). See `vehicle_pipeline.sources.mecum` for the keys the parser reads.
"""

from __future__ import annotations

from urllib.parse import urlencode

from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, json_page, ld, page_number, paginate
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

SOURCE = "mecum"
INDEX_PATH = "/1/indexes/mecum_lots"
HITS_PER_PAGE = 20
_RESULT = {"sold": "sold", "sold_after": "sold", "bid_to": "not-sold", "no_sale": "not-sold", "withdrawn": "withdrawn"}


def listing_path(listing: SampleListing) -> str:
    return f"/lots/{listing.external_id}/{listing.slug}/"


def _run_date(listing: SampleListing) -> str | None:
    if listing.outcome == "unknown" or listing.ends_at is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(listing.ends_at, tz=timezone.utc).strftime("%Y-%m-%d")


def _shown(listing: SampleListing) -> tuple[str, int | None, int | None]:
    """(outcome the page shows, hammerPrice, currentBid)."""
    o = listing.outcome or "unknown"
    if o in ("sold", "sold_after"):
        price = listing.sale_price
        return "sold", price, price or listing.high_bid
    if o == "bid_to":
        return ("bid_to" if listing.high_bid else "no_sale"), None, listing.high_bid
    if o == "no_sale":
        return "no_sale", None, None
    if o == "withdrawn":
        return "withdrawn", None, None
    if o == "live":
        return ("live" if _run_date(listing) else "unknown"), None, listing.high_bid
    return "unknown", None, listing.high_bid


def _post(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    outcome, hammer, current = _shown(listing)
    result = _RESULT.get(listing.outcome or "")
    if listing.outcome == "bid_to" and not listing.high_bid:
        result = "not-sold"
    run = _run_date(listing)
    return {
        "id": f"cG9zdDo{listing.external_id}",
        "databaseId": int(listing.external_id) if listing.external_id.isdigit() else listing.external_id,
        "slug": listing.slug,
        "link": ctx.url(SOURCE, listing_path(listing)),
        "uri": listing_path(listing),
        "title": listing.title,
        "vinSerial": car.vin,
        "lotNumber": listing.lot_number,
        "lotSeries": (listing.lot_number or "")[:1] or None,
        "hammerPrice": str(hammer) if hammer else None,
        "currentBid": current or 0,
        "saleResults": {"edges": [{"node": {"slug": result, "name": result.replace("-", " ").title()}}] if result else []},
        "lowEstimate": listing.low_estimate,
        "highEstimate": listing.high_estimate,
        "odometer": car.mileage,
        "odometerUnits": "K" if car.mileage_unit == "km" else "M",
        "isActualMiles": False,
        "color": car.exterior_color,
        "interior": car.interior_color,
        "transmission": car.transmission,
        "engine": car.engine,
        "engineNumber": None,
        "frameNumber": None,
        "lotYears": {"edges": [{"node": {"name": str(car.year)}}]},
        "lotMakes": {"edges": [{"node": {"name": car.make}}]},
        "lotModels": {"edges": [{"node": {"name": car.model}}]},
        "auctionsTax": {"edges": [{"node": {"auctionId": listing.sale_code, "name": listing.description or None}}]},
        "runDates": {"edges": [{"node": {"slug": run}}] if run else []},
        "collectionsTax": {"edges": [{"node": {"name": "No Reserve", "slug": "no-reserve"}}] if listing.no_reserve else []},
        "blocks": [{"attributes": {"content": f"<p>{esc(listing.description)}. Highlights include a recent service.</p>"}}],
        "images": [{"url": u, "width": 1600} for u in img_urls(listing, ctx)],
    }


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    outcome, hammer, current = _shown(listing)
    trim = car.trim if car.trim and listing.title == f"{car.year} {car.make} {car.model} {car.trim}" else None
    high_bid = {"sold": hammer or current, "bid_to": current, "live": current, "unknown": current}.get(outcome)
    return {
        "kind": "listing", "source": SOURCE, "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.external_id, "title": listing.title, "year": car.year, "make": car.make,
        "model": car.model, "trim": trim, "vin": car.vin, "vin_state": car.vin_state if car.vin else None,
        "mileage": car.mileage, "mileage_unit": car.mileage_unit, "outcome": outcome,
        "sale_price": hammer if outcome == "sold" else None, "high_bid": high_bid, "asking_price": None,
        "currency": "USD", "bid_count": None, "comment_count": None, "view_count": None, "watcher_count": None,
        "ended_at": None, "seller": None, "buyer": None, "location": None, "lot_number": listing.lot_number,
        "no_reserve": True if listing.no_reserve else None, "exterior_color": car.exterior_color,
        "interior_color": car.interior_color, "transmission": car.transmission, "drivetrain": None,
        "engine": car.engine, "body_style": None, "images": img_urls(listing, ctx),
    }


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    post = _post(listing, ctx)
    outcome, hammer, current = _shown(listing)
    badge = {"sold": f"Sold ${hammer or 0:,}", "bid_to": f"High Bid ${current or 0:,}", "live": "Upcoming"}.get(outcome, "")
    data = {
        "props": {"pageProps": {"post": post, "relatedLots": []}, "__N_SSP": True},
        "page": "/lots/[...slug]",
        "query": {"slug": [listing.external_id, listing.slug]},
        "buildId": "sample-build-7",
        "isFallback": False,
        "gssp": True,
        "scriptLoader": [],
    }
    car_ld = {"@context": "https://schema.org", "@type": "Car", "name": listing.title, "image": img_urls(listing, ctx)}
    body = f"""<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<title>{esc(listing.title)} | Lot {esc(listing.lot_number)} | {esc(listing.description)} | Mecum Auctions</title>
<link rel="preload" href="/_next/static/css/a81b.css" as="style"/>
<script type="application/ld+json">{ld(car_ld)}</script></head>
<body><div id="__next"><main class="Layout_main__aB12c">
<div class="LotHeader_header__9Kx1q"><span class="LotHeader_num__xqgKs">Lot {esc(listing.lot_number)}</span>
<h1 class="LotHeader_title__UCXNK">{esc(listing.title)}</h1>
<div class="LotHeader_odometerSerial__4U5fu">Odometer {listing.car.mileage:,} | VIN {esc(listing.car.vin)}</div>
<div class="PriceBadge_badge__7hQ2w">{esc(badge)}</div></div>
<ul class="List_list__xS3rG"><li>{esc(listing.car.engine)}</li><li>{esc(listing.car.transmission)}</li><li>Sold for a song? Ask our specialists.</li></ul>
</main></div>
<script id="__NEXT_DATA__" type="application/json">{ld(data)}</script>
<script src="/_next/static/chunks/main-8a1c.js" defer=""></script>
</body></html>"""
    return html_page(body)


def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    return [INDEX_PATH]


def _hit(listing: SampleListing, ctx: SiteContext) -> dict:
    outcome, hammer, current = _shown(listing)
    result = {"sold": "sold", "bid_to": "not-sold", "no_sale": "not-sold", "withdrawn": "withdrawn"}.get(outcome)
    hit = {
        "objectID": listing.external_id,
        "title": listing.title,
        "permalink": ctx.url(SOURCE, listing_path(listing)),
        "lotNumber": listing.lot_number,
        "hammerPrice": hammer,
        "currentBid": current,
        "runDate": _run_date(listing),
        "auctionId": listing.sale_code,
        "_highlightResult": {"title": {"value": listing.title, "matchLevel": "none"}},
    }
    if result:
        hit["saleResult"] = result
    if listing.no_reserve:
        hit["noReserve"] = True
    return hit


def _index_url(ctx: SiteContext, query: dict[str, str]) -> str:
    return ctx.url(SOURCE, INDEX_PATH) + (f"?{urlencode(query)}" if query else "")


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    if path.rstrip("/") not in (INDEX_PATH, INDEX_PATH + "/query"):
        return None
    page0 = page_number(query, default=0)
    per = page_number(query, "hitsPerPage", HITS_PER_PAGE) or HITS_PER_PAGE
    chunk, pages = paginate(listings, page0 + 1, per)
    return json_page(
        {
            "hits": [_hit(l, ctx) for l in chunk],
            "nbHits": len(listings),
            "page": page0,
            "nbPages": pages,
            "hitsPerPage": per,
            "exhaustiveNbHits": True,
            "query": query.get("query", ""),
            "params": urlencode({"query": query.get("query", ""), "page": page0, "hitsPerPage": per}),
            "processingTimeMS": 2,
        }
    )


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    if path.rstrip("/") not in (INDEX_PATH, INDEX_PATH + "/query"):
        return None
    from vehicle_pipeline.sources._pagekit import with_query

    page0 = page_number(query, default=0)
    per = page_number(query, "hitsPerPage", HITS_PER_PAGE) or HITS_PER_PAGE
    chunk, pages = paginate(listings, page0 + 1, per)
    url = _index_url(ctx, query)
    items = []
    for l in chunk:
        outcome, hammer, current = _shown(l)
        price = hammer if outcome == "sold" else current if outcome in ("bid_to", "live") else None
        items.append({"url": ctx.url(SOURCE, listing_path(l)), "external_id": l.external_id, "title": l.title,
                      "outcome": outcome, "price": price, "ended_at": None, "no_reserve": True if l.no_reserve else None})
    return {"kind": "index", "source": SOURCE, "url": url, "total_items": len(listings), "page": page0 + 1,
            "pages_total": pages, "next_page_url": with_query(url, page=page0 + 1) if page0 + 1 < pages else None,
            "items": items}
