"""Running the model's tool calls: name and argument validation, execution, errors for the model."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import BaseTool, ToolException
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_stream_writer
from pydantic import BaseModel, ValidationError

from agent import prompt

logger = logging.getLogger(__name__)


_MODEL_BOUND_LIMIT = 1000
"""Length bounds above this are not shown to the model: grammar-constrained decoding (llama.cpp's
JSON-schema grammar) unrolls ``maxLength: 20000`` into 20,000 nested rules and crashes. The
arguments are still validated against the full pydantic model before a tool runs."""


def _optional(schema: dict[str, Any]) -> dict[str, Any]:
    """``{"anyOf": [X, {"type": "null"}], "default": null, ...}`` -> ``X`` with the other keys: an optional
    field the model leaves out instead of writing null (the tool still accepts both). Pydantic writes
    every ``T | None = None`` field so; measured, that was a sixth of the tool schemas' tokens."""
    options = schema.get("anyOf")
    if not (
        isinstance(options, list)
        and len(options) == 2
        and {"type": "null"} in options
        and schema.get("default", 0) is None
    ):
        return schema
    (kept,) = [o for o in options if o != {"type": "null"}]
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**kept, **rest}


def _loosen(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = _optional(schema)
        return {
            k: _loosen(v)
            for k, v in schema.items()
            if not (k in ("maxLength", "maxItems") and isinstance(v, int) and v > _MODEL_BOUND_LIMIT)
            and not (k == "title" and isinstance(v, str) and "type" in schema)
        }
    if isinstance(schema, list):
        return [_loosen(v) for v in schema]
    return schema


def model_schemas(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """The tools as OpenAI tool dicts for the model, with huge length bounds left out."""
    return [_loosen(convert_to_openai_tool(t)) for t in tools]


REPLY_TOOL = "reply"
"""The pseudo-tool through which the model answers without data when a tool call is required."""

REPLY_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": REPLY_TOOL,
        "description": (
            "Answer the user directly, without data: a greeting, what you can do, or a refusal of a request "
            "to change or delete data, reveal personal data or read files. Never for numbers about the data."
        ),
        "parameters": {
            "type": "object",
            # Bounded: measured, the embedded model once repeated a refusal until max_tokens cut the call off.
            "properties": {"text": {"type": "string", "maxLength": 600, "description": "The reply to the user."}},
            "required": ["text"],
        },
    },
}


def agent_schemas(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """Every tool the agent shows the model, in one order for every call (one cacheable prefix): the
    tools, then ``reply``; empty when there are no tools (the model then answers in text)."""
    return [*model_schemas(tools), REPLY_SCHEMA] if tools else []


def call_key(call: ToolCall) -> str:
    """Name and arguments of a call, canonical, to recognise a repeated call."""
    return call["name"] + json.dumps(call.get("args") or {}, sort_keys=True, default=str)


def argument_problems(exc: ValidationError) -> str:
    """The first few problems of invalid tool arguments, each naming the field and the value given."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        got = f" (got {err['input']!r})" if err["type"] != "missing" and not isinstance(err["input"], dict) else ""
        parts.append(f"{where}: {err['msg']}{got}")
    return "; ".join(parts)


def _mentioned(value: str, text: str) -> bool:
    """``value`` occurs in ``text`` as a whole token (case-insensitive): 77 in "user 77", not in "1779"."""
    return re.search(rf"(?<![\w-]){re.escape(value.strip())}(?![\w-])", text, flags=re.IGNORECASE) is not None


class ToolRunner:
    """The tools one graph may call, by name, duplicates rejected."""

    def __init__(self, tools: Sequence[BaseTool]) -> None:
        self.tools: dict[str, BaseTool] = {}
        for tool in tools:
            if tool.name in self.tools:
                raise ValueError(f"duplicate tool name {tool.name!r}; every tool needs a unique name")
            if tool.name == REPLY_TOOL:
                raise ValueError(
                    f"tool name {REPLY_TOOL!r} is reserved for the agent's direct replies; rename the tool"
                )
            self.tools[tool.name] = tool
        self.names = frozenset(self.tools)

    def schema(self, name: str) -> type[BaseModel] | None:
        """The pydantic args model of tool ``name``, when it has one."""
        schema = self.tools[name].args_schema
        return schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None

    def _check(self, call: ToolCall, evidence: str | None = None) -> str | None:
        """The error text for an unknown tool, invalid arguments or, when ``evidence`` (the conversation's
        text) is given, ids the arguments' ``grounded_values()`` name that appear nowhere in it; None
        when the call is valid."""
        name = call["name"]
        if name not in self.tools:
            return prompt.feedback("unknown_tool", name=repr(name), tools=", ".join(sorted(self.tools)) or "(none)")
        schema = self.schema(name)
        if schema is not None:
            try:
                args = schema.model_validate(call.get("args") or {})
            except ValidationError as exc:
                return prompt.feedback("invalid_args", name=name, problems=argument_problems(exc))
            grounded = getattr(args, "grounded_values", None)
            if evidence is not None and callable(grounded):
                missing = [v for v in grounded() if not _mentioned(v, evidence)]
                if missing:
                    return prompt.feedback("ungrounded_args", name=name, values=", ".join(map(repr, missing)))
        return None

    def run(
        self,
        calls: Sequence[ToolCall],
        *,
        source: str,
        first_step: int,
        done: set[str] = frozenset(),
        evidence: str | None = None,
    ) -> tuple[list[ToolMessage], bool, str]:
        """Execute ``calls`` in order; returns the tool messages, whether every call was invalid, the problems.

        A call identical to one in ``done`` (already answered) is not run again: the model is told so.
        ``evidence``: the conversation's text, where ids in the arguments must appear (see ``_check``).
        """
        write = get_stream_writer()
        messages: list[ToolMessage] = []
        invalid: list[str] = []
        for offset, call in enumerate(calls):
            step = first_step + offset + 1
            name, args = call["name"], dict(call.get("args") or {})
            write({"kind": "step_started", "step": step, "tool": name, "args": args})
            t0 = time.perf_counter()
            error = self._check(call, evidence)
            if error is not None:
                invalid.append(error)
                message = ToolMessage(content=error, name=name, tool_call_id=call["id"], status="error")
            elif call_key(call) in done:
                message = ToolMessage(
                    content=prompt.feedback("repeated_call", name=name),
                    name=name,
                    tool_call_id=call["id"],
                    status="error",
                    additional_kwargs={"uba_repeat": True},
                )
            else:
                message = self.execute(call)
            ok = message.status != "error"
            write(
                {
                    "kind": "step_finished",
                    "step": step,
                    "tool": name,
                    "args": args,
                    "ok": ok,
                    "duration_ms": (time.perf_counter() - t0) * 1000,
                    "source": source,
                    "error": None if ok else str(message.content)[:500],
                }
            )
            messages.append(message)
        return messages, bool(calls) and len(invalid) == len(calls), " | ".join(invalid)[:300]

    def execute(self, call: ToolCall) -> ToolMessage:
        """Run one valid call; its ToolMessage (status 'error' for an expected failure), artifact as plain data."""
        tool = self.tools[call["name"]]
        try:
            result = tool.invoke({**call, "type": "tool_call"})
        except (ToolException, ValidationError) as exc:
            result = ToolMessage(content=f"error: {exc}", name=tool.name, tool_call_id=call["id"], status="error")
        except Exception as exc:  # noqa: BLE001 - a tool's own failure is that step's error, not a model outage
            logger.exception("tool %s failed on %r", tool.name, call.get("args"))
            result = ToolMessage(
                content=f"error: {tool.name} failed ({type(exc).__name__}); try other arguments or another tool",
                name=tool.name,
                tool_call_id=call["id"],
                status="error",
            )
        if not isinstance(result, ToolMessage):
            result = ToolMessage(content=str(result), name=tool.name, tool_call_id=call["id"])
        artifact: Any = result.artifact
        if isinstance(artifact, BaseModel):
            # Checkpoints store plain data; the Answer rebuilds the typed artifact.
            result.artifact = artifact.model_dump(mode="json")
        if result.status != "error" and str(result.content).startswith("error:"):
            result.status = "error"
        return result
