"""RetailRocket ``events.csv``: ``timestamp`` (ms), ``visitorid``, ``event``, ``itemid``, ``transactionid``."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._columns import (
    drop_null_keys,
    first_index,
    not_empty,
    nullify,
    require_columns,
    unix_timestamp,
    with_lines,
)
from warehouse.loaders._csv import csv_batches, first_line, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import line_ids
from warehouse.loaders._ingest import Batch
from warehouse.loaders._timestamps import drop_outside

COLUMNS = ["timestamp", "visitorid", "event", "itemid", "transactionid"]
EVENTS = {"view": "view", "addtocart": "add_to_cart", "transaction": "purchase"}
"""RetailRocket's event names and the canonical event types they become."""


def read(inp: InputFile) -> Iterator[Batch]:
    """Events, users, items; each transaction id becomes an order, written after the last chunk."""
    delimiter = sniff_delimiter(inp)
    header = split_line(first_line(inp), delimiter)
    require_columns(inp, header, COLUMNS)
    purchases: list[pa.Table] = []
    for line, chunk in csv_batches(inp, names=header, has_header=True, delimiter=delimiter):
        batch, bought = _batch(inp, line, chunk)
        purchases.append(bought)
        yield batch
    yield _orders(pa.concat_tables(purchases))


def _batch(inp: InputFile, line: int, chunk: pa.Table) -> tuple[Batch, pa.Table]:
    rows = chunk.num_rows
    skipped: list = []
    not_empty(inp, chunk, "event", line)
    ts = unix_timestamp(inp, chunk, "timestamp", line, unit="ms")
    event = pc.utf8_trim_whitespace(chunk["event"])
    codes = pc.index_in(event, value_set=pa.array(list(EVENTS)))
    bad = first_index(pc.is_null(codes))
    if bad is not None:
        raise inp.fail(
            f"unknown event {event[bad].as_py()!r}",
            "RetailRocket events are view, addtocart and transaction; "
            "for another vocabulary use --format csv with --event-map",
            line=line + bad,
            column="event",
        )
    source = chunk.select(COLUMNS)
    chunk = with_lines(source, line).append_column("ts", ts).append_column("event_name", event)
    chunk = chunk.append_column("event_id", line_ids(inp.source_key, line, rows))
    chunk = chunk.append_column("event_type", pa.array(list(EVENTS.values())).take(codes))
    chunk = drop_null_keys(chunk, ["visitorid", "itemid"], skipped)
    chunk = drop_outside(chunk, "ts", skipped, "timestamp before 1990 or after now")
    events = pa.table(
        {
            "event_id": chunk["event_id"],
            "user_id": chunk["visitorid"],
            "ts": chunk["ts"],
            "event_type": chunk["event_type"],
            "item_id": chunk["itemid"],
            "source_event": chunk["event_name"],
        }
    )
    order_id = nullify(chunk["transactionid"])
    has_order = pc.and_(pc.equal(chunk["event_name"], "transaction"), pc.is_valid(order_id))
    bought = pa.table(
        {"order_id": order_id, "user_id": chunk["visitorid"], "ts": chunk["ts"], "item_id": chunk["itemid"]}
    ).filter(has_order)
    tables = {
        "users": pa.table({"user_id": pc.unique(chunk["visitorid"])}),
        "items": pa.table({"item_id": pc.unique(chunk["itemid"])}),
        "events": events,
    }
    samples = [(reason, detail, dropped.select(["line", *COLUMNS])) for reason, detail, dropped in skipped]
    return Batch(tables=tables, rows=rows, skipped=samples), bought


def _orders(bought: pa.Table) -> Batch:
    """One order per transaction id (its first visitor, its earliest time); one line per item."""
    orders = bought.group_by("order_id", use_threads=False).aggregate([("user_id", "first"), ("ts", "min")])
    orders = pa.table(
        {
            "order_id": orders["order_id"],
            "user_id": orders["user_id_first"],
            "ts": orders["ts_min"],
            "status": pa.repeat("completed", orders.num_rows),
        }
    )
    lines = bought.group_by(["order_id", "item_id"], use_threads=False).aggregate([("item_id", "count")])
    order_items = pa.table(
        {
            "order_id": lines["order_id"],
            "item_id": lines["item_id"],
            "quantity": pc.cast(lines["item_id_count"], pa.int32()),
        }
    )
    return Batch(tables={"orders": orders, "order_items": order_items}, rows=0)
