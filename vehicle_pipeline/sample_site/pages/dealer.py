"""Dealer websites, one per sample dealer, below `/<dealer-slug>/` of the dealer prefix.

Each dealer imitates a platform (world.DEALERS[].platform):
- "ddc" (Dealer.com): VDP `/used/<Make>/<year>-<Make>-<Model>-<hash>.htm`, JSON-LD `@type: ["Car"]` whose offer
  has no price; the price is in the DOM (`.final-price .price-value`).
- "dealercenter" (DWS/WordPress): VDP `/inventory/<make>/<model>/<stock>/`, `script#dws-vdp-schema`
  AutoDealer.makesOffer, og/product price meta and a Yoast `@graph` with an unrendered template.
- "dealeron": VDP `/used-<City>-<year>-<Make>-<Model>-<stock>`, JSON-LD `@type: "Vehicle"`; its SRP has
  data-* cards and no ItemList.
- anything else: VDP `/inventory/<slug>/`, JSON-LD `@graph` with a Car and a priced offer.
SRP (all): `/<slug>/inventory/?page=N`, 12 per page, JSON-LD ItemList (numberOfItems = whole stock),
`link[rel=next|prev]`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, ld, money, page_number, paginate, stable
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext
from vehicle_pipeline.sources.fields import normalize_vin

SOURCE = "dealer"
PER_PAGE = 12


def _dealer(slug: str | None):
    try:
        from vehicle_pipeline.sample_site.world import DEALERS
    except ImportError:
        DEALERS = ()
    for d in DEALERS:
        if d.slug == slug:
            return d
    return None


def _platform(listing: SampleListing) -> str:
    d = _dealer(listing.dealer)
    return d.platform if d else "generic"


def _seg(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def listing_path(listing: SampleListing) -> str:
    car, stock = listing.car, listing.external_id
    p = _platform(listing)
    if p == "ddc":
        return f"/{listing.dealer}/used/{_seg(car.make)}/{car.year}-{_seg(car.make)}-{_seg(car.model)}-{stable(stock, 16**8):08x}.htm"
    if p == "dealercenter":
        return f"/{listing.dealer}/inventory/{_seg(car.make).lower()}/{_seg(car.model).lower()}/{stock.lower()}/"
    if p == "dealeron":
        d = _dealer(listing.dealer)
        city = _seg((d.location if d else "City").split(",")[0])
        return f"/{listing.dealer}/used-{city}-{car.year}-{_seg(car.make)}-{_seg(car.model)}-{stock}"
    return f"/{listing.dealer}/inventory/{listing.slug or stock.lower()}/"


def _name(listing: SampleListing) -> str:
    return f"Used {listing.title}" if _platform(listing) == "ddc" else listing.title


def _price(listing: SampleListing) -> int | None:
    return listing.asking_price if listing.asking_price and listing.asking_price > 0 else None


def _address(listing: SampleListing) -> dict:
    d = _dealer(listing.dealer)
    loc = d.location if d else listing.car.location
    city, _, rest = loc.partition(",")
    region, _, postal = rest.strip().partition(" ")
    out = {"@type": "PostalAddress", "addressLocality": city.strip()}
    if region:
        out["addressRegion"] = region
    if postal:
        out["postalCode"] = postal
    return out


def _seller(listing: SampleListing) -> dict:
    d = _dealer(listing.dealer)
    return {"@type": "AutoDealer", "name": d.name if d else listing.seller, "address": _address(listing),
            "telephone": d.phone if d else None}


def _trim(listing: SampleListing) -> str | None:
    car = listing.car
    head = f"{car.year} {car.make} {car.model} "
    if not listing.title.lower().startswith(head.lower()):
        return None
    return listing.title[len(head):].strip() or None


def listing_truth(listing: SampleListing, ctx: SiteContext) -> dict:
    car = listing.car
    vin = normalize_vin(car.vin)
    price = _price(listing)
    addr = _address(listing)
    location = ", ".join(p for p in (addr.get("addressLocality"), addr.get("addressRegion")) if p) or None
    return {
        "kind": "listing", "source": SOURCE, "url": ctx.url(SOURCE, listing_path(listing)),
        "external_id": urlsplit(ctx.url(SOURCE, listing_path(listing))).path.rstrip("/"), "title": _name(listing), "year": car.year, "make": car.make,
        "model": car.model, "trim": _trim(listing), "vin": vin, "vin_state": car.vin_state if vin else None,
        "mileage": car.mileage, "mileage_unit": car.mileage_unit, "outcome": None, "sale_price": None,
        "high_bid": None, "asking_price": price, "currency": listing.currency if price is not None else None,
        "bid_count": None, "comment_count": None, "view_count": None, "watcher_count": None, "ended_at": None,
        "seller": _seller(listing)["name"], "buyer": None, "location": location, "lot_number": None,
        "no_reserve": None, "exterior_color": car.exterior_color, "interior_color": car.interior_color,
        "transmission": car.transmission, "drivetrain": car.drivetrain, "engine": car.engine,
        "body_style": car.body_style, "images": img_urls(listing, ctx),
    }


def _car_node(listing: SampleListing, ctx: SiteContext, types, with_price: bool) -> dict:
    car = listing.car
    offer = {"@type": "Offer", "priceCurrency": listing.currency, "availability": "https://schema.org/InStock",
             "url": ctx.url(SOURCE, listing_path(listing)), "seller": _seller(listing)}
    if with_price and _price(listing) is not None:
        offer["price"] = _price(listing)
    node = {"@type": types, "name": _name(listing), "url": ctx.url(SOURCE, listing_path(listing)), "offers": offer,
            "sku": listing.external_id, "vehicleModelDate": car.year, "brand": {"@type": "Brand", "name": car.make},
            "model": car.model, "image": img_urls(listing, ctx), "color": car.exterior_color,
            "vehicleInteriorColor": car.interior_color,
            "mileageFromOdometer": {"@type": "QuantitativeValue", "value": car.mileage,
                                    "unitCode": "KMT" if car.mileage_unit == "km" else "SMI"},
            "vehicleTransmission": car.transmission, "driveWheelConfiguration": car.drivetrain,
            "vehicleEngine": car.engine, "bodyType": car.body_style, "itemCondition": "http://schema.org/UsedCondition",
            "description": listing.description}
    if car.vin:
        node["vehicleIdentificationNumber"] = car.vin
    return node


def render_listing(listing: SampleListing, ctx: SiteContext) -> Rendered:
    p = _platform(listing)
    url = ctx.url(SOURCE, listing_path(listing))
    imgs = img_urls(listing, ctx)
    d = _dealer(listing.dealer)
    dname = d.name if d else (listing.seller or "Dealer")
    price = _price(listing)
    head = [f'<link rel="canonical" href="{esc(url)}">', f'<meta property="og:url" content="{esc(url)}">']
    body = ""
    if p == "ddc":
        head.append('<meta name="providerID" content="DDC" />')
        head.append(f'<script type="application/ld+json">{ld({"@context": "https://schema.org/", **_car_node(listing, ctx, ["Car"], False)})}</script>')
        price_dd = f'<dd class="final-price"><span class="price-value">{esc(money(price))}</span></dd>' if price is not None else '<dd class="final-price"><span class="price-value">Call for price</span></dd>'
        body = f'<div class="pricing-detail"><dl><dt>Price</dt>{price_dd}</dl></div><div class="similar-vehicles"><span class="price-value">$9,999</span></div>'
    elif p == "dealercenter":
        item = _car_node(listing, ctx, "Car", False)
        item.pop("offers")
        offer = {"@type": "Offer", "itemOffered": item}
        if price is not None:
            offer["priceSpecification"] = {"@type": "UnitPriceSpecification", "priceCurrency": listing.currency, "price": price}
        schema = {"@context": "http://schema.org/", "@type": "AutoDealer", "name": dname, "address": _address(listing),
                  "url": ctx.url(SOURCE, f"/{listing.dealer}/"), "makesOffer": offer}
        yoast = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": "{{Year}} {{Make}} {{Model}}"},
                 {"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Home"}]}]}
        head.append(f'<meta property="og:type" content="product"><meta property="product:retailer_item_id" content="{esc(listing.external_id)}">')
        if price is not None:
            head.append(f'<meta property="og:price:currency" content="{esc(listing.currency)}"><meta property="og:price:amount" content="{price}.00">'
                        f'<meta property="product:price:currency" content="{esc(listing.currency)}"><meta property="product:price:amount" content="{price}.00">')
        head.append(f'<script type="application/ld+json" class="yoast-schema-graph">{ld(yoast)}</script>')
        head.append(f'<script type="application/ld+json" id="dws-vdp-schema">{ld(schema)}</script>')
    elif p == "dealeron":
        head.append(f'<script type="application/ld+json">{ld({"@context": "https://schema.org", **_car_node(listing, ctx, "Vehicle", True)})}</script>')
    else:
        graph = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": listing.title}, _car_node(listing, ctx, "Car", True)]}
        head.append(f'<script type="application/ld+json">{ld(graph)}</script>')
    gallery = "".join(f'<img src="{esc(u)}" alt="">' for u in imgs)
    html = f"""<!DOCTYPE html>
<html lang="en-US" class="vdp {'ddc-site' if p == 'ddc' else ''}"><head><meta charset="UTF-8">
<title>{esc(_name(listing))} for sale | {esc(dname)}</title>
{''.join(head)}
</head><body><h1>{esc(_name(listing))}</h1>{body}<div class="gallery">{gallery}</div>
<p class="description">{esc(listing.description)}</p></body></html>"""
    return html_page(html)


# ------------------------------------------------------------------------------------------------
def index_paths(listings: list[SampleListing] | None = None) -> list[str]:
    slugs = sorted({l.dealer for l in listings or [] if l.dealer})
    if not slugs:
        try:
            from vehicle_pipeline.sample_site.world import DEALERS

            slugs = [d.slug for d in DEALERS]
        except ImportError:
            slugs = []
    return [f"/{s}/inventory/" for s in slugs]


def _slug_of_index(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    return parts[0] if len(parts) == 2 and parts[1] == "inventory" else None


def _srp_url(ctx: SiteContext, slug: str, page: int) -> str:
    return ctx.url(SOURCE, f"/{slug}/inventory/") + (f"?page={page}" if page > 1 else "")


def render_index(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> Rendered | None:
    slug = _slug_of_index(path)
    if slug is None:
        return None
    stock = [l for l in listings if l.dealer == slug]
    page = page_number(query) or 1
    chunk, pages = paginate(stock, page, PER_PAGE)
    d = _dealer(slug)
    links = ""
    if page > 1:
        links += f'<link rel="prev" href="{esc(_srp_url(ctx, slug, page - 1))}">'
    if page < pages:
        links += f'<link rel="next" href="{esc(_srp_url(ctx, slug, page + 1))}">'
    cards = []
    for l in chunk:
        car = l.car
        price = _price(l)
        cards.append(
            f'<div class="vehicle-card" data-vin="{esc(car.vin or "")}" data-stock="{esc(l.external_id)}" data-year="{car.year}" '
            f'data-make="{esc(car.make)}" data-model="{esc(car.model)}" data-trim="{esc(car.trim or "")}" '
            f'data-price="{price if price is not None else ""}" data-mileage="{car.mileage}">'
            f'<a class="vehicle-card__title" href="{esc(ctx.url(SOURCE, listing_path(l)))}">{esc(l.title)}</a>'
            f'<span class="price">{esc(money(price) if price else "Call for price")}</span></div>'
        )
    ld_list = ""
    if not (d and d.platform == "dealeron"):
        elements = []
        for i, l in enumerate(chunk, start=(page - 1) * PER_PAGE + 1):
            item = {"@type": "Car", "name": _name(l), "sku": l.external_id}
            if l.car.vin:
                item["vehicleIdentificationNumber"] = l.car.vin
            if _price(l) is not None:
                item["offers"] = {"@type": "Offer", "price": _price(l), "priceCurrency": l.currency}
            elements.append({"@type": "ListItem", "position": i, "url": ctx.url(SOURCE, listing_path(l)), "item": item})
        ld_list = f'<script type="application/ld+json">{ld({"@context": "https://schema.org", "@type": "ItemList", "numberOfItems": len(stock), "itemListElement": elements})}</script>'
    empty = '<p class="no-results">No vehicles match.</p>' if not chunk else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Inventory | {esc(d.name if d else slug)}</title>
<link rel="canonical" href="{esc(_srp_url(ctx, slug, page))}">{links}{ld_list}
<script type="application/ld+json">{ld({"@context": "https://schema.org", "@type": "AutoDealer", "name": d.name if d else slug})}</script>
</head><body><div id="srp-results">{''.join(cards)}{empty}</div></body></html>"""
    return html_page(html)


def index_truth(path: str, query: dict[str, str], listings: list[SampleListing], ctx: SiteContext) -> dict | None:
    slug = _slug_of_index(path)
    if slug is None:
        return None
    stock = [l for l in listings if l.dealer == slug]
    page = page_number(query) or 1
    chunk, pages = paginate(stock, page, PER_PAGE)
    d = _dealer(slug)
    dealeron = bool(d and d.platform == "dealeron")
    items = []
    for l in chunk:
        car = l.car
        title = " ".join(p for p in (str(car.year), car.make, car.model, car.trim) if p) if dealeron else _name(l)
        items.append({"url": ctx.url(SOURCE, listing_path(l)),
                      "external_id": urlsplit(ctx.url(SOURCE, listing_path(l))).path.rstrip("/"),
                      "title": title, "outcome": None, "price": _price(l), "ended_at": None, "no_reserve": None})
    total = None if dealeron else len(stock)
    next_url = _srp_url(ctx, slug, page + 1) if page < pages else None
    return {"kind": "index", "source": SOURCE, "url": _srp_url(ctx, slug, page), "total_items": total, "page": page,
            "pages_total": page if (total is not None and next_url is None) else None, "next_page_url": next_url,
            "items": items}
