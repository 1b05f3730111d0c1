"""classic.com: seller discovery (dealers and auction houses), not a listing source.

There is no saved classic.com page in the corpus. SELECTORS.md §6 gives the URL patterns and says
directory rows are links to `/s/<slug>-<id>/`; the rest of the structure below is this parser's
definition. A page that does not match it is a ParseError naming what was missing.

Seller directory (`/dealers/…`, `/auction-houses/…`, `?page=N`)
    every seller row is the nearest `li` / `tr` / `article` / `[class*=row]` / `[class*=card]` around an
    `a[href^="/s/"]` (or an absolute `…/s/<slug>-<id>/`) link outside the site's chrome (`header`, `nav`,
    `footer`, `aside`: menus and "featured dealers" link other sellers); in the row: the seller name (the link
    text, or `.seller-name`), `.seller-location`, `.seller-listing-count` ("154 listings"),
    `.seller-type` ("Dealer" | "Auction House"; without it the directory path decides).
    Totals: `[data-total-results]` or `.results-count` ("1,234 dealers"); next page `a[rel=next]` /
    `link[rel=next]`; last page from the highest `page=N` link.
Seller profile (`/s/<slug>-<id>/`), every part read outside the site's chrome (a sidebar of other sellers
    has the same fields):
    `h1` (name), `.seller-type`, `.seller-location`, `.seller-listing-count`, the website link
    `a.seller-website[href]` (or an external link whose text is "Website"/"Visit website"), the
    inventory link `a.seller-inventory[href]` (else an external link on the website's host whose path
    looks like an inventory page). Parsed into a SellerDirectoryPage holding one seller (the
    `sellers` contract); `parse_seller()` returns the SellerRef itself.
Vehicle page (`/veh/<year-make-model>-<vin>-<shortid>`): the VIN comes from the URL; `h1` is the
    title. Parsed into a VehicleListing with what the URL and h1 give (no outcome: classic.com
    aggregates other sources' listings; their outcomes come from those sources).

Confidence of a seller as a usable dealer source, in [0, 1] (auto-enabled elsewhere at ≥ 0.70):
    website +0.3, inventory URL found +0.3, listing count > 0 +0.2, location +0.1, a dealer (not an
    auction house) +0.1, rounded to 2 places. An auction house is capped at 0.5: it is read through its
    own auction source and must never be auto-enabled as dealer inventory. So a directory row alone
    scores at most 0.4; a dealer profile with website, inventory link and location scores 0.8 (1.0 with
    listings); a dealer without a website or inventory link stays below 0.70.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from vehicle_pipeline.model import ParseError, SellerDirectoryPage, SellerKind, SellerRef, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import clean_text, normalize_vin, parse_int, split_title, vin_state

NAME = "classic"
DEFAULT_BASE_URL = "https://www.classic.com"
ALLOWED_HOSTS = ("www.classic.com", "classic.com")
is_auction = False

_SELLER_PATH = re.compile(r"^/s/(?P<slug>[a-z0-9][a-z0-9-]*?)-(?P<id>[A-Za-z0-9]{5,12})/?$")
_VEH_PATH = re.compile(r"^/veh/(?P<slug>[a-z0-9-]+?)-(?P<vin>[a-hj-npr-z0-9]{17})-(?P<id>[A-Za-z0-9]{5,12})/?$", re.I)
_DIR_PATH = re.compile(r"^/(?P<kind>dealers|auction-houses)(?:/|$)")
_INVENTORY_PATH = re.compile(r"/(inventory|used-inventory|new-inventory|vehicles|cars-for-sale|showroom|searchused\.aspx)(/|$|\?|\.)", re.I)

W_WEBSITE, W_INVENTORY, W_LISTINGS, W_LOCATION, W_DEALER = 0.3, 0.3, 0.2, 0.1, 0.1
AUCTION_HOUSE_CAP = 0.5  # below the 0.70 auto-enable threshold


def matches(url: str) -> bool:
    path = urlsplit(url).path
    return bool(_SELLER_PATH.search(path) or _VEH_PATH.search(path) or _DIR_PATH.search(path))


def external_id(url: str) -> str | None:
    path = urlsplit(url).path
    m = _SELLER_PATH.search(path) or _VEH_PATH.search(path)
    return m.group("id") if m else None


def vin_from_url(url: str) -> str | None:
    m = _VEH_PATH.search(urlsplit(url).path)
    return m.group("vin").upper() if m else None


def canonical_url(url: str) -> str:
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
    if _SELLER_PATH.search(parts.path) and not base.endswith("/"):
        base += "/"
    if _DIR_PATH.search(parts.path):
        page = pk.query_param(url, "page")
        return pk.with_query(base, page=page) if page and page != "1" else base
    return base


def index_url(base_url: str, kind: str = "dealer", page: int = 1, **_ignored) -> str:
    path = "/auction-houses/" if kind in ("auction_house", "auction-houses", "auction_houses") else "/dealers/"
    url = base_url.rstrip("/") + path
    return pk.with_query(url, page=page) if page and page > 1 else url


def score(website: str | None, inventory_url: str | None, listing_count: int | None, location: str | None, kind: SellerKind) -> float:
    """Confidence that a seller is a usable dealer source (weights in the module docstring)."""
    total = 0.0
    total += W_WEBSITE if website else 0.0
    total += W_INVENTORY if inventory_url else 0.0
    total += W_LISTINGS if listing_count and listing_count > 0 else 0.0
    total += W_LOCATION if location else 0.0
    total += W_DEALER if kind == SellerKind.DEALER else 0.0
    if kind == SellerKind.AUCTION_HOUSE:
        # Auction houses are read by their own source modules, never auto-enabled as dealer inventory.
        total = min(total, AUCTION_HOUSE_CAP)
    return round(min(total, 1.0), 2)


# ------------------------------------------------------------------------------------------------
@pk.guarded(NAME, "classic.com")
def parse(content: bytes | str, url: str | None = None, deep: bool = False) -> SellerDirectoryPage | VehicleListing:
    head, body = pk.read_page(content, NAME)
    if pk.looks_like_json(head):
        raise ParseError(NAME, "JSON", "classic.com directory and seller pages are HTML")
    tree = pk.Tree(body)
    page_url = pk.canonical_link(tree, url) or url
    if not page_url:
        raise ParseError(NAME, "page", "no link[rel=canonical] and no --url (the URL decides the page kind)")
    path = urlsplit(page_url).path
    if _SELLER_PATH.search(path):
        ref = _parse_profile(tree, page_url)
        return SellerDirectoryPage(source=NAME, url=canonical_url(page_url), sellers=[ref], total_items=1)
    if _VEH_PATH.search(path):
        return _parse_vehicle(tree, page_url)
    if _DIR_PATH.search(path):
        return _parse_directory(tree, page_url)
    raise ParseError(NAME, "page", f"URL {page_url} is not a /dealers/, /auction-houses/, /s/<seller>/ or /veh/ page")


def parse_seller(content: bytes | str, url: str | None = None) -> SellerRef:
    """The seller of a profile page `/s/<slug>-<id>/`."""
    page = parse(content, url=url)
    if not isinstance(page, SellerDirectoryPage) or len(page.sellers) != 1 or not _SELLER_PATH.search(urlsplit(page.url).path):
        raise ParseError(NAME, "seller page", "not a /s/<slug>-<id>/ seller profile")
    return page.sellers[0]


def _kind_from(text: str | None, default: SellerKind | None) -> SellerKind | None:
    t = (text or "").lower()
    if "auction" in t:
        return SellerKind.AUCTION_HOUSE
    if "dealer" in t:
        return SellerKind.DEALER
    return default


# Where a site keeps its own navigation and sidebars ("Featured dealers", menus of profiles): links to
# seller profiles in these are not rows of the directory, and a profile page's sidebar of other sellers
# carries the same fields (name, location, type, listing count) as the profile itself.
_CHROME = ("header", "nav", "footer", "aside")
_CONTENT_LINKS = "a[href]:not(" + ", ".join(f"{tag} a" for tag in _CHROME) + ")"


def _in_content(selector: str) -> str:
    """`selector` (one compound selector) restricted to elements outside the site's chrome."""
    return f"{selector}:not(" + ", ".join(f"{tag} *" for tag in _CHROME) + ")"


def _row_of(link):
    node = link.parent
    while node is not None and node.tag not in ("body", "html"):
        classes = (pk.attr(node, "class") or "").lower()
        if node.tag in ("li", "tr", "article") or "row" in classes or "card" in classes:
            return node
        node = node.parent
    return link


def _parse_directory(tree, page_url: str) -> SellerDirectoryPage:
    m = _DIR_PATH.search(urlsplit(page_url).path)
    default_kind = SellerKind.AUCTION_HOUSE if m and m.group("kind") == "auction-houses" else SellerKind.DEALER
    sellers: list[SellerRef] = []
    seen = set()
    for link in tree.css(_CONTENT_LINKS):
        href = pk.absolute(pk.attr(link, "href"), page_url)
        if not href or not _SELLER_PATH.search(urlsplit(href).path):
            continue
        row = _row_of(link)
        named = pk.absolute(pk.first_attr(row, "a.seller-name", "href"), page_url) if row is not link else None
        if named and _SELLER_PATH.search(urlsplit(named).path):
            href = named  # the name link is the row's profile link; an avatar link may differ
        profile = canonical_url(href)
        if profile in seen:
            continue
        name = pk.node_text(row.css_first(".seller-name")) or pk.node_text(link)
        if not name:
            continue  # an avatar link; the named link of the same row follows
        seen.add(profile)
        location = pk.node_text(row.css_first(".seller-location"))
        count = parse_int(pk.node_text(row.css_first(".seller-listing-count")))
        kind = _kind_from(pk.node_text(row.css_first(".seller-type")), default_kind)
        sellers.append(
            SellerRef(
                name=name,
                profile_url=profile,
                external_id=external_id(profile),
                kind=kind,
                location=location,
                listing_count=count,
                confidence=score(None, None, count, location, kind),
            )
        )
    if not sellers:
        raise ParseError(NAME, "directory page", 'no seller rows (links to /s/<slug>-<id>/)')
    total = None
    holder = tree.css_first("[data-total-results]")
    if holder is not None:
        total = pk.int_or_none(pk.attr(holder, "data-total-results"))
    if total is None:
        total = parse_int(pk.first_text(tree, ".results-count"))
    page_param = pk.query_param(page_url, "page")
    page = int(page_param) if page_param and page_param.isdigit() else 1
    next_url = pk.absolute(
        pk.first_attr(tree, 'a[rel="next"]', "href") or pk.link_rel(tree, "next"), page_url
    )
    pages = [page]
    for a in tree.css("a[href*='page=']"):
        n = pk.query_param(pk.absolute(pk.attr(a, "href"), page_url), "page")
        if n and n.isdigit():
            pages.append(int(n))
    return SellerDirectoryPage(
        source=NAME,
        url=canonical_url(page_url),
        sellers=sellers,
        total_items=total,
        page=page,
        pages_total=max(pages),
        next_page_url=canonical_url(next_url) if next_url else None,
    )


def _content_first(tree, selector: str):
    return tree.css_first(_in_content(selector))


def _content_text(tree, selector: str) -> str | None:
    return pk.node_text(_content_first(tree, selector))


def _external_links(tree, page_url: str):
    own = (urlsplit(page_url).hostname or "").lower()
    for a in tree.css(_CONTENT_LINKS):  # menus, social links and footers are the site's, not the seller's
        href = pk.absolute(pk.attr(a, "href"), page_url)
        if not href or urlsplit(href).scheme not in ("http", "https"):
            continue
        host = (urlsplit(href).hostname or "").lower()
        if host == own:  # a link within classic.com's own site is not the seller's
            continue
        yield a, href


def _parse_profile(tree, page_url: str) -> SellerRef:
    name = _content_text(tree, "h1.seller-name") or _content_text(tree, "h1")
    if not name:
        raise ParseError(NAME, "seller page", "h1 (seller name)")
    kind = _kind_from(_content_text(tree, ".seller-type"), None)
    if kind is None:
        raise ParseError(NAME, "seller page", ".seller-type (Dealer / Auction House)")
    location = _content_text(tree, ".seller-location")
    count = parse_int(_content_text(tree, ".seller-listing-count"))
    website = pk.absolute(pk.attr(_content_first(tree, "a.seller-website"), "href"), page_url)
    inventory = pk.absolute(pk.attr(_content_first(tree, "a.seller-inventory"), "href"), page_url)
    if website is None or inventory is None:
        for a, href in _external_links(tree, page_url):
            label = (pk.node_text(a) or "").lower()
            if website is None and "website" in label:
                website = href
            if inventory is None and _INVENTORY_PATH.search(urlsplit(href).path):
                if website is None or urlsplit(href).hostname == urlsplit(website).hostname:
                    inventory = href
    profile = canonical_url(page_url)
    return SellerRef(
        name=name,
        profile_url=profile,
        external_id=external_id(profile),
        kind=kind,
        website=website,
        inventory_url=inventory,
        location=location,
        listing_count=count,
        confidence=score(website, inventory, count, location, kind),
    )


def _parse_vehicle(tree, page_url: str) -> VehicleListing:
    title = pk.first_text(tree, "h1")
    if not title:
        raise ParseError(NAME, "vehicle page", "h1 (vehicle title)")
    vin = normalize_vin(vin_from_url(page_url))
    year, make, model, trim = split_title(title)
    return VehicleListing(
        source=NAME,
        url=canonical_url(page_url),
        external_id=external_id(page_url),
        title=clean_text(title),
        year=year,
        make=make,
        model=model,
        trim=trim,
        vin=vin,
        vin_state=vin_state(vin, year),
    )
