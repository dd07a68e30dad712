"""GBNF grammars that make llama.cpp emit only valid tool calls (or, in auto mode, plain text)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

# Plain text may not open like a call written as text (```json, a bare {...}, a <tag>), so a
# model that wants a tool must take the structured path.
_TEXT_RULE = "uba-text ::= [^<{`\\x20\\t\\n] [^\\x00]*"


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON schema with local ``#/$defs/...`` references replaced by their targets."""
    defs = schema.get("$defs", {}) | schema.get("definitions", {})

    def walk(node: Any, depth: int) -> Any:
        if depth > 32:
            raise ValueError("tool argument schema is recursive beyond 32 levels; simplify the tool's args model")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(("#/$defs/", "#/definitions/")):
                target = copy.deepcopy(defs[ref.rsplit("/", 1)[1]])
                merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
                return walk(merged, depth + 1)
            return {k: walk(v, depth + 1) for k, v in node.items() if k not in {"$defs", "definitions"}}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    return walk(schema, 0)


def _loosen(node: Any) -> Any:
    # llama.cpp's converter unrolls length bounds into one rule per character: a maxLength of
    # 20000 segfaulted it. Large bounds are dropped here; the tool's pydantic model still checks them.
    if isinstance(node, dict):
        return {
            k: _loosen(v)
            for k, v in node.items()
            if not (k in {"maxLength", "minLength", "maxItems", "minItems"} and isinstance(v, int) and v > 64)
        }
    if isinstance(node, list):
        return [_loosen(v) for v in node]
    return node


def call_schema(tool: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of ``{"name": <tool>, "arguments": {...}}`` for one OpenAI-format tool."""
    function = tool["function"]
    params = _loosen(inline_refs(function.get("parameters") or {"type": "object", "properties": {}}))
    # Closed objects: extra keys are where small models run away. (Parameters given as variants,
    # anyOf, are closed variant by variant.)
    for variant in params.get("anyOf") or [params]:
        variant.setdefault("type", "object")
        variant.setdefault("properties", {})
        variant.setdefault("additionalProperties", False)
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": params},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


# A reply that may not call a tool (``tool_choice="none"``) with the tool schemas still in the prompt:
# it may not open like a call. Measured: asked for the answer after repeating a call, the embedded
# model wrote the same ``<tool_call>`` again as text.
TEXT_ONLY_GRAMMAR = f"root ::= uba-text\n{_TEXT_RULE}"


def tool_grammar(tools: list[dict[str, Any]], *, allow_text: bool) -> str:
    """GBNF for ``<tool_call>\\n{json}\\n</tool_call>`` over ``tools``, or free text when ``allow_text``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    if not tools:
        raise ValueError("a tool grammar needs at least one tool")
    schemas = [call_schema(t) for t in tools]
    schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    gbnf = json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"])
    if not re.search(r"^root ::=", gbnf, flags=re.M):
        raise ValueError("unexpected grammar from the JSON-schema converter: no root rule")
    body = re.sub(r"^root ::=", "uba-call ::=", gbnf, count=1, flags=re.M)
    root = 'root ::= "<tool_call>\\n" uba-call "\\n</tool_call>"'
    if allow_text:
        return f"{root} | uba-text\n{_TEXT_RULE}\n{body}"
    return f"{root}\n{body}"
