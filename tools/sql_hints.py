"""Notes on a query's result for the model: filter values that no row has, ids that name nothing.

Measured with the embedded model: ``WHERE title = 'Acme X200'`` (the item is "Acme X200 Wireless
Headphones") and ``status = '退货'`` returned 0 and the model reported 0 as the answer. When a
query comes back empty or all zero, each ``column = 'text'`` filter on a text column is checked;
a value that no row has gets a note with the values that contain it (or the column's values when
they are few), so the model can fix the filter instead of reporting 0.

When exactly one value contains it (``'Returned'`` for ``'returned'``, an item's id for its name),
the note names that value. The query is never changed in the model's name: the fix is its next call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlalchemy import String, Text
from sqlglot import exp

from warehouse import PII_COLUMNS
from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql
from warehouse.schema import metadata
from warehouse.sql_guard import sqlglot_dialect

logger = logging.getLogger(__name__)

MAX_FILTERS = 3
MAX_SUGGESTIONS = 8


def _text_columns() -> dict[str, set[str]]:
    """Descriptive text columns. Not ids: no orders for ``user_id = '1'`` is an answer, not a typo."""
    return {
        name: {
            c.name
            for c in table.columns
            if isinstance(c.type, (String, Text)) and not c.name.endswith("_id") and (name, c.name) not in PII_COLUMNS
        }
        for name, table in metadata.tables.items()
    }


def found_nothing(rows: Sequence[Sequence[Any]]) -> bool:
    """An empty result, or one row of zeros and NULLs (``COUNT(*)`` over no matching rows)."""
    if not rows:
        return True
    return len(rows) == 1 and all(v is None or (isinstance(v, (int, float)) and v == 0) for v in rows[0])


ENTITIES = {"item_id": ("items", "title")}
"""Id columns whose values name a row of their own table, and the column that names it in words. Not
user ids: events may carry users the users table lacks, and a user without orders is an answer."""


def _id_columns() -> dict[str, set[str]]:
    return {name: {c.name for c in table.columns if c.name in ENTITIES} for name, table in metadata.tables.items()}


def text_filters(sql: str, dialect: str, columns: dict[str, set[str]] | None = None) -> list[tuple[str, str, str]]:
    """``(table, column, value)`` for each ``column = 'value'`` of ``sql`` on one of ``columns`` (by table;
    default: the descriptive text columns)."""
    try:
        root = sqlglot.parse_one(sql, read=sqlglot_dialect(dialect))
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return []
    columns = _text_columns() if columns is None else columns
    aliases: dict[str, str] = {}
    for table in root.find_all(exp.Table):
        if table.name in columns:
            aliases[(table.alias or table.name).lower()] = table.name
            aliases.setdefault(table.name.lower(), table.name)
    found: list[tuple[str, str, str]] = []
    for eq in root.find_all(exp.EQ):
        column, literal = eq.this, eq.expression
        if isinstance(column, exp.Literal):
            column, literal = literal, column
        if not (isinstance(column, exp.Column) and isinstance(literal, exp.Literal) and literal.is_string):
            continue
        owners = (
            [aliases[column.table.lower()]]
            if column.table and column.table.lower() in aliases
            else [t for t in dict.fromkeys(aliases.values()) if column.name in columns[t]]
        )
        if len(owners) == 1 and column.name in columns[owners[0]]:
            item = (owners[0], column.name, literal.this)
            if item not in found:
                found.append(item)
    return found[:MAX_FILTERS]


def _values(safe: SafeSql, sql: str, user_scope: str | None) -> list[str]:
    return [str(row[0]) for row in safe.run(sql, limit=MAX_SUGGESTIONS + 1, user_scope=user_scope).result.rows]


def _exists(safe: SafeSql, table: str, column: str, value: str, user_scope: str | None) -> bool:
    """Whether some row of ``table`` has ``column = value``."""
    query = exp.select("1").from_(table).where(exp.EQ(this=exp.column(column), expression=exp.Literal.string(value)))
    return bool(_values(safe, query.sql(dialect=sqlglot_dialect(safe.dialect)), user_scope))


def _has_words(column: exp.Column, value: str) -> exp.Condition:
    """``column`` contains every word of ``value`` (case-insensitive)."""
    words = [w for w in value.split() if w] or [value]
    return exp.and_(*(exp.ILike(this=column.copy(), expression=exp.Literal.string(f"%{w}%")) for w in words))


def _unknown_ids(
    safe: SafeSql, sql: str, user_scope: str | None
) -> tuple[list[str], dict[tuple[str, str], str], list[tuple[str, str]]]:
    """Each ``item_id = 'value'`` filter naming no item: (notes, fixes, (problem, value used)); the items
    whose title contains the value are one item (a fix) or several (a note). Measured: ``item_id =
    'Acme X200'`` counted 0 reviews."""
    notes, fixes, why = [], {}, []
    dialect = sqlglot_dialect(safe.dialect)
    for _, column, value in text_filters(sql, safe.dialect, _id_columns()):
        table, described_by = ENTITIES[column]
        col = exp.column(column)
        try:
            if _exists(safe, table, column, value, user_scope):
                continue
            desc = exp.column(described_by)
            query = exp.select(col.copy(), desc.copy()).from_(table).where(_has_words(desc, value)).order_by(col.copy())
            rows = safe.run(query.sql(dialect=dialect), limit=MAX_SUGGESTIONS + 1, user_scope=user_scope).result.rows
        except WarehouseError as exc:  # a hint must never turn a result into an error
            logger.info("no id hint for %s: %s", column, exc)
            continue
        missing = f"no row of {table} has {column} = {value!r}"
        if len(rows) == 1:
            fixes[(column, value)] = str(rows[0][0])
            used = f"{column} = {str(rows[0][0])!r} ({rows[0][1]})"
            why.append((missing, f"{used}, the one whose {described_by} contains it"))
        elif 0 < len(rows) <= MAX_SUGGESTIONS:
            close = ", ".join(f"{row[0]!r} ({row[1]})" for row in rows)
            notes.append(
                f"{missing}; {table} whose {described_by} contains it: {close}. "
                f"Filter on one of these {column}s and run the query again."
            )
        else:
            notes.append(
                f"{missing}; {column} is an id: to find {table} by name, join {table} and filter on "
                f"{described_by}, then run the query again."
            )
    return notes, fixes, why


def unmatched(safe: SafeSql, sql: str, *, user_scope: str | None = None) -> list[str]:
    """For a query that found nothing: a note for each text or id filter whose value no row has, naming
    values that exist, and the one value to use where exactly one contains it (``'returned'`` for
    ``'Returned'``, an item's id for its name)."""
    notes, fixes, why = _unknown_ids(safe, sql, user_scope)
    dialect = sqlglot_dialect(safe.dialect)
    for table, column, value in text_filters(sql, safe.dialect):
        col = exp.column(column)
        try:
            if _exists(safe, table, column, value, user_scope):
                continue
            close = _values(
                safe,
                exp.select(col.copy())
                .distinct()
                .from_(table)
                .where(_has_words(col, value))
                .order_by(col.copy())
                .sql(dialect=dialect),
                user_scope,
            )
            every = (
                []
                if close
                else _values(
                    safe,
                    exp.select(col.copy())
                    .distinct()
                    .from_(table)
                    .where(col.copy().is_(exp.null()).not_())
                    .order_by(col.copy())
                    .sql(dialect=dialect),
                    user_scope,
                )
            )
        except WarehouseError as exc:  # a hint must never turn a result into an error
            logger.info("no value hint for %s.%s: %s", table, column, exc)
            continue
        missing = f"no row has {table}.{column} = {value!r}"
        if len(close) == 1:
            fixes[(column, value)] = close[0]
            why.append((missing, f"{close[0]!r}, the one value that contains it"))
        elif 0 < len(close) <= MAX_SUGGESTIONS:
            notes.append(
                f"{missing}; values containing it: {', '.join(map(repr, close))}. "
                "Filter on one of these exactly and run the query again."
            )
        elif close:
            notes.append(
                f"{missing}; more than {MAX_SUGGESTIONS} values contain it, e.g. "
                f"{', '.join(map(repr, close[:3]))}. Filter on the exact value you mean."
            )
        elif 0 < len(every) <= MAX_SUGGESTIONS:
            notes.append(
                f"{missing}; its values: {', '.join(map(repr, every))}. "
                "Filter on one of these exactly and run the query again."
            )
        else:
            notes.append(
                f"{missing}, and no value contains all of its words; check the spelling, "
                "or filter with ILIKE on a distinctive part of it."
            )
    # Never run a changed query in the model's name: the SQL that runs is the SQL asked for, and a fix is a
    # visible retry. The note names the value to use where exactly one value contains it.
    return notes + [f"{m}; use {u}. Run the query again with it." for m, u in why]
