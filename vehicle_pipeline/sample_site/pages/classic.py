"""classic.com seller discovery: the dealer and auction-house directories and seller profiles.

Structure as `vehicle_pipeline.sources.classic` defines it. Sellers are the sample dealers (world.DEALERS)
whose website/inventory links point at their sample dealer sites (`/dealer/<slug>/inventory/`), plus two
auction houses pointing at the sample Broad Arrow and Mecum. Paths: `/dealers/?page=N` (3 per page),
`/auction-houses/`, `/s/<slug>-<id>/`. Listing counts come from the dealer listings passed in (the server
should pass the dealer source's listings to this renderer); without them the count is not shown.
Truth functions return the "sellers" contract.
"""

from __future__ import annotations

import zlib

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
    try:
        from vehicle_pipeline.sample_site.world import DEALERS
    except ImportError:
        DEALERS = ()
    counts: dict[str, int] = {}
    for l in listings:
        if l.dealer:
            counts[l.dealer] = counts.get(l.dealer, 0) + 1
    out = []
    for d in DEALERS:
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


def _score(s: dict, full: bool) -> float:
    from vehicle_pipeline.model import SellerKind
    from vehicle_pipeline.sources.classic import score

    kind = SellerKind(s["kind"])
    if full:
        return score(s["website"], s["inventory_url"], s["listing_count"], s["location"], kind)
    return score(None, None, s["listing_count"], s["location"], kind)


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


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    kind, chosen, section = _route(path, _sellers(listings, ctx))
    if kind is None:
        return None
    if kind == "profile":
        s = chosen[0]
        count = f'<div class="seller-stats"><span class="seller-listing-count">{s["listing_count"]} listings</span> on CLASSIC.COM</div>' if s["listing_count"] is not None else ""
        inv = f'<a class="seller-inventory" href="{esc(s["inventory_url"])}" rel="nofollow noopener">View inventory</a>' if s["inventory_url"] else ""
        body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(s['name'])} | CLASSIC.COM</title>
<link rel="canonical" href="{esc(ctx.url(SOURCE, _profile_path(s)))}"></head><body>
<header><a href="{esc(ctx.url(SOURCE, '/dealers/'))}">Dealers</a> <a href="{esc(ctx.url(SOURCE, '/auction-houses/'))}">Auction Houses</a></header>
<main class="seller-profile"><h1 class="seller-name">{esc(s['name'])}</h1>
<div class="seller-type">{'Dealer' if s['kind'] == 'dealer' else 'Auction House'}</div>
<div class="seller-location">{esc(s['location'])}</div>{count}
<a class="seller-website" href="{esc(s['website'])}" rel="nofollow noopener">Visit Website</a>{inv}
</main></body></html>"""
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
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Classic Car {esc(section.title())} | CLASSIC.COM</title>
<link rel="canonical" href="{esc(_dir_url(ctx, section, page))}"></head><body>
<main class="directory"><h1>{esc(section.replace('-', ' ').title())}</h1>
<p class="results-count" data-total-results="{len(chosen)}">{len(chosen)} {esc(section.replace('-', ' '))}</p>
<ul class="seller-list">{''.join(rows)}</ul><nav class="pagination">{nav}</nav></main></body></html>"""
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
