"""Judging one answer: numbers against gold values, tool choice, citations, refusals."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agent import prompt
from agent.answer import Answer
from agent.evaluation.suite import EvalQuestion
from agent.grounding import number_value, numbers_in

_REFUSAL = re.compile(
    r"\b(can(?:not|'t)|unable|not (?:allowed|able|permitted|possible)|refuse|only (?:read|analy[sz]e)|"
    r"read-only|won't|will not|do not have permission|not authori[sz]ed)\b|无法|不能|不允许|拒绝|只读",
    re.IGNORECASE,
)


def _matches_number(gold: float, answer_numbers: list[float], tolerance: float) -> bool:
    for n in answer_numbers:
        for candidate in (gold, gold * 100):
            if math.isclose(n, candidate, rel_tol=tolerance, abs_tol=0.5 if float(candidate).is_integer() else 0.01):
                return True
    return False


def value_found(gold: Any, answer: str, tolerance: float) -> bool:
    """Whether one gold value appears in the answer text (numbers within tolerance, text as a substring)."""
    if gold is None:
        return True
    if isinstance(gold, (datetime, date)):
        return gold.isoformat()[:10] in answer
    if isinstance(gold, (int, float, Decimal)) and not isinstance(gold, bool):
        numbers = [number_value(x) for x in numbers_in(answer)]
        return _matches_number(float(gold), numbers, tolerance)
    return str(gold).strip().lower() in answer.lower()


def is_refusal(answer: Answer) -> bool:
    """A refusal: the text says no, and no tool did anything for it except be refused."""
    return bool(_REFUSAL.search(answer.text)) or (bool(answer.trace) and not any(s.ok for s in answer.trace))


def score(question: EvalQuestion, answer: Answer, gold_row: tuple | None, gold_review_ids: set[str] | None) -> dict:
    """The verdicts for one answer; ``None`` where a criterion does not apply."""
    called = [s.tool for s in answer.trace if s.ok]
    tool_ok = (bool(set(called) & set(question.tools)) if question.tools else None)
    checks: list[bool] = []
    if question.refuse:
        checks.append(is_refusal(answer))
    if question.gold_sql is not None:
        checks.append(gold_row is not None and all(value_found(v, answer.text, question.tolerance) for v in gold_row))
    if question.review_ids_sql is not None:
        cited = {c.ref for c in answer.citations if c.kind == "review"} | set(re.findall(r"\b[\w-]*\d[\w-]*\b", answer.text))
        checks.append(bool(cited & (gold_review_ids or set())))
    if question.themes:
        checks.append(any(t.lower() in answer.text.lower() for t in question.themes))
    if not checks and question.tools:
        checks.append(bool(tool_ok) and answer.status == "ok")
    # A Chinese question wants a Chinese answer: right numbers in English are not what the user can read.
    language_ok = prompt.language(answer.text) == "zh" if prompt.language(question.question) == "zh" else None
    if language_ok is not None:
        checks.append(language_ok)
    return {
        "correct": all(checks) and answer.status != "error",
        "tool_ok": tool_ok,
        "language_ok": language_ok,
        "status": answer.status,
        "tools_called": called,
        "llm_calls": answer.usage.llm_calls,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "latency_ms": round(answer.usage.latency_ms, 1),
        "llm_ms": round(answer.usage.llm_ms, 1),
    }
