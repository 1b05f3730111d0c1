"""market_comps and repeat_sales from seeded events, against values computed by hand: a non-sale never counts
as a sale, currencies never mix, asking prices sit beside sale figures and never in them."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from vehicle_pipeline.market.comps import markdown_table, refresh_market
from vehicle_pipeline_tests.market_seed import add_sources, seed_listing, valid_vin

DEC = datetime(2025, 12, 10, 18, 0, tzinfo=timezone.utc)
DEC_LATE = datetime(2025, 12, 28, 18, 0, 0, 123456, tzinfo=timezone.utc)  # times with and without fractions
JAN = datetime(2026, 1, 20, 18, 0, tzinfo=timezone.utc)
VIN_A = valid_vin("WP0AB29997S72101")
VIN_B = valid_vin("WP0AB29987S72202")


def _seed(conn):
    add_sources(conn)
    # Porsche 911, 2005-2009, December 2025, USD: four sales under three spellings of the family
    seed_listing(conn, "bat", year=2009, model="911", trim="Carrera 4S", outcome="sold", sale_price=100_000,
                 high_bid=100_000, ended_at=DEC, vin=VIN_A)
    seed_listing(conn, "carsandbids", year=2008, model="997 911", trim="Carrera", outcome="sold",
                 sale_price=120_000, high_bid=120_000, ended_at=DEC)
    seed_listing(conn, "bat", year=2007, model=None, title="2007 Porsche 911 Carrera S Coupe", outcome="sold_after",
                 sale_price=90_000, high_bid=85_000, ended_at=DEC)
    seed_listing(conn, "bat", year=2006, model="911", trim="Carrera", outcome="sold", sale_price=130_000,
                 high_bid=130_000, ended_at=DEC_LATE)
    # ...what the market refused: high bids, never sales
    seed_listing(conn, "bat", year=2009, model="911", outcome="bid_to", high_bid=150_000, ended_at=DEC)
    seed_listing(conn, "carsandbids", year=2005, model="911 Carrera", outcome="bid_to", high_bid=80_000, ended_at=DEC)
    # ended unsold without a bid: in sell-through's denominator, no price anywhere
    seed_listing(conn, "bat", year=2006, model="911", outcome="no_sale", ended_at=DEC)
    # withdrawn: left out of sell-through; live: not ended, left out of everything
    seed_listing(conn, "bat", year=2008, model="911", outcome="withdrawn", high_bid=50_000, ended_at=DEC)
    seed_listing(conn, "bat", year=2008, model="911", outcome="live", high_bid=99_000, ended_at=None)
    # the same family and month in euros: a row of its own
    seed_listing(conn, "broadarrow", year=2007, model="911", outcome="sold", sale_price=70_000, high_bid=70_000,
                 currency="EUR", ended_at=DEC, vin=VIN_B)
    # asking prices of a classified and a dealer car: beside the sales, not in them
    seed_listing(conn, "craigslist:sfbay", year=2006, model="911", outcome=None, asking_price=95_000,
                 first_seen_at=DEC)
    seed_listing(conn, "dealer:sunset-classics", year=2008, model="911", trim="Targa", outcome=None,
                 asking_price=115_000, first_seen_at=DEC)
    # January: the first car again (same VIN) on another site; the euro car again, in dollars
    seed_listing(conn, "carsandbids", year=2009, model="911", trim="Carrera 4S", outcome="sold", sale_price=105_000,
                 high_bid=105_000, ended_at=JAN, vin=VIN_A)
    seed_listing(conn, "bat", year=2007, model="911", outcome="sold", sale_price=80_000, high_bid=80_000,
                 ended_at=JAN, vin=VIN_B)
    # another year band
    seed_listing(conn, "bat", year=1985, model="911", trim="Carrera", outcome="sold", sale_price=60_000,
                 high_bid=60_000, ended_at=DEC)


def _rows(conn, table, order):
    cur = conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_comps_equal_hand_computed_values(db):
    with db.connection() as conn:
        _seed(conn)
    report = refresh_market(db)
    with db.connection() as conn:
        rows = {(r["make"], r["family"], r["year_band"], r["month"], r["currency"]): r
                for r in _rows(conn, "market_comps", "make, family, year_band, month, currency")}
    assert set(rows) == {
        ("Porsche", "911", "2005-2009", date(2025, 12, 1), "USD"),
        ("Porsche", "911", "2005-2009", date(2025, 12, 1), "EUR"),
        ("Porsche", "911", "2005-2009", date(2026, 1, 1), "USD"),
        ("Porsche", "911", "1985-1989", date(2025, 12, 1), "USD"),
    }
    dec = rows[("Porsche", "911", "2005-2009", date(2025, 12, 1), "USD")]
    # sales 90,000 100,000 120,000 130,000: quartiles by linear interpolation (percentile_cont)
    assert dec["sold_count"] == 4
    assert (dec["sale_p25"], dec["sale_median"], dec["sale_p75"]) == (97_500, 110_000, 122_500)
    # ended: 4 sales + 2 reserve-not-met + 1 no-sale; withdrawn and live left out
    assert dec["ended_count"] == 7 and dec["sell_through"] == Decimal("0.5714")
    assert dec["refused_count"] == 2 and dec["refused_median"] == 115_000
    assert dec["asking_count"] == 2 and dec["asking_median"] == 105_000
    eur = rows[("Porsche", "911", "2005-2009", date(2025, 12, 1), "EUR")]
    assert (eur["sold_count"], eur["sale_median"], eur["ended_count"], eur["sell_through"]) == (1, 70_000, 1, 1)
    assert eur["asking_count"] == 0 and eur["asking_median"] is None and eur["refused_median"] is None
    jan = rows[("Porsche", "911", "2005-2009", date(2026, 1, 1), "USD")]
    assert (jan["sold_count"], jan["sale_p25"], jan["sale_median"], jan["sale_p75"]) == (2, 86_250, 92_500, 98_750)
    old = rows[("Porsche", "911", "1985-1989", date(2025, 12, 1), "USD")]
    assert (old["sold_count"], old["sale_median"]) == (1, 60_000)
    assert report.rows == 4 and report.no_currency == 0
    assert "| Porsche | 911 |" in markdown_table(report.comps)


def test_repeat_sales_pair_each_sale_with_the_one_before(db):
    with db.connection() as conn:
        _seed(conn)
    refresh_market(db)
    with db.connection() as conn:
        pairs = _rows(conn, "repeat_sales", "vin")
    assert [(p["vin"], p["first_source"], p["second_source"]) for p in pairs] == sorted(
        [(VIN_A, "bat", "carsandbids"), (VIN_B, "broadarrow", "bat")])
    a = next(p for p in pairs if p["vin"] == VIN_A)
    assert (a["first_price"], a["second_price"], a["price_change"]) == (100_000, 105_000, 5_000)
    assert a["price_change_pct"] == Decimal("5.0000") and a["days_held"] == (JAN - DEC).days
    assert (a["make"], a["family"], a["year_band"]) == ("Porsche", "911", "2005-2009")
    b = next(p for p in pairs if p["vin"] == VIN_B)
    # 70,000 EUR then 80,000 USD: no price change across currencies
    assert (b["first_currency"], b["second_currency"], b["price_change"], b["price_change_pct"]) == \
        ("EUR", "USD", None, None)


def test_a_rerun_replaces_the_tables(db):
    with db.connection() as conn:
        _seed(conn)
    first = refresh_market(db)
    second = refresh_market(db)
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM market_comps").fetchone()[0] == first.rows == second.rows
        assert conn.execute("SELECT count(*) FROM repeat_sales").fetchone()[0] == 2


def test_an_empty_database_gives_empty_tables(db):
    report = refresh_market(db)
    assert report.rows == 0 and report.repeat_sales == 0
    assert markdown_table(report.comps) == "_no sales yet_"


def test_the_market_comps_asset_reports_medians_of_the_most_traded_families(db, db_url):
    import dagster as dg

    from vehicle_pipeline.defs.market import market_comps
    from vehicle_pipeline.defs.resources import PostgresResource

    with db.connection() as conn:
        _seed(conn)
    result = dg.materialize([market_comps], resources={"postgres": PostgresResource(database_url=db_url, pool_size=2)},
                            selection=[market_comps])
    assert result.success
    [mat] = result.asset_materializations_for_node("market_comps")
    meta = mat.metadata
    assert meta["rows"].value == 4 and meta["repeat_sales"].value == 2
    # the latest month with sales: January, 80,000 and 105,000 → 92,500 (USD); EUR's December 70,000
    assert meta["median_porsche_911_usd"].value == 92_500
    assert meta["median_porsche_911_eur"].value == 70_000
    assert "| Porsche | 911 |" in meta["most_traded"].value
