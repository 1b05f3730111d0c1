"""Craigslist cars & trucks (per metro): search pages, the sapi search JSON and posting pages.

Classifieds: `outcome` is None and the price is an `asking_price`, never a sale price.

Search pages (SELECTORS.md §5a)
- legacy (≤2022): `li.result-row[data-pid]` with `a.result-title`, `span.result-price`,
  `span.result-hood`; totals in `span.totalcount`, `.rangeFrom`, `.rangeTo`; next page `a.button.next[href]`.
  Rows after `h4.ban.nearby` belong to other metros and are not counted in `totalcount`: they are
  excluded from `items` (each metro is its own partition; those postings are found by their own metro).
- current static fallback: `ol.cl-static-search-results > li.cl-static-search-result[title]` with
  `a[href]`, `div.title`, `div.price`, `div.location`. It has no totals; next page only via rel=next.
- sapi JSON (`data.items[]` positional arrays): posting id = `decode.minPostingId + item[0]`, price
  `item[3]`, location `"locIdx:descIdx~lat~lon"` → `decode.locations[locIdx]` = [areaId, area, subarea],
  slug from the `[6, slug]` tag, title = the last string; URL
  `https://<area>.craigslist.org/<subarea>/<cat>/d/<slug>/<id>.html`; currency from `data.areas`.

Posting pages (§5b): 2024+ `div.attrgroup div.attr.<key> span.valu` (+ `div.attr.important` year and
makemodel), older `p.attrgroup > span` with `<b>` values; `script#ld_posting_data`; `span#titletextonly`;
`span.price`; `p.postinginfo` "post id: N"; `time.date.timeago[datetime]`. A VIN is read only from the
VIN attribute, never from the body text. A posting of another category (housing, jobs…) is a ParseError:
the pipeline must not store apartments as cars.

Units: Canadian metros write odometers in km and prices in CAD; elsewhere miles and USD (the page
states neither, so the metro decides; sapi states both through `areas`).
"""

from __future__ import annotations

import functools
import json
import math
import re
from urllib.parse import urlsplit

from vehicle_pipeline.model import IndexPage, ListingRef, ParseError, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import (
    clean_text,
    normalize_vin,
    parse_int,
    parse_iso_utc,
    parse_money,
    split_title,
    vin_state,
)

NAME = "craigslist"
DEFAULT_BASE_URL = "https://www.craigslist.org"
# Every metro is its own subdomain, as are sapi (the search API) and images (host-list syntax: vehicle_pipeline.hosts).
ALLOWED_HOSTS = ("*.craigslist.org", "craigslist.org")
is_auction = False

VEHICLE_CATEGORIES = frozenset({"cto", "ctd", "cta", "mca", "mcd", "mco"})
CANADIAN_METROS = frozenset(
    {
        "vancouver", "victoria", "nanaimo", "kelowna", "kamloops", "abbotsford", "comoxvalley", "cariboo",
        "calgary", "edmonton", "reddeer", "lethbridge", "ftmcmurray", "saskatoon", "regina", "winnipeg",
        "toronto", "ottawa", "montreal", "quebec", "hamilton", "kitchener", "londonon", "windsor", "niagara",
        "barrie", "kingston", "peterborough", "sudbury", "thunderbay", "sherbrooke", "halifax", "newbrunswick",
        "newfoundland", "pei", "whitehorse", "yellowknife", "territories", "saguenay", "troisrivieres",
        "belleville", "brantford", "chatham", "cornwall", "guelph", "owensound", "soo", "sarnia", "skeena",
        "princegeorge", "sunshine", "kootenays", "peace", "whistler",
    }
)
_CATEGORY_IDS = {145: "cto", 146: "ctd"}

_POSTING_PATH = re.compile(r"/(?P<cat>[a-z]{3})/d/(?P<slug>[^/]+)/(?P<pid>\d{6,})\.html$")
_ANY_PID = re.compile(r"/(?P<pid>\d{6,})\.html$")
_SEARCH_PATH = re.compile(r"/search/(?:[a-z]+/)?(?P<cat>[a-z]{3})/?$")


_POST_ID = re.compile(r"post id:\s*(\d+)")
_CODE = re.compile(r"[A-Z]{3}")


def matches(url: str) -> bool:
    path = urlsplit(url).path
    m = _POSTING_PATH.search(path)
    if m:
        return m.group("cat") in VEHICLE_CATEGORIES
    m = _SEARCH_PATH.search(path)
    return bool(m and m.group("cat") in VEHICLE_CATEGORIES) or "/postings/search" in path


def external_id(url: str) -> str | None:
    plain = pk.PLAIN_URL.fullmatch(url)  # urlsplit's path, for the plain URLs a search page lists
    m = _ANY_PID.search(plain.group(3) if plain else urlsplit(url).path)
    return m.group("pid") if m else None


def canonical_url(url: str) -> str:
    plain = pk.PLAIN_URL.fullmatch(url)
    if plain:  # a search page holds 120 of these: the pattern gives urlsplit's path without splitting
        if _ANY_PID.search(plain.group(3)):
            return url  # = pk.strip_query(url)
    elif _ANY_PID.search(urlsplit(url).path):
        return pk.strip_query(url)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def index_url(base_url: str, metro: str | None = None, query: str | None = None, category: str = "cto", **_ignored) -> str:
    """Search page of one metro: the metro is the subdomain of craigslist.org."""
    if not metro:
        raise ValueError("craigslist index_url needs metro=")
    host = (urlsplit(base_url).hostname or "").lower()
    if host != "craigslist.org" and not host.endswith(".craigslist.org"):
        raise ValueError(f"craigslist index_url: {base_url!r} is not on craigslist.org (metros are its subdomains)")
    url = f"https://{metro}.craigslist.org/search/{category}"
    return pk.with_query(url, query=query) if query else url


def metro_of(url: str | None) -> str | None:
    """The metro of a craigslist URL: its subdomain (none for www, sapi and images)."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    if host.endswith(".craigslist.org") and host.split(".")[0] not in ("www", "sapi", "images"):
        return host.split(".")[0]
    return None


@functools.lru_cache(maxsize=256)
def _is_canadian(url: str | None) -> bool:
    return metro_of(url) in CANADIAN_METROS


@pk.guarded(NAME, "craigslist")
def parse(content: bytes | str, url: str | None = None, deep: bool = False) -> VehicleListing | IndexPage:
    head, body = pk.read_page(content, NAME)
    if pk.looks_like_json(head):
        data = pk.load_json(pk.body_text(body), NAME, "sapi response")
        if isinstance(data, dict) and isinstance(data.get("data"), dict) and isinstance(data["data"].get("items"), list):
            return _parse_sapi(data["data"], url)
        raise ParseError(NAME, "JSON", "no data.items (expected a sapi search response)")
    tree = pk.Tree(body)
    page_url = pk.canonical_link(tree, url) or url
    # one walk for both search layouts; only a page that has the current one walks again for the legacy
    # rows, which win wherever they are
    row = tree.css_first("li.result-row, li.cl-static-search-result")
    if row is not None:
        if pk.has_class(row, "result-row") or tree.css_first("li.result-row"):
            return _parse_legacy_search(tree, page_url, url)
        return _parse_static_search(tree, page_url, url)
    if tree.css_first("#titletextonly, #ld_posting_data, section#postingbody"):
        return _parse_posting(tree, page_url, url)
    if tree.css_first("ol.cl-static-search-results, ul.rows"):
        return IndexPage(source=NAME, url=page_url or url or DEFAULT_BASE_URL, items=[], total_items=0)
    raise ParseError(
        NAME, "page", "no search rows (li.result-row / li.cl-static-search-result) and no posting (#titletextonly)"
    )


# ------------------------------------------------------------------------------------------------
def _price(text: str | None, canadian: bool) -> tuple[int, str] | None:
    return parse_money(text, default_currency="CAD" if canadian else "USD") if text else None


_LEGACY_ROW = ("li", "li.result-row")
_LEGACY_PARTS = {"a": "a.result-title", "span": "span.result-price"}


def _parse_legacy_search(tree, page_url: str | None, url: str | None) -> IndexPage:
    page_url = page_url or url
    if not page_url:
        raise ParseError(NAME, "search page", "no link[rel=canonical] and no --url")
    canadian = _is_canadian(page_url)
    items: list[ListingRef] = []
    walked = pk.walk_rows(tree, _LEGACY_ROW, _LEGACY_PARTS, {"h4": "h4.ban.nearby"})
    if walked is None:  # rows inside rows: each row queried on its own
        walked = []
        for node in tree.css("li.result-row, h4.ban.nearby"):
            walked.append(node if node.tag == "h4" else (node, {"a": node.css_first("a.result-title"),
                                                                 "span": node.css_first("span.result-price")}))
    for entry in walked:
        if not isinstance(entry, tuple):
            break  # the h4 banner: everything below it is from nearby metros
        node, parts = entry
        link = parts.get("a")
        href = pk.absolute(pk.attr(link, "href"), page_url)
        pid = pk.attr(node, "data-pid") or (external_id(href) if href else None)
        if not href or not pid:
            continue
        money = _price(pk.node_text(parts.get("span")), canadian)
        items.append(
            ListingRef(
                url=canonical_url(href),
                external_id=pid,
                title=pk.node_text(link),
                price=money[0] if money else None,
                currency=money[1] if money else None,
            )
        )
    # the page's totals and next link: the first of each, from queries that stop there (the legend above the
    # rows), not one walk of the whole page for the three
    total_node = tree.css_first("span.totalcount")
    range_node = tree.css_first("span.rangeFrom")
    next_button = tree.css_first("a.button.next")
    next_href = pk.attr(next_button, "href")
    if next_href is None and next_button is not None:
        # a button without a link (the last page's): the first one that has one, if any
        next_href = next(filter(None, (pk.attr(node, "href") for node in tree.css("a.button.next"))), None)
    total = parse_int(pk.node_text(total_node))
    range_from = parse_int(pk.node_text(range_node))
    # Legacy search pages hold 120 rows; `s=` is the offset of the first row.
    page = (range_from - 1) // 120 + 1 if range_from else None
    pages_total = math.ceil(total / 120) if total is not None else None
    next_url = pk.absolute(next_href, page_url) if next_href else None
    return IndexPage(
        source=NAME,
        url=page_url,
        items=items,
        total_items=total,
        page=page,
        pages_total=pages_total,
        next_page_url=next_url,
    )


_STATIC_ROW = ("li", "ol.cl-static-search-results > li.cl-static-search-result")


def _posting_link(href: str) -> tuple[str, str] | None:
    """`(canonical_url(href), external_id(href))` of a link to a posting, None when it has no posting id."""
    plain = pk.PLAIN_URL.fullmatch(href)
    if plain:  # a search page holds 120 of these: the pattern gives urlsplit's path without splitting
        m = _ANY_PID.search(plain.group(3))
        return (href, m.group("pid")) if m else None
    pid = external_id(href)
    return (canonical_url(href), pid) if pid else None


def _parse_static_search(tree, page_url: str | None, url: str | None) -> IndexPage:
    page_url = page_url or url
    if not page_url:
        raise ParseError(NAME, "search page", "no link[rel=canonical] and no --url")
    canadian = _is_canadian(page_url)
    items: list[ListingRef] = []
    # a row's link and price in one walk, its title (another div) in a second: on pages this small two walks
    # cost less than telling a row's divs apart in Python
    walked = pk.walk_rows(tree, _STATIC_ROW, {"a": "a", "div": "div.price"})
    titles = pk.walk_rows(tree, _STATIC_ROW, {"div": "div.title"}) if walked is not None else None
    if walked is None or titles is None:  # rows inside rows: each row queried on its own
        walked = [(li, {"a": li.css_first("a"), "div": li.css_first("div.price")}) for li in tree.css(_STATIC_ROW[1])]
        titles = [(li, {"div": li.css_first("div.title")}) for li, _ in walked]
    for (li, parts), (_, title_part) in zip(walked, titles):
        href = pk.absolute(pk.attr(parts.get("a"), "href"), page_url)
        link = _posting_link(href) if href else None
        if link is None:
            continue
        money = _price(pk.node_text(parts.get("div")), canadian)
        items.append(
            ListingRef(
                url=link[0],
                external_id=link[1],
                title=pk.node_text(title_part.get("div")) or clean_text(pk.attr(li, "title")),
                price=money[0] if money else None,
                currency=money[1] if money else None,
            )
        )
    next_url = pk.absolute(pk.link_rel(tree, "next") or pk.first_attr(tree, 'a[rel="next"]', "href"), page_url)
    page = parse_int(pk.query_param(page_url, "page")) or (1 if not pk.has_link_rel(tree, "prev") else None)
    return IndexPage(source=NAME, url=page_url, items=items, page=page, next_page_url=next_url)


def _parse_sapi(data: dict, url: str | None) -> IndexPage:
    decode = data.get("decode") if isinstance(data.get("decode"), dict) else {}
    min_id = pk.int_or_none(decode.get("minPostingId"))
    if min_id is None:
        raise ParseError(NAME, "sapi response", "data.decode.minPostingId")
    locations = decode.get("locations") if isinstance(decode.get("locations"), list) else []
    areas = data.get("areas") if isinstance(data.get("areas"), dict) else {}
    category = data.get("categoryAbbr") if isinstance(data.get("categoryAbbr"), str) else "cto"
    canonical = data.get("canonicalUrl")
    scheme = urlsplit(url).scheme if url else "https"
    page_url = f"{scheme}:{canonical}" if isinstance(canonical, str) and canonical.startswith("//") else canonical
    if not isinstance(page_url, str) or not page_url.startswith("http"):
        page_url = url
    if not page_url:
        raise ParseError(NAME, "sapi response", "no data.canonicalUrl and no --url")
    items: list[ListingRef] = []
    for item in data["items"]:
        ref = _sapi_item(item, min_id, locations, areas, category, url)
        if ref is not None:
            items.append(ref)
    if data["items"] and not items:
        raise ParseError(NAME, "sapi response", "no item decodes to a posting (id offset, slug tag, location)")
    return IndexPage(
        source=NAME,
        url=page_url,
        items=items,
        total_items=pk.int_or_none(data.get("totalResultCount")),
    )


def _sapi_item(item, min_id: int, locations: list, areas: dict, category: str, url: str | None) -> ListingRef | None:
    if not isinstance(item, list) or len(item) < 5:
        return None
    offset = pk.int_or_none(item[0])
    if offset is None:
        return None
    pid = min_id + offset
    slug = title = None
    for part in item[5:]:
        if isinstance(part, list) and len(part) >= 2 and part[0] == 6 and isinstance(part[1], str):
            slug = part[1]
    if isinstance(item[-1], str):
        title = clean_text(item[-1])
    loc = item[4] if isinstance(item[4], str) else ""
    loc_idx = pk.int_or_none(loc.split("~", 1)[0].split(":", 1)[0]) if loc else None
    area = subarea = area_id = None
    if loc_idx is not None and 0 < loc_idx < len(locations) and isinstance(locations[loc_idx], list):
        entry = locations[loc_idx]
        area_id = entry[0] if entry else None
        area = entry[1] if len(entry) > 1 and isinstance(entry[1], str) else None
        subarea = entry[2] if len(entry) > 2 and isinstance(entry[2], str) else None
    if not slug or not area:
        return None
    cat = _CATEGORY_IDS.get(pk.int_or_none(item[2]), category)
    path = f"/{subarea}/{cat}/d/{slug}/{pid}.html" if subarea else f"/{cat}/d/{slug}/{pid}.html"
    posting_url = f"https://{area}.craigslist.org{path}"
    price = pk.int_or_none(item[3])
    area_info = areas.get(str(area_id)) if isinstance(areas, dict) else None
    currency = area_info.get("currency") if isinstance(area_info, dict) else None
    if price is not None and price <= 0:
        price = None
    return ListingRef(
        url=posting_url,
        external_id=str(pid),
        title=title,
        price=price,
        currency=(currency or "USD") if price is not None else None,
    )


# ------------------------------------------------------------------------------------------------
_LENIENT_JSON = json.JSONDecoder(strict=False)


def _ld_posting(tree) -> dict | None:
    node = tree.css_first("script#ld_posting_data")
    if node is None:
        return None
    text = node.text(deep=True) or ""
    try:
        data = pk.loads(text)
    except ValueError:
        try:  # raw control characters inside strings: what json.loads(text, strict=False) accepts
            data = _LENIENT_JSON.decode(text)
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def _attributes(tree) -> dict[str, str]:
    """Attribute key → value text, from both posting layouts; keys use the 2024+ class names."""
    out: dict[str, str] = {}
    # each attribute's first value span from one walk of the page, not one query per attribute
    walked = pk.walk_rows(tree, ("div", "div.attrgroup div.attr"), {"span": "span.valu"})
    if walked is None:
        walked = [(div, {"span": div.css_first("span.valu")}) for div in tree.css("div.attrgroup div.attr")]
    for div, parts in walked:
        classes = (div.attrs.get("class") or "").split()
        if "important" in classes:
            year = pk.node_text(div.css_first("span.valu.year"))
            mm = pk.node_text(div.css_first("span.valu.makemodel"))
            if year:
                out.setdefault("year", year)
            if mm:
                out.setdefault("makemodel", mm)
            continue
        key = next((c for c in classes if c != "attr"), None)  # "important" is not among them
        if key is not None and key not in out:
            value = pk.node_text(parts.get("span"))
            if value:
                out[key] = value
    legacy_keys = {
        "vin": "auto_vin",
        "odometer": "auto_miles",
        "paint color": "auto_paint",
        "transmission": "auto_transmission",
        "drive": "auto_drivetrain",
        "type": "auto_bodytype",
        "cylinders": "auto_cylinders",
        "fuel": "auto_fuel_type",
        "title status": "auto_title_status",
        "condition": "condition",
    }
    # the legacy groups' walk (a descendant selector tried at every span) only where there are any
    walked = pk.walk_rows(tree, ("span", "p.attrgroup span"), {"b": "b"}) if tree.css_first("p.attrgroup") else []
    if walked is None:
        walked = [(span, {"b": span.css_first("b")}) for group in tree.css("p.attrgroup") for span in group.css("span")]
    for span, parts in walked:
        bold = parts.get("b")
        if bold is None:
            continue
        whole = pk.node_text(span) or ""
        value = pk.node_text(bold)
        if ":" in whole.split(value or "\x00", 1)[0]:
            label = whole.split(":", 1)[0].strip().lower()
            key = legacy_keys.get(label)
            if key and value:
                out.setdefault(key, value)
        elif value and "makemodel" not in out and re.match(r"^(18|19|20)\d\d\b", value):
            # the first bold span of a legacy car posting is "<year> <make model>"
            out.setdefault("year", value[:4])
            rest = clean_text(value[4:])
            if rest:
                out.setdefault("makemodel", rest)
    return out


_VEHICLE_ATTRS = ("year", "makemodel", "auto_vin", "auto_miles", "auto_transmission", "auto_bodytype")


def _title_parts(tree) -> list:
    """`tree.css("span.postingtitletext > span, span.postingtitletext > small")`: with one title (every posting
    has one), its span and small children in order, without the second walk of the page a child selector costs."""
    holders = tree.css("span.postingtitletext")
    if len(holders) != 1:
        return tree.css("span.postingtitletext > span, span.postingtitletext > small")
    return [child for child in holders[0].iter() if child.tag in ("span", "small")]


def _parse_posting(tree, page_url: str | None, url: str | None) -> VehicleListing:
    page_url = page_url or url
    category = None
    if page_url:
        m = _POSTING_PATH.search(urlsplit(page_url).path)
        category = m.group("cat") if m else None
    if category is not None and category not in VEHICLE_CATEGORIES:
        # before reading anything else: housing and jobs postings are most of what a metro lists
        raise pk.UnwantedPage(NAME, "posting", f"not a vehicle posting (category {category})")
    attrs = _attributes(tree)
    is_vehicle = any(k in attrs for k in _VEHICLE_ATTRS)
    if not is_vehicle:
        raise pk.UnwantedPage(NAME, "posting", "not a vehicle posting (no year/make/model, VIN or odometer attribute)")

    post_id = None
    for p in tree.css("p.postinginfo"):
        m = _POST_ID.search(pk.node_text(p) or "")
        if m:
            post_id = m.group(1)
            break
    post_id = post_id or (external_id(page_url) if page_url else None)
    if not post_id:
        raise ParseError(NAME, "posting", "post id (p.postinginfo 'post id: N' or a /<id>.html URL)")
    if not page_url:
        raise ParseError(NAME, "posting", "no link[rel=canonical] and no --url")

    canadian = _is_canadian(page_url) or _is_canadian(url)
    ld = _ld_posting(tree) or {}
    offers = ld.get("offers") if isinstance(ld.get("offers"), dict) else {}
    asking = currency = None
    if offers.get("price") not in (None, ""):
        money = parse_money(str(offers["price"]), default_currency="CAD" if canadian else "USD")
        if money:
            asking = money[0]
            cur = offers.get("priceCurrency")
            currency = cur if isinstance(cur, str) and _CODE.fullmatch(cur) else money[1]
    if asking is None:
        money = _price(pk.first_text(tree, "h1 span.price") or pk.first_text(tree, "span.price"), canadian)
        if money:
            asking, currency = money
    if asking is not None and asking <= 0:
        asking = currency = None

    title = pk.first_text(tree, "#titletextonly") or clean_text(ld.get("name") if isinstance(ld.get("name"), str) else None)
    year = pk.int_or_none(attrs.get("year"))
    make = model = trim = None
    if attrs.get("makemodel"):
        # "make model" is one free-text field: the make is its first word (or a known multi-word
        # make); where the model ends and a trim begins the page does not say, so it all stays model.
        _, make, model, trim = split_title(f"{year or 2000} {attrs['makemodel']}")
        if model and trim:
            model, trim = f"{model} {trim}", None
    elif title:
        y2, make, model, trim = split_title(title)
        year = year or y2
    vin = normalize_vin(attrs.get("auto_vin"))
    mileage = parse_int(attrs.get("auto_miles"))
    unit = ("km" if canadian else "mi") if mileage is not None else None

    location = None
    for span in _title_parts(tree):
        classes = pk.attr(span, "class") or ""
        if pk.attr(span, "id") == "titletextonly" or "price" in classes or "housing" in classes:
            continue
        t = pk.node_text(span)
        if t and t.startswith("(") and t.endswith(")"):
            location = clean_text(t[1:-1])
            break

    images = pk.image_urls(ld.get("image"), page_url)
    if not images:
        images = pk.image_urls([pk.attr(img, "src") for img in tree.css("div.gallery img, #thumbs img")], page_url)

    return VehicleListing(
        source=NAME,
        url=canonical_url(page_url),
        external_id=post_id,
        title=title,
        year=year,
        make=make,
        model=model,
        trim=trim,
        vin=vin,
        vin_state=vin_state(vin, year),
        mileage=mileage,
        mileage_unit=unit,
        outcome=None,
        asking_price=asking,
        currency=currency,
        location=location,
        exterior_color=attrs.get("auto_paint"),
        transmission=attrs.get("auto_transmission"),
        drivetrain=attrs.get("auto_drivetrain"),
        engine=attrs.get("auto_cylinders"),
        body_style=attrs.get("auto_bodytype"),
        images=images,
    )


def posted_at(content: bytes | str):
    """The posting's `posted:` time (UTC) from `time.date.timeago[datetime]` with its offset, or None."""
    tree = pk.html_tree(pk.to_text(content, NAME))
    node = tree.css_first("p.postinginfo.reveal time.date.timeago") or tree.css_first("time.date.timeago")
    value = pk.attr(node, "datetime")
    if not value:
        return None
    value = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", value)
    return parse_iso_utc(value)
