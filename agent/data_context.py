"""The dynamic part of the system prompt: dialect, the data's date range, a compact schema summary.

The values of the few-valued attributes are the semantic layer's (``warehouse.semantic``), shown beside it."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse import PII_COLUMNS
from warehouse.clickhouse_sql import written_dialect
from warehouse.readonly import ReadOnlyWarehouse
from warehouse.schema import TABLE_MEANINGS, TABLE_NAMES, metadata


@dataclass(frozen=True)
class DataContext:
    """What the model must know about the data to ask tools sensible questions."""

    dialect: str
    first_date: str
    last_date: str
    schema_summary: str


def _summary(row_counts: dict[str, int], event_types: list[str]) -> str:
    lines = ["Tables (rows): columns"]
    for name, table in metadata.tables.items():
        columns = ", ".join(f"{c.name} (masked)" if (name, c.name) in PII_COLUMNS else c.name for c in table.columns)
        meaning = f" [{TABLE_MEANINGS[name]}]" if name in TABLE_MEANINGS else ""
        lines.append(f"- {name} ({row_counts.get(name, 0):,}): {columns}{meaning}")
    if event_types:
        lines.append("events.event_type values: " + ", ".join(event_types))
    return "\n".join(lines)


def data_context(readonly: ReadOnlyWarehouse) -> DataContext:
    """Describe the warehouse over its read-only connection; the date anchor is the last event's date."""
    counts_sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in TABLE_NAMES)
    counts = {str(name): int(n) for name, n in readonly.query(counts_sql).rows}
    first, last = readonly.query("SELECT MIN(ts), MAX(ts) FROM events").rows[0]
    mix = readonly.query(
        "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC, event_type"
    ).rows
    return DataContext(
        dialect=written_dialect(readonly.dialect),  # ClickHouse: the guard reads DuckDB's syntax
        first_date=first.date().isoformat() if first else "(no events)",
        last_date=last.date().isoformat() if last else "(no events)",
        schema_summary=_summary(counts, [str(row[0]) for row in mix]),
    )
