"""One LangChain tool per behavior analytic: the request model is the tool's argument schema."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel

from tools.artifact import Chart, Citation, ToolArtifact
from tools.sql import _validation_text
from tools.tabular import TEXT_CHARS, TEXT_ROWS, table_from_frame, table_text
from warehouse import analytics as an
from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Analytic:
    """A behavior analytic as a tool: name, argument model, engine function, when to call it."""

    name: str
    request: type[BaseModel]
    run: Callable[..., an.Result]
    description: str
    time_ordered: bool = False
    """Rows are periods in time order: a cut table shows its first and its latest rows."""
    groups_users: bool = False
    """Its rows are groups of users (cohorts, segments): it takes the minimum group size."""


ANALYTICS: tuple[Analytic, ...] = (
    Analytic(
        "trend",
        an.TrendRequest,
        an.trend,
        "Chart how event counts, unique users or revenue change over time, per day, week or month, optionally "
        "by segment; its summary gives the range's total and distinct users.",
        time_ordered=True,
    ),
    Analytic(
        "funnel",
        an.FunnelRequest,
        an.funnel,
        "Measure ordered conversion through 2-6 event steps within a time window, with median time per step.",
        groups_users=True,
    ),
    Analytic(
        "retention",
        an.RetentionRequest,
        an.retention,
        "Build a cohort retention table of users returning in the days or weeks after signup or first event.",
        time_ordered=True,
        groups_users=True,
    ),
    Analytic("paths", an.PathsRequest, an.paths, "Find the most common next or previous events around an event."),
    Analytic(
        "top_items",
        an.TopItemsRequest,
        an.top_items,
        "Rank individual items by events, unique users or revenue, optionally for one event type or "
        "category (whole categories or brands: segment_breakdown).",
    ),
    Analytic(
        "segment_breakdown",
        an.SegmentRequest,
        an.segment_breakdown,
        "Compare countries, devices, channels, categories or brands by activity, conversion and revenue.",
    ),
    Analytic(
        "user_profile",
        an.UserProfileRequest,
        an.user_profile,
        "Summarise one user: attributes, activity, orders, reviews and latest events.",
    ),
)


AGENT_ANALYTICS: tuple[Analytic, ...] = tuple(
    a for a in ANALYTICS if a.name in {"funnel", "retention", "paths", "user_profile"}
)
"""The analytics the agent calls beside ``query``, which says what trend, top_items and segment_breakdown
say (and more) with one schema: fewer, sharper tools for a small model to choose among."""


def analytic_result(
    analytic: Analytic,
    safe: SafeSql,
    request: BaseModel,
    *,
    user_scope: str | None = None,
    text_rows: int = TEXT_ROWS,
    text_chars: int = TEXT_CHARS,
    min_group_users: int = 0,
) -> tuple[str, ToolArtifact]:
    """Run one analytic; (summary plus bounded table text, artifact with table, chart and SQL citations)."""
    floor = {"min_group_users": min_group_users} if analytic.groups_users else {}
    try:
        result = analytic.run(safe, request, user_scope=user_scope, **floor)
    except WarehouseError as exc:
        raise ToolException(f"error: {exc}") from None
    table = table_from_frame(analytic.name, result.table)
    tail = text_rows // 2 if analytic.time_ordered else 0
    text = result.summary + "\n" + table_text(table, max_rows=text_rows, max_chars=text_chars, tail=tail)
    args = request.model_dump(mode="json", exclude_none=True)
    charts = (
        [Chart(title=result.chart_spec["layout"]["title"]["text"], spec=result.chart_spec)] if result.chart_spec else []
    )
    citations = [Citation(kind="sql", ref=sql, detail=f"{analytic.name} {args}") for sql in result.queries]
    return text, ToolArtifact(tool=analytic.name, tables=[table], charts=charts, citations=citations)


def analytic_tool(
    analytic: Analytic,
    safe: SafeSql,
    *,
    user_scope: str | None = None,
    text_rows: int = TEXT_ROWS,
    text_chars: int = TEXT_CHARS,
    min_group_users: int = 0,
) -> BaseTool:
    """The LangChain tool for ``analytic``."""

    def run(**kwargs) -> tuple[str, ToolArtifact]:
        return analytic_result(
            analytic,
            safe,
            analytic.request(**kwargs),
            user_scope=user_scope,
            text_rows=text_rows,
            text_chars=text_chars,
            min_group_users=min_group_users,
        )

    return StructuredTool.from_function(
        func=run,
        name=analytic.name,
        description=analytic.description,
        args_schema=analytic.request,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_validation_text,
    )
