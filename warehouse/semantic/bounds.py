"""Numbers a question puts on a query: a percentile instead of the median, bounds on a value, a floor on groups.

"The 90th percentile of events per session" asks a median measure for its 90th percentile; "reviews of 3
stars or fewer" bounds the rating (``lte 3``, counting stars); "among brands with at least 30 reviews" puts
a floor on each group's rows. The agent offers these to the model as the question names them
(``agent.grounded_args``) and keeps their numbers out of values, ids and windows.
"""

from __future__ import annotations

import re

from warehouse.semantic.linking import CJK as _CJK
from warehouse.semantic.linking import stem

_PERCENTILE = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)[\s-]+percentile\b|\bp(\d{1,2})\b|\b(upper|lower|top|bottom|first|third)\s+quartile\b|"
    r"(?:第)?(\d{1,2})\s*(?:百分位|分位)",
    re.IGNORECASE,
)
"""A percentile instead of the median: "the 90th percentile", "p95", "the upper quartile", "90分位"."""
_QUARTILES = {"upper": 75, "top": 75, "third": 75, "lower": 25, "bottom": 25, "first": 25}
_N = r"(\d+(?:\.\d+)?)"
_BOUNDS = (
    ("lte", rf"{_N}[\s-]*(?:stars?|points?)?\s+(?:or|and)\s+(?:fewer|less|lower|below|under|worse|earlier|before)\b"),
    ("gte", rf"{_N}[\s-]*(?:stars?|points?)?\s+(?:or|and)\s+(?:more|higher|above|up|over|better|later|after)\b"),
    ("lte", rf"\b(?:at\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|maximum\s+of)\s+{_N}"),
    ("gte", rf"\b(?:at\s+least|no\s+(?:less|fewer)\s+than|minimum\s+of)\s+{_N}"),
    ("gt", rf"\b(?:more|greater|higher|better)\s+than\s+{_N}|\b(?:above|over)\s+{_N}"),
    ("lt", rf"\b(?:less|fewer|lower|worse)\s+than\s+{_N}|\b(?:below|under)\s+{_N}"),
    ("eq", rf"\b{_N}-star\b|\b{_N}\s+stars?\b"),
    ("lte", rf"{_N}\s*星?(?:及|或)?以下"),
    ("gte", rf"{_N}\s*星?(?:及|或)?以上"),
    ("lt", rf"(?:低于|少于|小于|不到)\s*{_N}"),
    ("gt", rf"(?:高于|多于|大于|超过)\s*{_N}"),
    ("eq", rf"{_N}\s*星"),
)
"""A number the question bounds a value by ("3 stars or fewer", "at least 4", "over 100", "4星及以上"),
with the comparison; the first pattern to read a number decides its comparison."""
_MIN_ROWS = re.compile(
    r"\b(?:with|having|that\s+have|that\s+has|who\s+have|who\s+has)\s+(at\s+least|more\s+than|over|a\s+minimum\s+of|"
    r"no\s+fewer\s+than|no\s+less\s+than)\s+(\d+)\s+[^\W\d_]",
    re.IGNORECASE,
)
"""A floor on the rows behind each group of a ranking ("among brands with at least 30 reviews")."""


def percentile_named(question: str) -> int | None:
    """The percentile ``question`` asks for ("the 90th percentile": 90, "the lower quartile": 25), or None."""
    m = _PERCENTILE.search(question)
    if m is None:
        return None
    if m.group(3):
        return _QUARTILES[m.group(3).lower()]
    n = int(m.group(1) or m.group(2) or m.group(4))
    return n if 1 <= n <= 99 else None


def bounds_named(question: str) -> tuple[list[tuple[str, str, str]], int | None]:
    """(comparisons the question bounds a value by, as (op, number, the stem of what it counts or ''), the
    floor on rows per group it names)."""
    floor = _MIN_ROWS.search(question)
    rows = None
    taken: list[tuple[int, int]] = []
    if floor is not None:
        rows = int(floor.group(2)) + (0 if floor.group(1).lower().startswith(("at", "a ", "no")) else 1)
        taken.append(floor.span())
    out: list[tuple[str, str, str]] = []
    for op, pattern in _BOUNDS:
        for m in re.finditer(pattern, question, re.IGNORECASE):
            if any(a <= m.start() < b for a, b in taken):
                continue
            index = next(i for i, g in enumerate(m.groups(), 1) if g)
            taken.append(m.span())
            out.append((op, m.group(index), _unit(question[m.end(index) :])))
    return list(dict.fromkeys(out)), rows


def _unit(rest: str) -> str:
    """The stem of what a bounded number counts ("3 stars or fewer": star; "星": star), or ''."""
    if rest.lstrip().startswith("星"):
        return "star"
    m = re.match(r"[\s-]*([^\W\d_]+)", rest)
    word = m.group(1).lower() if m else ""
    return "" if word in _CONNECTIVES or _CJK.match(word) else stem(word)


_CONNECTIVES = frozenset(
    "or and than to of in on at per a an the last this next past during for from with over within since each every".split()
)
