"""The atomic, idempotent write: one transaction per file; rows whose key is already stored are skipped."""

from __future__ import annotations

import io
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Index, inspect, select
from tqdm import tqdm

from warehouse.clickhouse import existing_keys as existing_keys_clickhouse
from warehouse.connection import Warehouse
from warehouse.event_steps import refresh_event_steps
from warehouse.loaders._files import InputFile
from warehouse.loaders.report import PREVIEW_ROWS, IngestReport, SkipReason, as_text_rows
from warehouse.redaction import Redactor, redact_table
from warehouse.schema import ANALYTIC_INDEXES, metadata

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
    """Canonical rows mapped from one chunk of input, with the input rows it consumed and those it skipped.

    ``primary`` is the table holding one row per input row: its duplicate keys are reported as skipped.
    """

    tables: dict[str, pa.Table]
    rows: int
    skipped: list[tuple[SkipReason, str, pa.Table]] = field(default_factory=list)
    primary: str = "events"
    key: str = ""  # what the primary table's duplicates share, when not the report's key
    side: str = ""  # the side-table file the rows came from (counted apart from the main file's rows)


class _Writer:
    """Writes batches inside one open transaction, skipping keys the warehouse already holds."""

    def __init__(
        self,
        warehouse: Warehouse,
        conn: Connection,
        report: IngestReport,
        *,
        unique_events: bool,
        redactor: Redactor | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.redactor = redactor
        self.conn = conn
        self.report = report
        # Line-derived event ids are distinct within a file, so a table empty at the start
        # needs no look-ups: the common first load of a big file skips them entirely.
        self.unique_events = unique_events
        self.probe_events = not unique_events or _has_rows(conn, "events")
        self.written: dict[str, list[pa.Array]] = {}  # keys each primary table got from this ingest
        self.rebuild: list[Index] = []
        if warehouse.dialect == "postgresql" and not self.probe_events:
            # Into an empty events table, building its indexes once at the end is about 3x faster
            # than maintaining them row by row; PostgreSQL's DDL is transactional, so a failure
            # still leaves everything as it was.
            present = {ix["name"] for ix in inspect(conn).get_indexes("events")}
            self.rebuild = [
                ix
                for ix in ANALYTIC_INDEXES
                if ix.table is not None and ix.table.name == "events" and ix.name in present
            ]
            for index in self.rebuild:
                index.drop(conn)

    def finish(self) -> None:
        """Recreate any index dropped for the load, inside the same transaction."""
        for index in self.rebuild:
            index.create(self.conn)
        if self.report.inserted["events"]:
            refresh_event_steps(self.conn)

    def write(self, batch: Batch) -> None:
        if batch.side:
            self.report.side_rows_read[batch.side] = self.report.side_rows_read.get(batch.side, 0) + batch.rows
        else:
            self.report.rows_read += batch.rows
        if batch.key and batch.primary == "events":
            self.report.key = batch.key  # a mapped source's key is known once its columns are
        for reason, detail, rows in batch.skipped:
            self.report.skip(reason, detail, rows)
        kept: dict[str, pa.Array] = {}
        for name in sorted(batch.tables, key=lambda n: n == "order_items"):
            table = batch.tables[name]
            if name in KEYS:
                table = self._new_rows(name, table, primary=name == batch.primary, key=batch.key)
                kept[name] = table[KEYS[name]]
            elif name == "order_items":
                table = _follow(table, kept)
            if name == "reviews" and self.redactor is not None:
                table = redact_table(table, self.redactor)
            if self.report.dry_run and name == batch.primary and len(self.report.preview) < PREVIEW_ROWS:
                self.report.preview.extend(as_text_rows(table.slice(0, PREVIEW_ROWS - len(self.report.preview))))
            self.report.inserted[name] += self.warehouse.bulk_insert(self.conn, name, table)

    def _new_rows(self, name: str, table: pa.Table, *, primary: bool, key: str) -> pa.Table:
        detail = f"same {key or self.report.key or KEYS[name]} as an earlier row"
        key = KEYS[name]
        if name != "events" or not self.unique_events:
            table, repeated = _first_per_key(table, key)
            if primary:
                self.report.skip("duplicate_key", detail, repeated)
        if name != "events" or self.probe_events:
            existing = _existing_keys(self.warehouse, self.conn, name, key, table[key])
            if primary and len(existing) and self.written.get(name):
                # Keys this ingest wrote from an earlier chunk are duplicates within the file, not old rows.
                written = pa.concat_arrays(self.written[name]).cast(table[key].type)
                ours = pc.is_in(table[key], value_set=written)
                self.report.skip("duplicate_key", detail, table.filter(ours))
                table = table.filter(pc.invert(ours))
                existing = existing.filter(pc.invert(pc.is_in(existing, value_set=written)))
            if len(existing):
                self.report.already_present[name] += len(existing)
                table = table.filter(pc.invert(pc.is_in(table[key], value_set=existing)))
        if primary:
            self.written.setdefault(name, []).append(table[key].combine_chunks())
        return table


def _follow(order_items: pa.Table, kept: dict[str, pa.Array]) -> pa.Table:
    """Order lines written with their event (``_event_id`` column) or else with their order."""
    if "_event_id" in order_items.column_names:
        mask = pc.is_in(order_items["_event_id"], value_set=kept["events"])
        return order_items.filter(mask).drop_columns(["_event_id"])
    return order_items.filter(pc.is_in(order_items["order_id"], value_set=kept["orders"]))


def _first_per_key(table: pa.Table, key: str) -> tuple[pa.Table, pa.Table]:
    """The first row of each key (input order), and the later rows repeating a key."""
    unique = pc.unique(table[key])
    if len(unique) == table.num_rows:
        return table, table.slice(0, 0)
    first = pc.index_in(unique, value_set=table[key])  # index_in answers a key's first position
    is_first = pc.is_in(pa.array(range(table.num_rows), pa.int64()), value_set=pc.cast(first, pa.int64()))
    return table.filter(is_first), table.filter(pc.invert(is_first))


def _has_rows(conn: Connection, name: str) -> bool:
    table = metadata.tables[name]
    # .all(), not .first(): DuckDB refuses new work while a result is left unread.
    return bool(conn.execute(select(table.c[KEYS.get(name, "order_id")]).limit(1)).all())


def _existing_keys(warehouse: Warehouse, conn: Connection, name: str, key: str, values: pa.ChunkedArray) -> pa.Array:
    """The subset of ``values`` already stored as ``name.key`` (this transaction's rows included)."""
    if len(values) == 0:
        return pa.array([], type=values.type)
    if warehouse.dialect == "duckdb":
        raw: Any = conn.connection.dbapi_connection  # duckdb / psycopg, untyped by SQLAlchemy
        raw.register("_uba_keys", pa.table({"k": values}))
        try:
            hits = raw.sql(f"SELECT k FROM _uba_keys WHERE k IN (SELECT {key} FROM {name})").fetchnumpy()["k"]
        finally:
            raw.unregister("_uba_keys")
        return pa.array(hits, type=values.type)
    if warehouse.dialect == "postgresql":
        return _existing_keys_postgres(conn, name, key, values)
    if warehouse.dialect == "clickhouse":
        return existing_keys_clickhouse(conn, name, key, values)
    found: list = []
    python_values = values.to_pylist()
    column = metadata.tables[name].c[key]
    for start in range(0, len(python_values), _PROBE_BATCH):
        chunk = python_values[start : start + _PROBE_BATCH]
        found.extend(row[0] for row in conn.execute(select(column).where(column.in_(chunk))))
    return pa.array(found, type=values.type)


def _existing_keys_postgres(conn: Connection, name: str, key: str, values: pa.ChunkedArray) -> pa.Array:
    """COPY the keys into a temporary table and semi-join there: no per-key round trips or parameters."""
    kind = "bigint" if pa.types.is_integer(values.type) else "text"
    stage = f"_uba_keys_{kind}"
    raw: Any = conn.connection.dbapi_connection  # duckdb / psycopg, untyped by SQLAlchemy
    with raw.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (k {kind}) ON COMMIT DROP")
        cur.execute(f"TRUNCATE {stage}")
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        with cur.copy(f"COPY {stage} (k) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in pa.table({"k": values}).to_batches(max_chunksize=_PROBE_BATCH):
                buffer = io.BytesIO()
                pacsv.write_csv(pa.Table.from_batches([batch]), buffer, options)
                copy.write(buffer.getvalue())
        cur.execute(f"ANALYZE {stage}")
        matches = f"FROM {stage} s WHERE EXISTS (SELECT 1 FROM {name} t WHERE t.{key} = s.k)"
        cur.execute(f"SELECT COUNT(*) {matches}")
        count = cur.fetchone()[0]
        if count in (0, len(values)):  # the common cases: a new file, or a re-run
            whole = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
            return whole if count else pa.array([], type=values.type)
        cur.execute(f"SELECT s.k {matches}")
        return pa.array([row[0] for row in cur.fetchall()], type=values.type)


def write_batches(
    warehouse: Warehouse,
    inp: InputFile,
    batches: Iterable[Batch],
    *,
    unique_events: bool,
    key: str = "",
    dry_run: bool = False,
    progress: bool = False,
    redactor: Redactor | None = None,
) -> IngestReport:
    """Write every batch in one transaction: all rows or, on any error, none (``dry_run``: none either way).

    ``redactor``: review titles and bodies are stored with personal identifiers replaced (None: as read).
    """
    report = IngestReport(path=str(inp.path), format=inp.fmt, key=key, dry_run=dry_run)
    started = time.perf_counter()
    batches = iter(batches)
    with warehouse.engine.connect() as conn:
        transaction = conn.begin()
        try:
            _write_all(
                warehouse, conn, inp, batches, report, unique_events=unique_events, progress=progress, redactor=redactor
            )
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    report.elapsed_s = time.perf_counter() - started
    logger.info("ingested %s: %s", inp.path, report.to_dict())
    return report


def _write_all(
    warehouse, conn, inp, batches, report, *, unique_events: bool, progress: bool, redactor: Redactor | None = None
) -> None:
    writer = _Writer(warehouse, conn, report, unique_events=unique_events, redactor=redactor)
    first = next(batches, None)  # the file's layout is checked before the progress bar appears
    if first is None:
        raise inp.fail("the file holds no rows", f"give a file with {inp.fmt} data")
    bar = tqdm(total=inp.size, unit="B", unit_scale=True, desc=f"ingest {inp.path.name}", disable=not progress)
    with bar:
        for batch in itertools.chain([first], batches):
            writer.write(batch)
            bar.update(max(0, inp.position() - bar.n))
            bar.set_postfix(rows=f"{report.rows_read:,}", refresh=False)
        bar.update(max(0, inp.size - bar.n))
    writer.finish()
