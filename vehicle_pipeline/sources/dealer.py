"""Generic dealer websites: vehicle detail pages (VDP) and inventory/search result pages (SRP).

Classifieds: `outcome` is None and the price is an `asking_price`.

Reading order for a VDP (SELECTORS.md §7):
1. schema.org JSON-LD: nodes whose `@type` (string or list, plain or inside `@graph` arrays) is Car,
   Vehicle, Product, Motorcycle…, or an AutoDealer/Organization whose `makesOffer.itemOffered` is one
   (DealerCenter `script#dws-vdp-schema`). Price from `offers.price`, `offers.priceSpecification.price`
   or the `makesOffer` offer. `mileageFromOdometer {value, unitCode SMI|KMT}`.
2. og/product meta: `og:price:amount` / `product:price:amount` (+ `…:currency`),
   `product:retailer_item_id` (stock), `product:brand`, `product:color`.
3. platform specifics: Dealer.com (`meta[name=providerID][content=DDC]`) shows its price in the DOM
   (`.final-price .price-value`) when the JSON-LD offer has none. A price of 0 means "call for price": None.
SRP: a JSON-LD ItemList of Car/Vehicle/Product (each ListItem with `url` or `item.url`), or
DealerOn-style cards carrying `data-vin`, `data-year`, `data-make`, `data-model`, `data-price`, … with a
link; next page from `link[rel=next]` / `a[rel=next]`; `ItemList.numberOfItems` is the total.

external_id: the listing's URL path. It is the one identity the inventory page, the vehicle page and every
fallback layer (JSON-LD, product meta, platform cards) share; the VIN identifies the car, not the listing.
ALLOWED_HOSTS is empty: every dealer's host is configuration (discovered through classic.com);
`matches()` looks at the path shape only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from vehicle_pipeline.model import IndexPage, ListingRef, ParseError, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources import dealer_cards
from vehicle_pipeline.sources.structured import VEHICLE_TYPES
from vehicle_pipeline.sources.structured import odometer as _mileage
from vehicle_pipeline.sources.structured import offer_price as _offer_price
from vehicle_pipeline.sources.structured import text_value as _text
from vehicle_pipeline.sources.fields import (
    clean_text,
    normalize_vin,
    parse_int,
    parse_mileage,
    parse_money,
    split_title,
    vin_state,
)

NAME = "dealer"
DEFAULT_BASE_URL = ""  # no single site: each dealer source is configured with its own base URL
ALLOWED_HOSTS: tuple[str, ...] = ()
is_auction = False

_SELLER_TYPES = frozenset({"AutoDealer", "AutomotiveBusiness", "Organization", "LocalBusiness", "AutoRental"})
_PATH_SHAPE = re.compile(
    r"/(inventory|used|new|certified|pre-owned|vehicle-details|vehicle|vehicles|vdp|cars-for-sale|"
    r"used-inventory|new-inventory|searchused\.aspx|searchnew\.aspx|showroom)(?:/|\.|$|-)",
    re.I,
)
_CONDITION_PREFIX = re.compile(r"^(?:(?:used|new|pre-owned|certified|certified pre-owned|cpo)\s+)+", re.I)


_CODE = re.compile(r"[A-Z]{3}")


def matches(url: str) -> bool:
    return bool(_PATH_SHAPE.search(urlsplit(url).path))


def external_id(url: str) -> str | None:
    path = urlsplit(url).path.rstrip("/")
    return path or None


def canonical_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"


def index_url(base_url: str, inventory_path: str = "/inventory/", page: int | None = None, **_ignored) -> str:
    url = base_url.rstrip("/") + "/" + inventory_path.lstrip("/")
    return pk.with_query(url, page=page) if page and page > 1 else url


# ------------------------------------------------------------------------------------------------
@pk.guarded(NAME, "dealer")
def parse(content: bytes | str, url: str | None = None, deep: bool = False) -> VehicleListing | IndexPage:
    head, body = pk.read_page(content, NAME)
    if pk.looks_like_json(head):
        raise ParseError(NAME, "JSON", "dealer sources are HTML pages (JSON-LD inside); a bare JSON body is not one")
    tree = pk.Tree(body)
    page_url = pk.canonical_link(tree, url) or url
    nodes = [n for block in pk.json_ld_blocks(tree) for n in pk.flatten_ld(block)]
    vehicles, offers_by_id = _vehicle_nodes(nodes)
    item_lists = [n for n in nodes if "ItemList" in pk.ld_types(n) and isinstance(n.get("itemListElement"), list)]

    if item_lists and not _is_single_vdp(vehicles, page_url):
        refs = _refs_from_item_lists(item_lists, page_url)
        if refs or not vehicles:
            # an empty ItemList is an inventory page with nothing in stock, not an unreadable page
            return _index(tree, page_url, refs, item_lists)
    distinct = _distinct(vehicles)
    if len(distinct) > 1 and not _is_single_vdp(distinct, page_url):
        refs = [r for r in (_ref_from_vehicle(v, None, page_url) for v in distinct) if r]
        if refs:
            return _index(tree, page_url, refs, [])
    if len(distinct) >= 1:
        chosen = _pick_vdp_vehicle(distinct, page_url)
        return _listing(tree, chosen, offers_by_id.get(id(chosen)), page_url)
    cards = tree.css("[data-vin]")
    if cards:
        refs = _refs_from_cards(cards, page_url)
        if refs:
            return _index(tree, page_url, refs, [])
    if pk.meta(tree, "product:retailer_item_id") or (pk.meta(tree, "og:type") or "").lower() == "product":
        return _listing(tree, {}, None, page_url)
    if page_url and not dealer_cards.looks_like_vehicle_page(page_url, _PATH_SHAPE):
        # platform inventory pages with no JSON-LD and no data-vin: cards found by their vehicle links
        refs = [r for r in (dealer_cards.card_ref(card, href, canonical_url)
                            for card, href in dealer_cards.cards(tree, page_url, _PATH_SHAPE)) if r is not None]
        if refs:
            return _index(tree, page_url, refs, [])
    raise ParseError(
        NAME,
        "page",
        "no schema.org Car/Vehicle/Product JSON-LD, no ItemList, no data-vin cards and no product meta",
    )


def _vehicle_nodes(nodes: list[dict]) -> tuple[list[dict], dict[int, dict]]:
    """Vehicle nodes at top level and inside makesOffer.itemOffered; the offer a seller wraps a vehicle in."""
    out: list[dict] = []
    wrapping: dict[int, dict] = {}
    for node in nodes:
        types = pk.ld_types(node)
        if types & VEHICLE_TYPES and not types & {"ItemList", "WebPage", "BreadcrumbList"}:
            out.append(node)
        if types & _SELLER_TYPES:
            for offer in pk.as_list(node.get("makesOffer")):
                if not isinstance(offer, dict):
                    continue
                item = offer.get("itemOffered")
                if isinstance(item, dict) and pk.ld_types(item) & VEHICLE_TYPES:
                    out.append(item)
                    wrapping[id(item)] = {"offer": offer, "seller": node}
    return out, wrapping


def _vin_of(node: dict) -> str | None:
    v = node.get("vehicleIdentificationNumber") or node.get("vin")
    return normalize_vin(v) if isinstance(v, str) else None


def _distinct(vehicles: list[dict]) -> list[dict]:
    seen, out = set(), []
    for v in vehicles:
        key = _vin_of(v) or (v.get("url") if isinstance(v.get("url"), str) else None) or id(v)
        if key in seen:
            continue
        seen.add(key)
        out.append(v)
    return out


def _same_page(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.path.rstrip("/") == pb.path.rstrip("/") and (not pa.netloc or not pb.netloc or pa.netloc == pb.netloc)


def _is_single_vdp(vehicles: list[dict], page_url: str | None) -> bool:
    """A VDP that also carries a list (similar vehicles) names itself: its vehicle's url is the page's."""
    return any(_same_page(v.get("url") if isinstance(v.get("url"), str) else None, page_url) for v in vehicles) or (
        len(_distinct(vehicles)) == 1 and not page_url
    )


def _pick_vdp_vehicle(vehicles: list[dict], page_url: str | None) -> dict:
    for v in vehicles:
        if _same_page(v.get("url") if isinstance(v.get("url"), str) else None, page_url):
            return v
    # prefer the most specific node: one with a VIN
    for v in vehicles:
        if _vin_of(v):
            return v
    return vehicles[0]


def _address(node) -> str | None:
    if not isinstance(node, dict):
        return None
    addr = node.get("address")
    if isinstance(addr, str):
        return clean_text(addr)
    if isinstance(addr, dict):
        parts = [clean_text(addr.get(k)) for k in ("addressLocality", "addressRegion") if isinstance(addr.get(k), str)]
        parts = [p for p in parts if p]
        return ", ".join(parts) or None
    return None


def _listing(tree, node: dict, wrap: dict | None, page_url: str | None) -> VehicleListing:
    node = node or {}
    name = _text(node.get("name"))
    vin = _vin_of(node)
    stock = _text(node.get("sku")) or _text(node.get("vehicleStockNumber")) or _text(node.get("productID"))
    year = pk.int_or_none(node.get("vehicleModelDate") or node.get("modelDate") or node.get("productionDate"))
    if year is not None and not (1885 <= year <= 2100):
        year = None
    make = _text(node.get("brand")) or _text(node.get("manufacturer"))
    model = _text(node.get("model"))
    price, currency = _offer_price(node.get("offers"))
    seller_node = None
    for offer in pk.as_list(node.get("offers")):
        if isinstance(offer, dict) and isinstance(offer.get("seller"), dict):
            seller_node = offer["seller"]
    if wrap is not None:
        if price is None:
            price, currency = _offer_price(wrap["offer"])
        seller_node = seller_node or wrap["seller"]
    # og / product meta
    if price is None:
        for key in ("product:price:amount", "og:price:amount"):
            amount = pk.meta(tree, key)
            if amount:
                cur = pk.meta(tree, key.replace("amount", "currency"))
                money = parse_money(amount, default_currency=cur or "USD")
                if money and money[0] > 0:
                    price, currency = money[0], (cur if cur and _CODE.fullmatch(cur) else money[1])
                    break
    stock = stock or clean_text(pk.meta(tree, "product:retailer_item_id"))
    make = make or clean_text(pk.meta(tree, "product:brand"))
    exterior = _text(node.get("color")) or clean_text(pk.meta(tree, "product:color"))
    # Dealer.com keeps the price in the DOM when the JSON-LD offer has none
    if price is None and (pk.meta_attr(tree, "providerID") or "").upper() == "DDC":
        money = parse_money(pk.first_text(tree, ".final-price .price-value") or "", default_currency="USD")
        if money and money[0] > 0:
            price, currency = money
    if not name:
        name = clean_text(pk.meta(tree, "og:title")) or pk.first_text(tree, "h1")
    title = name
    trim = None
    if name and year and make and model:
        bare = _CONDITION_PREFIX.sub("", name)
        head = f"{year} {make} {model}"
        if bare.lower().startswith(head.lower() + " "):
            trim = clean_text(bare[len(head):])
    if name and (year is None or make is None or model is None):
        # Fill gaps from the name only where it agrees with what the structured data says.
        y, mk, md, tr = split_title(_CONDITION_PREFIX.sub("", name))
        if y and mk and (year is None or y == year) and (make is None or mk.lower() == make.lower()):
            year, make = y, make or mk
            if model is None:
                model, trim = md, tr
    if not (vin or stock or year or make):
        raise ParseError(NAME, "vehicle page", "no VIN, stock number, year or make in JSON-LD or product meta")
    url = page_url or (node.get("url") if isinstance(node.get("url"), str) else None)
    if not url:
        raise ParseError(NAME, "vehicle page", "no link[rel=canonical], og:url, JSON-LD url or --url")
    url = canonical_url(url)
    mileage, unit = _mileage(node)
    images = pk.image_urls(node.get("image"), url)
    if not images:
        images = pk.image_urls(pk.meta(tree, "og:image"), url)
    return VehicleListing(
        source=NAME,
        url=url,
        external_id=external_id(url),
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
        asking_price=price,
        currency=currency if price is not None else None,
        seller=_text(seller_node.get("name")) if isinstance(seller_node, dict) else None,
        location=_address(seller_node),
        exterior_color=exterior,
        interior_color=_text(node.get("vehicleInteriorColor")),
        transmission=_text(node.get("vehicleTransmission")),
        drivetrain=_text(node.get("driveWheelConfiguration")),
        engine=_text(node.get("vehicleEngine")),
        body_style=_text(node.get("bodyType")),
        images=images,
    )


# ------------------------------------------------------------------------------------------------
def _ref_from_vehicle(item: dict, list_url: str | None, page_url: str | None) -> ListingRef | None:
    href = list_url or (item.get("url") if isinstance(item.get("url"), str) else None)
    url = pk.absolute(href, page_url) if href else None
    if not url:
        return None
    url = canonical_url(url)
    price, _cur = _offer_price(item.get("offers"))
    return ListingRef(
        url=url,
        external_id=external_id(url),
        title=_text(item.get("name")),
        price=price,
        currency=_cur if price is not None else None,
    )


def _refs_from_item_lists(item_lists: list[dict], page_url: str | None) -> list[ListingRef]:
    refs: list[ListingRef] = []
    seen = set()
    for lst in item_lists:
        for element in lst["itemListElement"]:
            if not isinstance(element, dict):
                continue
            item = element.get("item") if isinstance(element.get("item"), dict) else None
            types = pk.ld_types(element)
            if item is None and types & VEHICLE_TYPES:
                item = element
            if item is None:
                item = {}
            elif not pk.ld_types(item) & VEHICLE_TYPES:
                continue
            list_url = element.get("url") if isinstance(element.get("url"), str) else None
            ref = _ref_from_vehicle(item, list_url if "ListItem" in types else None, page_url)
            if ref and ref.url not in seen:
                seen.add(ref.url)
                refs.append(ref)
    return refs


def _refs_from_cards(cards, page_url: str | None) -> list[ListingRef]:
    refs, seen = [], set()
    for card in cards:
        link = card.css_first("a[href]") if card.tag != "a" else card
        url = pk.absolute(pk.attr(card, "data-url") or pk.attr(link, "href"), page_url)
        if not url:
            continue
        url = canonical_url(url)
        if url in seen:
            continue
        seen.add(url)
        money = parse_money(pk.attr(card, "data-price") or "")
        price = money[0] if money and money[0] > 0 else None
        y, mk, md = pk.attr(card, "data-year"), pk.attr(card, "data-make"), pk.attr(card, "data-model")
        title = clean_text(" ".join(p for p in (y, mk, md, pk.attr(card, "data-trim")) if p)) or pk.node_text(link)
        mileage = parse_int(pk.attr(card, "data-mileage") or pk.attr(card, "data-odometer") or "")
        refs.append(
            ListingRef(
                url=url,
                external_id=external_id(url),
                title=title,
                price=price,
                currency="USD" if price is not None else None,
                mileage=mileage,
                mileage_unit="mi" if mileage is not None else None,
                vin=normalize_vin(pk.attr(card, "data-vin") or ""),
                stock_number=clean_text(pk.attr(card, "data-stock") or pk.attr(card, "data-stocknum")),
            )
        )
    return refs


def _index(tree, page_url: str | None, refs: list[ListingRef], item_lists: list[dict]) -> IndexPage:
    if not page_url:
        raise ParseError(NAME, "inventory page", "no link[rel=canonical] and no --url")
    total = None
    for lst in item_lists:
        n = pk.int_or_none(lst.get("numberOfItems"))
        if n is not None:
            total = n
            break
    next_url = pk.absolute(pk.link_rel(tree, "next") or pk.first_attr(tree, 'a[rel="next"]', "href"), page_url)
    page = pages_total = None
    if total is None or next_url is None:
        # what the page's text and links say ("Page 1 of 4 (87 vehicles)", page_no= links): read only when the
        # list and its rel=next link leave the total or the next page open
        page, pages_total, stated_total, stated_next = dealer_cards.pagination(tree, page_url)
        total = total if total is not None else stated_total
        next_url = next_url or stated_next
    if page is None:
        page_param = pk.query_param(page_url, "page")
        if page_param and page_param.isdigit():
            page = int(page_param)
        else:
            page = 1 if not (pk.has_link_rel(tree, "prev") or tree.css_first('a[rel="prev"]')) else None
    if pages_total is None and total is not None and page is not None and next_url is None:
        pages_total = page
    return IndexPage(
        source=NAME,
        url=page_url,
        items=refs,
        total_items=total,
        page=page,
        pages_total=pages_total,
        next_page_url=next_url,
    )
