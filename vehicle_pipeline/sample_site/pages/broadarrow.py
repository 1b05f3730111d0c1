"""Broad Arrow results/available lists and lot pages (structure: `vehicle_pipeline.sources.broadarrow`).

Lot pages: `/vehicles/<saleCode>_<lot>/<slug>`; lists: `/vehicles/results?page=N` (ended lots) and
`/vehicles/available?page=N` (upcoming/open lots), 12 cards per page.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

from vehicle_pipeline.sample_site import truth
from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, money, page_number, paginate
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

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
    year, make, model, trim = truth.title_parts(car, listing.title)
    currency = listing.currency if (o in ("sold", "bid_to", "live") and (sale or bid or listing.low_estimate)) else None
    vin = truth.vin(car.vin)
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


# ---------------------------------------------------------------- page chrome
#
# No Broad Arrow page is in the corpus (SELECTORS.md §4 has the card markup and a description of the lot
# page). Shaped like an auction house's CMS site: critical CSS inlined in <head>, Organization, Event and
# BreadcrumbList JSON-LD, a mega-menu of upcoming auctions and featured lots, the lot's long catalogue
# essay, a specialist card, a "More from this auction" carousel built from the same `ft-vehicle-item`
# cards as the results list (other lots, with their results and estimates), a newsletter form, a big
# footer and the front-end app's config script. A lot page comes to ~130 KB, a results page to ~135 KB.

_PREFIX = "/broadarrow"
_APP_STRINGS = ('<div class="ft-vehicle-item grid-block"><a class="vehicle-card" href="', '<div class="vehicle-result sold">Sold for ',
                '<p class="lot-sale">Lot ', '<span class="currency-switch" data-currency="USD">')


def _card(car: dict, sale: str, code: str) -> str:
    lot = car["id"] % 300
    href = f"{_PREFIX}/vehicles/{code}_{lot:03d}/{car['key']}"
    label = {"Sold for": f"Sold for     ${car['price']:,}", "Bid to": f"High Bid     ${car['price']:,}",
             "Current Bid": f"Estimate     ${car['price']:,} - ${car['price'] * 5 // 4:,}"}[car["result"]]
    return (f'<div class="ft-vehicle-item grid-block">\n  <a class="vehicle-card" href="{esc(href)}" title="{esc(car["title"])}">'
            f'\n   <div class="auto is-vlp vehicle-ft-image-bg" style="background-image:url(/_img/broadarrow/related/{car["id"]}.jpg)"></div>'
            f'\n   <div class="bottom"><div class="top"><span class="lot">Lot {lot:03d}</span></div>'
            f'\n    <div class="price"><div class="top">{esc(sale)}</div><div class="bot"><span>{esc(label)}</span></div></div></div>\n  </a></div>')


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("broadarrow-site")
    auctions = [(ch.title_words(r, 2) + " Auction 2026", f"{ch.ident(r, 2)}26") for _ in range(9)]
    featured = ch.other_cars(r, 12)
    menu_auctions = "".join(f'<li><a href="{_PREFIX}/auctions/{code}">{esc(name)}</a><span class="date">{r.randint(1, 28)} '
                            f'{r.choice(("March", "May", "August", "October"))} 2026</span></li>' for name, code in auctions)
    menu_featured = "".join(f'<li class="featured-lot"><a href="{_PREFIX}/vehicles/{auctions[0][1]}_{c["id"] % 300:03d}/{c["key"]}">'
                            f'{esc(c["title"])}</a><span class="estimate">Estimate ${c["price"]:,} - ${c["price"] * 5 // 4:,}</span></li>'
                            for c in featured)
    header = (f'<header class="site-header"><div class="utility-bar"><a href="{_PREFIX}/login">Log In</a><a href="{_PREFIX}/register">Register to Bid</a>'
              f'<div class="currency-picker"><button data-currency="USD">USD</button><button data-currency="EUR">EUR</button>'
              f'<button data-currency="GBP">GBP</button></div></div><nav class="main-nav"><a class="logo" href="{_PREFIX}/">'
              f'<svg viewBox="0 0 200 40"><path d="{ch.svg_path(r, 60)}"></path></svg></a>'
              f'<ul class="mega-menu"><li><a href="{_PREFIX}/auctions">Auctions</a><ul class="mega-menu__auctions">{menu_auctions}</ul></li>'
              f'<li><a href="{_PREFIX}/vehicles/available">Available</a><ul class="mega-menu__featured">{menu_featured}</ul></li>'
              f'<li><a href="{_PREFIX}/vehicles/results">Results</a></li><li><a href="{_PREFIX}/private-sales">Private Sales</a></li></ul>'
              f'{ch.menu(r, _PREFIX, "secondary-menu", 5, 12)}</nav></header>')
    head = (ch.meta_tags(r, "broadarrowauctions", "Broad Arrow Auctions: collector car auctions and private sales.")
            + ch.tracking_tags(r, "broadarrow")
            + f'<style id="critical-css">{ch.css(r, 36000, "ba")}</style>'
            + ch.ld_script(ch.organization_ld("Broad Arrow Auctions", f"{_PREFIX}/", f"{_PREFIX}/logo.svg"))
            + ch.script("window.Cookiebot={consented:false};" + ch.js(r, 2500), id="Cookiebot", data_cbid=ch.hexid(r, 32)))
    app = ch.script("window.__APP_CONFIG__ = " + json.dumps({ch.ident(r, 10): ch.words(r, 12) for _ in range(160)}) + ";"
                    + ch.js(r, 22000, _APP_STRINGS, every=6), id="app-config")
    filters = ch.checkbox_facets(r, 5, (12, 40), "filter-group", 90)

    def essay(i: int) -> str:
        return ch.paragraphs(ch.rng("broadarrow-essay", i), 22, 4, 9)

    def carousel(i: int) -> str:
        cr = ch.rng("broadarrow-carousel", i)
        name, code = auctions[i % len(auctions)]
        return ('<section class="related-lots"><h2>More from this auction</h2><div class="related-lots__track">'
                + "".join(_card(c, name, code) for c in ch.other_cars(cr, 12)) + "</div></section>")

    return SimpleNamespace(
        head=head, header=header, app=app, filters=f'<aside class="vehicle-filters"><form action="{_PREFIX}/vehicles/results">{filters}</form></aside>',
        footer=ch.footer(r, _PREFIX, "Broad Arrow Group", 5, 10), cookie=ch.cookie_banner(r), sprite=ch.svg_sprite(r, 24),
        essay=ch.Pool(12, essay), carousel=ch.Pool(9, carousel),
        chunks=ch.external_scripts(r, ("www.broadarrowauctions.com/build/assets",), 9),
        newsletter=(f'<section class="newsletter"><h3>{ch.sentence(r, 4, 8)}</h3><form action="{_PREFIX}/newsletter" method="post">'
                    f'<input type="email" name="email" placeholder="Email"><input type="hidden" name="_token" value="{ch.hexid(r, 40)}">'
                    f'<button type="submit">Subscribe</button></form></section>'),
    )


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
    site = _site()
    url = ctx.url(SOURCE, listing_path(listing))
    event = {"@context": "https://schema.org", "@type": "Event", "name": _sale_name(listing), "location": {"@type": "Place", "name": _place(listing) or ""},
             "organizer": {"@type": "Organization", "name": "Broad Arrow Auctions"},
             "offers": {"@type": "AggregateOffer", "lowPrice": 25000, "highPrice": 4500000, "priceCurrency": listing.currency}}
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), (_sale_name(listing), ctx.url(SOURCE, "/auctions")), (listing.title, url)])
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(listing.title)} | {esc(_sale_name(listing))} | Broad Arrow Auctions</title>
<link rel="canonical" href="{esc(url)}">
<meta property="og:image" content="{esc(imgs[0] if imgs else '')}">
{site.head}{ch.ld_script(event)}{ch.ld_script(crumbs)}
</head><body class="vehicle-detail">{site.sprite}
{site.header}
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
<div class="vehicle-description">{site.essay.pick(listing.external_id)}</div>
<div class="specialist-card"><h4>Specialist</h4><p>Contact our team about this lot.</p></div>
{site.carousel.pick(listing.external_id)}
{site.newsletter}
{site.footer}{site.cookie}
{site.app}{site.chunks}
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
    site = _site()
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Vehicles | Broad Arrow Auctions</title>
<link rel="canonical" href="{esc(_page_url(ctx, path, page))}">{site.head}</head>
<body class="vehicle-listing">{site.sprite}{site.header}<main class="vehicles-page"><h1>{'Results' if path.rstrip('/') == RESULTS else 'Available Vehicles'}</h1>
{site.filters}<div class="vehicle-sort"><label>Sort by <select name="sort"><option>Lot number</option><option>Price: high to low</option>
<option>Price: low to high</option><option>Year</option></select></label></div>
<section class="vehicle-grid" data-total-results="{len(subset)}">{''.join(cards)}{empty}</section>
<ul class="pagination">{links}{nxt}</ul></main><footer><p>Cars sold for record prices at our sales.</p></footer>{site.newsletter}{site.footer}{site.cookie}
{site.app}{site.chunks}</body></html>"""
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
