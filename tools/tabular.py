"""Result tables for tools: JSON-safe cells for the artifact, and the bounded text the LLM reads."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pandas as pd

from tools.artifact import Table

TEXT_ROWS = 20
TEXT_CHARS = 4_000
CELL_CHARS = 80


def cell(value: Any) -> Any:
    """A JSON-safe cell: dates as ISO text, decimals as floats, NaN as None."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return cell(value.item())
    if isinstance(value, (int, str, bool)):
        return value
    return str(value)


def table_from_rows(title: str, columns: list[str], rows: list, total_rows: int | None = None) -> Table:
    """An artifact table from raw rows."""
    clean = [[cell(v) for v in row] for row in rows]
    return Table(
        title=title,
        columns=[str(c) for c in columns],
        rows=clean,
        total_rows=len(clean) if total_rows is None else total_rows,
    )


def table_from_frame(title: str, frame: pd.DataFrame) -> Table:
    """An artifact table from a DataFrame."""
    return table_from_rows(title, list(frame.columns), frame.itertuples(index=False, name=None))


def table_text(
    table: Table, *, max_rows: int = TEXT_ROWS, max_chars: int = TEXT_CHARS, note: str = "", tail: int = 0
) -> str:
    """The table as compact pipe-separated text, cut at ``max_rows`` rows and ``max_chars`` characters.

    ``tail``: when rows are cut, that many of the last rows are shown after the first ones (a time series'
    latest periods matter as much as its first).
    """
    lines = [" | ".join(table.columns)]
    used = len(lines[0])
    rows = table.rows
    tail = min(tail, max_rows // 2) if len(rows) > max_rows else 0
    shown = [0, 0]  # head rows, tail rows
    for index, rows_part in ((0, rows[: max_rows - tail]), (1, rows[len(rows) - tail :] if tail else [])):
        for row in rows_part:
            line = " | ".join("" if v is None else _short(v) for v in row)
            if used + len(line) + 1 > max_chars:
                break
            if index == 1 and shown[1] == 0:
                lines.append("…")
            lines.append(line)
            used += len(line) + 1
            shown[index] += 1
    which = f"first {shown[0]} and last {shown[1]}" if shown[1] else str(shown[0])
    return "\n".join([*lines, f"(showing {which} of {table.total_rows:,} rows{'; ' + note if note else ''})"])


def _short(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
