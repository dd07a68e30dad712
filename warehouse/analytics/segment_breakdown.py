"""Segment breakdown: activity, conversion and revenue per user or item segment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from warehouse.analytics._base import DateRange, EventType, Result, bar_chart, lit, run, where
from warehouse.safe_sql import SafeSql

_DIMENSION = {
    "country": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.country"),
    "device": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.device"),
    "channel": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.channel"),
    "category": ("LEFT JOIN items AS i ON i.item_id = e.item_id", "i.category"),
    "brand": ("LEFT JOIN items AS i ON i.item_id = e.item_id", "i.brand"),
}
_USER_DIMENSIONS = ("country", "device", "channel")


class SegmentRequest(DateRange):
    """Compare segments side by side."""

    dimension: Literal["country", "device", "channel", "category", "brand"] = Field(
        ..., description="User attribute (country, device, channel) or item attribute (category, brand)."
    )
    conversion_event: EventType = Field("purchase", description="Users who did this count as converted.")
    sort_by: Literal["events", "users", "converted_users", "conversion_rate", "revenue"] = Field(
        "events", description="Column to rank segments by."
    )


def compile_segments(request: SegmentRequest) -> str:
    """The SQL answering ``request``: per (segment, user) first, so no COUNT(DISTINCT) over all events."""
    join, column = _DIMENSION[request.dimension]
    target = lit(request.conversion_event)
    per_user = (
        f"COUNT(*) AS events, MAX(CASE WHEN e.event_type = {target} THEN 1 ELSE 0 END) AS converted, "
        f"SUM(CASE WHEN e.event_type = 'purchase' THEN e.value END) AS revenue"
    )
    totals = (
        "SUM(p.events) AS events, COUNT(*) AS users, SUM(p.converted) AS converted_users, "
        "COALESCE(SUM(p.revenue), 0) AS revenue"
    )
    conditions = where(request.conditions("e.ts"))
    if request.dimension in _USER_DIMENSIONS:  # users are few: aggregate events per user, then join
        user_join = join.replace("e.user_id", "p.user_id")
        return (
            f"WITH p AS (SELECT e.user_id, {per_user} FROM events AS e {conditions} GROUP BY e.user_id) "
            f"SELECT COALESCE({column}, '(none)') AS segment, {totals} FROM p {user_join} GROUP BY 1 ORDER BY 1"
        )
    return (
        f"WITH p AS (SELECT COALESCE({column}, '(none)') AS segment, e.user_id, {per_user} "
        f"FROM events AS e {join} {conditions} GROUP BY 1, 2) "
        f"SELECT p.segment, {totals} FROM p GROUP BY 1 ORDER BY 1"
    )


def segment_breakdown(safe: SafeSql, request: SegmentRequest, *, user_scope: str | None = None) -> Result:
    """Run a segment breakdown; rows are (segment, events, users, converted_users, conversion_rate, revenue, share_of_events)."""
    frame, sql = run(safe, compile_segments(request), user_scope)
    for col in ("events", "users", "converted_users"):
        frame[col] = frame[col].astype(int)
    frame["revenue"] = frame["revenue"].astype(float).round(2)
    frame.insert(4, "conversion_rate", (frame["converted_users"] / frame["users"]).round(4))
    total = frame["events"].sum()
    frame["share_of_events"] = (frame["events"] / total).round(4) if total else 0.0
    frame = frame.sort_values([request.sort_by, "segment"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
    if frame.empty:
        summary = f"No events in {request.describe()}."
    else:
        # The leader on every measure, so the answer is here whichever column the model sorted by.
        def leader(column: str, label: str, percent: bool = False) -> str:
            row = frame.loc[frame[column].idxmax()]
            value = f"{100 * row[column]:.1f}%" if percent else f"{row[column]:,}"
            return f"{label}: {row['segment']} ({value})"

        summary = (
            f"{len(frame)} {request.dimension} segments ({request.describe()}). "
            + "; ".join(
                [
                    leader("events", "Most events"),
                    leader("users", "most users"),
                    leader("converted_users", f"most users who did {request.conversion_event}"),
                    leader("conversion_rate", "best conversion rate", percent=True),
                    leader("revenue", "most revenue"),
                ]
            )
            + f". Conversion to {request.conversion_event} ranges "
            f"{100 * frame['conversion_rate'].min():.1f}%–{100 * frame['conversion_rate'].max():.1f}%."
        )
    chart = bar_chart(f"{request.sort_by} by {request.dimension}", list(frame["segment"]), list(frame[request.sort_by]))
    return Result("segment_breakdown", frame, [sql], summary, chart)
