"""The explicit list of the agent's tools, built from a small set of dependencies; duplicate names rejected."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool

from tools.analytics import AGENT_ANALYTICS, analytic_tool
from tools.query import query_tool
from tools.sql import run_sql_tool
from tools.tabular import TEXT_CHARS, TEXT_ROWS
from warehouse.safe_sql import SafeSql

logger = logging.getLogger(__name__)


@dataclass
class ToolDeps:
    """What the tools need. ``user_scope`` set: every tool only sees that end user's rows.

    Add optional fields (with defaults) for new tool families rather than new parameters.
    """

    readonly: Any
    safe_sql: SafeSql | None = None
    user_scope: str | None = None
    settings: Any = None
    reviews: Any = None
    models: Any = None
    layer: Any = None
    """The semantic layer (``warehouse.semantic``); generated from the warehouse when left out."""
    text_rows: int = TEXT_ROWS
    text_chars: int = TEXT_CHARS
    min_group_users: int = 0
    """Breakdowns over users: a value from fewer users than this is suppressed (0: never)."""


def _sql_and_behavior_tools(deps) -> list[BaseTool]:
    safe = getattr(deps, "safe_sql", None) or SafeSql(deps.readonly)
    scope = getattr(deps, "user_scope", None)
    rows = getattr(deps, "text_rows", TEXT_ROWS)
    chars = getattr(deps, "text_chars", TEXT_CHARS)
    layer = getattr(deps, "layer", None)
    floor = getattr(deps, "min_group_users", 0)
    if layer is None:
        from warehouse.semantic import build_layer

        layer = build_layer(deps.readonly)
    return [
        query_tool(safe, layer, user_scope=scope, text_rows=rows, text_chars=chars, min_group_users=floor),
        *(
            analytic_tool(a, safe, user_scope=scope, text_rows=rows, text_chars=chars, min_group_users=floor)
            for a in AGENT_ANALYTICS
        ),
        run_sql_tool(safe, user_scope=scope, text_rows=rows, text_chars=chars),
    ]


def _review_tools(deps) -> list[BaseTool]:
    from tools.reviews import build_review_tools

    return build_review_tools(deps)


def _predictor_tools(deps) -> list[BaseTool]:
    from tools.predictions import build_predictor_tools

    return build_predictor_tools(deps)


# The explicit list: each family is a function deps -> tools. Add new families here.
TOOL_FAMILIES = (_sql_and_behavior_tools, _review_tools, _predictor_tools)


def build_tools(deps) -> list[BaseTool]:
    """Every tool for ``deps`` (a ToolDeps or any object with the same attributes), in a stable order."""
    tools: list[BaseTool] = []
    seen: set[str] = set()
    for family in TOOL_FAMILIES:
        for tool in family(deps):
            if tool.name in seen:
                raise ValueError(f"duplicate tool name {tool.name!r} from {family.__name__}; rename one of them")
            seen.add(tool.name)
            tools.append(tool)
    return tools
