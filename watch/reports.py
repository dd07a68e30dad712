"""Saved reports: the typed tool calls behind an answer, re-run through the same tools with no model."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.artifact import Chart, Table
from watch.errors import WatchError

logger = logging.getLogger(__name__)

REPLAYABLE = ("query", "funnel", "retention", "paths", "user_profile")
"""Tools whose calls a report stores: their arguments are typed and their results come from the warehouse."""
MAX_CALLS = 6


class SavedCall(BaseModel):
    """One tool call of a report: the tool's name and its typed arguments, as the answer ran them."""

    model_config = ConfigDict(extra="forbid")
    tool: str = Field(description=f"one of {', '.join(REPLAYABLE)}")
    args: dict[str, Any] = Field(default_factory=dict)


class Replay(BaseModel):
    """What re-running a report's calls gave: the tools' texts, tables and charts."""

    text: str
    tables: list[Table] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)


def calls_from_trace(trace: Iterable[Any]) -> list[SavedCall]:
    """The replayable calls of an answer's trace (``TraceStep``s or their JSON), failed calls left out."""
    steps = [s if isinstance(s, dict) else s.model_dump() for s in trace]
    calls = [
        SavedCall(tool=s["tool"], args=s.get("args") or {})
        for s in steps
        if s.get("ok", True) and s.get("tool") in REPLAYABLE
    ]
    if not calls:
        used = sorted({s.get("tool", "?") for s in steps}) or ["no tool"]
        raise WatchError(
            f"this answer has no call to save (it used {', '.join(used)}); save an answer computed "
            f"by {', '.join(REPLAYABLE)}, or give the query spec yourself"
        )
    unique: list[SavedCall] = []
    for call in calls:  # a repeated identical call adds nothing to the report
        if call not in unique:
            unique.append(call)
    return unique[-MAX_CALLS:]


def _by_name(tools: Iterable[BaseTool]) -> dict[str, BaseTool]:
    return {t.name: t for t in tools}


def check_calls(calls: list[SavedCall], tools: Iterable[BaseTool]) -> list[SavedCall]:
    """``calls`` validated against the tools' argument models (the layer's enums); WatchError on the first bad one."""
    if not calls:
        raise WatchError(
            "a report needs at least one tool call, e.g. {'tool': 'query', 'args': "
            "{'measure': 'purchases', 'last_days': 7}}"
        )
    if len(calls) > MAX_CALLS:
        raise WatchError(f"a report runs at most {MAX_CALLS} tool calls, not {len(calls)}; split it")
    named = _by_name(tools)
    for call in calls:
        if call.tool not in REPLAYABLE or call.tool not in named:
            raise WatchError(
                f"tool {call.tool!r} cannot be saved in a report; use one of "
                f"{', '.join(t for t in REPLAYABLE if t in named)}"
            )
        try:
            named[call.tool].args_schema.model_validate(call.args)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
            raise WatchError(f"{call.tool} arguments {call.args!r} are invalid: {problems}") from None
    return calls


def replay(calls: list[SavedCall], tools: Iterable[BaseTool]) -> Replay:
    """Run each call through its tool (the tool set carries the caller's user scope); WatchError if one fails."""
    named = _by_name(tools)
    texts, tables, charts = [], [], []
    for n, call in enumerate(calls):
        if call.tool not in named:
            raise WatchError(f"tool {call.tool!r} is not available here; remove the report and save it again")
        message = named[call.tool].invoke(
            {"type": "tool_call", "name": call.tool, "args": call.args, "id": f"watch-{n}"}
        )
        if not isinstance(message, ToolMessage) or message.status == "error" or message.artifact is None:
            text = message.content if isinstance(message, ToolMessage) else str(message)
            raise WatchError(f"{call.tool} {call.args!r} failed: {text}")
        texts.append(str(message.content))
        tables.extend(message.artifact.tables)
        charts.extend(message.artifact.charts)
    return Replay(text="\n\n".join(texts), tables=tables, charts=charts)
