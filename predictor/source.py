"""Where the predictor reads behavior from: a ``query(sql) -> DataFrame`` callable over the warehouse.

Training reads whole tables through the warehouse engine; tools pass a guarded, read-only,
user-scoped query function instead. Both see the same SQL, built here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
from sqlalchemy import text

from warehouse import Warehouse

Query = Callable[[str], pd.DataFrame]


def sql_literal(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ts_literal(value: datetime) -> str:
    """A SQL timestamp literal both DuckDB and PostgreSQL accept."""
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}'"


def warehouse_query(warehouse: Warehouse) -> Query:
    """A query function over the warehouse's own engine (for training, which reads whole tables)."""

    def query(sql: str) -> pd.DataFrame:
        with warehouse.engine.connect() as conn:
            if warehouse.dialect == "duckdb":
                return conn.connection.dbapi_connection.execute(sql).df()
            result = conn.execute(text(sql))
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    return query


def events_frame(
    query: Query, *, before: datetime | None = None, user_id: str | None = None, last: int | None = None
) -> pd.DataFrame:
    """Events (user_id, ts, event_type, item_id, value, session_id), oldest first per user."""
    where = []
    if before is not None:
        where.append(f"e.ts < {ts_literal(before)}")
    if user_id is not None:
        where.append(f"e.user_id = {sql_literal(user_id)}")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    columns = "e.user_id, e.ts, e.event_id, e.event_type, e.item_id, e.value, e.session_id"
    if last is not None:
        sql = f"SELECT {columns} FROM events AS e{clause} ORDER BY e.ts DESC, e.event_id DESC LIMIT {int(last)}"
        frame = query(sql)
        return frame.iloc[::-1].reset_index(drop=True)
    frame = query(f"SELECT {columns} FROM events AS e{clause} ORDER BY e.user_id, e.ts, e.event_id")
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


def user_exists(query: Query, user_id: str) -> bool:
    """Whether ``user_id`` appears in users or events."""
    uid = sql_literal(user_id)
    users = query(f"SELECT u.user_id FROM users AS u WHERE u.user_id = {uid} LIMIT 1")
    if len(users):
        return True
    return len(query(f"SELECT e.user_id FROM events AS e WHERE e.user_id = {uid} LIMIT 1")) > 0


def data_end(query: Query) -> datetime | None:
    """The timestamp of the latest event, or None for an empty warehouse."""
    frame = query("SELECT MAX(e.ts) AS last_ts FROM events AS e")
    value = frame.iloc[0, 0] if len(frame) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
