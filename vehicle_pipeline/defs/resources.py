"""Dagster resources: the database, the source sites (HTTP client settings) and pipeline settings.

Secrets and deployment-specific values come from the environment through `dg.EnvVar` (see definitions.py),
so `dagster definitions validate` passes with none of them set.
"""


import json
import os
from contextlib import contextmanager
from typing import Iterator, Optional

import dagster as dg
from pydantic import PrivateAttr

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.store.db import Database, DatabaseUrls, instance_url, resolve_urls, to_psycopg_url, to_sqlalchemy_url
from vehicle_pipeline.store.migrations import migrate

# The stand-in's settings (demo, dev, tests), set by `launch.use_sample_site`; unset in production.
RESOLVE_ENV = "VEHICLE_PIPELINE_RESOLVE"  # JSON {"host": "address:port"}
EXTRA_CA_ENV = "VEHICLE_PIPELINE_EXTRA_CA"  # path of a PEM bundle
ALLOW_PRIVATE_ENV = "VEHICLE_PIPELINE_ALLOW_PRIVATE_HOSTS"  # JSON ["host", "*.domain", ...]


class PostgresResource(dg.ConfigurableResource):
    """The domain database. Without `database_url` the embedded server under $VEHICLE_PIPELINE_HOME is used."""

    database_url: Optional[str] = None
    pool_size: int = 8

    _db: Optional[Database] = PrivateAttr(default=None)

    def urls(self) -> DatabaseUrls:
        if self.database_url:  # the demo instance's database beside it when the process works on the demo
            url = instance_url(to_psycopg_url(self.database_url))
            return DatabaseUrls(domain=url, dagster=to_sqlalchemy_url(url), embedded=False)
        return resolve_urls()

    def database(self) -> Database:
        if self._db is None:
            urls = self.urls()
            migrate(urls.domain)
            self._db = Database(urls.domain, max_size=self.pool_size)
        return self._db

    def teardown_after_execution(self, context) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class SourceSitesResource(dg.ConfigurableResource):
    """Where the sources live and how politely to fetch them.

    Every source is at its real base URL unless `base_urls_json` overrides it ({"bat": "https://…"}).
    `resolve_json` ({"bringatrailer.com": "127.0.0.10:8443"}) and `extra_ca_file` exist for the stand-in
    (demo, dev, tests): they send the real host names to the sample site and trust its throwaway CA; its
    loopback addresses are reachable only for hosts named in `allow_private_hosts` / `allow_private_hosts_json`.
    `pace_per_source_json` may give "*" for the default pace.
    """

    base_urls_json: Optional[str] = None
    pace_min_seconds: float = 2.0
    pace_max_seconds: float = 5.0
    pace_per_source_json: Optional[str] = None  # {"bat": [3, 6], "dealer:sunset-classics": [10, 20], "*": [2, 5]}
    user_agent: Optional[str] = None
    allow_private_hosts: list[str] = []
    allow_private_hosts_json: Optional[str] = None  # the same as a JSON list (an environment variable's form)
    resolve_json: Optional[str] = None
    extra_ca_file: Optional[str] = None
    render_sources: list[str] = ["carsandbids"]  # sources whose pages are built in the browser (fetch/render.py)
    chromium_path: Optional[str] = None  # None: Debian's /usr/bin/chromium when present, else Playwright's own


class PipelineSettingsResource(dg.ConfigurableResource):
    """How much work one run does and when the overnight window is."""

    batch_size: int = 50
    time_budget_seconds: float = 240.0
    drain_lanes: int = 2  # batches one drain run works on at once
    lease_seconds: float = 900.0  # how long a claimed item stays a run's before another run's claims take it back
    max_index_pages: int = 50
    fast_mode: bool = False
    overnight_timezone: str = "America/Los_Angeles"
    craigslist_metros: list[str] = ["sacramento", "seattle", "sfbay", "vancouver"]
    refetch_after_end_seconds: float = 180.0  # a live auction is fetched again this long after its stated end
    max_attempts: int = 5  # attempts a new work item gets before it is dead
    # page_parses and work_item_events older than this many days are deleted daily (never fewer than drift
    # and health read: store/retention.py), at most retention_batch rows per statement
    retention_days: int = 90
    retention_batch: int = 5000


def ingest_settings(sites: SourceSitesResource, settings: PipelineSettingsResource) -> IngestSettings:
    common = dict(batch_size=settings.batch_size, time_budget_seconds=settings.time_budget_seconds,
                  drain_lanes=settings.drain_lanes, lease_seconds=settings.lease_seconds, max_index_pages=settings.max_index_pages, fast_mode=settings.fast_mode,
                  craigslist_metros=tuple(settings.craigslist_metros), user_agent=sites.user_agent,
                  refetch_after_end_seconds=settings.refetch_after_end_seconds, max_attempts=settings.max_attempts,
                  render_sources=tuple(sites.render_sources), chromium_path=sites.chromium_path)
    result = IngestSettings(pace_seconds=(sites.pace_min_seconds, sites.pace_max_seconds), **common)
    if sites.base_urls_json:
        try:
            overrides = json.loads(sites.base_urls_json)
        except ValueError as exc:
            raise dg.Failure(f"base_urls_json is not JSON: {exc}") from None
        result.base_urls.update(overrides)
    if sites.pace_per_source_json:
        try:
            paces = json.loads(sites.pace_per_source_json)
            result.source_pace = {name: (float(lo), float(hi)) for name, (lo, hi) in paces.items()}
        except (ValueError, TypeError) as exc:
            raise dg.Failure(f"pace_per_source_json must map source names to [min, max] seconds: {exc}") from None
        if "*" in result.source_pace:
            result.pace_seconds = result.source_pace.pop("*")
    allowed = list(sites.allow_private_hosts)
    if sites.allow_private_hosts_json:
        allowed += _json_value(sites.allow_private_hosts_json, "allow_private_hosts_json", list)
    result.allow_private_hosts = tuple(allowed)
    if sites.resolve_json:
        result.resolve = _json_value(sites.resolve_json, "resolve_json", dict)
    result.extra_ca_file = sites.extra_ca_file or None
    return result


def _json_value(text: str, name: str, kind: type):
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise dg.Failure(f"{name} is not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise dg.Failure(f"{name} must be a JSON {'object' if kind is dict else 'list'}, got {text[:80]!r}")
    return value


@contextmanager
def open_ingest(context: dg.OpExecutionContext | dg.AssetExecutionContext | None, postgres: PostgresResource,
                sites: SourceSitesResource, settings: PipelineSettingsResource) -> Iterator[Ingest]:
    """An Ingest for one step. Its worker id names the run, so the run-failure sensor can release its leases."""
    worker = f"run:{context.run.run_id}" if context is not None else f"pid:{os.getpid()}"
    ingest = Ingest(postgres.database(), ingest_settings(sites, settings), worker_id=worker)
    try:
        ingest.ensure_sources()
        yield ingest
    finally:
        ingest.close()
