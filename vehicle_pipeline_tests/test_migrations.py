"""Migrations: idempotent, safe under concurrency, atomic per file; and the schema's own guarantees."""

from __future__ import annotations

import shutil
import threading

import psycopg
import pytest

from vehicle_pipeline.store.migrations import SQL_DIR, MigrationError, applied, migrate


@pytest.fixture
def empty_db_url(server_url):
    import uuid

    from psycopg import sql

    from vehicle_pipeline.store.db import with_database

    name = f"vp_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_second_run_is_a_no_op(empty_db_url):
    first = migrate(empty_db_url)
    assert first and first[0].startswith("001_")
    assert migrate(empty_db_url) == []
    assert applied(empty_db_url) == first


def test_two_migrators_at_once_both_succeed(empty_db_url):
    results, errors = [], []

    def go():
        try:
            results.append(migrate(empty_db_url))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors
    assert sorted(len(r) for r in results)[0] == 0 and sorted(len(r) for r in results)[1] >= 1


def test_broken_migration_rolls_back_and_names_itself(empty_db_url, tmp_path):
    for path in SQL_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "900_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nINSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(MigrationError, match="900_broken.sql"):
        migrate(empty_db_url, tmp_path)
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
        assert conn.execute("SELECT to_regclass('work_items')").fetchone()[0] is not None
    assert all(not name.startswith("900") for name in applied(empty_db_url))


def test_sale_price_is_impossible_without_a_sale(db):
    with db.connection() as conn:
        conn.execute("INSERT INTO sources (name, kind) VALUES ('bat', 'auction')")
        listing = conn.execute("""INSERT INTO listings (source, external_id, url)
                                  VALUES ('bat', 'x', 'https://bringatrailer.com/listing/x/') RETURNING id""").fetchone()[0]
        with pytest.raises(psycopg.errors.CheckViolation, match="sale_price_only_on_sale"):
            conn.execute("""INSERT INTO auction_events (listing_id, source, outcome, sale_price, high_bid, currency)
                            VALUES (%s, 'bat', 'bid_to', 89500, 89500, 'USD')""", (listing,))
        conn.execute("""INSERT INTO auction_events (listing_id, source, outcome, high_bid, currency)
                        VALUES (%s, 'bat', 'bid_to', 89500, 'USD')""", (listing,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE auction_events SET outcome = 'maybe' WHERE listing_id = %s", (listing,))
