"""Reading one question's turn of a conversation: its tool results, calls and what they settled.

Pure functions over LangChain messages, shared by the agent loop (``agent.graph``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agent.grounding import matches_evidence, number_value, numbers_in
from agent.tool_runner import call_key
from tools.artifact import NOTE_PREFIX
from warehouse.semantic.linking import CJK as _CJK


def text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def turn_start(messages: Sequence[BaseMessage]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage) and not messages[i].additional_kwargs.get("uba_feedback"):
            return i
    return 0


def window(messages: Sequence[BaseMessage], turns: int) -> list[BaseMessage]:
    """The current question and the last ``turns`` earlier questions with their messages."""
    starts = [
        i for i, m in enumerate(messages) if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback")
    ]
    first = starts[-(turns + 1)] if len(starts) > turns else 0
    return list(messages[first:])


def last_result_ok(turn: Sequence[BaseMessage]) -> bool:
    """Whether the turn's last tool result succeeded (after a reply sent back too: the data is still in)."""
    results = [m for m in turn if isinstance(m, ToolMessage)]
    return bool(results) and results[-1].status != "error"


def answered(turn: Sequence[BaseMessage]) -> int:
    """The turn's successful tool results."""
    return sum(1 for m in turn if isinstance(m, ToolMessage) and m.status != "error")


def last_call(messages: Sequence[BaseMessage]) -> str:
    """The last successful tool call of the earlier questions as ``name {json args}``, or ''."""
    ok = {m.tool_call_id for m in messages if isinstance(m, ToolMessage) and m.status != "error"}
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            for call in reversed(message.tool_calls):
                if call["id"] in ok:
                    return f"{call['name']} {json.dumps(call.get('args') or {}, ensure_ascii=False, sort_keys=True)}"
    return ""


def fresh_results(turn: Sequence[BaseMessage]) -> bool:
    """Whether the turn ends with tool results that all succeeded (the model answers next)."""
    tail = latest_results(turn)
    return bool(tail) and all(m.status != "error" for m in tail)


def has_note(message: ToolMessage) -> bool:
    """Whether a tool result carries a note asking for a corrected call (``tools/sql_hints.py``)."""
    return message.status != "error" and f"\n{NOTE_PREFIX}" in str(message.content)


def latest_results(turn: Sequence[BaseMessage]) -> list[ToolMessage]:
    """The tool results that end ``turn`` (none when it ends with another message)."""
    tail: list[ToolMessage] = []
    for message in reversed(turn):
        if not isinstance(message, ToolMessage):
            break
        tail.append(message)
    return tail[::-1]


def noted(turn: Sequence[BaseMessage]) -> bool:
    """Whether one of the turn's latest tool results carries a note asking for a corrected call."""
    return any(has_note(m) for m in latest_results(turn))


def conversation_text(messages: Sequence[BaseMessage]) -> str:
    """What the user wrote and the tools returned in this thread: where the ids of a call must appear."""
    return "\n".join(
        text_of(m)
        for m in messages
        if (isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback"))
        or (isinstance(m, ToolMessage) and m.status != "error")
    )


def done_calls(turn: Sequence[BaseMessage]) -> set[str]:
    """Keys of the calls of this question that already succeeded (name and arguments)."""
    ok_ids = {m.tool_call_id for m in turn if isinstance(m, ToolMessage) and m.status != "error"}
    return {call_key(c) for m in turn if isinstance(m, AIMessage) for c in m.tool_calls if c["id"] in ok_ids}


def failed_calls(turn: Sequence[BaseMessage]) -> dict[str, str]:
    """Keys of the calls of this question that failed, with the start of their error text."""
    errors = {
        m.tool_call_id: text_of(m)
        for m in turn
        if isinstance(m, ToolMessage) and m.status == "error" and not m.additional_kwargs.get("uba_repeat")
    }
    return {
        call_key(c): errors[c["id"]][:200]
        for m in turn
        if isinstance(m, AIMessage)
        for c in m.tool_calls
        if c["id"] in errors
    }


def result_headlines(turn: Sequence[BaseMessage], most: int = 3) -> list[str]:
    """The summaries of the turn's successful tool results (each tool's own first line saying what it
    found, with its numbers), the last ``most`` distinct ones; none when a latest result carries a note asking for
    a corrected call (as it stands it is likely wrong)."""
    if noted(turn):
        return []
    pieces = []
    for message in turn:
        if isinstance(message, ToolMessage) and message.status != "error":
            lines = text_of(message).strip().split("\n")
            # A result without a summary sentence (a SQL table: its header, rows and count) is shown whole.
            sentence = len(lines[0]) >= _SENTENCE and any(ch.isdigit() for ch in lines[0])
            pieces.append(lines[0] if sentence else "\n".join(lines[:_TABLE_LINES]))
    return list(dict.fromkeys(p for p in pieces if p))[-most:]


_SENTENCE = 30
"""Characters of a result's first line from which it is taken for the tool's summary sentence."""
_TABLE_LINES = 12


_RANKING = re.compile(r"\(\d+ in all\): the (?:highest|lowest) is (.*?)(?:; the others are in the table)?\.$")


def ranking_labels(turn: Sequence[BaseMessage]) -> list[str]:
    """The row labels, in order, of the turn's last successful result when it is a ranking (the query
    tool's summary "by brand (27 in all): the highest is Glowa: 4.09; then CasaBella: 4.08; ..."), else []."""
    results = [m for m in turn if isinstance(m, ToolMessage) and m.status != "error"]
    if not results:
        return []
    found = _RANKING.search(text_of(results[-1]).split("\n", 1)[0])
    if found is None:
        return []
    rows = found.group(1).replace("; then ", "; ", 1).split("; ")
    return [row.rsplit(": ", 1)[0].strip() for row in rows if ": " in row]


_TOP = re.compile(
    r"\b(?:most|best|highest|top|largest|biggest|lowest|least|fewest|worst|smallest|strongest|weakest|peak)\b|"
    r"最多|最高|最大|最少|最低|最好|最差",
    re.IGNORECASE,
)
"""A question asking for the first of a ranking."""


def first_missed(text: str, question: str, turn: Sequence[BaseMessage]) -> str:
    """The first row of the turn's ranking when the question asks for the top one and the answer names
    another row of it but not that one; else ''."""
    labels = ranking_labels(turn)
    if len(labels) < 2 or not _TOP.search(question) or re.search(r"\btop\s+\d+|前\s*\d+", question):
        return ""

    def named(label: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.IGNORECASE) is not None

    if named(labels[0]):
        return ""
    # Another row named instead; or, answering in Chinese, none (measured: "audio" answered as "音频", a
    # name the data does not have)
    return labels[0] if any(named(other) for other in labels[1:]) or _CJK.search(question) else ""


_BEFORE_VALUE = re.compile(r"\. ([^.():]+) \(\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}\): ([^;]+);")
"""The window before in a compared total's summary: ". The 7 days before (2026-10-18 to 2026-10-24): 1,234;"."""


def previous_missed(text: str, turn: Sequence[BaseMessage]) -> tuple[str, str] | None:
    """(the earlier window's label, its value) when the turn's last result compares a total with the window
    before it and the answer gives only one of the two numbers; else None."""
    results = [m for m in turn if isinstance(m, ToolMessage) and m.status != "error"]
    found = _BEFORE_VALUE.search(text_of(results[-1]).split("\n", 1)[0]) if results else None
    if found is None:
        return None
    label, value = found.group(1).strip(), found.group(2).strip()
    before = numbers_in(value)
    if not before:
        return None
    written = numbers_in(text)
    if any(matches_evidence(n, {abs(number_value(before[0]))}) for n in written):
        return None
    return label, value


ASKS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|often|long)\b|\bwhat\s+(?:share|percent|percentage|fraction|proportion)\b|"
    r"多少|几[个次笔天位]|比例|占比|百分",
    re.IGNORECASE,
)
"""A question whose answer is a number."""
