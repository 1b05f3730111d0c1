"""Dealer websites, one per sample dealer, below `/<dealer-slug>/` of the dealer prefix.

Each dealer imitates a platform (`Dealer.platform`; a dealer is found by its slug in the roster, dealers.py):
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

import functools
import json
import re
from types import SimpleNamespace
from urllib.parse import urlsplit

from vehicle_pipeline.sample_site import truth
from vehicle_pipeline.sample_site.dealers import DEALERS, Dealer, find_dealer
from vehicle_pipeline.sample_site.pages import _chrome as ch
from vehicle_pipeline.sample_site.pages._others_kit import esc, html_page, img_urls, ld, money, page_number, paginate, stable
from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

SOURCE = "dealer"
PER_PAGE = 12


def _dealer(slug: str | None):
    # By slug in the roster: `listing_path` is given the listing only, and a slug names one dealer in every world.
    return find_dealer(slug)


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
    vin = truth.vin(car.vin)
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


# ---------------------------------------------------------------- page chrome
#
# Dealer sites are built on a few platforms; the two corpus VDP excerpts come from 91-97 KB pages (one
# Dealer.com, one DealerCenter). Per platform, shaped like what is known of it (SELECTORS.md §7): Dealer.com
# with its `window.DDC` data layer, widget markup and inline CSS (~160 KB); DealerCenter's WordPress with
# its emoji script, plugin styles and Yoast graph (~85 KB); DealerOn with a "recommended vehicles" strip of
# `data-vin` cards (~105 KB); a generic site whose VDP also lists similar vehicles as a JSON-LD ItemList
# (~95 KB). Every page has a header with inventory menus, the dealership's AutoDealer, WebSite and
# BreadcrumbList JSON-LD, other cars with prices ("similar vehicles"), a finance calculator, hours and a
# footer. Inventory pages add filter facets: ~100-190 KB with their 12 cards.

_SIZES = {"ddc": (60000, 30000, 40), "dealercenter": (26000, 9000, 16), "dealeron": (38000, 16000, 28), "generic": (30000, 12000, 24)}


def _other_card(car: dict, prefix: str, with_vin: bool) -> str:
    vin = "".join(ch.rng("vin", car["id"]).choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=17))
    data = f' data-vin="{vin}" data-year="{car["year"]}" data-make="{esc(car["make"])}" data-model="{esc(car["model"])}" data-price="{car["price"]}"' if with_vin else ""
    href = f"{prefix}/inventory/{ch.slug(car['title'])}-{car['id'] % 10000}/"
    return (f'<div class="vehicle-card vehicle-card--similar"{data}><a class="vehicle-card__image" href="{esc(href)}">'
            f'<img src="/_img/dealer/similar/{car["id"]}.jpg" alt="{esc(car["title"])}" loading="lazy"></a><div class="vehicle-card__body">'
            f'<a class="vehicle-card__title" href="{esc(href)}">{esc(car["title"])}</a><dl class="pricing"><dt>Price</dt>'
            f'<dd class="final-price"><span class="price-value">${car["price"]:,}</span></dd></dl>'
            f'<ul class="vehicle-card__specs"><li>{car["price"] % 97000:,} miles</li><li>{esc(car["model"])}</li></ul></div></div>')


@functools.cache
def _site(platform: str, slug: str) -> SimpleNamespace:
    r = ch.rng("dealer-site", platform, slug)
    d = _dealer(slug)
    name = d.name if d else slug
    prefix = f"/dealer/{slug}"
    css_size, js_size, menu_links = _SIZES.get(platform, _SIZES["generic"])
    head = (ch.meta_tags(r, ch.slug(name), None) + ch.tracking_tags(r, ch.slug(name))
            + f'<style id="{platform}-inline">{ch.css(r, css_size, platform)}</style>')
    if platform == "ddc":
        layer = {"dealership": {"name": name, "address": d.location if d else "", "phone": d.phone if d else ""},
                 "page": {"pageType": "VDP", "siteId": ch.ident(r, 10)},
                 "widgets": [{"id": ch.ident(r, 12), "type": ch.words(r, 2), "config": ch.words(r, 16)} for _ in range(90)]}
        head += ch.script(f"window.DDC = window.DDC || {{}}; window.DDC.dataLayer = {json.dumps(layer)};", id="ddc-datalayer")
    elif platform == "dealercenter":
        head += (ch.script("window._wpemojiSettings = " + json.dumps({"baseUrl": "https://s.w.org/images/core/emoji/15.0.3/72x72/",
                                                                         "ext": ".png", "source": {"concatemoji": f"{prefix}/wp-includes/js/wp-emoji-release.min.js"}})
                           + ";" + ch.js(r, 4500), type="text/javascript")
                 + "".join(f'<link rel="stylesheet" id="{ch.ident(r, 8)}-css" href="{prefix}/wp-content/plugins/{ch.ident(r, 9)}/style.css?ver=6.{r.randint(1, 9)}" media="all">'
                           for _ in range(14)))
    head += ch.ld_script(ch.website_ld(name, f"{prefix}/"))
    dealer_ld = {"@context": "https://schema.org", "@type": "AutoDealer", "name": name, "telephone": d.phone if d else None,
                 "url": f"{prefix}/", "openingHours": ["Mo-Fr 09:00-19:00", "Sa 09:00-17:00"],
                 "address": {"@type": "PostalAddress", "streetAddress": f"{r.randint(100, 9999)} {ch.title_words(r, 2)} St"}}
    header = (f'<header class="site-header"><div class="top-bar"><span class="phone">Sales: {esc(d.phone if d else "")}</span>'
              f'<span class="address">{esc(d.location if d else "")}</span><a href="{prefix}/hours/">Hours &amp; Directions</a></div>'
              f'<nav class="main-nav"><a class="dealer-logo" href="{prefix}/"><img src="/_img/dealer/{slug}/logo.png" alt="{esc(name)}"></a>'
              f'{ch.menu(r, prefix, "nav-menu", 6, menu_links)}</nav></header>')
    hours = "".join(f"<tr><th>{day}</th><td>9:00 AM - {r.choice(('6:00', '7:00', '8:00'))} PM</td></tr>"
                    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"))
    calculator = ('<form class="payment-calculator"><h3>Estimate your payment</h3>'
                  + "".join(f'<label>{w}<input type="number" name="{ch.slug(w)}" value="{r.randint(0, 100)}"></label>'
                            for w in ("Vehicle price", "Down payment", "Trade-in value", "Interest rate", "Term (months)"))
                  + f'<output class="payment">$0/mo</output><p class="disclaimer">{ch.sentence(r, 30, 50)}</p></form>')
    facets = ch.checkbox_facets(r, 8, (8, 24), "facet", 40)

    def similar(i: int) -> str:
        sr = ch.rng("dealer-similar", platform, slug, i)
        cards = "".join(_other_card(c, prefix, platform == "dealeron") for c in ch.other_cars(sr, 12))
        title = "Recommended Vehicles" if platform == "dealeron" else "Similar Vehicles"
        return f'<section class="similar-vehicles"><h2>{title}</h2><div class="carousel">{cards}</div></section>'

    def similar_ld(i: int) -> list:
        sr = ch.rng("dealer-similar", platform, slug, i)
        return [{"@type": "ListItem", "position": n, "url": f"{prefix}/inventory/{ch.slug(c['title'])}-{c['id'] % 10000}/",
                 "item": {"@type": "Car", "name": c["title"], "offers": {"@type": "Offer", "price": c["price"], "priceCurrency": "USD"}}}
                for n, c in enumerate(ch.other_cars(sr, 12), 1)]

    def options(i: int) -> str:
        orr = ch.rng("dealer-options", platform, slug, i)
        return ('<section class="vehicle-options"><h2>Features &amp; Options</h2><ul class="options-list">'
                + "".join(f"<li>{ch.title_words(orr, orr.randint(2, 4))}</li>" for _ in range(orr.randint(40, 90)))
                + f'</ul></section><section class="vehicle-comments"><h2>Dealer Comments</h2>{ch.paragraphs(orr, 5, 3, 6)}</section>')

    return SimpleNamespace(
        head=head, header=header, dealer_ld=ch.ld_script(dealer_ld), calculator=calculator,
        footer=(f'<div class="dealer-hours"><table>{hours}</table></div>' + ch.footer(r, prefix, name, 4, 10) + ch.cookie_banner(r)),
        tail=ch.script(ch.js(r, js_size), type="text/javascript") + ch.external_scripts(r, (f"cdn.{platform}.example",), 12),
        similar=ch.Pool(8, similar), similar_ld=ch.Pool(8, similar_ld), options=ch.Pool(8, options),
        facets=f'<aside class="srp-filters"><form action="{prefix}/inventory/">{facets}</form></aside>',
        featured=similar(99),
    )


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
    site = _site(p, listing.dealer or "")
    key = listing.external_id
    if p == "generic":
        # the similar vehicles again, as the platform's schema plugin lists them
        head.append(ch.ld_script({"@context": "https://schema.org", "@type": "ItemList", "name": "Similar Vehicles",
                                  "itemListElement": site.similar_ld.pick(key)}))
    crumbs = ch.breadcrumb_ld([("Home", ctx.url(SOURCE, f"/{listing.dealer}/")), ("Inventory", ctx.url(SOURCE, f"/{listing.dealer}/inventory/")),
                               (_name(listing), url)])
    gallery = "".join(f'<img src="{esc(u)}" alt="">' for u in imgs)
    html = f"""<!DOCTYPE html>
<html lang="en-US" class="vdp {'ddc-site' if p == 'ddc' else ''}"><head><meta charset="UTF-8">
<title>{esc(_name(listing))} for sale | {esc(dname)}</title>
{''.join(head)}
{site.head}{site.dealer_ld}{ch.ld_script(crumbs)}
</head><body>{site.header}<main class="vdp-main"><h1>{esc(_name(listing))}</h1>{body}<div class="gallery">{gallery}</div>
<p class="description">{esc(listing.description)}</p>{site.options.pick(key)}{site.calculator}{site.similar.pick(key)}</main>
{site.footer}{site.tail}</body></html>"""
    return html_page(html)


# ------------------------------------------------------------------------------------------------
def index_paths(listings: list[SampleListing] | None = None, dealers: tuple[Dealer, ...] = DEALERS) -> list[str]:
    """The inventory pages of the dealers with visible stock; of every dealer of the world (`dealers`) while
    none has any."""
    slugs = sorted({l.dealer for l in listings or [] if l.dealer}) or [d.slug for d in dealers]
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
    platform = d.platform if d else "generic"
    site = _site(platform, slug)
    # a featured strip of other cars above the results, except on DealerOn, whose results are data-vin cards too
    featured = site.featured if platform != "dealeron" else ""
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Inventory | {esc(d.name if d else slug)}</title>
<link rel="canonical" href="{esc(_srp_url(ctx, slug, page))}">{links}{ld_list}
<script type="application/ld+json">{ld({"@context": "https://schema.org", "@type": "AutoDealer", "name": d.name if d else slug})}</script>
{site.head}</head><body>{site.header}<main class="srp-main">{featured}{site.facets}<div class="srp-toolbar"><span class="srp-count">{len(stock)} vehicles</span>
<select name="sort"><option>Price: low to high</option><option>Price: high to low</option><option>Mileage</option><option>Year</option></select></div>
<div id="srp-results">{''.join(cards)}{empty}</div></main>{site.calculator}{site.footer}{site.tail}</body></html>"""
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
                      "title": title, "outcome": None, "price": _price(l), "ended_at": None, "no_reserve": None}
                     # DealerOn's data-vin cards also state the VIN, stock number and odometer
                     | ({"vin": truth.vin(car.vin), "stock_number": l.external_id, "mileage": car.mileage,
                         "mileage_unit": "mi"} if dealeron else {}))
    total = None if dealeron else len(stock)
    next_url = _srp_url(ctx, slug, page + 1) if page < pages else None
    return {"kind": "index", "source": SOURCE, "url": _srp_url(ctx, slug, page), "total_items": total, "page": page,
            "pages_total": page if (total is not None and next_url is None) else None, "next_page_url": next_url,
            "items": items}
