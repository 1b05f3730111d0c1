"""Page chrome for the sample site: everything a real page carries besides the parts a parser reads.

Real listing pages are 30-800 KB: site navigation with mega-menus, footers, stylesheets inlined for the
first paint, tracking tags, framework bootstraps and config objects in big inline scripts, client-side
templates, JSON-LD blocks of other types (Organization, WebSite, BreadcrumbList), related-listing
carousels and comment threads. The renderers draw the page's facts; this module draws the rest, shaped
like the real sites' chrome (see ../shared/corpus for four of them) but generated, never copied.

The chrome is also a robustness test. It carries what trips naive parsers on real pages: links to other
listings in menus, sidebars and "related" carousels, other cars' prices and "Sold for $X" / "No Reserve"
text outside the result element, extra JSON-LD blocks, and scripts whose strings hold HTML fragments
with the very class names the parsers key on (lexbor keeps a script's text out of the DOM, regexes over
the raw page do not).

Deterministic: every generator takes a seed string. Cheap to serve: a renderer builds its site's
constant parts once (`functools.cache`) and picks per-listing variants from small pools (`Pool`), so a
request joins prebuilt strings instead of generating text.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import random
import zlib
from collections.abc import Callable

# ---------------------------------------------------------------- randomness and text

_VOCAB = (
    "the a of and to in for with on by from this that car cars auction auctions bid bids seller buyer "
    "classic vintage collector original restored matching numbers service records history title clean "
    "mileage miles engine gearbox transmission manual automatic coupe convertible roadster wagon sedan "
    "paint interior leather wheels tires brakes suspension rebuilt refreshed documented delivered new "
    "dealer owner owners garage kept stored driven weekend show concours event events gallery photos "
    "video videos inspection report condition market value estimate reserve no results sold listing "
    "listings watch watching notify alerts account sign register login help contact about press careers "
    "privacy terms cookies policy shipping financing insurance appraisal community forum stories "
    "features podcast newsletter subscribe daily weekly guide guides buying selling tips faq support "
    "europe america japan germany italy britain california texas florida arizona colorado michigan "
    "porsche ferrari mercedes bmw ford chevrolet toyota nissan jaguar alfa romeo lancia datsun dodge jeep "
    "land rover volkswagen honda acura mazda aston martin lamborghini shelby corvette mustang bronco "
    "cruiser supra miata skyline defender spider type bus gti challenger gt3 turbo carrera targa "
    "early late series generation chassis body panels rust free repaint factory options package "
    "sunroof air conditioning power steering windows radio stereo navigation heated seats sport "
    "black white silver red blue green yellow orange grey gray brown beige tan burgundy ivory "
    "detail details specification specifications highlights equipment modifications known flaws "
    "recent ownership other items included spare keys manuals tools jack cover books records receipts"
).split()
_CAPS = tuple(w.capitalize() for w in _VOCAB)


def rng(*key: object) -> random.Random:
    """A random generator fixed by `key` (crc32 of its text: no dependence on hash seeds)."""
    return random.Random(zlib.crc32("\x1f".join(map(str, key)).encode()))


def stable(key: str, mod: int) -> int:
    return zlib.crc32(key.encode()) % mod


def words(r: random.Random, n: int) -> str:
    return " ".join(r.choices(_VOCAB, k=n))


def title_words(r: random.Random, n: int) -> str:
    return " ".join(r.choices(_CAPS, k=n))


def sentence(r: random.Random, lo: int = 8, hi: int = 22) -> str:
    text = words(r, r.randint(lo, hi))
    return text[:1].upper() + text[1:] + r.choice((".", ".", ".", "!", "?"))


def paragraphs(r: random.Random, n: int, lo: int = 3, hi: int = 7) -> str:
    return "".join(f"<p>{' '.join(sentence(r) for _ in range(r.randint(lo, hi)))}</p>\n" for _ in range(n))


def ident(r: random.Random, n: int = 6) -> str:
    return "".join(r.choices("abcdefghijklmnopqrstuvwxyz", k=1) + r.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=n - 1))


def hexid(r: random.Random, n: int = 8) -> str:
    return "".join(r.choices("0123456789abcdef", k=n))


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text)
    return "-".join(p for p in out.split("-") if p)


# ---------------------------------------------------------------- stylesheets and scripts

_PROPS = (
    ("color", ("#222", "#2b2b2b", "#fff", "#6b6b6b", "#c8102e", "#0a58ca", "inherit", "rgba(0,0,0,.64)")),
    ("background", ("#fff", "#f5f5f5", "transparent", "#111", "linear-gradient(180deg,#fff 0,#f2f2f2 100%)")),
    ("margin", ("0", "0 auto", "0 0 16px", "8px 0", "24px 0 0")),
    ("padding", ("0", "4px 8px", "12px 16px", "0 24px", "16px")),
    ("font", ('600 14px/1.4 "Helvetica Neue",Arial,sans-serif', "400 16px/1.5 Georgia,serif", "inherit")),
    ("display", ("block", "flex", "none", "inline-block", "grid")),
    ("border", ("0", "1px solid #e5e5e5", "1px solid rgba(0,0,0,.1)", "2px solid currentColor")),
    ("border-radius", ("0", "4px", "50%", "999px")),
    ("transition", ("opacity .2s ease", "transform .3s cubic-bezier(.4,0,.2,1)", "all .15s linear")),
    ("width", ("100%", "auto", "50%", "calc(100% - 32px)", "235px")),
    ("z-index", ("1", "10", "100", "1000")),
    ("text-transform", ("uppercase", "none")),
    ("align-items", ("center", "flex-start", "stretch")),
    ("box-shadow", ("0 1px 2px rgba(0,0,0,.08)", "none", "0 8px 24px rgba(0,0,0,.16)")),
)


def css(r: random.Random, size: int, prefix: str) -> str:
    """Minified-looking CSS of about `size` characters, class names under `prefix`."""
    out: list[str] = []
    have = 0
    while have < size:
        parts = [f".{prefix}-{r.choice(_VOCAB)}"]
        if r.random() < 0.5:
            parts.append(f"__{r.choice(_VOCAB)}")
        if r.random() < 0.3:
            parts.append(f"--{r.choice(_VOCAB)}")
        sel = "".join(parts) + r.choice(("", "", ">a", ":hover", " li", "::before", ".is-active"))
        decl = ";".join(f"{name}:{r.choice(values)}" for name, values in r.sample(_PROPS, r.randint(2, 6)))
        rule = f"{sel}{{{decl}}}"
        if r.random() < 0.12:
            rule = f"@media (min-width:{r.choice((576, 768, 992, 1200))}px){{{rule}}}"
        out.append(rule)
        have += len(rule)
    return "".join(out)


_JS_SHAPES = (
    'var {a}={b}.{w}||function({c},{d}){{return {c}.{w2}({d})}};',
    '{a}.prototype.{w}=function({c}){{var {d}=this;return {d}._{w2}?{d}._{w2}({c}):void 0}};',
    'function {a}({c},{d}){{if(!({c} instanceof {d}))throw new TypeError("Cannot call a class as a function")}}',
    '"{w}"===typeof {a}&&({b}.{w2}={a}({n}));',
    'for(var {c}=0,{d}={a}.length;{c}<{d};{c}++){b}[{a}[{c}].{w}]={n};',
    '{a}.addEventListener("{w}",function({c}){{{c}.preventDefault(),{b}.{w2}({n})}},!1);',
    'try{{{a}=JSON.parse({b}.getItem("{w}_{w2}"))}}catch({c}){{{a}=null}}',
    '{a}.{w}={{{w2}:{n},{c}:"{w}-{w2}",{d}:!0}};',
    'return {a}.then(function({c}){{return {c}.{w}}}).catch(function(){{return {n}}});',
    '{b}.push(["{w}","{w2}",{n},{n2}]);',
)


def js(r: random.Random, size: int, strings: tuple[str, ...] = (), every: int = 12) -> str:
    """Minified-looking JavaScript of about `size` characters. `strings` (HTML fragments and the like,
    as client code writes them) are spliced in as string literals, one every `every` statements."""
    out: list[str] = ['!function(e,t,n){"use strict";']
    have = 0
    k = 0
    while have < size:
        shape = r.choice(_JS_SHAPES)
        stmt = shape.format(a=ident(r, r.randint(1, 3)), b=ident(r, r.randint(1, 2)), c=ident(r, 1), d=ident(r, 1),
                            w=r.choice(_VOCAB), w2=r.choice(_VOCAB), n=r.randint(0, 9999), n2=r.randint(0, 99))
        if strings and k % every == every - 1:
            frag = strings[(k // every) % len(strings)]
            # in a script, "</" must not close the element: minifiers write "<\/"
            lit = json.dumps(frag).replace("</", "<\\/")
            stmt += f'{ident(r, 2)}.innerHTML={lit}+{ident(r, 1)}.{r.choice(_VOCAB)}+"";'
        out.append(stmt)
        have += len(stmt)
        k += 1
    out.append("}(window,document);")
    return "".join(out)


def script(body: str, **attrs: str) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f"<script{extra}>{body}</script>"


def ld_script(data: object, **attrs: str) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    body = json.dumps(data).replace("</", "<\\/")
    return f'<script type="application/ld+json"{extra}>{body}</script>'


def b64_png(r: random.Random, size: int) -> str:
    """A `data:` URI of about `size` characters (the inlined avatars some sites ship in every comment)."""
    raw = b"\x89PNG\r\n\x1a\n" + r.randbytes(max(0, size * 3 // 4 - 8))
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


# ---------------------------------------------------------------- common widgets


def external_scripts(r: random.Random, hosts: tuple[str, ...], n: int) -> str:
    out = []
    for i in range(n):
        host = hosts[i % len(hosts)]
        out.append(f'<script async src="https://{host}/{ident(r, 5)}/{hexid(r, 12)}.js?v={r.randint(1, 999)}"></script>')
    return "".join(out)


def tracking_tags(r: random.Random, site: str) -> str:
    """Analytics and ad-pixel bootstraps as sites paste them into <head>."""
    gtm = f"GTM-{ident(r, 7).upper()}"
    return (
        script(f"window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());"
               f"gtag('config','G-{ident(r, 10).upper()}',{{'site':'{site}','anonymize_ip':true}});")
        + script(f"(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),event:'gtm.js'}});"
                 f"var f=d.getElementsByTagName(s)[0],j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;"
                 f"j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);}})"
                 f"(window,document,'script','dataLayer','{gtm}');")
        + script("!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):"
                 "n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];"
                 "t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}"
                 f"(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','{r.randint(10**14, 10**15)}');"
                 "fbq('track','PageView');")
    )


def meta_tags(r: random.Random, site: str, description: str | None) -> str:
    """Head metas that are not the page's identity (no og:url/og:title/og:image: each renderer states those)."""
    return (
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        + (f'<meta name="description" content="{esc(description)}">' if description else "")
        +         '<meta name="robots" content="max-image-preview:large">'
        f'<meta name="twitter:card" content="summary_large_image"><meta name="twitter:site" content="@{esc(site)}">'
        f'<meta name="theme-color" content="#{hexid(r, 6)}">'
        f'<meta name="google-site-verification" content="{ident(r, 24)}">'
        f'<link rel="preconnect" href="https://cdn.{esc(site)}.example" crossorigin>'
        f'<link rel="dns-prefetch" href="https://www.googletagmanager.com">'
        + "".join(f'<link rel="preload" href="/assets/{ident(r, 6)}.{hexid(r, 8)}.woff2" as="font" type="font/woff2" crossorigin>'
                  for _ in range(3))
        + "".join(f'<link rel="stylesheet" href="/assets/{ident(r, 7)}.{hexid(r, 10)}.css" media="all">' for _ in range(4))
        + '<link rel="icon" href="/favicon.ico" sizes="any"><link rel="apple-touch-icon" href="/apple-touch-icon.png">'
    )


def menu(r: random.Random, base: str, cls: str, sections: int, links: int, extra: Callable[[int], str] | None = None) -> str:
    """A navigation mega-menu: `sections` top items, each with a sub-menu of `links` links."""
    out = [f'<ul class="{cls}">']
    for s in range(sections):
        label = title_words(r, r.randint(1, 2))
        items = "".join(
            f'<li class="menu-item menu-item-type-custom menu-item-{r.randint(1000, 99999)}">'
            f'<a href="{esc(base)}/{slug(title_words(r, 2))}/">{title_words(r, r.randint(1, 3))}</a></li>'
            for _ in range(links))
        more = extra(s) if extra else ""
        out.append(f'<li class="menu-item menu-item-has-children"><a href="{esc(base)}/{slug(label)}/" '
                   f'aria-haspopup="true">{label}</a><ul class="sub-menu sub-menu-multi-column">{items}{more}</ul></li>')
    out.append("</ul>")
    return "".join(out)


def footer(r: random.Random, base: str, site_name: str, columns: int = 4, links: int = 8) -> str:
    cols = []
    for _ in range(columns):
        items = "".join(f'<li><a href="{esc(base)}/{slug(title_words(r, 2))}/">{title_words(r, r.randint(1, 3))}</a></li>'
                        for _ in range(links))
        cols.append(f'<div class="footer-column"><h5 class="footer-heading">{title_words(r, 1)}</h5><ul class="footer-links">{items}</ul></div>')
    social = "".join(f'<a class="social-link social-{s}" href="https://www.{s}.com/{slug(site_name)}" rel="noopener" '
                     f'aria-label="{s}"><svg viewBox="0 0 24 24" width="20" height="20"><path d="{svg_path(r)}"></path></svg></a>'
                     for s in ("facebook", "instagram", "youtube", "twitter"))
    news = (f'<form class="newsletter-form" action="{esc(base)}/newsletter/" method="post"><label for="nl-email">'
            f'{sentence(r, 4, 8)}</label><input type="email" id="nl-email" name="email" placeholder="Email address" required>'
            f'<input type="hidden" name="_token" value="{hexid(r, 32)}"><button type="submit">Subscribe</button></form>')
    return (f'<footer class="site-footer"><div class="footer-top">{"".join(cols)}</div><div class="footer-newsletter">{news}</div>'
            f'<div class="footer-social">{social}</div><div class="footer-bottom"><p>\u00a9 2026 {esc(site_name)}. '
            f'All rights reserved. {sentence(r, 10, 18)}</p></div></footer>')


def checkbox_facets(r: random.Random, groups: int, options: tuple[int, int], cls: str, max_count: int) -> str:
    """Search filters: `groups` fieldsets of checkbox options with result counts (inventory and results pages)."""
    return "".join(f'<fieldset class="{cls}"><legend>{title_words(r, 1)}</legend>'
                   + "".join(f'<label class="{cls}-option"><input type="checkbox" name="{ident(r, 5)}[]" value="{slug(w)}">'
                             f'<span>{esc(w)}</span><span class="{cls}-count">({r.randint(1, max_count)})</span></label>'
                             for w in (title_words(r, r.randint(1, 2)) for _ in range(r.randint(*options)))) + "</fieldset>"
                   for _ in range(groups))


def svg_path(r: random.Random, points: int = 12) -> str:
    return "M" + " ".join(f"{r.randint(0, 24)}.{r.randint(0, 99)},{r.randint(0, 24)}.{r.randint(0, 99)}" for _ in range(points)) + "z"


def svg_sprite(r: random.Random, n: int) -> str:
    symbols = "".join(f'<symbol id="icon-{w}" viewBox="0 0 24 24"><path d="{svg_path(r, r.randint(8, 24))}"></path></symbol>'
                      for w in r.sample(_VOCAB, n))
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{symbols}</svg>'


def cookie_banner(r: random.Random) -> str:
    return (f'<div id="cookie-consent" class="cookie-consent" role="dialog" aria-live="polite" hidden><p>{sentence(r, 18, 30)}'
            f' <a href="/privacy/">Privacy policy</a></p><button class="btn-accept" type="button">Accept all</button>'
            f'<button class="btn-settings" type="button">Settings</button></div>')


# ---------------------------------------------------------------- other cars (carousels, menus, sidebars)


@functools.cache
def _catalog():
    from vehicle_pipeline.sample_site.world import CATALOG

    return CATALOG


def other_cars(r: random.Random, n: int) -> list[dict]:
    """Made-up cars for carousels and menus: year, make, model, title, a price and a result."""
    out = []
    for _ in range(n):
        m = r.choice(_catalog())
        year = r.randint(*m.years)
        trim = r.choice(m.trims)
        title = " ".join(p for p in (str(year), m.make, m.model, trim) if p)
        lo, hi = m.value
        price = int(r.uniform(lo, hi)) // 250 * 250
        out.append({"year": year, "make": m.make, "model": m.model, "title": title, "price": price,
                    "result": r.choice(("Sold for", "Sold for", "Bid to", "Current Bid")), "no_reserve": r.random() < 0.4,
                    "key": f"{slug(title)}-{r.randint(10, 99)}", "id": r.randint(10_000_000, 99_999_999)})
    return out


class Pool:
    """Up to `size` variants of a chrome part, each built on first use by `build(i)`; a listing gets the
    variant its key hashes to, so pages differ from each other but never between requests."""

    def __init__(self, size: int, build: Callable[[int], object]):
        self.size = size
        self._build = build
        self._made: dict[int, object] = {}

    def pick(self, key: str):
        i = stable(key, self.size)
        part = self._made.get(i)
        if part is None:
            part = self._made[i] = self._build(i)
        return part


def organization_ld(name: str, url: str, logo: str, same_as: tuple[str, ...] = ()) -> dict:
    return {"@context": "https://schema.org", "@type": "Organization", "name": name, "url": url, "logo": logo,
            "sameAs": list(same_as) or [f"https://www.facebook.com/{slug(name)}", f"https://www.instagram.com/{slug(name)}"]}


def website_ld(name: str, url: str) -> dict:
    return {"@context": "https://schema.org", "@type": "WebSite", "name": name, "url": url,
            "potentialAction": {"@type": "SearchAction", "target": f"{url}?s={{search_term_string}}",
                                "query-input": "required name=search_term_string"}}


def breadcrumb_ld(items: list[tuple[str, str]]) -> dict:
    return {"@context": "https://schema.org", "@type": "BreadcrumbList",
            "itemListElement": [{"@type": "ListItem", "position": i, "name": name, "item": url}
                                for i, (name, url) in enumerate(items, 1)]}
