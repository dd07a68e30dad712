"""Paths: the most common next (or previous) event steps around an anchor event."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from warehouse.analytics._base import DateRange, EventType, Result, bar_chart, lit, run, where
from warehouse.errors import WarehouseError
from warehouse.event_steps import FRESHNESS_SQL, MAX_DEPTH, STEPS_TABLE, step_column, window_step
from warehouse.safe_sql import SafeSql

logger = logging.getLogger(__name__)

END = "(end)"
START = "(start)"


class PathsRequest(DateRange):
    """Where users go after (or came from before) an event."""

    event_type: EventType = Field(..., description="The anchor event.")
    direction: Literal["next", "previous"] = Field("next", description="Steps after or before the anchor.")
    depth: int = Field(1, ge=1, le=MAX_DEPTH, description="How many steps to follow.")
    within_session: bool = Field(True, description="Only follow steps in the same session (else the same user).")
    top_n: int = Field(10, ge=1, le=50, description="How many paths to return.")


def compile_paths(request: PathsRequest, *, steps: bool = False) -> str:
    """The SQL answering ``request``: the top paths with occurrences and the total of anchor events.

    Steps follow each anchor through the whole history; the date range selects the anchors. With
    ``steps`` the neighbours come from the step index, else from a window over ``events``.
    """
    scope: Literal["session", "user"] = "session" if request.within_session else "user"
    depth = range(1, request.depth + 1)
    filler = lit(END if request.direction == "next" else START)
    cols = ", ".join(f"COALESCE(s.step_{k}, {filler}) AS step_{k}" for k in depth)
    keys = ", ".join(f"step_{k}" for k in depth)
    anchors = where([f"s.event_type = {lit(request.event_type)}", *request.conditions("s.ts")])
    if steps:
        source = ", ".join(f"e.{step_column(scope, request.direction, k)} AS step_{k}" for k in depth)
        source = f"SELECT e.event_type, e.ts, {source} FROM {STEPS_TABLE} AS e"
    else:
        source = ", ".join(f"{window_step(scope, request.direction, k, alias='e')} AS step_{k}" for k in depth)
        source = f"SELECT e.event_type, e.ts, {source} FROM events AS e"
    return (
        f"WITH s AS ({source}), p AS (SELECT {cols} FROM s {anchors}) "
        f"SELECT {keys}, COUNT(*) AS occurrences, SUM(COUNT(*)) OVER () AS anchors FROM p "
        f"GROUP BY {keys} ORDER BY occurrences DESC, {keys} LIMIT {request.top_n}"
    )


def _steps_fresh(safe: SafeSql, user_scope: str | None) -> tuple[bool, str | None]:
    """Whether the step index matches ``events`` (for the scoped user), and the check's SQL."""
    try:
        frame, sql = run(safe, FRESHNESS_SQL, user_scope)
    except WarehouseError as exc:  # a warehouse loaded before the step index existed
        logger.info("step index unavailable (%s); paths use the window query", exc)
        return False, None
    row = frame.iloc[0]
    fresh = int(row["events"]) == int(row["steps"]) and row["events_max_id"] == row["steps_max_id"]
    if not fresh:
        logger.info("step index is stale (%s of %s events); paths use the window query", row["steps"], row["events"])
    return fresh, sql


def paths(safe: SafeSql, request: PathsRequest, *, user_scope: str | None = None) -> Result:
    """Run a paths analysis; rows are (path, step_1.., occurrences, share)."""
    fresh, check = _steps_fresh(safe, user_scope)
    frame, sql = run(safe, compile_paths(request, steps=fresh), user_scope)
    step_cols = [f"step_{k}" for k in range(1, request.depth + 1)]
    anchors = int(frame["anchors"].iloc[0]) if not frame.empty else 0
    arrow = " → "
    labels = []
    for row in frame[step_cols].itertuples(index=False):
        steps = list(row)
        while len(steps) > 1 and steps[-1] == steps[-2] and steps[-1] in (END, START):
            steps.pop()  # one "(end)" says it all
        chain = [request.event_type, *steps] if request.direction == "next" else [*reversed(steps), request.event_type]
        labels.append(arrow.join(chain))
    frame.insert(0, "path", labels)
    frame["occurrences"] = frame["occurrences"].astype(int)
    frame["share"] = (frame["occurrences"] / anchors).round(4) if anchors else 0.0
    frame = frame.drop(columns="anchors")
    scope: Literal["session", "user"] = "session" if request.within_session else "user"
    if frame.empty:
        summary = f"No {request.event_type} events in {request.describe()}."
    else:
        summary = (
            f"{anchors:,} {request.event_type} events ({request.describe()}); most common {request.direction} "
            f"path within the {scope}: {frame['path'].iloc[0]} ({100 * frame['share'].iloc[0]:.1f}%)."
        )
    chart = bar_chart(
        f"{request.direction} steps around {request.event_type}",
        list(frame["path"]),
        list(frame["occurrences"]),
        horizontal=True,
    )
    queries = [check, sql] if check else [sql]
    return Result("paths", frame, queries, summary, chart, {"anchors": anchors, "step_index": fresh})
