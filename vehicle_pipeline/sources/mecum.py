"""Mecum Auctions: lot pages (Next.js `__NEXT_DATA__`) and the Algolia `mecum_lots` search response.

No real Mecum page is in the corpus; this parser keys on the structure SELECTORS.md §3 describes and
fails with a ParseError naming the missing piece when a page does not have it.

Lot page (`/lots/<id>/<slug>/`, older `/lots/FL0125-550602/<slug>/`)
    `<script id="__NEXT_DATA__" type="application/json">` → `props.pageProps.post` with
    `title, vinSerial, lotNumber, hammerPrice, currentBid, saleResults.edges[0].node.slug ("sold" |
    "not-sold" | "withdrawn"), lowEstimate, highEstimate, odometer, odometerUnits ("M" | "K"), color,
    interior, transmission, lotYears/lotMakes/lotModels.edges[0].node.name, auctionsTax.edges[0].node
    {auctionId, name}, runDates.edges[0].node.slug ("2024-01-13"), collectionsTax, images[]`, plus the
    WordPress GraphQL identity keys `link` (absolute permalink), `uri`, `slug`, `databaseId`.

Outcome (decided from `saleResults` and the price keys only, evidence in `outcome_evidence`):
    sold + hammerPrice        → sold, sale_price = high_bid = hammerPrice
    sold, no hammerPrice      → sold, sale_price unknown (None)
    not-sold + currentBid > 0 → bid_to, high_bid = currentBid, no sale_price
    not-sold, no bid          → no_sale
    withdrawn                 → withdrawn
    no result, has a run date → live (the lot is on a docket and not yet hammered; a pure parser has
                                no clock, so "upcoming" and "on the block" are both live)
    no result, no run date    → unknown
    any other result slug     → unknown
`ended_at` stays None: Mecum gives the run *date* only, without a time or zone.
The lot page is read without a DOM: nothing outside `__NEXT_DATA__` is read, so the script is found in the text
(`_next_data`) and its JSON decoded (`_pagekit.loads`); decoding ~150 KB of it is nearly all of a lot's parse.
`no_reserve` is True only when `collectionsTax` names a "No Reserve" collection, else None.

Algolia search response (the site's search is client-side; `GET {algolia}/1/indexes/mecum_lots?…`)
    `{"hits": [...], "nbHits", "page" (0-based), "nbPages", "hitsPerPage", "params"}`. Hit keys read:
    `objectID`, `title`, `permalink` (or `url`; absolute or site-relative), `lotNumber`, `hammerPrice`,
    `currentBid`, `saleResult` ("sold" | "not-sold" | "withdrawn" | absent), `runDate` ("YYYY-MM-DD"),
    `noReserve` (bool). The reported `page` is 1-based.
For the real site, pass the Algolia DSN host as `base_url` to `index_url` (the HTTP client adds the
application id/key headers); the sample site serves the same response shape at www.mecum.com.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from vehicle_pipeline.model import IndexPage, ListingRef, Outcome, ParseError, VehicleListing
from vehicle_pipeline.sources import _pagekit as pk
from vehicle_pipeline.sources.fields import clean_text, parse_money, vin_state

NAME = "mecum"
DEFAULT_BASE_URL = "https://www.mecum.com"
ALLOWED_HOSTS = ("www.mecum.com", "mecum.com")
is_auction = True
ALGOLIA_INDEX = "mecum_lots"

_LOT_PATH = re.compile(r"^/lots/(?P<id>[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)/(?P<slug>[^/?#]+)/?")
# `<script id="__NEXT_DATA__">…</script>` (or to the end of a cut page). The body is found by searching
# for its end tag, not by a lazy `.*?` that tries the end tag at every character of a 100 KB JSON body.
_NEXT_DATA_OPEN = re.compile(r"<script[^>]*\bid=[\"']__NEXT_DATA__[\"'][^>]*>", re.S | re.I)
_SCRIPT_END = re.compile(r"</script>", re.S | re.I)


# The script's name anywhere (any case; '_' has none): a literal-prefix search, unlike the open tag's.
_NEXT_DATA_NAME = re.compile(r"__(?i:NEXT_DATA__)")


def _next_data(text: str) -> str | None:
    r"""The body of the first __NEXT_DATA__ script: the same text as
    `<script[^>]*\bid=["']__NEXT_DATA__["'][^>]*>(?P<body>.*?)(?:</script>|\Z)` (re.S | re.I) finds.

    Both halves of that regex try every character of a 200 KB page. The open tag holds the name
    "__next_data__" (any case) and no ">" before its own end, so no match starts before the last ">"
    ahead of the name's first occurrence; the end tag is looked for only where a "<" is.
    """
    name = _NEXT_DATA_NAME.search(text)
    if name is None:
        return None
    m = _NEXT_DATA_OPEN.search(text, text.rfind(">", 0, name.start()) + 1)
    if not m:
        return None
    end = _script_end(text, m.end())
    return text[m.end() : end if end >= 0 else len(text)]


def _script_end(text: str, start: int) -> int:
    """`_SCRIPT_END.search(text, start).start()`, or -1: each "<" is tried (`str.find` of one character
    skips the rest of a JSON body at memory speed), the regex itself after many of them."""
    i = text.find("<", start)
    for _ in range(64):
        if i < 0:
            return -1
        piece = text[i : i + 9]
        if (piece.lower() == "</script>") if piece.isascii() else _SCRIPT_END.match(piece) is not None:
            return i
        i = text.find("<", i + 1)
    if i < 0:
        return -1
    m = _SCRIPT_END.search(text, i)
    return m.start() if m else -1


def matches(url: str) -> bool:
    return bool(_LOT_PATH.search(urlsplit(url).path)) or f"/indexes/{ALGOLIA_INDEX}" in urlsplit(url).path


def external_id(url: str) -> str | None:
    m = _LOT_PATH.search(urlsplit(url).path)
    return m.group("id") if m else None


def canonical_url(url: str) -> str:
    parts = urlsplit(url)
    m = _LOT_PATH.search(parts.path)
    if not m:
        return pk.strip_query(url)
    return f"{parts.scheme}://{parts.netloc.lower()}/lots/{m.group('id')}/{m.group('slug')}/"


def index_url(base_url: str, page: int = 1, hits_per_page: int = 50, query: str = "", **_ignored) -> str:
    """The Algolia query for lots, page 1-based here (Algolia's own numbering is 0-based)."""
    return pk.with_query(
        f"{base_url.rstrip('/')}/1/indexes/{ALGOLIA_INDEX}",
        query=query,
        page=max(page, 1) - 1,
        hitsPerPage=hits_per_page,
    )


@pk.guarded(NAME, "Mecum")
def parse(content: bytes | str, url: str | None = None, deep: bool = False) -> VehicleListing | IndexPage:
    head, text = pk.read_text(content, NAME)
    if pk.looks_like_json(head):
        data = pk.load_json(text, NAME, "search response")
        if isinstance(data, dict) and isinstance(data.get("hits"), list):
            return _parse_algolia(data, url)
        if isinstance(data, dict) and isinstance(data.get("results"), list) and data["results"]:
            # multi-query response: the first result is the lots query
            first = data["results"][0]
            if isinstance(first, dict) and isinstance(first.get("hits"), list):
                return _parse_algolia(first, url)
        raise ParseError(NAME, "JSON", "no Algolia `hits` array (expected a mecum_lots query response)")
    next_data = _next_data(text)
    if next_data is None:
        raise ParseError(NAME, "page", "no script#__NEXT_DATA__ (not a Mecum lot page)")
    try:
        data = pk.loads(next_data)
    except ValueError:
        raise ParseError(NAME, "lot page", "script#__NEXT_DATA__ is not valid JSON") from None
    post = _dig(data, "props", "pageProps", "post")
    if not isinstance(post, dict):
        if isinstance(_dig(data, "props", "pageProps"), dict):
            raise ParseError(
                NAME,
                "page",
                "__NEXT_DATA__ has no props.pageProps.post (search pages are rendered from Algolia; "
                "parse the mecum_lots query JSON instead)",
            )
        raise ParseError(NAME, "lot page", "__NEXT_DATA__ has no props.pageProps.post")
    return _parse_post(post, url)


def _dig(data, *keys):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _edge_nodes(value) -> list[dict]:
    edges = value.get("edges") if isinstance(value, dict) else value if isinstance(value, list) else None
    out = []
    for edge in edges or []:
        node = edge.get("node") if isinstance(edge, dict) and "node" in edge else edge
        if isinstance(node, dict):
            out.append(node)
    return out


def _first_node(post: dict, key: str, field: str) -> str | None:
    for node in _edge_nodes(post.get(key)):
        value = node.get(field)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return clean_text(str(value))
    return None


def _money(value) -> int | None:
    """A price key: number or string; zero or negative means "no price" on Mecum."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        amount = pk.int_or_none(value)
    else:
        parsed = parse_money(str(value))
        amount = parsed[0] if parsed else None
    return amount if amount and amount > 0 else None


def decide_outcome(result_slug: str | None, hammer: int | None, current_bid: int | None, has_run_date: bool):
    """(outcome, sale_price, high_bid, evidence) from the lot's result slug and price keys."""
    slug = (result_slug or "").strip().lower()
    if slug == "sold":
        return Outcome.SOLD, hammer, hammer or current_bid, "saleResults:sold"
    if slug in ("not-sold", "not_sold", "notsold", "no-sale"):
        if current_bid:
            return Outcome.BID_TO, None, current_bid, "saleResults:not-sold+currentBid"
        return Outcome.NO_SALE, None, None, "saleResults:not-sold"
    if slug == "withdrawn":
        return Outcome.WITHDRAWN, None, current_bid, "saleResults:withdrawn"
    if slug:
        return Outcome.UNKNOWN, None, current_bid, f"saleResults:{slug}"
    if has_run_date:
        return Outcome.LIVE, None, current_bid, "saleResults:absent+runDates"
    return Outcome.UNKNOWN, None, current_bid, "saleResults:absent"


def _is_no_reserve(post: dict) -> bool | None:
    for node in _edge_nodes(post.get("collectionsTax")):
        label = " ".join(str(node.get(k) or "") for k in ("slug", "name")).lower().replace("-", " ")
        if "no reserve" in label:
            return True
    return None


def _post_url(post: dict, url: str | None) -> str | None:
    link = post.get("link")
    if isinstance(link, str) and _LOT_PATH.search(urlsplit(link).path):
        return canonical_url(pk.absolute(link, url or DEFAULT_BASE_URL))
    uri = post.get("uri")
    if isinstance(uri, str) and _LOT_PATH.search(uri):
        return canonical_url(pk.absolute(uri, url or DEFAULT_BASE_URL))
    if url:
        return canonical_url(url)
    ident, slug = post.get("databaseId") or post.get("id"), post.get("slug")
    if isinstance(ident, (int, str)) and isinstance(slug, str) and slug:
        return f"{DEFAULT_BASE_URL}/lots/{ident}/{slug}/"
    return None


def _images(post: dict, base: str) -> list[str]:
    raw = post.get("images")
    if isinstance(raw, dict):
        raw = [n for n in _edge_nodes(raw)]
    out = []
    for item in pk.as_list(raw):
        if isinstance(item, dict):
            item = item.get("url") or item.get("sourceUrl") or item.get("src")
        for u in pk.image_urls(item, base):
            if u not in out:
                out.append(u)
    return out


def _parse_post(post: dict, url: str | None) -> VehicleListing:
    title = clean_text(post.get("title")) if isinstance(post.get("title"), str) else None
    if not title:
        raise ParseError(NAME, "lot page", "props.pageProps.post.title")
    page_url = _post_url(post, url)
    if not page_url:
        raise ParseError(NAME, "lot page", "no lot URL (post.link / post.uri) and no --url given")
    ext_id = external_id(page_url)
    if not ext_id:
        raise ParseError(NAME, "lot page", f"lot URL {page_url} has no /lots/<id>/ segment")

    year = pk.int_or_none(_first_node(post, "lotYears", "name"))
    make = _first_node(post, "lotMakes", "name")
    model = _first_node(post, "lotModels", "name")
    trim = None
    if year and make and model:
        head = f"{year} {make} {model}"
        if title.lower().startswith(head.lower() + " "):
            trim = clean_text(title[len(head):])

    hammer = _money(post.get("hammerPrice"))
    current = _money(post.get("currentBid"))
    run_date = _first_node(post, "runDates", "slug")
    result_nodes = _edge_nodes(post.get("saleResults"))
    result_slug = None
    if result_nodes:
        result_slug = clean_text(str(result_nodes[0].get("slug") or result_nodes[0].get("name") or "")) or None
    outcome, sale_price, high_bid, evidence = decide_outcome(result_slug, hammer, current, bool(run_date))

    odo = pk.int_or_none(post.get("odometer"))
    units = clean_text(str(post.get("odometerUnits") or "")) or ""
    unit = {"M": "mi", "K": "km"}.get(units.upper()[:1]) if odo is not None else None
    if unit is None:
        odo = None

    vin = clean_text(post.get("vinSerial")) if isinstance(post.get("vinSerial"), str) else None
    lot = post.get("lotNumber")
    lot = clean_text(str(lot)) if isinstance(lot, (str, int)) and not isinstance(lot, bool) else None

    def s(key):
        v = post.get(key)
        return clean_text(v) if isinstance(v, str) else None

    return VehicleListing(
        source=NAME,
        url=page_url,
        external_id=ext_id,
        title=title,
        year=year,
        make=make,
        model=model,
        trim=trim,
        vin=vin,
        vin_state=vin_state(vin, year),
        mileage=odo,
        mileage_unit=unit,
        outcome=outcome,
        sale_price=sale_price,
        high_bid=high_bid,
        currency="USD",
        lot_number=lot,
        no_reserve=_is_no_reserve(post),
        exterior_color=s("color"),
        interior_color=s("interior"),
        transmission=s("transmission"),
        engine=s("engine"),
        images=_images(post, page_url),
        outcome_evidence=evidence,
    )


def _parse_algolia(data: dict, url: str | None) -> IndexPage:
    page0 = pk.int_or_none(data.get("page"))
    nb_pages = pk.int_or_none(data.get("nbPages"))
    if url is None:
        params = data.get("params") if isinstance(data.get("params"), str) else ""
        url = f"{DEFAULT_BASE_URL}/1/indexes/{ALGOLIA_INDEX}" + (f"?{params}" if params else "")
    items = []
    for hit in data["hits"]:
        if not isinstance(hit, dict):
            continue
        ref = _hit_ref(hit, url)
        if ref is not None:
            items.append(ref)
    if data["hits"] and not items:
        raise ParseError(NAME, "search response", "no hit has a lot permalink/url with /lots/<id>/")
    next_url = None
    if page0 is not None and nb_pages is not None and page0 + 1 < nb_pages:
        next_url = pk.with_query(url, page=page0 + 1)
    return IndexPage(
        source=NAME,
        url=url,
        items=items,
        total_items=pk.int_or_none(data.get("nbHits")),
        page=page0 + 1 if page0 is not None else None,
        pages_total=nb_pages,
        next_page_url=next_url,
    )


def _hit_ref(hit: dict, base: str) -> ListingRef | None:
    link = hit.get("permalink") or hit.get("url") or hit.get("link")
    if not isinstance(link, str):
        return None
    lot_url = pk.absolute(link, base)
    if not lot_url or not _LOT_PATH.search(urlsplit(lot_url).path):
        return None
    lot_url = canonical_url(lot_url)
    result = hit.get("saleResult")
    if isinstance(result, dict):
        result = result.get("slug")
    outcome, sale_price, high_bid, _ = decide_outcome(
        result if isinstance(result, str) else None,
        _money(hit.get("hammerPrice")),
        _money(hit.get("currentBid")),
        bool(hit.get("runDate")),
    )
    price = sale_price if outcome == Outcome.SOLD else high_bid if outcome in (Outcome.BID_TO, Outcome.LIVE) else None
    nr = hit.get("noReserve")
    return ListingRef(
        url=lot_url,
        external_id=external_id(lot_url) or str(hit.get("objectID")),
        title=clean_text(hit.get("title")) if isinstance(hit.get("title"), str) else None,
        outcome=outcome,
        price=price,
        currency="USD" if price is not None else None,
        no_reserve=True if nr is True else None,
    )
