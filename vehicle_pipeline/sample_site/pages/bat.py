"""Bring a Trailer pages of the sample site: listing pages, /auctions/results/ and the live board /auctions/.

Shaped like the real pages (SELECTORS.md §1): result banner `.listing-available-info`, `table#listing-bid`
with `data-ends`, essentials, group chips, JSON-LD, `BAT_VMS` with every comment and bid, and the noise
that trips naive parsers (sidebar "No Reserve" tags, related auctions "Sold for", comments quoting prices).
With the markup-change fault on ("changed"), listings use the 2019–21 essentials (`<b>`, no `.item`),
banners without "USD " and `data-timestamp` instead of `data-ends`.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from html import escape
from types import SimpleNamespace
from urllib.parse import urlencode

from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sample_site.truth import index_item, iso_z, title_parts, vin

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


# ---------------------------------------------------------------- page chrome
#
# Shaped like bringatrailer.com's WordPress pages (../shared/corpus/bat): ~90 KB of <head> (tracking tags,
# a 26 KB monitoring bootstrap, 45 KB of inline CSS, config scripts, two JSON-LD blocks), a 30 KB header
# with mega-menus, bid/address modals, a ~60 KB sidebar (recent features, events, the "Current BaT
# Auctions" widget: 40 other listings with `span[data-listing-current]` bids), a footer, and
# ~40 KB of bottom scripts (site config, Knockout templates in `<script type="text/html">` holding the
# markup of banners, cards and comments). A listing page comes to 300-500 KB with its comment thread
# (the corpus listing with 108 comments and bids and 150 photos is 805 KB); a results page, with its
# carousels of other listings and its market charts (JSON in data attributes), to ~500 KB.

_PREFIX = "/bat"
_TEMPLATE_STRINGS = (
    '<div class="listing-available-info"><span class="info-value noborder-tiny">Sold for <strong>USD $',
    '<span data-listing-currently="" class="info-value">Bid to USD $',
    '<a class="listing-card bg-white-transparent" href="/listing/',
    '<table class="listing-stats" id="listing-bid"><tr><td class="listing-stats-label">Winning Bid</td>',
    '<span data-ends="0">Ended</span>',
    '<div class="item-tag item-tag-noreserve"><span>No Reserve</span></div>',
    '<h1 class="post-title listing-post-title">',
)


def _current_auction_card(car: dict) -> str:
    lid = car["id"]
    # indented as the theme's PHP templates print it
    return (f'\n\t\t<div class="current-auction" data-pusher="post;list;{lid}">\n\t\t\t<a class="current-auction-link" href="{_PREFIX}/listing/{car["key"]}/">'
            f'\n\t\t\t\t<img width="235" height="159" src="/_img/bat/related/{lid}-{ch.slug(car["title"])}-scaled.jpg?resize=235%2C159" '
            f'class="current-auction-image wp-post-image" alt="{ch.esc(car["title"])}" decoding="async" loading="lazy">'
            f'\n\t\t\t\t<div class="current-auction-data-holder">\n\t\t\t\t\t<div class="current-auction-data-outer">'
            f'\n\t\t\t\t\t\t<div class="current-auction-data">\n\t\t\t\t\t\t\t<div class="current-auction-data-inner">'
            f'\n\t\t\t\t\t\t\t\tCurrent Bid:\n\t\t\t\t\t\t\t\t<br>\n\t\t\t\t\t\t\t\t<span data-listing-current="{lid}">'
            f'USD ${car["price"]:,}</span>\n\t\t\t\t\t\t\t\t<div class="current-auction-data-time">\n\t\t\t\t\t\t\t\t\tEnds in:'
            f'\n\t\t\t\t\t\t\t\t\t<br>\n\t\t\t\t\t\t\t\t\t<span data-auction-ends-id="{lid}" '
            f'data-auction-ends="2026-11-0{lid % 9 + 1}-18-00-00" data-layout="{{hn}} {{hl}}, {{mn}} {{ml}}" class="is-countdown">'
            f'{lid % 23 + 1} hours, {lid % 59} minutes</span>\n\t\t\t\t\t\t\t\t</div>\n\t\t\t\t\t\t\t</div>\n\t\t\t\t\t\t</div>'
            f'\n\t\t\t\t\t</div>\n\t\t\t\t</div>\n\t\t\t</a>\n\t\t</div>\n')


def _feature(r, i: int) -> str:
    title = ch.title_words(r, r.randint(4, 9))
    src = f"/_img/bat/features/{i}-{ch.hexid(r, 6)}.jpg"
    srcset = ", ".join(f"{src}?w={w} {w}w" for w in (144, 155, 235, 310, 470, 705))
    return (f'<div class="feature"><a href="{_PREFIX}/2026/10/{r.randint(1, 28)}/{ch.slug(title)}/"><img width="235" height="159" '
            f'src="{src}?resize=235%2C159" class="latest-feature-image wp-post-image" alt="{ch.esc(title)}" decoding="async" '
            f'loading="lazy" srcset="{srcset}" sizes="auto, (max-width: 235px) 100vw, 235px"><span class="title">{ch.esc(title)}</span></a></div>')


def _modal(r, ident: str, fields: int) -> str:
    states = "".join(f'<option value="{ch.ident(r, 2).upper()}">{ch.title_words(r, r.randint(1, 2))}</option>' for _ in range(60))
    inputs = "".join(
        f'<div class="form-group form-group-{i}"><label for="{ident}-f{i}">{ch.title_words(r, 2)}</label>'
        f'<input type="text" class="form-control" id="{ident}-f{i}" name="{ch.ident(r, 8)}" autocomplete="{ch.ident(r, 6)}" '
        f'data-bind="value: {ch.ident(r, 9)}, valueUpdate: \'input\'"><p class="help-block" data-bind="visible: hasError">{ch.sentence(r, 5, 10)}</p></div>'
        for i in range(fields))
    return (f'<div class="modal-cover modal-cover-vertically-centered" id="{ident}"><div class="modal-popup modal-popup-dialog">'
            f'<div class="modal-header"><header class="site-modal-header"><div class="site-modal-header-logo"><a class="header-logo modal-close" '
            f'href="{_PREFIX}/"></a></div></header></div><div class="modal-content"><h2 class="bid-information-heading">{ch.sentence(r, 8, 14)}</h2>'
            f'{ch.paragraphs(r, 2, 2, 4)}<form data-bind="submit: submit">{inputs}<select class="form-control" name="state">{states}</select>'
            f'<button type="submit" class="button button-blue">Continue</button></form></div></div></div>')


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("bat-site")
    styles = "".join(f'<style id="{ch.ident(r, 8)}-inline-css">{ch.css(r, n, "bat")}</style>'
                     for n in (2500, 4000, 600, 9000, 14000, 6000, 10000))
    head_pre = (ch.external_scripts(r, ("www.googletagmanager.com", "connect.facebook.net", "tags.srv.stackadapt.com",
                                        "www.redditstatic.com", "collector.tvsquared.com", "www.gstatic.com"), 14)
                + ch.script(ch.js(r, 26000), type="text/javascript"))  # the monitoring agent's bootstrap
    head_post = (ch.meta_tags(r, "bringatrailer", "Bring a Trailer: the best vintage and classic cars for sale online.")
                 + styles + ch.tracking_tags(r, "bat")
                 + ch.script(f"var BaT_Recaptcha = {json.dumps({'siteKey': ch.ident(r, 40), 'action': 'bid'})};", id="bat-recaptcha-js-extra")
                 + ch.script(f"/* <![CDATA[ */ var BAT_WEBSERVICES_PUSHER = {json.dumps({ch.ident(r, 12): ch.words(r, 10) for _ in range(120)})}; /* ]]> */",
                             id="bat-webservices-pusher-js-extra")
                 + ch.script(ch.js(r, 9000), type="text/javascript", id="wp-hooks-js-after"))
    nav = ch.menu(r, _PREFIX, "menu header-menu-secondary", 6, 28)
    featured = "".join(f'<li class="menu-item menu-item-featured"><a href="{_PREFIX}/listing/{c["key"]}/">{ch.esc(c["title"])}'
                       f'{" <span class=item-tag-noreserve>No Reserve</span>" if c["no_reserve"] else ""}</a></li>'
                       for c in ch.other_cars(r, 8))
    header = (f'<header id="site-header" class="site-header"><div id="site-header-bar-main"><a class="header-logo" href="{_PREFIX}/">'
              f'Bring a Trailer</a><div class="site-header-right-block"><form class="header-search" action="{_PREFIX}/search/">'
              f'<input type="search" name="s" placeholder="Search for a make or model"></form><a class="button" href="{_PREFIX}/account/">'
              f'Sign Up</a></div></div><nav id="site-header-bar-secondary">{nav}</nav><nav id="site-header-menu-mobile-wrap">'
              f'{ch.menu(r, _PREFIX, "menu header-menu-mobile", 4, 24)}<ul class="menu-featured">{featured}</ul></nav></header>')
    modals = (_modal(r, "modal-bid-address", 18) + _modal(r, "modal-bid-confirmation", 6) + _modal(r, "modal-register", 12)
              + _modal(r, "modal-shipping-quote", 10))
    events = "".join(f'<tr class="tribe-event"><td class="tribe-date">{r.randint(1, 28)} Nov</td><td><a href="{_PREFIX}/events/{ch.slug(t)}/">'
                     f'{ch.esc(t)}</a><p>{ch.sentence(r, 10, 20)}</p></td></tr>'
                     for t in (ch.title_words(r, 5) for _ in range(40)))
    dual = ch.menu(r, _PREFIX, "bat-theme-widget-dual-menu", 2, 12)
    templates = "".join(
        f'<script type="text/html" id="{name}">{ch.js(r, size, _TEMPLATE_STRINGS, every=3)}</script>'
        for name, size in (("comment-type-comment", 5200), ("listing-card-template", 4300), ("video-upload-template", 4700),
                           ("listings-toolbar-tmpl", 6000)))
    tail = (ch.script(f"/* <![CDATA[ */ var BaT_Theme = {json.dumps({ch.ident(r, 10): ch.words(r, 8) for _ in range(180)})}; /* ]]> */",
                      type="text/javascript", id="bat-theme-site-js-extra")
            + ch.script(f"/* <![CDATA[ */ var BAT_MODEL_LISTINGS_TOOLBAR = {json.dumps({ch.ident(r, 8): ch.words(r, 6) for _ in range(90)})}; /* ]]> */",
                        type="text/javascript", id="bat-model.listings-toolbar-js-extra")
            + ch.script(f"/* <![CDATA[ */ var BaT_Listings_Stripe = {json.dumps({ch.ident(r, 8): ch.ident(r, 40) for _ in range(40)})}; /* ]]> */",
                        type="text/javascript", id="bat-listings-stripe-js-extra")
            + templates + ch.external_scripts(r, ("bringatrailer.com/wp-content/plugins", "bringatrailer.com/wp-includes/js"), 22))
    comment_form = (f'<div class="comments-form-container" data-bind="using: commentFormViewModel"><form class="comment-form">'
                    f'<textarea name="comment" placeholder="Add a Comment..." data-bind="textInput: text"></textarea>'
                    f'<p class="comment-form-notes">{ch.sentence(r, 20, 30)}</p><button class="button" type="submit">Submit</button></form></div>')

    def current(i: int) -> str:
        cr = ch.rng("bat-current", i)
        cards = "".join(_current_auction_card(c) for c in ch.other_cars(cr, 40))
        return (f'<div class="widget bat-listings-widget-current-auctions"><h5 class="widget-title"><a href="{_PREFIX}/auctions/">'
                f'Current BaT Auctions</a></h5><div class="current-auctions group">{cards}</div></div>')

    def features(i: int) -> str:
        fr = ch.rng("bat-features", i)
        return (f'<div class="widget latest-features"><h5 class="widget-title"><a href="{_PREFIX}/features/">Recent BaT Features</a></h5>'
                f'<div class="bat-latest-features">{"".join(_feature(fr, k) for k in range(6))}</div></div>')

    def excerpt(i: int) -> str:
        er = ch.rng("bat-excerpt", i)
        return ch.paragraphs(er, 16, 5, 9)

    def videos(i: int) -> str:
        vr = ch.rng("bat-videos", i)
        items = "".join(f'<div class="video-item" data-video-id="{ch.ident(vr, 11)}"><img src="/_img/bat/video/{ch.hexid(vr, 10)}.jpg" '
                        f'alt="{ch.esc(ch.title_words(vr, 4))}" loading="lazy"><span class="video-title">{ch.title_words(vr, 5)}</span>'
                        f'<button class="video-play" type="button" aria-label="Play video"><svg viewBox="0 0 24 24"><path d="{ch.svg_path(vr)}"></path>'
                        f'</svg></button></div>' for _ in range(8))
        return f'<div id="bat_listing_page_video_gallery" class="listing-video-gallery">{items}</div>'

    def popular(i: int) -> str:
        pr = ch.rng("bat-popular", i)
        return ('<div class="popular-listings column-limited-width"><div class="popular-listings-module"><div class="swiper-container">'
                '<div class="popular-listings-wrapper swiper-wrapper">' + "".join(_card_div(pr, c) for c in ch.other_cars(pr, 14))
                + '</div></div></div></div>')

    def exceptional(i: int) -> str:
        xr = ch.rng("bat-exceptional", i)
        return ('<div class="exceptional-listings column-limited-width"><div class="exceptional-listings-module"><div class="swiper-container">'
                '<div class="exceptional-listings-wrapper swiper-wrapper">' + "".join(_card_div(xr, c) for c in ch.other_cars(xr, 24))
                + '</div></div></div></div>')

    def charts(i: int) -> str:
        cr = ch.rng("bat-charts", i)
        out = []
        for k in range(4):
            cars = ch.other_cars(cr, 130)
            stats = {"sold": [{"amount": c["price"], "image": f"/_img/bat/charts/{c['id']}.jpg?resize=155%2C105",
                               "timestamp": 1412194649 + c["id"] % 300_000_000, "title": c["title"],
                               "titlesub": f"Sold for USD ${c['price']:,}  on 10/1/24 ", "url": f"{_PREFIX}/listing/{c['key']}/",
                               "id": c["id"], "status": "paid"} for c in cars]}
            out.append(f'<div class="market-results__single" id="chart-{cr.randint(10**6, 10**7)}"><div class="chart chart--results" '
                       f'data-stats="{ch.esc(json.dumps(stats))}"><canvas width="800" height="400"></canvas></div>'
                       f'<div class="market-results__title"><a href="{_PREFIX}/{ch.slug(cars[0]["make"])}/">{ch.esc(cars[0]["make"])}</a></div></div>')
        return f'<div class="market-results-module column-limited-width"><div class="market-results"><div class="market-results__charts">{"".join(out)}</div></div></div>'

    return SimpleNamespace(
        popular=ch.Pool(4, popular), exceptional=ch.Pool(4, exceptional), charts=ch.Pool(4, charts),
        head_pre=head_pre, head_post=head_post, header=header, modals=modals, comment_form=comment_form,
        events=(f'<div class="tribe-compatibility-container"><div class="widget tribe-events-widget"><h5 class="widget-title">Upcoming Events</h5>'
                f'<table class="tribe-events-table">{events}</table></div></div>'),
        dual=f'<div id="bat-theme-widget-dual-menu-2" class="widget bat-theme-widget-dual-menu">{dual}</div>',
        footer=ch.footer(r, _PREFIX, "Bring a Trailer Media LLC", 5, 9), tail=tail, sprite=ch.svg_sprite(r, 40),
        current=ch.Pool(8, current), features=ch.Pool(8, features), excerpt=ch.Pool(12, excerpt), videos=ch.Pool(8, videos),
        vms_strings={ch.ident(r, 9): ch.sentence(r, 4, 12) for _ in range(40)},
        results_toolbar=f'<script type="text/html" id="listings-completed-toolbar-tmpl">{ch.js(r, 25000, _TEMPLATE_STRINGS, every=4)}</script>',
        filters=ch.menu(r, _PREFIX, "auctions-filters-list", 8, 26),
    )


def _card_div(r, car: dict) -> str:
    """A carousel card of another listing (a div.listing-card: the theme's swiper slides)."""
    lid = car["id"]
    href = f"{_PREFIX}/listing/{car['key']}/"
    verb = car["result"] if car["result"] != "Current Bid" else "Bid to"
    return (f'\n<div class="listing-card listing-card-separate swiper-slide" data-listing_id="{lid}" data-watched="false" '
            f'data-timestamp_end="{1757094079 + lid % 1000000}" data-pusher="post;list;{lid}" data-pusher_stats="post;stats;{lid}">'
            f'\n    <div class="thumbnail">\n        <img src="/_img/bat/cards/{lid}.jpg?resize=470%2C318" alt="{ch.esc(car["title"])}">'
            f'\n        <a class="image-overlay" href="{href}" title="{ch.esc(car["title"])}"></a>\n        <progress max="120" value="0"></progress>'
            f'\n    </div>\n    <div class="content">\n        <div class="content-main">\n            <div class="icon-live"></div>'
            f'\n            <h3><a href="{href}">{ch.esc(car["title"])}</a></h3>\n            <div class="item-tags">'
            f'\n                <div class="item-tag item-tag-currency "><span class="show-country-name">USA</span></div>'
            + ('\n                <div class="item-tag item-tag-noreserve"><abbr title="No reserve listing">NR</abbr><span>No Reserve</span></div>'
               if car["no_reserve"] else "")
            + f'\n            </div>\n            <div class="item-excerpt">{ch.sentence(r, 18, 30)}</div>\n        </div>'
            f'\n        <div class="item-results">{verb} USD ${car["price"]:,} <span> on 10/{lid % 28 + 1}/26 </span></div>'
            f'\n        <div class="bid-formatted bold">USD ${car["price"]:,}</div>\n    </div>\n</div>\n')


@functools.lru_cache(maxsize=16384)
def _comment_dom(c, seller_name: str | None) -> str:
    """One comment as the thread renders it (Knockout bindings left in place, as the served page has them)."""
    cid = escape(c.external_id)
    who = escape(c.author)
    when = _when(c.posted_at)
    seller = " bat_seller_comment" if c.author == seller_name else ""
    kind = {"bid": " bid-notification", "system": " system-comment"}.get(c.kind, "")
    return (f'<div class="comment comment-data group{seller}{kind}" data-bind="attr: {{ id: \'comment-\' + id() }}" id="comment-{cid}">'
            f'<div class="comment-datetime" data-bind="text: dateFormatted">{when}</div><div class="comment-body"><div class="comment-user">'
            f'<div class="comment-user-name"><a href="{_PREFIX}/member/{escape(c.author.lower())}/" target="_blank" data-bind="attr: {{ href: authorUrl }}">'
            f'<span data-bind="text: authorName">{who}</span></a><span class="total-likes" data-bind="visible: hasUser"><i class="fa fa-thumbs-o-up" '
            f'aria-hidden="true"></i> <span data-bind="text: authorLikesFormatted">{len(c.author) * 37 % 900}</span></span></div></div>'
            f'<div class="comment-text" data-bind="visible: isNotEditing"><div class="comment-text-markup" data-bind="html: markup"><p>{escape(c.text)}</p>'
            f'</div></div><div class="comment-actions"><button class="comment-actions-reply" data-bind="click: reply">Reply</button>'
            f'<button class="comment-actions-like" data-bind="click: like"><i class="fa fa-thumbs-o-up"></i> <span>{len(c.text) % 40}</span></button>'
            f'<button class="comment-actions-flag" data-bind="click: flag" aria-label="Flag"></button></div></div></div>')


# ---------------------------------------------------------------- truth


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    year, make, model, trim = title_parts(car, _h1(listing))
    _, mileage, unit = _mileage_text(listing)
    amount = _amount(listing)
    outcome = listing.outcome
    comments = []
    for c in listing.comments:
        comments.append({
            "id": c.external_id,
            "kind": c.kind,
            "author": c.author,
            "posted_at": iso_z(c.posted_at) if c.posted_at else None,
            "text": c.text,
            "amount": c.amount if c.kind == "bid" else None,
            "currency": "USD" if c.kind == "bid" else None,
        })
    return {
        "kind": "listing",
        "source": SOURCE,
        "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.slug,
        "title": _h1(listing),
        "year": year,
        "make": make,
        "model": model,
        "trim": trim,
        "vin": vin(car.vin),
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
        "ended_at": iso_z(listing.ends_at),
        "seller": listing.seller,
        "buyer": listing.buyer if outcome == "sold" else None,
        "location": car.location,
        "lot_number": listing.lot_number,
        "no_reserve": bool(listing.no_reserve),
        # The essentials state these lines verbatim (`_details`); the page has no drivetrain line.
        "exterior_color": car.exterior_color,
        "interior_color": car.interior_color,
        "transmission": car.transmission,
        "drivetrain": None,
        "engine": car.engine,
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
    rest = {"ajaxUrl": "/wp-admin/admin-ajax.php", "address": ch.hexid(ch.rng("bat-vms", listing.external_id), 40),
            "commentOrder": "desc", "commentsInitialLoad": 20, "postAuthor": 1, "userId": 0, "strings": _site().vms_strings}
    entries = ", ".join(_vms_entry(c, listing.external_id, listing.seller) for c in listing.comments)
    return _js(rest)[:-1] + ', "comments": [' + entries + "]}"


@functools.lru_cache(maxsize=16384)
def _vms_entry(c, post: str, seller: str | None) -> str:
    """One comment of BAT_VMS as JSON ("</" escaped): a listing's comments are the same at every clock."""
    ctype = {"comment": "comment", "bid": "bat-bid", "system": "bat-bid-reserve"}[c.kind]
    author_id = ch.stable(c.author, 900000)
    return _js({
        "channels": [f"comment;item;{c.external_id}"], "approved": "1", "authorId": author_id,
        "authorName": c.author, "id": int(c.external_id) if c.external_id.isdigit() else c.external_id,
        "post": post, "content": escape(c.text, quote=False), "timestamp": c.posted_at, "type": ctype,
        "bidAmount": c.amount if c.kind == "bid" else 0, "likes": len(c.text) % 40, "commentParent": None, "images": [],
        "videos": [], "authorUrl": f"{_PREFIX}/member/{c.author.lower()}/", "authorLikes": author_id % 5000,
        "authorLikesFormatted": f"{author_id % 5000:,}", "authorAvatar": f"/_img/bat/avatars/{author_id}.jpg?resize=100%2C100",
        "isSeller": c.author == seller, "isBidder": c.kind == "bid", "dateFormatted": _when(c.posted_at),
        "markup": f'<p>{escape(c.text, quote=False)}</p>', "editableUntil": c.posted_at + 300, "flags": [], "badges": [],
        "ckrating": {"up": len(c.text) % 40, "down": 0, "highlighted": False}, "photoGallery": None, "videoGallery": None,
    })


@functools.lru_cache(maxsize=16384)
def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%b %-d at %-I:%M %p")


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
    gallery = json.dumps([{"id": i, "large": {"url": ctx.base_url + p, "width": 2048, "height": 1365},
                           "small": {"url": ctx.base_url + p + "?resize=155%2C105", "width": 155, "height": 105},
                           "medium": {"url": ctx.base_url + p + "?resize=620%2C413", "width": 620, "height": 413},
                           "original": {"url": ctx.base_url + p + "?fit=4096%2C2731", "width": 4096, "height": 2731},
                           "srcset": ", ".join(f"{ctx.base_url}{p}?w={w} {w}w" for w in (155, 310, 620, 940, 1240, 2048)),
                           "caption": "", "alt": _h1(listing)} for i, p in enumerate(listing.images)])
    thumbs = "".join(f'<li class="gallery-thumb"><a href="{escape(ctx.base_url + p)}" data-index="{i}"><img src="{escape(ctx.base_url + p)}'
                     f'?resize=155%2C105" width="155" height="105" alt="" loading="lazy" decoding="async"></a></li>'
                     for i, p in enumerate(listing.images))
    ld = json.dumps({"@context": "http://schema.org", "@type": "Product", "name": _h1(listing),
                     "offers": {"@type": "Offer", "priceCurrency": "USD", "price": amount or 0}}).replace("</", "<\\/")
    comments_dom = "".join(_comment_dom(c, listing.seller) for c in reversed(listing.comments))
    site = _site()
    key = listing.external_id
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), (listing.car.make, ctx.url(SOURCE, f"/{ch.slug(listing.car.make)}/")),
                               (_h1(listing), url)])
    body = f"""<!DOCTYPE html>
<html lang="en-US" data-pusher="general"><head>
<meta charset="UTF-8">
{site.head_pre}
<title>{h1} for sale on BaT Auctions{escape(suffix)}{lot} |  Bring a Trailer</title>
{site.head_post}
{ch.ld_script(crumbs, nonce="")}
<script nonce="" type="application/ld+json">{ld}</script>
<meta property="og:title" content="{h1}">
<meta property="og:url" content="{escape(url)}">
<meta property="og:type" content="article">
<link rel="shortlink" href="{escape(ctx.url(SOURCE, '/?p=' + listing.external_id))}">
</head><body class="listing-template">
{site.sprite}
{site.header}
<div class="header"><nav><a href="{escape(ctx.url(SOURCE, LIVE_PATH))}">Auctions</a> <a href="{escape(ctx.url(SOURCE, RESULTS_PATH))}">Results</a></nav>
<div class="featured-banner"><span class="item-tag item-tag-noreserve">No Reserve</span> Featured: Sold for $1,234,000 last week!</div></div>
<main><div class="listing">
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
<div class="column column-left"><div class="post-excerpt"><p>{escape(listing.description)}</p>{site.excerpt.pick(key)}</div>
{site.videos.pick(key)}
<div id="bat_listing_page_photo_gallery"><div data-gallery-items="{escape(gallery)}"></div><ul class="gallery-thumbs">{thumbs}</ul></div>
{site.modals}
{_bid_table(listing, ctx, old)}
<div id="comments-anchor" class="comments"><h2>{listing.comment_count or 0} Comments</h2>{site.comment_form}<div class="comments-list">{comments_dom}</div></div>
</div>
<div class="column column-right">{_essentials(listing, ctx, old)}{_related(ctx)}<div class="sidebar">{site.features.pick(key)}{site.events}{site.current.pick(key)}{site.dual}</div></div>
</div></main>
{site.footer}
{site.tail}
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
        "country_flag": '<img class="countries-flags" src="/bat/wp-content/themes/bringatrailer/assets/img/countries/us.svg" alt="United States" />',
        "era": None, "in_subscription": None, "keyword_pages": None, "lat": None, "lon": None, "processing_type": None,
        "searchable": None, "watched": False, "pusher_stats": f"post;stats;{listing.external_id}",
        "watch_url": ctx.url(SOURCE, f"/wp-admin/admin-ajax.php?action=bat_listing_watch&listing={listing.external_id}"),
    }


def _js(data) -> str:
    # "</" escaped so text inside cannot close the script element; JSON reads "<\\/" as "</".
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _ref_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    if listing.outcome == "live":
        price = listing.high_bid or None
    else:
        price = {"sold": listing.sale_price, "bid_to": listing.high_bid}.get(listing.outcome)
    return index_item(url=ctx.url(SOURCE, listing_path(listing)), external_id=listing.slug, title=listing.title,
                      outcome=listing.outcome, price=price, ended_at=listing.ends_at, no_reserve=bool(listing.no_reserve))


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
        f'<a class="listing-card bg-white-transparent" href="{escape(ctx.url(SOURCE, listing_path(l)))}"><div class="thumbnail">'
        f'<img src="{escape(ctx.base_url + l.images[0]) if l.images else ""}?resize=470%2C318" alt="{escape(l.title)}" loading="lazy"></div>'
        f'<div class="content"><div class="content-main"><h3>{escape(l.title)}</h3><div class="item-tags">'
        f'<div class="item-tag item-tag-currency"><span class="show-country-name">USA</span></div>'
        f'<div class="item-tag item-tag-noreserve"{"" if l.no_reserve else _HIDDEN}><span>No Reserve</span></div></div>'
        f'<div class="item-excerpt">{escape(l.description)}</div></div><div class="item-results">{_sold_text(l)}</div></div></a>'
        for l in items
    )
    site = _site()
    body = f"""<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">{site.head_pre}<title>{title} | Bring a Trailer</title>
{site.head_post}
<meta property="og:url" content="{escape(url)}"/>
</head><body class="page-template-auctions">{site.sprite}{site.header}<main>{site.popular.pick(path + str(page))}
<div class="background-alternate">{site.charts.pick(path + str(page))}</div>{site.exceptional.pick(path + str(page))}
<div class="container auctions-container"><h1>{title}</h1><div class="auctions-filters">{site.filters}</div><div id="{container}">{cards}</div>
{script}</div>{site.results_toolbar}</main>
{site.footer}
{site.tail}
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
