"""Paths: the most common next (or previous) event steps around an anchor event."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from warehouse.analytics._base import DateRange, EventType, Result, bar_chart, lit, run, where
from warehouse.safe_sql import SafeSql

END = "(end)"
START = "(start)"


class PathsRequest(DateRange):
    """Where users go after (or came from before) an event."""

    event_type: EventType = Field(..., description="The anchor event.")
    direction: Literal["next", "previous"] = Field("next", description="Steps after or before the anchor.")
    depth: int = Field(1, ge=1, le=3, description="How many steps to follow.")
    within_session: bool = Field(True, description="Only follow steps in the same session (else the same user).")
    top_n: int = Field(10, ge=1, le=50, description="How many paths to return.")


def compile_paths(request: PathsRequest) -> str:
    """The SQL answering ``request``: the top paths with occurrences and the total of anchor events."""
    fn = "LEAD" if request.direction == "next" else "LAG"
    partition = "e.user_id, e.session_id" if request.within_session else "e.user_id"
    order = "e.ts, e.event_id"
    steps = ", ".join(
        f"{fn}(e.event_type, {k}) OVER (PARTITION BY {partition} ORDER BY {order}) AS step_{k}"
        for k in range(1, request.depth + 1)
    )
    filler = lit(END if request.direction == "next" else START)
    cols = ", ".join(f"COALESCE(s.step_{k}, {filler}) AS step_{k}" for k in range(1, request.depth + 1))
    keys = ", ".join(f"step_{k}" for k in range(1, request.depth + 1))
    return (f"WITH s AS (SELECT e.event_type, {steps} FROM events AS e {where(request.conditions('e.ts'))}), "
            f"p AS (SELECT {cols} FROM s WHERE s.event_type = {lit(request.event_type)}) "
            f"SELECT {keys}, COUNT(*) AS occurrences, SUM(COUNT(*)) OVER () AS anchors FROM p "
            f"GROUP BY {keys} ORDER BY occurrences DESC, {keys} LIMIT {request.top_n}")


def paths(safe: SafeSql, request: PathsRequest, *, user_scope: str | None = None) -> Result:
    """Run a paths analysis; rows are (path, step_1.., occurrences, share)."""
    frame, sql = run(safe, compile_paths(request), user_scope)
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
    scope = "session" if request.within_session else "user"
    if frame.empty:
        summary = f"No {request.event_type} events in {request.describe()}."
    else:
        summary = (f"{anchors:,} {request.event_type} events ({request.describe()}); most common {request.direction} "
                   f"path within the {scope}: {frame['path'].iloc[0]} ({100 * frame['share'].iloc[0]:.1f}%).")
    chart = bar_chart(f"{request.direction} steps around {request.event_type}", list(frame["path"]),
                      list(frame["occurrences"]), horizontal=True)
    return Result("paths", frame, [sql], summary, chart, {"anchors": anchors})
