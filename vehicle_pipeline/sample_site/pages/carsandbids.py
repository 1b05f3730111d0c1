"""Cars & Bids pages of the sample site: rendered auction pages, the list API and the detail API.

Shaped like the real ones (SELECTORS.md §2): `ul.bid-stats`, the bid panel, `ul.stats` rows with a
zone-stamped time, quick facts as two `dl`s (Model with a Save button, Seller with an avatar), the
subtitle h2 with the `No Reserve` tag, JSON-LD whose price is the high bid even when unsold, and
comments that quote "Sold for"/"Bid to". The browser zone is PKT, or UTC under the markup-change fault.
APIs: `/v2/autos/auctions?status=closed|new&limit=&offset=` and `/v2/autos/auctions/<id>`.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime, timedelta, timezone
from html import escape
from types import SimpleNamespace
from urllib.parse import urlencode

from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sample_site.truth import index_item, iso_z, vin

SOURCE = "carsandbids"
LIST_PATH = "/v2/autos/auctions"
DETAIL_PREFIX = "/v2/autos/auctions/"
DEFAULT_LIMIT = 50
_STATUS = {"sold": "sold", "sold_after": "sold_after", "bid_to": "reserve_not_met", "withdrawn": "canceled",
           "live": "live", "no_sale": "no_sale"}
_ZONES = {"PKT": 5, "UTC": 0}
# The detail API's enum codes, as far as the real responses show them (SELECTORS.md §2b); a value of the
# world with no known code is sent as 0, which a reader must leave unknown.
TRANSMISSIONS = {1: "Automatic", 2: "Manual"}
DRIVE_TRAINS = {2: "Rear-wheel drive", 3: "4WD/AWD"}
BODY_STYLES = {1: "Coupe", 4: "Sedan", 8: "Wagon"}


def slugify(text: str) -> str:
    """The site's URL slug of a title or name: lower case, runs of anything but a-z0-9 as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def listing_path(listing: SampleListing) -> str:
    return f"/auctions/{listing.external_id}/{slugify(listing.title)}"


def index_paths() -> list[str]:
    return [f"{LIST_PATH}?status=closed&limit={DEFAULT_LIMIT}", f"{LIST_PATH}?status=new&limit={DEFAULT_LIMIT}"]


def _iso(epoch: int | None) -> str | None:
    return iso_z(epoch)


def _shown_amount(listing: SampleListing) -> int | None:
    """The amount the bid bar shows."""
    if listing.outcome in ("sold", "sold_after"):
        return listing.sale_price
    if listing.outcome in ("bid_to", "live"):
        return listing.high_bid or None
    return None


def _ymmt(listing: SampleListing) -> tuple:
    # The page states make and model (quick facts, the detail JSON); the title is 'YEAR MAKE MODEL [TRIM]'.
    car = listing.car
    return car.year, car.make, car.model, car.trim


def _base(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    year, make, model, trim = _ymmt(listing)
    return {
        "kind": "listing", "source": SOURCE, "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": listing.external_id, "title": listing.title, "year": year, "make": make, "model": model,
        "trim": trim, "vin": vin(car.vin), "vin_state": car.vin_state if car.vin else None,
        "mileage": car.mileage, "mileage_unit": car.mileage_unit, "outcome": listing.outcome,
        "asking_price": None, "seller": listing.seller, "location": car.location, "lot_number": None,
        "no_reserve": bool(listing.no_reserve), "exterior_color": car.exterior_color,
        "interior_color": car.interior_color,
    }


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    """What `parse` prints for the rendered auction page."""
    car = listing.car
    shown = _shown_amount(listing)
    ended = listing.ends_at - listing.ends_at % 60 if listing.ends_at else None  # the page shows minutes
    out = _base(listing, ctx)
    out.update({
        "sale_price": listing.sale_price if listing.outcome in ("sold", "sold_after") else None,
        "high_bid": None if listing.outcome == "sold_after" else shown,
        "currency": "USD" if shown is not None else None,
        "bid_count": listing.bid_count, "comment_count": listing.comment_count,
        "view_count": listing.view_count, "watcher_count": None, "ended_at": _iso(ended),
        "buyer": listing.buyer if listing.outcome in ("sold", "sold_after") else None,
        "transmission": car.transmission, "drivetrain": car.drivetrain, "engine": car.engine,
        "body_style": car.body_style, "images": [ctx.base_url + p for p in listing.images],
    })
    return {k: out[k] for k in _KEYS}


_KEYS = ("kind source url external_id title year make model trim vin vin_state mileage mileage_unit outcome "
         "sale_price high_bid asking_price currency bid_count comment_count view_count watcher_count ended_at "
         "seller buyer location lot_number no_reserve exterior_color interior_color transmission drivetrain "
         "engine body_style images").split()


# ---------------------------------------------------------------- auction page


def _zone(ctx: SiteContext) -> str:
    return "UTC" if ctx.markup_variant.get(SOURCE) == "changed" else "PKT"


def _local(epoch: int, zone: str) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc) + timedelta(hours=_ZONES[zone])


def _hm(dt: datetime) -> str:
    return dt.strftime("%-I:%M%p").lower()


# ---------------------------------------------------------------- page chrome
#
# Shaped like the rendered React page (../shared/corpus/carsandbids, 200-335 KB): a light <head> (tag
# manager, webpack runtime, stylesheet links, BreadcrumbList and Product JSON-LD), a navbar, the photo
# strip with every photo's thumbnail, detail sections, a Q&A carousel, and the comment thread. What makes
# the real pages heavy is that every user is drawn with an inlined base64 avatar of ~9 KB (seller, bidder,
# each comment and question), so a page comes to 180-370 KB with its dozen newest comments. The detail
# JSON carries the write-up sections and ~230 photos in four groups (~30 KB; the corpus ones are 37-42 KB).

_VERIFIED = ('<svg class="verified" width="17" height="17" fill="none" xmlns="http://www.w3.org/2000/svg"><title>Registered Bidder</title>'
             '<path d="M6.166 1.286c.952-1.715 3.418-1.715 4.37 0l.425.764.84-.24c1.886-.54 3.63 1.205 3.091 3.09l-.24.841.764.425c1.715.952 '
             '1.715 3.418 0 4.37l-.764.425.24.84c.54 1.886-1.205 3.63-3.09 3.091l-.841-.24-.424.764z" fill="#4AD493"></path></svg>')
_REP = ('<svg class="reputation" width="8" height="10" fill="none" xmlns="http://www.w3.org/2000/svg"><title>Reputation Icon</title>'
        '<path d="M4 1v8M1 4l3-3 3 3" stroke="#262626" stroke-width="1.25" stroke-linecap="round" stroke-linejoin="round"></path></svg>')


@functools.cache
def _site() -> SimpleNamespace:
    r = ch.rng("cab-site")
    avatars = tuple(ch.b64_png(r, r.randint(7000, 11000)) for _ in range(16))
    runtime = ch.js(r, 3600)
    head = (ch.external_scripts(r, ("static.ads-twitter.com", "connect.facebook.net", "www.google-analytics.com",
                                    "www.googletagmanager.com"), 5)
            + ch.tracking_tags(r, "carsandbids")
            + ch.meta_tags(r, "carsandbids", None)  # the page's description is react-helmet's, below
            + '<link href="/manifest.json" rel="manifest"><style>#root.init{visibility:hidden}</style>'
            + ch.script(runtime))
    nav = ("".join(f'<li class="nav-item"><a class="nav-link" href="/carsandbids/{ch.slug(w)}">{ch.esc(w)}</a></li>'
                   for w in ("Auctions", "Sell a Car", "What's Cars & Bids?", "Daily Email", "Community", "Doug's Picks"))
           + "".join(f'<a class="btn btn-link dropdown-item" href="/carsandbids/search/{ch.slug(c["make"])}">{ch.esc(c["make"])}</a>'
                     for c in ch.other_cars(r, 30)))
    header = (f'<header class="header"><nav class="navbar navbar-expand-md navbar-light"><a class="navbar-brand" href="/carsandbids/">'
              f'<svg viewBox="0 0 120 24" width="120" height="24"><path d="{ch.svg_path(r, 40)}"></path></svg></a>'
              f'<form class="form-inline search"><input class="form-control" type="search" placeholder="Search for a car (ex. BMW, Audi, Ford)">'
              f'</form><ul class="navbar-nav">{nav}</ul><div class="header-promo">No Reserve Fridays: 12 cars sold for over $50,000 this week</div>'
              f'</nav></header>')
    footer = (f'<div id="autos-footer" class="p-0 navbar navbar-expand-md navbar-light"><div class="container-fluid flex-column">'
              f'{ch.footer(r, "/carsandbids", "Cars & Bids", 3, 7)}</div></div>')
    sections = "".join(f'<div class="detail-section detail-{name}"><div class="detail-heading"><h3>{title}</h3></div><div class="detail-body">'
                       '{' + name + '}</div></div>'
                       for name, title in (("equipment", "Equipment"), ("modifications", "Modifications"), ("known_flaws", "Known Flaws"),
                                           ("recent_service_history", "Recent Service History"), ("other_items", "Other Items Included in Sale"),
                                           ("ownership_history", "Ownership History"), ("seller_notes", "Seller Notes")))

    def details(i: int) -> str:
        dr = ch.rng("cab-details", i)
        lists = {name: "<ul>" + "".join(f"<li>{ch.sentence(dr, 4, 14)}</li>" for _ in range(dr.randint(3, 9))) + "</ul>"
                 for name in ("equipment", "modifications", "known_flaws", "recent_service_history", "other_items",
                              "ownership_history", "seller_notes")}
        videos = "".join(f'<div class="video yt-preview"><div class="video-preview"><img src="/_img/carsandbids/yt/{ch.ident(dr, 11)}.jpg" '
                         f'alt=""><button class="rb ytp-large-play-button ytp-button" aria-label="Play"><svg height="100%" viewBox="0 0 68 48">'
                         f'<path class="ytp-large-play-button-bg" d="{ch.svg_path(dr, 16)}"></path></svg></button></div></div>' for _ in range(3))
        return sections.format(**lists) + f'<div class="detail-section detail-videos"><div class="videos multiple">{videos}</div></div>'

    def questions(i: int) -> str:
        qr = ch.rng("cab-questions", i)
        cards = []
        for k in range(qr.randint(3, 8)):
            asker, answerer = ch.ident(qr, 8), ch.ident(qr, 7)
            cards.append(f'<li data-id="{ch.ident(qr, 8)}" class="qanda answered"><div class="question">{_avatar_user(asker, avatars)}'
                         f'<p>{ch.sentence(qr, 8, 20)}</p></div><div class="answer">{_avatar_user(answerer, avatars)}'
                         f'<p>{ch.sentence(qr, 10, 30)}</p></div></li>')
        return (f'<div class="position-relative"><div class="questions"><button class="prev" disabled><span class="sr-only">Prev</span></button>'
                f'<div class="cards" id="qcontainer-cards"><ul>{"".join(cards)}</ul></div><button class="next"><span class="sr-only">Next</span>'
                f'</button></div></div>')

    return SimpleNamespace(avatars=avatars, head=head, header=header, footer=footer, details=ch.Pool(12, details),
                           questions=ch.Pool(12, questions), tail=ch.external_scripts(r, ("carsandbids.com/static/js",), 8))


def _avatar(name: str, avatars: tuple[str, ...]) -> str:
    return avatars[ch.stable(name, len(avatars))]


def _avatar_user(name: str, avatars: tuple[str, ...]) -> str:
    n = escape(name)
    return (f'<div class="username"><div class="photo float-left"><a title="{n}" class="usericon" href="/carsandbids/user/{n}">'
            f'<img src="{_avatar(name, avatars)}" alt="{n}"></a></div><div class="text"><a title="{n}" class="user" href="/carsandbids/user/{n}">'
            f'{n}</a>{_VERIFIED}<span class="rep">{_REP}{len(name) * 7 % 90}</span></div></div>')


def _user(name: str | None, ctx: SiteContext) -> str:
    if not name:
        return ""
    n = escape(name)
    href = escape(ctx.url(SOURCE, f"/user/{name}"))
    return (f'<div class="username"><div class="photo float-left"><a title="{n}" class="usericon" href="{href}">'
            f'<img src="{_avatar(name, _site().avatars)}" alt="{n}"></a></div>'
            f'<div class="text"><a title="{n}" class="user" href="{href}">{n}</a></div></div>')


def _thread_item(c, avatars: tuple[str, ...], now: int) -> str:
    n = escape(c.author)
    ago = max(1, (now - c.posted_at) // 3600)
    bid = f'<dl class="placed-bid "><dt>Bid</dt><dd class="bid-value"><span class="dollar">$</span>{c.amount or 0:,}</dd></dl>' if c.kind == "bid" else ""
    return (f'<li data-id="{escape(c.external_id)}" class="{"bid" if c.kind == "bid" else "comment"}"><div name="comment-{escape(c.external_id)}">'
            f'<div class="username"><div class="photo float-left"><a title="{n}" class="usericon" href="/carsandbids/user/{n}">'
            f'<img src="{_avatar(c.author, avatars)}" alt="{n}"></a></div><div class="text"><a class="user" href="#">{n}</a>{_VERIFIED}'
            f'<span class="rep">{_REP}{len(c.author) * 7 % 90}</span><span class="user-extra"><span class="time" data-full="{ago} hours ago">'
            f'<span class="abbr">{ago}h</span></span></span></div></div><div class="content"><div class="message"><p>{escape(c.text)}</p>{bid}</div>'
            f'<div class="interact"><button class="btn btn-sm btn-outline-secondary btn-upvote ">{_REP}{len(c.text) % 9}</button>'
            f'<button class="btn btn-sm btn-link btn-reply">Reply</button><button class="btn btn-sm btn-link btn-flag ">Flag as inappropriate</button>'
            f'</div></div></div></li>')


def _money(amount: int | None) -> str:
    return f'<span class="bid-value"><span class="dollar">$</span>{amount or 0:,}</span>'


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    car = listing.car
    zone = _zone(ctx)
    url = ctx.url(SOURCE, listing_path(listing))
    title = escape(listing.title)
    shown = _shown_amount(listing)
    live = listing.outcome == "live"
    end_local = _local(listing.ends_at or 0, zone)
    if live:
        first = (f'<li class="time-left"><span class="tag d-none d-sm-flex">Time Left</span><span class="value"><span class="  ">'
                 f'{max(0, ((listing.ends_at or 0) - ctx.now) // 86400)} Days</span></span></li>'
                 f'<li class="high-bid"><span class="tag"><span class="d-none d-sm-inline">High&nbsp;</span>Bid</span>'
                 f'<span class="value">{_money(shown)}</span></li>')
    else:
        verb = {"sold": "Sold for ", "sold_after": "Sold After for ", "bid_to": "Bid to ", "withdrawn": "Canceled",
                "no_sale": "Ended"}[listing.outcome]
        value = verb + (_money(shown) if shown is not None else "")
        first = (f'<li class="ended"><span class="tag d-none">Auction Ended</span><span class="value">{value}</span></li>'
                 f'<li class="time"><span class="value"><span class="time-ended">{end_local.month}/{end_local.day}/{end_local:%y}</span></span></li>')
    stats = (f'<ul class="bid-stats">{first}<li class="num-bids"><span class="tag">Bids</span><span class="value">{listing.bid_count or 0}</span></li>'
             f'<li class="num-comments"><span class="tag">Comments</span><span class="value">{listing.comment_count or 0}</span></li></ul>')
    last_bidder = next((c.author for c in reversed(listing.comments) if c.kind == "bid"), None)
    if live:
        panel = f'<div class="current-bid d-flex flex-column"><div class="d-flex bidder"><h4>Current Bid</h4>{_user(last_bidder, ctx)}</div><div class="bid-value"><span class="dollar">$</span>{shown or 0:,}</div></div>'
    elif listing.outcome in ("sold", "sold_after"):
        panel = f'<div class="current-bid ended d-flex flex-column"><div class="d-flex bidder"><h4>Sold to</h4>{_user(listing.buyer, ctx)}</div>{_money(shown)}</div>'
    elif listing.outcome == "bid_to":
        panel = f'<div class="current-bid ended d-flex flex-column"><div class="d-flex bidder"><h4>Reserve not met, bid to</h4></div>{_money(shown)}</div>'
    else:
        panel = '<div class="current-bid ended d-flex flex-column"><div class="d-flex bidder"><h4>Auction Ended</h4></div></div>'
    if live:
        when = f"{end_local:%a}, {end_local:%b} {end_local.day} {_hm(end_local)} {zone}"
        label = "Ending"
    else:
        when = f"{end_local:%b} {end_local.day}, {end_local.year} {_hm(end_local)} {zone}"
        label = "Ended"
    rows = (f'<ul class="stats"><li><div class="th">Seller</div><div class="td">{_user(listing.seller, ctx)}</div></li>'
            f'<li><div class="th">{label}</div><div class="td end-icon">{when}</div></li>'
            f'<li><div class="th">Bids</div><div class="td bid-icon">{listing.bid_count or 0}</div></li>'
            f'<li><div class="th">Views</div><div class="td views-icon">{listing.view_count or 0:,}</div></li></ul>')
    mileage = f"{car.mileage:,}" + (" km" if car.mileage_unit == "km" else "")
    facts = (f'<div class="quick-facts"><dl><dt>Make</dt><dd><a href="/search/{slugify(car.make)}">{escape(car.make)}</a></dd>'
             f'<dt>Model</dt><dd class="subscribeable"><a href="#">{escape(car.model)}</a><button type="button" class=" rb subscribe"><span class="sr-only">Save</span></button></dd>'
             f'<dt>Mileage</dt><dd class="wrappable">{mileage}</dd><dt>VIN</dt><dd>{escape(car.vin or "")}</dd>'
             f'<dt>Title Status</dt><dd class="wrappable">Clean</dd>'
             f'<dt>Location</dt><dd class="wrappable"><a href="https://www.google.com/maps/place/{escape(car.location)}/">{escape(car.location)}</a></dd>'
             f'<dt>Seller</dt><dd class="seller">{_user(listing.seller, ctx)}<button class="btn btn-link">Contact</button></dd></dl>'
             f'<dl><dt>Engine</dt><dd>{escape(car.engine)}</dd><dt>Drivetrain</dt><dd>{escape(car.drivetrain)}</dd>'
             f'<dt>Transmission</dt><dd>{escape(car.transmission)}</dd><dt>Body Style</dt><dd>{escape(car.body_style)}</dd>'
             f'<dt>Exterior Color</dt><dd>{escape(car.exterior_color)}</dd><dt>Interior Color</dt><dd>{escape(car.interior_color)}</dd>'
             f'<dt>Seller Type</dt><dd>Private Party</dd></dl></div>')
    nr = '<span class="no-reserve">No Reserve</span> ' if listing.no_reserve else ""
    images = "".join(f'<div class="preload-wrap loaded"><img src="{escape(ctx.base_url + p)}" alt="{title}" data-section="exterior" data-id="img{i}"></div>'
                     for i, p in enumerate(listing.images))
    site = _site()
    # the thread shows the newest dozen; the rest load on demand, as on the site
    thread = "".join(_thread_item(c, site.avatars, ctx.now) for c in list(reversed(listing.comments))[:12])
    thumbs = "".join(f'<div class="preload-wrap  "><div class="ratio"><img class="thumb " src="{escape(ctx.base_url + p)}?w=180" alt=""></div></div>'
                     for p in listing.images)
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, "/")), ("Auctions", ctx.url(SOURCE, "/auctions")),
                               (f"{car.make} {car.model}", ctx.url(SOURCE, f"/search/{slugify(car.make)}/{slugify(car.model)}")),
                               (listing.title, url)])
    ld = json.dumps({"@context": "https://schema.org", "@type": "Product", "name": listing.title,
                     "offers": {"@type": "Offer", "url": url, "priceCurrency": "USD", "price": listing.high_bid or 0}}).replace("</", "<\\/")
    body = f"""<!DOCTYPE html><html lang="en"><head>{site.head}<meta charset="utf-8">
<title>{title} for Sale - Cars &amp; Bids</title>
<link rel="canonical" href="{escape(url)}" data-react-helmet="true">
<meta name="description" content="This {title} is for sale on Cars &amp; Bids! {escape(listing.description)}! Auction ends {end_local:%B} {end_local.day} {end_local.year}." data-react-helmet="true">
{ch.ld_script(crumbs, data_react_helmet="true")}<script type="application/ld+json" data-react-helmet="true">{ld}</script>
</head><body><div id="root">{site.header}
<div class="page container-fluid auction-details">
<div class="row auction-heading"><div class="col"><div class="auction-title"><h1>{title}</h1><button type="button" class="toggle-watch"><span class="sr-only">Watch</span></button></div>
<div class="d-md-flex justify-content-between flex-wrap"><h2>{nr}{escape(listing.description)}</h2></div></div></div>
<div class="row auction-photos"><div class="col for-hero"><div class="gallery-preview"><div class="images">{images}</div></div><div class="gallery-thumbs hide"><div class="wrap">{thumbs}</div></div></div></div>
<div class="row auction-bidbar"><div class="col width-constraint"><div class="bid-bar{'' if live else ' ended'}"><div class="bar-bg ">{stats}</div></div></div></div>
<div class="row auction-content"><div class="col width-constraint"><div class="timing "><p class="end-time">{label} {end_local:%B} {end_local.day} at {_hm(end_local)} {zone}</p></div>
{facts}
<div class="detail-wrapper"><div class="detail-section detail-highlights"><div class="detail-body"><p>{escape(listing.description)}</p></div></div>
{site.details.pick(listing.external_id)}</div>
{site.questions.pick(listing.external_id)}
<div class="bid-data{'' if live else ' ended'}">{panel}{rows}</div>
<div class="comments"><div class="heading"><h4>Comments &amp; Bids</h4></div><ul class="thread">{thread}</ul><button class="btn btn-secondary load-more">Load more comments</button></div>
</div><div class="sidebar col"><h3>Related auctions</h3><ul><li><a href="#">2004 Audi S4 Avant</a> Sold for $14,200</li><li><a href="#">1999 BMW M Coupe</a> No Reserve · Bid to $31,000</li></ul></div></div>
</div>{site.footer}</div>{site.tail}</body></html>"""
    return Rendered(body=body.encode("utf-8"))


# ---------------------------------------------------------------- APIs


def _enum(value: str, table: dict[int, str]) -> int:
    for code, name in table.items():
        if name.lower() == value.lower():
            return code
    return 0  # a world value with no known code: a reader must leave it unknown


def _transmission(car) -> tuple[int, str | None]:
    low = car.transmission.lower()
    code = 2 if "manual" in low else 1 if "automatic" in low else 0
    m = re.search(r"(\d+)-Speed", car.transmission)
    return code, (f"{m.group(1)}-Speed" if m else None)


def _detail(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    extra = _detail_pool().pick(listing.external_id)
    code, details = _transmission(car)
    stats = {"bids": listing.bid_count, "comments": listing.comment_count, "questions": 0,
             "watchers": listing.watcher_count, "auction_end": _iso(listing.ends_at).replace("Z", ".000+00:00"),
             "current_bid": {"amount": listing.high_bid or 0,
                             "bidder": {"username": next((c.author for c in reversed(listing.comments) if c.kind == "bid"), None)}}}
    if listing.outcome in ("sold", "sold_after"):
        stats["sale_amount"] = listing.sale_price
        stats["buyer"] = {"id": "u", "username": listing.buyer}
    return {
        "id": listing.external_id, "submission_id": listing.external_id[::-1], "status": _STATUS[listing.outcome],
        "no_reserve": bool(listing.no_reserve), "views": listing.view_count, "seller": {"username": listing.seller, "photo": None},
        "canceled_message": "Canceled by the seller." if listing.outcome == "withdrawn" else None, "stats": stats,
        "listing": {"title": listing.title, "sub_title": listing.description, "year": car.year, "make": car.make,
                    "model": car.model, "vin": car.vin, "mileage": car.mileage,
                    "mileage_text": f"{car.mileage:,} km" if car.mileage_unit == "km" else None,
                    "location": car.location, "engine": car.engine, "transmission": code, "transmission_details": details,
                    "drive_train": _enum(car.drivetrain, DRIVE_TRAINS), "body_style": _enum(car.body_style, BODY_STYLES),
                    "exterior_color": car.exterior_color, "interior_color": car.interior_color, "title_status": "Clean",
                    "seller_type": 1, "seller_type_details": None, "make_slug": slugify(car.make),
                    "model_slug": slugify(car.model), "highlighted_points": extra.highlighted, "history_report_pdf": None,
                    "history_report": {"url": f"https://www.carfax.com/vehiclehistory/ar20/{listing.external_id}", "expiry": "2027-01-01T00:00:00.000Z",
                                       "vendor": "carfax"},
                    "sections": extra.sections, "id": listing.external_id[::-1],
                    # The world's images are the car's photos; the pool's photos are paperwork scans (`docs`),
                    # which the parser leaves out, so they add a real response's bulk without changing the truth.
                    "photos": {"base_url": ctx.base_url,
                               "exterior": [{"id": f"p{i}", "link": p.lstrip("/"), "width": 2080, "height": 1385} for i, p in enumerate(listing.images)],
                               "interior": [], "mechanical": [], "other": [],
                               "docs": [{"id": f"{pid}", "link": f"{listing.external_id}/photos/docs/{pid}.jpg", "width": 2080, "height": 1385}
                                        for ids in extra.photos.values() for pid in ids]}},
        "watching": False, "make_saved_search": None, "model_saved_search": None,
        "finance": {"disclosure": {"price": listing.high_bid or 0, "dealer": False, "term": 72, "rate": 7.49, "payment": (listing.high_bid or 0) // 60},
                    "minimum_payment": 150},
    }


@functools.cache
def _detail_pool() -> ch.Pool:
    """The parts of the detail JSON the parser does not read: the write-up sections and ~230 photos' entries,
    the bulk of a real 40 KB response (served as paperwork scans, `docs`, which the parser leaves out)."""

    def build(i: int) -> SimpleNamespace:
        r = ch.rng("cab-detail", i)
        sections = {name: "".join(f"<p>{ch.sentence(r, 8, 24)}</p>" for _ in range(r.randint(1, 5)))
                    for name in ("doug", "highlights", "equipment", "modifications", "known_flaws", "recent_service_history",
                                 "other_items", "ownership_history")}
        sections["highlights"] = "<ul>" + "".join(f"<li>{ch.sentence(r, 6, 16)}</li>" for _ in range(8)) + "</ul>"
        sections["videos"] = [f"https://www.youtube.com/watch?v={ch.ident(r, 11)}" for _ in range(2)]
        photos = {group: [ch.ident(r, 7) + "-" + ch.ident(r, 6) for _ in range(n)]
                  for group, n in (("exterior", 110), ("interior", 70), ("mechanical", 30), ("other", 20))}
        return SimpleNamespace(sections=sections, photos=photos, highlighted=[ch.sentence(r, 3, 7) for _ in range(4)])

    return ch.Pool(16, build)


def detail_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    """What `parse` prints for `/v2/autos/auctions/<id>`."""
    car = listing.car
    code, details = _transmission(car)
    transmission = TRANSMISSIONS.get(code)
    if transmission and details:
        transmission = f"{transmission} ({details})"
    high = listing.high_bid or 0
    sale = listing.sale_price if listing.outcome in ("sold", "sold_after") else None
    out = _base(listing, ctx)
    out.update({
        "sale_price": sale, "high_bid": high, "currency": "USD", "bid_count": listing.bid_count,
        "comment_count": listing.comment_count, "view_count": listing.view_count, "watcher_count": listing.watcher_count,
        "ended_at": _iso(listing.ends_at), "buyer": listing.buyer if sale is not None else None,
        "transmission": transmission, "drivetrain": DRIVE_TRAINS.get(_enum(car.drivetrain, DRIVE_TRAINS)),
        "engine": car.engine, "body_style": BODY_STYLES.get(_enum(car.body_style, BODY_STYLES)),
        "images": [ctx.base_url + p for p in listing.images],
    })
    return {k: out[k] for k in _KEYS}


def _list_split(query: dict[str, str], listings: list[SampleListing]):
    status = query.get("status", "closed")
    try:
        limit = max(1, min(100, int(query.get("limit", DEFAULT_LIMIT))))
        offset = max(0, int(query.get("offset", 0)))
    except ValueError:
        limit, offset = DEFAULT_LIMIT, 0
    if status == "new":
        chosen = [l for l in listings if l.outcome == "live"]
    else:
        chosen = [l for l in listings if l.outcome not in (None, "live")]
    return status, limit, offset, chosen


def _list_item(listing: SampleListing, ctx: SiteContext, closed: bool) -> dict:
    item = {"id": listing.external_id, "submission_id": listing.external_id[::-1], "title": listing.title,
            "sub_title": listing.description, "no_reserve": bool(listing.no_reserve), "location": listing.car.location,
            "mileage": f"{listing.car.mileage:,} Miles", "seller": {"username": listing.seller, "photo": None},
            "main_photo": {"base_url": ctx.base_url, "path": listing.images[0] if listing.images else None}, "watching": False,
            "exterior_photo": {"base_url": ctx.base_url, "path": f"/{listing.external_id}/photos/exterior/cover.jpg"},
            "interior_photo": {"base_url": ctx.base_url, "path": f"/{listing.external_id}/photos/interior/cover.jpg"},
            "highlighted_points": _detail_pool().pick(listing.external_id).highlighted[:2]}
    if closed:
        item.update({"status": _STATUS[listing.outcome], "current_bid": listing.high_bid or 0,
                     "auction_end": _iso(listing.ends_at).replace("Z", ".000+00:00")})
        if listing.outcome in ("sold", "sold_after"):
            item["sale_amount"] = listing.sale_price
    return item


def _list_url(ctx: SiteContext, status: str, limit: int, offset: int) -> str:
    q = {"limit": str(limit), "status": status}
    if offset:
        q["offset"] = str(offset)
    return ctx.url(SOURCE, LIST_PATH) + "?" + urlencode(q)


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    path = path.split("?", 1)[0]
    if path.rstrip("/") != LIST_PATH:
        return None
    status, limit, offset, chosen = _list_split(query, listings)
    page = chosen[offset: offset + limit]
    body = {"count": len(page), "total": len(chosen), "timestamp": _iso(ctx.now).replace("Z", ".000+00:00"),
            "saved_search": None, "auctions": [_list_item(l, ctx, status != "new") for l in page]}
    return Rendered(body=json.dumps(body).encode(), content_type="application/json")


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    """The contract for the list page fetched as `_list_url(...)` (limit, status, offset order)."""
    path = path.split("?", 1)[0]
    if path.rstrip("/") != LIST_PATH:
        return None
    status, limit, offset, chosen = _list_split(query, listings)
    page = chosen[offset: offset + limit]
    total = len(chosen)
    items = []
    for l in page:
        closed = status != "new"
        outcome = l.outcome if closed and l.outcome in _STATUS else "live"
        price = None
        if closed:
            price = l.sale_price if l.outcome in ("sold", "sold_after") else (l.high_bid or 0)
        items.append(index_item(url=ctx.url(SOURCE, listing_path(l)), external_id=l.external_id, title=l.title,
                                outcome=outcome, price=price, ended_at=l.ends_at if closed else None,
                                no_reserve=bool(l.no_reserve)))
    next_url = _list_url(ctx, status, limit, offset + limit) if offset + limit < total else None
    return {"kind": "index", "source": SOURCE, "url": _list_url(ctx, status, limit, offset), "total_items": total,
            "page": offset // limit + 1, "pages_total": max(1, -(-total // limit)), "next_page_url": next_url, "items": items}


def render_path(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    """`/v2/autos/auctions/<id>`: the detail JSON of a visible auction."""
    if not path.startswith(DETAIL_PREFIX):
        return render_index(path, query, listings, ctx)
    auction_id = path[len(DETAIL_PREFIX):].strip("/")
    for listing in listings:
        if listing.external_id == auction_id:
            return Rendered(body=json.dumps(_detail(listing, ctx)).encode(), content_type="application/json")
    return None
