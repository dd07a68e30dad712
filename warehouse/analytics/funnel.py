"""Funnel: per-user strict-order conversion through 2-6 event steps within a conversion window.

A user enters at their first step-1 event in the date range; step k counts when the user's first
step-k event comes strictly after their step-(k-1) event and within the window of the entry.
"""

from __future__ import annotations

from pydantic import Field

from warehouse.analytics._base import DateRange, EventType, Result, UserDimension, bar_chart, lit, run, where
from warehouse.group_size import GroupFloor, suppress
from warehouse.safe_sql import SafeSql


class FunnelRequest(DateRange):
    """Ordered conversion through event steps."""

    steps: list[EventType] = Field(
        ..., min_length=2, max_length=6, description="2-6 event types in the order users must do them."
    )
    window_hours: int = Field(168, ge=1, le=24 * 90, description="Conversion window from the first step, in hours.")
    breakdown: UserDimension | None = Field(None, description="One funnel per value of this user attribute.")


def compile_funnel(request: FunnelRequest) -> str:
    """The SQL answering ``request``: one row per (segment, step) with users and median seconds."""
    window = f"INTERVAL '{request.window_hours} hours'"
    entry = [f"e.event_type = {lit(request.steps[0])}", *request.conditions("e.ts")]
    ctes = [f"s1 AS (SELECT e.user_id, MIN(e.ts) AS t1 FROM events AS e {where(entry)} GROUP BY e.user_id)"]
    for k, step in enumerate(request.steps[1:], start=2):
        prev = ", ".join(f"s.t{j}" for j in range(1, k))
        ctes.append(
            f"s{k} AS (SELECT s.user_id, {prev}, MIN(e.ts) AS t{k} FROM s{k - 1} AS s "
            f"LEFT JOIN events AS e ON e.user_id = s.user_id AND e.event_type = {lit(step)} "
            f"AND e.ts > s.t{k - 1} AND e.ts <= s.t1 + {window} GROUP BY s.user_id, {prev})"
        )
    n = len(request.steps)
    segment = f"COALESCE(u.{request.breakdown}, '(none)')" if request.breakdown else "'all'"
    ctes.append(f"f AS (SELECT s.*, {segment} AS segment FROM s{n} AS s LEFT JOIN users AS u ON u.user_id = s.user_id)")
    parts = [
        "SELECT f.segment, 1 AS step, COUNT(f.t1) AS users, CAST(NULL AS DOUBLE PRECISION) AS median_seconds "
        "FROM f GROUP BY f.segment"
    ]
    for k in range(2, n + 1):
        parts.append(
            f"SELECT f.segment, {k} AS step, COUNT(f.t{k}) AS users, "
            f"PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (f.t{k} - f.t{k - 1}))) AS median_seconds "
            f"FROM f GROUP BY f.segment"
        )
    return "WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(parts) + " ORDER BY 1, 2"


def funnel(safe: SafeSql, request: FunnelRequest, *, user_scope: str | None = None, min_group_users: int = 0) -> Result:
    """Run a funnel; rows are ([segment,] step, event_type, users, conversion, step_conversion, median_seconds).

    ``min_group_users``: a segment fewer users entered is suppressed (``warehouse.group_size``)."""
    frame, sql = run(safe, compile_funnel(request), user_scope)
    frame["step"] = frame["step"].astype(int)
    frame["users"] = frame["users"].astype(int)
    frame = frame.sort_values(["segment", "step"], kind="stable").reset_index(drop=True)
    frame.insert(2, "event_type", [request.steps[s - 1] for s in frame["step"]])
    first = frame.groupby("segment")["users"].transform("first")
    prev = frame.groupby("segment")["users"].shift(1)
    frame["conversion"] = (frame["users"] / first.where(first > 0)).round(4)
    frame["step_conversion"] = (frame["users"] / prev.where(prev > 0)).round(4)
    frame["median_seconds"] = frame["median_seconds"].astype(float).round(1)
    floor = GroupFloor(min_group_users, user_scope)
    small = floor.too_small(first, counts_caller=True)
    summary = _summary(request, frame)
    if small.any():
        segments = frame.loc[small, "segment"].nunique()
        if not request.breakdown:
            summary = f"Funnel {' → '.join(request.steps)} within {request.window_hours} h: suppressed."
        summary += floor.note(segments, frame["segment"].nunique())
        frame = suppress(frame, small, ["users", "conversion", "step_conversion", "median_seconds"])
    if not request.breakdown:
        frame = frame.drop(columns="segment")
    overall = frame if not request.breakdown else frame.groupby(["step", "event_type"], as_index=False)["users"].sum()
    # a breakdown's chart shows totals over every segment: a suppressed segment is in them, not shown alone
    chart = bar_chart(
        f"funnel ({request.window_hours} h window)",
        [f"{s}. {t}" for s, t in zip(overall["step"], overall["event_type"])],
        list(overall["users"]),
    )
    return Result("funnel", frame, [sql], summary, chart)


def _summary(request: FunnelRequest, frame) -> str:
    steps = " → ".join(request.steps)
    if request.breakdown:
        total = frame.groupby("step")["users"].sum()
        start, end = int(total.iloc[0]), int(total.iloc[-1])
    elif frame.empty:
        start = end = 0
    else:
        start, end = int(frame["users"].iloc[0]), int(frame["users"].iloc[-1])
    rate = f"{100 * end / start:.1f}%" if start else "n/a"
    return (
        f"Funnel {steps} within {request.window_hours} h, entries {request.describe()}: "
        f"{start:,} users entered, {end:,} completed ({rate})."
    )
