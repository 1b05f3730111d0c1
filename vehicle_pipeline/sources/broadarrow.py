"""Broad Arrow Auctions: results/available lists and lot pages.

No real Broad Arrow page is in the corpus. The results list follows SELECTORS.md §4 (scraper code);
the lot page structure below is this parser's definition, built from the public description of the
page (lot header, estimate, result, highlights, specs). A page without these pieces is a ParseError.

Results list (`/vehicles/results?page=N`, `/vehicles/available`)
    card `div.ft-vehicle-item.grid-block` > `a.vehicle-card[href][title]` (title "YEAR MAKE MODEL"),
    price `a.vehicle-card > div.bottom > div.price > div.bot > span`: a label, then the amount:
    "Sold for $1,234,000" / "High Bid €450,000" / "Not Sold" / "Estimate $4,500,000 - $5,500,000" /
    "Current Bid $…" / "Withdrawn". Pagination: links carrying `page=N`; next = `a[rel=next]` or the link
    to page current+1. Total count: `[data-total-results]` attribute when present, else unknown.

Lot page (`/vehicles/<saleCode>_<lot>/<slug>`), told from a results list by its lot header: it may show other
    lots ("More from this auction") as the same cards a list is made of.
    `link[rel=canonical]`; `h1.vehicle-title` (or the first `h1`);
    `.lot-sale` text "Lot 155 | The Amelia Auction 2023" (a `Lot N | Sale` header is required);
    `.vehicle-estimate` "Estimate: $4,500,000 - $5,500,000";
    `.vehicle-result` — the result block: "Sold for $4,845,000" | "Not Sold" with an optional
    "High Bid $3,900,000" | "Withdrawn"; `ul.vehicle-highlights li`;
    `.vehicle-specs` rows `dt`/`dd` (or `li > span.label`/`span.value`): Chassis No. / VIN, Engine,
    Odometer / Mileage, Transmission, Exterior, Interior, Location; images `.vehicle-gallery img[src]`.

Outcome (from the result block / the card price label, never page-wide text):
    Sold for $X → sold (sale_price = high_bid = X); Not Sold + High Bid $X → bid_to (high_bid = X);
    Not Sold without a bid → no_sale; Withdrawn → withdrawn; no result block but an estimate → live
    (upcoming or open: Broad Arrow shows only the estimate before the sale); neither → unknown.
Currency comes from the amount's symbol or code ($ → USD, € → EUR, £ → GBP, CHF …).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from vehicle_pipeline.model import IndexPage, ListingRef, Outcome, ParseError, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import clean_text, normalize_vin, parse_mileage, parse_money, split_title, vin_state

NAME = "broadarrow"
DEFAULT_BASE_URL = "https://www.broadarrowauctions.com"
ALLOWED_HOSTS = ("www.broadarrowauctions.com", "broadarrowauctions.com")
is_auction = True

_LOT_PATH = re.compile(r"^/vehicles/(?P<id>[a-z]{2}\d{2}_[a-z]?\d+[a-z]?)(?:/(?P<slug>[^/?#]+))?/?", re.I)
_LIST_PATH = re.compile(r"^/vehicles/(results|available)/?$")
_LOT_HEADER = re.compile(r"^\s*Lot\s+(?P<lot>[A-Za-z0-9.-]+)\s*\|\s*(?P<sale>.+?)\s*$")


def matches(url: str) -> bool:
    path = urlsplit(url).path
    return bool(_LOT_PATH.search(path) or _LIST_PATH.search(path))


def external_id(url: str) -> str | None:
    m = _LOT_PATH.search(urlsplit(url).path)
    return m.group("id").lower() if m else None


def canonical_url(url: str, parts: SplitResult | None = None) -> str:
    """`parts`: `urlsplit(url)` when the caller has it already."""
    parts = parts or urlsplit(url)
    m = _LOT_PATH.search(parts.path)
    if not m:
        # list pages keep their page parameter: it is part of the page's identity
        page = pk.query_param(url, "page")
        base = pk.strip_query(url)
        return pk.with_query(base, page=page) if page else base
    return _lot_url(parts, m)


def _lot_url(parts: SplitResult, m: re.Match) -> str:
    """The canonical URL of a lot page, from its split URL and the `_LOT_PATH` match in its path."""
    prefix = parts.path[: m.start()]
    tail = f"/{m.group('slug')}" if m.group("slug") else ""
    return f"{parts.scheme}://{parts.netloc.lower()}{prefix}/vehicles/{m.group('id').lower()}{tail}"


def index_url(base_url: str, page: int = 1, available: bool = False, **_ignored) -> str:
    path = "/vehicles/available" if available else "/vehicles/results"
    url = base_url.rstrip("/") + path
    return pk.with_query(url, page=page) if page and page > 1 else url


# ------------------------------------------------------------------------------------------------
def _amount(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    return parse_money(text, default_currency="USD")


_DIGIT = re.compile(r"\d")


# The labels of most cards: what the general path below reads from them (a whole number in dollars, euros or
# pounds; none of these words is a currency code, and no other symbol is there), without parse_money's search
# for codes and symbols.
_PLAIN_LABEL = re.compile(r"(Sold for|High Bid|Bid to|Current Bid) ([$€£])([1-9]\d{0,2}(?:,\d{3}){1,5}|[1-9]\d{0,17})")
_PLAIN_OUTCOMES = {"Sold for": Outcome.SOLD, "High Bid": Outcome.BID_TO, "Bid to": Outcome.BID_TO,
                   "Current Bid": Outcome.LIVE}
_PLAIN_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}


def classify_label(text: str | None):
    """(outcome, price, currency) from a price/result label such as "Sold for $1,234,000"."""
    t = clean_text(text) or ""
    plain = _PLAIN_LABEL.fullmatch(t)
    if plain:
        return _PLAIN_OUTCOMES[plain.group(1)], int(plain.group(3).replace(",", "")), _PLAIN_SYMBOLS[plain.group(2)]
    low = t.lower()
    money = _amount(t) if _DIGIT.search(t) else None
    if low.startswith("sold"):
        return Outcome.SOLD, (money[0] if money else None), (money[1] if money else None)
    if low.startswith("withdrawn"):
        return Outcome.WITHDRAWN, None, None
    if "high bid" in low or low.startswith("bid to"):
        if money:
            return Outcome.BID_TO, money[0], money[1]
        return Outcome.NO_SALE, None, None
    if low.startswith("not sold") or low.startswith("unsold"):
        return Outcome.NO_SALE, None, None
    if low.startswith("current bid"):
        return Outcome.LIVE, (money[0] if money else None), (money[1] if money else None)
    if low.startswith("estimate"):
        return Outcome.LIVE, None, (money[1] if money else None)
    return None, None, None


@pk.guarded(NAME, "Broad Arrow")
def parse(content: bytes | str, url: str | None = None, deep: bool = False) -> VehicleListing | IndexPage:
    head, body = pk.read_page(content, NAME)
    if pk.looks_like_json(head):
        raise ParseError(NAME, "JSON", "Broad Arrow pages are HTML; no results list or lot page in a JSON body")
    tree = pk.Tree(body)
    page_url = pk.canonical_link(tree, url) or url
    # The lot header first: a lot page shows other lots ("More from this auction") as the same cards a
    # results list is made of, so cards alone do not make a list.
    header = tree.css_first(".lot-sale")
    if header is not None:
        return _parse_lot(tree, page_url, header)
    # every card's link and price label from one walk of the page, not two queries per card
    walked = pk.walk_rows(tree, _CARD, _CARD_PARTS)
    if walked is None:
        walked = [(card, {tag: card.css_first(sel) for tag, sel in _CARD_PARTS.items()}) for card in tree.css(_CARD[1])]
    if walked:
        if page_url and _LOT_PATH.search(urlsplit(page_url).path):
            # a lot page that lost its header: its cards are other lots, not this page's content
            raise ParseError(NAME, "lot page", "lot header `.lot-sale` reading 'Lot N | <sale>'")
        return _parse_list(tree, page_url or f"{DEFAULT_BASE_URL}/vehicles/results", walked)
    if tree.css_first(".vehicle-result") or tree.css_first(".vehicle-estimate"):
        return _parse_lot(tree, page_url, None)
    if page_url and _LIST_PATH.search(urlsplit(page_url).path):
        if tree.css_first(".vehicle-grid, .no-results"):
            return IndexPage(source=NAME, url=page_url, items=[], total_items=0)
        raise ParseError(NAME, "results page", "no div.ft-vehicle-item.grid-block cards")
    raise ParseError(NAME, "page", "neither results cards (div.ft-vehicle-item.grid-block) nor a lot header (.lot-sale)")


def _page_of(url: str | None) -> int | None:
    v = pk.query_param(url, "page")
    return int(v) if v and v.isdigit() else None


_CARD = ("div", "div.ft-vehicle-item.grid-block")
_CARD_PARTS = {"a": "a.vehicle-card", "span": "a.vehicle-card > div.bottom > div.price > div.bot > span"}


def _parse_list(tree, page_url: str, walked: list) -> IndexPage:
    """The results list: `walked` are its cards, each with its first `_CARD_PARTS`, as pk.walk_rows gives them."""
    items: list[ListingRef] = []
    for card, parts in walked:
        link = parts.get("a")
        href = pk.absolute(pk.attr(link, "href"), page_url)
        if not href:
            continue
        plain = pk.PLAIN_URL.fullmatch(href)
        if plain:  # scheme, host and path as urlsplit gives them (the host already lower case), without splitting
            m = _LOT_PATH.search(plain.group(3))
            if not m:
                continue
            tail = f"/{m.group('slug')}" if m.group("slug") else ""
            lot_url = f"{plain.group(1)}://{plain.group(2)}{plain.group(3)[: m.start()]}/vehicles/{m.group('id').lower()}{tail}"
            ext = m.group("id").lower()
        else:
            parsed = urlsplit(href)
            m = _LOT_PATH.search(parsed.path)
            if not m:
                continue
            lot_url = _lot_url(parsed, m)
            # external_id(lot_url) is this match's id whenever the URL has a scheme (lot_url keeps the match)
            ext = m.group("id").lower() if parsed.scheme else external_id(lot_url)
        label = pk.node_text(parts.get("span"))
        outcome, price, _cur = classify_label(label)
        if outcome is None:
            outcome = Outcome.UNKNOWN
        title = clean_text(pk.attr(link, "title")) or pk.node_text(card.css_first(".title, h3, h2"))
        items.append(
            ListingRef(
                url=lot_url,
                external_id=ext,
                title=title,
                outcome=outcome,
                price=price,
                currency=_cur if price is not None else None,
            )
        )
    if not items:
        raise ParseError(NAME, "results page", "no card has an a.vehicle-card link to /vehicles/<sale>_<lot>/")
    page = _page_of(page_url) or 1
    pages = set()
    next_url = None
    for a in tree.css("a[href*='page=']"):
        href = pk.absolute(pk.attr(a, "href"), page_url)
        n = _page_of(href)
        if n is None:
            continue
        pages.add(n)
        rel = (pk.attr(a, "rel") or "").lower()
        if "next" in rel.split() or (next_url is None and n == page + 1):
            next_url = href
    total = None
    holder = tree.css_first("[data-total-results]")
    if holder is not None:
        total = pk.int_or_none(pk.attr(holder, "data-total-results"))
    # page 1 is linked without a page parameter, so the highest page seen (this one included) is the last
    pages_total = max(pages | {page})
    return IndexPage(
        source=NAME,
        url=page_url,
        items=items,
        total_items=total,
        page=page,
        pages_total=pages_total,
        next_page_url=next_url,
    )


def _specs(tree) -> dict[str, str]:
    out: dict[str, str] = {}
    box = tree.css_first(".vehicle-specs")
    if box is None:
        return out
    for dt in box.css("dt"):
        dd = dt.next
        while dd is not None and dd.tag != "dd":
            dd = dd.next
        key, value = pk.node_text(dt), pk.node_text(dd)
        if key and value:
            out.setdefault(key.rstrip(":").strip().lower(), value)
    for li in box.css("li"):
        key, value = pk.node_text(li.css_first(".label")), pk.node_text(li.css_first(".value"))
        if key and value:
            out.setdefault(key.rstrip(":").strip().lower(), value)
    return out


def _spec(specs: dict[str, str], *names: str) -> str | None:
    for n in names:
        if n in specs:
            return specs[n]
    return None


def _parse_lot(tree, page_url: str | None, header_node) -> VehicleListing:
    """A lot page; `header_node` is its first `.lot-sale` (None when it has none)."""
    if not page_url:
        raise ParseError(NAME, "lot page", "no link[rel=canonical] and no --url")
    ext = external_id(page_url)
    if not ext:
        raise ParseError(NAME, "lot page", f"URL {page_url} has no /vehicles/<sale>_<lot>/ segment")
    header = pk.node_text(header_node)
    hm = _LOT_HEADER.match(header or "")
    if not hm:
        raise ParseError(NAME, "lot page", "lot header `.lot-sale` reading 'Lot N | <sale>'")
    title = pk.node_text(tree.css_first("h1.vehicle-title")) or pk.node_text(tree.css_first("h1"))
    if not title:
        raise ParseError(NAME, "lot page", "h1.vehicle-title")

    result_node = tree.css_first(".vehicle-result")
    estimate_text = pk.node_text(tree.css_first(".vehicle-estimate"))
    currency = None
    sale_price = high_bid = None
    if result_node is not None:
        rtext = pk.node_text(result_node) or ""
        bid_node = result_node.css_first(".high-bid")
        if re.match(r"\s*not sold", rtext, re.I):
            bid = _amount(pk.node_text(bid_node)) if bid_node is not None else None
            if bid:
                outcome, high_bid, currency = Outcome.BID_TO, bid[0], bid[1]
            else:
                outcome = Outcome.NO_SALE
            evidence = ".vehicle-result:not-sold"
        else:
            outcome, price, currency = classify_label(rtext)
            if outcome is None or outcome == Outcome.LIVE:
                raise ParseError(NAME, "lot page", f"unreadable result block {rtext[:60]!r}")
            if outcome == Outcome.SOLD:
                sale_price = high_bid = price
            elif outcome == Outcome.BID_TO:
                high_bid = price
            evidence = f".vehicle-result:{outcome}"
    elif estimate_text:
        outcome, evidence = Outcome.LIVE, ".vehicle-estimate"
        est = _amount(estimate_text)
        currency = est[1] if est else None
    else:
        outcome, evidence = Outcome.UNKNOWN, None

    specs = _specs(tree)
    vin = normalize_vin(_spec(specs, "vin", "chassis no.", "chassis no", "chassis", "chassis number", "serial no."))
    year, make, model, trim = split_title(title)
    mileage = unit = None
    odo = _spec(specs, "odometer", "mileage")
    if odo:
        parsed = parse_mileage(odo)
        if parsed:
            mileage, unit = parsed
    images = pk.image_urls([pk.attr(img, "data-src") or pk.attr(img, "src")
                            for img in tree.css(".vehicle-gallery img")], page_url)
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
        mileage=mileage,
        mileage_unit=unit,
        outcome=outcome,
        sale_price=sale_price,
        high_bid=high_bid,
        currency=currency,
        lot_number=hm.group("lot"),
        location=_spec(specs, "location"),
        exterior_color=_spec(specs, "exterior", "exterior color", "exterior colour"),
        interior_color=_spec(specs, "interior", "interior color", "interior colour"),
        transmission=_spec(specs, "transmission", "gearbox"),
        engine=_spec(specs, "engine"),
        images=images,
        outcome_evidence=evidence,
    )
