"""Grounded filters: a step's ``filters`` schema allowing only the values the conversation names.

Per dimension kind: an id (a key, e.g. user or item): the id-like tokens of the conversation; a listed
value: the listed values the conversation names (by the value or one of its aliases: "Germany" names DE);
free text (review text): the words the question asks text to contain; a number (hour of day): the
question's numbers; another dimension: the question's names, quoted phrases and numbers. A number the
question bounds ("3 stars or fewer") comes with its comparison, on the dimensions whose values it falls
among; an id it names after an entity ("user 1234") is a value of that entity's key only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from warehouse.semantic.shape import aliased_values, named_values

_ID_TOKEN = re.compile(
    r"(?<![\w.-])(?<!\d,)[A-Za-z_]*\d[\w-]*(?![\w-])(?!,\d)(?!\s*(?:days?|weeks?|months?|years?|hours?|minutes?|%|percent))"
)
_NOT_ID = re.compile(r"^(?:\d{4}-\d{2}(?:-\d{2})?|(?:19|20)\d{2}|\d)$")
"""A date, a month, a year or a single digit is not an id."""
_WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
_STOP = frozenset(
    "a an and any are as at be been by can could did do does each for from had has have how i in is it its many "
    "me most much my no not of on or our per s so than that the their them then there these they this those to "
    "us was we were what when where which who whom why will with would you your all also ever more less".split()
)
_UNIT = r"(?!\s*(?:days?|weeks?|months?|years?|hours?|minutes?|%|percent))"
_NUMBER = r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])" + _UNIT
_CALENDAR = frozenset("jan feb mar apr may jun jul aug sep oct nov dec mon tue wed thu fri sat sun".split())
"""Month and weekday names (their first three letters): a date word is a window, not a value."""
MAX_CHOICES = 200
"""At most this many values per argument (the most recent first): a grammar stays small and fast."""


_MONTH_DAY = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|"
    r"\d{1,2}\s*[月日号]",
    re.IGNORECASE,
)
"""A day of a month ("October 12", "12 Oct", "10月"): part of a window, not a value."""


def id_tokens(text: str) -> list[str]:
    """Id-like tokens of ``text`` (with a digit: 4711, u00042, A-17), the last mentioned first, distinct."""
    found = [t for t in dict.fromkeys(reversed(_ID_TOKEN.findall(_MONTH_DAY.sub(" ", text)))) if not _NOT_ID.match(t)]
    return found[:MAX_CHOICES]


def entity_ids(question: str, words: list[str]) -> frozenset[str]:
    """Ids the question names after an entity's word ("user 1234", "customer #42"): values of that key,
    not of another dimension (1234 is no signup month)."""
    if not words:
        return frozenset()
    names = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = rf"\b(?:{names})s?\s*(?:id\s*)?(?:#|no\.?|number)?\s*([A-Za-z_]*\d[\w-]*)"
    return frozenset(m.group(1) for m in re.finditer(pattern, question, re.IGNORECASE))


def question_words(question: str) -> list[str]:
    """The question's content words, and each pair of adjacent ones, as it writes them."""
    words = [w for w in _WORD.findall(question) if w.lower() not in _STOP and len(w) > 1]
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return list(dict.fromkeys([*words, *pairs]))[:MAX_CHOICES]


def question_tokens(question: str) -> list[str]:
    """What in the question can be a value of a dimension without listed values: a quoted phrase, a
    capitalised word that does not open a sentence (a name: Acme), a number."""
    quoted = re.findall(r"[\"“'‘]([^\"”'’]{1,60})[\"”'’]", question)
    names = [
        m.group(1)
        for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w&-]*)", question.strip())
        if m.group(1).lower()[:3] not in _CALENDAR
    ]
    return list(dict.fromkeys([*quoted, *names, *question_numbers(question)]))[:MAX_CHOICES]


def question_numbers(question: str) -> list[str]:
    """The question's numbers that are not a length of time (30 in "the last 30 days"), a share or a day
    of a month (the window has it)."""
    return re.findall(_NUMBER, _MONTH_DAY.sub(" ", question))


def _choice(values: list[str], list_too: bool) -> dict[str, Any]:
    one = {"type": "string", "enum": values}
    return {"anyOf": [one, {"type": "array", "items": one, "maxItems": 8}]} if list_too else one


def _text_values(question: str, mentions: tuple[str, ...] | None) -> list[str]:
    """A text filter's values: the words the question asks text to contain ("mention delivery"); without a
    shape, or in Chinese (no word boundaries to read a mention from), the question's words."""
    if mentions is None or (not mentions and re.search(r"[\u4e00-\u9fff]", question)):
        return question_words(question)
    return list(mentions)


def _in_range(number: str, listed: list[str]) -> bool:
    """Whether ``number`` lies within the dimension's listed numbers (all of them numbers)."""
    try:
        values = [float(v) for v in listed]
    except ValueError:
        return False
    return bool(values) and min(values) <= float(number) <= max(values)


@dataclass(frozen=True)
class FilterEvidence:
    """What one step's filters may hold: ``evidence``, the thread's questions and tool results (ids and listed
    values come from it); ``question``, the thread's questions (words, names and numbers); from the
    question's shape the words text must contain (``mentions``, None without a shape), the comparisons it
    bounds numbers by, the floor it puts on groups' rows; ``aliases``: per dimension, words naming values."""

    evidence: str
    question: str
    mentions: tuple[str, ...] | None = None
    bounds: tuple[tuple[str, str, str], ...] = ()
    min_rows: int | None = None
    aliases: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)
    id_words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per key dimension, the words naming it ("user", "customer"): an id after one is that key's only."""
    words: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per dimension, the stems of the words naming it: a bound counting "stars" applies where "star" is one."""
    not_ids: frozenset[str] = frozenset()
    """Numbers the question's shape explains (a bound, a floor, a percentile): no id."""
    latest: str = ""
    """The thread's last question: two listed values it names are compared (a filter on exactly those)."""
    value_words: frozenset[str] = frozenset()
    """Words of the question naming a listed value (DE, German, mobile): no value of another dimension."""


def shape_numbers(shape: Any) -> frozenset[str]:
    """The numbers a question's shape explains: its bounds, its floor on groups' rows, its percentile."""
    return frozenset({b[1] for b in shape.bounds} | {str(x) for x in (shape.min_rows, shape.percentile) if x})


def _values(name: str, kind: str, listed: list[str], seen: FilterEvidence) -> list[str]:
    """The values a filter on dimension ``name`` may hold (bounded numbers and entity ids left out)."""
    named = {key: entity_ids(seen.question, list(words)) for key, words in seen.id_words.items()}
    if kind == "id":  # not an id the question names after another key ("user 1234" is no item)
        others = set().union(*(ids for key, ids in named.items() if key != name)) - named.get(name, frozenset())
        # nor a bounded number with its unit ("5-star")
        return [
            i
            for i in id_tokens(seen.evidence)
            if i not in seen.not_ids | others and i.split("-")[0] not in seen.not_ids
        ]
    if kind == "text":
        return _text_values(seen.question, seen.mentions)
    values = (
        [*aliased_values(listed, seen.question, seen.aliases.get(name)), *question_numbers(seen.question)]
        if kind == "number"
        else named_values(listed, seen.evidence, seen.aliases.get(name))
        if listed
        else question_tokens(seen.question)
    )
    taken = {n for _, n, _ in seen.bounds} | ({str(seen.min_rows)} if seen.min_rows else set())
    taken |= set().union(*named.values())
    taken |= {m.strip("'") for m in seen.mentions or ()}  # words asked of the text are no brand or month
    if not (kind == "listed" and listed):  # "German" names a country, so it is no brand or signup month
        values = [v for v in values if v.lower() not in seen.value_words]
    return [v for v in values if v not in taken]


def _variant(name: str, op: dict[str, Any], value: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"dimension": {"const": name}, "op": op, "value": value},
        "required": required,
        "additionalProperties": False,
    }


def _narrow_filters(
    spec: dict[str, Any], dimensions: Mapping[str, tuple[str, list[str]]], seen: FilterEvidence
) -> dict[str, Any] | None:
    """The ``filters`` property allowing, per dimension, only the values the conversation names; None
    when no dimension has one."""
    items = spec.get("items") or {}
    op = (items.get("properties") or {}).get("op", {"type": "string"})
    bounds = list(seen.bounds)  # "5-star reviews": eq 5 on the rating too
    variants, bounded, texts = [], [], []
    asked = False  # a value the question names: a filter is due
    for name, (kind, listed) in dimensions.items():
        values = _values(name, kind, listed, seen)
        compared = (
            named_values(listed, seen.latest, seen.aliases.get(name))
            if kind == "listed" and listed
            else aliased_values(listed, seen.latest, seen.aliases.get(name))  # "weekends": 0 and 6
            if kind == "number"
            else []
        )
        if len(compared) >= 2:  # "German vs French": exactly those, grouped by the dimension
            both = {"type": "array", "prefixItems": [{"type": "string", "const": v} for v in compared], "items": False}
            both |= {"minItems": len(compared), "maxItems": len(compared)}  # each once (in the layer's order)
            variants.append(_variant(name, {"type": "string", "enum": ["in"]}, both, ["dimension", "op", "value"]))
            asked = True
        elif values:
            variants.append(_variant(name, op, _choice(values, kind != "text"), ["dimension", "value"]))
            if kind == "text":
                texts.append(variants[-1])
            asked = asked or bool(compared) or (kind == "id" and bool(set(values) & _named_ids(name, seen)))
        ranged = [
            (o, n)
            for o, n, unit in bounds
            if kind in {"number", "listed"} and _in_range(n, listed) and (not unit or unit in seen.words.get(name, ()))
        ]
        if ranged:
            ops = {"type": "string", "enum": list(dict.fromkeys(o for o, _ in ranged))}
            numbers = {"type": "number", "enum": [float(n) for n in dict.fromkeys(n for _, n in ranged)]}
            variants.append(_variant(name, ops, numbers, ["dimension", "op", "value"]))
            bounded.append(variants[-1])
    if not variants:
        return None
    base = {k: v for k, v in spec.items() if k not in {"items", "default", "minItems", "maxItems"}}
    if len(bounded) == 1 and len(variants) == len(bounded) + len(texts) and len(texts) <= 1:
        # The question bounds one dimension's value and names nothing else to filter by: those filters,
        # exactly (a small model left the bound out: "reviews of 3 stars or fewer" counted every review).
        fixed = [*bounded, *(texts if seen.mentions else [])]
        return {
            **base,
            "type": "array",
            "prefixItems": fixed,
            "items": False,
            "minItems": len(fixed),
            "maxItems": len(fixed),
        }
    out = {**base, "type": "array", "items": variants[0] if len(variants) == 1 else {"anyOf": variants}}
    return {**out, "minItems": 1} if asked else out


def _named_ids(name: str, seen: FilterEvidence) -> frozenset[str]:
    """The ids the question names after the key's words ("user 4711")."""
    return entity_ids(seen.question, list(seen.id_words.get(name, ())))


def with_filters(
    schema: dict[str, Any], dimensions: Mapping[str, tuple[str, list[str]]], seen: FilterEvidence
) -> dict[str, Any]:
    """``schema`` with its filters narrowed (none when no dimension has a value named); required where a text
    dimension applies and the question asks text to contain words ("reviews mentioning delivery")."""
    narrowed = _narrow_filters(schema["properties"]["filters"], dimensions, seen)
    if narrowed is None:
        del schema["properties"]["filters"]
        return schema
    schema["properties"]["filters"] = narrowed
    if "prefixItems" in narrowed or narrowed.get("minItems"):  # values the question names, required
        schema["required"] = sorted({*schema.get("required", []), "filters"})
    elif seen.mentions and any(kind == "text" for kind, _ in dimensions.values()):
        narrowed["minItems"] = 1
        schema["required"] = sorted({*schema.get("required", []), "filters"})
    return schema
