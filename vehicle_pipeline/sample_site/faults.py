"""Faults injected into the sample site's source pages, by spec string.

A spec is a comma-separated list of entries `<source>:<kind>[:<param>=<value>]...`, for example

    bat:429:rate=0.3:retry_after=5,carsandbids:503:burst=3,mecum:slow:seconds=1.5,
    broadarrow:truncate:rate=0.2,craigslist:challenge:vendor=cloudflare,dealer:gone:code=410:rate=0.1,
    bat:redirect_loop:rate=0.05,bat:redirect_private:rate=0.05,mecum:oversize:mb=12:rate=0.1,
    carsandbids:markup_change

Sources: bat, carsandbids, mecum, broadarrow, craigslist, dealer, dealer:<slug>, classic, or `*` (all).
Kinds:
    <status>          a 3-digit HTTP status (429, 503, 500, 403, ...); `retry_after=S` adds Retry-After
    slow              sleep `seconds` (default 2) before answering normally
    truncate          declare the full Content-Length, send half the body, close the connection
    challenge         a bot-challenge page: `vendor` = cloudflare (default) | datadome | perimeterx | incapsula
    gone              `code` = 404 (default) | 410; applies to listing pages only unless `on=` says otherwise
    redirect_loop     302 to the same path with `_loop=n+1`, forever
    redirect_private  302 to the same path on http://127.0.0.2:<port> (an address a client must refuse)
    oversize          the page followed by filler up to `mb` MB (default 12), chunked, no Content-Length
    markup_change     `mode` = broken (default): the source's pages lose their key markup, as after a redesign the
                      parsers have never seen; `mode` = legacy: renderers that know an older real layout serve it
                      (ctx.markup_variant[source] = "changed"), which parsers must still read

Which requests a fault hits (all but markup_change):
    rate=R (default 1)   a path is afflicted when hash(seed, entry, path) < R: a fixed set of paths, so the
                          same run always hits the same pages;
    attempts=K           on an afflicted path the fault hits the first K requests of that path, later ones
                          succeed. Default 1 for transient kinds (408/429/5xx, slow, truncate) so a retry
                          succeeds; `all` for the others (4xx, gone, challenge, redirects, oversize);
    burst=N[:every=M]    instead of rate/attempts: the source's first N requests fail (then, with every=M, the
                          first N of every M requests), counted across paths;
    on=listing|index|all which pages (default all; gone defaults to listing).
Attempts are counted per path since the active spec was installed. Everything depends only on
(seed, entry, path, attempt), never on time or randomness, so a run is reproducible.
Faults never touch /_truth, /_admin, /_fault, /robots.txt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

SOURCES = ("bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic")
KINDS = ("status", "slow", "truncate", "challenge", "gone", "redirect_loop", "redirect_private", "oversize", "markup_change")
VENDORS = ("cloudflare", "datadome", "perimeterx", "incapsula")
_COMMON = {"rate", "attempts", "burst", "every", "on"}
_PARAMS = {
    "status": _COMMON | {"retry_after"},
    "slow": _COMMON | {"seconds"},
    "truncate": _COMMON,
    "challenge": _COMMON | {"vendor"},
    "gone": _COMMON | {"code"},
    "redirect_loop": _COMMON,
    "redirect_private": _COMMON,
    "oversize": _COMMON | {"mb"},
    "markup_change": {"mode"},
}
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class FaultSpecError(ValueError):
    """A fault spec that cannot be applied; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class Fault:
    index: int
    raw: str
    source: str  # a source name, "dealer:<slug>" or "*"
    kind: str
    code: int | None = None
    rate: float = 1.0
    attempts: int | None = 1  # None = every attempt
    burst: int | None = None
    every: int | None = None
    on: str = "all"
    retry_after: int | None = None
    seconds: float = 2.0
    vendor: str = "cloudflare"
    mb: float = 12.0
    mode: str = "broken"

    def applies_to(self, source: str, dealer: str | None, page: str) -> bool:
        if self.on != "all" and self.on != page:
            return False
        if self.source == "*":
            return True
        if ":" in self.source:
            base, slug = self.source.split(":", 1)
            return base == source and slug == dealer
        return self.source == source


def _unit_hash(seed: int, index: int, key: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{index}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _num(entry: str, name: str, value: str, kind=float, lo=None, hi=None):
    try:
        v = kind(value)
    except ValueError:
        raise FaultSpecError(f"fault {entry!r}: {name}={value!r} is not a{'n integer' if kind is int else ' number'}") from None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise FaultSpecError(f"fault {entry!r}: {name}={value} must be {bounds}")
    return v


def _parse_entry(index: int, entry: str) -> Fault:
    parts = entry.split(":")
    if len(parts) < 2:
        raise FaultSpecError(f"fault {entry!r}: expected <source>:<kind>[:param=value...]")
    source = parts[0].strip()
    rest = parts[1:]
    # "dealer:<slug>:<kind>": the slug is the second part when the third looks like a kind.
    if source == "dealer" and len(rest) >= 2 and "=" not in rest[1] and (rest[1] in KINDS or rest[1].isdigit()):
        source = f"dealer:{rest[0].strip()}"
        rest = rest[1:]
    if source != "*" and source.split(":", 1)[0] not in SOURCES:
        raise FaultSpecError(f"fault {entry!r}: unknown source {source!r}; known: {', '.join(SOURCES)}, dealer:<slug>, *")
    kind_word = rest[0].strip()
    code: int | None = None
    if kind_word.isdigit():
        code = int(kind_word)
        if not 300 <= code <= 599:
            raise FaultSpecError(f"fault {entry!r}: status {code} is not an error status (300-599)")
        kind = "status"
    elif kind_word in KINDS and kind_word != "status":
        kind = kind_word
    else:
        raise FaultSpecError(f"fault {entry!r}: unknown kind {kind_word!r}; known: a status code, {', '.join(KINDS[1:])}")
    params: dict[str, str] = {}
    for p in rest[1:]:
        name, eq, value = p.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise FaultSpecError(f"fault {entry!r}: parameter {p!r} is not name=value")
        if name not in _PARAMS[kind]:
            allowed = ", ".join(sorted(_PARAMS[kind])) or "none"
            raise FaultSpecError(f"fault {entry!r}: {kind} takes no parameter {name!r} (allowed: {allowed})")
        if name in params:
            raise FaultSpecError(f"fault {entry!r}: parameter {name!r} given twice")
        params[name] = value

    transient = kind in ("slow", "truncate") or (kind == "status" and code in _TRANSIENT_STATUS)
    kw: dict = {"index": index, "raw": entry, "source": source, "kind": kind, "code": code,
                "attempts": 1 if transient else None, "on": "listing" if kind == "gone" else "all"}
    if "rate" in params:
        kw["rate"] = _num(entry, "rate", params["rate"], float, 0.0, 1.0)
    if "attempts" in params:
        kw["attempts"] = None if params["attempts"] == "all" else _num(entry, "attempts", params["attempts"], int, 1)
    if "burst" in params:
        if "rate" in params or "attempts" in params:
            raise FaultSpecError(f"fault {entry!r}: burst cannot be combined with rate or attempts")
        kw["burst"] = _num(entry, "burst", params["burst"], int, 1)
    if "every" in params:
        if "burst" not in params:
            raise FaultSpecError(f"fault {entry!r}: every needs burst")
        kw["every"] = _num(entry, "every", params["every"], int, 1)
        if kw["every"] <= kw["burst"]:
            raise FaultSpecError(f"fault {entry!r}: every={kw['every']} must be larger than burst={kw['burst']}")
    if "on" in params:
        if params["on"] not in ("listing", "index", "all"):
            raise FaultSpecError(f"fault {entry!r}: on={params['on']!r} must be listing, index or all")
        kw["on"] = params["on"]
    if "retry_after" in params:
        kw["retry_after"] = _num(entry, "retry_after", params["retry_after"], int, 0)
    if "seconds" in params:
        kw["seconds"] = _num(entry, "seconds", params["seconds"], float, 0.0, 600.0)
    if "mb" in params:
        kw["mb"] = _num(entry, "mb", params["mb"], float, 0.001, 1024.0)
    if "vendor" in params:
        if params["vendor"] not in VENDORS:
            raise FaultSpecError(f"fault {entry!r}: unknown vendor {params['vendor']!r}; known: {', '.join(VENDORS)}")
        kw["vendor"] = params["vendor"]
    if "mode" in params:
        if params["mode"] not in ("broken", "legacy"):
            raise FaultSpecError(f"fault {entry!r}: mode={params['mode']!r} must be broken or legacy")
        kw["mode"] = params["mode"]
    if "code" in params:
        kw["code"] = _num(entry, "code", params["code"], int)
        if kw["code"] not in (404, 410):
            raise FaultSpecError(f"fault {entry!r}: gone takes code=404 or code=410, not {kw['code']}")
    elif kind == "gone":
        kw["code"] = 404
    return Fault(**kw)


def parse_fault_spec(spec: str | None) -> tuple[Fault, ...]:
    """Parse a spec string (None or blank = no faults). Raises FaultSpecError naming the bad entry."""
    if spec is None or not spec.strip():
        return ()
    faults = []
    for i, raw in enumerate(spec.split(",")):
        entry = raw.strip()
        if not entry:
            raise FaultSpecError(f"fault spec {spec!r}: empty entry at position {i + 1}")
        faults.append(_parse_entry(i, entry))
    return tuple(faults)


@dataclass
class FaultPlan:
    """The active faults plus the counters that make them deterministic per attempt."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0
    spec: str = ""
    _attempts: dict[str, int] = field(default_factory=dict)
    _bursts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: str | None, seed: int) -> "FaultPlan":
        return cls(faults=parse_fault_spec(spec), seed=seed, spec=(spec or "").strip())

    def markup_changed(self, source: str, dealer: str | None = None) -> bool:
        return self.markup_mode(source, dealer) is not None

    def markup_mode(self, source: str, dealer: str | None = None) -> str | None:
        """"broken", "legacy" or None for this source's pages."""
        for f in self.faults:
            if f.kind == "markup_change" and f.applies_to(source, dealer, "all"):
                return f.mode
        return None

    def has(self, kind: str, source: str, dealer: str | None = None) -> bool:
        return any(f.kind == kind and f.applies_to(source, dealer, "all") for f in self.faults)

    def decide(self, source: str, dealer: str | None, page: str, key: str) -> tuple[Fault | None, int]:
        """The fault that hits this request (or None) and the attempt number of `key` (1 = first).

        Not thread-safe by itself: the server calls it under its lock.
        """
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        for f in self.faults:
            if f.kind == "markup_change" or not f.applies_to(source, dealer, page):
                continue
            if f.burst is not None:
                n = self._bursts.get(f.index, 0) + 1
                self._bursts[f.index] = n
                hit = ((n - 1) % f.every if f.every else n - 1) < f.burst
            else:
                hit = _unit_hash(self.seed, f.index, key) < f.rate and (f.attempts is None or attempt <= f.attempts)
            if hit:
                return f, attempt
        return None, attempt


# ---------------------------------------------------------------------------------------------------
# Bot-challenge pages, shaped like the real ones (status, headers, body markers clients key on).

def challenge_page(vendor: str, host: str = "127.0.0.1", ray: str = "8f1c2d3e4a5b6c7d") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a vendor's challenge page. Incapsula answers 200, as it really does."""
    if vendor == "cloudflare":
        body = f"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" content="IE=Edge"><meta name="robots" content="noindex,nofollow"><meta name="viewport" content="width=device-width,initial-scale=1"><style>*{{box-sizing:border-box;margin:0;padding:0}}html{{line-height:1.15}}</style><meta http-equiv="refresh" content="390"></head><body class="no-js"><div class="main-wrapper" role="main"><div class="main-content"><noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></noscript></div></div><script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: "{host}",cType: 'managed',cRay: '{ray}',cH: 'q1k2m3n4',cUPMDTk: "\\/?__cf_chl_tk=abc123",cFPWv: 'g',cITimeS: '1793491200',cTplV: 5}};var cpo = document.createElement('script');cpo.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray={ray}';window._cf_chl_opt.cOgUHash = location.hash === '' && location.href.indexOf('#') !== -1 ? '#' : location.hash;document.getElementsByTagName('head')[0].appendChild(cpo);}}());</script></body></html>"""
        headers = {"Server": "cloudflare", "cf-mitigated": "challenge", "CF-RAY": f"{ray}-SJC",
                   "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
                   "Cross-Origin-Opener-Policy": "same-origin", "Content-Type": "text/html; charset=UTF-8"}
        return 403, headers, body.encode()
    if vendor == "datadome":
        body = f"""<html lang="en"><head><title>{host}</title><style>#cmsg{{animation: A 1.5s;}}@keyframes A{{0%{{opacity:0;}}99%{{opacity:0;}}100%{{opacity:1;}}}}</style></head><body style="margin:0"><p id="cmsg">Please enable JS and disable any ad blocker</p><script data-cfasync="false">var dd={{'rt':'c','cid':'AHrlqAAAAAMAx9TqGkqVnQMAWmJvRw==','hsh':'2211F522B61E269B869FA6EAFFB5E1','t':'fe','s':17434,'e':'8d6fa9b5f3c2e1','host':'geo.captcha-delivery.com','cookie':'Zq3f1vRkLx'}}</script><script data-cfasync="false" src="https://ct.captcha-delivery.com/c.js"></script></body></html>"""
        headers = {"Server": "nginx", "x-datadome": "protected", "x-dd-b": "1", "X-DataDome-CID": "AHrlqAAAAAMAx9TqGkqVnQ",
                   "Set-Cookie": "datadome=Zq3f1vRkLx~abc; Max-Age=31536000; Domain=.127.0.0.1; Path=/; Secure; SameSite=Lax",
                   "Content-Type": "text/html;charset=utf-8", "Cache-Control": "max-age=0, private, no-cache, no-store, must-revalidate"}
        return 403, headers, body.encode()
    if vendor == "perimeterx":
        body = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Access to this page has been denied.</title><link href="https://fonts.googleapis.com/css?family=Open+Sans:300" rel="stylesheet"></head><body><section class="center-wrapper"><div class="page-title-wrapper"><div class="page-title"><h1>Please verify you are a human</h1></div></div><div class="content-wrapper"><div class="content"><div id="px-captcha"></div><p>Access to this page has been denied because we believe you are using automation tools to browse the website.</p><p>Reference ID: #4b7c9f30-8e21-11ef-a1b2-0242ac120002</p></div></div></section><script>window._pxAppId = 'PXa1B2c3D4';window._pxJsClientSrc = '/a1B2c3D4/init.js';window._pxFirstPartyEnabled = true;window._pxVid = '';window._pxUuid = '4b7c9f30-8e21-11ef-a1b2-0242ac120002';window._pxHostUrl = '/a1B2c3D4/xhr';</script><script src="/a1B2c3D4/captcha/captcha.js?a=c&u=4b7c9f30&v=&m=0"></script></body></html>"""
        headers = {"Server": "nginx", "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache, no-store"}
        return 403, headers, body.encode()
    if vendor == "incapsula":
        body = """<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW"><meta name="format-detection" content="telephone=no"><meta name="viewport" content="initial-scale=1.0"><meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1"></head><body style="margin:0px;height:100%"><iframe id="main-iframe" src="/_Incapsula_Resource?CWUDNSAI=9&xinfo=12-34567890-0%200NNN%20RT%281793491200000%2012%29%20q%280%20-1%20-1%20-1%29&incident_id=123000340123456789-12345678901234567&edet=12&cinfo=ffffffff&rpinfo=0&mth=GET" frameborder=0 width="100%" height="100%" marginheight="0px" marginwidth="0px">Request unsuccessful. Incapsula incident ID: 123000340123456789-12345678901234567</iframe></body></html>"""
        headers = {"X-CDN": "Imperva", "X-Iinfo": "12-34567890-0 0NNN RT(1793491200000 12) q(0 -1 -1 -1) r(0 -1)",
                   "Set-Cookie": "visid_incap_2345678=abcDEF123; expires=Sun, 01 Nov 2027 00:00:00 GMT; HttpOnly; path=/",
                   "Content-Type": "text/html", "Cache-Control": "no-cache"}
        return 200, headers, body.encode()
    raise ValueError(f"unknown challenge vendor {vendor!r}; known: {', '.join(VENDORS)}")


__all__ = ["Fault", "FaultPlan", "FaultSpecError", "KINDS", "SOURCES", "VENDORS", "challenge_page", "parse_fault_spec"]
