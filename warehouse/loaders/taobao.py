"""Taobao UserBehavior CSV (Alibaba Tianchi): ``user,item,category,behavior,timestamp``, no header."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._columns import drop_null_keys, first_index, not_empty, unix_timestamp, with_lines
from warehouse.loaders._csv import csv_batches, first_line, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import line_ids
from warehouse.loaders._ingest import Batch
from warehouse.loaders._timestamps import drop_outside

COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]  # as Tianchi documents them
BEHAVIORS = {"pv": "view", "cart": "add_to_cart", "fav": "favorite", "buy": "purchase"}
"""Taobao's behavior codes and the canonical event types they become."""

ORDER_PREFIX = "tb-"


def read(inp: InputFile) -> Iterator[Batch]:
    """Events, users, items (with their category) and a one-item order per ``buy`` line."""
    delimiter = sniff_delimiter(inp)
    fields = split_line(first_line(inp), delimiter)
    if len(fields) != len(COLUMNS):
        raise inp.fail(
            f"expected 5 fields user,item,category,behavior,timestamp, found {len(fields)}: {fields[:8]}",
            "give the UserBehavior.csv file, or use --format csv with --map for other layouts",
            line=1,
        )
    has_header = not fields[0].isdigit() and not fields[-1].isdigit()  # the official file has none; tolerate one
    for line, chunk in csv_batches(inp, names=COLUMNS, has_header=has_header, delimiter=delimiter):
        yield _batch(inp, line, chunk)


def _batch(inp: InputFile, line: int, chunk: pa.Table) -> Batch:
    rows = chunk.num_rows
    skipped: list = []
    not_empty(inp, chunk, "behavior_type", line)
    ts = unix_timestamp(inp, chunk, "timestamp", line, unit="s")
    behavior = pc.utf8_trim_whitespace(chunk["behavior_type"])
    codes = pc.index_in(behavior, value_set=pa.array(list(BEHAVIORS)))
    bad = first_index(pc.is_null(codes))
    if bad is not None:
        raise inp.fail(
            f"unknown behavior {behavior[bad].as_py()!r}",
            "Taobao behaviors are pv, cart, fav and buy; for another vocabulary use --format csv with --event-map",
            line=line + bad,
            column="behavior_type",
        )
    chunk = with_lines(chunk, line).append_column("ts", ts)
    chunk = chunk.append_column("event_id", line_ids(inp.source_key, line, rows))
    chunk = chunk.append_column("event_type", pa.array(list(BEHAVIORS.values())).take(codes))
    chunk = drop_null_keys(chunk, ["user_id", "item_id"], skipped)
    chunk = drop_outside(chunk, "ts", skipped, "timestamp before 1990 or after now")
    behavior = pc.utf8_trim_whitespace(chunk["behavior_type"])
    events = pa.table(
        {
            "event_id": chunk["event_id"],
            "user_id": chunk["user_id"],
            "ts": chunk["ts"],
            "event_type": chunk["event_type"],
            "item_id": chunk["item_id"],
            "source_event": behavior,
        }
    )
    buys = pc.equal(behavior, "buy")
    bought = events.filter(buys)
    unsigned = pc.cast(bought["event_id"].combine_chunks().view(pa.uint64()), pa.string())
    order_ids = pc.binary_join_element_wise(ORDER_PREFIX, unsigned, "")
    n = bought.num_rows
    orders = pa.table(
        {"order_id": order_ids, "user_id": bought["user_id"], "ts": bought["ts"], "status": pa.repeat("completed", n)}
    )
    order_items = pa.table(
        {"order_id": order_ids, "item_id": bought["item_id"], "quantity": pa.repeat(pa.scalar(1, pa.int32()), n)}
    )
    return Batch(
        tables={
            "users": pa.table({"user_id": pc.unique(chunk["user_id"])}),
            "items": pa.table({"item_id": chunk["item_id"], "category": chunk["category_id"]}),
            "events": events,
            "orders": orders,
            "order_items": order_items,
        },
        rows=rows,
        skipped=[(reason, detail, dropped.select(["line", *COLUMNS])) for reason, detail, dropped in skipped],
    )
