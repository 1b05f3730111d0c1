"""The one host rule (vehicle_pipeline/hosts.py), run the way production runs it.

Every source's own URLs (index, listing, API, images, next pages, each Craigslist metro and the sapi host)
go through the HTTP client's real `check_url` with the policies `build_http_client` makes from the production
settings, and pass; a host outside a source's list is refused; and the name-resolution override cannot be used
to reach an address the configuration does not allow.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx
import pytest

from vehicle_pipeline import hosts, sources
from vehicle_pipeline.defs.partitions import CRAIGSLIST_METROS
from vehicle_pipeline.http import FetchKind, HttpConfig, Pace, PoliteClient, Reason, SourcePolicy, check_url
from vehicle_pipeline.ingest.context import IngestSettings, build_http_client

# --- the syntax ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry, host, port, expected", [
    ("*.craigslist.org", "sacramento.craigslist.org", 443, True),
    ("*.craigslist.org", "a.b.craigslist.org", 443, True),
    ("*.craigslist.org", "craigslist.org", 443, False),
    ("*.craigslist.org", "evilcraigslist.org", 443, False),
    ("*.craigslist.org", "craigslist.org.evil.com", 443, False),
    ("bringatrailer.com", "BringATrailer.COM.", 443, True),
    ("bringatrailer.com", "www.bringatrailer.com", 443, False),
    ("bringatrailer.com:8443", "bringatrailer.com", 443, False),
    ("bringatrailer.com:8443", "bringatrailer.com", 8443, True),
    ("[::1]:8080", "::1", 8080, True),
    ("127.0.0.1", "127.0.0.1", 1, True),
])
def test_one_syntax_matches_as_documented(entry, host, port, expected):
    assert hosts.matches(host, port, [entry]) is expected


@pytest.mark.parametrize("entry", [".craigslist.org", "craigslist.*", "https://bringatrailer.com", "a b", "",
                                   "host:99999", "*.127.0.0.1"])
def test_another_dialect_fails_loudly_instead_of_matching_nothing(entry):
    with pytest.raises(ValueError):
        hosts.parse_entry(entry)
    with pytest.raises(ValueError):
        SourcePolicy(allowed_hosts=(entry,))


def test_every_source_module_writes_its_hosts_in_the_one_syntax():
    for name in sources.SOURCE_NAMES:
        hosts.check_entries(sources.get(name).ALLOWED_HOSTS)


@pytest.mark.parametrize("mapping", [{"*.craigslist.org": "127.0.0.1:1"}, {"bringatrailer.com:443": "127.0.0.1:1"},
                                     {"bringatrailer.com": "localhost:8443"}, {"bringatrailer.com": "127.0.0.1"}])
def test_a_bad_resolve_override_is_refused_when_the_client_is_made(mapping):
    with pytest.raises(ValueError):
        PoliteClient(HttpConfig(resolve=mapping))


# --- every source's own URLs through the client's real check ---------------------------------------------


@pytest.fixture(scope="module")
def production_client():
    """The client `run` builds: production settings, nothing of the stand-in."""
    with build_http_client(IngestSettings()) as client:
        yield client


def _allowed(client: PoliteClient, source: str):
    policy = client.config.sources[sources.family(source)]
    return policy.allowed_hosts


def _refusal(client: PoliteClient, source: str, url: str) -> str | None:
    return check_url(url, allowed_hosts=_allowed(client, source), allow_private_hosts=client.config.allow_private_hosts)


def _source_urls(truth: dict) -> dict[str, set[str]]:
    """Every URL the stand-in's pages lead the pipeline to, by source family: index entry points, index pages
    and their next pages, the listings they list, listing pages and their images, seller profiles."""
    out: dict[str, set[str]] = {}

    def add(source: str, url: str | None) -> None:
        if url:
            out.setdefault(sources.family(source), set()).add(url)

    for group, urls in truth["index_entry_points"].items():
        for url in urls:
            add(group, url)
    for page in truth["indexes"]:
        src = page["source"]
        add(src, page["fetch_url"])
        add(src, page.get("next_page_url"))
        for item in page.get("items", []):
            add("classic" if page.get("kind") == "sellers" else src, item.get("url") or item.get("profile_url"))
    for listing in truth["listings"]:
        add(listing["source"], listing["fetch_url"])
        add(listing["source"], listing["url"])
        for image in listing.get("images") or []:
            add(listing["source"], image)
    return out


def test_every_sources_own_urls_pass_the_clients_check(production_client, sample_site, truth):
    by_source = _source_urls(truth)
    # The real sites' URLs as the modules build them from their default base URLs.
    for name in sources.SOURCE_NAMES:
        module = sources.get(name)
        if module.DEFAULT_BASE_URL:
            params = {"metro": "sacramento"} if name == "craigslist" else {}
            by_source[name].add(module.index_url(module.DEFAULT_BASE_URL, **params))
    by_source["bat"] |= {"https://bringatrailer.com/wp-content/uploads/2024/01/car-1.jpg"}
    by_source["carsandbids"] |= {"https://media.carsandbids.com/cdn-cgi/image/width=2080/abc/photos/exterior/1.jpg"}
    # Each Craigslist metro the pipeline knows, more of the real ones, the sapi search API and the image host.
    metros = set(CRAIGSLIST_METROS) | {"losangeles", "newyork", "toronto", "montreal", "calgary"}
    craigslist = sources.get("craigslist")
    by_source["craigslist"] |= {craigslist.index_url(craigslist.DEFAULT_BASE_URL, metro=m) for m in metros}
    by_source["craigslist"] |= {f"https://{m}.craigslist.org/cto/d/some-car/7931587034.html" for m in metros}
    by_source["craigslist"] |= {
        "https://sapi.craigslist.org/web/v8/postings/search/full?batch=1-0-360-0-0&cc=US&lang=en&searchPath=cto",
        "https://images.craigslist.org/00x0x_abc_600x450.jpg",
    }
    assert set(by_source) >= {"bat", "carsandbids", "mecum", "broadarrow", "craigslist", "dealer", "classic"}
    refused = {(source, url, why) for source, urls in by_source.items() for url in urls
               if (why := _refusal(production_client, source, url))}
    assert not refused, sorted(refused)[:10]
    # The stand-in's URLs are the real sites' URLs: every one of them is https at a real host name.
    stand_in = {url for urls in _source_urls(truth).values() for url in urls}
    assert all(urlsplit(u).scheme == "https" and not urlsplit(u).port for u in stand_in)


@pytest.mark.parametrize("source, url", [
    ("bat", "https://evil.example/listing/1990-porsche-911/"),
    ("bat", "https://bringatrailer.com.evil.example/listing/x/"),
    ("carsandbids", "https://carsandbids.evil.example/auctions/abc123/x"),
    ("mecum", "https://www.mecum.co/lots/123/x/"),
    ("broadarrow", "https://broadarrowauctions.com.example/vehicles/mo24_123/x"),
    ("craigslist", "https://craigslist.org.evil.example/search/cto"),
    ("craigslist", "https://sacramento.craigslist.com/search/cto"),
    ("classic", "https://www.classic.co/dealers/"),
    ("craigslist", "https://127.0.0.1/search/cto"),
])
def test_a_host_outside_a_sources_list_is_refused(production_client, source, url):
    why = _refusal(production_client, source, url)
    assert why is not None and "not allowed" in why
    result = production_client.fetch(url, source=source)
    assert result.kind is FetchKind.FAILED and result.reason is Reason.REFUSED_URL and result.attempts == 0


def test_dealers_may_be_any_public_host_but_no_private_one(production_client):
    assert _refusal(production_client, "dealer:x", "https://www.somedealer.com/inventory/") is None
    assert _refusal(production_client, "dealer:x", "http://10.0.0.5/inventory/") is not None


# --- the override cannot reach what the configuration does not allow --------------------------------------


def _client(**config) -> PoliteClient:
    return PoliteClient(HttpConfig(pace=Pace(0, 0), retry_backoff=0.01, **config))


def test_the_override_reaches_the_stand_in_only_for_hosts_the_configuration_allows(sample_site):
    target = sample_site.resolve["bringatrailer.com"]
    sample_site.clear_requests()
    # The override alone: the loopback address it names is refused before any connection.
    with _client(resolve={"bringatrailer.com": target}, extra_ca_file=sample_site.ca_file) as client:
        result = client.fetch("https://bringatrailer.com/auctions/", source="bat")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.REFUSED_URL
    assert "loopback" in (result.detail or "")
    # Allowing another host does not allow this one, though both are sent to the same address.
    with _client(resolve={"bringatrailer.com": target, "www.bringatrailer.com": target},
                 extra_ca_file=sample_site.ca_file, allow_private_hosts=["www.bringatrailer.com"]) as client:
        result = client.fetch("https://bringatrailer.com/auctions/")
        assert result.reason is Reason.REFUSED_URL
        # and a redirect from the allowed host to the other one is refused at the hop
        hop = client.fetch("https://www.bringatrailer.com/auctions/")
        assert hop.kind is FetchKind.FAILED and hop.reason is Reason.REFUSED_URL, hop.describe()
    assert [r for r in sample_site.requests() if r["host"] == "bringatrailer.com"] == []
    # Allowed, the same override reaches the stand-in at the real host name, its certificate verified.
    with _client(resolve={"bringatrailer.com": target}, extra_ca_file=sample_site.ca_file,
                 allow_private_hosts=["bringatrailer.com"]) as client:
        assert client.fetch("https://bringatrailer.com/auctions/", source="bat").ok


@pytest.mark.parametrize("address", ["10.1.2.3:443", "169.254.169.254:80", "192.168.0.10:443", "[::1]:443",
                                     "0.0.0.0:443"])
def test_the_override_cannot_reach_a_private_address_the_configuration_does_not_name(address):
    with _client(resolve={"bringatrailer.com": address}, allow_private_hosts=["www.classic.com"],
                 connect_timeout=2) as client:
        result = client.fetch("https://bringatrailer.com/auctions/", source="bat")
    assert result.kind is FetchKind.FAILED and result.reason is Reason.REFUSED_URL, result.describe()
    assert result.attempts <= 1


def test_without_the_extra_ca_the_stand_in_is_not_trusted(sample_site):
    target = sample_site.resolve["bringatrailer.com"]
    with _client(resolve={"bringatrailer.com": target}, allow_private_hosts=["bringatrailer.com"],
                 obey_robots=False, max_retries=0) as client:
        result = client.fetch("https://bringatrailer.com/auctions/")
    assert not result.ok and result.reason is Reason.CONNECTION
    assert "certificate" in (result.detail or "").lower()


def test_the_stand_in_answers_each_site_at_its_own_address_only(sample_site):
    """One loopback address per site: a host asked at another site's address is misdirected (421)."""
    bat, mecum = sample_site.resolve["bringatrailer.com"], sample_site.resolve["www.mecum.com"]
    assert bat.split(":")[0] != mecum.split(":")[0]
    with httpx.Client(verify=ssl.create_default_context(cafile=sample_site.ca_file)) as http:
        address, port = mecum.rsplit(":", 1)
        r = http.get(f"https://{address}:{port}/auctions/", headers={"Host": "bringatrailer.com"},
                     extensions={"sni_hostname": "www.mecum.com"})
    assert r.status_code == 421


def test_the_stand_in_can_put_every_site_on_one_chosen_address_a_port_each():
    """`site_address` (for clients that cannot reach this machine's loopback addresses, e.g. in another network
    namespace): every site listens on that address, each on a port of its own; the resolve map names it, the
    production client reaches each site through it, and a host asked at another site's port is still 421."""
    from vehicle_pipeline.sample_site.server import SampleSite

    with SampleSite(seed=7, listings=20, site_address="127.0.0.1") as site:
        targets = site.resolve
        assert {t.rsplit(":", 1)[0] for t in targets.values()} == {"127.0.0.1"}
        bat, mecum = targets["bringatrailer.com"], targets["www.mecum.com"]
        assert bat != mecum and targets["www.bringatrailer.com"] == bat
        settings = IngestSettings(pace_seconds=(0.0, 0.0), **site.client_settings())
        with build_http_client(settings) as client:
            assert client.fetch("https://bringatrailer.com/auctions/", source="bat").ok
            assert client.fetch(sources.get("mecum").index_url("https://www.mecum.com"), source="mecum").ok
        with httpx.Client(verify=ssl.create_default_context(cafile=site.ca_file)) as http:
            r = http.get(f"https://{mecum}/auctions/", headers={"Host": "bringatrailer.com"},
                         extensions={"sni_hostname": "www.mecum.com"})
        assert r.status_code == 421
        assert {r["host"] for r in site.requests()} >= {"bringatrailer.com", "www.mecum.com"}
