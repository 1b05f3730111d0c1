"""URL checks of the polite client: pure functions, no network (private ranges are never contacted)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vehicle_pipeline.http import address_refusal, check_url, private_allowed

PUBLIC = "https://bringatrailer.com/listing/1970-porsche-911s/"


def test_public_url_without_host_list_is_fine():
    assert check_url(PUBLIC, allowed_hosts=None) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://bringatrailer.com/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,hi",
        "mailto:a@b.c",
        "//bringatrailer.com/x",
        "/relative/path",
        "",
    ],
)
def test_only_absolute_http_urls(url):
    assert check_url(url, allowed_hosts=None) is not None


def test_credentials_in_url_refused():
    assert "credentials" in check_url("https://user:pw@bringatrailer.com/", allowed_hosts=None)


def test_malformed_port_refused():
    assert check_url("http://bringatrailer.com:99999/", allowed_hosts=None) is not None
    assert check_url("http://bringatrailer.com:abc/", allowed_hosts=None) is not None


@pytest.mark.parametrize(
    "allowed, url, ok",
    [
        (["bringatrailer.com"], "https://bringatrailer.com/x", True),
        (["bringatrailer.com"], "https://BringATrailer.COM./x", True),
        (["bringatrailer.com"], "https://www.bringatrailer.com/x", False),
        (["bringatrailer.com"], "https://bringatrailer.com.evil.example/x", False),
        (["bringatrailer.com"], "https://evilbringatrailer.com/x", False),
        (["*.craigslist.org"], "https://sfbay.craigslist.org/cto/d/x/1.html", True),
        (["*.craigslist.org"], "https://craigslist.org.evil.example/", False),
        (["*.craigslist.org"], "https://evilcraigslist.org/", False),
        (["carsandbids.com:443"], "https://carsandbids.com/auctions/x", True),
        (["carsandbids.com:443"], "http://carsandbids.com/auctions/x", False),  # port 80
        ([], "https://bringatrailer.com/x", False),
    ],
)
def test_allowed_hosts(allowed, url, ok):
    assert (check_url(url, allowed_hosts=allowed) is None) is ok


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "127.1",  # inet_aton short form
        "2130706433",  # 127.0.0.1 as one number
        "0x7f000001",
        "0177.0.0.1",  # octal
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[fe80::1]",
        "[fc00::1]",
        "[ff02::1]",
        "localhost",
        "LOCALHOST.",
        "foo.localhost",
        "intranet",  # single-label names resolve through search domains
    ],
)
def test_private_and_local_hosts_refused_by_default(host):
    assert check_url(f"http://{host}:8080/x", allowed_hosts=None) is not None


@pytest.mark.parametrize("host", ["93.184.215.14", "[2606:4700::1111]", "8.8.8.8"])
def test_public_literals_pass(host):
    assert check_url(f"https://{host}/x", allowed_hosts=None) is None


def test_allow_private_hosts_by_host_or_host_port():
    url = "http://127.0.0.1:8765/bat/listing/x/"
    assert check_url(url, allowed_hosts=None, allow_private_hosts=["127.0.0.1"]) is None
    assert check_url(url, allowed_hosts=None, allow_private_hosts=["127.0.0.1:8765"]) is None
    assert check_url(url, allowed_hosts=None, allow_private_hosts=["127.0.0.1:9999"]) is not None
    # another loopback address is still refused: allowing one host is not allowing a range
    assert check_url("http://127.0.0.2:8765/", allowed_hosts=None, allow_private_hosts=["127.0.0.1"]) is not None


def test_allowed_hosts_still_apply_to_private_allowed_hosts():
    url = "http://127.0.0.1:8765/x"
    assert check_url(url, allowed_hosts=["127.0.0.1:8765"], allow_private_hosts=["127.0.0.1"]) is None
    assert check_url(url, allowed_hosts=["127.0.0.1:8766"], allow_private_hosts=["127.0.0.1"]) is not None


def test_private_allowed_ipv6_entries():
    assert private_allowed("::1", 8080, ["[::1]:8080"])
    assert private_allowed("[::1]", 8080, ["[::1]"])
    assert not private_allowed("::1", 8081, ["[::1]:8080"])
    assert not private_allowed("127.0.0.1", 80, [])


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_ipv4_literal_agrees_with_address_refusal(n):
    ip = ipaddress.IPv4Address(n)
    expected_ok = address_refusal(ip) is None
    assert (check_url(f"http://{ip}/", allowed_hosts=None) is None) is expected_ok
    # the same address spelled as one decimal number must get the same verdict
    assert (check_url(f"http://{n}/", allowed_hosts=None) is None) is expected_ok


@given(st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8"]), st.data())
def test_private_ranges_always_refused(net, data):
    network = ipaddress.ip_network(net)
    ip = network[data.draw(st.integers(min_value=0, max_value=network.num_addresses - 1))]
    assert address_refusal(ip) is not None
    assert check_url(f"https://{ip}/listing", allowed_hosts=None) is not None
