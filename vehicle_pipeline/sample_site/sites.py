"""Where each source lives on the stand-in: the real sites' host names, and the renderers' path space.

Renderers (pages/*.py) write a page's path below its source ("/listing/<slug>/"; Craigslist below the metro,
"/sacramento/search/cto"; a dealer below its slug, "/sunset-classics/inventory/"). `SiteMap.url` turns such a
path into the URL the real site would use (https://sacramento.craigslist.org/search/cto), and `route` maps a
request's host back to the source and the prefix its paths are read under. Pure: no I/O.

Hosts, by site (the server gives each site one loopback address of its own):
    bat          bringatrailer.com (www.bringatrailer.com redirects there)
    carsandbids  carsandbids.com, media.carsandbids.com (photos; www. redirects)
    mecum        www.mecum.com (mecum.com redirects)
    broadarrow   www.broadarrowauctions.com (broadarrowauctions.com redirects)
    classic      www.classic.com (classic.com redirects)
    craigslist   <metro>.craigslist.org per metro, www./sapi./images.craigslist.org
    dealer:<s>   www.<s>.example (a reserved top-level domain: a sample dealer that leaks into a real
                 configuration resolves nowhere)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEME = "https"

# source -> (canonical host, hosts that redirect to it, other hosts of the same site)
_FIXED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "bat": ("bringatrailer.com", ("www.bringatrailer.com",), ()),
    "carsandbids": ("carsandbids.com", ("www.carsandbids.com",), ("media.carsandbids.com",)),
    "mecum": ("www.mecum.com", ("mecum.com",), ()),
    "broadarrow": ("www.broadarrowauctions.com", ("broadarrowauctions.com",), ()),
    "classic": ("www.classic.com", ("classic.com",), ()),
    "craigslist": ("www.craigslist.org", ("craigslist.org",), ("sapi.craigslist.org", "images.craigslist.org")),
}
# The host each source's images are served from (the real sites' photo hosts).
_ASSET_HOST = {"carsandbids": "media.carsandbids.com", "craigslist": "images.craigslist.org"}
_CRAIGSLIST = ".craigslist.org"
_CRAIGSLIST_OWN = frozenset({"www", "sapi", "images", "accounts", "post", "forums"})
_DEALER_PREFIX, _DEALER_SUFFIX = "www.", ".example"


@dataclass(frozen=True)
class Route:
    """What answers at one host: `source`, the renderer-path prefix of that host ("/sacramento", "/<dealer>"
    or ""), and `redirect_to`, the canonical host when this one only redirects there."""

    source: str
    prefix: str = ""
    redirect_to: str | None = None
    group: str = ""  # the site this host belongs to ("bat", "craigslist", "dealer:<slug>"): one address each


def metro_host(metro: str) -> str:
    return f"{metro}{_CRAIGSLIST}"


def dealer_host(slug: str) -> str:
    return f"{_DEALER_PREFIX}{slug}{_DEALER_SUFFIX}"


class SiteMap:
    """Renderer paths <-> URLs at the real host names."""

    def origin(self, source: str, key: str | None = None) -> str:
        """The site root of a source; `key` is the metro (craigslist) or the dealer slug (dealer)."""
        if source == "craigslist" and key:
            return f"{SCHEME}://{metro_host(key)}"
        if source == "dealer":
            if not key:
                raise ValueError("a dealer's origin needs its slug")
            return f"{SCHEME}://{dealer_host(key)}"
        return f"{SCHEME}://{_FIXED[source][0]}"

    def asset_origin(self, source: str, key: str | None = None) -> str:
        """Where a source's images are served (for a dealer, its own site)."""
        host = _ASSET_HOST.get(source)
        return f"{SCHEME}://{host}" if host else self.origin(source, key if source == "dealer" else None)

    def url(self, source: str, path: str) -> str:
        """The absolute URL of a renderer path: "/sacramento/search/cto" of craigslist is
        https://sacramento.craigslist.org/search/cto; "/x/inventory/" of dealer is https://www.x.example/inventory/."""
        if not path.startswith("/"):
            path = "/" + path
        if source in ("craigslist", "dealer"):
            head, sep, rest = path[1:].partition("/")
            query_split = head.partition("?")
            if source == "dealer" or (head and query_split[0] == head and head not in _CRAIGSLIST_OWN):
                if not head:
                    raise ValueError(f"a {source} path starts with the {'dealer slug' if source == 'dealer' else 'metro'}: {path!r}")
                return self.origin(source, head) + "/" + rest if sep else self.origin(source, head) + "/"
        return self.origin(source) + path

    def route(self, host: str) -> Route | None:
        """The source answering at `host`, or None for a host the stand-in does not serve."""
        host = (host or "").lower().rstrip(".")
        for source, (canonical, redirects, others) in _FIXED.items():
            if host == canonical or host in others:
                return Route(source, group=source)
            if host in redirects:
                return Route(source, redirect_to=canonical, group=source)
        if host.endswith(_CRAIGSLIST):
            metro = host[: -len(_CRAIGSLIST)]
            if metro and "." not in metro and metro not in _CRAIGSLIST_OWN:
                return Route("craigslist", prefix=f"/{metro}", group="craigslist")
        if host.startswith(_DEALER_PREFIX) and host.endswith(_DEALER_SUFFIX):
            slug = host[len(_DEALER_PREFIX): -len(_DEALER_SUFFIX)]
            if slug and "." not in slug:
                return Route("dealer", prefix=f"/{slug}", group=f"dealer:{slug}")
        return None

    def renderer_path(self, url: str) -> tuple[str, str] | None:
        """(source, renderer path with query) of an absolute URL on the stand-in, or None."""
        parts = urlsplit(url)
        route = self.route(parts.hostname or "")
        if route is None or route.redirect_to:
            return None
        path = route.prefix + (parts.path or "/")
        return route.source, path + (f"?{parts.query}" if parts.query else "")

    def hosts(self, metros: list[str], dealers: list[str]) -> dict[str, list[str]]:
        """Every host the stand-in answers for, by site (one loopback address per site)."""
        out: dict[str, list[str]] = {}
        for source, (canonical, redirects, others) in _FIXED.items():
            out[source] = [canonical, *others, *redirects]
        out["craigslist"] += [metro_host(m) for m in metros]
        for slug in dealers:
            out[f"dealer:{slug}"] = [dealer_host(slug)]
        return out


SITES = SiteMap()

__all__ = ["SCHEME", "SITES", "Route", "SiteMap", "dealer_host", "metro_host"]
