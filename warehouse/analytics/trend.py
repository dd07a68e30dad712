"""Trend: event count, unique users or revenue per day, week or month, optionally broken down."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from warehouse.analytics._base import DateRange, EventFilter, Result, line_chart, lit, run, where
from warehouse.safe_sql import SafeSql

_SEGMENT: dict[str | None, tuple[str, str | None]] = {
    "country": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.country"),
    "device": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.device"),
    "channel": ("LEFT JOIN users AS u ON u.user_id = e.user_id", "u.channel"),
    "category": ("LEFT JOIN items AS i ON i.item_id = e.item_id", "i.category"),
}
SEGMENTS_SHOWN = 8
"""A broken-down trend's summary names this many segments' range totals, largest first."""
_METRIC = {"events": "COUNT(*)", "unique_users": "COUNT(DISTINCT e.user_id)", "revenue": "COALESCE(SUM(e.value), 0)"}


class TrendRequest(DateRange):
    """How a metric moves over time."""

    metric: Literal["events", "unique_users", "revenue"] = Field(
        "events", description="events = event count; unique_users = distinct users; revenue = sum of purchase value."
    )
    event_type: EventFilter = Field(
        None, description="The event type counted (purchase for purchases); all = every type (revenue: purchase)."
    )
    interval: Literal["day", "week", "month"] = Field("day", description="Time bucket; weeks start on Monday.")
    breakdown: Literal["country", "device", "channel", "category"] | None = Field(
        None, description="Split into one series per value of this dimension."
    )


def _counted(request: TrendRequest) -> str | None:
    """The event type a trend counts: the one asked for, purchases for revenue, else None (every type)."""
    return request.event_type or ("purchase" if request.metric == "revenue" else None)


def _conditions(request: TrendRequest) -> list[str]:
    """The event filter of a trend: its event type (revenue: purchases) and date range."""
    event_type = _counted(request)
    conditions = request.conditions("e.ts")
    if event_type:
        conditions.insert(0, f"e.event_type = {lit(event_type)}")
    return conditions


def compile_trend(request: TrendRequest) -> str:
    """The SQL (portable to DuckDB and PostgreSQL) answering ``request``."""
    conditions = _conditions(request)
    join, segment = _SEGMENT.get(request.breakdown, ("", None))
    segment_col = f", COALESCE({segment}, '(none)') AS segment" if segment else ""
    group = "GROUP BY 1, 2 ORDER BY 1, 2" if segment else "GROUP BY 1 ORDER BY 1"
    return (
        f"SELECT CAST(DATE_TRUNC('{request.interval}', e.ts) AS DATE) AS period{segment_col}, "
        f"{_METRIC[request.metric]} AS value FROM events AS e {join} {where(conditions)} {group}"
    )


def compile_trend_users(request: TrendRequest) -> str:
    """The SQL counting the distinct users behind a trend over its whole range (they do not add up per period)."""
    return (
        "SELECT COUNT(DISTINCT e.user_id) AS users, CAST(MIN(e.ts) AS DATE) AS first_day, "
        f"CAST(MAX(e.ts) AS DATE) AS last_day FROM events AS e {where(_conditions(request))}"
    )


def compile_trend_segments(request: TrendRequest) -> str:
    """The SQL giving each segment's metric and distinct users over the trend's whole range, largest first."""
    join, segment = _SEGMENT[request.breakdown]
    return (
        f"SELECT COALESCE({segment}, '(none)') AS segment, {_METRIC[request.metric]} AS value, "
        f"COUNT(DISTINCT e.user_id) AS users FROM events AS e {join} {where(_conditions(request))} "
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    )


def trend(safe: SafeSql, request: TrendRequest, *, user_scope: str | None = None) -> Result:
    """Run a trend; rows are (period[, segment], value)."""
    frame, sql = run(safe, compile_trend(request), user_scope)
    sqls = [sql]
    # Named in full: measured, the model called a count over every event type "purchases".
    event_type = _counted(request)
    what = f"{request.metric.replace('_', ' ')}" + (f" of {event_type}" if event_type else " of every event type")
    if frame.empty:
        summary = f"No {what} in {request.describe()}."
    else:
        # "How many users did X in <range>" is the distinct count over the range, not a sum of periods.
        users_frame, users_sql = run(safe, compile_trend_users(request), user_scope)
        sqls.append(users_sql)
        users, first_day, last_day = users_frame.iloc[0]
        users = int(users)
        totals = frame.groupby("period")["value"].sum()
        # The days asked for, else the data's own first and last day (not the first week's or month's start).
        span = f"{request.start or first_day} to {request.end or last_day}"
        buckets = (
            f"{len(totals)} {request.interval}{'s' if len(totals) != 1 else ''}: peak {_fmt(totals.max())} "
            + _when(totals.idxmax(), request.interval)
        )
        segments = ""
        if request.breakdown:  # "how many ... in DE": each segment's range total, not one period's value
            by_segment, segments_sql = run(safe, compile_trend_segments(request), user_scope)
            sqls.append(segments_sql)
            segments = f". By {request.breakdown} over the range: " + _segment_totals(by_segment, request.metric)
        if request.metric == "unique_users":  # per-period distinct users do not add up across periods
            summary = (
                f"{what.capitalize()}, {span}: {users:,} distinct users in the whole range "
                f"(per {request.interval}, {buckets}){segments}."
            )
        else:  # the total first: it is what "how many ... in <range>" asks for
            summary = (
                f"{what.capitalize()}, {span}: total {_fmt(frame['value'].sum())} by {users:,} distinct users "
                f"({buckets}){segments}."
            )
    chart = line_chart(
        f"{what} per {request.interval}", frame, "period", "value", "segment" if request.breakdown else None
    )
    return Result("trend", frame, sqls, summary, chart)


def _when(period, interval: str) -> str:
    """A bucket in words: 'on 2026-10-31', 'in the week of 2026-10-26', 'in 2026-10'."""
    if interval == "day":
        return f"on {period}"
    return f"in the week of {period}" if interval == "week" else f"in {str(period)[:7]}"


def _segment_totals(frame, metric: str, shown: int = SEGMENTS_SHOWN) -> str:
    """'US 1,234 (567 users), DE ...' for the largest segments, then how many more there are."""
    parts = [
        f"{row.segment} {_fmt(row.value)}" + ("" if metric == "unique_users" else f" ({int(row.users):,} users)")
        for row in frame.head(shown).itertuples()
    ]
    more = len(frame) - shown
    return ", ".join(parts) + (f" and {more} more {'segment' if more == 1 else 'segments'}" if more > 0 else "")


def _fmt(value) -> str:
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
