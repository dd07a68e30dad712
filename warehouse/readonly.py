"""Read-only execution, the second wall behind the SQL guard: locked-down connections, timeouts, caps.

DuckDB: the file opened ``read_only`` with external access off and configuration locked; a timer
thread interrupts a query past the timeout. PostgreSQL: a SELECT-only role whose sessions default
to read-only transactions with a ``statement_timeout``; every query runs in a transaction that is
rolled back.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from warehouse.errors import ConnectionFailed, QueryFailed, QueryTimeout

logger = logging.getLogger(__name__)

READONLY_ROLE = "uba_reader"
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

    def __init__(self, url: str, *, timeout_s: float = 10.0, max_rows: int = 10_000, max_bytes: int = 16_000_000) -> None:
        self.url = make_url(url)
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        backend = self.url.get_backend_name()
        if backend == "duckdb":
            self.dialect = "duckdb"
            self._db = self._open_duckdb()
        elif backend == "postgresql":
            self.dialect = "postgresql"
            self._db = None
            self._check_postgres()
        else:
            raise ConnectionFailed(
                f"read-only execution supports duckdb and postgresql, not {backend!r}; "
                "set UBA_WAREHOUSE_URL to a DuckDB file or a PostgreSQL database"
            )

    # -- DuckDB ------------------------------------------------------------------------------
    def _open_duckdb(self):
        import duckdb

        path = self.url.database
        if not path or path == ":memory:":
            raise ConnectionFailed("a read-only DuckDB warehouse needs a file; set UBA_WAREHOUSE_URL to duckdb:///path")
        config = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "lock_configuration": True,
        }
        try:
            return duckdb.connect(path, read_only=True, config=config)
        except duckdb.Error as exc:
            raise ConnectionFailed(
                f"cannot open {path!r} read-only: {exc}; build it first (uba data demo) and close writers"
            ) from exc

    def _run_duckdb(self, sql: str) -> QueryResult:
        import duckdb

        cursor = self._db.cursor()
        timer = threading.Timer(self.timeout_s, cursor.interrupt)
        timer.daemon = True
        start = time.perf_counter()
        timer.start()
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows, truncated = self._fetch(cursor)
        except duckdb.InterruptException:
            raise QueryTimeout(f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date") from None
        except duckdb.Error as exc:
            if time.perf_counter() - start >= self.timeout_s:
                raise QueryTimeout(f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date") from None
            raise QueryFailed(_first_line(exc)) from None
        finally:
            timer.cancel()
            cursor.close()
        return QueryResult(columns, rows, truncated, time.perf_counter() - start)

    # -- PostgreSQL ----------------------------------------------------------------------------
    def _pg_connect(self):
        import psycopg

        params = {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.username,
            "password": self.url.password,
            "dbname": self.url.database,
            "options": f"-c default_transaction_read_only=on -c statement_timeout={int(self.timeout_s * 1000)}",
            "connect_timeout": max(1, int(self.timeout_s)),
        }
        try:
            return psycopg.connect(**{k: v for k, v in params.items() if v is not None})
        except psycopg.OperationalError as exc:
            raise ConnectionFailed(
                f"cannot connect read-only as {self.url.username!r}: {_first_line(exc)}; "
                "run `uba warehouse grant-readonly` or set UBA_READONLY_URL"
            ) from None

    def _check_postgres(self) -> None:
        with self._pg_connect() as conn:
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if superuser and superuser[0]:
            logger.warning("read-only connection uses superuser %r; create %r with `uba warehouse grant-readonly`",
                           self.url.username, READONLY_ROLE)

    def _run_postgres(self, sql: str) -> QueryResult:
        import psycopg

        start = time.perf_counter()
        with self._pg_connect() as conn:
            try:
                with conn.cursor() as cursor:
                    cursor.execute(sql)
                    columns = [d.name for d in cursor.description or []]
                    rows, truncated = self._fetch(cursor)
            except psycopg.errors.QueryCanceled:
                raise QueryTimeout(f"query stopped after the {self.timeout_s:g} s timeout; aggregate more or filter by date") from None
            except psycopg.Error as exc:
                raise QueryFailed(_first_line(exc)) from None
            finally:
                conn.rollback()
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

    def query(self, sql: str) -> QueryResult:
        """Run ``sql`` on the read-only connection; :class:`QueryTimeout` / :class:`QueryFailed` on failure."""
        logger.debug("read-only query: %s", sql)
        if self.dialect == "duckdb":
            return self._run_duckdb(sql)
        return self._run_postgres(sql)

    def close(self) -> None:
        """Release the DuckDB file (PostgreSQL connections are per query)."""
        if self._db is not None:
            self._db.close()
            self._db = None


def grant_readonly(admin_url: str, *, role: str = READONLY_ROLE, timeout_s: float = 10.0,
                   tables: tuple[str, ...] | None = None) -> str:
    """Create (or refresh) a PostgreSQL role that can only SELECT the canonical tables; its URL."""
    import psycopg
    from psycopg import sql as pgsql

    from warehouse.event_steps import STEPS_TABLE
    from warehouse.schema import TABLE_NAMES

    url = make_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise ConnectionFailed(f"grant-readonly is for PostgreSQL warehouses, not {url.get_backend_name()!r}; "
                               "DuckDB is opened read-only by file mode")
    tables = tables or (*TABLE_NAMES, STEPS_TABLE)
    ident = pgsql.Identifier(role)
    conninfo = {"host": url.host, "port": url.port, "user": url.username, "password": url.password, "dbname": url.database}
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(pgsql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(ident))
        conn.execute(pgsql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        conn.execute(pgsql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(ident, pgsql.Literal(f"{int(timeout_s * 1000)}ms")))
        conn.execute(pgsql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(pgsql.Identifier(url.database), ident))
        conn.execute(pgsql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        conn.execute(pgsql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        conn.execute(pgsql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
        for table in tables:
            if table == STEPS_TABLE and conn.execute("SELECT to_regclass(%s)", (f"public.{table}",)).fetchone()[0] is None:
                continue  # a warehouse loaded before the step index existed: paths use the window query
            conn.execute(pgsql.SQL("GRANT SELECT ON {} TO {}").format(pgsql.Identifier("public", table), ident))
    logger.info("read-only role %r may SELECT %s in %r", role, ", ".join(tables), url.database)
    return url.set(username=role, password=None).render_as_string(hide_password=False)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
