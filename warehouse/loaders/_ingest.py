"""The atomic, idempotent write: one transaction per file; rows whose key is already stored are skipped."""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Index, inspect, select, text
from tqdm import tqdm

from warehouse.connection import Warehouse
from warehouse.loaders._files import InputFile
from warehouse.schema import ANALYTIC_INDEXES, TABLE_NAMES, metadata

logger = logging.getLogger(__name__)

KEYS: dict[str, str] = {
    "users": "user_id",
    "items": "item_id",
    "events": "event_id",
    "orders": "order_id",
    "reviews": "review_id",
}
"""The key of each table; ``order_items`` rows follow their order."""

_PROBE_BATCH = 50_000


@dataclass
class Batch:
    """Canonical rows mapped from one chunk of input, with the input rows it consumed."""

    tables: dict[str, pa.Table]
    rows: int
    skipped: Counter = field(default_factory=Counter)


@dataclass
class IngestReport:
    """What one ingest did: input rows read, rows written per table, rows skipped and why, time."""

    path: str
    fmt: str
    rows_read: int = 0
    inserted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    present: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    skipped: Counter = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        """Input rows read per second of the whole ingest."""
        return self.rows_read / self.elapsed_s if self.elapsed_s else 0.0

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "path": self.path,
            "format": self.fmt,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "already_present": self.present,
            "skipped": dict(self.skipped),
            "elapsed_s": round(self.elapsed_s, 3),
            "rows_per_s": round(self.rows_per_s),
        }


class _Writer:
    """Writes batches inside one open transaction, skipping keys the warehouse already holds."""

    def __init__(self, warehouse: Warehouse, conn: Connection, report: IngestReport, *, unique_events: bool) -> None:
        self.warehouse = warehouse
        self.conn = conn
        self.report = report
        # Line-derived event ids are distinct within a file, so a table empty at the start
        # needs no look-ups: the common first load of a big file skips them entirely.
        self.unique_events = unique_events
        self.probe_events = not unique_events or _has_rows(conn, "events")
        self.rebuild: list[Index] = []
        if warehouse.dialect == "postgresql" and not self.probe_events:
            # Into an empty events table, building its indexes once at the end is about 3x faster
            # than maintaining them row by row; PostgreSQL's DDL is transactional, so a failure
            # still leaves everything as it was.
            present = {ix["name"] for ix in inspect(conn).get_indexes("events")}
            self.rebuild = [ix for ix in ANALYTIC_INDEXES if ix.table.name == "events" and ix.name in present]
            for index in self.rebuild:
                index.drop(conn)

    def finish(self) -> None:
        """Recreate any index dropped for the load, inside the same transaction."""
        for index in self.rebuild:
            index.create(self.conn)

    def write(self, batch: Batch) -> None:
        self.report.rows_read += batch.rows
        self.report.skipped.update(batch.skipped)
        kept: dict[str, pa.Array] = {}
        for name in sorted(batch.tables, key=lambda n: n == "order_items"):
            table = batch.tables[name]
            if name in KEYS:
                table = self._new_rows(name, table)
                kept[name] = table[KEYS[name]]
            elif name == "order_items":
                table = _follow(table, kept)
            self.report.inserted[name] += self.warehouse.bulk_insert(self.conn, name, table)

    def _new_rows(self, name: str, table: pa.Table) -> pa.Table:
        key = KEYS[name]
        if name != "events" or not self.unique_events:
            table = _first_per_key(table, key)
        if name != "events" or self.probe_events:
            existing = _existing_keys(self.warehouse, self.conn, name, key, table[key])
            if len(existing):
                self.report.present[name] += len(existing)
                table = table.filter(pc.invert(pc.is_in(table[key], value_set=existing)))
        return table


def _follow(order_items: pa.Table, kept: dict[str, pa.Array]) -> pa.Table:
    """Order lines written with their event (``_event_id`` column) or else with their order."""
    if "_event_id" in order_items.column_names:
        mask = pc.is_in(order_items["_event_id"], value_set=kept["events"])
        return order_items.filter(mask).drop_columns(["_event_id"])
    return order_items.filter(pc.is_in(order_items["order_id"], value_set=kept["orders"]))


def _first_per_key(table: pa.Table, key: str) -> pa.Table:
    """Keep the first row of each key (input order)."""
    unique = pc.unique(table[key])
    if len(unique) == table.num_rows:
        return table
    return table.take(pc.index_in(unique, value_set=table[key]))  # index_in answers a key's first position


def _has_rows(conn: Connection, name: str) -> bool:
    table = metadata.tables[name]
    # .all(), not .first(): DuckDB refuses new work while a result is left unread.
    return bool(conn.execute(select(table.c[KEYS.get(name, "order_id")]).limit(1)).all())


def _existing_keys(warehouse: Warehouse, conn: Connection, name: str, key: str, values: pa.ChunkedArray) -> pa.Array:
    """The subset of ``values`` already stored as ``name.key`` (this transaction's rows included)."""
    if len(values) == 0:
        return pa.array([], type=values.type)
    if warehouse.dialect == "duckdb":
        raw = conn.connection.dbapi_connection
        raw.register("_uba_keys", pa.table({"k": values}))
        try:
            found = raw.sql(f"SELECT k FROM _uba_keys WHERE k IN (SELECT {key} FROM {name})").fetchnumpy()["k"]
        finally:
            raw.unregister("_uba_keys")
        return pa.array(found, type=values.type)
    found: list = []
    python_values = values.to_pylist()
    for start in range(0, len(python_values), _PROBE_BATCH):
        chunk = python_values[start : start + _PROBE_BATCH]
        if warehouse.dialect == "postgresql":
            rows = conn.execute(text(f"SELECT {key} FROM {name} WHERE {key} = ANY(:keys)"), {"keys": chunk})
        else:
            column = metadata.tables[name].c[key]
            rows = conn.execute(select(column).where(column.in_(chunk)))
        found.extend(row[0] for row in rows)
    return pa.array(found, type=values.type)


def write_batches(
    warehouse: Warehouse,
    inp: InputFile,
    batches: Iterable[Batch],
    *,
    unique_events: bool,
    progress: bool = False,
) -> IngestReport:
    """Write every batch in one transaction: all rows or, on any error, none."""
    report = IngestReport(path=str(inp.path), fmt=inp.fmt)
    started = time.perf_counter()
    batches = iter(batches)
    with warehouse.begin() as conn:
        writer = _Writer(warehouse, conn, report, unique_events=unique_events)
        first = next(batches)  # the file's layout is checked before the progress bar appears
        bar = tqdm(total=inp.size, unit="B", unit_scale=True, desc=f"ingest {inp.path.name}", disable=not progress)
        with bar:
            for batch in itertools.chain([first], batches):
                writer.write(batch)
                bar.update(max(0, inp.position() - bar.n))
                bar.set_postfix(rows=f"{report.rows_read:,}", refresh=False)
            bar.update(max(0, inp.size - bar.n))
        writer.finish()
    report.elapsed_s = time.perf_counter() - started
    logger.info("ingested %s: %s", inp.path, report.to_dict())
    return report
