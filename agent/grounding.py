"""The check that a final answer uses only numbers the tools (or the user) supplied."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A number: optional sign, digits with optional thousands separators, optional decimals.
# ASCII-only look-behind: in Chinese text a number follows a CJK character ("共有1234次").
# An ISO date is one literal (its parts are not the numbers 2026, -10 and -31).
_DATE = r"(?<![A-Za-z0-9_.-])\d{4}-\d{2}-\d{2}(?![0-9])"
_NUMBER = re.compile(_DATE + r"|(?<![A-Za-z0-9_.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![A-Za-z0-9_.])-?\d+(?:\.\d+)?")
_IS_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID_LIKE = re.compile(r"\b[A-Za-z_]+[-_]?\d+\b|\b\d+[A-Za-z_]+\w*\b")
SMALL_INTEGERS = 10
"""Integers 0..10 pass unchecked: list numbering, "top 5", "3 steps" are prose, not findings."""


def numbers_in(text: str) -> list[str]:
    """The numeric literals in ``text`` as written (identifiers like ``u00042`` are skipped)."""
    cleaned = _ID_LIKE.sub(" ", text)
    return _NUMBER.findall(cleaned)


def number_value(literal: str) -> float:
    """The value of a literal from :func:`numbers_in`; a date ``2026-10-31`` is ``20261031``."""
    if _IS_DATE.fullmatch(literal):
        return float(literal.replace("-", ""))
    return float(literal.replace(",", ""))


def _decimals(literal: str) -> int:
    return len(literal.split(".", 1)[1]) if "." in literal else 0


def evidence_values(texts: Iterable[str]) -> set[float]:
    """Every number in the evidence texts, plus its percentage form (0.231 is 23.1%)."""
    values: set[float] = set()
    for text in texts:
        for literal in _NUMBER.findall(text):
            if _IS_DATE.fullmatch(literal):  # the date, and its year, month and day on their own
                values.update(float(part) for part in literal.split("-"))
            v = number_value(literal)
            values.add(v)
            values.add(v * 100)
            values.add(abs(v))
    return values


def matches_evidence(literal: str, evidence: set[float]) -> bool:
    """Whether some evidence value, rounded or cut off at the literal's precision, is the literal
    (measured: the model wrote an average of 3.698958 as 3.69)."""
    n = abs(number_value(literal))
    unit = 10 ** -_decimals(literal)
    return any(-0.5 * unit - 1e-9 <= v - n < unit - 1e-9 for v in evidence)


MAX_DERIVED_FROM = 8
"""Numbers of the results' headlines that differences are formed from: the first four of the last two."""


def derived_values(headlines: list[str]) -> set[float]:
    """What an answer may compute from two numbers of the results' headlines (their first lines): the
    difference ("October made 44,581.40 more"). Ratios and percentages are not derived: at the precision
    they are written (43.9%) one of the many pairs would match a wrong one by chance; the tools state them
    (a comparison gives its change in percent). Dates are no operands."""
    numbers: list[float] = []
    for text in headlines[-2:]:
        numbers += [number_value(n) for n in _NUMBER.findall(text) if not _IS_DATE.fullmatch(n)][:4]
    numbers = list(dict.fromkeys(n for n in numbers if n))[:MAX_DERIVED_FROM]
    return {abs(a - b) for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i < j}


def _significant(literal: str) -> int:
    return len(literal.replace(",", "").replace("-", "").replace(".", "").lstrip("0"))


def ungrounded_numbers(answer: str, evidence: set[float], derived: set[float] | None = None) -> list[str]:
    """The numbers in ``answer`` that match no evidence value at the precision they are written, nor (with
    four significant digits or more, where chance does not match) a value ``derived`` from two of them."""
    bad = []
    for literal in numbers_in(answer):
        value = number_value(literal)
        if value.is_integer() and 0 <= value <= SMALL_INTEGERS:
            continue
        if matches_evidence(literal, evidence):
            continue
        if (
            derived
            and _significant(literal) >= 4
            and not _IS_DATE.fullmatch(literal)
            and matches_evidence(literal, derived)
        ):
            continue
        bad.append(literal)
    return list(dict.fromkeys(bad))
