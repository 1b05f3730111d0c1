"""Bring a Trailer: URL rules, results/live-board JSON and listing pages.

Page kinds, detected from content:
- listing page (`/listing/<slug>/`): outcome from the result banner `.listing-available-info` (or the
  `<title>` suffix), end time from the embedded UTC epoch (`data-ends` / `data-timestamp`), counts from
  their own elements, comments/bids from `BAT_VMS` (deep);
- results / model pages (`auctionsCompletedInitialData`), the live board (`auctionsCurrentInitialData`),
  the `listings-filter` JSON, and rendered `a.listing-card` cards as a last resort → IndexPage.

Never decided from page-wide text: comments and sidebars contain "Sold for" and "No Reserve".
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from vehicle_pipeline.model import (
    Comment,
    CommentKind,
    IndexPage,
    ListingRef,
    Outcome,
    ParseError,
    VehicleListing,
)
from vehicle_pipeline.sources._pagekit import html_tree
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import (
    clean_text,
    epoch_to_utc,
    normalize_vin,
    parse_int,
    parse_mileage,
    parse_money,
    split_title,
    vin_state,
)

NAME = "bat"
DEFAULT_BASE_URL = "https://bringatrailer.com"
ALLOWED_HOSTS = ("bringatrailer.com", "www.bringatrailer.com")
is_auction = True

_LISTING_PATH = re.compile(r"^/listing/([A-Za-z0-9][A-Za-z0-9_-]*)/?")
_INDEX_PATH = re.compile(r"^/(auctions(/results)?|wp-json/bringatrailer/[^/]+/data/listings-filter)/?$")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_|_ga$|ref$)")


# ---------------------------------------------------------------- URL rules


def matches(url: str) -> bool:
    path = urlsplit(url).path
    return bool(_LISTING_PATH.search(path) or _INDEX_PATH.search(path))


def external_id(url: str) -> str | None:
    """The listing slug, e.g. '2009-porsche-911-carrera-4s-coupe-28'."""
    if not isinstance(url, str):
        return None
    plain = pk.PLAIN_URL.fullmatch(url)  # urlsplit's path, for the plain URLs a results page lists
    m = _LISTING_PATH.search(plain.group(3) if plain else urlsplit(url).path)
    return m.group(1).lower() if m else None


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.netloc or "").lower()
    m = _LISTING_PATH.search(parts.path)
    if m:
        path = parts.path[: m.start()] + f"/listing/{m.group(1).lower()}/"
        return urlunsplit((parts.scheme.lower() or "https", host, path, "", ""))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)])
    return urlunsplit((parts.scheme.lower() or "https", host, parts.path or "/", query, ""))


def index_url(base_url: str, kind: str = "results", page: int = 1, make: str | None = None,
              model: str | None = None, **params) -> str:
    """First (or N-th) index page: kind 'results' (/auctions/results/), 'live' (/auctions/),
    'api' (the listings-filter JSON), or a make/model category page when `make` is given."""
    base = base_url.rstrip("/")
    if make:
        path = f"/{make}/" + (f"{model}/" if model else "")
    elif kind == "live":
        path = "/auctions/"
    elif kind == "api":
        path = "/wp-json/bringatrailer/1.0/data/listings-filter"
    else:
        path = "/auctions/results/"
    query = dict(params)
    if page and int(page) > 1 or kind == "api":
        query["page"] = str(int(page or 1))
    return base + path + (("?" + urlencode(query)) if query else "")


def _with_page(url: str, page: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "page"]
    query.append(("page", str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# ---------------------------------------------------------------- entry point


@pk.guarded(NAME, "BaT")
def parse(content: bytes | str, url: str | None = None, deep: bool = False):
    data = content.encode("utf-8", "replace") if isinstance(content, str) else bytes(content or b"")
    page = url or "page"
    if not data or data.isspace():  # `not data.strip()` without copying the page
        raise ParseError(NAME, page, "empty page")
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return _parse_listings_filter(data, url, page)
    for var, live in ((b"auctionsCompletedInitialData", False), (b"auctionsCurrentInitialData", True)):
        pos = data.find(b"var " + var)
        if pos >= 0:
            return _parse_initial_data(data, pos, live, url, page)
    tree = html_tree(data)  # shares one CSS selector engine per thread (see _pagekit.Tree)
    banner = tree.css_first(".listing-available-info")
    bid_table = tree.css_first("table#listing-bid")
    title_el = tree.css_first("h1.post-title, h1.listing-post-title")
    if banner is not None or bid_table is not None or title_el is not None:
        return _parse_listing(data, tree, banner, bid_table, title_el, url, page, deep)
    cards = tree.css("a.listing-card")
    if cards:
        return _parse_cards(tree, cards, url, page)
    raise ParseError(NAME, page, "no BaT listing (.listing-available-info, table#listing-bid) or results data")


# ---------------------------------------------------------------- helpers


def _js_object(data: bytes, pos: int, page: str, what: str) -> dict:
    """The JSON object assigned after `pos` (`var X = {...};`), decoded with a JSON decoder from the `=`."""
    eq = data.find(b"=", pos)
    end = data.find(b"</script", pos)
    if eq < 0:
        raise ParseError(NAME, page, f"{what}: no assignment")
    chunk = data[eq + 1 : end if end > eq else len(data)].decode("utf-8", "replace")
    try:
        obj = _assigned_value(chunk)
    except ValueError:
        raise ParseError(NAME, page, f"{what}: truncated or invalid JSON") from None
    if not isinstance(obj, dict):
        raise ParseError(NAME, page, f"{what}: not a JSON object")
    return obj


# WordPress (wp_localize_script) wraps each such script as `/* <![CDATA[ */ var X = {...}; /* ]]> */`.
_CDATA_END = "/* ]]> */"


def _assigned_value(chunk: str):
    """The JSON value at the start of `chunk` (what follows a `var X =`), as `raw_decode(chunk.lstrip())`.

    A script that is the assignment alone (`{...};`, whitespace and WordPress's closing CDATA comment) holds
    exactly one JSON text, which the fast decoder reads whole; anything else after the value (more
    statements, a cut page) goes to the raw decode, which reads the value and ignores the rest."""
    body = chunk.strip()
    if body.endswith(_CDATA_END):
        body = body[: -len(_CDATA_END)].rstrip()
    if body.endswith(";"):
        try:
            return pk.loads(body[:-1])
        except ValueError:
            pass
    return json.JSONDecoder().raw_decode(chunk.lstrip())[0]


_META_URL = re.compile(
    rb"""<(?:meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)|link[^>]+rel=["']canonical["'][^>]*href=["']([^"']+))""",
    re.I,
)


def _page_url_from_head(data: bytes) -> str | None:
    m = _META_URL.search(data, 0, 400_000)
    if not m:
        return None
    return clean_text((m.group(1) or m.group(2)).decode("utf-8", "replace"))


def _text(node: LexborNode | None) -> str | None:
    return clean_text(node.text(deep=True)) if node is not None else None


def _outcome_from_text(text: str | None) -> Outcome | None:
    """The outcome a result string states at its start ('Sold for …', 'Bid to …', 'Withdrawn …')."""
    if not text:
        return None
    t = text.strip().lower()
    if t.startswith("sold for") or t.startswith("sold on"):
        return Outcome.SOLD
    if t.startswith("bid to") or t.startswith("reserve not met"):
        return Outcome.BID_TO
    if t.startswith("withdrawn") or t.startswith("canceled") or t.startswith("cancelled"):
        return Outcome.WITHDRAWN
    if t.startswith("current bid") or t.startswith("high bid") or t.startswith("bid:"):
        return Outcome.LIVE
    if t.startswith("ended") or t.startswith("no sale") or t.startswith("no bids"):
        return Outcome.NO_SALE  # ended without a bid: no amount to report
    return None


_ON = re.compile(r"\bon\b")
_ON_OR_PAREN = re.compile(r"\bon\b|\(")
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>|</li>", re.I)


def _ref_from_item(item: dict, live: bool) -> ListingRef | None:
    url = item.get("url")
    if not isinstance(url, str):
        return None
    ext = external_id(url)
    if not ext:
        return None
    sold_text = clean_text(_TAG.sub(" ", item.get("sold_text") or "")) if isinstance(item.get("sold_text"), str) else None
    outcome = _outcome_from_text(sold_text)
    price = None
    currency = item.get("currency") if isinstance(item.get("currency"), str) else "USD"
    if outcome in (Outcome.SOLD, Outcome.BID_TO) and sold_text:
        amount_text = _ON.split(sold_text, maxsplit=1)[0]
        money = parse_money(amount_text, currency)
        if money:
            price, currency = money
    elif live or item.get("active") is True:
        outcome = Outcome.LIVE
        bid = item.get("current_bid")
        price = bid if isinstance(bid, int) and not isinstance(bid, bool) and bid > 0 else None
    noreserve = item.get("noreserve")
    title = item.get("title")
    return ListingRef(  # positional: a results page builds 36 of these (url, id, title, outcome, price, …)
        url,
        ext,
        clean_text(title) if isinstance(title, str) else None,
        outcome,
        price,
        currency if price is not None else None,
        epoch_to_utc(item.get("timestamp_end")),
        noreserve if isinstance(noreserve, bool) else None,
    )


def _index_from_obj(obj: dict, live: bool, page_url: str) -> IndexPage:
    items = obj.get("items")
    if not isinstance(items, list):
        raise ParseError(NAME, page_url, "results data without an items list")
    refs = [r for r in (_ref_from_item(i, live) for i in items if isinstance(i, dict)) if r is not None]
    total = parse_int(obj.get("items_total")) if obj.get("items_total") is not None else None
    current = parse_int(obj.get("page_current")) if obj.get("page_current") is not None else None
    pages = parse_int(obj.get("pages_total")) if obj.get("pages_total") is not None else None
    if live and total is None:
        total, current, pages = len(refs), 1, 1
    next_url = None
    if current is not None and pages is not None and current < pages:
        next_url = _with_page(page_url, current + 1)
    return IndexPage(source=NAME, url=page_url, items=refs, total_items=total, page=current,
                     pages_total=pages, next_page_url=next_url)


def _parse_initial_data(data: bytes, pos: int, live: bool, url: str | None, page: str) -> IndexPage:
    name = "auctionsCurrentInitialData" if live else "auctionsCompletedInitialData"
    obj = _js_object(data, pos, page, name)
    page_url = _page_url_from_head(data) or url
    if not page_url:
        page_url = index_url(DEFAULT_BASE_URL, kind="live" if live else "results")
    return _index_from_obj(obj, live, page_url)


def _parse_listings_filter(data: bytes, url: str | None, page: str) -> IndexPage:
    try:
        obj = pk.loads(data)
    except ValueError:  # UnicodeDecodeError is one
        raise ParseError(NAME, page, "invalid JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("items"), list):
        raise ParseError(NAME, page, "JSON without the listings-filter 'items' list")
    current = parse_int(obj.get("page_current"))
    page_url = url or index_url(DEFAULT_BASE_URL, kind="api", page=current or 1)
    live = all(isinstance(i, dict) and i.get("active") is True for i in obj["items"]) and bool(obj["items"])
    return _index_from_obj(obj, live, page_url)


def _parse_cards(tree: LexborHTMLParser, cards: list[LexborNode], url: str | None, page: str) -> IndexPage:
    refs = []
    for card in cards:
        href = card.attributes.get("href")
        ext = external_id(href or "")
        if not ext:
            continue
        result = _text(card.css_first(".item-results"))
        outcome = _outcome_from_text(result)
        price = currency = None
        if outcome in (Outcome.SOLD, Outcome.BID_TO):
            money = parse_money(_ON.split(result, maxsplit=1)[0])
            if money:
                price, currency = money
        elif outcome is None:
            countdown = _text(card.css_first(".countdown-text"))
            if countdown and countdown.lower() != "ended":
                outcome = Outcome.LIVE
                money = parse_money(_text(card.css_first(".bid-formatted")))
                if money:
                    price, currency = money
        nr = card.css_first(".item-tag-noreserve")
        no_reserve = None
        if nr is not None:
            no_reserve = "display: none" not in (nr.attributes.get("style") or "").replace(":none", ": none")
        refs.append(ListingRef(url=href, external_id=ext, title=_text(card.css_first("h3")), outcome=outcome,
                               price=price, currency=currency, no_reserve=no_reserve))
    if not refs:
        raise ParseError(NAME, page, "listing cards without listing links")
    og = tree.css_first('meta[property="og:url"]')
    page_url = (og.attributes.get("content") if og is not None else None) or url or index_url(DEFAULT_BASE_URL)
    return IndexPage(source=NAME, url=page_url, items=refs, total_items=None, page=None, pages_total=None)


# ---------------------------------------------------------------- listing page

_TITLE_RESULT = re.compile(
    r"for sale on BaT Auctions\s*-\s*(sold for|bid to|closed|withdrawn)\b\s*(?:([^\d\s]{0,4}\s?\$?[\d,.]+))?"
    r".*?(?:\(Lot #([\d,]+)\))?",
    re.I | re.S,
)
_ENGINE = re.compile(
    r"(\d(?:\.\d)?-Liter|\d+(?:\.\d)?L\b|\d{2,4}\s?ci\b|\d{2,4}\s?cc\b|cubic[- ]inch|\bV-?(?:6|8|10|12|16)\b|Flat-(?:Four|Six|Twelve)|"
    r"Inline-|Straight-|Rotary|W12|Electric Motor|Turbo(?:charged)?\s+\w+-(?:Four|Six))",
    re.I,
)
_TRANSMISSION = re.compile(r"(\bSpeed\b|-Speed|Manual|Automatic|Transmission|Transaxle|Gearbox|PDK|Dual-Clutch|\bCVT\b|Tiptronic|\bSMG\b)", re.I)
_DRIVETRAIN = re.compile(r"^(All-Wheel Drive|Four-Wheel Drive|Rear-Wheel Drive|Front-Wheel Drive|AWD|4WD|RWD|FWD)$", re.I)
_MILEAGE_ITEM = re.compile(r"\b(miles?|kilomet(?:er|re)s?|km|tmu)\b", re.I)


def classify_details(items: list[str]) -> dict:
    """The 'Listing Details' lines of the essentials → VIN, mileage, engine, transmission, drivetrain, colours.

    The chassis line is the one starting 'Chassis:'; mileage is one of the first lines after it that
    names a distance ('15k Miles', '45k Miles Shown, TMU', '35k Kilometers'); the rest are recognised
    by their wording ('…-Liter', '…-Speed Manual Transaxle', '… Paint', '… Upholstery'), first match wins.
    """
    out = dict.fromkeys(("vin", "mileage", "mileage_unit", "engine", "transmission", "drivetrain",
                         "exterior_color", "interior_color"))
    rest = []
    for item in items:
        if out["vin"] is None and re.match(r"^(chassis|vin|serial)\s*[:#]", item, re.I):
            out["vin"] = normalize_vin(item.split(":", 1)[1]) if ":" in item else None
            continue
        rest.append(item)
    for i, item in enumerate(rest):
        if out["mileage"] is None and i < 3 and _MILEAGE_ITEM.search(item):
            parsed = parse_mileage(item)
            if parsed:
                out["mileage"], out["mileage_unit"] = parsed
                continue
            if re.search(r"\bTMU\b|unknown", item, re.I):
                continue
        if out["engine"] is None and _ENGINE.search(item) and not re.search(r"-Speed|Transmission|Transaxle", item, re.I):
            out["engine"] = item
        elif out["transmission"] is None and _TRANSMISSION.search(item):
            out["transmission"] = item
        elif out["drivetrain"] is None and _DRIVETRAIN.match(item):
            out["drivetrain"] = item
        elif out["exterior_color"] is None and re.search(r"\b(Paint|Finish|Wrap)$", item):
            out["exterior_color"] = re.sub(r"\s+(Paint|Finish)$", "", item)
        elif out["interior_color"] is None and re.search(r"\b(Upholstery|Interior|Leather|Trim)$", item) and "Paint" not in item:
            out["interior_color"] = re.sub(r"\s+Upholstery$", "", item)
    return out


def _labelled(essentials: LexborNode) -> dict[str, LexborNode]:
    """Essentials labels ('Seller', 'Location', 'Lot', …) → their label node, new (`.item strong`) and
    2019–21 (`b`, no wrapper) markup alike."""
    out: dict[str, LexborNode] = {}
    for label in essentials.css("strong, b"):
        key = clean_text(label.text(deep=True))
        if key:
            out.setdefault(key.rstrip(":").lower(), label)
    return out


def _after_label(label: LexborNode) -> tuple[str | None, LexborNode | None]:
    """Text and first link that follow a label, up to the next label or block."""
    parts: list[str] = []
    link = None
    node = label.next
    while node is not None:
        if node.is_text_node:
            parts.append(node.text_content or "")
        elif node.tag in ("strong", "b", "div", "ul", "br", "h2", "h3"):
            break
        else:
            if node.tag == "a" and link is None:
                link = node
            parts.append(node.text(deep=True))
            if link is not None:
                break
        node = node.next
    text = clean_text(" ".join(parts))
    if text:
        text = clean_text(text.lstrip(":").strip())
    return text, link


def _first(nodes: list):
    return nodes[0] if nodes else None


# The listing page's elements looked for anywhere in the document, found in one walk (see pk.hits):
# name → (selector, a test of a hit of the union that is exact where it answers True/False).
_LISTING_PARTS = {
    "current": ("[data-listing-current][data-amount]", lambda tag, a: "data-listing-current" in a and "data-amount" in a),
    "views": ('[data-stats-item="views"]', lambda tag, a: pk.attr_equals(a, "data-stats-item", "views")),
    "watchers": ('[data-stats-item="watchers"]', lambda tag, a: pk.attr_equals(a, "data-stats-item", "watchers")),
    "essentials": ("div.essentials", lambda tag, a: tag == "div" and pk.class_verdict(a.get("class"), "essentials")),
    "chips": ("button.group-title", lambda tag, a: tag == "button" and pk.class_verdict(a.get("class"), "group-title")),
    # both alternatives need the class on the hit itself; which ancestor holds the intro, lexbor tells
    "no_reserve": (".listing-intro-top .item-tag-noreserve, .listing-intro .item-tag-noreserve",
                   lambda tag, a: None if pk.class_verdict(a.get("class"), "item-tag-noreserve") is not False else False),
    "gallery": ("[data-gallery-items]", lambda tag, a: "data-gallery-items" in a),
}


def _parse_listing(data, tree, banner, bid_table, title_el, url, page, deep) -> VehicleListing:
    page_url = _page_url_from_head(data)
    canonical = page_url if page_url and external_id(page_url) else None
    listing_url = canonical or url
    listing_id = None
    for node in (banner.css_first("[data-listing-currently]") if banner is not None else None, bid_table):
        if node is not None:
            listing_id = node.attributes.get("data-listing-currently") or node.attributes.get("data-listing-bid-id")
            if listing_id:
                break
    ext = external_id(listing_url) if listing_url else None
    if not ext:
        if not listing_id:
            raise ParseError(NAME, page, "no listing URL (og:url) and no listing id")
        # The page names no slug; BaT's own shortlink form keeps the record traceable.
        ext = listing_id
        listing_url = listing_url or f"{DEFAULT_BASE_URL}/?p={listing_id}"

    title = _text(title_el)
    if title is None:
        og = tree.css_first('meta[property="og:title"]')
        title = clean_text(og.attributes.get("content")) if og is not None else None

    # ---- outcome: the result banner, else the <title> result suffix
    outcome = None
    evidence = None
    amount = None
    currency = None
    banner_text = None
    if banner is not None:
        full = banner.text(deep=True)
        anchor = banner.css_first(".comments-anchor-link")
        if anchor is not None:
            full = full.replace(anchor.text(deep=True), " ")
        banner_text = clean_text(full)
        outcome = _outcome_from_text(banner_text)
        if outcome is not None:
            evidence = ".listing-available-info"
    title_match = None
    page_title_el = tree.css_first("title")
    page_title = _text(page_title_el)
    if page_title:
        title_match = _TITLE_RESULT.search(page_title)
    if outcome is None and title_match:
        verb = title_match.group(1).lower()
        outcome = {"sold for": Outcome.SOLD, "bid to": Outcome.BID_TO, "withdrawn": Outcome.WITHDRAWN}.get(verb)
        if outcome is None:
            outcome = Outcome.UNKNOWN  # "closed on …": ended without a stated result
        evidence = "title"
        banner_text = title_match.group(0).split("-", 1)[-1]
    found = pk.hits(tree, _LISTING_PARTS)
    current_el = _first(found["current"])
    if outcome is None and current_el is not None:
        outcome, evidence = Outcome.LIVE, "[data-listing-current]"
    if outcome is None:
        raise ParseError(NAME, page, "no result element (.listing-available-info verb, <title> result, current bid)")

    if outcome in (Outcome.SOLD, Outcome.BID_TO):
        amount_text = _ON_OR_PAREN.split(banner_text or "", maxsplit=1)[0]
        money = parse_money(amount_text)
        if money is None:
            raise ParseError(NAME, page, f"{evidence} says {outcome} but shows no amount")
        amount, currency = money
    elif outcome == Outcome.LIVE:
        if current_el is not None:
            raw = current_el.attributes.get("data-amount")
            amount = parse_int(raw) if raw and raw.strip().isdigit() else None
            currency = (parse_money(_text(current_el)) or (None, "USD"))[1]
        if amount is None and banner_text:
            money = parse_money(banner_text.split(":", 1)[-1])
            if money:
                amount, currency = money
        if not amount:
            amount = currency = None  # a $0 current bid means no bid yet

    # ---- the bid box
    ended_at = None
    bid_count = None
    buyer = None
    box_scopes = [n for n in (bid_table, banner) if n is not None]
    for scope in box_scopes:
        node = scope.css_first("[data-ends]")
        if node is not None:
            ended_at = epoch_to_utc(node.attributes.get("data-ends"))
        if ended_at is None:
            node = scope.css_first("[data-timestamp]")
            if node is not None:
                ended_at = epoch_to_utc(node.attributes.get("data-timestamp"))
        if ended_at is not None:
            break
    if bid_table is not None:
        bid_count = parse_int(_text(bid_table.css_first(".number-bids-value")))
        if outcome == Outcome.SOLD:
            winner = bid_table.css_first("[data-listing-high-bidder-link] a")
            buyer = _text(winner)

    comment_count = None
    scope = banner if banner is not None else tree
    cnode = scope.css_first(".comments_header_html .info-value")
    if cnode is None and banner is not None:
        cnode = tree.css_first(".comments_header_html .info-value")
    if cnode is not None:
        comment_count = parse_int(_text(cnode))

    views = _first(found["views"])
    watchers = _first(found["watchers"])

    # ---- essentials
    seller = location = lot = vin = None
    mileage = mileage_unit = engine = transmission = drivetrain = ext_color = int_color = None
    essentials = _first(found["essentials"])
    if essentials is not None:
        labels = _labelled(essentials)
        for key in ("seller",):
            if key in labels:
                text, link = _after_label(labels[key])
                seller = _text(link) if link is not None else text
        if "location" in labels:
            text, link = _after_label(labels["location"])
            location = _text(link) if link is not None else text
        if "lot" in labels:
            text, _ = _after_label(labels["lot"])
            if text:
                m = re.search(r"#?\s*([\d,]+)", text)
                lot = m.group(1).replace(",", "") if m else None
        details = classify_details([clean_text(li.text(deep=True)) or "" for li in essentials.css("ul li")])
        vin, mileage, mileage_unit = details["vin"], details["mileage"], details["mileage_unit"]
        engine, transmission, drivetrain = details["engine"], details["transmission"], details["drivetrain"]
        ext_color, int_color = details["exterior_color"], details["interior_color"]

    # ---- identity from title and chips
    chip_make = None
    for chip in found["chips"]:
        label = chip.css_first(".group-title-label")
        if label is not None and clean_text(label.text()) == "Make":
            parts = [n.text_content for n in chip.iter(include_text=True) if n.is_text_node]
            chip_make = clean_text(" ".join(p for p in parts if p))
            break
    year, make, model, trim = split_title(title, make=chip_make)

    no_reserve = None
    if title:
        no_reserve = title.lower().startswith("no reserve")
        intro = _first(found["no_reserve"])
        if intro is not None and "display: none" not in (intro.attributes.get("style") or "").replace(":none", ": none"):
            no_reserve = True

    images = _images(tree, _first(found["gallery"]))

    comments = None
    if deep:
        comments = _comments(data, page)

    sale_price = amount if outcome == Outcome.SOLD else None
    high_bid = amount if outcome in (Outcome.SOLD, Outcome.BID_TO, Outcome.LIVE) else None
    if outcome == Outcome.WITHDRAWN and bid_table is not None:
        high_bid = None
    return VehicleListing(
        source=NAME,
        url=listing_url,
        external_id=ext,
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
        high_bid=high_bid,
        currency=currency if amount is not None else None,
        bid_count=bid_count,
        comment_count=comment_count,
        view_count=parse_int(_text(views)),
        watcher_count=parse_int(_text(watchers)),
        ended_at=ended_at,
        seller=seller,
        buyer=buyer,
        location=location,
        lot_number=lot,
        no_reserve=no_reserve,
        exterior_color=ext_color,
        interior_color=int_color,
        transmission=transmission,
        drivetrain=drivetrain,
        engine=engine,
        images=images,
        comments=comments,
        outcome_evidence=evidence,
    )


def _images(tree: LexborHTMLParser, node: LexborNode | None) -> list[str]:
    """From the first `[data-gallery-items]` (`node`), else og:image."""
    if node is not None:
        try:
            items = pk.loads(node.attributes.get("data-gallery-items") or "[]")
        except ValueError:
            items = []
        urls = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                large = item.get("large")
                if isinstance(large, dict) and isinstance(large.get("url"), str):
                    urls.append(large["url"])
        if urls:
            return urls
    og = tree.css_first('meta[property="og:image"]')
    if og is not None and og.attributes.get("content"):
        return [og.attributes["content"]]
    return []


def _comments(data: bytes, page: str) -> list[Comment]:
    pos = data.find(b"var BAT_VMS")
    if pos < 0:
        return []
    vms = _js_object(data, pos, page, "BAT_VMS")
    raw = vms.get("comments")
    out: list[Comment] = []
    for c in raw if isinstance(raw, list) else []:
        if not isinstance(c, dict):
            continue
        ctype = c.get("type") if isinstance(c.get("type"), str) else "comment"
        # `content` is HTML (mentions are links; user text is entity-escaped): drop tags, then unescape.
        raw_text = c.get("content") if isinstance(c.get("content"), str) else ""
        text = clean_text(_TAG.sub("", _BREAK.sub(" ", raw_text))) or ""
        amount = currency = None
        if ctype == "bat-bid":
            kind = CommentKind.BID
            bid = c.get("bidAmount")
            amount = bid if isinstance(bid, int) and not isinstance(bid, bool) else parse_int(bid)
            currency = (parse_money(text) or (None, "USD"))[1]
        elif ctype.startswith("bat-bid-") or ctype.startswith("bat-system"):
            kind = CommentKind.SYSTEM
        else:
            kind = CommentKind.COMMENT
        author = c.get("authorName")
        out.append(Comment(
            external_id=str(c.get("id")),
            kind=kind,
            author=clean_text(author) if isinstance(author, str) else None,
            posted_at=epoch_to_utc(c.get("timestamp")),
            text=text or "",
            amount=amount,
            currency=currency,
        ))
    return out


__all__ = ["NAME", "DEFAULT_BASE_URL", "ALLOWED_HOSTS", "is_auction", "matches", "external_id",
           "canonical_url", "index_url", "parse", "classify_details"]
