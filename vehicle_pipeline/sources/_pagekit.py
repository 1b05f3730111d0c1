"""Page helpers shared by every parser: decoding input, the parsed tree, JSON-LD, meta tags, URL queries,
challenge pages, and the guard that turns any unreadable value into a ParseError.

Pure functions over str/bytes and selectolax nodes; no I/O.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser

from vehicle_pipeline.model import ParseError
from vehicle_pipeline.sources.fields import clean_text

# Pages larger than this are not listing pages of any site we read; refusing them bounds memory.
MAX_PAGE_BYTES = 8 * 1024 * 1024


def to_text(content: bytes | str | None, source: str) -> str:
    """Bytes → str (UTF-8, lenient). Empty, oversized or binary input is a ParseError, not a crash."""
    if content is None:
        raise ParseError(source, "input", "empty input")
    if isinstance(content, (bytes, bytearray, memoryview)):
        raw = bytes(content)
        if len(raw) > MAX_PAGE_BYTES:
            raise ParseError(source, "input", f"page of {len(raw)} bytes exceeds the {MAX_PAGE_BYTES}-byte limit")
        # NUL bytes never occur in HTML or JSON text; they mean a binary file (image, gzip body).
        if b"\x00" in raw[:4096]:
            raise ParseError(source, "input", "binary content, not an HTML page or JSON")
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(content, str):
        text = content
        if len(text) > MAX_PAGE_BYTES:
            raise ParseError(source, "input", f"page of {len(text)} characters exceeds the limit")
        if "\x00" in text[:4096]:
            raise ParseError(source, "input", "binary content, not an HTML page or JSON")
    else:
        raise ParseError(source, "input", f"unsupported input type {type(content).__name__}")
    if not text.strip():
        raise ParseError(source, "input", "empty input")
    return text.lstrip("\ufeff")


def looks_like_json(text: str) -> bool:
    s = text.lstrip()
    return s.startswith("{") or s.startswith("[")


def load_json(text: str, source: str, page: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ParseError(source, page, f"invalid JSON ({exc.msg} at char {exc.pos})") from None


_ENGINES = threading.local()


class Tree(LexborHTMLParser):
    """A lexbor document whose CSS queries run on one selector engine per thread, shared by every page.

    A plain LexborHTMLParser builds a CSS parser and selector engine on its first query and frees them
    with the document: a fixed ~50 µs per page (allocator churn: the freed arenas go back to the OS
    and are faulted in again), more than a bare parse of a small page. The engine holds no state
    between queries (selectolax resets it after each), so one per thread serves every document.
    Also caches the attributes of the elements of a tag name (`attributes_of`), for the head lookups
    (meta, link) that every page makes several of. Only plain dicts are cached: a cached node would
    point back at the document and keep it alive until the cyclic GC runs.
    """

    @property
    def selector(self):
        engine = getattr(_ENGINES, "engine", None)
        if engine is None:
            engine = _ENGINES.engine = LexborCSSSelector()
        return engine

    def attributes_of(self, tag: str) -> list[dict]:
        """The attributes of every `tag` element, in document order (the elements `css(tag)` returns)."""
        cache = self.__dict__.setdefault("_attributes", {})
        hit = cache.get(tag)
        if hit is None:
            hit = cache[tag] = [node.attributes for node in self.tags(tag)]
        return hit


def html_tree(text: str | bytes, content: object = None) -> Tree:
    """The document of `text` (from `to_text(content)`). When `content` is the bytes `text` was decoded
    from without a replacement or a stripped BOM, those bytes are what selectolax would encode `text`
    back into: they are parsed as they are, sparing the encode (and its copy of the page)."""
    if isinstance(content, bytes) and isinstance(text, str) and not content.startswith(b"\xef\xbb\xbf") and "\ufffd" not in text:
        return Tree(content)
    return Tree(text)


def _ascii_ieq(value: str | None, lower: str) -> bool:
    """`value` equals the lower-case ASCII `lower` ignoring ASCII case: how lexbor matches `[rel=…]` and
    `[type=…]` selectors (attributes whose values HTML compares case-insensitively)."""
    return value is not None and len(value) == len(lower) and value.isascii() and value.lower() == lower


def node_text(node, deep: bool = True) -> str | None:
    if node is None:
        return None
    return clean_text(node.text(deep=deep, separator=" "))


def attr(node, name: str) -> str | None:
    if node is None:
        return None
    value = node.attributes.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def first_text(tree, selector: str) -> str | None:
    return node_text(tree.css_first(selector))


def first_attr(tree, selector: str, name: str) -> str | None:
    return attr(tree.css_first(selector), name)


def meta(tree, key: str) -> str | None:
    """`<meta property=key>` or `<meta name=key>` content (DDC writes both attributes on one tag)."""
    if isinstance(tree, Tree):
        # same as the selectors below (`property`/`name` values match case-sensitively), one tag scan
        metas = tree.attributes_of("meta")
        for name in ("property", "name"):
            for attrs in metas:
                if attrs.get(name) == key:
                    value = attrs.get("content")
                    value = value.strip() if value is not None else None
                    if value:
                        return value
        return None
    for sel in (f'meta[property="{key}"]', f'meta[name="{key}"]'):
        for node in tree.css(sel):
            value = attr(node, "content")
            if value:
                return value
    return None


def meta_attr(tree, name: str, attribute: str = "content") -> str | None:
    """`attribute` of the first `meta[name=<name>]`, as `first_attr(tree, 'meta[name="…"]', attribute)`."""
    if isinstance(tree, Tree):
        for attrs in tree.attributes_of("meta"):
            if attrs.get("name") == name:
                value = attrs.get(attribute)
                value = value.strip() if value is not None else None
                return value or None
        return None
    return first_attr(tree, f'meta[name="{name}"]', attribute)


def link_rel(tree, rel: str) -> str | None:
    """`href` of the first `link[rel=<rel>]` (rel in lower case), as `first_attr(tree, 'link[rel="…"]', "href")`."""
    if isinstance(tree, Tree):
        for attrs in tree.attributes_of("link"):
            if _ascii_ieq(attrs.get("rel"), rel):
                value = attrs.get("href")
                value = value.strip() if value is not None else None
                return value or None
        return None
    return first_attr(tree, f'link[rel="{rel}"]', "href")


def canonical_link(tree, base: str | None = None) -> str | None:
    href = link_rel(tree, "canonical") or meta(tree, "og:url")
    if not href:
        return None
    if href.startswith("//"):
        href = "https:" + href
    if base and not urlsplit(href).scheme:
        href = urljoin(base, href)
    return href if urlsplit(href).scheme in ("http", "https") else None


def json_ld_blocks(tree) -> Iterator[object]:
    """Decoded JSON-LD script bodies; a block that does not decode is skipped (sites ship broken ones)."""
    if isinstance(tree, Tree):
        scripts = [node for node in tree.tags("script") if _ascii_ieq(node.attributes.get("type"), "application/ld+json")]
    else:
        scripts = tree.css('script[type="application/ld+json"]')
    for node in scripts:
        body = node.text(deep=True)
        if not body or not body.strip():
            continue
        try:
            yield json.loads(body)
        except ValueError:
            # Some CMSs leave raw control characters inside strings; strict=False accepts them.
            try:
                yield json.loads(body, strict=False)
            except ValueError:
                continue


def flatten_ld(data) -> Iterator[dict]:
    """Top-level JSON-LD nodes: lists and `@graph` arrays are unrolled, nothing deeper."""
    if isinstance(data, list):
        for item in data:
            yield from flatten_ld(item)
    elif isinstance(data, dict):
        graph = data.get("@graph")
        if isinstance(graph, list):
            for item in graph:
                yield from flatten_ld(item)
        if "@type" in data or not isinstance(graph, list):
            yield data


def ld_types(node) -> set[str]:
    """`@type` as a set of bare names; string or list, with or without a schema.org prefix."""
    if not isinstance(node, dict):
        return set()
    t = node.get("@type")
    values = t if isinstance(t, list) else [t]
    out = set()
    for v in values:
        if isinstance(v, str) and v:
            out.add(v.rsplit("/", 1)[-1])
    return out


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ld_name(value) -> str | None:
    """A schema.org value that may be a plain string or a `{"name": …}` object."""
    if isinstance(value, dict):
        return clean_text(value.get("name")) if isinstance(value.get("name"), (str, int)) else None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return clean_text(str(value))
    if isinstance(value, list) and value:
        return ld_name(value[0])
    return None


def image_urls(value, base: str | None = None) -> list[str]:
    """JSON-LD `image`: a URL, a list of URLs, or ImageObject dicts (`url`/`contentUrl`)."""
    out: list[str] = []
    for item in as_list(value):
        url = None
        if isinstance(item, str):
            url = item.strip()
        elif isinstance(item, dict):
            url = item.get("url") or item.get("contentUrl") or item.get("src")
            url = url.strip() if isinstance(url, str) else None
        if not url:
            continue
        if url.startswith("//"):
            url = "https:" + url
        elif base and not urlsplit(url).scheme:
            url = urljoin(base, url)
        if url not in out:
            out.append(url)
    return out


def absolute(href: str | None, base: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if href.startswith("//"):
        return "https:" + href
    if urlsplit(href).scheme:
        return href
    return urljoin(base, href) if base else None


def strip_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))


def with_query(url: str, **params) -> str:
    """The URL with the given query parameters set (None removes), keeping the others in order."""
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    pairs += [(k, str(v)) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), ""))


def query_param(url: str | None, name: str) -> str | None:
    if not url:
        return None
    for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if k == name:
            return v
    return None


_CHALLENGE = re.compile(
    r"(cf-browser-verification|challenge-platform|cf_chl_|Attention Required! \| Cloudflare|"
    r"Just a moment\.\.\.|px-captcha|_Incapsula_Resource|Access Denied</title>)",
    re.I,
)


# The same markers, lower-cased, for a substring search. `_CHALLENGE` (re.I, an alternation without a
# literal prefix) walks every position of the head through every branch: ~0.1 µs a character, most of
# the cost of parsing a small page. No two markers can match at the same position, so the leftmost
# `find` hit is the match the regex returns.
_CHALLENGE_LOWER = (
    "cf-browser-verification", "challenge-platform", "cf_chl_", "attention required! | cloudflare",
    "just a moment...", "px-captcha", "_incapsula_resource", "access denied</title>",
)
# Characters for which `str.lower()` and re.I disagree with plain ASCII case folding on these markers
# (U+0130 lowers to two characters; U+0131, U+017F and U+212A match 'i', 's' and 'k' under re.I).
_CASEFOLD_ODD = ("\u0130", "\u0131", "\u017f", "\u212a")


def challenge_marker(text: str) -> str | None:
    """Name of the bot-challenge marker a blocked response carries, else None (checked on the head only)."""
    head = text[:20000]
    if not head.isascii() and any(c in head for c in _CASEFOLD_ODD):
        m = _CHALLENGE.search(head)
        return m.group(1) if m else None
    low = head.lower()  # one character per character: positions in `low` are positions in `head`
    best = -1
    size = 0
    for marker in _CHALLENGE_LOWER:
        pos = low.find(marker)
        if pos >= 0 and (best < 0 or pos < best):
            best, size = pos, len(marker)
    return head[best : best + size] if best >= 0 else None


def int_or_none(value) -> int | None:
    """A JSON number or numeric string as int; bools, junk and non-finite values → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        s = value.strip().replace(",", "")
        if re.fullmatch(r"-?\d+(?:\.\d+)?", s):
            try:
                return int(float(s)) if "." in s else int(s)
            except (ValueError, OverflowError):
                return None
    return None


def guarded(source: str):
    """A parser's promise: a page or a ParseError, never another exception. A value the page carries that
    cannot be read (a canonical link of "http://[", a number too large, a JSON array where an object
    belongs) makes an unreadable page, reported with what failed instead of escaping as a traceback."""

    def wrap(parse_fn):
        @functools.wraps(parse_fn)
        def parse(content, url=None, deep=False):
            try:
                return parse_fn(content, url=url, deep=deep)
            except ParseError:
                raise
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                    RecursionError) as exc:
                raise ParseError(source, url or "page", f"unreadable value ({type(exc).__name__}: {exc})") from exc

        return parse

    return wrap

