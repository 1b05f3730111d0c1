"""psycopg 3 data access: the server (embedded or DATABASE_URL), migrations, the work queue, sources, vehicles.

No Dagster here: the queue can be exercised from a plain script or test.
"""

from __future__ import annotations

from vehicle_pipeline.store.db import Database, DatabaseError, DatabaseUrls, resolve_urls
from vehicle_pipeline.store.migrations import MigrationError, migrate


def open_database(*, apply_migrations: bool = True, max_size: int = 8, urls: DatabaseUrls | None = None) -> Database:
    """The domain database, migrated, as a connection pool."""
    urls = urls or resolve_urls()
    if apply_migrations:
        migrate(urls.domain)
    return Database(urls.domain, max_size=max_size)


__all__ = ["Database", "DatabaseError", "DatabaseUrls", "MigrationError", "migrate", "open_database", "resolve_urls"]
