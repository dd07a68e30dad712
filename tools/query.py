"""``query``: one typed tool over the semantic layer; its argument enums are the layer's measures and dimensions."""

from __future__ import annotations

import logging

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from tools.artifact import Chart, Citation, ToolArtifact
from tools.sql import _validation_text
from tools.tabular import TEXT_CHARS, TEXT_ROWS, table_from_frame, table_text
from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql
from warehouse.semantic import SemanticLayer, as_dict, run_query, spec_model
from warehouse.semantic.query import SHOWN

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "Compute a measure (counts, distinct users, revenue, order value, ratings, per-session and per-user "
    "statistics, conversion rates) over a time window, optionally ranked by dimensions, per day/week/"
    "month, filtered, or compared with the window before. The first choice for any number."
)


def query_result(
    safe: SafeSql,
    layer: SemanticLayer,
    spec,
    *,
    user_scope: str | None = None,
    text_rows: int = TEXT_ROWS,
    text_chars: int = TEXT_CHARS,
    min_group_users: int = 0,
) -> tuple[str, ToolArtifact]:
    """Run one spec; (summary plus bounded table text, artifact with table, chart and the SQL as citations)."""
    try:
        result = run_query(safe, layer, spec, user_scope=user_scope, min_group_users=min_group_users)
    except WarehouseError as exc:
        raise ToolException(f"error: {exc}") from None
    table = table_from_frame("query", result.table)
    text = result.summary  # it names every row up to SHOWN; longer results also get the table
    if len(result.table) > SHOWN:
        text += "\n" + table_text(table, max_rows=text_rows, max_chars=text_chars)
    detail = f"query {as_dict(spec)}"
    charts = (
        [Chart(title=result.chart_spec["layout"]["title"]["text"], spec=result.chart_spec)] if result.chart_spec else []
    )
    citations = [Citation(kind="sql", ref=sql, detail=detail) for sql in result.queries]
    return text, ToolArtifact(tool="query", tables=[table], charts=charts, citations=citations)


def query_tool(
    safe: SafeSql,
    layer: SemanticLayer,
    *,
    user_scope: str | None = None,
    text_rows: int = TEXT_ROWS,
    text_chars: int = TEXT_CHARS,
    min_group_users: int = 0,
) -> BaseTool:
    """The LangChain tool: arguments validated by the layer's spec model, compiled and run read-only;
    rows from fewer than ``min_group_users`` users suppressed."""
    model = spec_model(layer)

    def run(**kwargs) -> tuple[str, ToolArtifact]:
        return query_result(
            safe,
            layer,
            model(**kwargs),
            user_scope=user_scope,
            text_rows=text_rows,
            text_chars=text_chars,
            min_group_users=min_group_users,
        )

    return StructuredTool.from_function(
        func=run,
        name="query",
        description=DESCRIPTION,
        args_schema=model,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_validation_text,
    )
