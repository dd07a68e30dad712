"""The dynamic part of the system prompt: dialect, the data's date range, a compact schema summary."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse import PII_COLUMNS, Warehouse
from warehouse.describe import describe
from warehouse.schema import metadata


@dataclass(frozen=True)
class DataContext:
    """What the model must know about the data to ask tools sensible questions."""

    dialect: str
    first_date: str
    last_date: str
    schema_summary: str


def _summary(row_counts: dict[str, int], event_types: dict[str, int]) -> str:
    lines = ["Tables (rows): columns"]
    for name, table in metadata.tables.items():
        columns = ", ".join(
            f"{c.name} (masked)" if (name, c.name) in PII_COLUMNS else c.name for c in table.columns
        )
        lines.append(f"- {name} ({row_counts.get(name, 0):,}): {columns}")
    if event_types:
        lines.append("events.event_type values: " + ", ".join(event_types))
    return "\n".join(lines)


def data_context(warehouse: Warehouse) -> DataContext:
    """Describe ``warehouse`` for the prompt; the date anchor is the last event's date, not today."""
    overview = describe(warehouse, top=0)
    first = overview.first_event.date().isoformat() if overview.first_event else "(no events)"
    last = overview.last_event.date().isoformat() if overview.last_event else "(no events)"
    return DataContext(
        dialect=warehouse.dialect,
        first_date=first,
        last_date=last,
        schema_summary=_summary(overview.row_counts, overview.event_types),
    )
