"""Craigslist per metro: search pages in three layouts and 2024+ car postings.

Paths (below the craigslist prefix): search `/<metro>/search/cto`, postings
`/<metro>/<subarea>/cto/d/<slug>/<pid>.html` (no subarea segment where the metro has none).
Search layout per metro: `vancouver` answers with the sapi JSON, `sacramento` with the legacy
(≤2022) result rows, every other metro with the current static fallback list. Canadian metros show
CAD prices and km odometers, as the parser expects from the metro.
"""

from __future__ import annotations

import functools
import json
from types import SimpleNamespace

from vehicle_pipeline.sample_site import truth
from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, json_page, ld, money, page_number, paginate, stable
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

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
    # The page states "make model" as one field: past the make, where the model ends it does not say,
    # so the contract keeps the rest whole as the model.
    make, model, trim = car.make, " ".join(p for p in (car.model, car.trim) if p), None
    vin = truth.vin(car.vin)
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


# ---------------------------------------------------------------- page chrome
#
# Craigslist pages are light (../shared/corpus/craigslist): a posting is ~25-35 KB (head metas, the
# BreadcrumbList JSON-LD, wide and narrow headers with breadcrumbs, the reply bar, thumbnails and the
# `imgList` script, notices, scam warnings, footer); the legacy search page ~100 KB of which the search
# form's option lists are half; the current static search page a head, the hub links, the results and
# a JSON-LD ItemList of them (`ld_searchpage_results`: other postings' prices, as a naive reader would
# take them).

_PREFIX = "/craigslist"


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("craigslist-site")
    style = f'<style type="text/css">{ch.css(r, 1200, "cl")}</style>'
    init = ch.script(f"window.cl.init('{_PREFIX}/static/www/', '', 'www', 'posting', {json.dumps({ch.ident(r, 8): ch.ident(r, 12) for _ in range(12)})});",
                     type="text/javascript")
    user = ('<div class="userlinks"><ul class="user-actions"><li class="user post"><a href="/craigslist/post">post</a></li>'
            '<li class="user account"><a href="/craigslist/login/home">account</a></li></ul><ul class="user-favs-discards">'
            '<li class="user fav"><a href="#" title="save this post in your favorites list"><span class="icon icom-"></span>'
            '<span class="fav-number">0</span><span class="fav-label"> favorites</span></a></li><li class="user discard">'
            '<a href="#" title="hide this post"><span class="discard-label">hidden</span></a></li></ul></div>')
    reply = ('<div class="reply-button-row"><button role="button" class="reply-button js-only" data-href="/craigslist/reply/' + ch.hexid(r, 12)
             + '"><span class="reply-button-inner">reply</span></button><div class="reply-info js-only"><div class="reply-flap">'
             + "".join(f'<span class="reply-option">{ch.words(r, 3)}</span>' for _ in range(12))
             + '</div></div><span class="prevnext-sec"><a class="prev" href="#">&#9664; prev</a><a class="backup" href="#">&#9650;</a>'
             '<a class="next" href="#">next &#9654;</a></span><span class="banish icon-trash" role="button"><span class="screen-reader-text">'
             'hide this posting</span></span><span class="flags done" data-flag="1"><a class="flaglink" href="#">flag</a></span></div>')
    tips = (f'<div class="avoid-scams"><aside class="tsb"><h4>Avoid scams and fraud</h4><ul>{"".join(f"<li>{ch.sentence(r, 6, 12)}</li>" for _ in range(5))}'
            f'</ul></aside><aside class="tsb"><a href="{_PREFIX}/about/scams">more info</a></aside></div>')
    footer = ('<footer><ul class="clfooter"><li>&copy; 2026 <span class="desktop">craigslist</span><span class="mobile">CL</span></li>'
              + "".join(f'<li><a href="{_PREFIX}/about/{w}">{w}</a></li>' for w in ("help", "safety", "privacy", "feedback", "terms", "about"))
              + '<li class="fsel desktop linklike" data-mode="mobile">mobile</li></ul></footer>')
    form_groups = "".join(
        f'<div class="searchgroup"><label class="group-label">{ch.words(r, 2)}</label><ul class="list">'
        + "".join(f'<li><label><input type="checkbox" name="{key}" value="{k}"><span class="checkbox-label">{ch.words(r, r.randint(1, 3))}</span></label></li>'
                  for k in range(r.randint(4, 14))) + "</ul></div>"
        for key in ("condition", "auto_cylinders", "auto_drivetrain", "auto_fuel_type", "auto_paint", "auto_size", "auto_title_status",
                    "auto_transmission", "auto_bodytype", "crypto_currency"))
    ranges = "".join(f'<div class="searchgroup"><label>{w}</label><input class="flatinput" type="tel" name="min_{ch.slug(w)}" placeholder="min">'
                     f'<input class="flatinput" type="tel" name="max_{ch.slug(w)}" placeholder="max"></div>'
                     for w in ("price", "model year", "odometer", "engine displacement"))
    cats = "".join(f'<option value="{ch.ident(r, 3)}">{ch.words(r, r.randint(1, 3))}</option>' for _ in range(150))

    def body_text(i: int) -> str:
        return "<br>\n".join(" ".join(ch.sentence(ch.rng("cl-body", i, k, j), 8, 22) for j in range(4)) for k in range(9))

    return SimpleNamespace(
        style=style, init=init, user=user, reply=reply, tips=tips, footer=footer, body=ch.Pool(16, body_text),
        form=(f'<div class="search-options-container"><div class="search-options">{ranges}{form_groups}'
              f'<select name="category">{cats}</select></div></div>'),
        static_head=(style + init + "".join(f'<link rel="stylesheet" href="{_PREFIX}/static/www/{ch.hexid(r, 20)}.css">' for _ in range(2))
                     + ch.script(ch.js(r, 4000), type="text/javascript")),
        form_cats=cats,
        hubs="".join(f'<li class="cl-static-hub-links"><a href="{_PREFIX}/search/{ch.ident(r, 3)}">{ch.words(r, 2)}</a></li>' for _ in range(6)),
    )


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
    site = _site()
    metro = listing.metro or ""
    crumbs = {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": [
        {"@type": "ListItem", "position": i, "item": {"name": name, "@id": ctx.url(SOURCE, path)}}
        for i, (name, path) in enumerate(((f"{metro}.craigslist.org", f"/{metro}/"), ("for sale", f"/{metro}/search/sss"),
                                           ("cars & trucks - by owner", f"/{metro}/search/cto"), (listing.title, listing_path(listing))), 1)]}
    thumbs = "".join(f'<a href="{esc(u)}" title="{i}" class="thumb"><img alt="{i}" src="{esc(u)}?50x50c" width="50" height="50"></a>'
                     for i, u in enumerate(imgs, 1))
    img_list = json.dumps([{"shortid": f"{stable(u, 10**9):09d}", "url": u, "thumb": u + "?50x50c", "imgid": f"0:00{stable(u, 999):03d}_{stable(u, 10**6)}"}
                           for u in imgs]).replace("</", "<\\/")
    text = site.body.pick(listing.external_id)
    body = f"""<!DOCTYPE html>
<html><head><meta charset="UTF-8"><meta http-equiv="X-UA-Compatible" content="IE=Edge">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta property="og:site_name" content="craigslist">
<meta name="twitter:card" content="preview"><meta property="og:title" content="{esc(listing.title)}">
<meta name="description" content="{esc(text[:150])}..."><meta property="og:description" content="{esc(text[:150])}...">
<meta name="geo.placename" content="{esc(_hood(listing))}">
<meta property="og:type" content="article"><meta name="robots" content="noarchive,nofollow">
<title>{esc(listing.title)} - cars &amp; trucks - by owner - vehicle automotive sale - craigslist</title>
<link rel="canonical" href="{esc(url)}">
<meta property="og:url" content="{esc(url)}">
<script type="application/ld+json" id="ld_breadcrumb_data">{ld(crumbs)}</script>
{site.style}
<script type="application/ld+json" id="ld_posting_data">{ld(ld_post)}</script>
{site.init}
</head><body class="posting">
<iframe id="cl-local-storage" src="{_PREFIX}/static/localstorage.html" style="display:none"></iframe><div id="curtain"></div>
<noscript id="no-js"><div>This page requires JavaScript to work properly.<br><br>Please enable JavaScript in your browser.</div></noscript>
<div id="unsupported-browser">This browser is not supported.<br><br>Please upgrade your browser.</div>
<section class="page-container"><div class="bglogo"></div><div class="tryapp">try the craigslist app &raquo; <a class="appstorebtn" href="https://apps.apple.com/us/app/craigslist/id1336642410">Android</a> <a class="appstorebtn" href="https://play.google.com/store/apps/details?id=org.craigslist.CraigslistMobile">iOS</a></div><header class="global-header wide"><a class="header-logo" href="{_PREFIX}/{esc(metro)}/">CL</a>
<nav class="breadcrumbs-container"><ul class="breadcrumbs"><li class="crumb area"><a href="{_PREFIX}/{esc(metro)}/">{esc(metro)}</a></li>
<li class="crumb section"><a href="{_PREFIX}/{esc(metro)}/search/sss">for sale</a></li><li class="crumb category"><a href="{_PREFIX}/{esc(metro)}/search/cto">cars &amp; trucks - by owner</a></li></ul></nav>
{site.user}</header><header class="global-header narrow"><nav class="breadcrumbs-container"><h1 class="breadcrumbs">CL {esc(metro)}</h1></nav></header>
<section class="body"><header class="dateReplyBar">{site.reply}</header>
<h1 class="postingtitle"><span class="postingtitletext"><span id="titletextonly">{esc(listing.title)}</span>{price_span}<span> ({esc(_hood(listing))})</span></span></h1>
<section class="userbody">
<figure class="iw multiimage"><div class="gallery"><span class="slider-info">image 1 of {len(imgs)}</span><div class="swipe"><div class="swipe-wrap">{gallery}</div></div></div>
<div id="thumbs">{thumbs}</div><script type="text/javascript"><!--
var imgList = {img_list};
--></script></figure>
<div class="mapAndAttrs">
 <div class="mapbox"><div id="map" class="viewposting" data-latitude="37.77" data-longitude="-122.41" data-accuracy="5"></div></div>
 <div class="attrgroup"><div class="attr important"><span class="valu year">{car.year}</span><span class="valu makemodel"><a href="/search/cta?auto_make_model=x">{esc(_makemodel(listing))}</a></span></div></div>
 <div class="attrgroup">{attrs}
 </div>
</div>
<section id="postingbody"><div class="print-information print-qrcode-container"><p class="print-qrcode-label">QR Code Link to This Post</p></div>
{esc(listing.description)} My last car had VIN 1HGCM82633A004352, this one is listed above. Asking $1,500 less than the one that sold for $2,000 more last month.
{text}
<a href="#" class="show-contact" title="click to show contact info" data-href="{_PREFIX}/reply/{esc(listing.external_id)}" rel="nofollow">show contact info</a>
</section>
<ul class="notices"><li>do NOT contact me with unsolicited services or offers</li></ul>
<div class="postinginfos">
 <p class="postinginfo">post id: {esc(listing.external_id)}</p>
 <p class="postinginfo reveal">posted: <time class="date timeago" datetime="{posted.strftime('%Y-%m-%dT%H:%M:%S%z')}">{posted.strftime('%Y-%m-%d %H:%M')}</time></p>
 <p class="postinginfo reveal">updated: <time class="date timeago" datetime="{posted.strftime('%Y-%m-%dT%H:%M:%S%z')}">{posted.strftime('%Y-%m-%d %H:%M')}</time></p>
 <p class="postinginfo"><a href="{_PREFIX}/about/best/{esc(metro)}" class="bestof-link">best of</a> <a href="{_PREFIX}/about/prohibited">[?]</a></p>
</div><div class="print-information print-pics"></div></section>{site.tips}</section>{site.footer}</section></body></html>"""
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
                      [13, "tok"], [4] + [f"3:00{i}0{i}_{stable(l.external_id + str(i), 10**12):012d}_0ab12"
                                          for i in range(max(len(l.images), stable(l.external_id, 18) + 3))], [6, l.slug],
                      [9, _odometer(l)], [10, money(price, "CAD") if price > 0 else ""], l.title])
    canonical = _search_url(ctx, metro).split(":", 1)[1]
    cur = "CAD" if metro in CANADIAN else "USD"
    return {"apiVersion": 8, "data": {
        **_sapi_extras(),
        "areas": {"16": {"areaUnits": "ft", "currency": cur, "distanceUnits": "km" if cur == "CAD" else "mi", "name": metro}},
        "canonicalUrl": canonical, "categoryAbbr": "cto",
        "decode": {"locationDescriptions": [0] + [s or metro for s in subs], "locations": locations,
                   "minPostedDate": ctx.now - 86400 * 60, "minPostingId": min_id, "version": 2},
        "items": items, "totalResultCount": len(items), "pageTitle": f"{metro} cars & trucks - by owner"}, "errors": []}


@functools.cache
def _sapi_extras() -> dict:
    """What a sapi response carries besides the items (the corpus one: filter buttons and their options, hub
    links, related searches, ~10 KB); the parser reads none of it."""
    r = ch.rng("craigslist-sapi")

    def options(n: int) -> list:
        return [{"label": ch.words(r, r.randint(1, 2)), "value": k} for k in range(1, n + 1)]

    buttons = [{"buttonLabel": name, "formConfig": {"is_default_button": 1, "label": name, "name": key, "options": options(n),
                                                    "type": "select", "variant": "checkbox"}, "isSet": ""}
               for name, key, n in (("type", "auto_bodytype", 13), ("condition", "condition", 6), ("cylinders", "auto_cylinders", 8),
                                    ("drive", "auto_drivetrain", 3), ("fuel", "auto_fuel_type", 6), ("paint color", "auto_paint", 13),
                                    ("size", "auto_size", 4), ("title status", "auto_title_status", 6),
                                    ("transmission", "auto_transmission", 3))]
    buttons.insert(0, {"buttonLabel": "price", "formConfig": {"input_prefix": "$", "is_default_button": 1, "label": "price",
                                                              "maxVal": {"name": "max_price", "placeholder": "max"},
                                                              "minVal": {"name": "min_price", "placeholder": "min"}, "name": "price",
                                                              "type": "range", "variant": "barchartwidget"}, "isSet": ""})
    return {"bundleDups": 0, "cacheTs": 1782954160, "detailsOrder": "rel", "filterButtons": buttons,
            "filters": {b["formConfig"]["name"]: [] for b in buttons},
            "hubLinks": [{"abbr": ch.ident(r, 3), "name": ch.words(r, 3), "count": r.randint(10, 9000)} for _ in range(24)],
            "humanReadableParams": [], "lang": "en", "params": {"cat": "cta", "purveyor": "owner"},
            "relatedSearches": [{"query": ch.words(r, 2), "count": r.randint(1, 400)} for _ in range(16)],
            "resultsOrder": "rel", "updated": 1782954160, "vicinity": {"ids": [], "names": []}}


def _legacy(metro: str, mine: list[SampleListing], others: list[SampleListing], query: dict[str, str], ctx: SiteContext) -> str:
    offset = page_number(query, "s", 0)
    chunk = mine[offset : offset + LEGACY_PER_PAGE]

    def row(l: SampleListing) -> str:
        u = ctx.url(SOURCE, listing_path(l))
        price = l.asking_price if l.asking_price and l.asking_price > 0 else None
        p = f'<span class="result-price">{esc(money(price, l.currency))}</span>' if price is not None else ""
        ids = ",".join(f"1:00{k}0{k}_{stable(l.external_id + str(k), 10**9):09d}" for k in range(stable(l.external_id, 14) + 4))
        return f"""<li class="result-row" data-pid="{esc(l.external_id)}">
        <a href="{esc(u)}" class="result-image gallery" data-ids="{ids}">{p}
                <div class="swipe" style="visibility: visible;"><div class="swipe-wrap"></div>
                <div class="slider-back arrow">&lt;</div><div class="slider-forward arrow">&gt;</div></div></a>
    <div class="result-info">
        <span class="icon icon-star" role="button"><span class="screen-reader-text">favorite this post</span></span>
            <time class="result-date" datetime="2026-01-01 10:00" title="Thu 01 Jan 10:00:00 AM">Jan  1</time>
        <h3 class="result-heading">
        <a href="{esc(u)}" data-id="{esc(l.external_id)}" class="result-title hdrlnk" id="postid_{esc(l.external_id)}">{esc(l.title)}</a>
        </h3>
        <span class="result-meta">
                {p}
                <span class="result-hood"> ({esc(_hood(l))})</span>
                <span class="result-tags">
                    <span class="pictag">pic</span>
                </span>
                <span class="banish icon icon-trash" role="button"><span class="screen-reader-text">hide this posting</span></span>
            <span class="unbanish icon icon-trash red" role="button"></span>
            <a href="#" class="restore-link"><span class="restore-narrow-text">restore</span><span class="restore-wide-text">restore this posting</span></a>
        </span>
    </div>
</li>"""

    nearby = ""
    if others and chunk:
        nearby = '<h4 class="ban nearby"><span class="bantext">Few local results found. Here are some from nearby areas.</span></h4>' + "".join(row(l) for l in others)
    nxt = offset + LEGACY_PER_PAGE
    next_href = _search_url(ctx, metro, f"?s={nxt}") if nxt < len(mine) else ""
    canonical = _search_url(ctx, metro, f"?s={offset}" if offset else "")
    site = _site()
    return f"""<!DOCTYPE html>
<html class="no-js"><head><title>{esc(metro)} cars &amp; trucks - by owner - craigslist</title>
<link rel="canonical" href="{esc(canonical)}">{site.style}{site.init}</head><body class="search">
<section id="page-top" class="page-container"><header class="global-header wide"><a class="header-logo" href="{_PREFIX}/{esc(metro)}/">CL</a>
<nav class="breadcrumbs-container"><form id="breadcrumbform" class="breadcrumbs-form"><ul class="breadcrumbs"><li class="crumb area"><a href="{_PREFIX}/{esc(metro)}/">{esc(metro)}</a></li>
<li class="crumb section"><a href="{_PREFIX}/{esc(metro)}/search/sss">for sale</a></li><li class="crumb category"><select name="category">{site.form_cats}</select></li></ul></form></nav>{site.user}</header>
<form id="searchform" class="search-form" method="GET" action="{_PREFIX}/{esc(metro)}/search/cto">{site.form}
<div class="search-legend"><div class="search-view"><ul class="dropdown-list"><li>list</li><li>thumb</li><li>gallery</li><li>map</li></ul></div></div>
<div class="paginator buttongroup"><span class="buttons"><span class="button pagenum"><span class="range"><span class="rangeFrom">{offset + 1 if chunk else 0}</span> - <span class="rangeTo">{offset + len(chunk)}</span></span> / <span class="totalcount">{len(mine)}</span></span>
<a href="{esc(next_href)}" class="button next" title="next page">next &gt; </a></span></div>
<div class="content" id="sortable-results"><ul class="rows">{''.join(row(l) for l in chunk)}{nearby}</ul></div></form>
<script type="text/html" id="clustertemplate"><li class="posting {{visited}}" data-pid="{{PostingID}}"><img src="{{ImageThumb}}"><a href="{{PostingURL}}" class="result-title">{{PostingTitle}}</a><span class="result-price">{{Ask}}</span></li></script>
</section>{site.footer}</body></html>"""


def _static(metro: str, mine: list[SampleListing], query: dict[str, str], ctx: SiteContext) -> str:
    page = page_number(query) or 1
    chunk, pages = paginate(mine, page, STATIC_PER_PAGE)
    lis = []
    ld_items = []
    for n, l in enumerate(chunk):
        price = l.asking_price if l.asking_price and l.asking_price > 0 else None
        p = f'<div class="price">{esc(money(price, l.currency))}</div>' if price is not None else ""
        lis.append(f"""
            <li class="cl-static-search-result" title="{esc(l.title)}">
                <a href="{esc(ctx.url(SOURCE, listing_path(l)))}">
                    <div class="title">{esc(l.title)}</div>

                    <div class="details">
                        {p}
                        <div class="location">
                            {esc(_hood(l))}
                        </div>
                    </div>
                </a>
            </li>""")
        item = {"@type": "ListItem", "position": n, "item": {"@type": "Product", "name": l.title, "image": img_urls(l, ctx)[:1],
                                                             "offers": {"@type": "Offer", "priceCurrency": l.currency,
                                                                        "availableAtOrFrom": {"@type": "Place", "address": {
                                                                            "@type": "PostalAddress", "addressLocality": _hood(l),
                                                                            "addressCountry": "CA" if _canadian(l) else "US"}}}}}
        if price is not None:
            item["item"]["offers"]["price"] = f"{price}.00"
        ld_items.append(item)
    site = _site()
    ld_results = {"@context": "https://schema.org", "@type": "ItemList", "itemListElement": ld_items}
    canonical = _search_url(ctx, metro, f"?page={page}" if page > 1 else "")
    links = ""
    if page > 1:
        links += f'<link rel="prev" href="{esc(_search_url(ctx, metro, f"?page={page - 1}" if page > 2 else ""))}">'
    if page < pages:
        links += f'<link rel="next" href="{esc(_search_url(ctx, metro, f"?page={page + 1}"))}">'
    return f"""<!DOCTYPE html>
<html><head><title>{esc(metro)} cars &amp; trucks - by owner - craigslist</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="description" content="{esc(metro)} cars &amp; trucks - by owner - craigslist">
<link rel="canonical" href="{esc(canonical)}">{links}{site.static_head}
<script type="application/ld+json" id="ld_searchpage_results">{ld(ld_results)}</script>
</head><body>
<div class="cl-content"><div class="cl-breadcrumbs"><a href="{_PREFIX}/{esc(metro)}/">{esc(metro)}</a> &gt; <a href="{_PREFIX}/{esc(metro)}/search/sss">for sale</a> &gt; cars &amp; trucks - by owner</div>
<div class="cl-search-results"><div class="results cl-results-page"></div></div>
<ol class="cl-static-search-results"><li class="cl-static-hub-links"><a href="/search/ctd">dealers</a></li>{site.hubs}{''.join(lis)}</ol></div>
<noscript>Please enable JavaScript</noscript>{site.footer}</body></html>"""


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

