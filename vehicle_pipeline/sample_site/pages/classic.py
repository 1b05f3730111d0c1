"""classic.com seller discovery: the dealer and auction-house directories and seller profiles.

Structure as `vehicle_pipeline.sources.classic` defines it. Sellers are the world's dealers (`ctx.dealers`)
whose website/inventory links point at their sample dealer sites (www.<slug>.example/inventory/), plus two
auction houses pointing at the sample Broad Arrow and Mecum. Paths: `/dealers/?page=N` (3 per page),
`/auction-houses/`, `/s/<slug>-<id>/`. Listing counts come from the dealer listings passed in (the server
should pass the dealer source's listings to this renderer); without them the count is not shown.
Truth functions return the "sellers" contract.
"""

from __future__ import annotations

import functools
import zlib
from types import SimpleNamespace

from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, page_number, paginate
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

SOURCE = "classic"
PER_PAGE = 3
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _short_id(slug: str) -> str:
    n = zlib.crc32(slug.encode()) * 7919 + len(slug)
    out = ""
    while len(out) < 7:
        n, r = divmod(n, 62)
        out += _B62[r]
    return out


def _sellers(listings: list[SampleListing], ctx: SiteContext) -> list[dict]:
    counts: dict[str, int] = {}
    for l in listings:
        if l.dealer:
            counts[l.dealer] = counts.get(l.dealer, 0) + 1
    out = []
    for d in ctx.dealers:
        out.append({"slug": d.slug, "name": d.name, "kind": "dealer", "location": d.location.rsplit(" ", 1)[0] if d.location[-5:].isdigit() else d.location,
                    "website": ctx.url("dealer", f"/{d.slug}/"), "inventory_url": ctx.url("dealer", f"/{d.slug}/inventory/"),
                    "listing_count": counts.get(d.slug) if counts else None})
    out.append({"slug": "broad-arrow-auctions", "name": "Broad Arrow Auctions", "kind": "auction_house",
                "location": "Monterey, CA", "website": ctx.url("broadarrow", "/"),
                "inventory_url": ctx.url("broadarrow", "/vehicles/available"), "listing_count": None})
    out.append({"slug": "mecum-auctions", "name": "Mecum Auctions", "kind": "auction_house", "location": "Walworth, WI",
                "website": ctx.url("mecum", "/"), "inventory_url": None, "listing_count": None})
    return out


def _profile_path(s: dict) -> str:
    return f"/s/{s['slug']}-{_short_id(s['slug'])}/"


# A seller's confidence as a usable dealer source (the project's rule, documented in the classic.com
# reader's docstring; DESIGN.md: auto-enabled at >= 0.70), written out here from the facts the page
# shows, so a change in the reader's weights is a mismatch at /_truth, not a new truth.
_WEIGHTS = {"website": 0.3, "inventory_url": 0.3, "listings": 0.2, "location": 0.1, "dealer": 0.1}
_AUCTION_HOUSE_CAP = 0.5  # an auction house is read by its own source, never auto-enabled as a dealer


def _score(s: dict, full: bool) -> float:
    """What a directory row (`full=False`: no website or inventory link) or a profile page says of a seller."""
    facts = {"website": full and bool(s["website"]), "inventory_url": full and bool(s["inventory_url"]),
             "listings": bool(s["listing_count"]), "location": bool(s["location"]), "dealer": s["kind"] == "dealer"}
    total = sum(w for name, w in _WEIGHTS.items() if facts[name])
    if s["kind"] == "auction_house":
        total = min(total, _AUCTION_HOUSE_CAP)
    return round(min(total, 1.0), 2)


def _contract(s: dict, ctx: SiteContext, full: bool) -> dict:
    return {"name": s["name"], "profile_url": ctx.url(SOURCE, _profile_path(s)), "external_id": _short_id(s["slug"]),
            "kind": s["kind"], "website": s["website"] if full else None,
            "inventory_url": s["inventory_url"] if full else None, "location": s["location"],
            "listing_count": s["listing_count"], "confidence": round(_score(s, full), 2)}


# No vehicle pages: classic.com is a discovery source here.
def listing_path(listing: SampleListing) -> str:
    raise KeyError("classic.com has no listings on the sample site")


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    raise KeyError("classic.com has no listings on the sample site")


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    raise KeyError("classic.com has no listings on the sample site")


def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    return ["/dealers/", "/auction-houses/"]


def _route(path: str, sellers: list[dict]):
    p = "/" + path.strip("/") + "/"
    if p == "/dealers/":
        return "dir", [s for s in sellers if s["kind"] == "dealer"], "dealers"
    if p == "/auction-houses/":
        return "dir", [s for s in sellers if s["kind"] == "auction_house"], "auction-houses"
    for s in sellers:
        if p == _profile_path(s):
            return "profile", [s], None
    return None, [], None


def _dir_url(ctx: SiteContext, section: str, page: int) -> str:
    return ctx.url(SOURCE, f"/{section}/") + (f"?page={page}" if page > 1 else "")


# ---------------------------------------------------------------- page chrome
#
# No classic.com page is in the corpus (SELECTORS.md §6 has URL patterns only). Shaped like a market-data
# site: a header whose menus link market pages and featured sellers' profiles (`/s/<slug>-<id>/`), a
# search bar, filter facets, a "Featured dealers" sidebar of other sellers (names, locations, types,
# listing counts: the same fields the rows have), the seller's own vehicles on a profile page (cards
# linking to `/veh/…` pages with prices), JSON-LD (Organization, WebSite, BreadcrumbList) and the
# front-end bundle's inline state. Directory and profile pages come to ~95-100 KB.

_PREFIX = ""  # chrome links are site-relative, as on the real site


def _featured_seller(r) -> dict:
    name = ch.title_words(r, 2) + r.choice((" Motors", " Classics", " Motorcars", " Auto Gallery", " Collection"))
    s = ch.slug(name)
    return {"name": name, "path": f"{_PREFIX}/s/{s}-{_short_id(s)}/", "location": f"{ch.title_words(r, 1)}, {ch.ident(r, 2).upper()}",
            "count": r.randint(3, 400), "kind": r.choice(("Dealer", "Dealer", "Auction House"))}


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("classic-site")
    cars = ch.other_cars(r, 40)
    markets = "".join(f'<li><a href="{_PREFIX}/m/{ch.slug(c["make"])}/{ch.slug(c["model"])}/">{esc(c["make"])} {esc(c["model"])}</a></li>'
                      for c in cars)
    featured_nav = "".join(f'<li><a href="{f["path"]}">{esc(f["name"])}</a></li>' for f in (_featured_seller(r) for _ in range(10)))
    header = (f'<header class="site-header"><a class="logo" href="{_PREFIX}/">CLASSIC.COM</a><form class="search" action="{_PREFIX}/search/">'
              f'<input type="search" name="q" placeholder="Search by make, model or VIN"></form><nav class="main-nav"><ul>'
              f'<li class="has-menu"><a href="{_PREFIX}/m/">Markets</a><ul class="menu">{markets}</ul></li>'
              f'<li class="has-menu"><a href="{_PREFIX}/dealers/">Dealers</a><ul class="menu">{featured_nav}</ul></li>'
              f'<li><a href="{_PREFIX}/auction-houses/">Auction Houses</a></li><li><a href="{_PREFIX}/data/">Data</a></li></ul>'
              f'{ch.menu(r, _PREFIX, "nav-secondary", 4, 16)}</nav></header>')
    head = (ch.meta_tags(r, "classic_com", "CLASSIC.COM: the market data and listings of collector cars, dealers and auction houses.")
            + ch.tracking_tags(r, "classic") + f'<style id="app-css">{ch.css(r, 30000, "cc")}</style>'
            + ch.ld_script(ch.organization_ld("CLASSIC.COM", f"{_PREFIX}/", f"{_PREFIX}/logo.svg"))
            + ch.ld_script(ch.website_ld("CLASSIC.COM", f"{_PREFIX}/")))
    state = ch.script("window.__INITIAL_STATE__=" + ch.js(r, 26000, ('<li class="seller-row"><a class="seller-name" href="/s/',
                                                                       '<span class="seller-location">', '<a rel="next" href="?page='), every=5),
                      id="initial-state")
    facets = "".join(f'<label class="facet"><input type="checkbox" name="state" value="{ch.ident(r, 2).upper()}">{ch.title_words(r, 1)}'
                     f'<span class="facet-count">{r.randint(1, 300)}</span></label>' for _ in range(50))

    def aside(i: int) -> str:
        ar = ch.rng("classic-featured", i)
        cards = "".join(f'<div class="featured-card"><a href="{f["path"]}"><img src="/_img/classic/featured/{ch.slug(f["name"])}.png" alt=""></a>'
                        f'<a class="seller-name" href="{f["path"]}">{esc(f["name"])}</a><span class="seller-location">{esc(f["location"])}</span>'
                        f'<span class="seller-listing-count">{f["count"]} listings</span><span class="seller-type">{f["kind"]}</span></div>'
                        for f in (_featured_seller(ar) for _ in range(8)))
        return f'<aside class="featured-sellers"><h3>Featured Dealers</h3>{cards}</aside>'

    def vehicles(i: int) -> str:
        vr = ch.rng("classic-vehicles", i)
        out = []
        for c in ch.other_cars(vr, 24):
            vin = "".join(vr.choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=17)).lower()
            href = f"{_PREFIX}/veh/{c['year']}-{ch.slug(c['make'])}-{ch.slug(c['model'])}-{vin}-{ch.ident(vr, 7)}"
            out.append(f'<div class="vehicle-card"><a href="{href}"><img src="/_img/classic/veh/{c["id"]}.jpg" alt="" loading="lazy"></a>'
                       f'<a class="vehicle-title" href="{href}">{esc(c["title"])}</a><span class="vehicle-price">${c["price"]:,}</span>'
                       f'<span class="vehicle-status">{"For Sale" if c["result"] == "Current Bid" else "Sold"}</span></div>')
        return f'<section class="seller-vehicles"><h2>Vehicles from this seller</h2><div class="vehicle-grid">{"".join(out)}</div></section>'

    return SimpleNamespace(head=head, header=header, state=state, footer=ch.footer(r, _PREFIX, "CLASSIC.COM", 4, 12),
                           facets=f'<form class="directory-filters">{facets}</form>', aside=ch.Pool(6, aside),
                           vehicles=ch.Pool(6, vehicles), sprite=ch.svg_sprite(r, 20), cookie=ch.cookie_banner(r),
                           market=ch.paragraphs(r, 6, 3, 6))


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    site = _site()
    kind, chosen, section = _route(path, _sellers(listings, ctx))
    if kind is None:
        return None
    if kind == "profile":
        s = chosen[0]
        count = f'<div class="seller-stats"><span class="seller-listing-count">{s["listing_count"]} listings</span> on CLASSIC.COM</div>' if s["listing_count"] is not None else ""
        inv = f'<a class="seller-inventory" href="{esc(s["inventory_url"])}" rel="nofollow noopener">View inventory</a>' if s["inventory_url"] else ""
        crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), ("Dealers", ctx.url(SOURCE, "/dealers/")),
                                   (s["name"], ctx.url(SOURCE, _profile_path(s)))])
        body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(s['name'])} | CLASSIC.COM</title>
<link rel="canonical" href="{esc(ctx.url(SOURCE, _profile_path(s)))}">{site.head}{ch.ld_script(crumbs)}</head><body>{site.sprite}
{site.header}
<header><a href="{esc(ctx.url(SOURCE, '/dealers/'))}">Dealers</a> <a href="{esc(ctx.url(SOURCE, '/auction-houses/'))}">Auction Houses</a></header>
<main class="seller-profile"><h1 class="seller-name">{esc(s['name'])}</h1>
<div class="seller-type">{'Dealer' if s['kind'] == 'dealer' else 'Auction House'}</div>
<div class="seller-location">{esc(s['location'])}</div>{count}
<a class="seller-website" href="{esc(s['website'])}" rel="nofollow noopener">Visit Website</a>{inv}
<div class="seller-about">{site.market}</div>
{site.vehicles.pick(s['slug'])}
</main>{site.aside.pick(s['slug'])}{site.footer}{site.cookie}{site.state}</body></html>"""
        return html_page(body)
    page = page_number(query) or 1
    chunk, pages = paginate(chosen, page, PER_PAGE)
    rows = []
    for s in chunk:
        count = f'<span class="seller-listing-count">{s["listing_count"]} listings</span>' if s["listing_count"] is not None else ""
        rows.append(f"""<li class="seller-row"><a href="{esc(ctx.url(SOURCE, _profile_path(s)))}"><img src="/_img/classic/{esc(s['slug'])}.png" alt=""></a>
 <a class="seller-name" href="{esc(ctx.url(SOURCE, _profile_path(s)))}">{esc(s['name'])}</a>
 <span class="seller-location">{esc(s['location'])}</span>{count}
 <span class="seller-type">{'Dealer' if s['kind'] == 'dealer' else 'Auction House'}</span></li>""")
    nav = "".join(f'<a class="page" href="{esc(_dir_url(ctx, section, n))}">{n}</a> ' for n in range(2, pages + 1) if n != page)
    if page < pages:
        nav += f'<a rel="next" href="{esc(_dir_url(ctx, section, page + 1))}">Next</a>'
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), (section.replace("-", " ").title(), _dir_url(ctx, section, 1))])
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Classic Car {esc(section.title())} | CLASSIC.COM</title>
<link rel="canonical" href="{esc(_dir_url(ctx, section, page))}">{site.head}{ch.ld_script(crumbs)}</head><body>{site.sprite}
{site.header}
<main class="directory"><h1>{esc(section.replace('-', ' ').title())}</h1>{site.facets}
<p class="results-count" data-total-results="{len(chosen)}">{len(chosen)} {esc(section.replace('-', ' '))}</p>
<ul class="seller-list">{''.join(rows)}</ul><nav class="pagination">{nav}</nav><div class="market-notes">{site.market}</div></main>
{site.aside.pick(section + str(page))}{site.footer}{site.cookie}{site.state}</body></html>"""
    return html_page(body)


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    kind, chosen, section = _route(path, _sellers(listings, ctx))
    if kind is None:
        return None
    if kind == "profile":
        s = chosen[0]
        return {"kind": "sellers", "source": SOURCE, "url": ctx.url(SOURCE, _profile_path(s)), "total_items": 1,
                "page": None, "pages_total": None, "next_page_url": None, "items": [_contract(s, ctx, True)]}
    page = page_number(query) or 1
    chunk, pages = paginate(chosen, page, PER_PAGE)
    return {"kind": "sellers", "source": SOURCE, "url": _dir_url(ctx, section, page), "total_items": len(chosen),
            "page": page, "pages_total": pages,
            "next_page_url": _dir_url(ctx, section, page + 1) if page < pages else None,
            "items": [_contract(s, ctx, False) for s in chunk]}


def sellers_truth(listings: list[SampleListing], ctx: SiteContext) -> list[dict]:
    """Every seller as its profile page states it (website, inventory URL, full confidence score)."""
    return [_contract(s, ctx, True) for s in _sellers(listings, ctx)]
