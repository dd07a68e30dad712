"""The step index: every event with the event types just before and after it, derived after each load.

A paths question ("what do users do after viewing?") needs each event's neighbours in time order,
which is a window sort over the whole events table (about 3.5 s at 10M events on two cores). The
loaders and the demo generator rebuild this table inside their own transaction, so the paths
analytic reads precomputed steps (a scan) while it is fresh and falls back to the window otherwise.
Freshness is checked per query: same row count and same largest ``event_id`` as ``events``.

On ClickHouse the rebuild runs in user buckets (``cityHash64(user_id) % n``) of about
``STEP_CHUNK_EVENTS`` events, one ``INSERT ... SELECT`` each: both windows partition by user, so a
bucket holds every neighbour its events have, and the rows are the same as one statement's. The key
columns are first copied into a scratch MergeTree partitioned by bucket, so that each bucket's statement
reads its own partition rather than every event (filtering on the hash read the whole table per bucket). One
statement over all events held both window sorts at once (more than 8 GB at 100M events, past an
8 GB ``max_memory_usage`` even with external sorting); a bucket's memory follows the bucket, not the
table. DuckDB and PostgreSQL spill their window sorts to disk within one statement.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from sqlalchemy import Column, Connection, MetaData, String, Table, text

from warehouse.clickhouse import CLICKHOUSE_DIALECTS, create_tables, truncate
from warehouse.schema import events

logger = logging.getLogger(__name__)

STEPS_TABLE = "event_steps"
MAX_DEPTH = 3
Scope = Literal["session", "user"]
Direction = Literal["next", "previous"]

steps_metadata = MetaData()


def step_column(scope: Scope, direction: Direction, k: int) -> str:
    """The column holding the ``k``-th event type after/before an event, within its session or user."""
    return f"{'s' if scope == 'session' else 'u'}_{'next' if direction == 'next' else 'prev'}_{k}"


STEP_COLUMNS: tuple[str, ...] = tuple(
    step_column(scope, direction, k)
    for scope in ("session", "user")
    for direction in ("next", "previous")
    for k in range(1, MAX_DEPTH + 1)
)
KEY_COLUMNS: tuple[str, ...] = ("event_id", "user_id", "session_id", "ts", "event_type")

event_steps = Table(
    STEPS_TABLE,
    steps_metadata,
    *(Column(name, events.c[name].type, nullable=events.c[name].nullable) for name in KEY_COLUMNS),
    *(Column(name, String) for name in STEP_COLUMNS),
)

ORDER = "ORDER BY ts, event_id"
BUCKETED_TABLE = "_uba_event_steps_buckets"
"""ClickHouse's scratch copy of the events' key columns, one partition per user bucket, while the index is rebuilt."""
STEP_CHUNK_EVENTS = 5_000_000
"""Events per user bucket when ClickHouse rebuilds the step index (a bucket's window sorts are held in memory)."""
WINDOWS = {"session": f"(PARTITION BY user_id, session_id {ORDER})", "user": f"(PARTITION BY user_id {ORDER})"}


def window_step(scope: Scope, direction: Direction, k: int, *, alias: str = "", nullable: str = "{}") -> str:
    """``LEAD``/``LAG`` of the event type over ``scope``: what the table stores, computed on the fly.

    ``nullable`` wraps the event type so that no neighbour is NULL (ClickHouse: ``toNullable({})``, else
    its non-nullable column's default, the empty string, would stand for "no next event")."""
    prefix = f"{alias}." if alias else ""
    partition = f"{prefix}user_id, {prefix}session_id" if scope == "session" else f"{prefix}user_id"
    fn = "LEAD" if direction == "next" else "LAG"
    return (
        f"{fn}({nullable.format(prefix + 'event_type')}, {k}) "
        f"OVER (PARTITION BY {partition} ORDER BY {prefix}ts, {prefix}event_id)"
    )


def refresh_event_steps(conn: Connection, *, chunk_events: int = STEP_CHUNK_EVENTS) -> int:
    """Rebuild the step index from ``events`` inside ``conn``'s transaction; the rows written.

    ClickHouse builds it in user buckets of about ``chunk_events`` events each (see the module docstring)."""
    if chunk_events < 1:
        raise ValueError(f"chunk_events={chunk_events} must be at least 1 (events per user bucket)")
    started = time.perf_counter()
    clickhouse = conn.dialect.name in CLICKHOUSE_DIALECTS
    if clickhouse:
        create_tables(conn, [event_steps])
        truncate(conn, [STEPS_TABLE])
    else:
        event_steps.create(conn, checkfirst=True)
        conn.execute(text(f"DELETE FROM {STEPS_TABLE}"))
    steps = ", ".join(
        f"{window_step(scope, direction, k, nullable='toNullable({})' if clickhouse else '{}')} "
        f"AS {step_column(scope, direction, k)}"
        for scope in ("session", "user")
        for direction in ("next", "previous")
        for k in range(1, MAX_DEPTH + 1)
    )
    keys = ", ".join(KEY_COLUMNS)
    insert = f"INSERT INTO {STEPS_TABLE} ({keys}, {', '.join(STEP_COLUMNS)}) SELECT {keys}, {steps} FROM events"
    if not clickhouse:
        rows = conn.execute(text(insert)).rowcount
    else:
        buckets = user_buckets(conn.execute(text("SELECT count() FROM events")).scalar_one(), chunk_events)
        if buckets == 1:
            conn.execute(text(insert))
        else:
            _insert_by_bucket(conn, insert.replace(" FROM events", f" FROM {BUCKETED_TABLE}"), buckets)
        rows = conn.execute(text(f"SELECT count() FROM {STEPS_TABLE}")).scalar_one()
    logger.info("step index rebuilt: %s events in %.1f s", f"{rows:,}", time.perf_counter() - started)
    return rows


def _insert_by_bucket(conn: Connection, insert: str, buckets: int) -> None:
    """Run ``insert`` (reading ``BUCKETED_TABLE``) once per user bucket over a scratch copy partitioned by bucket.

    The key columns are copied once into a MergeTree with one partition per bucket, so each bucket's
    statement reads its own partition instead of filtering every event by the user's hash."""
    keys = ", ".join(KEY_COLUMNS)
    drop = text(f"DROP TABLE IF EXISTS {BUCKETED_TABLE}")
    conn.execute(drop)
    try:
        conn.execute(
            text(
                f"CREATE TABLE {BUCKETED_TABLE} ENGINE = MergeTree PARTITION BY bucket ORDER BY (user_id, ts, event_id) "
                f"AS SELECT {keys}, toUInt32(cityHash64(user_id) % {buckets}) AS bucket FROM events"
            )
        )
        for bucket in range(buckets):
            conn.execute(text(f"{insert} WHERE bucket = {bucket}"))
    finally:
        conn.execute(drop)


def user_buckets(events: int, chunk_events: int) -> int:
    """How many user buckets hold ``events`` events at about ``chunk_events`` each (at least one)."""
    return max(1, -(-events // chunk_events))


FRESHNESS_SQL = (
    f"SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM {STEPS_TABLE}) AS steps, "
    f"(SELECT MAX(event_id) FROM events) AS events_max_id, (SELECT MAX(event_id) FROM {STEPS_TABLE}) AS steps_max_id"
)
"""One row telling whether the step index matches ``events`` (equal counts and largest event id)."""
