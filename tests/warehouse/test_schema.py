"""The canonical schema on a real DuckDB file and a real PostgreSQL database."""

from datetime import datetime

import pyarrow as pa
import pytest
from sqlalchemy import inspect

from warehouse import TABLE_NAMES, ConnectionFailed, Warehouse


def test_create_schema_makes_every_canonical_table(warehouse):
    warehouse.create_schema()  # idempotent
    names = set(inspect(warehouse.engine).get_table_names())
    assert set(TABLE_NAMES) <= names
    columns = {c["name"] for c in inspect(warehouse.engine).get_columns("events")}
    assert {"event_id", "user_id", "session_id", "ts", "event_type", "item_id", "value", "source_event"} <= columns


def test_bulk_insert_is_transactional(warehouse):
    rows = pa.table(
        {
            "event_id": pa.array([1, 2], pa.int64()),
            "user_id": ["u1", "u2"],
            "ts": pa.array([datetime(2026, 1, 1), datetime(2026, 1, 2)], pa.timestamp("us")),
            "event_type": ["view", "purchase"],
            "value": [None, 9.5],
        }
    )
    with pytest.raises(RuntimeError):
        with warehouse.begin() as conn:
            warehouse.bulk_insert(conn, "events", rows)
            raise RuntimeError("fail after the insert")
    assert warehouse.row_counts()["events"] == 0
    with warehouse.begin() as conn:
        assert warehouse.bulk_insert(conn, "events", rows) == 2
    assert warehouse.row_counts()["events"] == 2


def test_postgres_gets_the_analytic_indexes(pg_url):
    wh = Warehouse.open(pg_url)
    wh.create_schema()
    indexes = {i["name"] for i in inspect(wh.engine).get_indexes("events")}
    assert {"ix_events_user_ts", "ix_events_type_ts"} <= indexes
    wh.dispose()


def test_bad_urls_name_the_fix(tmp_path):
    with pytest.raises(ConnectionFailed, match="not a SQLAlchemy URL"):
        Warehouse.open("not a url")
    with pytest.raises(ConnectionFailed, match="no SQLAlchemy driver"):
        Warehouse.open("nosuchdb://x/y")


def test_duckdb_gets_no_art_indexes(duckdb_url):
    """ART indexes would slow DuckDB's bulk loads; it relies on zone maps over time-ordered rows."""
    from sqlalchemy import text

    wh = Warehouse.open(duckdb_url)
    wh.create_schema()
    with wh.engine.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT index_name FROM duckdb_indexes()")).all()]
    wh.dispose()
    assert names == []


def test_money_keeps_its_cents(warehouse):
    items = pa.table({"item_id": ["a", "b"], "price": [15.99, 0.1]})
    with warehouse.begin() as conn:
        warehouse.bulk_insert(conn, "items", items)
    with warehouse.engine.connect() as conn:
        prices = sorted(conn.exec_driver_sql("SELECT price FROM items").scalars())
        total = conn.exec_driver_sql("SELECT SUM(price) FROM items").scalar_one()
    assert prices == [0.1, 15.99]
    assert abs(total - 16.09) < 1e-9
