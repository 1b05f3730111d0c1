"""Dealer inventory pages without vehicle JSON-LD, as the common dealer-website platforms render them
(DealerOn, Dealer.com, DealerInspire, DealerCenter, Carsforsale and the like).

Keyed on structure, not on any platform's class names: a card is the largest element around a link to one
vehicle page (a `/inventory/…`, `/used/…`, `/vehicle-details/…`-shaped path naming a year, an id or a VIN)
that holds no link to another. From each card, in order of trust:
- data attributes on the card or inside it (`data-vin`, `data-stock`/`data-stocknum`, `data-price`,
  `data-mileage`/`data-odometer`, `data-year`, `data-make`, `data-model`, `data-trim`; a `data-vehicle-`
  prefix and `-`/`_` spellings alike);
- labelled text ("VIN: …", "Stock #: …", "Mileage: 31,547" or "31,547 mi", "Price: $…", a `*price*`
  element showing an amount). "Call for price" (and any card without an amount) is no price.
Pagination: "Page 1 of 5 (96 vehicles)" or "Showing 1 - 24 of 96" in the page's text; the next page from
`link[rel=next]` / `a[rel=next]` / a link reading "Next", else built from the page parameter the page's own
links use (`page_no=`, `page=`, …).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from vehicle_pipeline.model import ListingRef
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import clean_text, normalize_vin, parse_int, parse_money

# A vehicle page's path names a year, a stock/listing id or a VIN.
_VDP_TOKEN = re.compile(r"(?:^|[^0-9])(?:19[0-9]{2}|20[0-9]{2})(?:[^0-9]|$)|[0-9]{5,}|[A-HJ-NPR-Z0-9]{17}", re.I)
_PAGE_PARAMS = ("page_no", "page", "pg", "pt", "pagenumber")
_KEYS = {
    "vin": "vin", "vinnumber": "vin",
    "stock": "stock", "stocknum": "stock", "stocknumber": "stock", "stockno": "stock",
    "price": "price", "finalprice": "price", "internetprice": "price", "saleprice": "price", "askingprice": "price",
    "mileage": "mileage", "miles": "mileage", "odometer": "mileage",
    "year": "year", "make": "make", "model": "model", "trim": "trim",
}
_LABELLED = {
    "vin": re.compile(r"\bVIN\s*(?:#|number)?\s*:?\s*([A-HJ-NPR-Z0-9]{11,17})\b", re.I),
    "stock": re.compile(r"\bStock\s*(?:#|No\.?|Number)?\s*:?\s*#?\s*([A-Za-z0-9][A-Za-z0-9-]*)", re.I),
    "mileage": re.compile(r"\b(?:Mileage|Miles|Odometer)\s*:?\s*([\d,]+)\b|\b([\d,]{2,})\s*(?:mi|miles)\b", re.I),
    "price": re.compile(r"\b(?:Internet |Sale |Our |Cash |Special |Asking |E-|Final |Your )?Price\s*:\s*(\$\s*[\d,]+)",
                        re.I),
}
_NO_PRICE = re.compile(r"call\s+(?:us\s+)?for\s+(?:price|pricing)|contact\s+(?:us\s+)?for\s+price|price\s+on\s+request",
                       re.I)
_AMOUNT = re.compile(r"\$\s*[\d,]{3,}")
_PAGE_OF = re.compile(r"\bPage\s+(\d+)\s+of\s+(\d+)(?:\s*\(\s*(\d[\d,]*)\s+(?:vehicles?|results?|cars?)\s*\))?", re.I)
_SHOWING = re.compile(r"\b(\d[\d,]*)\s*[-\u2013]\s*(\d[\d,]*)\s+of\s+(\d[\d,]*)\b")


def is_vehicle_href(href: str, page_url: str | None, path_shape: re.Pattern) -> bool:
    parts = urlsplit(href)
    if page_url:
        page = urlsplit(page_url)
        if parts.netloc and page.netloc and parts.netloc.lower() != page.netloc.lower():
            return False
        if parts.path.rstrip("/") == page.path.rstrip("/"):
            return False  # the inventory page itself (a filter, a sort, a page link)
    if any(k.lower() in _PAGE_PARAMS for k, _ in parse_qsl(parts.query)):
        return False
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return bool(path_shape.search(parts.path)) and bool(_VDP_TOKEN.search(tail or parts.path))


def looks_like_vehicle_page(page_url: str, path_shape: re.Pattern) -> bool:
    """A vehicle page's own URL (its "similar vehicles" links are not an inventory)."""
    return is_vehicle_href(page_url, None, path_shape)


def cards(tree, page_url: str | None, path_shape: re.Pattern) -> list[tuple[object, str]]:
    """(card element, vehicle page URL) per vehicle the page lists, in page order."""
    links: list[tuple[object, str]] = []
    for a in tree.css("a[href]"):
        href = pk.absolute(pk.attr(a, "href"), page_url)
        if href and urlsplit(href).scheme in ("http", "https") and is_vehicle_href(href, page_url, path_shape):
            links.append((a, href.split("#", 1)[0]))
    holders: dict[int, set[str]] = {}
    for a, url in links:
        node = a
        while node is not None:
            holders.setdefault(node.mem_id, set()).add(url)
            node = node.parent
    out: list[tuple[object, str]] = []
    seen: set[str] = set()
    for a, url in links:
        if url in seen:
            continue
        seen.add(url)
        card = a
        while card.parent is not None and card.parent.tag not in ("body", "html") \
                and holders.get(card.parent.mem_id) == {url}:
            card = card.parent
        out.append((card, url))
    return out


def _data_key(name: str) -> str | None:
    """The field a data attribute (or a key of the JSON one carries) names: "data-vehicle-stock-number" →
    "stock"."""
    key = name.lower()
    key = key[5:] if key.startswith("data-") else key
    key = key[8:] if key.startswith(("vehicle-", "vehicle_")) else key
    return _KEYS.get(key.replace("-", "").replace("_", ""))


def _data_values(card) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in [card, *card.css("*")]:
        for name, value in node.attributes.items():
            if not name.startswith("data-") or not value or not value.strip():
                continue
            value = value.strip()
            if value.startswith("{"):  # a card's whole vehicle as JSON (`data-vehicle='{"vin": …}'`)
                try:
                    data = pk.loads(value)
                except ValueError:
                    continue
                for inner, item in data.items() if isinstance(data, dict) else ():
                    key = _data_key(inner)
                    if key and key not in out and isinstance(item, (str, int, float)) and not isinstance(item, bool):
                        out[key] = str(item)
                continue
            key = _data_key(name)
            if key and key not in out:
                out[key] = value
    return out


def _shown_price(card, text: str) -> int | None:
    m = _LABELLED["price"].search(text)
    if m:
        money = parse_money(m.group(1))
        if money and money[0] > 0:
            return money[0]
    # several prices (retail, discounts, the dealer's own): the one marked final wins, else the first shown
    shown_prices: list[tuple[bool, int]] = []
    for node in card.css('[class*="price"], [class*="Price"]'):
        shown = pk.node_text(node) or ""
        if _NO_PRICE.search(shown):
            return None
        m = _AMOUNT.search(shown)
        if m:
            money = parse_money(m.group(0))
            if money and money[0] > 0:
                marks = " ".join(filter(None, (pk.attr(node, "class"), pk.attr(node.parent, "class")))).lower()
                shown_prices.append(("final" in marks, money[0]))
    final = [amount for is_final, amount in shown_prices if is_final]
    return final[0] if final else (shown_prices[0][1] if shown_prices else None)


def card_ref(card, url: str, canonical) -> ListingRef | None:
    """What one card says about its vehicle; None when it names neither a VIN, a stock number, a year nor a
    price (a link in a menu, not a vehicle)."""
    data = _data_values(card)
    text = card.text(deep=True, separator="\n") or ""
    found = {name: (m.group(1) or (m.group(2) if m.re.groups > 1 else None)) for name, pattern in _LABELLED.items()
             if (m := pattern.search(text))}
    vin = normalize_vin(data.get("vin") or found.get("vin") or "")
    stock = clean_text(data.get("stock") or found.get("stock"))
    price = None
    if data.get("price"):
        money = parse_money(data["price"])
        price = money[0] if money and money[0] > 0 else None
    if price is None and not _NO_PRICE.search(text):
        price = _shown_price(card, text)
    mileage = parse_int(data.get("mileage") or found.get("mileage"))
    year = parse_int(data.get("year"))
    heading = card.css_first("h1, h2, h3, h4, h5, [class*=title]")
    parts = [p for p in (data.get("year"), data.get("make"), data.get("model"), data.get("trim")) if p]
    title = clean_text(" ".join(parts)) if len(parts) >= 3 else None
    title = title or pk.node_text(heading) or clean_text(pk.attr(card, "title"))
    if not title:
        link = card if card.tag == "a" else card.css_first("a[href]")
        title = pk.node_text(link)
    if not (vin or stock or price or year or (title and re.search(r"\b(19|20)\d\d\b", title))):
        return None
    canonical_url = canonical(url)
    return ListingRef(url=canonical_url, external_id=urlsplit(canonical_url).path.rstrip("/") or canonical_url,
                      title=title, price=price, currency="USD" if price is not None else None,
                      mileage=mileage, mileage_unit="mi" if mileage is not None else None, vin=vin,
                      stock_number=stock)


def pagination(tree, page_url: str) -> tuple[int | None, int | None, int | None, str | None]:
    """(page, pages total, vehicles total, next page URL) as the page states them. The links are looked through
    only when the page has no `rel=next` link and does not say it is the last page."""
    body = tree.body
    text = body.text(deep=True, separator=" ") if body is not None else ""
    page = pages_total = total = None
    page_of = showing = None
    # both statements read "… of N": the two patterns are tried only around each " of <digit>" (run over the
    # whole text, their leading digit and case-blind word would be tried at every position: ~1 ms a page)
    for at in _of_numbers(text):
        window = text[max(0, at - 48): at + 40]
        page_of = page_of or _PAGE_OF.search(window)
        showing = showing or _SHOWING.search(window)
        if page_of:
            break
    if page_of:
        page, pages_total = int(page_of.group(1)), int(page_of.group(2))
        total = parse_int(page_of.group(3)) if page_of.group(3) else None
    elif showing:
        start, end, total = (parse_int(g) for g in showing.groups())
        if start and end and total and end >= start:
            size = end - start + 1
            page = (start - 1) // size + 1
            pages_total = -(-total // size) if end < total else page
    param, current = _own_page_param(page_url)
    page = page or current
    next_href = pk.link_rel(tree, "next") or pk.first_attr(tree, 'a[rel="next"]', "href")
    if not next_href and not (page and pages_total and page >= pages_total):
        next_href = _next_link(tree)
        if not next_href and page and pages_total and page < pages_total:
            param = param or _linked_page_param(tree)
            if param:
                return page, pages_total, total, pk.with_query(page_url, **{param: page + 1})
    next_url = pk.absolute(next_href, page_url) if next_href and not next_href.startswith(("#", "javascript")) else None
    return page, pages_total, total, next_url


def _of_numbers(text: str) -> list[int]:
    """Where the text says "of <number>" ("of", "Of" or "OF"): str.find's scans, several times faster than a
    regex's or a lower-cased copy's."""
    found = []
    for word in ("of", "Of", "OF"):
        at = text.find(word)
        while at >= 0:
            if (at == 0 or text[at - 1].isspace()) and text[at + 2:at + 3].isspace() \
                    and text[at + 2:at + 12].lstrip()[:1].isdigit():
                found.append(at)
            at = text.find(word, at + 2)
    return sorted(found)


_NEXT_WORDS = frozenset({"next", "next page", "\u203a", "\u00bb", ">", "next \u203a", "next \u00bb", "next >"})


def _next_link(tree) -> str | None:
    """The href of a link that says "Next" (its text, aria-label or title) or is classed as the next one."""
    for a in tree.css("a[href]"):
        attrs = a.attributes
        for name in ("aria-label", "title"):
            value = (attrs.get(name) or "").strip().lower()
            if value in _NEXT_WORDS:
                return attrs.get("href")
        if "next" in (attrs.get("class") or "").lower().split():
            return attrs.get("href")
        shown = (a.text(deep=False) or "").strip().lower()
        if shown in _NEXT_WORDS:
            return attrs.get("href")
    return None


def _own_page_param(page_url: str) -> tuple[str | None, int | None]:
    for k, v in parse_qsl(urlsplit(page_url).query):
        if k.lower() in _PAGE_PARAMS and v.isdigit():
            return k, int(v)
    return None, None


def _linked_page_param(tree) -> str | None:
    """The query parameter the page's own links page by (`page_no=2`, `page=3`, …)."""
    for a in tree.css("a[href]"):
        href = a.attributes.get("href") or ""
        if "=" not in href or "p" not in href.lower():
            continue
        for k, v in parse_qsl(urlsplit(href).query):
            if k.lower() in _PAGE_PARAMS and v.isdigit():
                return k
    return None
