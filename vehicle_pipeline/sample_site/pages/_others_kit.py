"""Helpers shared by the mecum, broadarrow, craigslist, dealer and classic renderers (no I/O)."""

from __future__ import annotations

import html
import json
import math
import zlib

from vehicle_pipeline.sample_site.spec import Rendered, SampleListing, SiteContext

_SYMBOL = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "$"}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def money(amount: int | None, currency: str = "USD") -> str:
    if amount is None:
        return ""
    sym = _SYMBOL.get(currency)
    return f"{sym}{amount:,}" if sym else f"{currency} {amount:,}"


def img_urls(listing: SampleListing, ctx: SiteContext) -> list[str]:
    """World images are site-relative (`/_img/…`)."""
    return [p if p.startswith("http") else ctx.base_url + p for p in listing.images]


def page_number(query: dict[str, str], key: str = "page", default: int = 1) -> int:
    try:
        return max(int(query.get(key, default)), 0)
    except (TypeError, ValueError):
        return default


def paginate(items: list, page: int, per_page: int) -> tuple[list, int]:
    pages = max(1, math.ceil(len(items) / per_page))
    return items[(page - 1) * per_page : page * per_page], pages


def stable(text: str, mod: int) -> int:
    """A deterministic small number from text (choices that must not depend on hash seeds)."""
    return zlib.crc32(text.encode()) % mod


def html_page(body: str) -> Rendered:
    return Rendered(body=body.encode("utf-8"))


def json_page(data) -> Rendered:
    return Rendered(body=json.dumps(data).encode("utf-8"), content_type="application/json; charset=utf-8")


def ld(data) -> str:
    """A JSON-LD script body; '</' is escaped so a value can never close the script element."""
    return json.dumps(data).replace("</", "<\\/")
