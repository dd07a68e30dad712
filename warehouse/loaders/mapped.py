"""Generic CSV or Parquet event files, mapped with ``--map target=column`` and ``--event-map name=event_type``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.errors import IngestError
from warehouse.loaders._columns import first_index, not_empty, require_columns, to_float, to_int
from warehouse.loaders._csv import csv_batches, first_line, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import line_ids
from warehouse.loaders._ingest import Batch
from warehouse.schema import EVENT_TYPES

EVENT_TARGETS = ("event_id", "user_id", "session_id", "ts", "event_type", "item_id", "value")
ITEM_TARGETS = ("title", "category", "brand", "price")
USER_TARGETS = ("country", "device", "channel")
TARGETS = EVENT_TARGETS + ITEM_TARGETS + USER_TARGETS
"""What ``--map`` may name on its left side."""
REQUIRED = ("user_id", "ts", "event_type")
PARQUET_ROWS = 500_000
_MS_THRESHOLD = 10**11  # a unix time above this is in milliseconds (10**11 seconds is the year 5138)


def read_csv(inp: InputFile, *, mapping: Mapping[str, str], event_map: Mapping[str, str]) -> Iterator[Batch]:
    """Events (and their users and items) from a CSV with a header row."""
    delimiter = sniff_delimiter(inp)
    header = split_line(first_line(inp), delimiter)
    columns = _resolve(inp, header, mapping, event_map)
    for line, chunk in csv_batches(inp, names=header, has_header=True, delimiter=delimiter, newlines_in_values=True):
        yield _batch(inp, line, chunk.select(list(columns.values())).rename_columns(list(columns)), event_map)


def read_parquet(inp: InputFile, *, mapping: Mapping[str, str], event_map: Mapping[str, str]) -> Iterator[Batch]:
    """Events (and their users and items) from a Parquet file."""
    try:
        parquet = pq.ParquetFile(inp.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise inp.fail(f"the Parquet file cannot be read ({exc})", "write it again with pyarrow or pandas") from exc
    columns = _resolve(inp, parquet.schema_arrow.names, mapping, event_map)
    total = max(parquet.metadata.num_rows, 1)
    if parquet.metadata.num_rows == 0:
        raise inp.fail("the file has no rows", "give a Parquet file with events")
    row = 1
    for record_batch in parquet.iter_batches(batch_size=PARQUET_ROWS, columns=list(dict.fromkeys(columns.values()))):
        chunk = pa.Table.from_batches([record_batch])
        chunk = pa.table({target: chunk[source] for target, source in columns.items()})
        yield _batch(inp, row, chunk, event_map)
        row += chunk.num_rows
        inp.consumed = inp.size * (row - 1) // total


def _resolve(
    inp: InputFile, present: list[str], mapping: Mapping[str, str], event_map: Mapping[str, str]
) -> dict[str, str]:
    """Target column -> source column: explicit ``--map`` entries, then same-named columns."""
    unknown = sorted(set(mapping) - set(TARGETS))
    if unknown:
        raise IngestError(
            f"--map {unknown[0]}=... names no canonical column; the left side is one of {', '.join(TARGETS)}"
        )
    wrong = {name: target for name, target in event_map.items() if target not in EVENT_TYPES}
    if wrong:
        name, target = next(iter(wrong.items()))
        raise IngestError(
            f"--event-map {name}={target}: {target!r} is not an event type; use one of {', '.join(EVENT_TYPES)}"
        )
    columns = {target: source for target, source in mapping.items()}
    columns.update({t: t for t in TARGETS if t not in columns and t in present})
    require_columns(inp, present, [columns.get(t, t) for t in REQUIRED])
    require_columns(inp, present, columns.values())
    inp.column_labels = dict(columns)
    return columns


def _batch(inp: InputFile, line: int, chunk: pa.Table, event_map: Mapping[str, str]) -> Batch:
    native = ("ts", "value", "price")  # parsed below, whatever their type
    chunk = pa.table({name: chunk[name] if name in native else _as_text(chunk[name]) for name in chunk.column_names})
    for column in ("user_id", "event_type"):
        not_empty(inp, chunk, column, line)
    source_event = pc.utf8_trim_whitespace(chunk["event_type"])
    event_type = _event_types(inp, source_event, event_map, line)
    n = chunk.num_rows
    given_ids = "event_id" in chunk.column_names
    events = {
        "event_id": to_int(inp, chunk, "event_id", line) if given_ids else line_ids(inp.source_key, line, n),
        "user_id": chunk["user_id"],
        "ts": _timestamps(inp, chunk, line),
        "event_type": event_type,
        "source_event": source_event,
    }
    for name in ("session_id", "item_id"):
        if name in chunk.column_names:
            events[name] = chunk[name]
    if "value" in chunk.column_names:
        events["value"] = _floats(inp, chunk, "value", line)
    tables = {"events": pa.table(events), "users": _attributes(chunk, "user_id", USER_TARGETS)}
    if "item_id" in chunk.column_names:
        if "price" in chunk.column_names:
            chunk = chunk.set_column(chunk.column_names.index("price"), "price", _floats(inp, chunk, "price", line))
        items = _attributes(chunk, "item_id", ITEM_TARGETS)
        tables["items"] = items.filter(pc.is_valid(items["item_id"]))
    return Batch(tables=tables, rows=n)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _floats(inp: InputFile, chunk: pa.Table, name: str, line: int) -> pa.Array:
    column = chunk[name]
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64())
    return to_float(inp, chunk.set_column(chunk.column_names.index(name), name, _as_text(column)), name, line)


def _attributes(chunk: pa.Table, key: str, targets: tuple[str, ...]) -> pa.Table:
    return chunk.select([key, *(t for t in targets if t in chunk.column_names)])


def _event_types(inp: InputFile, source: pa.ChunkedArray, event_map: Mapping[str, str], line: int) -> pa.Array:
    names = list(event_map) + [e for e in EVENT_TYPES if e not in event_map]
    targets = list(event_map.values()) + [e for e in EVENT_TYPES if e not in event_map]
    codes = pc.index_in(source, value_set=pa.array(names, pa.string()))
    bad = first_index(pc.is_null(codes))
    if bad is not None:
        value = source[bad].as_py()
        unmapped = pc.unique(source.filter(pc.is_null(codes))).to_pylist()[:5]
        raise inp.fail(
            f"event {value!r} is not a canonical event type (unmapped here: {unmapped})",
            f"add --event-map {value}=<one of {', '.join(EVENT_TYPES)}>",
            line=line + bad,
            column="event_type",
        )
    return pa.array(targets, pa.string()).take(codes)


def _timestamps(inp: InputFile, chunk: pa.Table, line: int) -> pa.Array:
    """Native timestamps, unix seconds or milliseconds, or ISO 8601 text; aware times become UTC."""
    column = chunk["ts"]
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        series = column.to_pandas()
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return _checked(inp, pa.array(series.astype("datetime64[us]")), column, line)
    text = _as_text(column).to_pandas()
    numbers = pd.to_numeric(text, errors="coerce")
    micros = numbers.where(numbers.abs() >= _MS_THRESHOLD, numbers * 1000) * 1000
    stamps = pd.to_datetime(micros.round(), unit="us", errors="coerce")
    textual = numbers.isna() & text.notna()
    if textual.any():
        parsed = pd.to_datetime(text[textual], format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)
        stamps = stamps.astype("datetime64[us]")
        stamps[textual] = parsed.astype("datetime64[us]")
    return _checked(inp, pa.array(stamps.astype("datetime64[us]")), column, line)


def _checked(inp: InputFile, stamps: pa.Array, original: pa.ChunkedArray, line: int) -> pa.Array:
    bad = first_index(pc.is_null(stamps))
    if bad is not None:
        value = original[bad].as_py()
        raise inp.fail(
            "the timestamp is empty" if value is None else f"{value!r} is not a timestamp",
            "write ts as ISO 8601 (2024-05-01 13:45:00) or unix seconds/milliseconds",
            line=line + bad,
            column="ts",
        )
    return stamps
