"""Shared fixtures: a real Postgres (DATABASE_URL, else a private embedded server) and one fresh
database per test, cloned from a migrated template, so tests run in parallel without sharing state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from vehicle_pipeline.store.db import Database, EmbeddedServer, with_database
from vehicle_pipeline.store.migrations import migrate

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def pytest_configure(config):
    # Servers started by tests must be stoppable even when the shell that started pytest ignores SIGTERM.
    for sig in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(sig) is signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    """A maintenance URL of the server the tests use."""
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    # A private embedded server per test session (per xdist worker), never the user's own home.
    home = Path(tempfile.mkdtemp(prefix="vp-test-home-", dir="/tmp"))
    server = EmbeddedServer(home)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def template_db(server_url):
    name = f"vp_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate(with_database(server_url, name))
    yield name
    _drop(server_url, name)


def _drop(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(server_url, template_db):
    """A fresh, migrated database for one test."""
    name = f"vp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_db)))
    yield with_database(server_url, name)
    _drop(server_url, name)


@pytest.fixture
def db(db_url):
    database = Database(db_url, max_size=20)
    yield database
    database.close()


@pytest.fixture
def corpus_dir():
    if not CORPUS.exists():
        pytest.skip(f"corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="module")
def sample_site():
    from vehicle_pipeline.sample_site.server import SampleSite

    site = SampleSite(seed=7, listings=60).start()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def truth(sample_site):
    import httpx

    return httpx.get(sample_site.base_url + "/_truth", timeout=30).json()


def sample_settings(site, **overrides):
    """The production IngestSettings (real base URLs, allow-lists, robots, redirects) pointed at the stand-in
    only by its client settings: the name-resolution override, its CA and the loopback exception for its
    hosts. Pacing is off (the stand-in is local); per-host lanes stay."""
    from vehicle_pipeline.ingest.context import IngestSettings

    return IngestSettings(**{"pace_seconds": (0.0, 0.0), **site.client_settings(), **overrides})


def sample_sites_resource(site, **overrides):
    """The Dagster `sites` resource as demo/dev configure it from the environment, for one stand-in."""
    import json

    from vehicle_pipeline.defs.resources import SourceSitesResource

    fields = dict(resolve_json=json.dumps(site.resolve), extra_ca_file=site.ca_file,
                  allow_private_hosts_json=json.dumps(list(site.resolve)), pace_min_seconds=0.0, pace_max_seconds=0.0)
    return SourceSitesResource(**(fields | overrides))


def pipeline_resources(db_url: str, site, **settings) -> dict:
    """The Dagster resources a real deployment uses, pointed at one test database and a sample site."""
    from vehicle_pipeline.defs.resources import PipelineSettingsResource, PostgresResource

    return {
        "postgres": PostgresResource(database_url=db_url, pool_size=4),
        "sites": sample_sites_resource(site),
        "settings": PipelineSettingsResource(**({"time_budget_seconds": 120.0} | settings)),
    }


def stand_in_client(site, **kw):
    """An httpx client that reaches the stand-in at the real host names (for probing the stand-in itself; the
    pipeline's own client does the same with its `resolve` and `extra_ca_file` settings): each request goes
    to the address `site.resolve` names, with the host name kept in the Host header, SNI and certificate check."""
    import ssl

    import httpx

    class _Transport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            target = site.resolve.get(request.url.host)
            if target is None:
                raise httpx.ConnectError(f"{request.url.host} is not a host of the stand-in", request=request)
            address, port = target.rsplit(":", 1)
            request.extensions = {**request.extensions, "sni_hostname": request.url.host}
            request.url = request.url.copy_with(host=address, port=int(port))
            return super().handle_request(request)

    context = ssl.create_default_context(cafile=site.ca_file)
    return httpx.Client(transport=_Transport(verify=context), timeout=kw.pop("timeout", 15), **kw)


CLI = [str(Path(sys.executable).with_name("vehicle-pipeline"))]


def run_cli(args, env, timeout=600):
    """`vehicle-pipeline ARGS` as a user runs it: a subprocess with `env`."""
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def user_env(db_url):
    """A fresh home for commands run as a user runs them; the embedded server when the suite runs without
    DATABASE_URL, else the test's fresh database (and the demo's beside it, dropped afterwards)."""
    home = Path(tempfile.mkdtemp(prefix="vp-cli-home-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VEHICLE_PIPELINE_", "DAGSTER_"))}
    env["VEHICLE_PIPELINE_HOME"] = str(home)
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = db_url
    else:
        env.pop("DATABASE_URL", None)
    yield env
    if "DATABASE_URL" not in env:
        run_cli(["db", "stop"], env, timeout=120)
    else:  # the demo's database beside the test's (see store.db.instance_url)
        from vehicle_pipeline.store.db import instance_url

        with psycopg.connect(with_database(db_url, "postgres"), autocommit=True) as conn:
            name = instance_url(db_url, "demo").rsplit("/", 1)[-1].split("?", 1)[0]
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
