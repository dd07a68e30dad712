"""Tool calls a model wrote into its message text instead of ``tool_calls``.

Small models and server-side parser failures put calls in ```json fences, ``<tool_call>`` or
``<tools>`` tags, or bare JSON, sometimes several in one message. This module finds them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_TAGGED = re.compile(
    r"<(tool_call|tools|function_call|functioncall|tool)>\s*(.*?)\s*(?:</\1>|$)", re.DOTALL | re.IGNORECASE
)
_FENCED = re.compile(r"```[a-zA-Z_]*\s*\n?(.*?)```", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name", "function", "action")
_ARG_KEYS = ("arguments", "args", "parameters", "tool_input", "input", "action_input")


@dataclass(frozen=True)
class TextCall:
    """A call parsed from text: the tool name and its (unvalidated) arguments."""

    name: str
    args: dict[str, Any]
    has_args_key: bool = True


def _as_call(obj: Any) -> TextCall | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # OpenAI shape: {"type": "function", "function": {...}}
        return _as_call(obj["function"])
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str)), None)
    if not name:
        return None
    has_args_key = any(k in obj for k in _ARG_KEYS)
    args: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return TextCall(name=name.strip(), args=args, has_args_key=has_args_key)


def _calls_in(obj: Any) -> list[TextCall]:
    if isinstance(obj, list):
        return [c for item in obj for c in _calls_in(item)]
    if isinstance(obj, dict) and isinstance(obj.get("tool_calls"), list):
        return _calls_in(obj["tool_calls"])
    call = _as_call(obj)
    return [call] if call else []


def _json_values(text: str) -> list[Any]:
    """Every top-level JSON object or array embedded in ``text``, left to right."""
    decoder = json.JSONDecoder()
    values, i = [], 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            values.append(value)
            i = end
        else:
            i += 1
    return values


def _json_lenient(text: str) -> list[Any]:
    values = _json_values(text)
    if values:
        return values
    # Python-literal dicts (single quotes, True/None) are a frequent small-model slip.
    fixed = re.sub(r"'", '"', text).replace("True", "true").replace("False", "false").replace("None", "null")
    return _json_values(fixed)


def _named_calls(text: str, known_tools: set[str] | frozenset[str]) -> list[TextCall]:
    """``Call: trend {"event_type": "view"}`` or ``trend({...})``: a known tool name, then its arguments."""
    if not known_tools:
        return []
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(known_tools))) + r")\b\s*[:(]?\s*(?=\{)")
    decoder = json.JSONDecoder()
    calls = []
    for match in pattern.finditer(text):
        try:
            args, _ = decoder.raw_decode(text, match.end())
        except json.JSONDecodeError:
            continue
        if isinstance(args, dict) and not ({"name", "arguments"} <= args.keys()):
            calls.append(TextCall(name=match.group(1), args=args))
    return calls


_SQL_FENCE = re.compile(r"```sql\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def sql_block_call(text: str) -> TextCall | None:
    """A ```sql block holding one query, as a ``run_sql`` call (small models show the query instead of calling)."""
    blocks = [b.strip().rstrip(";").strip() for b in _SQL_FENCE.findall(text or "")]
    queries = [b for b in blocks if re.match(r"(?is)^(select|with)\b", b)]
    return TextCall(name="run_sql", args={"sql": queries[0]}) if len(queries) == 1 else None


def describes_tools(text: str, known_tools: set[str] | frozenset[str]) -> bool:
    """Whether a reply talks about calling tools ("I used the `trend` function ...") instead of answering."""
    if not known_tools:
        return False
    names = "|".join(map(re.escape, sorted(known_tools)))
    return bool(re.search(rf"`({names})`|\b({names})\s+(function|tool)\b", text or ""))


def _introduced_arguments(text: str, known_tools: set[str] | frozenset[str]) -> list[TextCall]:
    """ "use the `search_reviews` function with these arguments: ```json {...}```": the one tool named before the block."""
    match = _FENCED.search(text)
    if not match or not known_tools:
        return []
    named = {name for name in known_tools if re.search(rf"`{re.escape(name)}`", text[: match.start()])}
    objects = [v for v in _json_lenient(match.group(1)) if isinstance(v, dict)]
    if len(named) != 1 or len(objects) != 1 or _as_call(objects[0]):
        return []
    return [TextCall(name=named.pop(), args=objects[0])]


def parse_text_calls(text: str, known_tools: set[str] | frozenset[str] = frozenset()) -> list[TextCall]:
    """The tool calls written in ``text``, or ``[]`` when it reads as a plain answer.

    Tagged blocks are read first, then fenced blocks, then bare JSON. Outside tags, an object
    counts as a call only when it names a known tool or has an arguments key, and bare JSON
    inside prose only when it names a known tool (so data shown in an answer is not a call).
    """

    def shaped(found: list[TextCall]) -> list[TextCall]:
        return [c for c in found if c.name in known_tools or c.has_args_key]

    if not text or ("{" not in text and "[" not in text):
        return []
    calls: list[TextCall] = []
    for _tag, body in _TAGGED.findall(text):
        calls += [c for v in _json_lenient(body) for c in _calls_in(v)]
    if calls:
        return calls
    for body in _FENCED.findall(text):
        calls += shaped([c for v in _json_lenient(body) for c in _calls_in(v)])
    if calls:
        return calls
    calls = _introduced_arguments(text, known_tools)
    if calls:
        return calls
    stripped = text.strip()
    named = _named_calls(stripped, known_tools)
    if named:
        return named
    bare = [c for v in _json_lenient(stripped) for c in _calls_in(v)]
    whole_message_is_json = stripped[:1] in "{[" and stripped[-1:] in "}]"
    if whole_message_is_json:
        return shaped(bare)
    return [c for c in bare if c.name in known_tools]
