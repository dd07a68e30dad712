"""The dynamic part of the system prompt: dialect, the data's date range, a compact schema summary."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse import PII_COLUMNS
from warehouse.readonly import ReadOnlyWarehouse
from warehouse.schema import TABLE_MEANINGS, TABLE_NAMES, metadata


@dataclass(frozen=True)
class DataContext:
    """What the model must know about the data to ask tools sensible questions."""

    dialect: str
    first_date: str
    last_date: str
    schema_summary: str


# Text columns whose few values the model must spell exactly in filters (measured: it wrote
# status = '退货' and channel = 'paid search'). Listed only while they stay few.
VALUE_COLUMNS = (("users", "country"), ("users", "device"), ("users", "channel"),
                 ("items", "category"), ("items", "brand"), ("orders", "status"))
MAX_LISTED_VALUES = 15


def _summary(row_counts: dict[str, int], event_types: list[str], values: dict[str, list[str]]) -> str:
    lines = ["Tables (rows): columns"]
    for name, table in metadata.tables.items():
        columns = ", ".join(
            f"{c.name} (masked)" if (name, c.name) in PII_COLUMNS else c.name for c in table.columns
        )
        meaning = f" [{TABLE_MEANINGS[name]}]" if name in TABLE_MEANINGS else ""
        lines.append(f"- {name} ({row_counts.get(name, 0):,}): {columns}{meaning}")
    if event_types:
        lines.append("events.event_type values: " + ", ".join(event_types))
    lines.extend(f"{column} values: " + ", ".join(found) for column, found in values.items())
    return "\n".join(lines)


def _column_values(readonly: ReadOnlyWarehouse) -> dict[str, list[str]]:
    """The values of each of ``VALUE_COLUMNS`` that has at most ``MAX_LISTED_VALUES``, most frequent first."""
    out: dict[str, list[str]] = {}
    for table, column in VALUE_COLUMNS:
        rows = readonly.query(
            f"SELECT {column}, COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT {MAX_LISTED_VALUES + 1}"
        ).rows
        if 0 < len(rows) <= MAX_LISTED_VALUES:
            out[f"{table}.{column}"] = [str(row[0]) for row in rows]
    return out


def data_context(readonly: ReadOnlyWarehouse) -> DataContext:
    """Describe the warehouse over its read-only connection; the date anchor is the last event's date."""
    counts_sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in TABLE_NAMES)
    counts = {str(name): int(n) for name, n in readonly.query(counts_sql).rows}
    first, last = readonly.query("SELECT MIN(ts), MAX(ts) FROM events").rows[0]
    mix = readonly.query(
        "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC, event_type"
    ).rows
    return DataContext(
        dialect=readonly.dialect,
        first_date=first.date().isoformat() if first else "(no events)",
        last_date=last.date().isoformat() if last else "(no events)",
        schema_summary=_summary(counts, [str(row[0]) for row in mix], _column_values(readonly)),
    )
