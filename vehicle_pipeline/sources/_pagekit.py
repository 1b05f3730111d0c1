"""Page helpers shared by every parser: decoding input, the parsed tree, JSON-LD, meta tags, URL queries,
challenge pages, and the guard that turns any unreadable value into a ParseError.

Pure functions over str/bytes and selectolax nodes; no I/O.
"""

from __future__ import annotations

import codecs
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


def _acceptable_bytes(content: bytes | bytearray | memoryview, source: str) -> bytes:
    """The page's bytes, unless it is oversized or binary (a ParseError, as every reader refuses it)."""
    raw = bytes(content)
    if len(raw) > MAX_PAGE_BYTES:
        raise ParseError(source, "input", f"page of {len(raw)} bytes exceeds the {MAX_PAGE_BYTES}-byte limit")
    # NUL bytes never occur in HTML or JSON text; they mean a binary file (image, gzip body).
    if b"\x00" in raw[:4096]:
        raise ParseError(source, "input", "binary content, not an HTML page or JSON")
    return raw


def to_text(content: bytes | str | None, source: str) -> str:
    """Bytes → str (UTF-8, lenient). Empty, oversized or binary input is a ParseError, not a crash."""
    if content is None:
        raise ParseError(source, "input", "empty input")
    if isinstance(content, (bytes, bytearray, memoryview)):
        raw = _acceptable_bytes(content, source)
        text = raw.decode("utf-8", errors="replace")
    elif isinstance(content, str):
        text = content
        if len(text) > MAX_PAGE_BYTES:
            raise ParseError(source, "input", f"page of {len(text)} characters exceeds the limit")
        if "\x00" in text[:4096]:
            raise ParseError(source, "input", "binary content, not an HTML page or JSON")
    else:
        raise ParseError(source, "input", f"unsupported input type {type(content).__name__}")
    if not text or text.isspace():  # `not text.strip()`, without a copy of the page
        raise ParseError(source, "input", "empty input")
    return text.lstrip("\ufeff")


# How much of a page's text `challenge_marker` looks at, and so all that `read_page` decodes up front.
HEAD_CHARS = 20000
_DECODE_CHUNK = 16384


# Below this page size, walking the whole document for a head tag (`Tree.tags`) costs less than one
# selector query of <head> (the query's own set-up is ~3 µs).
HEAD_FIRST_BYTES = 32 * 1024


# From this page size on, `hits` walks the document once for all its selectors (measured: one walk
# instead of seven saves ~150 µs on an 800 KB BaT listing and costs ~20 µs more on a 40 KB one).
HITS_MIN_BYTES = 128 * 1024


def read_page(content: bytes | str | None, source: str) -> tuple[str, bytes | str]:
    """`to_text(content)` for a parser that hands the page to lexbor: (head, body), raising what `to_text` raises.

    When `content` is bytes that are exactly the UTF-8 encoding of their text (valid UTF-8, no BOM) the
    page is not decoded into one str at all: `body` is those bytes (what lexbor parses, and what lexbor
    would get from the text anyway) and `head` the text's first HEAD_CHARS characters (enough for
    `looks_like_json` and `challenge_marker`). A str of a 100 KB page costs more than its decode: it is
    allocated above malloc's mmap threshold and faulted in page by page on every call. Otherwise both
    are the text itself, as `to_text` returns it.
    """
    if isinstance(content, (bytes, bytearray, memoryview)):
        raw = _acceptable_bytes(content, source)
        if not raw.startswith(b"\xef\xbb\xbf"):
            head = _utf8_head(raw)
            # a head of only whitespace leaves `looks_like_json` and the empty check to the whole text
            if head and not head.isspace():
                return head, raw
    text = to_text(content, source)
    return text, text


def _utf8_head(raw: bytes) -> str | None:
    """The first HEAD_CHARS characters of `raw` decoded, or None when `raw` is not valid UTF-8."""
    if raw.isascii():
        return raw[:HEAD_CHARS].decode("ascii")
    try:
        if len(raw) <= 2 * _DECODE_CHUNK:
            return raw.decode("utf-8")[:HEAD_CHARS]
        # a large page is validated in chunks: no str of the whole page is built
        parts: list[str] = []
        have = 0
        carry = b""
        for start in range(0, len(raw), _DECODE_CHUNK):
            chunk = carry + raw[start : start + _DECODE_CHUNK]
            if have >= HEAD_CHARS and chunk.isascii():
                carry = b""  # valid, and nothing of it is wanted: no str built
                continue
            piece, used = codecs.utf_8_decode(chunk, "strict", False)
            carry = chunk[used:]  # a character cut at the chunk's end, decoded with the next chunk
            if have < HEAD_CHARS:
                parts.append(piece)
                have += len(piece)
        if carry:
            codecs.utf_8_decode(carry, "strict", True)  # raises: the page ends inside a character
    except UnicodeDecodeError:
        return None
    return "".join(parts)[:HEAD_CHARS]


def read_text(content: bytes | str | None, source: str) -> tuple[str, str]:
    """`(head, body_text(body))` for `head, body = read_page(content, source)`, decoding the page once:
    for a parser that reads the page's whole text anyway (a regex over it, its JSON)."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        raw = _acceptable_bytes(content, source)
        if not raw.startswith(b"\xef\xbb\xbf"):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                head = text[:HEAD_CHARS]
                if head and not head.isspace():
                    return head, text
    text = to_text(content, source)
    return text, text


def body_text(body: bytes | str) -> str:
    """The text of a `read_page` body."""
    return body if isinstance(body, str) else body.decode("utf-8")


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

    def meta_index(self) -> tuple[dict[str, str], dict[str, str]]:
        """`property` → and `name` → the first non-empty stripped `content` of the metas carrying that value,
        in document order: what a scan of every meta per lookup finds, for pages looked up a dozen times."""
        index = self.__dict__.get("_meta_index")
        if index is None:
            index = self.__dict__["_meta_index"] = ({}, {})
            for attrs in self.attributes_of("meta"):
                value = None
                for kind, found in zip(("property", "name"), index):
                    key = attrs.get(kind)
                    if key is not None and key not in found:
                        if value is None:
                            value = attrs.get("content")
                            value = (value.strip() if value is not None else None) or ""
                        if value:
                            found[key] = value
        return index

    def head_attributes_of(self, tag: str) -> list[dict]:
        """The attributes of the `tag` elements inside <head>: the first of `attributes_of(tag)`, since
        <head> is the first child of <html> and nothing else comes before it. A lookup that finds its
        element here is answered without walking the whole document (`attributes_of`). Below
        HEAD_FIRST_BYTES that walk costs less than the query of <head>, and this is the empty list."""
        if len(self.raw_html) < HEAD_FIRST_BYTES:
            return []
        cache = self.__dict__.setdefault("_head_attributes", {})
        hit = cache.get(tag)
        if hit is None:
            head = self.head
            hit = cache[tag] = [] if head is None else [node.attributes for node in head.css(tag)]
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


# HTML's whitespace (class lists split on it); str.split() would also split on \v, \x1c-\x1f, NBSP…
_HTML_SPACE = str.maketrans("\t\n\f\r", "    ")


def has_class(node, name: str) -> bool:
    """Whether `node` itself matches the selector `.name`, decided without a selector query where that
    is certain: `name` is a token of the class attribute (split at HTML whitespace) → yes; no token equals
    it even ignoring ASCII case → no. Only a token that differs from it in case alone (a match only in a
    quirks-mode document) or a non-ASCII class list is left to lexbor. Lets a parser classify the nodes
    of one union query (`css("span.a, span.b")`) instead of running one query per selector.
    """
    verdict = class_verdict(node.attrs.get("class"), name)
    return _lexbor_matches(node, "." + name) if verdict is None else verdict


def class_verdict(value: str | None, name: str) -> bool | None:
    """`has_class` from the class attribute's value: True, False, or None when only lexbor can tell."""
    if not value:
        return False
    tokens = value.translate(_HTML_SPACE).split(" ")
    if name in tokens:
        return True
    if value.isascii():
        folded = name.lower()
        if not any(token.lower() == folded for token in tokens):
            return False
    return None


def has_id(node, name: str) -> bool:
    """Whether `node` itself matches `#name` (the whole id value; quirks mode ignores ASCII case), as
    `has_class` decides classes."""
    value = node.attrs.get("id")
    if value is None:
        return False
    if value == name:
        return True
    if value.isascii() and value.lower() != name.lower():
        return False
    return _lexbor_matches(node, "#" + name)


def attr_equals(attrs: dict, name: str, value: str) -> bool | None:
    """Whether an element with attributes `attrs` matches `[name="value"]`: yes when the value is exactly
    that, no when it differs even ignoring ASCII case, None (lexbor decides) otherwise: lexbor compares the
    values of some HTML attributes (type, rel…) ignoring case."""
    actual = attrs.get(name)
    if actual is None or actual == value:
        return actual is not None
    return None if actual.isascii() and actual.lower() == value.lower() else False


def hits(tree, wanted: dict[str, tuple[str, object]]) -> dict[str, list]:
    """`{name: tree.css(selector)}` for every `name: (selector, test)` of `wanted`, from one walk of the
    document instead of one per selector: the union of the selectors is queried once and each hit is
    given to the names whose selector it matches. `test(tag, attributes)` tells that from the hit's tag
    and attribute dict: True, False, or None when it cannot be sure (lexbor then decides for that node).
    A test must answer True only for nodes the selector matches and False only for nodes it does not.
    Below HITS_MIN_BYTES the selectors are simply queried one by one: on a small document the walks
    cost less than sorting the hits in Python.
    """
    if len(tree.raw_html) < HITS_MIN_BYTES:
        return {name: tree.css(selector) for name, (selector, _) in wanted.items()}
    out: dict[str, list] = {name: [] for name in wanted}
    seen: set[int] = set()
    for node in tree.css(", ".join(selector for selector, _ in wanted.values())):
        # lexbor returns a node once per selector of the list it matches
        if node.mem_id in seen:
            continue
        seen.add(node.mem_id)
        tag, attrs = node.tag, node.attributes
        for name, (selector, test) in wanted.items():
            verdict = test(tag, attrs)
            if verdict is None:
                verdict = _lexbor_matches(node, selector)
            if verdict:
                out[name].append(node)
    return out


def _lexbor_matches(node, selector: str) -> bool:
    # a query rooted at `node` tries `node` first, so the node itself matches iff it is the first hit
    hit = node.css_first(selector)
    return hit is not None and hit.mem_id == node.mem_id


def walk_rows(tree, row: tuple[str, str], parts: dict[str, str], marks: dict[str, str] | None = None) -> list | None:
    """The rows of a page, each with the first descendant matching each part selector, from one query of
    the document instead of one query per row (a results page has up to 120 rows).

    `row` is (tag, selector); `parts` and `marks` (a section banner, say) map a tag to a selector for that
    tag; all these tags differ and no selector is a list. The union `row, row <part>…, <mark>…` is walked
    in document order and each hit told apart by its tag alone (lexbor returns a node once per selector of
    the union it matches, so one selector per tag means once). A part belongs to the nearest row before it,
    which is the row that holds it as long as no row holds another; a row inside a row makes the answer
    None, and the caller queries each row. Returns, in document order, a `(row_node, {tag: first part
    node})` tuple per row and the mark nodes.
    """
    row_tag, row_sel = row
    marks = marks or {}
    out: list = []
    current: dict | None = None
    rows: set[int] = set()
    parent = None
    query = ", ".join([row_sel, *(f"{row_sel} {sel}" for sel in parts.values()), *marks.values()])
    for node in tree.css(query):
        tag = node.tag
        if tag == row_tag:
            up = node.parent
            if up is not None and up.mem_id != parent:
                # Rows come in document order, so a row holding this one came before it. Siblings of
                # the row before share its ancestors, already checked: only a new parent is walked up.
                parent = up.mem_id
                while up is not None:
                    if up.mem_id in rows:
                        return None
                    up = up.parent
            rows.add(node.mem_id)
            current = {}
            out.append((node, current))
        elif tag in parts:
            if current is not None and tag not in current:
                current[tag] = node
        else:
            out.append(node)
    return out


def node_text(node, deep: bool = True) -> str | None:
    if node is None:
        return None
    return clean_text(node.text(deep=deep, separator=" "))


def attr(node, name: str) -> str | None:
    if node is None:
        return None
    # one attribute, not the dict of all of them; same value for the lower-case names parsers ask for
    value = node.attrs.get(name)
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
        # same as the selectors below (`property`/`name` values match case-sensitively), one tag scan;
        # a `property` match in <head> is the first in the document
        for attrs in tree.head_attributes_of("meta"):
            if attrs.get("property") == key:
                value = attrs.get("content")
                value = value.strip() if value is not None else None
                if value:
                    return value
        by_property, by_name = tree.meta_index()
        return by_property.get(key) or by_name.get(key)
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
        # the first match in <head> is the first in the document; else the whole document's links
        for which in (tree.head_attributes_of, tree.attributes_of):
            for attrs in which("link"):
                if _ascii_ieq(attrs.get("rel"), rel):
                    value = attrs.get("href")
                    value = value.strip() if value is not None else None
                    return value or None
        return None
    return first_attr(tree, f'link[rel="{rel}"]', "href")


def has_link_rel(tree, rel: str) -> bool:
    """Whether the page has a `link[rel=<rel>]` (rel in lower case), as `tree.css_first('link[rel="…"]')`."""
    if isinstance(tree, Tree):
        return any(_ascii_ieq(attrs.get("rel"), rel) for which in (tree.head_attributes_of, tree.attributes_of)
                   for attrs in which("link"))
    return tree.css_first(f'link[rel="{rel}"]') is not None


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
        elif base and not _has_plain_scheme(url) and not urlsplit(url).scheme:
            url = urljoin(base, url)
        if url not in out:
            out.append(url)
    return out


def _has_plain_scheme(url: str) -> bool:
    """`urlsplit(url).scheme` is http(s), known without splitting: and urlsplit would not have raised
    (it refuses only unbalanced brackets and some non-ASCII hosts)."""
    return url.startswith(("https://", "http://")) and url.isascii() and "[" not in url and "]" not in url


def absolute(href: str | None, base: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if _has_plain_scheme(href):
        return href  # what the scheme test below finds, without splitting each of a page's links
    if href.startswith("//"):
        return "https:" + href
    if href.startswith("/") and base and _plain_root_path(href):
        origin = _origin(base)
        if origin is not None:
            return origin + href  # what urljoin gives; pages link their own site's pages like this by the hundred
    if urlsplit(href).scheme:
        return href
    return urljoin(base, href) if base else None


_PRINTABLE_ASCII = re.compile(r"[!-~]+")


def _plain_root_path(href: str) -> bool:
    """Whether urljoin copies the root-relative reference `href` unchanged after the base's origin:
    printable ASCII (nothing urlsplit strips or removes), no dot segments, no ';' (urlparse's params),
    a query and a fragment only when not empty (urljoin drops an empty "?" or "#")."""
    if href[1:2] == "/" or not _PRINTABLE_ASCII.fullmatch(href):
        return False
    before, hash_, fragment = href.partition("#")
    path, question, query = before.partition("?")
    if (hash_ and not fragment) or (question and not query) or ";" in path:
        return False
    return "/." not in path or all(seg not in (".", "..") for seg in path.split("/"))


@functools.lru_cache(maxsize=64)
def _origin(base: str) -> str | None:
    """`scheme://netloc` of an http(s) base URL as urljoin rebuilds it (the scheme lower-cased, the
    netloc as written), or None when urljoin might do otherwise. Raises what urlsplit raises."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


# An http(s) URL that urlsplit/urlunsplit give back unchanged: lower-case scheme and host (an optional
# port), a path of URL characters, no query, fragment, whitespace or control characters.
PLAIN_URL = re.compile(r"(https?)://([a-z0-9.\-]+(?::[0-9]+)?)(/[A-Za-z0-9._~!$&'()*+,;=:@%/\-]*)")


def strip_query(url: str) -> str:
    if PLAIN_URL.fullmatch(url):
        return url  # nothing to strip or lower-case (result lists hold 100+ of these)
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


# Markers of the interstitials themselves. Not the vendors' script paths: Cloudflare injects
# /cdn-cgi/challenge-platform/ and Incapsula /_Incapsula_Resource into ordinary pages they protect, so those
# would reject real listings (the HTTP client's detect_challenge draws the same line).
_CHALLENGE = re.compile(
    r"(cf-browser-verification|cf_chl_|Attention Required! \| Cloudflare|"
    r"Just a moment\.\.\.|px-captcha|Incapsula incident ID|Access Denied</title>)",
    re.I,
)


# The same markers, lower-cased, for a substring search. `_CHALLENGE` (re.I, an alternation without a
# literal prefix) walks every position of the head through every branch: ~0.1 µs a character, most of
# the cost of parsing a small page. No two markers can match at the same position, so the leftmost
# `find` hit is the match the regex returns.
_CHALLENGE_LOWER = (
    "cf-browser-verification", "cf_chl_", "attention required! | cloudflare",
    "just a moment...", "px-captcha", "incapsula incident id", "access denied</title>",
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
    best, size = _first_marker(low, _CHALLENGE_LOWER)
    return head[best : best + size] if best >= 0 else None


def _first_marker(low, markers) -> tuple[int, int]:
    """Position and length of whichever of `markers` occurs first in `low` (str or bytes); (-1, 0) if none."""
    best = -1
    size = 0
    for marker in markers:
        pos = low.find(marker)
        if pos >= 0 and (best < 0 or pos < best):
            best, size = pos, len(marker)
    return best, size


_CHALLENGE_BYTES = tuple(marker.encode("ascii") for marker in _CHALLENGE_LOWER)


def page_challenge(head: str, body: bytes | str) -> str | None:
    """`challenge_marker(text)` of a page read with `read_page`.

    A head with other than ASCII text is a wide str, and lower-casing 20,000 of its characters costs
    more than the search. Its UTF-8 bytes hold the ASCII markers at the same places in the same order:
    `bytes.lower` folds A-Z only, and outside `_CASEFOLD_ODD` no character lowers to ASCII.
    """
    if isinstance(body, str) or head.isascii() or any(c in head for c in _CASEFOLD_ODD):
        return challenge_marker(head)
    low = body[: len(head.encode("utf-8"))].lower()
    best, size = _first_marker(low, _CHALLENGE_BYTES)
    return body[best : best + size].decode("ascii") if best >= 0 else None


_NUMERIC = re.compile(r"-?\d+(?:\.\d+)?")


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
        if _NUMERIC.fullmatch(s):
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

