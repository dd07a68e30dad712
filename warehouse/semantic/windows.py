"""The time windows a question names, relative to the end of the data.

"The last 30 days", "this past week", "in October", "the week of October 12", "yesterday", an ISO
date, "最近7天", "10月": each is a window of the query spec (``last_days``, or ``start`` and ``end``).
A question that names none has no window (all data). The agent narrows the embedded model's grammar
to these choices (``agent.grounded_args``), so a window comes from the question, not from the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_UNITS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30, "fortnight": 14}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fourteen": 14,
    "thirty": 30,
    "ninety": 90,
}
_LAST_N = re.compile(
    r"\b(?:last|past|previous|recent|final|trailing)\s+(\d+|"
    + "|".join(_NUMBER_WORDS)
    + r")\s+(days?|weeks?|months?)\b",
    re.IGNORECASE,
)
_LAST_ONE = re.compile(
    r"\b(?:this|last|past|previous|the\s+past|this\s+past)\s+(week|month|fortnight)\b", re.IGNORECASE
)
_WEEK_OF = re.compile(
    r"\bweek\s+(?:of|starting|beginning)\s+(?:the\s+)?" + _MONTH + r"\.?\s+(\d{1,2})\b", re.IGNORECASE
)
_MONTH_NAME = re.compile(r"(?<![\w-])" + _MONTH + r"\.?(?:\s+(\d{4}))?(?![\w-])", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_ZH_LAST_N = re.compile(r"(?:最近|过去|近)\s*(\d+)\s*(天|日|周|个月|月)")
_ZH_ONE = re.compile(r"(?:最近|过去|近|上)\s*(?:一)?\s*(周|个?月)")
_ZH_MONTH = re.compile(r"(?<!\d)(1[0-2]|[1-9])\s*月(?:份)?")
_TIME_WORDS = re.compile(
    r"\d+\s*(?:days?|weeks?|months?|years?|hours?|minutes?|quarters?)\b|\b(?:19|20)\d{2}\b|\d{4}-\d{2}|"
    r"\b(?:days?|weeks?|weekly|months?|monthly|years?|yearly|quarters?|q[1-4]|today|yesterday|tonight|since|"
    r"until|before|after|ago|recent(?:ly)?|lately|latest|fortnight|season|holidays?|daily|hours?|"
    r"morning|evening|night)\b|" + _MONTH + r"\b|[天周月年日昨今]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WindowChoices:
    """What the question allows: ``last_days`` values and ``(start, end)`` day pairs; both empty with
    ``named`` False when the question names no time at all."""

    last_days: list[int] = field(default_factory=list)
    spans: list[tuple[str, str]] = field(default_factory=list)
    named: bool = True


def _month_bounds(month: int, year: int | None, last_day: date) -> tuple[str, str]:
    """The named month's first and last day: in ``year``, else the latest such month up to the data's end."""
    if year is None:
        year = last_day.year if month <= last_day.month else last_day.year - 1
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first.isoformat(), (nxt - timedelta(days=1)).isoformat()


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(name.lower()[:3]))


def months_named(text: str) -> int:
    """How many month names (English or Chinese) ``text`` holds ("September ... October": 2)."""
    return len(_MONTH_NAME.findall(text)) + len(_ZH_MONTH.findall(text))


def window_choices(question: str, last_day: date | None) -> WindowChoices | None:
    """The windows ``question`` names; ``WindowChoices(named=False)`` when it names no time; None when it
    speaks of time in a way not understood here (then the window is left to the model)."""
    if not _TIME_WORDS.search(question):
        return WindowChoices(named=False)
    days: list[int] = []
    spans: list[tuple[str, str]] = []
    for number, unit in _LAST_N.findall(question):
        n = int(number) if number.isdigit() else _NUMBER_WORDS[number.lower()]
        days.append(n * _UNITS[unit.lower()])
    days += [_UNITS[unit.lower()] for unit in _LAST_ONE.findall(question)]
    for number, unit in _ZH_LAST_N.findall(question):
        days.append(int(number) * {"天": 1, "日": 1, "周": 7}.get(unit, 30))
    days += [7 if unit == "周" else 30 for unit in _ZH_ONE.findall(question)]
    if last_day is not None:
        rest = question
        for name, day in _WEEK_OF.findall(question):
            start = date.fromisoformat(_month_bounds(_month_number(name), None, last_day)[0]).replace(day=int(day))
            spans.append((start.isoformat(), (start + timedelta(days=6)).isoformat()))
        rest = _WEEK_OF.sub(" ", rest)
        for name, year in _MONTH_NAME.findall(rest):
            if name.lower() == "may" and not re.search(r"\bmay\s+(?:\d{4}\b|$|[,.?!])", rest, re.IGNORECASE):
                continue  # "may" the verb
            spans.append(_month_bounds(_month_number(name), int(year) if year else None, last_day))
        for month in _ZH_MONTH.findall(rest):
            spans.append(_month_bounds(int(month), None, last_day))
        if re.search(r"\byesterday\b|昨天", question, re.IGNORECASE):
            spans.append((last_day.isoformat(), last_day.isoformat()))
    dates = _ISO.findall(question)
    if len(dates) >= 2:
        spans.append((min(dates), max(dates)))
    elif dates:
        spans.append((dates[0], dates[0]))
    if not days and not spans:
        return None
    return WindowChoices(last_days=list(dict.fromkeys(days)), spans=list(dict.fromkeys(spans)))
