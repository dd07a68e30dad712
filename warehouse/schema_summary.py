"""What a query may see: allow-listed tables and columns with types, the event vocabulary, the date range."""

from __future__ import annotations

from dataclasses import dataclass, field

from warehouse.safe_sql import SafeSql
from warehouse.schema import metadata
from warehouse.sql_policy import DERIVED_TABLES


@dataclass(frozen=True)
class SchemaSummary:
    """The compact schema a model needs to write SQL against this warehouse."""

    dialect: str
    columns: dict[str, list[tuple[str, str, str]]]  # table -> [(column, type, note)]
    event_types: dict[str, int] = field(default_factory=dict)
    first_event: str | None = None
    last_event: str | None = None
    sql: list[str] = field(default_factory=list)


def schema_summary(safe: SafeSql, *, user_scope: str | None = None) -> SchemaSummary:
    """Summarise the guard's allow-list and the data behind it (scoped to one user when asked)."""
    columns: dict[str, list[tuple[str, str, str]]] = {}
    for name, policy in safe.guard.policy.tables.items():
        if name in DERIVED_TABLES:
            continue  # derived (paths' step index, review sentiment); the canonical tables say the same
        table = metadata.tables.get(name)
        notes = []
        for col in policy.columns:
            kind = str(table.c[col].type).lower() if table is not None and col in table.c else "?"
            note = "masked" if col in policy.masked else ""
            notes.append((col, kind, note))
        columns[policy.name] = notes
    queries = []
    event_types: dict[str, int] = {}
    first = last = None
    if "events" in safe.guard.policy.tables:
        mix = safe.run(
            "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC", user_scope=user_scope
        )
        span = safe.run("SELECT MIN(ts), MAX(ts) FROM events", user_scope=user_scope)
        queries = [mix.sql, span.sql]
        event_types = {str(t): int(n) for t, n in mix.result.rows}
        lo, hi = span.result.rows[0]
        first, last = (None if lo is None else str(lo)), (None if hi is None else str(hi))
    return SchemaSummary(safe.dialect, columns, event_types, first, last, queries)
