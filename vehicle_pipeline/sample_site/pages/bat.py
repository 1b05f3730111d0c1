"""Bring a Trailer pages of the sample site: listing pages, /auctions/results/ and the live board /auctions/.

Shaped like the real pages (SELECTORS.md §1): result banner `.listing-available-info`, `table#listing-bid`
with `data-ends`, essentials, group chips, JSON-LD, `BAT_VMS` with every comment and bid, and the noise
that trips naive parsers (sidebar "No Reserve" tags, related auctions "Sold for", comments quoting prices).
With the markup-change fault on ("changed"), listings use the 2019–21 essentials (`<b>`, no `.item`),
banners without "USD " and `data-timestamp` instead of `data-ends`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from urllib.parse import urlencode

from vehicle_pipeline.model import ListingRef, Outcome
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sources import bat as parser
from vehicle_pipeline.sources.fields import epoch_to_utc, normalize_vin, split_title

SOURCE = "bat"
PER_PAGE = 24
_HIDDEN = ' style="display: none;"'
RESULTS_PATH = "/auctions/results/"
LIVE_PATH = "/auctions/"


def listing_path(listing: SampleListing) -> str:
    return f"/listing/{listing.slug}/"


def index_paths() -> list[str]:
    return [RESULTS_PATH, LIVE_PATH]


# ---------------------------------------------------------------- shared facts


def _money(amount: int) -> str:
    return f"${amount:,}"


def _us_date(epoch: int | None, four_digit: bool = False) -> str:
    if epoch is None:
        return ""
    d = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return f"{d.month}/{d.day}/{d.year if four_digit else d.strftime('%y')}"


def _h1(listing: SampleListing) -> str:
    return ("No Reserve: " if listing.no_reserve else "") + listing.title


def _mileage_text(listing: SampleListing) -> tuple[str, int, str]:
    car = listing.car
    unit_word = "Kilometers" if car.mileage_unit == "km" else "Miles"
    if car.mileage >= 10_000:
        shown = car.mileage // 1000 * 1000
        return f"{car.mileage // 1000}k {unit_word}", shown, car.mileage_unit
    return f"{car.mileage:,} {unit_word}", car.mileage, car.mileage_unit


def _details(listing: SampleListing) -> list[str]:
    car = listing.car
    items = []
    if car.vin:
        items.append(f"Chassis: {car.vin}")
    items.append(_mileage_text(listing)[0])
    items += [car.engine, car.transmission, f"{car.exterior_color} Paint", f"{car.interior_color} Upholstery",
              "Service Records", "Clean Carfax Report"]
    return items


def _amount(listing: SampleListing) -> int | None:
    if listing.outcome == "sold":
        return listing.sale_price
    if listing.outcome in ("bid_to", "live"):
        return listing.high_bid or None
    return None


# ---------------------------------------------------------------- truth


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    h1 = _h1(listing)
    year, make, model, trim = split_title(h1, make=car.make)
    # Engine/transmission/colour lines are classified by the parser's own rules; the page states them verbatim.
    classified = parser.classify_details(_details(listing))
    _, mileage, unit = _mileage_text(listing)
    amount = _amount(listing)
    outcome = listing.outcome
    comments = []
    for c in listing.comments:
        comments.append({
            "id": c.external_id,
            "kind": c.kind,
            "author": c.author,
            "posted_at": epoch_to_utc(c.posted_at).strftime("%Y-%m-%dT%H:%M:%SZ") if c.posted_at else None,
            "text": c.text,
            "amount": c.amount if c.kind == "bid" else None,
            "currency": "USD" if c.kind == "bid" else None,
        })
    ended = epoch_to_utc(listing.ends_at)
    return {
        "kind": "listing",
        "source": SOURCE,
        "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.slug,
        "title": h1,
        "year": year,
        "make": make,
        "model": model,
        "trim": trim,
        "vin": normalize_vin(car.vin),
        "vin_state": car.vin_state if car.vin else None,
        "mileage": mileage,
        "mileage_unit": unit,
        "outcome": outcome,
        "sale_price": listing.sale_price if outcome == "sold" else None,
        "high_bid": amount,
        "asking_price": None,
        "currency": "USD" if amount is not None else None,
        "bid_count": listing.bid_count,
        "comment_count": listing.comment_count,
        "view_count": listing.view_count,
        "watcher_count": listing.watcher_count,
        "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ") if ended else None,
        "seller": listing.seller,
        "buyer": listing.buyer if outcome == "sold" else None,
        "location": car.location,
        "lot_number": listing.lot_number,
        "no_reserve": bool(listing.no_reserve),
        "exterior_color": classified["exterior_color"],
        "interior_color": classified["interior_color"],
        "transmission": classified["transmission"],
        "drivetrain": classified["drivetrain"],
        "engine": classified["engine"],
        "body_style": None,
        "images": [ctx.base_url + p for p in listing.images],
        "comments": comments,
    }


# ---------------------------------------------------------------- listing page


def _banner(listing: SampleListing, old: bool) -> str:
    amount = _amount(listing)
    cur = "" if old else "USD "
    lid = escape(listing.external_id)
    date_span = (f'<span class="date date-localize" data-timestamp="{listing.ends_at}" data-format="L">on {_us_date(listing.ends_at, True)}</span>'
                 if old else f'<span class="date">on {_us_date(listing.ends_at)}</span>')
    if listing.outcome == "live":
        inner = (f'<span data-listing-currently="{lid}"><span class="info-label">Current Bid:</span> '
                 f'<strong class="info-value">USD {_money(amount or 0)}</strong></span>')
    else:
        verb = {"sold": "Sold for", "bid_to": "Bid to", "withdrawn": "Withdrawn", "no_sale": "Ended"}[listing.outcome]
        money = f" <strong>{cur}{_money(amount)}</strong>" if amount is not None else ""
        inner = f'<span data-listing-currently="{lid}"></span><span class="info-value noborder-tiny">{verb}{money} {date_span}</span>'
    return (f'<div class="listing-available-info">\n{inner}<a class="comments-anchor-link" href="#comments-anchor">'
            f'<span class="comments_header_html" data-realtime_id="{lid}" data-realtime_prop="comments-updated.header_html">'
            f'<span class="info-value">{listing.comment_count or 0}</span><span class="info-label">Comments</span></span></a>\n</div>')


def _bid_table(listing: SampleListing, ctx: SiteContext, old: bool) -> str:
    lid = escape(listing.external_id)
    amount = _amount(listing)
    rows = []
    time_attr = f'class="date-localize" data-timestamp="{listing.ends_at}"' if old else f'data-ends="{listing.ends_at}"'
    shown = datetime.fromtimestamp(listing.ends_at or 0, tz=timezone.utc).strftime("%A, %B %-d at %-I:%M%p").replace("AM", "am").replace("PM", "pm")
    bidder = next((c.author for c in reversed(listing.comments) if c.kind == "bid"), None)
    bidder_link = (f'<span data-listing-high-bidder-link="{lid}">by <a href="{ctx.url(SOURCE, "/member/" + escape(bidder.lower()) + "/")}">'
                   f'{escape(bidder)}</a></span>') if bidder else ""
    if listing.outcome == "live":
        rows.append(f'<tr class="listing-stats-stat" id="current-bid-row"><td class="listing-stats-label current-bid-label">Current Bid</td>'
                    f'<td class="listing-stats-value current-bid-value"><span data-listing-current="{lid}" data-amount="{amount or 0}" '
                    f'data-minimum="{(amount or 0) + 250}"><strong>USD {_money(amount or 0)}</strong></span> {bidder_link}</td></tr>')
        rows.append(f'<tr class="listing-stats-stat"><td class="listing-stats-label">Ends In</td><td class="listing-stats-value">'
                    f'<span {time_attr}>{shown}</span></td></tr>')
    else:
        if amount is not None:
            label = "Winning Bid" if listing.outcome == "sold" else "High Bid"
            rows.append(f'<tr class="listing-stats-stat"><td class="listing-stats-label">{label}</td><td class="listing-stats-value">'
                        f'<span>USD <strong>{_money(amount)}</strong></span> {bidder_link}</td></tr>')
        rows.append(f'<tr class="listing-stats-stat"><td class="listing-stats-label">Auction Ended</td><td class="listing-stats-value">'
                    f'<span {time_attr}>{shown}</span></td></tr>')
    rows.append(f'<tr class="listing-stats-stat"><td class="listing-stats-label">Bids</td>'
                f'<td class="listing-stats-value number-bids-value">{listing.bid_count or 0}</td></tr>')
    if listing.outcome == "sold" and listing.buyer:
        rows.append(f'<tr class="listing-bid-row listing-stats-stat"><td class="listing-stats-label listing-stats-label-centered" colspan="2">'
                    f'Sold to {escape(listing.buyer)} for {_money(amount)}!</td></tr>')
    cls = "listing-stats" if listing.outcome == "live" else "listing-stats ended"
    container = "" if listing.outcome == "live" else ' class="listing-closed"'
    return (f'<div id="listing-bid-container"{container} data-listing-bid-id="{lid}">\n<h2 class="listing-component-heading" id="bid-actions">'
            f'{"Place a Bid" if listing.outcome == "live" else "Auction Result"}</h2>\n'
            f'<table class="{cls}" id="listing-bid" data-listing-bid-id="{lid}"><tbody>\n' + "\n".join(rows) + "\n</tbody></table>\n"
            f'<div id="listing-actions-stats" class="listing-actions-stats"><div><span data-stats-id="{lid}" data-stats-item="views">'
            f'{listing.view_count or 0:,} views</span></div><div><span data-stats-id="{lid}" data-stats-item="watchers">'
            f'{listing.watcher_count or 0:,} watchers</span></div></div>\n</div>')


def _essentials(listing: SampleListing, ctx: SiteContext, old: bool) -> str:
    car = listing.car
    seller = escape(listing.seller or "")
    member = ctx.url(SOURCE, f"/member/{escape((listing.seller or '').lower())}/")
    items = "".join(f"<li>{escape(i)}</li>" for i in _details(listing))
    lot = f"#{listing.lot_number}" if listing.lot_number else ""
    if old:
        return (f'<div class="essentials">\n<h2 class="title">BaT Essentials</h2>\n<b>Seller</b>: <a href="{member}">{seller}</a><br>\n'
                f'<b>Location</b>: <a href="https://www.google.com/maps/place/{escape(car.location)}">{escape(car.location)}</a><br>\n'
                f'<b>Listing Details</b>\n<ul>{items}</ul>\n<b>Private Party or Dealer</b>: Private Party<br>\n'
                + (f"<b>Lot</b> {lot}\n" if lot else "") + "</div>")
    return (f'<div class="essentials">\n<h2 class="title">BaT Essentials</h2>\n'
            f'<div class="item item-seller"><strong>Seller</strong>: <a href="{member}" target="_blank">{seller}</a> '
            f'<a class="button button-notransform class-toggle-link" href="#" aria-label="Subscribe"><span class="bell-icon"></span></a></div>'
            f'<strong>Location</strong>: <a href="https://www.google.com/maps/place/{escape(car.location)}" target="_blank">{escape(car.location)}</a>'
            f'<div class="item"><strong>Listing Details</strong><ul>{items}</ul></div>'
            f'<div class="item additional"><strong>Private Party or Dealer</strong>: Private Party</div>'
            + (f'<div class="item"><strong>Lot</strong> {lot}</div>' if lot else "") + "</div>")


def _vms(listing: SampleListing) -> str:
    comments = []
    for c in listing.comments:
        ctype = {"comment": "comment", "bid": "bat-bid", "system": "bat-bid-reserve"}[c.kind]
        comments.append({
            "channels": [f"comment;item;{c.external_id}"], "approved": "1", "authorId": abs(hash(c.author)) % 900000,
            "authorName": c.author, "id": int(c.external_id) if c.external_id.isdigit() else c.external_id,
            "post": listing.external_id, "content": escape(c.text, quote=False), "timestamp": c.posted_at, "type": ctype,
            "bidAmount": c.amount if c.kind == "bid" else 0, "likes": 0, "commentParent": None, "images": [], "videos": [],
        })
    vms = {"ajaxUrl": "/wp-admin/admin-ajax.php", "commentOrder": "desc", "comments": comments,
           "commentsInitialLoad": 20, "postAuthor": 1, "userId": 0}
    # Escape "</" so comment text cannot close the script element; JSON decoders read "<\/" as "</".
    return _js(vms)


def _related(ctx: SiteContext) -> str:
    cards = []
    for i, (title, result) in enumerate((("1972 Datsun 240Z", "Sold for USD $41,000 <span> on 3/2/25 </span>"),
                                         ("1995 BMW M3 Coupe 5-Speed", "Bid to USD $28,500 <span> on 3/1/25 </span>"))):
        cards.append(f'<a class="listing-card bg-white-transparent" href="{ctx.url(SOURCE, f"/listing/related-{i}/")}"><h3>{title}</h3>'
                     f'<div class="item-tags"><div class="item-tag item-tag-noreserve"><abbr title="No reserve listing">NR</abbr><span>No Reserve</span></div></div>'
                     f'<div class="item-results">{result}</div></a>')
    return '<div class="related-listings"><h2>Related Auctions</h2>' + "".join(cards) + "</div>"


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    old = ctx.markup_variant.get(SOURCE) == "changed"
    url = ctx.url(SOURCE, listing_path(listing))
    h1 = escape(_h1(listing))
    amount = _amount(listing)
    if listing.outcome in ("sold", "bid_to"):
        d = datetime.fromtimestamp(listing.ends_at or 0, tz=timezone.utc)
        verb = "sold for" if listing.outcome == "sold" else "bid to"
        suffix = f" - {verb} {_money(amount)} on {d.strftime('%B')} {d.day}, {d.year}"
    elif listing.outcome == "live":
        suffix = ""
    else:
        d = datetime.fromtimestamp(listing.ends_at or 0, tz=timezone.utc)
        suffix = f" - closed on {d.strftime('%B')} {d.day}, {d.year}"
    lot = f" (Lot #{int(listing.lot_number):,})" if listing.lot_number and listing.lot_number.isdigit() else ""
    gallery = json.dumps([{"id": i, "large": {"url": ctx.base_url + p}, "small": {"url": ctx.base_url + p + "?resize=155"}}
                          for i, p in enumerate(listing.images)])
    ld = json.dumps({"@context": "http://schema.org", "@type": "Product", "name": _h1(listing),
                     "offers": {"@type": "Offer", "priceCurrency": "USD", "price": amount or 0}}).replace("</", "<\\/")
    comments_dom = "".join(
        f'<div class="comment comment-data group" id="comment-{escape(c.external_id)}"><div class="comment-body">'
        f'<div class="comment-user-name"><span>{escape(c.author)}</span></div><p>{escape(c.text)}</p></div></div>'
        for c in reversed(listing.comments[-20:])
    )
    body = f"""<!DOCTYPE html>
<html lang="en-US" data-pusher="general"><head>
<meta charset="UTF-8">
<title>{h1} for sale on BaT Auctions{escape(suffix)}{lot} |  Bring a Trailer</title>
<meta property="og:title" content="{h1}">
<meta property="og:url" content="{escape(url)}">
<meta property="og:type" content="article">
<link rel="shortlink" href="{escape(ctx.url(SOURCE, '/?p=' + listing.external_id))}">
<script nonce="" type="application/ld+json">{ld}</script>
</head><body class="listing-template">
<div class="header"><nav><a href="{escape(ctx.url(SOURCE, LIVE_PATH))}">Auctions</a> <a href="{escape(ctx.url(SOURCE, RESULTS_PATH))}">Results</a></nav>
<div class="featured-banner"><span class="item-tag item-tag-noreserve">No Reserve</span> Featured: Sold for $1,234,000 last week!</div></div>
<div class="listing">
<div class="listing-intro" data-listing-intro-id="{escape(listing.external_id)}" data-current-user-id="0">
<div class="listing-intro-header"><div class="listing-sticky"><div class="column-limited-width">
<div class="listing-intro-top"><h1 class="post-title listing-post-title">{h1}</h1>
<div class="item-tags"><div class="item-tag item-tag-currency "><span class="show-country-name">USA</span></div></div></div>
<div class="listing-available">{_banner(listing, old)}</div>
</div></div></div></div>
<div class="column-groups">
<div class="group-item-wrap"><div class="group-item"><button class="group-title"><strong class="group-title-label">Make</strong>{escape(listing.car.make)}<span class="watch-bell"></span></button></div></div>
<div class="group-item-wrap"><div class="group-item"><button class="group-title"><strong class="group-title-label">Model</strong>{escape(listing.car.make + ' ' + listing.car.model)}<span class="watch-bell"></span></button></div></div>
<div class="group-item-wrap"><div class="group-item"><button class="group-title"><strong class="group-title-label">Era</strong>{listing.car.year // 10 * 10}s<span class="watch-bell"></span></button></div></div>
</div>
<div class="column column-left"><div class="post-excerpt"><p>{escape(listing.description)}</p></div>
<div id="bat_listing_page_photo_gallery"><div data-gallery-items="{escape(gallery)}"></div></div>
{_bid_table(listing, ctx, old)}
<div id="comments-anchor" class="comments"><h2>{listing.comment_count or 0} Comments</h2><div class="comments-list">{comments_dom}</div></div>
</div>
<div class="column column-right">{_essentials(listing, ctx, old)}{_related(ctx)}</div>
</div>
<script type="text/javascript" id="bat-theme-viewmodels-js-extra" nonce="">
/* <![CDATA[ */
var BAT_VMS = {_vms(listing)};
/* ]]> */
</script>
</body></html>
"""
    return Rendered(body=body.encode("utf-8"))


# ---------------------------------------------------------------- index pages


def _sold_text(listing: SampleListing) -> str:
    date = f"<span> on {_us_date(listing.ends_at)} </span>"
    if listing.outcome == "sold":
        return f"Sold for USD {_money(listing.sale_price)} {date}"
    if listing.outcome == "bid_to":
        return f"Bid to USD {_money(listing.high_bid)} {date}"
    if listing.outcome == "withdrawn":
        return f"Withdrawn {date}"
    if listing.outcome == "no_sale":
        return f"Ended {date}"
    return ""


def _item(listing: SampleListing, ctx: SiteContext) -> dict:
    live = listing.outcome == "live"
    return {
        "active": live, "categories": None, "comments": None if live else "0", "country": None, "country_code": "US",
        "country_code_alpha3": "USA", "currency": "USD",
        "current_bid": (listing.high_bid or False) if live else (listing.high_bid or 0),
        "current_bid_formatted": f"USD {_money(listing.high_bid or 0)}", "current_bid_label": "Bid:",
        "excerpt": listing.description, "id": int(listing.external_id) if listing.external_id.isdigit() else listing.external_id,
        "noreserve": bool(listing.no_reserve), "premium": False, "pusher": f"post;list;{listing.external_id}", "repeat": False,
        "sold_text": "" if live else _sold_text(listing),
        "thumbnail_url": ctx.base_url + listing.images[0] if listing.images else None,
        "timestamp_end": listing.ends_at, "title": listing.title, "url": ctx.url(SOURCE, listing_path(listing)),
        "views": None if live else "0 Views", "watchers": None if live else "0 Watchers", "year": None,
    }


def _js(data) -> str:
    # "</" escaped so text inside cannot close the script element; JSON reads "<\\/" as "</".
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _ref_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    live = listing.outcome == "live"
    price = {"sold": listing.sale_price, "bid_to": listing.high_bid}.get(listing.outcome)
    if live:
        price = listing.high_bid or None
    ended = epoch_to_utc(listing.ends_at)
    return ListingRef(
        url=ctx.url(SOURCE, listing_path(listing)), external_id=listing.slug, title=listing.title,
        outcome=Outcome(listing.outcome), price=price, ended_at=ended, no_reserve=bool(listing.no_reserve),
    ).to_contract()


def _page_no(query: dict[str, str]) -> int:
    try:
        return max(1, int(query.get("page", "1")))
    except ValueError:
        return 1


def _page_url(ctx: SiteContext, path: str, page: int) -> str:
    return ctx.url(SOURCE, path) + (f"?{urlencode({'page': page})}" if page > 1 else "")


def _split(path: str, query: dict[str, str], listings: list[SampleListing]):
    if path == RESULTS_PATH:
        ended = [l for l in listings if l.outcome not in (None, "live")]
        page = _page_no(query)
        pages = max(1, -(-len(ended) // PER_PAGE))
        return ended[(page - 1) * PER_PAGE: page * PER_PAGE], page, pages, len(ended)
    if path == LIVE_PATH:
        live = [l for l in listings if l.outcome == "live"]
        return live, 1, 1, len(live)
    return None


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    split = _split(path, query, listings)
    if split is None:
        return None
    items, page, pages, total = split
    url = _page_url(ctx, path, page)
    if path == RESULTS_PATH:
        data = {"items": [_item(l, ctx) for l in items], "items_per_page": PER_PAGE, "items_total": total,
                "page_current": page, "pages_total": pages, "stats_enabled": False}
        script = ('<script nonce="" type="text/javascript" id="bat-theme-auctions-completed-initial-data">\n/* <![CDATA[ */\n'
                  f"var auctionsCompletedInitialData = {_js(data)};\n/* ]]> */\n</script>")
        container, title = "auctions-completed-container", "Auction Results"
    else:
        data = {"items": [_item(l, ctx) for l in items]}
        script = ('<script nonce="" type="text/javascript" id="bat-theme-auctions-current-initial-data">\n/* <![CDATA[ */\n'
                  f"var auctionsCurrentInitialData = {_js(data)};\n/* ]]> */\n</script>")
        container, title = "auctions-current-container", "Auctions"
    cards = "".join(
        f'<a class="listing-card bg-white-transparent" href="{escape(ctx.url(SOURCE, listing_path(l)))}"><h3>{escape(l.title)}</h3>'
        f'<div class="item-tag item-tag-noreserve"{"" if l.no_reserve else _HIDDEN}><span>No Reserve</span></div>'
        f'<div class="item-results">{_sold_text(l)}</div></a>'
        for l in items
    )
    body = f"""<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8"><title>{title} | Bring a Trailer</title>
<meta property="og:url" content="{escape(url)}"/>
</head><body><div class="container"><h1>{title}</h1><div id="{container}">{cards}</div></div>
{script}
</body></html>"""
    return Rendered(body=body.encode("utf-8"))


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    split = _split(path, query, listings)
    if split is None:
        return None
    items, page, pages, total = split
    url = _page_url(ctx, path, page)
    return {
        "kind": "index", "source": SOURCE, "url": url, "total_items": total, "page": page, "pages_total": pages,
        "next_page_url": _page_url(ctx, path, page + 1) if page < pages else None,
        "items": [_ref_truth(l, ctx) for l in items],
    }
