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
from vehicle_pipeline.store.db import Database, DatabaseUrls, resolve_urls, to_psycopg_url, to_sqlalchemy_url
from vehicle_pipeline.store.migrations import migrate

SAMPLE_SITE_ENV = "VEHICLE_PIPELINE_SAMPLE_SITE_URL"


class PostgresResource(dg.ConfigurableResource):
    """The domain database. Without `database_url` the embedded server under $VEHICLE_PIPELINE_HOME is used."""

    database_url: Optional[str] = None
    pool_size: int = 8

    _db: Optional[Database] = PrivateAttr(default=None)

    def urls(self) -> DatabaseUrls:
        if self.database_url:
            url = to_psycopg_url(self.database_url)
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

    `sample_site_url` points every source at the project's sample site (path prefix per source) and allows
    its loopback address; `base_urls_json` overrides single sources ({"bat": "https://…"}).
    """

    sample_site_url: Optional[str] = None
    base_urls_json: Optional[str] = None
    pace_min_seconds: float = 2.0
    pace_max_seconds: float = 5.0
    pace_per_source_json: Optional[str] = None  # {"bat": [3, 6], "dealer:sunset-classics": [10, 20]}
    user_agent: Optional[str] = None
    allow_private_hosts: list[str] = []


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


def ingest_settings(sites: SourceSitesResource, settings: PipelineSettingsResource) -> IngestSettings:
    common = dict(batch_size=settings.batch_size, time_budget_seconds=settings.time_budget_seconds,
                  drain_lanes=settings.drain_lanes, lease_seconds=settings.lease_seconds, max_index_pages=settings.max_index_pages, fast_mode=settings.fast_mode,
                  craigslist_metros=tuple(settings.craigslist_metros), user_agent=sites.user_agent)
    if sites.sample_site_url:
        result = IngestSettings.for_sample_site(sites.sample_site_url, **common)
    else:
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
    if sites.allow_private_hosts:
        result.allow_private_hosts = tuple(result.allow_private_hosts) + tuple(sites.allow_private_hosts)
    return result


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
