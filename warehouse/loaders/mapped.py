"""Generic CSV, TSV, whitespace, JSON-lines or Parquet event files, mapped onto the canonical tables by a mapping."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.loaders import _jsonl
from warehouse.loaders._columns import (
    drop_null_keys,
    first_index,
    not_empty,
    nullify,
    require_columns,
    to_float,
    to_int,
    with_lines,
)
from warehouse.loaders._csv import csv_batches, first_line, separator_hint, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import content_ids, line_ids
from warehouse.loaders._ingest import Batch
from warehouse.loaders._purchases import Purchases
from warehouse.loaders._side import side_batches
from warehouse.loaders._timestamps import DaySpan, parse
from warehouse.loaders.mapping import ITEM_TARGETS, TARGETS, USER_TARGETS, SourceMapping
from warehouse.schema import EVENT_TYPES

REQUIRED = ("user_id", "ts", "event_type")
KEY_COLUMNS = ("event_id", "user_id", "session_id", "item_id", "order_id")
"""Columns whose null tokens (NA, null, -, empty) become NULL."""
PARQUET_ROWS = 500_000
ANONYMOUS_PREFIX = "anon-"
_NATIVE = ("ts", "value", "price", "quantity", "signup_ts")  # parsed below, whatever their type


def key_description(spec: SourceMapping, has_event_id: bool) -> str:
    """What makes two rows the same event under ``spec`` (for the report and the docs)."""
    if has_event_id:
        return "event_id"
    if spec.key:
        return ", ".join(spec.key)
    return "the line (every line is its own event)"


def read(inp: InputFile, *, spec: SourceMapping) -> Iterator[Batch]:
    """Users and items side tables, then events (and their users, items and orders) from the source."""
    spec.check_event_types()
    yield from side_batches(spec)
    span = DaySpan(inp, inp.column_labels.get("ts", "ts"))
    purchases = Purchases() if spec.orders else None
    for line, chunk in _chunks(inp, spec):
        batch = _batch(inp, line, chunk, spec, span)
        if purchases is not None:
            purchases.add(batch.tables.pop("_purchases"))
        yield batch
    if not spec.ts_format:
        span.check()
    if purchases is not None:
        yield purchases.batch()


def _chunks(inp: InputFile, spec: SourceMapping) -> Iterator[tuple[int, pa.Table]]:
    """``(first line, table named by target column)`` per chunk of the source."""
    if inp.kind == "parquet":
        yield from _parquet_chunks(inp, spec)
    elif inp.fmt == "jsonl":
        _jsonl.check_first_line(inp, "one JSON object per line")
        columns = None
        for line, table in _jsonl.tables(inp):
            columns = columns or _resolve(inp, table.column_names, spec)
            yield line, _select(table, columns, spec)
    else:
        delimiter = (
            spec.separator
            or ("\t" if inp.fmt == "tsv" else None)
            or sniff_delimiter(inp, width=len(spec.names) if spec.names else None)
        )
        header = spec.names or split_line(first_line(inp), delimiter)
        columns = _resolve(inp, header, spec, hint=separator_hint(header))
        batches = csv_batches(
            inp,
            names=header,
            has_header=spec.names is None,
            delimiter=delimiter,
            newlines_in_values=delimiter != "whitespace",
        )
        for line, chunk in batches:
            yield line, _select(chunk, columns, spec)


def _parquet_chunks(inp: InputFile, spec: SourceMapping) -> Iterator[tuple[int, pa.Table]]:
    try:
        parquet = pq.ParquetFile(inp.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise inp.fail(f"the Parquet file cannot be read ({exc})", "write it again with pyarrow or pandas") from exc
    columns = _resolve(inp, parquet.schema_arrow.names, spec)
    total = max(parquet.metadata.num_rows, 1)
    if parquet.metadata.num_rows == 0:
        raise inp.fail("the file has no rows", "give a Parquet file with events")
    row = 1
    for record_batch in parquet.iter_batches(batch_size=PARQUET_ROWS, columns=list(dict.fromkeys(columns.values()))):
        chunk = pa.Table.from_batches([record_batch])
        yield row, _select(chunk, columns, spec)
        row += chunk.num_rows
        inp.consumed = inp.size * (row - 1) // total


def _resolve(inp: InputFile, present: list[str], spec: SourceMapping, *, hint: str = "") -> dict[str, str]:
    """Target column -> source column: the mapping's renames, then same-named columns."""
    columns = dict(spec.columns)
    columns.update({t: t for t in TARGETS if t not in columns and t in present and t not in spec.constants})
    inp.column_labels = dict(columns)
    required: tuple[str, ...] = REQUIRED
    if "session_id" in columns and spec.anonymous == "session":
        required = tuple(t for t in REQUIRED if t != "user_id")  # a sessions-only log: every visitor is anonymous
    missing = [t for t in required if t not in columns and t not in spec.constants]
    require_columns(
        inp, present, [columns.get(t, t) for t in missing] + list(columns.values()), found=present, hint=hint
    )
    return columns


def _select(chunk: pa.Table, columns: dict[str, str], spec: SourceMapping) -> pa.Table:
    """The chunk's mapped columns under their target names, plus the constants."""
    n = chunk.num_rows
    data = {}
    for target, source in columns.items():
        column = chunk[source] if source in chunk.column_names else pa.nulls(n, pa.string())
        data[target] = column if target in _NATIVE else _as_text(column)
    for target, value in spec.constants.items():
        data[target] = pa.repeat(pa.scalar(value, pa.string()), n)
    if "user_id" not in data:
        data["user_id"] = pa.nulls(n, pa.string())
    for target, mapping in spec.values.items():
        if target != "event_type" and target in data:
            data[target] = _mapped_values(_as_text(data[target]), mapping)
    return pa.table(data)


def _mapped_values(column: pa.ChunkedArray, mapping: dict[str, str]) -> pa.ChunkedArray:
    codes = pc.index_in(pc.utf8_trim_whitespace(column), value_set=pa.array(list(mapping), pa.string()))
    return pc.coalesce(pa.array(list(mapping.values()), pa.string()).take(codes), column)


def _batch(inp: InputFile, line: int, chunk: pa.Table, spec: SourceMapping, span: DaySpan) -> Batch:
    rows = chunk.num_rows
    skipped: list = []
    not_empty(inp, chunk, "event_type", line)
    source_event = pc.utf8_trim_whitespace(chunk["event_type"])
    chunk = chunk.set_column(
        chunk.column_names.index("event_type"), "event_type", _event_types(inp, source_event, spec.event_map(), line)
    )
    ts = parse(inp, chunk["ts"], line, fmt=spec.ts_format, name=inp.column_labels.get("ts", "ts"))
    span.add(ts, chunk["ts"])
    event_ids = _event_ids(inp, line, chunk, spec, ts)
    chunk = with_lines(chunk, line).set_column(chunk.column_names.index("ts") + 1, "ts", ts)
    chunk = chunk.append_column("source_event", source_event).append_column("_event_id", event_ids)
    for name in KEY_COLUMNS:
        if name in chunk.column_names and name != "user_id":
            chunk = chunk.set_column(chunk.column_names.index(name), name, nullify(chunk[name]))
    chunk = _anonymous(chunk, spec)
    sessions = spec.anonymous == "session" and "session_id" in chunk.column_names
    chunk = drop_null_keys(
        chunk, ["user_id"], skipped, labels={"user_id": "user_id and no session_id" if sessions else "user_id"}
    )
    events = {
        "event_id": chunk["_event_id"],
        "user_id": chunk["user_id"],
        "ts": chunk["ts"],
        "event_type": chunk["event_type"],
        "source_event": chunk["source_event"],
    }
    for name in ("session_id", "item_id"):
        if name in chunk.column_names:
            events[name] = chunk[name]
    if "value" in chunk.column_names:
        events["value"] = _floats(inp, chunk, "value", line)
    tables = {"events": pa.table(events), "users": _attributes(chunk, "user_id", USER_TARGETS, inp, line)}
    if "item_id" in chunk.column_names:
        items = _attributes(chunk, "item_id", ITEM_TARGETS, inp, line)
        tables["items"] = items.filter(pc.is_valid(items["item_id"]))
    if spec.orders:
        tables["_purchases"] = _purchase_rows(inp, chunk, line)
    skipped = [(reason, detail, dropped.drop_columns(["_event_id"])) for reason, detail, dropped in skipped]
    return Batch(tables=tables, rows=rows, skipped=skipped, key=key_description(spec, "event_id" in chunk.column_names))


def _event_ids(inp: InputFile, line: int, chunk: pa.Table, spec: SourceMapping, ts: pa.Array) -> pa.Array:
    if "event_id" in chunk.column_names:
        return to_int(inp, chunk, "event_id", line)
    if spec.key:
        parts = [pc.fill_null(_as_text(ts if name == "ts" else chunk[name]), "") for name in spec.key]
        return content_ids(f"{inp.fmt}:key", pc.binary_join_element_wise(*parts, "\x1f"))
    return line_ids(inp.source_key, line, chunk.num_rows)


def _anonymous(chunk: pa.Table, spec: SourceMapping) -> pa.Table:
    """Rows without a user but with a session become that session's anonymous visitor (``anon-<session>``)."""
    if spec.anonymous != "session" or "session_id" not in chunk.column_names:
        return chunk
    visitor = pc.binary_join_element_wise(ANONYMOUS_PREFIX, chunk["session_id"], "")
    anonymous = pc.and_(pc.is_null(nullify(chunk["user_id"])), pc.is_valid(visitor))
    user = pc.if_else(anonymous, visitor, chunk["user_id"])  # others keep their spelling for the skip sample
    return chunk.set_column(chunk.column_names.index("user_id"), "user_id", user)


def _purchase_rows(inp: InputFile, chunk: pa.Table, line: int) -> pa.Table:
    bought = chunk.filter(pc.equal(chunk["event_type"], "purchase"))
    data = {"event_id": bought["_event_id"], "user_id": bought["user_id"], "ts": bought["ts"]}
    for name in ("order_id", "item_id"):
        data[name] = bought[name] if name in bought.column_names else pa.nulls(bought.num_rows, pa.string())
    n = bought.num_rows
    data["value"] = _floats(inp, bought, "value", line) if "value" in bought.column_names else pa.nulls(n, pa.float64())
    data["quantity"] = pa.nulls(n, pa.int64())
    if "quantity" in bought.column_names:
        text = bought.set_column(bought.column_names.index("quantity"), "quantity", _as_text(bought["quantity"]))
        data["quantity"] = to_int(inp, text, "quantity", line, allow_null=True)
    return pa.table(data)


def _as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _floats(inp: InputFile, chunk: pa.Table, name: str, line: int) -> pa.Array:
    column = chunk[name]
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64())
    return to_float(inp, chunk.set_column(chunk.column_names.index(name), name, _as_text(column)), name, line)


def _attributes(chunk: pa.Table, key: str, targets: tuple[str, ...], inp: InputFile, line: int) -> pa.Table:
    present = [t for t in targets if t in chunk.column_names]
    table = chunk.select([key, *present])
    if "price" in present:
        table = table.set_column(table.column_names.index("price"), "price", _floats(inp, chunk, "price", line))
    if "signup_ts" in present:
        table = table.set_column(
            table.column_names.index("signup_ts"),
            "signup_ts",
            parse(inp, chunk["signup_ts"], line, fmt=None, name="signup_ts"),
        )
    return table


def _event_types(inp: InputFile, source: pa.ChunkedArray, event_map: dict[str, str], line: int) -> pa.Array:
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
