"""Craigslist per metro: search pages in three layouts and 2024+ car postings.

Paths (below the craigslist prefix): search `/<metro>/search/cto`, postings
`/<metro>/<subarea>/cto/d/<slug>/<pid>.html` (no subarea segment where the metro has none).
Search layout per metro: `vancouver` answers with the sapi JSON, `sacramento` with the legacy
(≤2022) result rows, every other metro with the current static fallback list. Canadian metros show
CAD prices and km odometers, as the parser expects from the metro.
"""

from __future__ import annotations

from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, json_page, ld, money, page_number, paginate, stable
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sources.fields import normalize_vin, split_title

SOURCE = "craigslist"
SAPI_METROS = frozenset({"vancouver"})
LEGACY_METROS = frozenset({"sacramento"})
CANADIAN = frozenset({"vancouver", "toronto", "montreal", "calgary", "victoria"})
STATIC_PER_PAGE = 30
LEGACY_PER_PAGE = 120  # the legacy layout's fixed page size; the parser relies on it
_DEFAULT_SUBAREAS = ("",)


def _subareas(metro: str) -> tuple[str, ...]:
    try:
        from vehicle_pipeline.sample_site.world import METRO_BY_CODE

        m = METRO_BY_CODE.get(metro)
        return tuple(m.subareas) if m else _DEFAULT_SUBAREAS
    except ImportError:
        return _DEFAULT_SUBAREAS


def _subarea(listing: SampleListing) -> str:
    subs = _subareas(listing.metro or "")
    return subs[stable(listing.external_id, len(subs))]


def listing_path(listing: SampleListing) -> str:
    sub = _subarea(listing)
    mid = f"/{sub}" if sub else ""
    return f"/{listing.metro}{mid}/cto/d/{listing.slug}/{listing.external_id}.html"


def _canadian(listing: SampleListing) -> bool:
    return (listing.metro or "") in CANADIAN


def _odometer(listing: SampleListing) -> int:
    """The number the seller types: in the metro's unit."""
    car = listing.car
    want = "km" if _canadian(listing) else "mi"
    if car.mileage_unit == want:
        return car.mileage
    return round(car.mileage * 1.609344) if want == "km" else round(car.mileage / 1.609344)


def _makemodel(listing: SampleListing) -> str:
    car = listing.car
    return " ".join(p for p in (car.make, car.model, car.trim) if p)


def _hood(listing: SampleListing) -> str:
    return (listing.car.location or "").split(",")[0].strip()


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    _, make, model, trim = split_title(f"{car.year} {_makemodel(listing)}")
    if model and trim:
        model, trim = f"{model} {trim}", None
    vin = normalize_vin(car.vin)
    price = listing.asking_price if listing.asking_price and listing.asking_price > 0 else None
    return {
        "kind": "listing", "source": SOURCE, "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.external_id, "title": listing.title, "year": car.year, "make": make, "model": model,
        "trim": trim, "vin": vin, "vin_state": car.vin_state if vin else None, "mileage": _odometer(listing),
        "mileage_unit": "km" if _canadian(listing) else "mi", "outcome": None, "sale_price": None, "high_bid": None,
        "asking_price": price, "currency": listing.currency if price is not None else None, "bid_count": None,
        "comment_count": None, "view_count": None, "watcher_count": None, "ended_at": None, "seller": None,
        "buyer": None, "location": _hood(listing) or None, "lot_number": None, "no_reserve": None,
        "exterior_color": car.exterior_color, "interior_color": None, "transmission": car.transmission,
        "drivetrain": car.drivetrain, "engine": None, "body_style": car.body_style, "images": img_urls(listing, ctx),
    }


def _attr(key: str, label: str, value, link: bool = True) -> str:
    if not value:
        return ""
    inner = f'<a href="/search/cta?{esc(key)}=1">{esc(value)}</a>' if link else esc(value)
    return f'\n  <div class="attr {key}">\n   <span class="labl">{esc(label)}:</span>\n   <span class="valu">{inner}</span>\n  </div>'


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    from datetime import datetime, timedelta, timezone

    car = listing.car
    url = ctx.url(SOURCE, listing_path(listing))
    imgs = img_urls(listing, ctx)
    price = listing.asking_price if listing.asking_price and listing.asking_price > 0 else None
    offers = {"@type": "Offer", "priceCurrency": listing.currency,
              "availableAtOrFrom": {"@type": "Place", "address": {"@type": "PostalAddress", "addressLocality": _hood(listing)}}}
    if price is not None:
        offers["price"] = f"{price}.00"
    ld_post = {"offers": offers, "@context": "http://schema.org", "@type": "Product", "name": listing.title, "image": imgs,
               "description": listing.description}
    posted = datetime.fromtimestamp(listing.starts_at or ctx.now, tz=timezone(timedelta(hours=-8)))
    price_span = f' - <span class="price">{esc(money(price, listing.currency))}</span>' if price is not None else ""
    attrs = "".join([
        _attr("auto_vin", "VIN", car.vin, link=False),
        _attr("condition", "condition", "good"),
        _attr("auto_drivetrain", "drive", car.drivetrain),
        _attr("auto_fuel_type", "fuel", "gas"),
        _attr("auto_miles", "odometer", f"{_odometer(listing):,}", link=False),
        _attr("auto_paint", "paint color", car.exterior_color),
        _attr("auto_title_status", "title status", "clean"),
        _attr("auto_transmission", "transmission", car.transmission),
        _attr("auto_bodytype", "type", car.body_style),
    ])
    gallery = "".join(f'<div class="slide"><img src="{esc(u)}" title="{i}" alt=""></div>' for i, u in enumerate(imgs, 1))
    body = f"""<!DOCTYPE html>
<html><head><meta charset="UTF-8">
<title>{esc(listing.title)} - cars &amp; trucks - by owner - vehicle automotive sale - craigslist</title>
<link rel="canonical" href="{esc(url)}">
<meta property="og:url" content="{esc(url)}">
<script type="application/ld+json" id="ld_posting_data">{ld(ld_post)}</script>
</head><body class="posting">
<h1 class="postingtitle"><span class="postingtitletext"><span id="titletextonly">{esc(listing.title)}</span>{price_span}<span> ({esc(_hood(listing))})</span></span></h1>
<section class="userbody">
<figure class="iw multiimage"><div class="gallery"><span class="slider-info">image 1 of {len(imgs)}</span><div class="swipe"><div class="swipe-wrap">{gallery}</div></div></div></figure>
<div class="mapAndAttrs">
 <div class="mapbox"><div id="map" class="viewposting" data-latitude="37.77" data-longitude="-122.41" data-accuracy="5"></div></div>
 <div class="attrgroup"><div class="attr important"><span class="valu year">{car.year}</span><span class="valu makemodel"><a href="/search/cta?auto_make_model=x">{esc(_makemodel(listing))}</a></span></div></div>
 <div class="attrgroup">{attrs}
 </div>
</div>
<section id="postingbody"><div class="print-information print-qrcode-container"><p class="print-qrcode-label">QR Code Link to This Post</p></div>
{esc(listing.description)} My last car had VIN 1HGCM82633A004352, this one is listed above.
</section>
<div class="postinginfos">
 <p class="postinginfo">post id: {esc(listing.external_id)}</p>
 <p class="postinginfo reveal">posted: <time class="date timeago" datetime="{posted.strftime('%Y-%m-%dT%H:%M:%S%z')}">{posted.strftime('%Y-%m-%d %H:%M')}</time></p>
</div></section></body></html>"""
    return html_page(body)


# ------------------------------------------------------------------------------------------------
def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    metros = sorted({l.metro for l in listings or [] if l.metro})
    if not metros:
        try:
            from vehicle_pipeline.sample_site.world import METROS

            metros = [m.code for m in METROS]
        except ImportError:
            metros = []
    return [f"/{m}/search/cto" for m in metros]


def _metro_of_path(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) == 3 and parts[1:] == ["search", "cto"]:
        return parts[0]
    return None


def _search_url(ctx: SiteContext, metro: str, query: str = "") -> str:
    return ctx.url(SOURCE, f"/{metro}/search/cto") + query


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    metro = _metro_of_path(path)
    if metro is None:
        return None
    mine = [l for l in listings if l.metro == metro]
    if metro in SAPI_METROS:
        return json_page(_sapi(metro, mine, ctx))
    if metro in LEGACY_METROS:
        others = [l for l in listings if l.metro != metro][:2]
        return html_page(_legacy(metro, mine, others, query, ctx))
    return html_page(_static(metro, mine, query, ctx))


def _sapi(metro: str, mine: list[SampleListing], ctx: SiteContext) -> dict:
    subs = [s for s in _subareas(metro) if s] or [""]
    locations = [0] + [[16, metro, s] if s else [16, metro] for s in subs]
    ids = [int(l.external_id) for l in mine if l.external_id.isdigit()]
    min_id = (min(ids) - 1000) if ids else 7_900_000_000
    items = []
    for l in mine:
        sub = _subarea(l)
        loc = (subs.index(sub) + 1) if sub in subs else 1
        price = l.asking_price if l.asking_price and l.asking_price > 0 else -1
        items.append([int(l.external_id) - min_id, 1000, 145, price, f"{loc}:{loc}~49.25~-123.1", "0ab12",
                      [13, "tok"], [4] + [f"3:00a0a_{i}_0ab12" for i in range(len(l.images))], [6, l.slug],
                      [9, _odometer(l)], [10, money(price, "CAD") if price > 0 else ""], l.title])
    canonical = _search_url(ctx, metro).split(":", 1)[1]
    cur = "CAD" if metro in CANADIAN else "USD"
    return {"apiVersion": 8, "data": {
        "areas": {"16": {"areaUnits": "ft", "currency": cur, "distanceUnits": "km" if cur == "CAD" else "mi", "name": metro}},
        "canonicalUrl": canonical, "categoryAbbr": "cto",
        "decode": {"locationDescriptions": [0] + [s or metro for s in subs], "locations": locations,
                   "minPostedDate": ctx.now - 86400 * 60, "minPostingId": min_id, "version": 2},
        "items": items, "totalResultCount": len(items), "pageTitle": f"{metro} cars & trucks - by owner"}, "errors": []}


def _legacy(metro: str, mine: list[SampleListing], others: list[SampleListing], query: dict[str, str], ctx: SiteContext) -> str:
    offset = page_number(query, "s", 0)
    chunk = mine[offset : offset + LEGACY_PER_PAGE]

    def row(l: SampleListing) -> str:
        u = ctx.url(SOURCE, listing_path(l))
        price = l.asking_price if l.asking_price and l.asking_price > 0 else None
        p = f'<span class="result-price">{esc(money(price, l.currency))}</span>' if price is not None else ""
        return f"""<li class="result-row" data-pid="{esc(l.external_id)}">
  <a href="{esc(u)}" class="result-image gallery" data-ids="1:00a0a_x">{p}</a>
  <p class="result-info"><time class="result-date" datetime="2026-01-01 10:00">Jan  1</time>
  <a href="{esc(u)}" data-id="{esc(l.external_id)}" class="result-title hdrlnk">{esc(l.title)}</a>
  <span class="result-meta">{p}<span class="result-hood"> ({esc(_hood(l))})</span></span></p></li>"""

    nearby = ""
    if others and chunk:
        nearby = '<h4 class="ban nearby"><span class="bantext">Few local results found. Here are some from nearby areas.</span></h4>' + "".join(row(l) for l in others)
    nxt = offset + LEGACY_PER_PAGE
    next_href = _search_url(ctx, metro, f"?s={nxt}") if nxt < len(mine) else ""
    canonical = _search_url(ctx, metro, f"?s={offset}" if offset else "")
    return f"""<!DOCTYPE html>
<html class="no-js"><head><title>{esc(metro)} cars &amp; trucks - by owner - craigslist</title>
<link rel="canonical" href="{esc(canonical)}"></head><body class="search">
<div class="paginator buttongroup"><span class="buttons"><span class="button pagenum"><span class="range"><span class="rangeFrom">{offset + 1 if chunk else 0}</span> - <span class="rangeTo">{offset + len(chunk)}</span></span> / <span class="totalcount">{len(mine)}</span></span>
<a href="{esc(next_href)}" class="button next" title="next page">next &gt; </a></span></div>
<div class="content" id="sortable-results"><ul class="rows">{''.join(row(l) for l in chunk)}{nearby}</ul></div></body></html>"""


def _static(metro: str, mine: list[SampleListing], query: dict[str, str], ctx: SiteContext) -> str:
    page = page_number(query) or 1
    chunk, pages = paginate(mine, page, STATIC_PER_PAGE)
    lis = []
    for l in chunk:
        price = l.asking_price if l.asking_price and l.asking_price > 0 else None
        p = f'<div class="price">{esc(money(price, l.currency))}</div>' if price is not None else ""
        lis.append(f"""<li class="cl-static-search-result" title="{esc(l.title)}">
  <a href="{esc(ctx.url(SOURCE, listing_path(l)))}"><div class="title">{esc(l.title)}</div>
  <div class="details">{p}<div class="location">{esc(_hood(l))}</div></div></a></li>""")
    canonical = _search_url(ctx, metro, f"?page={page}" if page > 1 else "")
    links = ""
    if page > 1:
        links += f'<link rel="prev" href="{esc(_search_url(ctx, metro, f"?page={page - 1}" if page > 2 else ""))}">'
    if page < pages:
        links += f'<link rel="next" href="{esc(_search_url(ctx, metro, f"?page={page + 1}"))}">'
    return f"""<!DOCTYPE html>
<html><head><title>{esc(metro)} cars &amp; trucks - by owner - craigslist</title>
<link rel="canonical" href="{esc(canonical)}">{links}</head><body>
<div class="cl-content"><div class="cl-search-results"><div class="results cl-results-page"></div></div>
<ol class="cl-static-search-results"><li class="cl-static-hub-links"><a href="/search/ctd">dealers</a></li>{''.join(lis)}</ol></div>
<noscript>Please enable JavaScript</noscript></body></html>"""


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    metro = _metro_of_path(path)
    if metro is None:
        return None
    mine = [l for l in listings if l.metro == metro]

    def item(l: SampleListing) -> dict:
        price = l.asking_price if l.asking_price and l.asking_price > 0 else None
        return {"url": ctx.url(SOURCE, listing_path(l)), "external_id": l.external_id, "title": l.title,
                "outcome": None, "price": price, "ended_at": None, "no_reserve": None}

    base = {"kind": "index", "source": SOURCE}
    if metro in SAPI_METROS:
        return {**base, "url": _search_url(ctx, metro), "total_items": len(mine), "page": None, "pages_total": None,
                "next_page_url": None, "items": [item(l) for l in mine]}
    if metro in LEGACY_METROS:
        import math

        offset = page_number(query, "s", 0)
        chunk = mine[offset : offset + LEGACY_PER_PAGE]
        nxt = offset + LEGACY_PER_PAGE
        if not chunk:
            return {**base, "url": _search_url(ctx, metro, f"?s={offset}" if offset else ""), "total_items": 0,
                    "page": None, "pages_total": None, "next_page_url": None, "items": []}
        return {**base, "url": _search_url(ctx, metro, f"?s={offset}" if offset else ""), "total_items": len(mine),
                "page": offset // LEGACY_PER_PAGE + 1 if chunk else None, "pages_total": math.ceil(len(mine) / LEGACY_PER_PAGE),
                "next_page_url": _search_url(ctx, metro, f"?s={nxt}") if nxt < len(mine) else None,
                "items": [item(l) for l in chunk]}
    page = page_number(query) or 1
    chunk, pages = paginate(mine, page, STATIC_PER_PAGE)
    if not chunk:
        return {**base, "url": _search_url(ctx, metro, f"?page={page}" if page > 1 else ""), "total_items": 0,
                "page": None, "pages_total": None, "next_page_url": None, "items": []}
    return {**base, "url": _search_url(ctx, metro, f"?page={page}" if page > 1 else ""), "total_items": None,
            "page": page, "pages_total": None,
            "next_page_url": _search_url(ctx, metro, f"?page={page + 1}") if page < pages else None,
            "items": [item(l) for l in chunk]}

