"""Orders and order lines built from purchase events (``orders: true`` in a mapping)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._ingest import Batch

ORDER_PREFIX = "ev-"
"""The order id of a purchase row without an order_id: one order per purchase event."""


class Purchases:
    """Purchase rows gathered over the whole file, so an order split across chunks stays one order."""

    def __init__(self) -> None:
        self.parts: list[pa.Table] = []

    def add(self, rows: pa.Table) -> None:
        self.parts.append(rows)

    def batch(self) -> Batch:
        """One order per order id (its first buyer, earliest time, summed value); one line per item."""
        rows = pa.concat_tables(self.parts) if self.parts else None
        if rows is None or rows.num_rows == 0:
            return Batch(tables={}, rows=0)
        rows = rows.take(pc.index_in(pc.unique(rows["event_id"]), value_set=rows["event_id"]))  # once per event
        unsigned = pc.cast(rows["event_id"].combine_chunks().view(pa.uint64()), pa.string())
        own = pc.binary_join_element_wise(ORDER_PREFIX, unsigned, "")
        rows = rows.set_column(rows.column_names.index("order_id"), "order_id", pc.coalesce(rows["order_id"], own))
        quantity = pc.cast(pc.coalesce(rows["quantity"], pa.scalar(1, pa.int64())), pa.int32())
        rows = rows.set_column(rows.column_names.index("quantity"), "quantity", quantity)
        grouped = rows.group_by("order_id", use_threads=False).aggregate(
            [("user_id", "first"), ("ts", "min"), ("value", "sum")]
        )
        orders = pa.table(
            {
                "order_id": grouped["order_id"],
                "user_id": grouped["user_id_first"],
                "ts": grouped["ts_min"],
                "total": grouped["value_sum"],
                "status": pa.repeat("completed", grouped.num_rows),
            }
        )
        lines = rows.filter(pc.is_valid(rows["item_id"]))
        lines = lines.group_by(["order_id", "item_id"], use_threads=False).aggregate(
            [("quantity", "sum"), ("value", "sum")]
        )
        quantity = pc.cast(lines["quantity_sum"], pa.int32())
        order_items = pa.table(
            {
                "order_id": lines["order_id"],
                "item_id": lines["item_id"],
                "quantity": quantity,
                "price": pc.divide(lines["value_sum"], pc.cast(quantity, pa.float64())),
            }
        )
        return Batch(tables={"orders": orders, "order_items": order_items}, rows=0)
