"""Top items by events, unique users or revenue, optionally for one event type and category."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from warehouse.analytics._base import DateRange, EventFilter, Result, bar_chart, lit, run, where
from warehouse.safe_sql import SafeSql

_ORDER = {"events": "event_count", "unique_users": "unique_users", "revenue": "revenue"}


class TopItemsRequest(DateRange):
    """The leading items."""

    metric: Literal["events", "unique_users", "revenue"] = Field("events", description="What to rank items by.")
    event_type: EventFilter = Field(
        None, description="The event type counted (purchase for purchases); all = every type (revenue: purchase)."
    )
    category: str | None = Field(None, max_length=100, description="Only items of this category.")
    limit: int = Field(10, ge=1, le=100, description="How many items.")


def _from_where(request: TopItemsRequest) -> str:
    """The events a ranking counts: item events of its type, category and date range."""
    event_type = request.event_type or ("purchase" if request.metric == "revenue" else None)
    conditions = ["e.item_id IS NOT NULL", *request.conditions("e.ts")]
    if event_type:
        conditions.append(f"e.event_type = {lit(event_type)}")
    if request.category:
        conditions.append(f"i.category = {lit(request.category)}")
    return f"FROM events AS e LEFT JOIN items AS i ON i.item_id = e.item_id {where(conditions)}"


def compile_top_items(request: TopItemsRequest) -> str:
    """The SQL answering ``request``."""
    key = _ORDER[request.metric]
    return (
        f"SELECT e.item_id, i.title, i.category, i.brand, COUNT(*) AS event_count, "
        f"COUNT(DISTINCT e.user_id) AS unique_users, COALESCE(SUM(e.value), 0) AS revenue "
        f"{_from_where(request)} "
        f"GROUP BY e.item_id, i.title, i.category, i.brand ORDER BY {key} DESC, e.item_id LIMIT {request.limit}"
    )


def compile_top_items_totals(request: TopItemsRequest) -> str:
    """The SQL totalling every item the ranking draws from (the top rows are a part of it)."""
    return (
        "SELECT COUNT(*) AS event_count, COUNT(DISTINCT e.user_id) AS unique_users, "
        f"COUNT(DISTINCT e.item_id) AS items, COALESCE(SUM(e.value), 0) AS revenue {_from_where(request)}"
    )


def top_items(safe: SafeSql, request: TopItemsRequest, *, user_scope: str | None = None) -> Result:
    """Run a top-items ranking; the summary also gives the totals over every matching item."""
    frame, sql = run(safe, compile_top_items(request), user_scope)
    frame["revenue"] = frame["revenue"].astype(float).round(2)
    sqls = [sql]
    key = _ORDER[request.metric]
    if frame.empty:
        summary = f"No item events match ({request.describe()})."
    else:
        top = frame.iloc[0]
        summary = (
            f"Top {len(frame)} items by {request.metric.replace('_', ' ')}"
            + (f" ({request.event_type})" if request.event_type else "")
            + (f" in {request.category}" if request.category else "")
            + f", {request.describe()}: #1 {top['item_id']} {top['title'] or ''} with {top[key]:,}."
        )
        # "How many users favorited an item" is a total, not a ranking: the ranking says it too.
        totals_frame, totals_sql = run(safe, compile_top_items_totals(request), user_scope)
        sqls.append(totals_sql)
        totals = totals_frame.iloc[0]
        summary += (
            f" Over all {int(totals['items']):,} items with such events: {int(totals['event_count']):,} events "
            f"by {int(totals['unique_users']):,} distinct users"
            + (f", revenue {float(totals['revenue']):,.2f}" if request.metric == "revenue" else "")
            + "."
        )
    chart = bar_chart(
        f"top items by {request.metric}",
        [f"{i} {t or ''}".strip() for i, t in zip(frame["item_id"], frame["title"])],
        list(frame[key]),
        horizontal=True,
    )
    return Result("top_items", frame, sqls, summary, chart)
