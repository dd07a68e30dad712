"""The step index: every event with the event types just before and after it, derived after each load.

A paths question ("what do users do after viewing?") needs each event's neighbours in time order,
which is a window sort over the whole events table (about 3.5 s at 10M events on two cores). The
loaders and the demo generator rebuild this table inside their own transaction, so the paths
analytic reads precomputed steps (a scan) while it is fresh and falls back to the window otherwise.
Freshness is checked per query: same row count and same largest ``event_id`` as ``events``.
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


def refresh_event_steps(conn: Connection) -> int:
    """Rebuild the step index from ``events`` inside ``conn``'s transaction; the rows written."""
    started = time.perf_counter()
    nullable = "{}"
    if conn.dialect.name in CLICKHOUSE_DIALECTS:
        create_tables(conn, [event_steps])
        truncate(conn, [STEPS_TABLE])
        nullable = "toNullable({})"
    else:
        event_steps.create(conn, checkfirst=True)
        conn.execute(text(f"DELETE FROM {STEPS_TABLE}"))
    steps = ", ".join(
        f"{window_step(scope, direction, k, nullable=nullable)} AS {step_column(scope, direction, k)}"
        for scope in ("session", "user")
        for direction in ("next", "previous")
        for k in range(1, MAX_DEPTH + 1)
    )
    keys = ", ".join(KEY_COLUMNS)
    rows = conn.execute(
        text(f"INSERT INTO {STEPS_TABLE} ({keys}, {', '.join(STEP_COLUMNS)}) SELECT {keys}, {steps} FROM events")
    ).rowcount
    logger.info("step index rebuilt: %s events in %.1f s", f"{rows:,}", time.perf_counter() - started)
    return rows


FRESHNESS_SQL = (
    f"SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM {STEPS_TABLE}) AS steps, "
    f"(SELECT MAX(event_id) FROM events) AS events_max_id, (SELECT MAX(event_id) FROM {STEPS_TABLE}) AS steps_max_id"
)
"""One row telling whether the step index matches ``events`` (equal counts and largest event id)."""
