"""Page renderers of the sample site, one module per source (see `sample_site/spec.py` for the surface).

Renderers are imported lazily by the server: a source whose module does not exist yet is answered
with 501, so the site runs while renderers are still being written.

Optional extras a renderer may define besides the required surface:
    render_path(path, query, listings, ctx) -> Rendered | None   other endpoints (APIs, detail JSON)
    sellers_truth(listings, ctx) -> list[dict]                     classic: the seller contract dicts
    index_paths(listings) may take the visible listings when its entry points depend on them (the dealer
        renderer also takes `dealers=`, the world's dealers).
The world's dealers reach the renderers as `ctx.dealers` (classic.com's directory lists every one); a renderer
given only a listing finds its dealer by slug (`dealers.find_dealer`).
The `listings` given to the classic renderer are the visible listings of every source (it derives the
seller directory from dealers and auction houses); every other renderer gets only its own source's.
"""

from __future__ import annotations

import importlib
from types import ModuleType

RENDERED_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")


class RendererMissing(LookupError):
    """No renderer module for a source yet."""


def load(source: str) -> ModuleType:
    """The renderer module of a source; RendererMissing when it does not exist (yet)."""
    if source not in RENDERED_SOURCES:
        raise RendererMissing(f"no sample-site renderer for unknown source {source!r}")
    name = f"{__name__}.{source}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise RendererMissing(f"renderer module {name} does not exist yet") from None
        raise
