"""Users and items side tables (``users:`` / ``items:`` in a mapping), loaded before the events."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.loaders import _jsonl
from warehouse.loaders._columns import drop_null_keys, require_columns, to_float, with_lines
from warehouse.loaders._csv import csv_batches, first_line, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile, open_input
from warehouse.loaders._ingest import Batch
from warehouse.loaders._timestamps import parse
from warehouse.loaders.mapping import ITEM_TARGETS, USER_TARGETS, SideTable, SourceMapping

_TABLES = {"users": ("user_id", USER_TARGETS), "items": ("item_id", ITEM_TARGETS)}


def side_batches(spec: SourceMapping) -> Iterator[Batch]:
    """One batch per chunk of each side table the mapping names."""
    for name in ("users", "items"):
        side: SideTable | None = getattr(spec, name)
        if side is not None:
            yield from _read(name, side)


def _read(name: str, side: SideTable) -> Iterator[Batch]:
    key, targets = _TABLES[name]
    inp = open_input(side.path, name, expect="any")
    inp.separator = side.separator
    columns = None
    for line, chunk in _chunks(inp):
        if columns is None:
            columns = dict(side.columns)
            columns.update({t: t for t in (key, *targets) if t not in columns and t in chunk.column_names})
            inp.column_labels = columns
            require_columns(
                inp, chunk.column_names, [columns.get(key, key), *columns.values()], found=chunk.column_names
            )
        yield _batch(inp, name, line, chunk, columns)
    inp.close()


def _chunks(inp: InputFile) -> Iterator[tuple[int, pa.Table]]:
    if inp.kind == "parquet":
        yield 1, pq.read_table(inp.path)
    elif inp.text_sample().lstrip().startswith("{"):
        yield from _jsonl.tables(inp)
    else:
        delimiter = sniff_delimiter(inp)
        header = split_line(first_line(inp), delimiter)
        yield from csv_batches(
            inp, names=header, has_header=True, delimiter=delimiter, newlines_in_values=delimiter != "whitespace"
        )


def _batch(inp: InputFile, name: str, line: int, chunk: pa.Table, columns: dict[str, str]) -> Batch:
    key = _TABLES[name][0]
    data = {target: chunk[source] for target, source in columns.items()}
    table = pa.table({t: c if t in ("price", "signup_ts") else pc.cast(c, pa.string()) for t, c in data.items()})
    skipped: list = []
    table = drop_null_keys(with_lines(table, line), [key], skipped)
    if "price" in table.column_names and not pa.types.is_floating(table["price"].type):
        text = table.set_column(table.column_names.index("price"), "price", pc.cast(table["price"], pa.string()))
        table = table.set_column(table.column_names.index("price"), "price", to_float(inp, text, "price", line))
    if "signup_ts" in table.column_names:
        stamps = parse(inp, table["signup_ts"], line, fmt=None, name=columns["signup_ts"])
        table = table.set_column(table.column_names.index("signup_ts"), "signup_ts", stamps)
    return Batch(
        tables={name: table.drop_columns(["line"])},
        rows=chunk.num_rows,
        skipped=skipped,
        primary=name,
        key=f"{inp.path.name}: {columns[key]}",
        side=f"{name}: {inp.path.name}",
    )
