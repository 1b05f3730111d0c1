"""What every ingest step needs: the database, the queue, source health, the HTTP client and settings.

Plain Python (no Dagster): the Dagster resources build an `Ingest` and the assets call its steps, and a test
or a script can do the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from urllib.parse import urlsplit

from vehicle_pipeline import sources
from vehicle_pipeline.fetch.render import PageFetcher, RenderConfig, RenderingFetcher
from vehicle_pipeline.http import HttpConfig, Pace, PaceLedger, PoliteClient, SourcePolicy
from vehicle_pipeline.store.db import Database
from vehicle_pipeline.store.pace import HostPaceLedger
from vehicle_pipeline.store.queue import DEFAULT_MAX_ATTEMPTS, WorkQueue
from vehicle_pipeline.store.sources import SourceRegistry

# Source rows every installation has; dealers and Craigslist metros are added by configuration/discovery.
CORE_SOURCES = {
    "bat": "auction",
    "carsandbids": "auction",
    "mecum": "auction",
    "broadarrow": "auction",
    "classic": "directory",
}


@dataclass
class IngestSettings:
    """Where the sources are and how hard to work them."""

    base_urls: dict[str, str] = field(default_factory=dict)  # source (or "dealer:<slug>") → base URL
    craigslist_metros: tuple[str, ...] = ("sacramento", "seattle", "sfbay", "vancouver")
    batch_size: int = 50
    time_budget_seconds: float = 240.0
    drain_lanes: int = 2  # batches a drain run works on at once (see ingest.drain.drain)
    max_index_pages: int = 50
    fast_mode: bool = False  # skip image rows now; queue them as image_fetch work for later
    lease_seconds: float = 900.0
    # Attempts a new listing import or extraction gets before it is dead. A replayed crawl serves the same
    # bytes every time, so there one attempt tells all (`demo --replay` sets 1).
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    pace_seconds: tuple[float, float] = (2.0, 5.0)
    source_pace: dict[str, tuple[float, float]] = field(default_factory=dict)  # per source, beats pace_seconds
    allow_private_hosts: tuple[str, ...] = ()  # hosts allowed to be loopback/private (host-list syntax: hosts.py)
    user_agent: str | None = None
    refetch_after_end_seconds: float = 180.0  # a live auction is fetched again this long after its stated end
    # For the stand-in only (tests, demo, dev); empty in production. `resolve`: host -> "address:port" used
    # instead of DNS (its addresses still need allow_private_hosts); `extra_ca_file`: a PEM CA to trust too.
    resolve: dict[str, str] = field(default_factory=dict)
    extra_ca_file: str | None = None
    # Sources (families) whose listing pages are built by their own script: imported and extracted through
    # the rendering fetcher (headless Chromium), every request still through the polite client.
    render_sources: tuple[str, ...] = ("carsandbids",)
    chromium_path: str | None = None  # None: Debian's /usr/bin/chromium when present, else Playwright's own

    def base_url(self, source: str) -> str:
        if source in self.base_urls:
            return self.base_urls[source].rstrip("/")
        base = sources.family(source)
        if base in self.base_urls and base != "dealer":  # "craigslist:x" is on craigslist's; each dealer its own
            return self.base_urls[base].rstrip("/")
        module = sources.get(source)
        if not module.DEFAULT_BASE_URL:
            raise KeyError(f"no base URL configured for {source}")
        return module.DEFAULT_BASE_URL


def build_http_client(settings: IngestSettings, health=None, ledger: PaceLedger | None = None) -> PoliteClient:
    lo, hi = settings.pace_seconds
    policies = {}
    for name in sources.SOURCE_NAMES:
        module = sources.get(name)
        allowed = tuple(module.ALLOWED_HOSTS) or None
        configured = settings.base_urls.get(name)
        if configured:
            allowed = (urlsplit(configured).netloc,) + (allowed or ())
            if name == "dealer":
                allowed = None  # each dealer has its own host; URLs are still checked for private addresses
        pace = settings.source_pace.get(name)
        policies[name] = SourcePolicy(allowed_hosts=allowed, pace=Pace(*pace) if pace else None)
    for name, pace in settings.source_pace.items():
        if name not in policies:  # "dealer:<slug>" or "craigslist:<metro>": its own pace, the family's hosts
            family = policies.get(sources.family(name), SourcePolicy())
            policies[name] = SourcePolicy(allowed_hosts=family.allowed_hosts, pace=Pace(*pace))
    config = HttpConfig(pace=Pace(lo, hi), sources=policies, allow_private_hosts=settings.allow_private_hosts,
                        resolve=dict(settings.resolve), extra_ca_file=settings.extra_ca_file)
    if settings.user_agent:
        config.user_agent = settings.user_agent
    return PoliteClient(config, health=health, ledger=ledger)


class Ingest:
    """The pipeline's working parts, for one process (a Dagster run, a script, a test)."""

    def __init__(self, db: Database, settings: IngestSettings, client: PoliteClient | None = None,
                 worker_id: str | None = None):
        self.db = db
        self.settings = settings
        self.registry = SourceRegistry(db)
        self.queue = WorkQueue(db, worker_id=worker_id, lease_ttl=timedelta(seconds=settings.lease_seconds))
        # The ledger in this database paces each host across every run, process and machine that drains.
        self.client = client or build_http_client(settings, health=self.registry, ledger=HostPaceLedger(db))
        self._owns_client = client is None
        # Listing pages (imports, extraction): rendered for render_sources. The browser starts on the first
        # rendered page and ends with this context, so it never outlives the run.
        self.pages = PageFetcher(self.client, RenderingFetcher(self.client, RenderConfig(chromium_path=settings.chromium_path)),
                                 settings.render_sources)

    def module(self, source: str) -> ModuleType:
        return sources.get(source)

    def request_seconds(self, source: str) -> float:
        """Mean seconds between two requests to the source's host, as the HTTP client paces it."""
        pace = self.client.source_pace(source)
        return (pace.min_delay + pace.max_delay) / 2

    def ensure_sources(self) -> None:
        """Source rows for the core sites and configured metros/dealers (idempotent)."""
        for name in CORE_SOURCES:
            self.registry.upsert(name, CORE_SOURCES[name], self.settings.base_url(name))
        for metro in self.settings.craigslist_metros:
            name = f"craigslist:{metro}"
            self.registry.upsert(name, "classified", self.settings.base_url("craigslist"), config={"metro": metro})
        for name, url in self.settings.base_urls.items():
            if name.startswith("dealer:"):
                self.registry.upsert(name, "dealer", url)

    def close(self) -> None:
        self.pages.close()
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> "Ingest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
