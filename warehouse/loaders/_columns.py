"""Column checks and conversions that name the first bad line, column and value."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.errors import IngestError
from warehouse.loaders._files import InputFile

_UNIT_SCALE = {"s": 1_000_000, "ms": 1_000}
_MAX_SECONDS = 10**11  # about year 5000: anything larger is a unit mistake


def require_columns(
    inp: InputFile,
    present: Iterable[str],
    required: Iterable[str],
    *,
    line: int = 1,
    found: list[str] | None = None,
    hint: str = "",
) -> None:
    """Raise naming the first required column the file lacks (``found``: the header as the file spells it)."""
    present = list(present)
    for column in required:
        if column not in present:
            raise inp.fail(
                f"required column {column!r} is missing (columns found: {found or present}){hint}",
                f"give a {inp.fmt} file with a {column!r} column, or use --format csv with --map",
                line=line,
                column=column,
            )


def first_index(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first true value in a boolean array, or None."""
    values = mask.to_numpy(zero_copy_only=False) if not isinstance(mask, np.ndarray) else mask
    hits = np.flatnonzero(np.asarray(values, dtype=bool))
    return int(hits[0]) if hits.size else None


def not_empty(inp: InputFile, table: pa.Table, column: str, first_line: int, *, label: str | None = None) -> None:
    """Raise when a value of ``column`` is empty, naming the line."""
    col = table[column]
    if col.null_count == 0:
        return
    index = first_index(pc.is_null(col))
    raise inp.fail(
        "the value is empty", f"every row needs a {label or column}", line=first_line + (index or 0), column=column
    )


def to_int(
    inp: InputFile,
    table: pa.Table,
    column: str,
    first_line: int,
    *,
    allow_null: bool = False,
    wanted: str = "a whole number",
) -> pa.Array:
    """Parse a string column of whole numbers, raising at the first value that is not one."""
    col = pc.utf8_trim_whitespace(table[column])
    ok = pc.fill_null(pc.match_substring_regex(col, r"^[+-]?\d+$"), allow_null)
    index = first_index(pc.invert(ok))
    if index is not None:
        raise _bad_value(inp, table, column, first_line, index, wanted)
    return pc.cast(col, pa.int64())


def unix_timestamp(inp: InputFile, table: pa.Table, column: str, first_line: int, *, unit: str) -> pa.Array:
    """Parse unix time in seconds or milliseconds (a string column) into a timestamp column."""
    wanted = f"a unix time in {'seconds' if unit == 's' else 'milliseconds'}"
    raw = to_int(inp, table, column, first_line, wanted=wanted)
    limit = _MAX_SECONDS * (_UNIT_SCALE["s"] // _UNIT_SCALE[unit])
    index = first_index(pc.greater(pc.abs(raw), limit))
    if index is not None:
        raise _bad_value(inp, table, column, first_line, index, f"{wanted} (out of range)")
    micros = pc.multiply(raw, _UNIT_SCALE[unit])
    return pc.cast(micros, pa.timestamp("us"))


def to_float(inp: InputFile, table: pa.Table, column: str, first_line: int) -> pa.Array:
    """Parse a string column of decimal numbers (null stays null), raising at the first bad value."""
    col = pc.utf8_trim_whitespace(table[column])
    ok = pc.match_substring_regex(col, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    index = first_index(pc.invert(pc.fill_null(ok, True)))
    if index is not None:
        raise _bad_value(inp, table, column, first_line, index, "a number")
    return pc.cast(col, pa.float64())


def _bad_value(inp: InputFile, table: pa.Table, column: str, first_line: int, index: int, wanted: str) -> IngestError:
    value = table[column][index].as_py()
    problem = "the value is empty" if value is None else f"{value!r} is not {wanted}"
    return inp.fail(problem, "fix or remove that row", line=first_line + index, column=column)


NULL_TOKENS = ("", "na", "n/a", "null", "none", "nan", "-")
"""Key values that mean 'none' (compared trimmed and case-insensitively)."""


def nullify(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A key column with null tokens (NA, null, -, empty...) turned into real nulls, values trimmed."""
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    trimmed = pc.utf8_trim_whitespace(column)
    token = pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(NULL_TOKENS)), False)
    return pc.if_else(token, pa.scalar(None, pa.string()), trimmed)


def split(table: pa.Table, drop: pa.Array | pa.ChunkedArray) -> tuple[pa.Table, pa.Table]:
    """``table`` without the rows where ``drop`` is true, and those rows."""
    drop = pc.fill_null(drop, False)
    return table.filter(pc.invert(drop)), table.filter(drop)


Skips = list  # of (reason, detail, rows) as Batch.skipped holds them


def with_lines(table: pa.Table, first_line: int) -> pa.Table:
    """``table`` with a leading ``line`` column numbering its rows from ``first_line``."""
    return table.add_column(0, "line", pa.array(np.arange(first_line, first_line + table.num_rows), pa.int64()))


def drop_null_keys(chunk: pa.Table, columns: Iterable[str], skipped: Skips, *, labels: dict | None = None) -> pa.Table:
    """``chunk`` (with a ``line`` column) without rows whose key is empty or a null token; those are skipped."""
    for column in columns:
        values = nullify(chunk[column])
        kept, dropped = split(chunk.set_column(chunk.column_names.index(column), column, values), pc.is_null(values))
        dropped = chunk.filter(pc.is_null(values))  # as the file spells it (NA, -, ...)
        if dropped.num_rows:
            name = (labels or {}).get(column, column)
            skipped.append(("null_key", f"no {name}: empty or a null token (NA, null, -)", dropped))
        chunk = kept
    return chunk
