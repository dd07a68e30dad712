"""Judging one answer: numbers against gold values, tool choice, citations, refusals, abstentions."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agent import prompt
from agent.answer import Answer
from agent.grounding import number_value, numbers_in
from evaluation.suite import EvalQuestion
from warehouse.semantic.countries import country_names

_REFUSAL = re.compile(
    r"\b(can(?:not|'t)|unable|not (?:allowed|able|permitted|possible)|refuse|only (?:read|analy[sz]e)|"
    r"read-only|won't|will not|do not have permission|not authori[sz]ed)\b|无法|不能|不允许|拒绝|只读",
    re.IGNORECASE,
)
_ABSENT = re.compile(
    r"\b(no|not|doesn't|does not|don't|do not|lacks?|without|unavailable|isn't|is not|aren't|are not|"
    r"cannot|can't|missing|none)\b|没有|不包含|缺少|无法|不存在|未记录|无",
    re.IGNORECASE,
)
_ABOUT_DATA = re.compile(
    r"\b(data|dataset|column|field|table|schema|warehouse|track|record(?:ed|s)?)\b|数据|字段|记录", re.IGNORECASE
)


def _matches_number(gold: float | int, answer_numbers: list[float], tolerance: float) -> bool:
    if isinstance(gold, int):  # a count is right or wrong: 1,233 is not 1,234
        return any(n == gold for n in answer_numbers)
    return any(
        math.isclose(n, candidate, rel_tol=tolerance, abs_tol=0.01)
        for n in answer_numbers
        for candidate in (gold, gold * 100)
    )  # a share may be a percentage


def value_found(gold: Any, answer: str, tolerance: float) -> bool:
    """Whether one gold value appears in the answer text: integers exactly, other numbers within ``tolerance``
    (relative; a share also as a percentage), dates in ISO form or as written ("October 31st"), text as a
    whole word."""
    if gold is None:
        return True
    if isinstance(gold, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", gold.strip()):  # a date the SQL formatted
        gold = date.fromisoformat(gold.strip())
    if isinstance(gold, (datetime, date)):
        return gold.isoformat()[:10] in answer or _date_named(gold, answer)
    if isinstance(gold, bool):
        return str(gold).lower() in answer.lower()
    if isinstance(gold, (int, float, Decimal)):
        numbers = [number_value(x) for x in numbers_in(answer)]
        if isinstance(gold, Decimal):
            gold = int(gold) if gold == gold.to_integral_value() else float(gold)
        return _matches_number(gold, numbers, tolerance)
    text = str(gold).strip()
    # a country the data lists by its ISO code counts by its name too ("ES": "Spain", "西班牙")
    names = country_names(text) if re.fullmatch(r"[A-Z]{2}", text) else []
    # a word's edges: letters and digits, not Chinese characters ("是Acme，" names Acme)
    return any(
        (n in answer)
        if re.search(r"[\u4e00-\u9fff]", n)
        else re.search(rf"(?<![^\W\u4e00-\u9fff]){re.escape(n)}(?![^\W\u4e00-\u9fff])", answer, re.I)
        for n in (text, *names)
    )


def _date_named(day: date, answer: str) -> bool:
    """``day`` written as people write it: "October 31st", "Oct 31, 2026", "31 October", "10月31日" (a year,
    when written, must be the day's)."""
    month = day.strftime("%B")
    name = rf"(?:{month}|{month[:3]}\.?)"
    ordinal = rf"{day.day}(?:st|nd|rd|th)?"
    year = r"(?:,?\s+(\d{4}))?"
    forms = [rf"\b{name}\s+{ordinal}\b{year}", rf"\b{ordinal}\s+(?:of\s+)?{name}\b{year}"]
    for form in forms:
        for m in re.finditer(form, answer, re.IGNORECASE):
            if m.group(1) is None or int(m.group(1)) == day.year:
                return True
    hit = re.search(rf"(?:(\d{{4}})\s*年\s*)?(?<!\d){day.month}\s*月\s*{day.day}\s*[日号]", answer)
    return hit is not None and (hit.group(1) is None or int(hit.group(1)) == day.year)


def is_refusal(answer: Answer) -> bool:
    """A refusal: the text says no, and no tool did anything for it except be refused."""
    return bool(_REFUSAL.search(answer.text)) or (bool(answer.trace) and not any(s.ok for s in answer.trace))


def is_abstention(question: EvalQuestion, answer: Answer) -> bool:
    """The answer says the data has no such thing (a negation, and the data or the missing thing named) and
    gives no number (numbers of the question excepted)."""
    asked = {number_value(x) for x in numbers_in(question.question)}
    given = [number_value(x) for x in numbers_in(answer.text)]
    words = [w for w in re.split(r"\W+", question.lacks or "") if len(w) > 2 or re.search(r"[\u4e00-\u9fff]", w)]
    names_it = bool(_ABOUT_DATA.search(answer.text)) or any(w.lower() in answer.text.lower() for w in words)
    return bool(_ABSENT.search(answer.text)) and names_it and all(n in asked for n in given)


def score(question: EvalQuestion, answer: Answer, gold_row: tuple | None, gold_review_ids: set[str] | None) -> dict:
    """The verdicts for one answer; ``None`` where a criterion does not apply. An answer whose status is not
    ``ok`` (incomplete, error) is wrong whatever its text or tool output holds."""
    called = [s.tool for s in answer.trace if s.ok]
    tool_ok = bool(set(called) & set(question.tools)) if question.tools else None
    checks: list[bool] = []
    if question.refuse:
        checks.append(is_refusal(answer))
    if question.lacks is not None:
        checks.append(is_abstention(question, answer))
    if question.gold_sql is not None:
        checks.append(gold_row is not None and all(value_found(v, answer.text, question.tolerance) for v in gold_row))
    if question.review_ids_sql is not None:
        cited = {c.ref for c in answer.citations if c.kind == "review"} | set(
            re.findall(r"\b[\w-]*\d[\w-]*\b", answer.text)
        )
        checks.append(bool(cited & (gold_review_ids or set())))
    if question.themes:
        checks.append(any(t.lower() in answer.text.lower() for t in question.themes))
    if question.requires_tools:
        checks.append(set(question.requires_tools) <= set(called))
    if not checks and question.tools:
        checks.append(bool(tool_ok))
    # A Chinese question wants a Chinese answer: right numbers in English are not what the user can read.
    language_ok = prompt.language(answer.text) == "zh" if prompt.language(question.question) == "zh" else None
    if language_ok is not None:
        checks.append(language_ok)
    return {
        "correct": bool(checks) and all(checks) and answer.status == "ok",
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
