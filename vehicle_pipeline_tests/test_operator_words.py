"""What an operator reads: failures in words, and the check that refuses sources at non-public addresses."""

from __future__ import annotations

import pytest

from vehicle_pipeline.explain import fetch_outcome, step_reason
from vehicle_pipeline.ingest.source_guard import refused_sources, resolver

DNS = ("failed robots_unavailable robots.txt unreachable: ClientConnectorDNSError: Cannot connect to host "
       "bringatrailer.com:443 ssl:default [Name or service not known]")


@pytest.mark.parametrize("stored, words", [
    ("failed: " + DNS, "cannot read robots.txt, so nothing may be fetched: bringatrailer.com does not resolve "
                       "(Name or service not known)"),
    ("failed: failed connection_error ClientConnectorError: Cannot connect to host www.mecum.com:8443 ssl:default "
     "[Connect call failed ('127.0.0.1', 8443)]", "could not connect: cannot connect to www.mecum.com:8443 "
                                                  "(the connection failed)"),
    ("blocked: blocked challenge status=403 cloudflare", "blocked: a bot-challenge page (HTTP 403): cloudflare"),
    ("failed: failed http_status status=500", "the site answered HTTP 500"),
    ("blocked: challenge page (cloudflare)", "blocked: challenge page (cloudflare)"),  # not the client's tokens: kept
    ("something else entirely", "something else entirely"),
])
def test_a_sources_last_error_in_words(stored, words):
    assert fetch_outcome(stored) == words


def test_a_failed_steps_reason_is_its_first_error_in_words_and_a_count_of_the_rest():
    refused = ("no index page could be read: https://sacramento.craigslist.org/search/cto: failed refused_url host "
               "sacramento.craigslist.org:443 is not allowed for this source")
    assert step_reason(refused) == ("no index page could be read: refused https://sacramento.craigslist.org/search/cto: "
                                    "host sacramento.craigslist.org:443 is not allowed for this source")
    two = f"no index page could be read: https://bringatrailer.com/auctions/results/: {DNS}; " \
          f"https://bringatrailer.com/auctions/: {DNS}"
    assert step_reason(two) == ("no index page could be read: https://bringatrailer.com/auctions/results/: cannot read "
                                "robots.txt, so nothing may be fetched: bringatrailer.com does not resolve (Name or "
                                "service not known) (and 1 more)")
    assert step_reason("ValueError: boom\n  with a second line") == "ValueError: boom with a second line"
    assert len(step_reason("x" * 5000)) <= 300


def test_sources_at_non_public_addresses_are_refused_unless_allowed():
    def dns(host, port):  # what DNS would answer; nothing here leaves the machine
        return {"dealer.example": ["10.1.2.3"], "public.example": ["93.184.215.14"]}.get(host, [])

    found = refused_sources([
        ("bat", "https://bringatrailer.com"),                      # not resolvable here: left to the fetch
        ("dealer:local", "http://127.0.0.1:8765/dealer/local"),    # a stand-in left behind
        ("dealer:lan", "https://dealer.example/inventory/"),       # resolves to a private address
        ("dealer:ok", "https://public.example/cars/"),
        ("dealer:bad", "ftp://public.example/"),
        ("dealer:none", None),
    ], allow_private_hosts=(), resolve=dns)
    assert found == {
        "dealer:local": "http://127.0.0.1:8765/dealer/local: loopback address 127.0.0.1 is not allowed",
        "dealer:lan": "https://dealer.example/inventory/: dealer.example resolves to 10.1.2.3 (private address 10.1.2.3)",
        "dealer:bad": "ftp://public.example/: scheme 'ftp' is not http(s)",
    }
    allowed = refused_sources([("dealer:lan", "https://dealer.example/inventory/"),
                               ("dealer:local", "http://127.0.0.1:8765/x")],
                              allow_private_hosts=("dealer.example", "127.0.0.1:8765"), resolve=dns)
    assert allowed == {}


def test_the_check_resolves_names_as_the_client_does_override_first():
    resolve = resolver({"bringatrailer.com": "127.0.0.1:9"})
    assert refused_sources([("bat", "https://bringatrailer.com")], (), resolve) == {
        "bat": "https://bringatrailer.com: bringatrailer.com resolves to 127.0.0.1 (loopback address 127.0.0.1)"}
    assert refused_sources([("bat", "https://bringatrailer.com")], ("bringatrailer.com",), resolve) == {}
