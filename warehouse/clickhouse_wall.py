"""ClickHouse's half of the engine wall: ``readonly=1`` sessions with fixed limits, over masked copies and views.

chdb (ClickHouse in this process) has no users, so the wall is built from what a session cannot
change once ``readonly=1`` is set: no writes, no DDL, no table functions (``file``, ``url``, ``s3``,
``remote``, ``executable``), no ``SET``; ``max_execution_time``, ``max_memory_usage`` and
``max_result_rows`` fixed; and ``additional_table_filters``, which the engine applies to every read
of a table, however it is reached (views, subqueries, joins). The reader database
``<db>_uba_reader`` holds views over the warehouse; ``users`` and ``reviews`` come from copies in
``<db>_uba_private`` (e-mails masked when written; reviews also kept with contact details masked,
which a scoped caller reads instead). The raw ``users`` and ``reviews`` are filtered to no rows for
every reader; a scoped session's filters keep only its user's rows everywhere.

What ``readonly=1`` still lets through in chdb (measured: the scalar ``file()`` reads any local
file, ``merge()`` reads a table past its row filter, ``INTO OUTFILE`` writes, several statements run
in one call, ``system`` tables show the directory) is refused before a query runs, on the engine's
own parse tree (``EXPLAIN AST``): exactly one SELECT with no output clause, table functions from a
short allow-list, no ``system`` table, none of the functions that read outside the tables. On a server the same
limits come from the read-only user's settings profile (``warehouse/clickhouse_grants.py``, run by
``uba warehouse grant-readonly``).
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from typing import TYPE_CHECKING

from warehouse.clickhouse import ClickHouseUrl
from warehouse.clickhouse_sql import clickhouse_sql
from warehouse.errors import ConnectionFailed
from warehouse.sql_policy import USER_SCOPE_FILTERS, SqlPolicy, text_pii_mask

if TYPE_CHECKING:  # chdb itself is imported when a reader opens, not with this module
    import clickhouse_connect.driver
    from chdb.state.sqlitelike import Connection as ChdbConnection

logger = logging.getLogger(__name__)

PRIVATE, READER = "{db}_uba_private", "{db}_uba_reader"
_COPIED = ("users", "reviews")
_SYSTEM_HIDDEN = (
    "system.processes",
    "system.query_log",
    "system.query_thread_log",
    "system.text_log",
    "system.query_views_log",
    "system.session_log",
    "system.part_log",
)
"""What other sessions ran (their SQL, their scope) is filtered out of every reader's view."""
SCOPE_CACHE = 4
TABLE_FUNCTIONS = frozenset(
    {"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateseries", "values"}
)
"""Table functions a reader may use: they make rows, they read nothing."""
DENIED_FUNCTIONS = frozenset(
    """
file getserversetting getmergetreesetting getmacro filesystemavailable filesystemcapacity filesystemunreserved
hascolumnintable joinget joingetornull gettypeserializationstreams getoskernelversion hostname fqdn serveruuid
tcpport getclienthttpheader currentprofiles enabledprofiles defaultprofiles currentroles enabledroles defaultroles
""".split()
)
"""Scalar functions that read outside the warehouse tables or describe the host (plus every ``dict*``)."""


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ChdbWall:
    """The reader objects of one chdb warehouse and its locked read-only sessions."""

    def __init__(
        self,
        target: ClickHouseUrl,
        *,
        timeout_s: float,
        max_rows: int,
        memory_limit_mb: int,
        policy: SqlPolicy | None = None,
    ) -> None:
        import chdb

        self.target = target
        self.policy = policy or SqlPolicy.canonical()
        self.timeout_s, self.max_rows, self.memory_limit_mb = timeout_s, max_rows, memory_limit_mb
        self.database = target.database
        self.private = PRIVATE.format(db=target.database)
        self.reader_database = READER.format(db=target.database)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._sessions: dict[str | None, ChdbConnection] = {}
        try:
            self._admin: ChdbConnection = chdb.connect(target.directory)
        except Exception as exc:  # noqa: BLE001 - chdb raises RuntimeError / ChdbError
            raise ConnectionFailed(
                f"cannot open the chdb warehouse {target.path!r}: {exc}; "
                "one process holds one chdb directory: close other warehouses first"
            ) from None
        self.refresh()

    # -- the reader objects -----------------------------------------------------------------------
    def _columns(self) -> dict[str, list[str]]:
        rows = self._admin.query(
            f"SELECT table, name FROM system.columns WHERE database = {_quote(self.database)} ORDER BY table, position",
            "JSONCompact",
        )
        import json

        found: dict[str, list[str]] = {}
        for table, column in json.loads(str(rows))["data"] if str(rows).strip() else []:
            found.setdefault(table, []).append(column)
        return found

    def _current_stamp(self) -> tuple:
        names = ", ".join(_quote(n) for n in _COPIED)
        return tuple(
            str(
                self._admin.query(
                    "SELECT sum(rows), max(modification_time), count() FROM system.parts "
                    f"WHERE active AND database = {_quote(self.database)} AND table IN ({names})",
                    "CSV",
                )
            ).split(",")
        )

    def refresh(self) -> None:
        """(Re)build the private copies and reader views when ``users`` or ``reviews`` changed."""
        with self._lock:
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return
            present = self._columns()
            if not present:
                raise ConnectionFailed(
                    f"no tables in chdb database {self.database!r} at {self.target.path!r}; "
                    "load data first (uba data demo / uba ingest)"
                )
            run = self._admin.query
            db, private, reader = f"`{self.database}`", f"`{self.private}`", f"`{self.reader_database}`"
            run(f"CREATE DATABASE IF NOT EXISTS {private}")
            run(f"CREATE DATABASE IF NOT EXISTS {reader}")
            for name in (n for n in self.policy.tables if n in present):
                columns = self.policy.wall_columns(name, present[name])
                if name in _COPIED:
                    columns = clickhouse_sql(f"SELECT {columns}", read="postgres")[len("SELECT ") :]
                    run(
                        f"CREATE OR REPLACE TABLE {private}.`{name}` ENGINE = MergeTree ORDER BY tuple() "
                        f"AS SELECT {columns} FROM {db}.`{name}`"
                    )
                    source = f"{private}.`{name}`"
                    if name == "reviews":
                        masked = self.policy.wall_columns(name, present[name], text=text_pii_mask)
                        masked = clickhouse_sql(f"SELECT {masked}", read="postgres")[len("SELECT ") :]
                        run(
                            f"CREATE OR REPLACE TABLE {private}.`reviews_masked` ENGINE = MergeTree ORDER BY tuple() "
                            f"AS SELECT {masked} FROM {private}.`reviews`"
                        )
                        source = (
                            f"(SELECT * FROM {private}.`reviews` UNION ALL SELECT * FROM {private}.`reviews_masked`)"
                        )
                    run(f"CREATE OR REPLACE VIEW {reader}.`{name}` AS SELECT * FROM {source}")
                else:
                    run(f"CREATE OR REPLACE VIEW {reader}.`{name}` AS SELECT {columns} FROM {db}.`{name}`")
            self._hidden = [f"{self.database}.{n}" for n in present if n not in self.policy.tables or n in _COPIED]
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
            self._stamp = stamp
            logger.info("chdb reader objects of %s rebuilt in %s", self.database, self.reader_database)

    # -- sessions ---------------------------------------------------------------------------------
    def filters(self, user_scope: str | None) -> dict[str, str]:
        """``additional_table_filters`` of a session: raw PII tables and others' rows filtered out."""
        out = {name: "0" for name in (*self._hidden, *_SYSTEM_HIDDEN)}
        if user_scope is None:
            out[f"{self.private}.reviews_masked"] = "0"
            return out
        user = _quote(user_scope)
        schema = f"`{self.database}`"
        for name, condition in USER_SCOPE_FILTERS.items():
            # The raw reviews table is hidden from readers: a filter reading it reads the scope's masked copy.
            where = condition.format(schema=schema).replace(f"{schema}.reviews", f"`{self.private}`.reviews_masked")
            where = where.replace(":user", user)
            key = {"users": "users", "reviews": "reviews_masked"}.get(name)
            out[f"{self.private}.{key}" if key else f"{self.database}.{name}"] = where
        out[f"{self.private}.reviews"] = "0"
        return out

    def connection_string(self, user_scope: str | None) -> str:
        """The chdb connection string of a locked session (``readonly=1`` last: it freezes the others)."""
        filters = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in self.filters(user_scope).items()) + "}"
        settings = {
            "max_execution_time": f"{self.timeout_s:g}",
            "timeout_overflow_mode": "throw",
            "max_memory_usage": str(self.memory_limit_mb * 1024 * 1024),
            "max_result_rows": str(self.max_rows + 1),
            "result_overflow_mode": "break",
            "join_use_nulls": "1",
            "aggregate_functions_null_for_empty": "1",
            "additional_table_filters": filters,
            "readonly": "1",
        }
        return f"{self.target.directory}?" + "&".join(
            f"{k}={urllib.parse.quote(v, safe='')}" for k, v in settings.items()
        )

    def session(self, user_scope: str | None) -> ChdbConnection:
        """A locked read-only chdb connection for ``user_scope`` (cached; rebuilt when the warehouse changed)."""
        import chdb

        self.refresh()
        with self._lock:
            if user_scope in self._sessions:
                return self._sessions[user_scope]
            conn = chdb.connect(self.connection_string(user_scope))
            conn.query(f"USE `{self.reader_database}`")
            if len(self._sessions) >= SCOPE_CACHE + 1:
                oldest = next(k for k in self._sessions if k is not None)
                self._sessions.pop(oldest).close()
            self._sessions[user_scope] = conn
            return conn

    def close(self) -> None:
        """Close every session and the admin connection (chdb shuts down with the last one)."""
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
            self._admin.close()

    def execute(self, sql: str, user_scope: str | None):
        """Run ``sql`` in the session of ``user_scope``: its column names and a cursor to fetch from."""
        session = self.session(user_scope)
        check_ast(str(session.query("EXPLAIN AST " + sql, "TSVRaw")))
        cursor = session.cursor()
        cursor.execute(sql)
        return [d[0] for d in cursor.description or []], cursor


class RefusedByWall(Exception):
    """The engine's parse of a query shows something a reader may not do."""


def _node(line: str) -> tuple[int, str, str, int]:
    """(depth, kind, name, children) of one ``EXPLAIN AST`` line."""
    depth = len(line) - len(line.lstrip(" "))
    parts = line.strip().split(" ")
    children = int(parts[-1].rstrip(")")) if len(parts) >= 3 and parts[-2] == "(children" else 0
    return depth, parts[0], parts[1] if len(parts) > 1 else "", children


def check_ast(dump: str) -> None:
    """Refuse unless ``dump`` (``EXPLAIN AST`` output) is one complete SELECT tree that reads only tables."""
    lines = [line for line in dump.split("\n") if line.strip()]
    nodes = [_node(line) for line in lines]
    if not nodes or nodes[0][1] != "SelectWithUnionQuery":
        raise RefusedByWall("only one SELECT statement may run on the read-only connection")
    position = 0

    def subtree(parent: str) -> None:
        nonlocal position
        depth, kind, name, children = nodes[position]
        position += 1
        lowered = name.lower()
        if parent == "TableExpression" and kind == "Function" and lowered not in TABLE_FUNCTIONS:
            raise RefusedByWall(f"table function {name!r} is not allowed on the read-only connection")
        if kind == "Function" and (lowered in DENIED_FUNCTIONS or lowered.startswith("dict")):
            raise RefusedByWall(f"function {name!r} is not allowed on the read-only connection")
        if kind == "TableIdentifier" and lowered.split(".")[0] == "system":
            raise RefusedByWall(f"system table {name!r} is not readable on the read-only connection")
        for _ in range(children):
            if position >= len(nodes) or nodes[position][0] <= depth:
                raise RefusedByWall("the query's parse tree is not one statement")
            subtree(kind)

    subtree("")
    if position != len(nodes):
        raise RefusedByWall("found more than one statement; send exactly one SELECT")
    root_children = [kind for depth, kind, _, _ in nodes if depth == nodes[0][0] + 1]
    if root_children != ["ExpressionList"]:
        raise RefusedByWall(
            "SELECT ... INTO OUTFILE, FORMAT and SETTINGS clauses are not allowed on the read-only connection"
        )


class ServerReader:
    """Reads from a ClickHouse server as its read-only user; the limits live in that user's settings profile.

    The profile (``warehouse/clickhouse_grants.py``) sets ``readonly = 1`` with the limits as
    constraints, and the user may SELECT only the reader database, so nothing here can lift them.
    A per-user scope needs row policies on the server; until they exist a scoped query is refused.
    """

    def __init__(self, target: ClickHouseUrl, *, timeout_s: float, max_rows: int, memory_limit_mb: int) -> None:
        self.target, self.timeout_s, self.max_rows = target, timeout_s, max_rows
        self.reader_database = target.database
        self._client: clickhouse_connect.driver.Client | None = None

    def client_arguments(self) -> dict:
        """What ``clickhouse_connect.get_client`` is called with (no settings: a readonly=1 user may send none)."""
        url = self.target.server
        secure = str(url.query.get("secure", "false")).lower() in ("1", "true", "yes")
        return {
            "host": url.host,
            "port": url.port or (8443 if secure else 8123),
            "username": url.username or "default",
            "password": url.password or "",
            "database": self.target.database,
            "secure": secure,
            "connect_timeout": max(1, int(self.timeout_s)),
            "send_receive_timeout": max(1, int(self.timeout_s) + 5),
        }

    def execute(self, sql: str, user_scope: str | None):
        """Run ``sql`` on the server; column names and a cursor-like reader of its rows."""
        import clickhouse_connect

        if user_scope is not None:
            raise ConnectionFailed(
                "a scoped query on a ClickHouse server needs row policies for the reader user; "
                "serve scoped API keys from chdb, DuckDB or PostgreSQL for now"
            )
        if self._client is None:
            self._client = clickhouse_connect.get_client(**self.client_arguments())
        result = self._client.query(sql)
        return list(result.column_names), _Rows(result.result_rows)

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()


class _Rows:
    """``fetchmany`` over rows already fetched."""

    def __init__(self, rows) -> None:
        self._rows, self._at = rows, 0

    def fetchmany(self, size: int):
        """The next ``size`` rows."""
        batch = self._rows[self._at : self._at + size]
        self._at += size
        return batch
