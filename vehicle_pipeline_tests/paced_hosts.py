"""Paced hosts on the sample site, a backlog to drain from them, and drain workers as separate processes.

The stand-in answers every site at its real host names over HTTPS (a host name each, as in production); the
workers are configured as a deployment is (real base URLs, allow-lists, robots), pointed at the stand-in only
by its client settings (resolve override, CA, private-address exception), and every request is paced at
`pace` seconds. The site's request log (`/_admin/requests`, server-side monotonic stamps, the Host each
request named) then shows the gaps each host saw. Used by the politeness tests and bench/polite_bench.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from vehicle_pipeline.ingest.context import Ingest, IngestSettings
from vehicle_pipeline.ingest.index import walk_index
from vehicle_pipeline.sample_site.server import SampleSite
from vehicle_pipeline.store.db import Database, to_sqlalchemy_url, with_database

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("bat", "carsandbids", "mecum", "broadarrow", "dealer")  # drained families (each dealer its own host)


def paced_site(host: str = "127.0.0.1", listings: int = 80, seed: int = 7, site_address: str | None = None) -> SampleSite:
    """The stand-in, its control origin on `host`; `site_address` puts every site on that address (a port
    each) instead of a loopback address each (for workers in other network namespaces)."""
    return SampleSite(seed=seed, listings=listings, host=host, site_address=site_address).start()


def _family(source: str) -> str:
    return source.split(":", 1)[0]


def backlog_hosts(truth: dict) -> set[str]:
    """The host names of the drained families' listing pages: each must be paced, and must show in the log."""
    return {urlsplit(listing["fetch_url"]).hostname for listing in truth["listings"]
            if _family(listing["source"]) in FAMILIES}


def queue_backlog(db: Database, site: SampleSite) -> int:
    """Walk every drained family's index pages (unpaced, in this process, with the production settings) so
    the import queue holds one item per listing; returns how many listings that is, by the site's truth.
    Dealers are registered at their own sites, as dealer discovery (classic_sellers) registers them."""
    truth = site.truth()
    settings = IngestSettings(pace_seconds=(0.0, 0.0), **site.client_settings())
    dealer_sites = site.source_base_urls()
    with Ingest(db, settings, worker_id="backlog") as ingest:
        ingest.ensure_sources()
        for source, urls in truth["index_entry_points"].items():
            if _family(source) not in FAMILIES:
                continue
            if source.startswith("dealer:"):
                ingest.registry.upsert(source, "dealer", dealer_sites[source])
            for url in urls:
                walk = walk_index(ingest, source, url)
                if walk.failed or walk.blocked:
                    raise AssertionError(f"index walk of {url} failed: {walk}")
    site.clear_requests()
    return sum(1 for listing in truth["listings"] if _family(listing["source"]) in FAMILIES)


def gaps_by_host(rows: Iterable[dict]) -> dict[str, list[float]]:
    """Start-to-start gaps between consecutive requests each site host saw (robots.txt included), from the
    stand-in's request log rows (the control origin's rows carry no host and are left out)."""
    starts: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row["host"]:
            starts[row["host"]].append(row["started"])
    return {host: [b - a for a, b in zip(sorted(s), sorted(s)[1:])] for host, s in starts.items()}


def worker_spec(db_url: str, site: SampleSite, pace: float, **settings) -> dict:
    """A drain worker's spec: the production sites configuration, every request paced at `pace`, and the
    stand-in's client settings (resolve override, CA, private-address exception for its hosts)."""
    client = site.client_settings()
    return {
        "db_url": db_url,
        "default_pace": [pace, pace],
        "resolve": client["resolve"],
        "extra_ca_file": client["extra_ca_file"],
        "allow_private_hosts": list(client["allow_private_hosts"]),
        "settings": {"time_budget_seconds": 300.0, "batch_size": 10, **settings},
    }


class DagsterHome:
    """A Dagster instance (the project's dagster.yaml) whose storage is a database of its own on the test
    server, shared by every worker process given `env()`: one instance, as a deployment has."""

    def __init__(self, server_url: str, tmp: Path, reach_url: str | None = None):
        self.server_url = server_url
        self.name = f"vp_dagster_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.home = tmp / "dagster_home"
        self.home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        self.storage_url = to_sqlalchemy_url(with_database(reach_url or server_url, self.name))
        # Create Dagster's tables once, here, so workers starting together do not race to make them.
        self.instance().dispose()

    def env(self) -> dict[str, str]:
        return {"DAGSTER_HOME": str(self.home), "VEHICLE_PIPELINE_DAGSTER_PG_URL": self.storage_url}

    def instance(self):
        import dagster as dg

        saved = {k: os.environ.get(k) for k in self.env()}
        os.environ.update(self.env())
        try:
            return dg.DagsterInstance.get()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def drop(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


def start_worker(spec: dict, env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """A drain worker process (vehicle_pipeline_tests/drain_worker.py); `prefix` runs it elsewhere
    (`ip netns exec NS`). Its own session, so a test can kill it and everything it started."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*prefix, sys.executable, "-m", "vehicle_pipeline_tests.drain_worker", json.dumps(spec)],
                            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def worker_result(proc: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"drain worker failed ({proc.returncode}):\n{err[-4000:]}")
    return json.loads(lines[-1])


class PostgresRelay:
    """A TCP address for the test's Postgres (which may listen on a Unix socket only): connections accepted
    on `host` are relayed byte for byte to the server, so processes in other network namespaces reach it."""

    def __init__(self, server_url: str, host: str):
        info = conninfo_to_dict(server_url)
        self.info = info
        target = info.get("host") or "/tmp"
        port = int(info.get("port") or 5432)
        self._target = ("unix", f"{target}/.s.PGSQL.{port}") if target.startswith("/") else ("tcp", (target, port))
        self.host = host
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def serve():
            self.server = await asyncio.start_server(self._relay, host, 0)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self._run, args=(serve,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, serve) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    async def _relay(self, reader, writer) -> None:
        kind, where = self._target
        try:
            if kind == "unix":
                up_reader, up_writer = await asyncio.open_unix_connection(where)
            else:
                up_reader, up_writer = await asyncio.open_connection(*where)
        except OSError:
            writer.close()
            return

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def url(self, dbname: str) -> str:
        user = quote(self.info.get("user") or "postgres", safe="")
        password = self.info.get("password")
        auth = f"{user}:{quote(password, safe='')}" if password else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def close(self) -> None:
        def stop():
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        self.thread.join(5)
