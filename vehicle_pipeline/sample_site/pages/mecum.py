"""Mecum lot pages (Next.js `__NEXT_DATA__`) and the Algolia-style `mecum_lots` search endpoint.

Lot pages live at `/lots/<id>/<slug>/`; the search response at `/1/indexes/mecum_lots?page=<0-based>`
(`hitsPerPage` defaults to 20). See `vehicle_pipeline.sources.mecum` for the keys the parser reads.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace
from urllib.parse import urlencode

from vehicle_pipeline.sample_site import truth
from vehicle_pipeline.sample_site.pages import _chrome as ch
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
        "model": car.model, "trim": trim, "vin": truth.vin(car.vin), "vin_state": car.vin_state if car.vin else None,
        "mileage": car.mileage, "mileage_unit": car.mileage_unit, "outcome": outcome,
        "sale_price": hammer if outcome == "sold" else None, "high_bid": high_bid, "asking_price": None,
        "currency": "USD", "bid_count": None, "comment_count": None, "view_count": None, "watcher_count": None,
        "ended_at": None, "seller": None, "buyer": None, "location": None, "lot_number": listing.lot_number,
        "no_reserve": True if listing.no_reserve else None, "exterior_color": car.exterior_color,
        "interior_color": car.interior_color, "transmission": car.transmission, "drivetrain": None,
        "engine": car.engine, "body_style": None, "images": img_urls(listing, ctx),
    }


# ---------------------------------------------------------------- page chrome
#
# A Next.js page as the framework serves it (no Mecum page is in the corpus; SELECTORS.md §3): CSS-module
# class names, ~20 chunk scripts, a mega-menu header and footer, the lot's description, specs and gallery,
# a "related lots" carousel of other lots with their hammer prices, and `__NEXT_DATA__`, which carries
# much more than the lot: the related lots in full, the auction's schedule, the site menus, the SEO
# head (HTML in a JSON string) and the GraphQL cache. Next.js escapes `<`, `>` and `&` in it as \u003c….
# A lot page comes to ~230 KB, two thirds of it `__NEXT_DATA__`. The search response carries each lot's
# whole index record (~3.4 KB a hit: highlight results, images, taxonomy), not only the fields read.


def _next_json(data) -> str:
    """JSON as Next.js embeds it in `__NEXT_DATA__` (htmlEscapeJsonString)."""
    return (json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _related_lot(r, car: dict) -> dict:
    lot_id = car["id"] % 1_000_000
    sold = car["result"] == "Sold for"
    return {"id": f"cG9zdDo{lot_id}", "databaseId": lot_id, "title": car["title"], "slug": car["key"],
            "uri": f"/lots/{lot_id}/{car['key']}/", "link": f"/mecum/lots/{lot_id}/{car['key']}/",
            "lotNumber": f"{'FST'[lot_id % 3]}{lot_id % 300}", "hammerPrice": str(car["price"]) if sold else None,
            "currentBid": car["price"], "saleResults": {"edges": [{"node": {"slug": "sold" if sold else "not-sold",
                                                                           "name": "Sold" if sold else "Not Sold"}}]},
            "featuredImage": {"node": {"sourceUrl": f"/_img/mecum/related/{lot_id}.jpg", "altText": car["title"],
                                       "mediaDetails": {"width": 1600, "height": 1067}}},
            "lotYears": {"edges": [{"node": {"name": str(car["year"])}}]}, "lotMakes": {"edges": [{"node": {"name": car["make"]}}]},
            "lotModels": {"edges": [{"node": {"name": car["model"]}}]}, "excerpt": f"<p>{ch.sentence(r, 12, 30)}</p>",
            "images": [{"url": f"/_img/mecum/related/{lot_id}/{k}.jpg", "width": 1600, "height": 1067,
                        "sizes": {"thumb": f"/_img/mecum/related/{lot_id}/{k}.jpg?w=320", "medium": f"/_img/mecum/related/{lot_id}/{k}.jpg?w=960"}}
                       for k in range(8)],
            "auctionsTax": {"edges": [{"node": {"auctionId": f"K{lot_id % 27:02d}", "name": ch.title_words(r, 2) + " 2026"}}]},
            "runDates": {"edges": [{"node": {"slug": f"2026-0{lot_id % 9 + 1}-1{lot_id % 9}"}}]}}


def _card_lot(lot: dict) -> str:
    badge = f"Sold ${int(lot['hammerPrice']):,}" if lot["hammerPrice"] else f"High Bid ${lot['currentBid']:,}"
    return (f'<div class="CardLot_card__Qm2sX"><a class="CardLot_image__p4TbQ" href="{esc(lot["link"])}"><img alt="{esc(lot["title"])}" '
            f'src="{esc(lot["featuredImage"]["node"]["sourceUrl"])}?w=640" loading="lazy" width="640" height="427"></a>'
            f'<div class="CardLot_content__1cG3x"><span class="CardLot_lot__8kPq2">Lot {esc(lot["lotNumber"])}</span>'
            f'<a class="CardLot_title__xYz12" href="{esc(lot["link"])}">{esc(lot["title"])}</a>'
            f'<div class="PriceBadge_badge__7hQ2w">{esc(badge)}</div></div></div>')


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("mecum-site")
    head = ("".join(f'<link rel="preload" href="/_next/static/css/{ch.hexid(r, 16)}.css" as="style"/>'
                    f'<link rel="stylesheet" href="/_next/static/css/{ch.hexid(r, 16)}.css" data-n-g=""/>' for _ in range(6))
            + ch.meta_tags(r, "mecum", "Mecum Auctions: the world's largest collector car auction company.")
            + ch.tracking_tags(r, "mecum")
            + f'<style data-href="https://fonts.googleapis.com/css2?family=Inter">{ch.css(r, 18000, "Layout")}</style>'
            + '<noscript data-n-css=""></noscript>')
    menus = {"header": [{"label": ch.title_words(r, 2), "url": f"/mecum/{ch.slug(ch.title_words(r, 2))}/",
                         "children": [{"label": ch.title_words(r, 3), "url": f"/mecum/auctions/{ch.slug(ch.title_words(r, 2))}/"}
                                      for _ in range(22)]} for _ in range(9)],
             "footer": [{"label": ch.title_words(r, 2), "url": f"/mecum/{ch.slug(ch.title_words(r, 2))}/"} for _ in range(40)]}
    nav = "".join(f'<li class="Nav_item__1Xq9a"><a href="{esc(m["url"])}">{esc(m["label"])}</a><ul class="Nav_sub__9HvTk">'
                  + "".join(f'<li><a href="{esc(c["url"])}">{esc(c["label"])}</a></li>' for c in m["children"]) + "</ul></li>"
                  for m in menus["header"])
    header = (f'<header class="Header_header__Zk3Qp"><a class="Header_logo__2W8xQ" href="/mecum/" aria-label="Mecum Auctions">'
              f'<svg viewBox="0 0 160 32"><path d="{ch.svg_path(r, 50)}"></path></svg></a><nav class="Nav_nav__3kYbP"><ul>{nav}</ul></nav>'
              f'<form class="Search_form__8pLq0" action="/mecum/lots/"><input name="query" placeholder="Search lots" type="search"/></form></header>')
    chunks = "".join(f'<script src="/_next/static/chunks/{ch.ident(r, 6)}-{ch.hexid(r, 16)}.js" defer=""></script>' for _ in range(18))
    auction = {"name": "Sample Auction", "schedule": [{"day": f"2026-11-{d:02d}", "start": "09:00", "sessions": [ch.title_words(r, 3) for _ in range(4)]}
                                                      for d in range(1, 11)],
               "location": {"venue": ch.title_words(r, 3), "city": ch.title_words(r, 1), "state": "FL"},
               "terms": "".join(f"<p>{ch.sentence(r, 20, 40)}</p>" for _ in range(10))}

    def related(i: int) -> list:
        rr = ch.rng("mecum-related", i)
        return [_related_lot(rr, c) for c in ch.other_cars(rr, 24)]

    def extras(i: int) -> SimpleNamespace:
        er = ch.rng("mecum-extras", i)
        return SimpleNamespace(
            description="".join(f"<p>{ch.sentence(er, 12, 30)}</p>" for _ in range(10)),
            highlights=[ch.sentence(er, 5, 12) for _ in range(14)],
            equipment=[ch.title_words(er, 3) for _ in range(24)],
        )

    schedule = "".join(f'<li class="Schedule_day__Hq2mZ"><time dateTime="{d["day"]}">{d["day"]}</time><ul>'
                       + "".join(f"<li>{esc(x)}</li>" for x in d["sessions"]) + "</ul></li>" for d in auction["schedule"])
    aside = (f'<aside class="LotSidebar_sidebar__Rk2yN"><div class="AuctionInfo_info__bJ8sD"><h3>{esc(auction["location"]["venue"])}</h3>'
             f'<ul class="Schedule_list__T0pQd">{schedule}</ul><a class="Button_primary__9xQd2" href="/mecum/register/">Register to Bid</a>'
             f'</div><form class="Newsletter_form__Fq8hW"><label>{ch.sentence(r, 6, 10)}</label><input type="email" name="email"/>'
             f'<button type="submit">Sign Up</button></form></aside>')
    return SimpleNamespace(head=head, header=header, chunks=chunks, menus=menus, auction=auction, aside=aside,
                           sprite=ch.svg_sprite(r, 30), cookie=ch.cookie_banner(r),
                           footer=ch.footer(r, "/mecum", "Mecum Auctions", 5, 10), related=ch.Pool(8, related), extras=ch.Pool(12, extras),
                           build_script=ch.script(ch.js(r, 6000), id="__NEXT_RUNTIME"))


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    site = _site()
    post = _post(listing, ctx)
    outcome, hammer, current = _shown(listing)
    badge = {"sold": f"Sold ${hammer or 0:,}", "bid_to": f"High Bid ${current or 0:,}", "live": "Upcoming"}.get(outcome, "")
    key = listing.external_id
    related = site.related.pick(key)
    extra = site.extras.pick(key)
    url = ctx.url(SOURCE, listing_path(listing))
    post = {**post, "content": extra.description, "lotHighlights": extra.highlights, "lotEquipment": extra.equipment,
            "seo": {"title": f"{listing.title} | Mecum Auctions", "canonical": url,
                    "fullHead": (f'<title>{esc(listing.title)} | Mecum Auctions</title><link rel="canonical" href="{esc(url)}" />'
                                 f'<meta property="og:title" content="{esc(listing.title)}" /><meta property="og:url" content="{esc(url)}" />'
                                 f'<script type="application/ld+json" class="yoast-schema-graph">{json.dumps({"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "url": url, "name": listing.title}]})}</script>')}}
    data = {
        "props": {"pageProps": {"post": post, "relatedLots": related, "auction": site.auction, "menus": site.menus,
                                "__APOLLO_STATE__": {"ROOT_QUERY": {"__typename": "Query", f'post({{"id":"{listing_path(listing)}"}})':
                                                                    {"__ref": f"Post:{post['id']}"}},
                                                     f"Post:{post['id']}": {"__typename": "Post", **post},
                                                     **{f"Post:{lot['id']}": {"__typename": "Post", **lot} for lot in related}}},
                  "__N_SSP": True},
        "page": "/lots/[...slug]",
        "query": {"slug": [listing.external_id, listing.slug]},
        "buildId": "sample-build-7",
        "isFallback": False,
        "gssp": True,
        "scriptLoader": [],
    }
    car_ld = {"@context": "https://schema.org", "@type": "Car", "name": listing.title, "image": img_urls(listing, ctx)}
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), ("Lots", ctx.url(SOURCE, "/lots/")), (listing.title, url)])
    org = ch.organization_ld("Mecum Auctions", ctx.url(SOURCE, "/"), ctx.url(SOURCE, "/logo.svg"))
    imgs = img_urls(listing, ctx)
    gallery = "".join(f'<button class="Gallery_thumb__k2Lp8" data-index="{i}"><img alt="" src="{esc(u)}?w=320" loading="lazy" width="320" '
                      f'height="213"/></button>' for i, u in enumerate(imgs))
    specs = "".join(f'<div class="Specs_row__Vq1m0"><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>'
                    for k, v in (("Lot", listing.lot_number), ("Year", listing.car.year), ("Make", listing.car.make),
                                 ("Model", listing.car.model), ("Color", listing.car.exterior_color), ("Interior", listing.car.interior_color),
                                 ("Engine", listing.car.engine), ("Transmission", listing.car.transmission),
                                 ("Odometer", f"{listing.car.mileage:,}"), ("VIN/Serial", listing.car.vin)))
    body = f"""<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/>
<title>{esc(listing.title)} | Lot {esc(listing.lot_number)} | {esc(listing.description)} | Mecum Auctions</title>
{site.head}
<script type="application/ld+json">{ld(car_ld)}</script>{ch.ld_script(crumbs)}{ch.ld_script(org)}</head>
<body>{site.sprite}<div id="__next">{site.header}<main class="Layout_main__aB12c">
<div class="LotHeader_header__9Kx1q"><span class="LotHeader_num__xqgKs">Lot {esc(listing.lot_number)}</span>
<h1 class="LotHeader_title__UCXNK">{esc(listing.title)}</h1>
<div class="LotHeader_odometerSerial__4U5fu">Odometer {listing.car.mileage:,} | VIN {esc(listing.car.vin)}</div>
<div class="PriceBadge_badge__7hQ2w">{esc(badge)}</div></div>
<div class="Gallery_gallery__3Fq9L"><div class="Gallery_main__Xk20P"><img alt="{esc(listing.title)}" src="{esc(imgs[0] if imgs else '')}" width="1600" height="1067"/></div>
<div class="Gallery_thumbs__0pLwQ">{gallery}</div></div>
<ul class="List_list__xS3rG"><li>{esc(listing.car.engine)}</li><li>{esc(listing.car.transmission)}</li><li>Sold for a song? Ask our specialists.</li>
{"".join(f"<li>{esc(h)}</li>" for h in extra.highlights)}</ul>
<dl class="Specs_specs__q8Zr1">{specs}</dl>
<div class="Content_content__Ld2nE">{extra.description}</div>
<ul class="Equipment_list__W3oPz">{"".join(f"<li>{esc(e)}</li>" for e in extra.equipment)}</ul>
<section class="RelatedLots_related__tQ0cF"><h2>More Lots Like This</h2><div class="RelatedLots_track__Bn4xM">{"".join(_card_lot(l) for l in related)}</div></section>
</main>{site.aside}{site.footer}{site.cookie}</div>
{site.build_script}
<script id="__NEXT_DATA__" type="application/json">{_next_json(data)}</script>
{site.chunks}
</body></html>"""
    return html_page(body)


def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    return [INDEX_PATH]


def _hit(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    extra = _hit_text().pick(listing.external_id)
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
        "_highlightResult": {key: {"value": str(value), "matchLevel": "none", "matchedWords": []}
                             for key, value in (("title", listing.title), ("lotNumber", listing.lot_number), ("make", car.make),
                                                ("model", car.model), ("vinSerial", car.vin), ("color", car.exterior_color),
                                                ("interior", car.interior_color), ("engine", car.engine), ("description", extra))},
        # the rest of the record as the index stores it; the parser reads none of it
        "post_type": "lots", "post_date": (listing.starts_at or 0), "lotYear": car.year, "make": car.make, "model": car.model,
        "color": car.exterior_color, "interior": car.interior_color, "engine": car.engine, "transmission": car.transmission,
        "odometer": car.mileage, "odometerUnits": "K" if car.mileage_unit == "km" else "M", "vinSerial": car.vin,
        "auctionName": listing.description, "lotSeries": (listing.lot_number or "")[:1] or None, "description": extra,
        "images": [{"url": u, "width": 1600, "height": 1067, "thumb": u + "?w=320"} for u in img_urls(listing, ctx)],
        "collections": ["No Reserve"] if listing.no_reserve else [], "taxonomies": {"lot_type": ["Cars"], "auction": [listing.sale_code]},
        "_snippetResult": {"description": {"value": extra[:120], "matchLevel": "none"}},
    }
    if result:
        hit["saleResult"] = result
    if listing.no_reserve:
        hit["noReserve"] = True
    return hit


@functools.cache
def _hit_text() -> ch.Pool:
    return ch.Pool(16, lambda i: " ".join(ch.sentence(ch.rng("mecum-hit", i, k), 10, 24) for k in range(5)))


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


def _next_page_url(ctx: SiteContext, query: dict[str, str], page: int) -> str:
    """The search URL of page `page` (0-based): this page's query in order, without its `page`, then `page`."""
    return _index_url(ctx, {**{k: v for k, v in query.items() if k != "page"}, "page": str(page)})


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    if path.rstrip("/") not in (INDEX_PATH, INDEX_PATH + "/query"):
        return None
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
            "pages_total": pages, "next_page_url": _next_page_url(ctx, query, page0 + 1) if page0 + 1 < pages else None,
            "items": items}
