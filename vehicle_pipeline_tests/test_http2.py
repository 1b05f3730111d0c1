"""The client's httpx transport speaks HTTP/2 where the server offers it (ALPN over TLS), HTTP/1.1 where it
does not or where configuration turns it off, and trusts a server's certificate only through the system store
or the configured extra CA. A real hypercorn server on loopback (h2_server.py)."""

from __future__ import annotations

import json

import pytest

from vehicle_pipeline.http import FetchKind, FetchRequest, HttpConfig, Pace, PoliteClient, Reason
from vehicle_pipeline_tests.h2_server import H2Server

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server():
    with H2Server() as s:
        yield s


def config(server, **kw) -> HttpConfig:
    return HttpConfig(**{"pace": Pace(0, 0), "allow_private_hosts": ("127.0.0.1",), "extra_ca_file": server.ca_file} | kw)


def test_http2_is_used_where_the_server_offers_it(server):
    with PoliteClient(config(server)) as client:
        results = [r for _, r in client.fetch_many([FetchRequest(f"{server.origin}/version?i={i}") for i in range(5)])]
    assert all(r.kind is FetchKind.OK for r in results)
    assert {json.loads(r.content)["http_version"] for r in results} == {"2"}
    assert {r.http_version for r in results} == {"HTTP/2"}


def test_http1_when_http2_is_turned_off(server):
    with PoliteClient(config(server, http2=False)) as client:
        result = client.fetch(f"{server.origin}/version")
    assert result.ok and json.loads(result.content) == {"http_version": "1.1"} and result.http_version == "HTTP/1.1"


def test_body_cap_holds_on_http2(server):
    with PoliteClient(config(server, max_body_bytes=64 * 1024)) as client:
        small = client.fetch(f"{server.origin}/page?kb=13")
        large = client.fetch(f"{server.origin}/page?kb=200")
    assert small.ok and small.http_version == "HTTP/2"
    assert large.kind is FetchKind.FAILED and large.reason is Reason.BODY_TOO_LARGE


def test_a_certificate_from_an_unknown_ca_is_refused(server):
    with PoliteClient(config(server, extra_ca_file=None)) as client:
        result = client.fetch(f"{server.origin}/version")
    assert not result.ok
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
