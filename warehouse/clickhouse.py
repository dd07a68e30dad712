"""ClickHouse as a warehouse: URLs, the MergeTree schema and bulk loads, for chdb (in-process) and a server.

Two URL forms reach the same engine:

* ``chdb:///path/to/dir`` (optionally ``?database=shop``): ClickHouse in this process (the ``chdb``
  package), the tables stored under the directory. One process can hold one chdb directory at a
  time; several warehouses can share it as databases.
* ``clickhouse://user:password@host:8123/db`` (``?secure=true`` for TLS): a ClickHouse server or
  cluster through ``clickhouse-connect`` (its SQLAlchemy dialect for writes, its client for reads).

ClickHouse has no transactions, so a load's all-or-nothing comes from an undo snapshot: before the
first write inside a SQLAlchemy transaction, every warehouse table's parts are attached (hard links,
no copy) to a ``_uba_undo_<table>``; a rollback puts them back, a commit drops them. It assumes one
writer at a time, as the loaders do.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import BigInteger, Connection, DateTime, Double, Engine, Integer, Table, create_engine, event
from sqlalchemy.engine import URL, make_url

from warehouse.errors import ConnectionFailed

SCHEMES = ("chdb", "clickhouse")
CLICKHOUSE_DIALECTS = ("chdb", "clickhousedb")
"""SQLAlchemy dialect names of the two writers (chdb-sqlalchemy, clickhouse-connect)."""

# MergeTree sort keys and partitions: events read by type and time window first (every analytic filters on
# event_type and a date range), then per user; one partition per month so a date range prunes whole parts.
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "events": ("event_type", "ts", "user_id"),
    "event_steps": ("event_type", "ts", "user_id"),
    "users": ("user_id",),
    "items": ("item_id",),
    "orders": ("ts", "order_id"),
    "order_items": ("order_id", "item_id"),
    "reviews": ("review_id",),
    "review_sentiment": ("review_id",),
}
MONTH_PARTITIONED = frozenset({"events", "event_steps", "orders"})


@dataclass(frozen=True)
class ClickHouseUrl:
    """Where a ClickHouse warehouse lives: a chdb directory, or a server; and the database in it."""

    kind: str  # "chdb" or "server"
    database: str
    path: str | None = None
    url: URL | None = None

    @classmethod
    def parse(cls, raw: str) -> ClickHouseUrl:
        """Read a ``chdb://`` or ``clickhouse://`` URL; ConnectionFailed naming the fix when it is malformed."""
        url = make_url(raw)
        scheme = url.get_backend_name()
        database = url.query.get("database")
        if isinstance(database, tuple):
            raise ConnectionFailed(f"URL {raw!r} gives database= {len(database)} times; give it once")
        if scheme == "chdb":
            if url.host or url.username or url.port:
                raise ConnectionFailed(
                    f"chdb URL {raw!r} names a host or user; chdb runs in this process: "
                    "use chdb:///path/to/dir (optionally ?database=name)"
                )
            if not url.database or url.database == ":memory:":
                raise ConnectionFailed(f"chdb URL {raw!r} names no directory; use chdb:///path/to/dir")
            path = str(Path("/" + url.database.lstrip("/")).resolve())
            return cls("chdb", _identifier(database or "default", raw), path=path)
        if scheme == "clickhouse":
            if not url.host:
                raise ConnectionFailed(f"ClickHouse URL {raw!r} names no host; use clickhouse://user:pass@host:8123/db")
            return cls("server", _identifier(url.database or "default", raw), url=url)
        raise ConnectionFailed(f"{raw!r} is not a ClickHouse URL; use chdb:///path or clickhouse://host/db")

    @property
    def directory(self) -> str:
        """The chdb directory; only a ``chdb://`` target has one."""
        if self.path is None:
            raise TypeError(f"a {self.kind} target has no chdb directory")
        return self.path

    @property
    def server(self) -> URL:
        """The server's URL; only a ``clickhouse://`` target has one."""
        if self.url is None:
            raise TypeError(f"a {self.kind} target has no server URL")
        return self.url

    def sqlalchemy_url(self) -> URL:
        """The SQLAlchemy URL of the writer: chdb-sqlalchemy's ``chdb``, or clickhouse-connect's ``clickhousedb``."""
        if self.kind == "chdb":
            return URL.create("chdb", database=self.directory)
        query = {k: v for k, v in self.server.query.items() if k != "database"}
        return self.server.set(drivername="clickhousedb", database=self.database, query=query)


def _identifier(name: str, raw: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ConnectionFailed(f"database name {name!r} in {raw!r} must be letters, digits and '_'")
    return name


UNDO_PREFIX = "_uba_undo_"
_SNAPSHOT = "uba_undo_tables"


def dbapi(conn: Connection) -> Any:
    """The chdb / clickhouse-connect DB-API connection under ``conn`` (untyped by SQLAlchemy and the drivers)."""
    raw: Any = conn.connection.dbapi_connection
    if raw is None:
        raise ConnectionFailed("the ClickHouse connection was closed; open a new one from the warehouse")
    return raw


def _run(conn: Connection, statements: list[str]) -> None:
    cursor = dbapi(conn).cursor()
    try:
        for sql in statements:
            cursor.execute(sql)
    finally:
        cursor.close()


def _tables(conn: Connection) -> list[str]:
    cursor = dbapi(conn).cursor()
    try:
        cursor.execute("SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'")
        return [row[0] for row in cursor.fetchall() if not row[0].startswith(UNDO_PREFIX)]
    finally:
        cursor.close()


def snapshot(conn: Connection) -> None:
    """Before the transaction's first write: keep every table's current parts in an undo table."""
    if _SNAPSHOT in conn.info or not conn.in_transaction():
        return
    names = _tables(conn)
    _run(
        conn,
        [
            sql
            for name in names
            for sql in (
                f"DROP TABLE IF EXISTS `{UNDO_PREFIX}{name}`",
                f"CREATE TABLE `{UNDO_PREFIX}{name}` AS `{name}`",
                f"ALTER TABLE `{UNDO_PREFIX}{name}` ATTACH PARTITION ALL FROM `{name}`",
            )
        ],
    )
    conn.info[_SNAPSHOT] = names


def _finish(conn: Connection, *, restore: bool) -> None:
    names = conn.info.pop(_SNAPSHOT, None)
    if names is None:
        return
    statements = []
    if restore:
        statements += [f"TRUNCATE TABLE IF EXISTS `{name}`" for name in _tables(conn) if name not in names]
        statements += [
            sql
            for name in names
            for sql in (
                f"TRUNCATE TABLE `{name}`",
                f"ALTER TABLE `{name}` ATTACH PARTITION ALL FROM `{UNDO_PREFIX}{name}`",
            )
        ]
    statements += [f"DROP TABLE IF EXISTS `{UNDO_PREFIX}{name}`" for name in names]
    _run(conn, statements)


def open_engine(target: ClickHouseUrl) -> Engine:
    """A SQLAlchemy engine on the target's database (created on chdb when missing)."""
    if target.kind == "chdb":
        Path(target.directory).mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(target.sqlalchemy_url())
    except Exception as exc:  # noqa: BLE001 - a missing driver or a bad URL, translated once
        raise ConnectionFailed(
            f"cannot open ClickHouse at {target.path or target.url!s}: {exc}; "
            "install chdb and chdb-sqlalchemy (in-process) or clickhouse-connect (server)"
        ) from None
    event.listen(engine, "commit", lambda conn: _finish(conn, restore=False))
    event.listen(engine, "rollback", lambda conn: _finish(conn, restore=True))
    if target.kind == "chdb":
        database = target.database

        @event.listens_for(engine, "connect")
        def _use_database(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
                cursor.execute(f"USE `{database}`")
                cursor.execute("SET aggregate_functions_null_for_empty = 1")  # MIN/MAX/SUM of nothing: NULL
                # monthly partitions: a source spanning decades (reviews since 1998) loads in one block
                cursor.execute("SET max_partitions_per_insert_block = 10000")
            finally:
                cursor.close()

    return engine


def _column_type(column) -> str:
    if isinstance(column.type, DateTime):
        base = "DateTime64(6)"
    elif isinstance(column.type, Double):
        base = "Float64"
    elif isinstance(column.type, BigInteger):
        base = "Int64"
    elif isinstance(column.type, Integer):
        base = "Int32"
    else:
        base = "String"
    keyed = column.primary_key or not column.nullable
    return base if keyed else f"Nullable({base})"


def create_table_sql(table: Table) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one canonical table as a MergeTree."""
    columns = ", ".join(f"`{c.name}` {_column_type(c)}" for c in table.columns)
    keys = ", ".join(f"`{k}`" for k in SORT_KEYS.get(table.name, ()))
    partition = " PARTITION BY toYYYYMM(`ts`)" if table.name in MONTH_PARTITIONED else ""
    return f"CREATE TABLE IF NOT EXISTS `{table.name}` ({columns}) ENGINE = MergeTree{partition} ORDER BY ({keys})"


def create_tables(conn: Connection, tables: list[Table]) -> None:
    """Create the tables that are missing."""
    snapshot(conn)
    raw = dbapi(conn)
    cursor = raw.cursor()
    try:
        for table in tables:
            cursor.execute(create_table_sql(table))
    finally:
        cursor.close()


def truncate(conn: Connection, tables: list[str]) -> None:
    """Empty tables (ClickHouse's DELETE needs a WHERE and rewrites parts; TRUNCATE drops them)."""
    snapshot(conn)
    cursor = dbapi(conn).cursor()
    try:
        for name in tables:
            cursor.execute(f"TRUNCATE TABLE IF EXISTS `{name}`")
    finally:
        cursor.close()


def bulk_insert(conn: Connection, kind: str, table: str, data: pa.Table) -> None:
    """Append an Arrow table: through a Parquet file on chdb, ``insert_arrow`` on a server."""
    snapshot(conn)
    raw = dbapi(conn)
    columns = ", ".join(f"`{c}`" for c in data.column_names)
    if kind == "server":
        client = getattr(raw, "client", None) or raw.connection.client
        client.insert_arrow(table, data)
        return
    handle, name = tempfile.mkstemp(prefix="uba-load-", suffix=".parquet")
    os.close(handle)
    try:
        pq.write_table(data, name)
        insert_parquet(raw, table, columns, name)
    finally:
        os.unlink(name)


def insert_parquet(raw, table: str, columns: str, path: str) -> None:
    """``INSERT ... SELECT`` from a Parquet file the process can read (chdb reads local files directly)."""
    cursor = raw.cursor()
    try:
        cursor.execute(f"INSERT INTO `{table}` ({columns}) SELECT {columns} FROM file({_file_literal(path)}, Parquet)")
    finally:
        cursor.close()


def existing_keys(conn: Connection, table: str, key: str, values) -> pa.Array:
    """The subset of ``values`` already stored as ``table.key``: the keys go in as a Parquet file, not SQL text."""
    handle, name = tempfile.mkstemp(prefix="uba-keys-", suffix=".parquet")
    os.close(handle)
    try:
        pq.write_table(pa.table({"k": values}), name)
        cursor = dbapi(conn).cursor()
        try:
            cursor.execute(
                f"SELECT k FROM file({_file_literal(name)}, Parquet) WHERE k IN (SELECT `{key}` FROM `{table}`)"
            )
            found = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.close()
    finally:
        os.unlink(name)
    return pa.array(found, type=values.type)


def _file_literal(path: str) -> str:
    """A local path as a ClickHouse string literal (backslash escapes)."""
    return "'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"
