"""What a response says about waiting and blocking (pure): Retry-After, retry backoff, bot-challenge pages."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from datetime import timezone

def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), never negative;
    None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delay(retry: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Wait before in-request retry number `retry` (1-based) when the server gave no Retry-After:
    base · 2^(retry-1), ±20 % jitter, at most `cap`."""
    rng = rng or random
    return min(cap, base * 2 ** (retry - 1) * rng.uniform(0.8, 1.2))


_CF_STRONG = (b"window._cf_chl_opt", b"cf-browser-verification", b"<title>just a moment...</title>", b"cf_chl_prog")
_CF_WEAK = (b"cf_chl_", b"/cdn-cgi/challenge-platform/", b"attention required! | cloudflare", b"cf-error-details", b"cf-wrapper")
_DD_MARKERS = (b"captcha-delivery.com", b"datadome")
_PX_STRONG = (b'id="px-captcha"', b"_pxcaptcha", b"captcha.px-cdn.net", b"px-captcha")
_PX_WEAK = (b"perimeterx", b"_pxappid", b"/_px/", b"human security")
_INC_STRONG = (b"incapsula incident id", b"request unsuccessful. incapsula")
_INC_WEAK = (b"_incapsula_resource",)
# Every marker that can make a 2xx a challenge contains one of these.
_PRECHECK = (b"captcha", b"_cf_chl", b"just a moment", b"cf-browser-verification", b"incapsula")
_CHALLENGE_SCAN = 64 * 1024
_SMALL_PAGE = 64 * 1024  # challenge interstitials are small; real listing pages are not


def detect_challenge(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """The bot-protection vendor whose challenge/block page this response is, or None.

    Normal pages behind these vendors carry some of the same script names (Cloudflare injects
    /cdn-cgi/challenge-platform/ into ordinary pages; PerimeterX and Incapsula load sensors on every
    page), so on a 2xx only markers of the interstitial itself count, and only on a small page.
    """
    h = {k.lower(): v for k, v in headers.items()}
    if h.get("cf-mitigated", "").lower() == "challenge":
        return "cloudflare"
    head = body[:_CHALLENGE_SCAN].lower()
    error = status >= 400
    if not error and len(body) > _SMALL_PAGE:
        # An ordinary-sized page with a 2xx, the common case: every interstitial marker but Incapsula's
        # incident text needs an error status or a small page (the rules below), so that is all to look for.
        return "incapsula" if any(m in head for m in _INC_STRONG) else None
    if not error and not any(token in head for token in _PRECHECK):
        return None  # the common case, an ordinary page: a handful of substring scans
    small = len(body) <= _SMALL_PAGE
    server = h.get("server", "").lower()
    cf_host = "cloudflare" in server or "cf-ray" in h
    if any(m in head for m in _CF_STRONG) and (error or small):
        return "cloudflare"
    if error and cf_host and any(m in head for m in _CF_WEAK):
        return "cloudflare"

    dd_header = "x-datadome" in h or "x-datadome-cid" in h or "x-dd-b" in h
    if error and (dd_header or any(m in head for m in _DD_MARKERS)):
        return "datadome"
    if small and b"captcha-delivery.com" in head:
        return "datadome"

    if any(m in head for m in _PX_STRONG) and (error or small):
        return "perimeterx"
    if error and any(m in head for m in _PX_WEAK):
        return "perimeterx"

    inc_header = "x-iinfo" in h or "incapsula" in h.get("x-cdn", "").lower()
    if any(m in head for m in _INC_STRONG):
        return "incapsula"
    if (error or small) and b"_incapsula_resource" in head and (b"main-iframe" in head or b"<iframe" in head):
        return "incapsula"
    if error and inc_header:
        return "incapsula"
    return None
