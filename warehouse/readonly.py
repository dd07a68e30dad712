"""Read-only execution, the engine wall behind the SQL guard: it holds for any SQL, guarded or not.

DuckDB: a masked reader copy (or, for a scoped caller, an in-memory database of that user's rows),
locked before the first query: external access off, no directories, no temp spill, a memory limit;
a timer thread interrupts a query past the timeout (see :mod:`warehouse.duckdb_wall`).
PostgreSQL: a SELECT-only role that reads masking, scoping views, one statement per connection
under a ``statement_timeout`` it cannot change, rolled back (see :mod:`warehouse.pg_wall`).
ClickHouse: ``readonly=1`` sessions with fixed limits and per-table row filters over masked copies
and views (chdb), or a read-only user and settings profile (a server); see :mod:`warehouse.clickhouse_wall`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from warehouse.clickhouse import SCHEMES as CLICKHOUSE_SCHEMES
from warehouse.clickhouse import ClickHouseUrl
from warehouse.clickhouse_wall import ChdbWall, ServerReader
from warehouse.duckdb_wall import DuckDbWall
from warehouse.errors import ConnectionFailed, QueryFailed, QueryTimeout
from warehouse.pg_wall import READONLY_ROLE, VIEW_SCHEMA, grant_readonly, scope_options
from warehouse.sql_policy import SqlPolicy

__all__ = ["READONLY_ROLE", "QueryResult", "ReadOnlyWarehouse", "grant_readonly"]

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_MB = 2048
_FETCH_BATCH = 1_000


@dataclass(frozen=True)
class QueryResult:
    """Rows a query returned, capped; ``truncated`` when a row or byte cap cut it short."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    seconds: float


class ReadOnlyWarehouse:
    """Runs SQL that can only read: one engine-specific connection per query, timeout and caps applied."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        max_rows: int = 10_000,
        max_bytes: int = 16_000_000,
        memory_limit_mb: int = DEFAULT_MEMORY_MB,
        policy: SqlPolicy | None = None,
    ) -> None:
        """``policy``: the tables and columns a DuckDB reader copy holds (default: the canonical schema)."""
        self.url = make_url(url)
        self.policy = policy
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.memory_limit_mb = memory_limit_mb
        backend = self.url.get_backend_name()
        self._wall: DuckDbWall | ChdbWall | ServerReader | None = None
        if backend in CLICKHOUSE_SCHEMES:
            self.dialect = "clickhouse"
            self._open_clickhouse(url)
        elif backend == "duckdb":
            self.dialect = "duckdb"
            self.view_schema = "main"
            self._open_duckdb()
        elif backend == "postgresql":
            self.dialect = "postgresql"
            self.view_schema = self._check_postgres()
        else:
            raise ConnectionFailed(
                f"read-only execution supports duckdb, postgresql and clickhouse (chdb), not {backend!r}; "
                "set UBA_WAREHOUSE_URL to a DuckDB file, a PostgreSQL database or a ClickHouse URL"
            )

    # -- ClickHouse ----------------------------------------------------------------------------
    def _open_clickhouse(self, url: str) -> None:
        target = ClickHouseUrl.parse(url)
        wall_class = ChdbWall if target.kind == "chdb" else ServerReader
        self._wall = wall_class(
            target, timeout_s=self.timeout_s, max_rows=self.max_rows, memory_limit_mb=self.memory_limit_mb
        )
        self.view_schema = self._wall.reader_database

    def _run_clickhouse(self, sql: str, user_scope: str | None) -> QueryResult:
        start = time.perf_counter()
        wall = self._wall
        if wall is None or isinstance(wall, DuckDbWall):
            raise ConnectionFailed(f"{self.url.database!r} is not open as a ClickHouse warehouse")
        try:
            columns, cursor = wall.execute(sql, user_scope)
            rows, truncated = self._fetch(cursor)
        except Exception as exc:  # noqa: BLE001 - chdb raises RuntimeError/ChdbError, the server client its own
            message = _first_line(exc)
            if "TIMEOUT_EXCEEDED" in message or "Timeout exceeded" in message:
                raise QueryTimeout(
                    f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date"
                ) from None
            raise QueryFailed(message) from None
        return QueryResult(columns, rows, truncated, time.perf_counter() - start)

    # -- DuckDB ------------------------------------------------------------------------------
    def _open_duckdb(self) -> None:
        import duckdb

        path = self.url.database
        if not path or path == ":memory:":
            raise ConnectionFailed("a read-only DuckDB warehouse needs a file; set UBA_WAREHOUSE_URL to duckdb:///path")
        self._wall = DuckDbWall(path, memory_limit_mb=self.memory_limit_mb, policy=self.policy)
        try:
            self._wall.reader()
        except duckdb.Error as exc:
            raise ConnectionFailed(
                f"cannot open {path!r} read-only: {exc}; build it first (uba data demo) and close writers"
            ) from exc

    def _run_duckdb(self, sql: str, user_scope: str | None) -> QueryResult:
        import duckdb

        wall = self._wall
        if not isinstance(wall, DuckDbWall):
            raise ConnectionFailed(f"{self.url.database!r} is not open as a DuckDB warehouse")
        conn = wall.reader() if user_scope is None else wall.scoped(user_scope)
        cursor = conn.cursor()
        timer = threading.Timer(self.timeout_s, cursor.interrupt)
        timer.daemon = True
        start = time.perf_counter()
        timer.start()
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows, truncated = self._fetch(cursor)
        except duckdb.InterruptException:
            raise QueryTimeout(
                f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date"
            ) from None
        except duckdb.Error as exc:
            if time.perf_counter() - start >= self.timeout_s:
                raise QueryTimeout(
                    f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date"
                ) from None
            raise QueryFailed(_first_line(exc)) from None
        finally:
            timer.cancel()
            cursor.close()
        return QueryResult(columns, rows, truncated, time.perf_counter() - start)

    # -- PostgreSQL ----------------------------------------------------------------------------
    def _pg_connect(self, user_scope: str | None = None):
        import psycopg

        params: dict[str, Any] = {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.username,
            "password": self.url.password,
            "dbname": self.url.database,
            "options": f"-c default_transaction_read_only=on -c statement_timeout={int(self.timeout_s * 1000)}"
            + scope_options(user_scope),
            "connect_timeout": max(1, int(self.timeout_s)),
        }
        try:
            return psycopg.connect(**{k: v for k, v in params.items() if v is not None})
        except psycopg.OperationalError as exc:
            raise ConnectionFailed(
                f"cannot connect read-only as {self.url.username!r}: {_first_line(exc)}; "
                "run `uba warehouse grant-readonly` or set UBA_READONLY_URL"
            ) from None

    def _check_postgres(self) -> str:
        """The schema queries read: the wall's views when the role has them, else (an old grant) public."""
        with self._pg_connect() as conn:
            superuser, views = conn.execute(
                "SELECT rolsuper, has_schema_privilege(current_user, %s, 'USAGE') "
                "FROM pg_roles, pg_namespace WHERE rolname = current_user AND nspname = %s",
                (VIEW_SCHEMA, VIEW_SCHEMA),
            ).fetchone() or (None, False)
        if superuser:
            logger.warning(
                "read-only connection uses superuser %r; create %r with `uba warehouse grant-readonly`",
                self.url.username,
                READONLY_ROLE,
            )
        if not views:
            logger.warning(
                "no %s views for %r: the database is no wall for masking and scope; run `uba warehouse grant-readonly`",
                VIEW_SCHEMA,
                self.url.username,
            )
            return "public"
        return VIEW_SCHEMA

    def _run_postgres(self, sql: str, user_scope: str | None) -> QueryResult:
        import psycopg

        start = time.perf_counter()
        conn = self._pg_connect(user_scope)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, prepare=True)  # a prepared statement is exactly one statement
                columns = [d.name for d in cursor.description or []]
                rows, truncated = self._fetch(cursor)
        except psycopg.errors.QueryCanceled:
            raise QueryTimeout(
                f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date"
            ) from None
        except psycopg.Error as exc:  # a lost connection too (e.g. the backend was terminated)
            raise QueryFailed(_first_line(exc)) from None
        finally:
            try:
                conn.rollback()
                conn.close()
            except psycopg.Error:
                logger.warning("read-only connection was lost before its rollback")
        return QueryResult(columns, rows, truncated, time.perf_counter() - start)

    # -- shared ----------------------------------------------------------------------------------
    def _fetch(self, cursor) -> tuple[list[tuple[Any, ...]], bool]:
        rows: list[tuple[Any, ...]] = []
        size = 0
        while True:
            batch = cursor.fetchmany(_FETCH_BATCH)
            if not batch:
                return rows, False
            for row in batch:
                size += sum(sys.getsizeof(v) for v in row)
                if len(rows) >= self.max_rows or size > self.max_bytes:
                    return rows, True
                rows.append(tuple(row))

    def query(self, sql: str, *, user_scope: str | None = None) -> QueryResult:
        """Run ``sql`` read-only, confined to ``user_scope``'s rows when given; QueryTimeout / QueryFailed on failure."""
        logger.debug("read-only query (scope %r): %s", user_scope, sql)
        if self.dialect == "duckdb":
            return self._run_duckdb(sql, user_scope)
        if self.dialect == "clickhouse":
            return self._run_clickhouse(sql, user_scope)
        return self._run_postgres(sql, user_scope)

    def close(self) -> None:
        """Release the DuckDB reader copy or the chdb sessions (PostgreSQL connections are per query)."""
        if self._wall is not None:
            self._wall.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
