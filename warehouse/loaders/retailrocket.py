"""RetailRocket ``events.csv``: ``timestamp`` (ms), ``visitorid``, ``event``, ``itemid``, ``transactionid``."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._columns import first_index, not_empty, require_columns, unix_timestamp
from warehouse.loaders._csv import csv_batches, first_line, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import line_ids
from warehouse.loaders._ingest import Batch

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
    for column in ("visitorid", "event", "itemid"):
        not_empty(inp, chunk, column, line)
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
    events = pa.table(
        {
            "event_id": line_ids(inp.source_key, line, chunk.num_rows),
            "user_id": chunk["visitorid"],
            "ts": ts,
            "event_type": pa.array(list(EVENTS.values())).take(codes),
            "item_id": chunk["itemid"],
            "source_event": event,
        }
    )
    has_order = pc.and_(pc.equal(event, "transaction"), pc.is_valid(chunk["transactionid"]))
    bought = pa.table(
        {"order_id": chunk["transactionid"], "user_id": chunk["visitorid"], "ts": ts, "item_id": chunk["itemid"]}
    ).filter(has_order)
    tables = {
        "users": pa.table({"user_id": pc.unique(chunk["visitorid"])}),
        "items": pa.table({"item_id": pc.unique(chunk["itemid"])}),
        "events": events,
    }
    return Batch(tables=tables, rows=chunk.num_rows), bought


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
