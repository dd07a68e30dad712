"""Opening a warehouse (DuckDB file by default, PostgreSQL, ClickHouse or any SQLAlchemy URL) and bulk loading it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from warehouse import clickhouse
from warehouse.errors import ConnectionFailed
from warehouse.event_steps import steps_metadata
from warehouse.review_sentiment import SENTIMENT_TABLE, review_sentiment
from warehouse.schema import ANALYTIC_INDEXES, TABLE_NAMES, metadata

logger = logging.getLogger(__name__)
_WRITABLE: tuple[str, ...] = (*TABLE_NAMES, SENTIMENT_TABLE)
"""Tables ``bulk_insert`` writes: the canonical ones and the derived review sentiment."""

_COPY_CHUNK_ROWS = 200_000


class Warehouse:
    """A behavior warehouse: the canonical tables on one SQLAlchemy engine."""

    def __init__(self, engine: Engine, clickhouse_target: clickhouse.ClickHouseUrl | None = None) -> None:
        self.engine = engine
        self.clickhouse = clickhouse_target

    @classmethod
    def open(cls, url: str) -> Warehouse:
        """Open the warehouse at ``url``, creating a DuckDB file's folder when needed."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConnectionFailed(
                f"warehouse URL {url!r} is not a SQLAlchemy URL; use e.g. "
                "'duckdb:///path/warehouse.duckdb' or 'postgresql+psycopg://user@host/db'"
            ) from exc
        if parsed.get_backend_name() in clickhouse.SCHEMES:
            return cls._open_clickhouse(url)
        if parsed.drivername.startswith("postgresql") and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.drivername == "duckdb" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_engine(parsed)
            with engine.connect():
                pass
        except NoSuchModuleError as exc:
            raise ConnectionFailed(
                f"no SQLAlchemy driver for {parsed.drivername!r}; install the dialect package for it"
            ) from exc
        except OperationalError as exc:
            raise ConnectionFailed(
                f"cannot connect to the warehouse at {parsed.render_as_string(hide_password=True)!r}: "
                f"{exc.orig}; check UBA_WAREHOUSE_URL and that the server is running"
            ) from exc
        return cls(engine)

    @classmethod
    def _open_clickhouse(cls, url: str) -> Warehouse:
        target = clickhouse.ClickHouseUrl.parse(url)
        engine = clickhouse.open_engine(target)
        try:
            with engine.connect():
                pass
        except Exception as exc:  # noqa: BLE001 - the drivers raise their own types; translated once here
            engine.dispose()
            raise ConnectionFailed(
                f"cannot connect to ClickHouse at {url!r}: {str(exc).splitlines()[0][:300]}; "
                "check UBA_WAREHOUSE_URL and that the server (or the chdb directory) is reachable"
            ) from None
        return cls(engine, target)

    @property
    def dialect(self) -> str:
        """The dialect name: ``duckdb``, ``postgresql``, ``clickhouse`` (chdb or a server), ..."""
        return "clickhouse" if self.clickhouse is not None else self.engine.dialect.name

    @property
    def url(self) -> str:
        """The URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def create_schema(self) -> None:
        """Create the canonical tables (and, on row stores, their indexes) if missing."""
        if self.clickhouse is not None:
            with self.engine.begin() as conn:
                clickhouse.create_tables(conn, [*metadata.tables.values(), *steps_metadata.tables.values()])
            return
        metadata.create_all(self.engine)
        steps_metadata.create_all(self.engine)
        if self.dialect != "duckdb":
            with self.engine.begin() as conn:
                for index in ANALYTIC_INDEXES:
                    index.create(conn, checkfirst=True)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    def bulk_insert(self, conn: Connection, table: str, data: pa.Table) -> int:
        """Append ``data`` (columns named as in the schema) to ``table`` inside ``conn``'s transaction."""
        if table not in _WRITABLE:
            raise ValueError(f"unknown table {table!r}; expected one of {_WRITABLE}")
        if data.num_rows == 0:
            return 0
        columns = ", ".join(data.column_names)
        if self.dialect == "duckdb":
            raw: Any = conn.connection.dbapi_connection  # duckdb / psycopg, untyped by SQLAlchemy
            raw.register("_uba_stage", data)
            try:
                raw.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _uba_stage")
            finally:
                raw.unregister("_uba_stage")
        elif self.dialect == "postgresql":
            self._copy_postgres(conn, table, columns, data)
        elif self.clickhouse is not None:
            if table == SENTIMENT_TABLE:
                clickhouse.create_tables(conn, [review_sentiment])
            clickhouse.bulk_insert(conn, self.clickhouse.kind, table, data)
        else:
            rows = data.to_pylist()
            conn.execute((metadata.tables[table] if table in TABLE_NAMES else review_sentiment).insert(), rows)
        return data.num_rows

    @staticmethod
    def _copy_postgres(conn: Connection, table: str, columns: str, data: pa.Table) -> None:
        raw: Any = conn.connection.dbapi_connection  # duckdb / psycopg, untyped by SQLAlchemy
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in data.to_batches(max_chunksize=_COPY_CHUNK_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), buffer, options)
                copy.write(buffer.getvalue())

    def row_counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        with self.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
                for name in TABLE_NAMES
            }

    def analyze(self) -> None:
        """Refresh planner statistics after a bulk load (PostgreSQL); a no-op elsewhere."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))

    def dispose(self) -> None:
        """Close every pooled connection (DuckDB keeps a file lock while one is open)."""
        self.engine.dispose()
