"""The generic structured-data reader: schema.org Vehicle / Car / Product (and kin) in JSON-LD, microdata
or RDFa, and OpenGraph product tags, as the `extruct` library reads them from any page.

It is the last resort of every source (`_pagekit.guarded` calls `last_resort` when a source's own parser
gives up on a page that is no bot challenge) and a helper of the dealer source. What it yields is marked
`fallback`: the page's markup drifted away from what the source's parser knows, and the health of each
source counts such parses. A fallback never decides an outcome: schema.org's `offers.price` on an auction
page is the final or current high bid whether or not the car sold (SELECTORS.md §1a.8, §2a), so on an
auction source it is a high bid with outcome "unknown", on any other an asking price, and never a
`sale_price` (the model refuses a fallback that says otherwise).

The schema.org helpers (`offer_price`, `odometer`, `text_value`) are shared with the dealer parser.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field

from vehicle_pipeline.model import IndexPage, ListingRef, Outcome, ParseError, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import (
    clean_text,
    normalize_vin,
    parse_int,
    parse_mileage,
    parse_money,
    split_title,
    vin_state,
)

VEHICLE_TYPES = frozenset({"Car", "Vehicle", "Motorcycle", "MotorizedBicycle", "BusOrCoach", "Product", "IndividualProduct"})
_LIST_TYPES = frozenset({"ItemList", "OfferCatalog"})
SYNTAXES = ("json-ld", "microdata", "rdfa", "opengraph")
_CODE = re.compile(r"[A-Z]{3}")
# Sources whose pages are auctions: a fallback there is a high bid of an outcome nobody decided.
_AUCTIONS = frozenset({"bat", "carsandbids", "mecum", "broadarrow"})


def offer_price(offers, default_currency: str | None = None) -> tuple[int | None, str | None]:
    for offer in pk.as_list(offers):
        if not isinstance(offer, dict):
            continue
        candidates = [(offer.get("price"), offer.get("priceCurrency"))]
        for spec in pk.as_list(offer.get("priceSpecification")):
            if isinstance(spec, dict):
                candidates.append((spec.get("price"), spec.get("priceCurrency") or offer.get("priceCurrency")))
        for price, cur in candidates:
            if price in (None, "") or isinstance(price, bool):
                continue
            money = parse_money(str(price), default_currency=cur if isinstance(cur, str) else (default_currency or "USD"))
            if money and money[0] > 0:
                currency = cur if isinstance(cur, str) and _CODE.fullmatch(cur) else money[1]
                return money[0], currency
    return None, None


def odometer(node: dict) -> tuple[int | None, str | None]:
    raw = node.get("mileageFromOdometer")
    if isinstance(raw, dict):
        value = raw.get("value")
        code = str(raw.get("unitCode") or raw.get("unitText") or "").strip().upper()
        amount = pk.int_or_none(value) if not isinstance(value, str) else parse_int(value)
        if amount is None:
            return None, None
        if code in ("SMI", "MI", "MILES", "MILE"):
            return amount, "mi"
        if code in ("KMT", "KM", "KILOMETERS"):
            return amount, "km"
        if isinstance(value, str):
            parsed = parse_mileage(value)
            if parsed and re.search(r"[a-z]", value, re.I):
                return parsed
        return amount, None  # a number without a unit: the unit stays unknown
    if isinstance(raw, str) and re.search(r"\d", raw):
        parsed = parse_mileage(raw)
        if parsed and re.search(r"(mi|km|mile|kilom)", raw, re.I):
            return parsed
        amount = parse_int(raw)
        return amount, None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return pk.int_or_none(raw), None
    return None, None


def text_value(value) -> str | None:
    if isinstance(value, str):
        v = value.strip()
        if v.startswith("http") and "schema.org" in v:
            v = v.rsplit("/", 1)[-1]  # e.g. https://schema.org/FourWheelDriveConfiguration
        return clean_text(v)
    if isinstance(value, dict):
        return pk.ld_name(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and value:
        return text_value(value[0])
    return None


# ------------------------------------------------------------------------------------------------
@dataclass
class Structured:
    """What a page states in structured data, every syntax folded into compact schema.org nodes."""

    vehicles: list[tuple[str, dict]] = field(default_factory=list)  # (syntax, node), JSON-LD first
    item_lists: list[tuple[str, dict]] = field(default_factory=list)
    og: dict[str, str] = field(default_factory=dict)  # OpenGraph/product tags: "og:title", "product:price:amount"
    canonical: str | None = None  # link[rel=canonical] (or og:url): the page's own URL


def read(content: bytes | str, url: str | None = None) -> Structured:
    """Every schema.org vehicle or product node and item list of the page, and its OpenGraph tags. A syntax
    extruct cannot read on this page is skipped (sites ship broken markup)."""
    import extruct  # imported on first use: rdflib and lxml cost ~0.3 s to import, and parses that succeed never need them

    text = pk.to_text(content, "structured")
    data = extruct.extract(text, base_url=url, syntaxes=list(SYNTAXES), uniform=True, errors="ignore")
    out = Structured(canonical=pk.canonical_link(pk.Tree(text), url))
    for syntax in ("json-ld", "microdata", "rdfa"):
        items = data.get(syntax) or []
        nodes = _compact_rdfa(items) if syntax == "rdfa" else [n for item in items for n in pk.flatten_ld(item)]
        for node in nodes:
            _collect(out, syntax, node)
    for tags in data.get("opengraph") or []:
        if isinstance(tags, dict):
            for key, value in tags.items():
                if isinstance(value, str) and not key.startswith("@"):
                    out.og.setdefault(key, value.strip())
            kind = tags.get("@type")
            if isinstance(kind, str):
                out.og.setdefault("og:type", kind)
    return out


def _collect(out: Structured, syntax: str, node) -> None:
    if not isinstance(node, dict):
        return
    types = pk.ld_types(node)
    if types & _LIST_TYPES and isinstance(node.get("itemListElement"), list):
        out.item_lists.append((syntax, node))
    elif types & VEHICLE_TYPES:
        out.vehicles.append((syntax, node))
    for offer in pk.as_list(node.get("makesOffer")):  # AutoDealer → makesOffer → itemOffered
        if isinstance(offer, dict) and isinstance(offer.get("itemOffered"), dict):
            item = dict(offer["itemOffered"])
            item.setdefault("offers", {k: v for k, v in offer.items() if k != "itemOffered"})
            if pk.ld_types(item) & VEHICLE_TYPES:
                out.vehicles.append((syntax, item))


def _compact_rdfa(items: list) -> list[dict]:
    """extruct's RDFa is expanded JSON-LD (full IRIs, `[{"@value": …}]`, blank-node references): the same nodes
    in the compact form JSON-LD and microdata take, references resolved (once: no cycles)."""
    by_id = {item.get("@id"): item for item in items if isinstance(item, dict)}
    referenced: set[str] = set()

    def local(iri: str) -> str:
        return re.split(r"[/#]", iri.rstrip("/#"))[-1]

    def compact(node: dict, depth: int = 0) -> dict:
        out: dict = {}
        types = [local(t) for t in pk.as_list(node.get("@type")) if isinstance(t, str)]
        if types:
            out["@type"] = types
        for key, values in node.items():
            if key.startswith("@") or not isinstance(values, list):
                continue
            folded = []
            for value in values:
                if isinstance(value, dict) and "@value" in value:
                    folded.append(value["@value"])
                elif isinstance(value, dict) and "@id" in value:
                    target = by_id.get(value["@id"])
                    if target is not None and depth < 4:
                        referenced.add(value["@id"])
                        folded.append(compact(target, depth + 1))
                    else:
                        folded.append(value["@id"])
            if folded:
                out[local(key)] = folded[0] if len(folded) == 1 else folded
        return out

    nodes = [(item.get("@id"), compact(item)) for item in items if isinstance(item, dict) and item.get("@type")]
    return [node for node_id, node in nodes if node_id not in referenced]


# ------------------------------------------------------------------------------------------------
def last_resort(source: str, content, url: str | None, deep: bool = False) -> VehicleListing | IndexPage | None:
    """A fallback parse of a page `source`'s parser could not read, or None when its structured data names no
    listing this source can identify. Never raises for what the page holds."""
    module = importlib.import_module(f"vehicle_pipeline.sources.{source}")
    try:
        found = read(content, url)
    except (ParseError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    auction = source in _AUCTIONS
    try:
        listing = vehicle_listing(source, module, found, url, auction=auction)
        if listing is not None:
            return listing
        return index_page(source, module, found, url)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return None


def _identity(module, *candidates: str | None) -> tuple[str, str] | None:
    """(canonical URL, external id) from the first candidate URL the source can identify a listing by."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            ext = module.external_id(candidate)
            if ext:
                return module.canonical_url(candidate), ext
    return None


def _main_vehicle(found: Structured, url: str | None) -> tuple[str, dict] | None:
    if not found.vehicles:
        return None
    for syntax, node in found.vehicles:
        if url and isinstance(node.get("url"), str) and node["url"].rstrip("/") == url.rstrip("/"):
            return syntax, node
    distinct = {(normalize_vin(text_value(n.get("vehicleIdentificationNumber")) or "") or text_value(n.get("name")))
                for _, n in found.vehicles}
    if len(distinct) > 1 and found.item_lists:
        return None  # many vehicles and a list of them: an inventory page, not one vehicle's
    for syntax, node in found.vehicles:
        if text_value(node.get("vehicleIdentificationNumber")):
            return syntax, node
    return found.vehicles[0]


def vehicle_listing(source: str, module, found: Structured, url: str | None, *, auction: bool) -> VehicleListing | None:
    chosen = _main_vehicle(found, url)
    og = found.og
    if chosen is None and og.get("og:type", "").lower() not in ("product", "product.item", "og:product"):
        return None
    syntax, node = chosen if chosen is not None else ("opengraph", {})
    identity = _identity(module, found.canonical, og.get("og:url"),
                         node.get("url") if isinstance(node.get("url"), str) else None, url)
    if identity is None:
        return None
    page_url, ext = identity
    name = text_value(node.get("name")) or clean_text(og.get("og:title"))
    year = pk.int_or_none(text_value(node.get("vehicleModelDate") or node.get("modelDate") or node.get("productionDate")))
    if year is not None and not 1885 <= year <= 2100:
        year = None
    make = text_value(node.get("brand")) or text_value(node.get("manufacturer")) or clean_text(og.get("product:brand"))
    model = text_value(node.get("model"))
    trim = None
    if name:
        y, mk, md, tr = split_title(name)
        if y and (year is None or y == year) and (make is None or (mk or "").lower() == make.lower()):
            year, make = y, make or mk
            if model is None:
                model, trim = md, tr
    price, currency = offer_price(node.get("offers"))
    if price is None:
        money = parse_money(og.get("product:price:amount") or og.get("og:price:amount") or "",
                            default_currency=og.get("product:price:currency") or og.get("og:price:currency") or "USD")
        if money and money[0] > 0:
            price, currency = money
    vin = normalize_vin(text_value(node.get("vehicleIdentificationNumber")) or "")
    mileage, unit = odometer(node)
    if not (name or vin or price is not None):
        return None
    images = pk.image_urls(node.get("image"), page_url) or pk.image_urls(og.get("og:image"), page_url)
    return VehicleListing(
        source=source, url=page_url, external_id=ext, title=name, year=year, make=make, model=model, trim=trim,
        vin=vin, vin_state=vin_state(vin, year), mileage=mileage, mileage_unit=unit,
        outcome=Outcome.UNKNOWN if auction else None,
        high_bid=price if auction else None, asking_price=None if auction else price,
        currency=currency if price is not None else None,
        exterior_color=text_value(node.get("color")) or clean_text(og.get("product:color")),
        interior_color=text_value(node.get("vehicleInteriorColor")),
        transmission=text_value(node.get("vehicleTransmission")),
        drivetrain=text_value(node.get("driveWheelConfiguration")),
        engine=text_value(node.get("vehicleEngine")), body_style=text_value(node.get("bodyType")),
        fuel=text_value(node.get("fuelType")), images=images,
        outcome_evidence=f"fallback:{syntax}", fallback=True,
    )


def index_page(source: str, module, found: Structured, url: str | None) -> IndexPage | None:
    """The listings a page's structured item list links to (those the source can identify); None when it
    links none."""
    page_url = found.canonical or url or og_url(found)
    if not page_url:
        return None
    refs: list[ListingRef] = []
    seen: set[str] = set()
    total = None
    for _, lst in found.item_lists:
        total = total if total is not None else pk.int_or_none(lst.get("numberOfItems"))
        for element in lst["itemListElement"]:
            if not isinstance(element, dict):
                continue
            item = element.get("item") if isinstance(element.get("item"), dict) else element
            href = element.get("url") if isinstance(element.get("url"), str) else item.get("url")
            if not isinstance(href, str) and isinstance(element.get("item"), str):
                href = element["item"]
            identity = _identity(module, pk.absolute(href, page_url) if isinstance(href, str) else None)
            if identity is None or identity[0] in seen:
                continue
            seen.add(identity[0])
            price, currency = offer_price(item.get("offers"))
            refs.append(ListingRef(url=identity[0], external_id=identity[1], title=text_value(item.get("name")),
                                   price=price, currency=currency if price is not None else None))
    if not refs:
        return None
    return IndexPage(source=source, url=page_url, items=refs, total_items=total, fallback=True)


def og_url(found: Structured) -> str | None:
    value = found.og.get("og:url")
    return value if value and value.startswith(("http://", "https://")) else None
