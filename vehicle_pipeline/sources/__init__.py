"""One module per source: URL rules, index parsing and listing parsing. Pure functions only.

Every source module exposes the same surface (see `SourceModule`):

    NAME: str                       registry name ("bat", "carsandbids", ...)
    DEFAULT_BASE_URL: str           the real site's base URL
    ALLOWED_HOSTS: tuple[str, ...]  hosts the pipeline may fetch for this source
    is_auction: bool                auction sources get deep extraction
    matches(url) -> bool            does this URL belong to the source (by path shape + host)
    external_id(url) -> str | None  the source's id for a listing URL
    canonical_url(url) -> str       the URL without tracking query/fragment, normalized
    index_url(base_url, **params) -> str      first index/results page to walk
    parse(content, url=None, deep=False) -> VehicleListing | IndexPage | SellerDirectoryPage
                                    detects the page kind from content; raises model.ParseError

URLs are the real sites' URLs: ids are read from the path as the site shapes it (from its root), and which
hosts belong to a source is its ALLOWED_HOSTS, written in the project's one host syntax (vehicle_pipeline.hosts).
The sample site answers at the same host names, so nothing here knows it exists.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from pathlib import Path
from types import ModuleType
from typing import Protocol
from urllib.parse import urlsplit

from vehicle_pipeline import hosts
from vehicle_pipeline.model import IndexPage, ParseError, SellerDirectoryPage, VehicleListing

SOURCE_NAMES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")
AUCTION_SOURCES = ("bat", "carsandbids", "mecum", "broadarrow")


class SourceModule(Protocol):
    NAME: str
    DEFAULT_BASE_URL: str
    ALLOWED_HOSTS: tuple[str, ...]
    is_auction: bool

    def matches(self, url: str) -> bool: ...
    def external_id(self, url: str) -> str | None: ...
    def canonical_url(self, url: str) -> str: ...
    def index_url(self, base_url: str, **params) -> str: ...
    def parse(
        self, content: bytes | str, url: str | None = None, deep: bool = False
    ) -> VehicleListing | IndexPage | SellerDirectoryPage: ...


@functools.cache
def parser_build() -> str:
    """A fingerprint of the parsing code (this package and the model its records go through): a parse made by
    another build is not trusted as this build's, so a parser fix deployed while work carrying parses is
    queued takes effect on that work too."""
    package = Path(__file__).parent
    return code_fingerprint(sorted(package.glob("*.py")) + [package.parent / "model.py"])


def code_fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        body = path.read_bytes()
        digest.update(f"{path.name}\0{len(body)}\0".encode() + body)
    return digest.hexdigest()[:16]


def family(name: str) -> str:
    """The site a source belongs to: "dealer:<slug>" and "craigslist:<metro>" are sources of one family each."""
    return name.split(":", 1)[0]


def get(name: str) -> ModuleType:
    """The module of a source. Dealer sources are named `dealer:<slug>` and share one module."""
    base = family(name)
    if base not in SOURCE_NAMES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCE_NAMES)}")
    return importlib.import_module(f"vehicle_pipeline.sources.{base}")


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """`host` falls under a host list (the project's one rule and syntax: `vehicle_pipeline.hosts`)."""
    return hosts.host_allowed(host, allowed)


def for_url(url: str, base_urls: dict[str, str] | None = None) -> ModuleType:
    """The module for a URL: configured base URLs (longest prefix) first, then each module's own rules."""
    if base_urls:
        for name, base in sorted(base_urls.items(), key=lambda kv: -len(kv[1])):
            if url.startswith(base.rstrip("/") + "/") or url == base:
                return get(name)
    host = (urlsplit(url).hostname or "").lower()
    for name in SOURCE_NAMES:
        module = get(name)
        if host_allowed(host, module.ALLOWED_HOSTS) and module.matches(url):
            return module
    raise KeyError(f"no source recognizes {url}")


__all__ = ["SOURCE_NAMES", "AUCTION_SOURCES", "SourceModule", "get", "for_url", "host_allowed", "ParseError"]
