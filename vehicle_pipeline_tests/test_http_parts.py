"""Pure parts of the polite client: Retry-After parsing, backoff, challenge detection, configuration."""

from __future__ import annotations

import random
import time
from email.utils import format_datetime
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vehicle_pipeline.http import (
    DEFAULT_USER_AGENT,
    HttpConfig,
    Pace,
    backoff_delay,
    detect_challenge,
    parse_retry_after,
)


# ---- Retry-After


def test_retry_after_seconds():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_http_date():
    now = 1_700_000_000.0
    when = datetime.fromtimestamp(now + 90, tz=timezone.utc)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == pytest.approx(90, abs=1)


def test_retry_after_date_in_the_past_is_zero():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=time.time()) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Wed, 99 Foo 2015"])
def test_retry_after_unreadable(value):
    assert parse_retry_after(value) is None


# ---- backoff


def test_backoff_doubles_with_jitter_and_cap():
    rng = random.Random(1)
    for retry, centre in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        d = backoff_delay(retry, base=1.0, cap=30, rng=rng)
        assert 0.8 * centre <= d <= 1.2 * centre
    assert backoff_delay(20, base=1.0, cap=30, rng=rng) == 30


@given(st.integers(1, 30), st.floats(0.01, 10), st.floats(0.1, 100))
def test_backoff_bounded(retry, base, cap):
    d = backoff_delay(retry, base=base, cap=cap, rng=random.Random(retry))
    assert 0 < d <= cap


# ---- challenge pages

CF_PAGE = b"""<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>
<script>(function(){window._cf_chl_opt={cvId:'3',cZone:'x'};})();</script></body></html>"""
DD_PAGE = b"""<html><head><title>bringatrailer.com</title></head><body>
<script>var dd={'rt':'c','cid':'x','hsh':'y','s':1};</script>
<script src="https://ct.captcha-delivery.com/c.js"></script></body></html>"""
PX_PAGE = b"""<html><head><title>Access to this page has been denied</title></head><body>
<div id="px-captcha"></div><script>window._pxAppId='PXabc';</script></body></html>"""
INC_PAGE = b"""<html><head><META NAME="robots" CONTENT="noindex,nofollow"></head><body>
<iframe id="main-iframe" src="/_Incapsula_Resource?CWUDNSAI=9&xinfo=1" frameborder=0>
Request unsuccessful. Incapsula incident ID: 123-456</iframe></body></html>"""
NORMAL = (
    b"<html><head><title>1990 Porsche 911 Carrera 4</title>"
    b'<script src="/cdn-cgi/challenge-platform/scripts/jsd/main.js"></script>'
    b"<script>window._pxAppId='PXabc';</script>"
    b'<script src="/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3"></script>'
    b"</head><body>" + b"<p>Sold for $75,000 to a happy buyer.</p>" * 3000 + b"</body></html>"
)


@pytest.mark.parametrize(
    "status, headers, body, vendor",
    [
        (403, {"Server": "cloudflare", "CF-RAY": "1"}, CF_PAGE, "cloudflare"),
        (503, {"Server": "cloudflare"}, CF_PAGE, "cloudflare"),
        (403, {"cf-mitigated": "challenge"}, b"", "cloudflare"),
        (200, {"cf-mitigated": "challenge"}, b"", "cloudflare"),
        (403, {"Server": "cloudflare"}, b"<div class='cf-error-details'>Attention Required! | Cloudflare</div>", "cloudflare"),
        (403, {"X-DataDome": "protected"}, DD_PAGE, "datadome"),
        (403, {"X-DataDome-CID": "x"}, b"", "datadome"),
        (200, {}, DD_PAGE, "datadome"),
        (403, {}, PX_PAGE, "perimeterx"),
        (200, {}, PX_PAGE, "perimeterx"),
        (200, {}, INC_PAGE, "incapsula"),
        (403, {"X-Iinfo": "1-2-3"}, b"blocked", "incapsula"),
        (403, {"X-CDN": "Imperva/Incapsula"}, b"", "incapsula"),
    ],
)
def test_challenge_pages_detected(status, headers, body, vendor):
    assert detect_challenge(status, headers, body) == vendor


@pytest.mark.parametrize(
    "status, headers, body",
    [
        (200, {"Server": "cloudflare", "CF-RAY": "1"}, NORMAL),  # sensor scripts on an ordinary page
        (200, {}, b"<p>We discussed the Cloudflare 'Just a moment' page in the comments</p>"),
        (403, {"Server": "nginx"}, b"<h1>Forbidden</h1>"),
        (503, {"Server": "nginx"}, b"<h1>Service unavailable</h1>"),
        (404, {}, b"not found"),
    ],
)
def test_ordinary_pages_are_not_challenges(status, headers, body):
    assert detect_challenge(status, headers, body) is None


# ---- configuration


def test_default_config_is_polite():
    cfg = HttpConfig()
    assert cfg.pace.min_delay == 2.0 and cfg.pace.max_delay == 5.0 and cfg.pace.concurrency == 1
    assert cfg.connect_timeout == 10 and cfg.read_timeout == 30
    assert cfg.max_retries == 2 and cfg.max_redirects == 5
    assert cfg.max_body_bytes == 10 * 1024 * 1024
    assert cfg.retry_after_cap == 3600
    assert cfg.allow_private_hosts == ()
    assert cfg.obey_robots


def test_user_agent_from_environment(monkeypatch):
    monkeypatch.delenv("VEHICLE_PIPELINE_USER_AGENT", raising=False)
    assert HttpConfig().user_agent == DEFAULT_USER_AGENT
    monkeypatch.setenv("VEHICLE_PIPELINE_USER_AGENT", "acme-bot/1.0 (+ops@acme.example)")
    assert HttpConfig().user_agent == "acme-bot/1.0 (+ops@acme.example)"


@pytest.mark.parametrize("args", [(-1, 2), (3, 2), (0, 0, 0)])
def test_pace_validation(args):
    with pytest.raises(ValueError):
        Pace(*args)


def test_pace_draw_within_bounds():
    rng = random.Random(3)
    pace = Pace(0.2, 0.5)
    draws = [pace.draw(rng) for _ in range(200)]
    assert all(0.2 <= d <= 0.5 for d in draws)
    assert max(draws) - min(draws) > 0.1  # actually randomized
    assert Pace(0, 0).draw(rng) == 0


@pytest.mark.parametrize("marker, vendor", [
    (b"<p>Request unsuccessful. Incapsula incident ID: 123-456</p>", "incapsula"),
    (b'<script src="https://ct.captcha-delivery.com/c.js"></script>', None),
    (b'<div id="px-captcha"></div>', None),
    (b"<title>Just a moment...</title><script>window._cf_chl_opt={}</script>", None),
    (b'<script src="/_Incapsula_Resource?x=1"></script><iframe id="main-iframe"></iframe>', None),
])
def test_an_ordinary_sized_2xx_page_is_a_challenge_only_by_incapsulas_incident_text(marker, vendor):
    """Interstitials are small: on a 2xx page of real size, only Incapsula's incident text marks a block
    (the rest are script names ordinary pages carry). The same markers on a small page or an error do count."""
    page = b"<html><body>" + b"<p>ordinary listing text</p>" * 4000 + marker + b"</body></html>"
    assert len(page) > 64 * 1024
    assert detect_challenge(200, {}, marker + page) == vendor
    assert detect_challenge(403, {}, marker + page) is not None
    assert detect_challenge(200, {}, b"<html><body>" + marker + b"</body></html>") is not None
