"""Cars & Bids: URL rules, the rendered auction page, the auction detail JSON and the list JSON.

Page kinds, detected from content:
- auction page as the rendering fetcher keeps it: the detail JSON the page's script loaded (captured in
  the snapshot) decides, as the `/v2/autos/auctions/<id>` response it is; the DOM is read only without it;
- the page as the server sends it (an empty `#root` and a script): NeedsBrowser, never a guess;
- rendered auction page (`/auctions/<id>/<slug>`): outcome from `ul.bid-stats` (then the bid panel
  heading), quick facts walked as DOM (`div.quick-facts dl > dt/dd`), no-reserve from the tag inside
  the subtitle h2;
- `/v2/autos/auctions/<id>` detail JSON: `status` decides the outcome;
- `/v2/autos/auctions?status=…` list JSON → IndexPage.

Rendered pages show times in the browser's zone: a displayed time is used only when the zone
abbreviation it carries is known; otherwise the end time stays unknown.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from vehicle_pipeline.model import IndexPage, ListingRef, NeedsBrowser, Outcome, ParseError, VehicleListing
from vehicle_pipeline.sources._pagekit import html_tree
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import (
    clean_text,
    normalize_vin,
    parse_int,
    parse_iso_utc,
    parse_mileage,
    parse_money,
    split_title,
    vin_state,
)

NAME = "carsandbids"
DEFAULT_BASE_URL = "https://carsandbids.com"
ALLOWED_HOSTS = ("carsandbids.com", "www.carsandbids.com", "media.carsandbids.com")  # media: the photos
is_auction = True

_AUCTION_PATH = re.compile(r"^/auctions/([A-Za-z0-9]{6,12})(?:/([A-Za-z0-9-]*))?/?$")
_API_DETAIL_PATH = re.compile(r"^/v2/autos/auctions/([A-Za-z0-9]{6,12})/?$")
_API_LIST_PATH = re.compile(r"^/v2/autos/auctions/?$")
# Per-request signing and tracking parameters: never part of an identity or a next-page link.
_VOLATILE = re.compile(r"^(timestamp|signature|utm_.*|fbclid|gclid)$")

# Enum values confirmed against the HTML quick facts of the same cars (SELECTORS.md §2b). Anything
# else is unknown and stays None rather than a guess.
PHOTO_GROUPS = ("exterior", "interior", "mechanical", "other")  # a detail response's photo groups
TRANSMISSIONS = {1: "Automatic", 2: "Manual"}
DRIVE_TRAINS = {2: "Rear-wheel drive", 3: "4WD/AWD"}
BODY_STYLES = {1: "Coupe", 4: "Sedan", 8: "Wagon"}

# Zone abbreviations whose offset is unambiguous enough to trust (hours from UTC).
ZONES = {"PKT": 5, "UTC": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
         "PST": -8, "PDT": -7}


# ---------------------------------------------------------------- URL rules


def matches(url: str) -> bool:
    path = urlsplit(url).path
    return bool(_AUCTION_PATH.search(path) or _API_DETAIL_PATH.search(path) or _API_LIST_PATH.search(path))


def external_id(url: str) -> str | None:
    """The 8-character auction id, e.g. '3gvwNPwG' (case matters)."""
    if not isinstance(url, str):
        return None
    path = urlsplit(url).path
    m = _API_DETAIL_PATH.search(path) or _AUCTION_PATH.search(path)
    return m.group(1) if m else None


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = parts.netloc.lower()
    m = _AUCTION_PATH.search(parts.path)
    if m and not _API_DETAIL_PATH.search(parts.path):
        path = f"/auctions/{m.group(1)}" + (f"/{m.group(2).lower()}" if m.group(2) else "")
        return urlunsplit((parts.scheme.lower() or "https", host, path, "", ""))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _VOLATILE.match(k)])
    return urlunsplit((parts.scheme.lower() or "https", host, parts.path, query, ""))


def index_url(base_url: str, status: str = "closed", limit: int = 50, offset: int = 0, **params) -> str:
    """The list API: status 'closed' (results) or 'new' (live board), paginated by offset/limit."""
    query = {"limit": str(int(limit)), "status": status}
    if offset:
        query["offset"] = str(int(offset))
    query.update({k: str(v) for k, v in params.items()})
    return base_url.rstrip("/") + "/v2/autos/auctions?" + urlencode(query)


_NON_SLUG = re.compile(r"[^a-z0-9]+")
_AUCTION_ID = re.compile(r"[A-Za-z0-9]{6,12}")


# ASCII bytes → themselves for [a-z0-9], a space for everything else (a list page slugs 50 titles).
_SLUG_BYTES = bytes(c if (48 <= c <= 57 or 97 <= c <= 122) else 32 for c in range(256))
# The same with A-Z folded to a-z, so an ASCII title needs no `lower()` pass of its own.
_SLUG_FOLD_BYTES = bytes(c + 32 if 65 <= c <= 90 else _SLUG_BYTES[c] for c in range(256))


def slugify(title: str) -> str:
    if title.isascii():
        # lower() of ASCII text is this table's A-Z fold
        return b"-".join(title.encode("ascii").translate(_SLUG_FOLD_BYTES).split()).decode("ascii")
    low = title.lower()
    if low.isascii():
        # same result as the regex below, without its per-character matching: runs of other
        # characters become single dashes and the ends lose theirs
        return b"-".join(low.encode("ascii").translate(_SLUG_BYTES).split()).decode("ascii")
    return _NON_SLUG.sub("-", low).strip("-")


def _site_base(url: str | None) -> str:
    """The site root a page URL hangs under (everything before /v2/ or /auctions/)."""
    if not url:
        return DEFAULT_BASE_URL
    parts = urlsplit(url)
    path = parts.path
    for marker in ("/v2/", "/auctions/"):
        i = path.find(marker)
        if i >= 0:
            path = path[:i]
            break
    else:
        path = ""
    return urlunsplit((parts.scheme or "https", parts.netloc, path, "", "")).rstrip("/")


def auction_url(base: str, auction_id: str, title: str | None) -> str:
    return f"{base}/auctions/{auction_id}" + (f"/{slugify(title)}" if title else "")


# ---------------------------------------------------------------- entry point


@pk.guarded(NAME, "Cars & Bids")
def parse(content: bytes | str, url: str | None = None, deep: bool = False):
    data = content.encode("utf-8", "replace") if isinstance(content, str) else bytes(content or b"")
    page = url or "page"
    if not data or data.isspace():  # `not data.strip()` without copying the page
        raise ParseError(NAME, page, "empty page")
    if data[:64].lstrip()[:1] in (b"{", b"["):
        try:
            obj = pk.loads(data)
        except ValueError:  # UnicodeDecodeError is one
            raise ParseError(NAME, page, "invalid or truncated JSON") from None
        if isinstance(obj, dict) and isinstance(obj.get("auctions"), list):
            return _parse_list(obj, url)
        if isinstance(obj, dict) and isinstance(obj.get("listing"), dict) and isinstance(obj.get("id"), str):
            return _parse_detail(obj, url, page)
        raise ParseError(NAME, page, "JSON is neither an auction detail (listing/stats/status) nor a list (auctions)")
    tree = html_tree(data)  # shares one CSS selector engine per thread (see _pagekit.Tree)
    for source_url, obj in pk.captured_json(tree) if pk.CAPTURED_ATTR.encode() in data else ():
        if _API_DETAIL_PATH.search(urlsplit(source_url).path) and isinstance(obj, dict) \
                and isinstance(obj.get("listing"), dict) and isinstance(obj.get("id"), str):
            return _parse_detail(obj, url or source_url, page)
    stats = tree.css_first("ul.bid-stats")
    if stats is not None and not _is_list_page(tree, url):
        return _parse_page(tree, stats, url, page)
    listed = _parse_cards(tree, url)
    if listed is not None:
        return listed
    if stats is not None:
        return _parse_page(tree, stats, url, page)
    if tree.css_first("div.auction-title") is not None:
        raise ParseError(NAME, page, "no ul.bid-stats (unrendered or truncated auction page)")
    if tree.css_first("#root") is not None:
        raise NeedsBrowser(NAME, page, "the auction page is built by its script (empty #root); "
                                       "fetch it with the rendering fetcher")
    raise ParseError(NAME, page, "not a Cars & Bids auction page or API response (no ul.bid-stats, no JSON)")


# ---------------------------------------------------------------- JSON


def _num(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(round(value))
    if isinstance(value, str):
        return parse_int(value)
    return None


def _amount(value) -> int | None:
    if value.__class__ is int:  # what the API sends; bools (an int subclass) take the path below
        return value if value >= 0 else None
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("amount")
    n = _num(value)
    return n if n is not None and n >= 0 else None


def _str(value) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


_STATUS = {
    "sold": Outcome.SOLD,
    "sold_after": Outcome.SOLD_AFTER,
    "reserve_not_met": Outcome.BID_TO,
    "canceled": Outcome.WITHDRAWN,
    "cancelled": Outcome.WITHDRAWN,
    "withdrawn": Outcome.WITHDRAWN,
    "live": Outcome.LIVE,
    "no_sale": Outcome.NO_SALE,
}


def _trim_after_model(title: str | None, make: str | None, model: str | None) -> str | None:
    """What the title says after year, make and the stated model ('SR5 4x4'), or None."""
    if not (title and make and model):
        return None
    year, mk, first, rest = split_title(title, make=make)
    if year is None:
        return None
    tail = ((first or "") + " " + (rest or "")).strip()
    norm_model = model.lower().replace(" ", "")
    words = tail.split()
    for n in range(1, len(words) + 1):
        if "".join(words[:n]).lower() == norm_model:
            return " ".join(words[n:]) or None
    return None


def _parse_detail(obj: dict, url: str | None, page: str) -> VehicleListing:
    listing = obj["listing"]
    stats = obj.get("stats") if isinstance(obj.get("stats"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), str) else None
    if status is None:
        raise ParseError(NAME, page, "detail JSON without 'status'")
    outcome = _STATUS.get(status.lower(), Outcome.UNKNOWN)
    current = stats.get("current_bid")
    high_bid = _amount(current)
    sale_amount = _amount(stats.get("sale_amount")) if "sale_amount" in stats else _amount(obj.get("sale_amount"))
    sale_price = None
    if outcome in (Outcome.SOLD, Outcome.SOLD_AFTER):
        # 2022 responses have no sale_amount: the final high bid is the price.
        sale_price = sale_amount if sale_amount is not None else high_bid
    buyer = None
    if isinstance(stats.get("buyer"), dict):
        buyer = _str(stats["buyer"].get("username"))
    if buyer is None and outcome == Outcome.SOLD and isinstance(current, dict) and isinstance(current.get("bidder"), dict):
        buyer = _str(current["bidder"].get("username"))

    auction_id = obj["id"]
    title = _str(listing.get("title"))
    base = _site_base(url)
    page_url = auction_url(base, auction_id, title)
    year = _num(listing.get("year"))
    make = _str(listing.get("make"))
    model = _str(listing.get("model"))
    if year is None or make is None:
        y2, m2, mo2, _ = split_title(title)
        year = year if year is not None else y2
        make = make or m2
        model = model or mo2
    trim = _trim_after_model(title, make, model)
    vin = normalize_vin(listing.get("vin")) if isinstance(listing.get("vin"), str) else None
    mileage = mileage_unit = None
    parsed = parse_mileage(listing.get("mileage_text")) if isinstance(listing.get("mileage_text"), str) else None
    if parsed is None and _num(listing.get("mileage")) is not None:
        parsed = (_num(listing.get("mileage")), "mi")
    if parsed:
        mileage, mileage_unit = parsed
    transmission = TRANSMISSIONS.get(_num(listing.get("transmission")))
    details = _str(listing.get("transmission_details"))
    if transmission and details:
        transmission = f"{transmission} ({details})"
    seller = _str(obj["seller"].get("username")) if isinstance(obj.get("seller"), dict) else None
    images = []
    photos = listing.get("photos")
    if isinstance(photos, dict):
        host = photos.get("base_url") if isinstance(photos.get("base_url"), str) else "media.carsandbids.com"
        prefix = host.rstrip("/") if "://" in host else f"https://{host.strip('/')}"
        # The car's photos in the gallery's order. `docs` are scans of paperwork (title, records, window
        # sticker), not pictures of the vehicle.
        for group in PHOTO_GROUPS:
            for photo in photos.get(group) if isinstance(photos.get(group), list) else ():
                if isinstance(photo, dict) and isinstance(photo.get("link"), str):
                    images.append(f"{prefix}/{photo['link'].lstrip('/')}")
        images = list(dict.fromkeys(images))
    no_reserve = obj.get("no_reserve") if isinstance(obj.get("no_reserve"), bool) else None
    return VehicleListing(
        source=NAME,
        url=page_url,
        external_id=auction_id,
        title=title,
        year=year,
        make=make,
        model=model,
        trim=trim,
        vin=vin,
        vin_state=vin_state(vin, year),
        mileage=mileage,
        mileage_unit=mileage_unit,
        outcome=outcome,
        sale_price=sale_price,
        high_bid=high_bid if high_bid is not None else sale_price,
        currency="USD" if (high_bid is not None or sale_price is not None) else None,
        bid_count=_num(stats.get("bids")),
        comment_count=_num(stats.get("comments")),
        view_count=_num(obj.get("views")),
        watcher_count=_num(stats.get("watchers")),
        ended_at=parse_iso_utc(stats.get("auction_end"), assume_utc=True),
        seller=seller,
        buyer=buyer,
        location=_str(listing.get("location")),
        no_reserve=no_reserve,
        exterior_color=_str(listing.get("exterior_color")),
        interior_color=_str(listing.get("interior_color")),
        transmission=transmission,
        drivetrain=DRIVE_TRAINS.get(_num(listing.get("drive_train"))),
        engine=_str(listing.get("engine")),
        body_style=BODY_STYLES.get(_num(listing.get("body_style"))),
        images=images,
        comments=None,
        outcome_evidence=f"api:status={status}",
    )


def _list_base(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))


def _list_url(list_base: str, status: str, limit: int, offset: int, extra: dict[str, str] | None = None) -> str:
    """A list-API URL in one parameter order (limit, status, offset, then the rest sorted), unsigned."""
    query = [("limit", str(limit)), ("status", status)]
    if offset:
        query.append(("offset", str(offset)))
    query += sorted((extra or {}).items())
    return list_base + "?" + urlencode(query)


def _parse_list(obj: dict, url: str | None) -> IndexPage:
    auctions = [a for a in obj["auctions"] if isinstance(a, dict)]
    closed = any("status" in a for a in auctions)
    query = dict(parse_qsl(urlsplit(url).query)) if url else {}
    base = _site_base(url)
    count = _num(obj.get("count"))
    total = _num(obj.get("total"))
    limit = _num(query.get("limit")) or count or len(auctions) or None
    offset = _num(query.get("offset")) or 0
    status = query.get("status") or ("closed" if closed else "new")
    extra = {k: v for k, v in query.items() if k not in ("limit", "status", "offset") and not _VOLATILE.match(k)}
    list_base = _list_base(url) if url else base + "/v2/autos/auctions"
    page_url = _list_url(list_base, status, limit or 50, offset, extra)
    refs = []
    append = refs.append
    fullmatch_id = _AUCTION_ID.fullmatch
    status_of = _STATUS.get
    unknown, live, sales = Outcome.UNKNOWN, Outcome.LIVE, (Outcome.SOLD, Outcome.SOLD_AFTER)
    auctions_base = f"{base}/auctions/"
    for a in auctions:
        # A list page is 50-95 of these: the per-item work is kept to plain dict reads and one call
        # per field that needs normalizing (same rules as the detail page's helpers).
        aid = a.get("id")
        if not isinstance(aid, str) or not fullmatch_id(aid):
            continue
        title = a.get("title")
        title = _str(title) if title is not None else None
        item_status = a.get("status")
        outcome = status_of(item_status.lower(), unknown) if isinstance(item_status, str) else live
        price = None
        if outcome in sales:
            price = _amount(a.get("sale_amount"))
        if price is None:
            bid = a.get("current_bid")
            if bid is not None:
                price = _amount(bid)
        end = a.get("auction_end")
        no_reserve = a.get("no_reserve")
        append(ListingRef(
            f"{auctions_base}{aid}/{slugify(title)}" if title else auctions_base + aid,
            aid,
            title,
            outcome,
            price,
            "USD" if price is not None else None,
            parse_iso_utc(end, True) if end is not None else None,
            no_reserve if no_reserve is True or no_reserve is False else None,
        ))
    page_no = pages_total = next_url = None
    if limit:
        page_no = offset // limit + 1
        if total is not None:
            pages_total = max(1, math.ceil(total / limit))
            if offset + limit < total:
                next_url = _list_url(list_base, status, limit, offset + limit, extra)
    return IndexPage(source=NAME, url=page_url, items=refs, total_items=total, page=page_no,
                     pages_total=pages_total, next_page_url=next_url)


# ---------------------------------------------------------------- rendered lists (home page, auctions, past auctions)
#
# The home page and /auctions (live) and /past-auctions (ended) as the browser renders them: one card per
# auction (`li.auction-item`), found by structure as the largest element around links to one `/auctions/<id>`
# page; its title (`.auction-title`), subtitle with the No Reserve tag, and bid bar: a live card shows the
# time left and the high bid, an ended one "Sold for $X" / "Bid to $X" in its result element.

_LIST_PATHS = re.compile(r"^/?(?:$|auctions/?$|past-auctions/?$|search/?$)")
_CARD_RESULT = (".ended .value", "li.ended", "[class*=auction-result]", "[class*=bid-stats]", "[class*=bid-bar]")
_SHOWN_MONEY = re.compile(r"[$\u20ac\u00a3]\s*\d[\d,]*")


def _is_list_page(tree: LexborHTMLParser, url: str | None) -> bool:
    """A page that is not one auction: its canonical URL (or the URL it was fetched from) names none."""
    canonical = pk.canonical_link(tree, url)
    page_url = canonical or url
    return bool(page_url) and not external_id(page_url)


def _parse_cards(tree: LexborHTMLParser, url: str | None) -> IndexPage | None:
    page_url = pk.canonical_link(tree, url) or url
    if page_url and external_id(page_url):
        return None  # one auction's page (its "other auctions" cards are not a list)
    links: list[tuple[LexborNode, str]] = []
    hrefs: dict[str, str] = {}  # auction id → its first link with a slug (else its first link)
    for a in tree.css('a[href*="/auctions/"]'):
        href = pk.absolute(a.attributes.get("href"), page_url or DEFAULT_BASE_URL)
        m = _AUCTION_PATH.search(urlsplit(href).path) if href else None
        if m and not _API_DETAIL_PATH.search(urlsplit(href).path):
            aid = m.group(1)
            links.append((a, aid))
            if aid not in hrefs or (m.group(2) and not _AUCTION_PATH.search(urlsplit(hrefs[aid]).path).group(2)):
                hrefs[aid] = href
    if not links:
        return None
    holders: dict[int, set[str]] = {}
    for a, aid in links:
        node = a
        while node is not None:
            holders.setdefault(node.mem_id, set()).add(aid)
            node = node.parent
    # an auction linked from a featured strip and from its card: each link's largest element that holds no
    # other auction, and of those the card (the one with a title element, else the most text)
    cards: dict[str, list[LexborNode]] = {}
    for a, aid in links:
        card = a
        while card.parent is not None and card.parent.tag not in ("body", "html") \
                and holders.get(card.parent.mem_id) == {aid}:
            card = card.parent
        if all(card.mem_id != c.mem_id for c in cards.get(aid, ())):
            cards.setdefault(aid, []).append(card)
    refs: list[ListingRef] = []
    for aid, found in cards.items():
        card = max(found, key=lambda c: (c.css_first(".auction-title") is not None, len(c.text(deep=True) or "")))
        refs.append(_card_ref(card, aid, canonical_url(hrefs[aid])))
    if not page_url:
        raise ParseError(NAME, "auction list", "no link[rel=canonical] and no --url")
    next_href = pk.link_rel(tree, "next") or pk.first_attr(tree, 'a[rel="next"]', "href")
    return IndexPage(source=NAME, url=pk.strip_query(page_url) if not urlsplit(page_url).query else page_url,
                     items=refs, next_page_url=pk.absolute(next_href, page_url) if next_href else None)


def _card_ref(card: LexborNode, aid: str, auction: str) -> ListingRef:
    title_node = card.css_first(".auction-title") or card.css_first("h3, h2, h4")
    title = clean_text(title_node.text(deep=True)) if title_node is not None else None
    if not title:
        for a in card.css("a[href]") if card.tag != "a" else [card]:
            title = clean_text(a.text(deep=True)) or clean_text(a.attributes.get("title"))
            if title:
                break
    if title and title.lower().startswith("no reserve "):
        title = clean_text(title[len("no reserve "):])
    no_reserve = card.css_first(".no-reserve, [class*=no-reserve]") is not None
    if not no_reserve:
        subtitle = card.css_first(".auction-subtitle")
        no_reserve = bool(subtitle is not None and (clean_text(subtitle.text(deep=True)) or "").lower().startswith("no reserve"))
    outcome = price = None
    for selector in _CARD_RESULT:  # the result element's verb: "Sold for $7,300", "Bid to $18,350", "Canceled"
        node = card.css_first(selector)
        text = clean_text(node.text(deep=True)) if node is not None else None
        outcome = _verb_outcome(text)
        if outcome is not None:
            break
    if outcome is None and card.css_first("[class*=time-left], [class*=countdown], [class*=high-bid]"):
        outcome = Outcome.LIVE
    amount = card.css_first(".bid-value") or card.css_first("[class*=bid-value]")
    money = _SHOWN_MONEY.search(clean_text(amount.text(deep=True)) or "") if amount is not None else None
    price = parse_money(money.group(0))[0] if money else None
    if outcome in (Outcome.WITHDRAWN, Outcome.NO_SALE) or (outcome == Outcome.LIVE and not price):
        price = None
    if title and not _AUCTION_PATH.search(urlsplit(auction).path).group(2):
        auction = f"{auction.rstrip('/')}/{slugify(title)}"
    return ListingRef(url=auction, external_id=aid,
                      title=title, outcome=outcome, price=price, currency="USD" if price is not None else None,
                      no_reserve=no_reserve)


# ---------------------------------------------------------------- rendered page

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SHOWN_TIME = re.compile(
    r"(?:(?P<wd>[A-Za-z]{3})[a-z]*,?\s+)?(?P<mon>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})(?:,?\s+(?P<year>\d{4}))?"
    r"(?:\s+at)?\s+(?P<h>\d{1,2}):(?P<mi>\d{2})\s*(?P<ampm>[ap]m)\s+(?P<tz>[A-Z]{2,5})\b",
    re.I,
)


_ENDS_YEAR = re.compile(r"Auction ends \w+ \d{1,2},? (\d{4})")


def parse_shown_time(text: str | None, year_hint: int | None = None) -> datetime | None:
    """'Apr 21, 2022 10:46pm PKT' / 'Thu, Apr 28 12:38am PKT' → UTC, when the zone is known.

    Without a year the year comes from `year_hint` (the page's own 'Auction ends … 2022'), checked
    against the weekday when one is shown; otherwise None.
    """
    if not text:
        return None
    m = _SHOWN_TIME.search(text)
    if not m:
        return None
    offset = ZONES.get(m.group("tz").upper())
    month = _MONTHS.get(m.group("mon").lower())
    if offset is None or month is None:
        return None
    hour = int(m.group("h")) % 12 + (12 if m.group("ampm").lower() == "pm" else 0)
    if int(m.group("h")) > 12:
        return None
    if m.group("year"):
        candidates = [int(m.group("year"))]
    elif year_hint:
        # The hint is the page's own date; across New Year it may belong to the neighbouring year.
        candidates = [year_hint] + ([year_hint + 1] if month == 1 else []) + ([year_hint - 1] if month == 12 else [])
    else:
        candidates = []
    wd = m.group("wd").lower() if m.group("wd") else None
    for year in candidates:
        try:
            local = datetime(year, month, int(m.group("day")), hour, int(m.group("mi")))
        except ValueError:
            continue
        if wd and wd in _WEEKDAYS and _WEEKDAYS[local.weekday()] != wd:
            continue
        return (local - timedelta(hours=offset)).replace(tzinfo=timezone.utc)
    return None


def _dd_text(dd: LexborNode, link: LexborNode | None) -> str | None:
    """A quick-facts value without its buttons ('Save') and contact links; `link` is its first a.user."""
    if link is not None:
        return clean_text(link.text(deep=True))
    parts = []
    for node in dd.iter(include_text=True):
        if node.is_text_node:
            parts.append(node.text_content or "")
        elif node.tag not in ("button", "img", "svg"):
            parts.append(node.text(deep=True))
    return clean_text(" ".join(parts))


def _facts(tree: LexborHTMLParser) -> dict[str, str]:
    facts: dict[str, str] = {}
    for dl in tree.css("div.quick-facts dl"):
        # every value's first a.user from one walk of the list, not one query per value (~15 a page)
        walked = pk.walk_rows(dl, ("dd", "dd"), {"a": "a.user"})
        users = {dd.mem_id: parts.get("a") for dd, parts in walked} if walked is not None else None
        label = None
        for node in dl.iter():
            if node.tag == "dt":
                label = clean_text(node.text(deep=True))
            elif node.tag == "dd" and label:
                key = node.mem_id
                value = _dd_text(node, users[key] if users is not None and key in users else node.css_first("a.user"))
                if value is not None:
                    facts.setdefault(label.lower(), value)
                label = None
    return facts


def _stat_rows(tree: LexborHTMLParser) -> dict[str, str]:
    rows: dict[str, str] = {}
    stats = tree.css_first("ul.stats")
    if stats is None:
        return rows
    for li in stats.css("li"):
        th, td = li.css_first("div.th"), li.css_first("div.td")
        if th is None or td is None:
            continue
        key = clean_text(th.text(deep=True))
        if key:
            link = td.css_first("a.user")
            value = clean_text(link.text(deep=True)) if link is not None else clean_text(td.text(deep=True))
            if value:
                rows.setdefault(key.lower(), value)
    return rows


def _verb_outcome(text: str | None) -> Outcome | None:
    if not text:
        return None
    t = text.strip().lower()
    if t.startswith("sold after"):
        return Outcome.SOLD_AFTER
    if t.startswith("sold"):
        return Outcome.SOLD
    if t.startswith("bid to") or t.startswith("reserve not met"):
        return Outcome.BID_TO
    if t.startswith("cancel") or t.startswith("withdrawn"):
        return Outcome.WITHDRAWN
    if t.startswith("current bid") or t.startswith("high bid"):
        return Outcome.LIVE
    if t.startswith("ended") or t.startswith("no sale") or t.startswith("no bids"):
        return Outcome.NO_SALE
    return None


def _parse_page(tree: LexborHTMLParser, stats: LexborNode, url: str | None, page: str) -> VehicleListing:
    canon = tree.css_first('link[rel="canonical"]')
    canonical = canon.attributes.get("href") if canon is not None else None
    page_url = canonical if canonical and external_id(canonical) else url
    ext = external_id(page_url) if page_url else None
    if not ext:
        raise ParseError(NAME, page, "no auction URL (link[rel=canonical]) to take the auction id from")

    # ---- outcome from the bid bar, then the bid panel heading
    outcome = None
    evidence = None
    amount = None
    ended_li = stats.css_first("li.ended")
    high_li = stats.css_first("li.high-bid")
    if ended_li is not None:
        value = ended_li.css_first(".value")
        text = clean_text(value.text(deep=True)) if value is not None else None
        outcome = _verb_outcome(text)
        if outcome is not None:
            evidence = "ul.bid-stats li.ended"
            money = parse_money(text)
            amount = money[0] if money else None
    elif high_li is not None:
        outcome, evidence = Outcome.LIVE, "ul.bid-stats li.high-bid"
        value = high_li.css_first(".bid-value") or high_li.css_first(".value")
        money = parse_money(clean_text(value.text(deep=True)) if value is not None else None)
        amount = money[0] if money else None
    panel = tree.css_first("div.current-bid")
    heading = clean_text(panel.css_first("h4").text(deep=True)) if panel is not None and panel.css_first("h4") else None
    if outcome is None:
        outcome = _verb_outcome(heading)
        if outcome is not None:
            evidence = "div.current-bid h4"
    if outcome is None:
        raise ParseError(NAME, page, "ul.bid-stats states no result (Sold for / Bid to / High Bid)")
    if amount is None and panel is not None and outcome != Outcome.WITHDRAWN:
        value = panel.css_first(".bid-value")
        money = parse_money(clean_text(value.text(deep=True)) if value is not None else None)
        amount = money[0] if money else None
    if amount is None and outcome in (Outcome.SOLD, Outcome.SOLD_AFTER, Outcome.BID_TO):
        raise ParseError(NAME, page, f"{evidence} says {outcome} but shows no amount")
    if outcome == Outcome.LIVE and not amount:
        amount = None  # "$0": no bid yet
    if outcome in (Outcome.WITHDRAWN, Outcome.NO_SALE):
        amount = None

    buyer = None
    if outcome in (Outcome.SOLD, Outcome.SOLD_AFTER) and heading and heading.lower().startswith("sold"):
        user = panel.css_first("a.user")
        buyer = clean_text(user.text(deep=True)) if user is not None else None

    def stat_count(cls: str) -> int | None:
        li = stats.css_first(f"li.{cls} .value")
        return parse_int(clean_text(li.text(deep=True))) if li is not None else None

    facts = _facts(tree)
    rows = _stat_rows(tree)

    h1 = tree.css_first("div.auction-title h1") or tree.css_first("h1")
    title = clean_text(h1.text(deep=True)) if h1 is not None else None
    subtitle = tree.css_first("div.auction-heading h2") or tree.css_first("div.d-md-flex h2")
    no_reserve = None
    if subtitle is not None:
        no_reserve = subtitle.css_first(".no-reserve") is not None

    year_hint = None
    # The page's own description (react-helmet's) says when the auction ends; a site-wide default
    # description left in the static shell can come before it.
    for desc in tree.css('meta[name="description"]'):
        m = _ENDS_YEAR.search(desc.attributes.get("content") or "")
        if m:
            year_hint = int(m.group(1))
            break
    shown = rows.get("ended") or rows.get("ending")
    ended_at = parse_shown_time(shown, year_hint)

    make = facts.get("make")
    model = facts.get("model")
    year, t_make, t_model, _ = split_title(title, make=make)
    make = make or t_make
    trim = _trim_after_model(title, make, model) if model else None
    if model is None:
        model = t_model
        trim = split_title(title, make=make)[3]
    vin = normalize_vin(facts.get("vin"))
    mileage = parse_mileage(facts.get("mileage"))

    images = []
    seen = set()
    for img in tree.css("div.gallery-preview img[data-id]"):
        src = img.attributes.get("src")
        if src and src not in seen:
            seen.add(src)
            images.append(src)

    sale_price = amount if outcome in (Outcome.SOLD, Outcome.SOLD_AFTER) else None
    # After a post-auction deal the page shows the deal price; the auction's high bid is not on it.
    high_bid = None if outcome == Outcome.SOLD_AFTER else amount
    return VehicleListing(
        source=NAME,
        url=canonical_url(page_url),
        external_id=ext,
        title=title,
        year=year,
        make=make,
        model=model,
        trim=trim,
        vin=vin,
        vin_state=vin_state(vin, year),
        mileage=mileage[0] if mileage else None,
        mileage_unit=mileage[1] if mileage else None,
        outcome=outcome,
        sale_price=sale_price,
        high_bid=high_bid,
        currency="USD" if amount is not None else None,
        bid_count=stat_count("num-bids"),
        comment_count=stat_count("num-comments"),
        view_count=parse_int(rows.get("views")),
        watcher_count=parse_int(rows.get("watchers")),
        ended_at=ended_at,
        seller=facts.get("seller") or rows.get("seller"),
        buyer=buyer,
        location=facts.get("location"),
        no_reserve=no_reserve,
        exterior_color=facts.get("exterior color"),
        interior_color=facts.get("interior color"),
        transmission=facts.get("transmission"),
        drivetrain=facts.get("drivetrain"),
        engine=facts.get("engine"),
        body_style=facts.get("body style"),
        images=images,
        outcome_evidence=evidence,
    )


__all__ = ["NAME", "DEFAULT_BASE_URL", "ALLOWED_HOSTS", "is_auction", "matches", "external_id",
           "canonical_url", "index_url", "parse", "parse_shown_time", "slugify", "auction_url"]
