"""Broad Arrow results/available lists and lot pages (structure: `vehicle_pipeline.sources.broadarrow`).

Lot pages: `/vehicles/<saleCode>_<lot>/<slug>`; lists: `/vehicles/results?page=N` (ended lots) and
`/vehicles/available?page=N` (upcoming/open lots), 12 cards per page.
"""

from __future__ import annotations

from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, money, page_number, paginate
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sources.fields import normalize_vin, split_title

SOURCE = "broadarrow"
PER_PAGE = 12
RESULTS, AVAILABLE = "/vehicles/results", "/vehicles/available"


def listing_path(listing: SampleListing) -> str:
    return f"/vehicles/{listing.external_id}/{listing.slug}"


def _sale_name(listing: SampleListing) -> str:
    return (listing.description or "Broad Arrow Auction").split(",")[0].strip()


def _place(listing: SampleListing) -> str | None:
    parts = (listing.description or "").split(",", 1)
    return parts[1].strip() if len(parts) == 2 and parts[1].strip() else None


def _shown(listing: SampleListing) -> tuple[str, int | None, int | None]:
    """(outcome, sale_price, high_bid) as the page shows them."""
    o = listing.outcome or "unknown"
    if o in ("sold", "sold_after"):
        return "sold", listing.sale_price, listing.sale_price
    if o == "bid_to":
        return ("bid_to", None, listing.high_bid) if listing.high_bid else ("no_sale", None, None)
    if o in ("no_sale", "withdrawn"):
        return o, None, None
    if listing.low_estimate is not None:
        return "live", None, None
    return "unknown", None, None


def _result_block(listing: SampleListing) -> str:
    o, sale, bid = _shown(listing)
    cur = listing.currency
    if o == "sold":
        return f'<div class="vehicle-result sold">Sold for <span class="amount">{money(sale, cur)}</span></div>'
    if o == "bid_to":
        return f'<div class="vehicle-result not-sold">Not Sold <span class="high-bid">High Bid {money(bid, cur)}</span></div>'
    if o == "no_sale":
        return '<div class="vehicle-result not-sold">Not Sold</div>'
    if o == "withdrawn":
        return '<div class="vehicle-result withdrawn">Withdrawn</div>'
    return ""


def _estimate(listing: SampleListing) -> str:
    if listing.low_estimate is None:
        return ""
    rng = f"{money(listing.low_estimate, listing.currency)} - {money(listing.high_estimate, listing.currency)}"
    return f'<div class="vehicle-estimate">Estimate: <span class="currency-switch" data-currency="{esc(listing.currency)}">{esc(rng)}</span></div>'


def _odometer(listing: SampleListing) -> str:
    unit = "km" if listing.car.mileage_unit == "km" else "miles"
    return f"{listing.car.mileage:,} {unit}"


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    o, sale, bid = _shown(listing)
    year, make, model, trim = split_title(listing.title)
    currency = listing.currency if (o in ("sold", "bid_to", "live") and (sale or bid or listing.low_estimate)) else None
    vin = normalize_vin(car.vin)
    return {
        "kind": "listing", "source": SOURCE, "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.external_id, "title": listing.title, "year": year, "make": make, "model": model,
        "trim": trim, "vin": vin, "vin_state": car.vin_state if vin else None, "mileage": car.mileage,
        "mileage_unit": car.mileage_unit, "outcome": o, "sale_price": sale, "high_bid": bid, "asking_price": None,
        "currency": currency, "bid_count": None, "comment_count": None, "view_count": None, "watcher_count": None,
        "ended_at": None, "seller": None, "buyer": None, "location": _place(listing), "lot_number": listing.lot_number,
        "no_reserve": None, "exterior_color": car.exterior_color, "interior_color": car.interior_color,
        "transmission": car.transmission, "drivetrain": None, "engine": car.engine, "body_style": None,
        "images": img_urls(listing, ctx),
    }


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    car = listing.car
    imgs = img_urls(listing, ctx)
    gallery = "".join(
        f'<img src="{esc(u)}" alt="">' if i == 0 else f'<img data-src="{esc(u)}" src="/img/placeholder.gif" alt="">'
        for i, u in enumerate(imgs)
    )
    place = _place(listing)
    specs = [("Chassis No.", car.vin), ("Engine", car.engine), ("Odometer", _odometer(listing)),
             ("Transmission", car.transmission), ("Exterior", car.exterior_color), ("Interior", car.interior_color),
             ("Location", place)]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in specs if v)
    nr = '<span class="badge">No Reserve</span>' if listing.no_reserve else ""
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(listing.title)} | {esc(_sale_name(listing))} | Broad Arrow Auctions</title>
<link rel="canonical" href="{esc(ctx.url(SOURCE, listing_path(listing)))}">
<meta property="og:image" content="{esc(imgs[0] if imgs else '')}">
</head><body class="vehicle-detail">
<header class="site-header"><nav><a href="{esc(ctx.url(SOURCE, AVAILABLE))}">Available</a> <a href="{esc(ctx.url(SOURCE, RESULTS))}">Results</a></nav></header>
<div class="vehicle-info-header">
 <p class="lot-sale">Lot {esc(listing.lot_number)} | {esc(_sale_name(listing))}</p>
 <h1 class="vehicle-title">{esc(listing.title)}</h1>{nr}
 <div class="photo-counter">1 / {len(imgs)}</div>
</div>
<div class="vehicle-price">{_estimate(listing)}{_result_block(listing)}</div>
<ul class="vehicle-highlights"><li>{esc(car.engine)}</li><li>Finished in {esc(car.exterior_color)}</li><li>Comparable cars have sold for more</li></ul>
<div class="vehicle-specs"><dl>{dl}</dl></div>
<div class="vehicle-gallery">{gallery}</div>
<div class="specialist-card"><h4>Specialist</h4><p>Contact our team about this lot.</p></div>
</body></html>"""
    return html_page(body)


def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    return [RESULTS, AVAILABLE]


def _subset(path: str, listings: list[SampleListing]) -> list[SampleListing] | None:
    p = path.rstrip("/")
    if p == RESULTS:
        return [l for l in listings if _shown(l)[0] not in ("live", "unknown")]
    if p == AVAILABLE:
        return [l for l in listings if _shown(l)[0] in ("live", "unknown")]
    return None


def _label(listing: SampleListing) -> str:
    o, sale, bid = _shown(listing)
    cur = listing.currency
    if o == "sold":
        return f"Sold for     {money(sale, cur)}"
    if o == "bid_to":
        return f"High Bid     {money(bid, cur)}"
    if o == "no_sale":
        return "Not Sold"
    if o == "withdrawn":
        return "Withdrawn"
    if listing.low_estimate is not None:
        return f"Estimate     {money(listing.low_estimate, cur)} - {money(listing.high_estimate, cur)}"
    return "Inquire"


def _page_url(ctx: SiteContext, path: str, page: int) -> str:
    base = ctx.url(SOURCE, path.rstrip("/"))
    return f"{base}?page={page}" if page > 1 else base


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    subset = _subset(path, listings)
    if subset is None:
        return None
    page = page_number(query) or 1
    chunk, pages = paginate(subset, page, PER_PAGE)
    cards = []
    for l in chunk:
        imgs = img_urls(l, ctx)
        bg = f' style="background-image:url({esc(imgs[0])})"' if imgs else ""
        cards.append(f"""<div class="ft-vehicle-item grid-block">
  <a class="vehicle-card" href="{esc(ctx.url(SOURCE, listing_path(l)))}" title="{esc(l.title)}">
   <div class="auto is-vlp vehicle-ft-image-bg"{bg}></div>
   <div class="bottom"><div class="top"><span class="lot">Lot {esc(l.lot_number)}</span></div>
    <div class="price"><div class="top">{esc(_sale_name(l))}</div><div class="bot"><span>{esc(_label(l))}</span></div></div></div>
  </a></div>""")
    links = "".join(f'<li><a href="{esc(_page_url(ctx, path, n))}">{n}</a></li>' for n in range(1, pages + 1) if n != page)
    nxt = f'<li><a href="{esc(_page_url(ctx, path, page + 1))}" rel="next">&rsaquo;</a></li>' if page < pages else ""
    empty = '<p class="no-results">No vehicles found.</p>' if not chunk else ""
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Vehicles | Broad Arrow Auctions</title>
<link rel="canonical" href="{esc(_page_url(ctx, path, page))}"></head>
<body><section class="vehicle-grid" data-total-results="{len(subset)}">{''.join(cards)}{empty}</section>
<ul class="pagination">{links}{nxt}</ul><footer><p>Cars sold for record prices at our sales.</p></footer></body></html>"""
    return html_page(body)


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    subset = _subset(path, listings)
    if subset is None:
        return None
    page = page_number(query) or 1
    chunk, pages = paginate(subset, page, PER_PAGE)
    items = []
    for l in chunk:
        o, sale, bid = _shown(l)
        items.append({"url": ctx.url(SOURCE, listing_path(l)), "external_id": l.external_id, "title": l.title,
                      "outcome": o if o != "unknown" else "unknown", "price": sale if o == "sold" else bid if o == "bid_to" else None,
                      "ended_at": None, "no_reserve": None})
    if not chunk:
        return {"kind": "index", "source": SOURCE, "url": _page_url(ctx, path, page), "total_items": 0, "page": None,
                "pages_total": None, "next_page_url": None, "items": []}
    return {"kind": "index", "source": SOURCE, "url": _page_url(ctx, path, page), "total_items": len(subset),
            "page": page, "pages_total": pages,
            "next_page_url": _page_url(ctx, path, page + 1) if page < pages else None, "items": items}
