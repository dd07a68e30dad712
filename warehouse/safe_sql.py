"""Guard then read-only execution: the one way model-written (or analyst-written) SQL reaches a warehouse."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from warehouse.clickhouse_sql import written_dialect
from warehouse.readonly import QueryResult, ReadOnlyWarehouse
from warehouse.sql_guard import GuardedSql, SqlGuard

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqlRun:
    """What ran (the regenerated SQL) and what it returned."""

    guarded: GuardedSql
    result: QueryResult

    @property
    def sql(self) -> str:
        """The SQL that actually executed."""
        return self.guarded.sql


class SafeSql:
    """A guard in front of a read-only warehouse; ``run`` raises GuardRejected, QueryTimeout or QueryFailed."""

    def __init__(self, readonly: ReadOnlyWarehouse, guard: SqlGuard | None = None) -> None:
        self.readonly = readonly
        self.guard = guard or SqlGuard(readonly.dialect, max_limit=readonly.max_rows, view_schema=readonly.view_schema)

    @property
    def dialect(self) -> str:
        """The dialect SQL sent here is written in: the warehouse's (``duckdb``, ``postgresql``), or on ClickHouse
        DuckDB's syntax, which the guard transpiles."""
        return written_dialect(self.readonly.dialect)

    def run(self, sql: str, *, limit: int | None = None, user_scope: str | None = None) -> SqlRun:
        """Check ``sql``, then execute the regenerated statement read-only."""
        guarded = self.guard.check(sql, limit=limit, user_scope=user_scope)
        return SqlRun(guarded, self.readonly.query(guarded.sql, user_scope=user_scope))
