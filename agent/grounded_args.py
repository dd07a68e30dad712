"""Grounded decoding: each step's argument schemas narrowed to the values the conversation names.

Measured on the dev split with the embedded 1.5B model: a third of the wrong answers came from a filter
nobody asked for (``brand = 'Apple'`` on "the best-selling brand", ``hour_of_day = 12`` on "which
hour", ``user = '77'`` on "which customer"), because the schema let it write any string where a value
goes. A model decoding under a grammar can only write what the grammar allows, so the schema the
grammar is built from (not the one in the prompt, which stays the cacheable prefix) allows, per step:

- an id argument (``user_id``, a filter on a key dimension): the id-like tokens of the conversation
  (the question, earlier questions, the tools' results), and no such tool call at all when there is
  none (find the user first);
- a filter on a dimension with listed values: the listed values the conversation names;
  on free text (review text): the question's words; on a number (hour of day, weekday): the question's
  numbers; on another dimension: the question's names, quoted phrases and numbers;
- no ``filters`` at all when no dimension has a value named;
- the window: only the windows the question names (``warehouse.semantic.windows``), required when it
  names one, none when it names no time (all data);
- the shape (``warehouse.semantic.shape``): the window before only when the question compares (required
  when it names it: "compared with the 30 days before", two adjacent months), a window moved back only
  for "the 7 days before that", a grain only when it names one (any for a trend), and only the dimensions
  it names (grouped by in a ranking), any when a ranking names none, none when it neither names nor ranks.

The args models say which fields these are (``id_fields``, ``filter_dimensions``); the tool runner's
check (``agent.tool_runner``) still sends back an ungrounded id from any backend.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from agent._grammar import inline_refs
from warehouse.semantic.shape import named_values

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


def _narrow_filters(
    spec: dict[str, Any],
    dimensions: Mapping[str, tuple[str, list[str]]],
    evidence: str,
    question: str,
    mentions: tuple[str, ...] | None = None,
    shape: Any = None,
    entity_ids: frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    """The ``filters`` property allowing, per dimension, only the values the conversation names; None
    when no dimension has one. A number the question bounds ("3 stars or fewer") is offered with its
    comparison on the dimensions whose values it falls among, not as a value; an id the question names
    after an entity ("user 1234") only on that entity's key."""
    items = spec.get("items") or {}
    op = (items.get("properties") or {}).get("op", {"type": "string"})
    bounds = [(o, n) for o, n in (shape.bounds if shape is not None else ()) if o != "eq"]
    bounded = {n for _, n in bounds} | ({str(shape.min_rows)} if shape is not None and shape.min_rows else set())
    variants = []
    for name, (kind, listed) in dimensions.items():
        values = (
            id_tokens(evidence)
            if kind == "id"
            else _text_values(question, mentions)
            if kind == "text"
            else question_numbers(question)
            if kind == "number"
            else named_values(listed, evidence)
            if listed
            else question_tokens(question)
        )
        if kind not in {"id", "text"}:
            values = [v for v in values if v not in entity_ids and v not in bounded]
        if values:
            variants.append(
                {
                    "type": "object",
                    "properties": {"dimension": {"const": name}, "op": op, "value": _choice(values, kind != "text")},
                    "required": ["dimension", "value"],
                    "additionalProperties": False,
                }
            )
        ranged = [(o, n) for o, n in bounds if kind in {"number", "listed"} and _in_range(n, listed)]
        if ranged:
            variants.append(
                {
                    "type": "object",
                    "properties": {
                        "dimension": {"const": name},
                        "op": {"type": "string", "enum": list(dict.fromkeys(o for o, _ in ranged))},
                        "value": {"type": "number", "enum": [float(n) for n in dict.fromkeys(n for _, n in ranged)]},
                    },
                    "required": ["dimension", "op", "value"],
                    "additionalProperties": False,
                }
            )
    if not variants:
        return None
    return {
        **{k: v for k, v in spec.items() if k not in {"items", "default"}},
        "type": "array",
        "items": variants[0] if len(variants) == 1 else {"anyOf": variants},
    }


def grounded_parameters(
    parameters: dict[str, Any], model: Any, evidence: str, question: str, latest: str | None = None
) -> dict[str, Any] | None:
    """``parameters`` (a tool's JSON schema) narrowed for one step; None when the tool cannot be called
    yet (a required id that the conversation does not name). With ``measure_dimensions`` (a query spec)
    the schema is one variant per group of measures sharing the dimensions that apply to them and the
    fields that mean something for them (``only_for``: a rate's events), so a dimension or a field is
    only offered with a measure it applies to."""
    id_fields: tuple[str, ...] = getattr(model, "id_fields", ())
    dimensions: Mapping[str, tuple[str, list[str]]] | None = getattr(model, "filter_dimensions", None)
    if not id_fields and not dimensions:
        return parameters
    out = copy.deepcopy(inline_refs(parameters))
    properties: dict[str, Any] = out.setdefault("properties", {})
    required = set(out.get("required", []))
    ids = id_tokens(evidence)
    for field in id_fields:
        if field not in properties:
            continue
        if ids:
            properties[field] = {"type": "string", "enum": ids, "description": properties[field].get("description", "")}
        elif field in required:
            return None
        else:
            del properties[field]
    shape_of = getattr(model, "shape_choices", None)
    shape = shape_of(question, question if latest is None else latest) if callable(shape_of) else None
    shape = _narrow_window(properties, required, getattr(model, "window_choices", None), question, latest, shape)
    if shape is not None:
        _narrow_shape(
            properties,
            required,
            shape,
            getattr(model, "share_measures", None) or {},
            getattr(model, "only_for", None) or {},
            question if latest is None else latest,
            getattr(model, "event_counts", None) or {},
        )
    out["required"] = sorted(required)
    if not dimensions or "filters" not in properties:
        return out
    mentions = shape.mentions if shape is not None else None
    words: Mapping[str, list[str]] = getattr(model, "dimension_words", None) or {}
    named_ids = entity_ids(
        question, [w for n, (kind, _) in dimensions.items() if kind == "id" for w in words.get(n, [])]
    )
    applies: Mapping[str, list[str]] = getattr(model, "measure_dimensions", None) or {}
    only_for: Mapping[str, list[str]] = getattr(model, "only_for", None) or {}
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for measure in (properties.get("measure") or {}).get("enum", []) if applies else []:
        fields = tuple(f for f, measures in only_for.items() if measure in measures)
        groups.setdefault((tuple(applies.get(measure, dimensions)), fields), []).append(measure)
    if not groups:
        return _with_filters(out, dimensions, evidence, question, mentions, shape, named_ids)
    variants = []
    for (usable, fields), measures in groups.items():
        variant = copy.deepcopy(out)
        props = variant["properties"]
        for field in set(only_for) - set(fields):  # a rate's events only with a rate
            props.pop(field, None)
        props["measure"] = {**props["measure"], "enum": measures}
        items = (props.get("dimensions") or {}).get("items") or {}
        if "enum" in items:
            named = shape.dimensions if shape is not None else None
            items["enum"] = [d for d in items["enum"] if d in usable and (named is None or d in named)]
            if not items["enum"] and shape is not None and shape.grouped and not ids:
                continue  # the question groups by a dimension these measures cannot be grouped by
            if not items["enum"]:
                del props["dimensions"]
                for field in ("order", "limit"):  # they order and cut groups: none without a dimension
                    props.pop(field, None)
            elif shape is not None and shape.grouped and not ids:  # one user's breakdown may also be a lookup
                props["dimensions"]["minItems"] = 1
                variant["required"] = sorted({*variant.get("required", []), "dimensions"})
        if "dimensions" not in props:  # a floor on groups' rows needs groups
            props.pop("min_rows", None)
        variant["required"] = sorted(r for r in variant.get("required", []) if r in props)
        variants.append(
            _with_filters(
                variant,
                {d: dimensions[d] for d in usable if d in dimensions},
                evidence,
                question,
                mentions,
                shape,
                named_ids,
            )
        )
    if not variants:  # no measure can be grouped as asked: let the model choose (the compiler explains)
        return _with_filters(out, dimensions, evidence, question, mentions, shape, named_ids)
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


def _narrow_window(
    properties: dict[str, Any], required: set[str], choices_of: Any, question: str, latest: str | None, shape: Any
) -> Any:
    """The window fields (``last_days``, ``start``/``end``) allowing only the windows the question names,
    and one of them required when it names only one kind; none when it names no time. Two adjacent
    windows the last question compares ("October compared with September") are the later one and the
    window before; returns ``shape``, then asking for the window before."""
    if not callable(choices_of) or "last_days" not in properties:
        return shape
    choices = choices_of(question)
    if choices is None:
        return shape
    last = choices if latest is None or latest == question else choices_of(latest)
    if shape is not None and shape.compare is not False and last is not None and _adjacent(last.spans):
        choices = replace(choices, spans=[max(last.spans, key=lambda span: span[1])])
        shape = replace(shape, compare=True)
    elif shape is not None and last is not None and _adjacent(last.spans):
        # two adjacent windows, no comparison: the second is the period after ("active in September and
        # also in October"), a rate's target_window; the window is the first
        choices = replace(choices, spans=[min(last.spans, key=lambda span: span[0])])
        shape = replace(shape, next_period=True, two_windows=True)
    for name, values in (
        ("last_days", choices.last_days),
        ("start", [a for a, _ in choices.spans]),
        ("end", [b for _, b in choices.spans]),
    ):
        if name not in properties:
            continue
        if not values:
            del properties[name]
            continue
        kind = "integer" if name == "last_days" else "string"
        properties[name] = {
            "type": kind,
            "enum": list(dict.fromkeys(values)),
            "description": properties[name].get("description", ""),
        }
    if choices.last_days and not choices.spans:
        required.add("last_days")
    elif choices.spans and not choices.last_days:
        required.update({"start", "end"})
    return shape


def _adjacent(spans: list[tuple[str, str]]) -> bool:
    """Two windows, one just before the other (a day apart)."""
    if len(spans) != 2:
        return False
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    return (date.fromisoformat(b_start) - date.fromisoformat(a_end)).days == 1


def _narrow_shape(
    properties: dict[str, Any],
    required: set[str],
    shape: Any,
    shares: Mapping[str, bool],
    only_for: Mapping[str, list[str]],
    question: str,
    event_counts: Mapping[str, str] | None = None,
) -> None:
    """``compare_previous``, ``periods_back``, ``grain`` and the measures as the question's shape allows
    them: only shares when it asks for one, no rate between behaviors when it asks for none; of the counts
    of one event type only the named behaviors' ones, and a rate's base and target in the question's order."""

    def only(name: str, values: list[Any], kind: str) -> None:
        if name in properties:
            properties[name] = {"type": kind, "enum": values, "description": properties[name].get("description", "")}
            required.add(name)

    measure = properties.get("measure") or {}
    if shares and "enum" in measure and shape.shares is not None:
        rates = set(only_for.get("base_event", ()))
        kept = [m for m in measure["enum"] if (shares.get(m, False) if shape.shares else m not in rates)]
        if shape.shares and len(set(shape.behaviors)) >= 2:  # a share between two named behaviors is a rate
            kept = [m for m in kept if m in rates] or kept
        if kept:
            properties["measure"] = {**measure, "enum": kept}
    _narrow_behaviors(properties, shape.behaviors, event_counts or {})
    medians = list(only_for.get("percentile", ()))
    measure = properties.get("measure") or {}
    if shape.percentile is not None and "percentile" in properties and set(medians) & set(measure.get("enum", [])):
        properties["measure"] = {**measure, "enum": [m for m in measure["enum"] if m in medians]}
        only("percentile", [shape.percentile], "integer")
    else:
        properties.pop("percentile", None)
    if shape.min_rows and shape.grouped:
        only("min_rows", [shape.min_rows], "integer")
    else:
        properties.pop("min_rows", None)

    if "limit" in properties:  # a grammar does not bound a number: the usual sizes and the question's own
        sizes = {1, 3, 5, 10, 20, 50, 100, 200} | {
            int(n) for n in question_numbers(question) if n.isdigit() and 1 <= int(n) <= 200
        }
        properties["limit"] = {
            "type": "integer",
            "enum": sorted(sizes),
            "description": properties["limit"].get("description", ""),
        }
    if shape.compare is False:
        properties.pop("compare_previous", None)
    elif shape.compare is True:
        only("compare_previous", [True], "boolean")
    if not shape.after:
        properties.pop("target_after", None)
    if not shape.next_period:
        properties.pop("target_window", None)
    elif shape.two_windows:
        only("target_window", ["next"], "string")
    if shape.periods_back:
        only("periods_back", [1], "integer")
    else:
        properties.pop("periods_back", None)
    if shape.grains == []:
        properties.pop("grain", None)
    elif shape.grains is not None:
        only("grain", list(shape.grains), "string")


def _narrow_behaviors(properties: dict[str, Any], behaviors: tuple[str, ...], event_counts: Mapping[str, str]) -> None:
    """Counts of event types the question does not name left out ("the most add-to-carts" is no count of
    views), and with two behaviors named the first is a rate's base, the next its target ("of the users who
    favorited, the share who purchased")."""
    measure = properties.get("measure") or {}
    named = set(behaviors) & set(event_counts.values())
    if named and "enum" in measure:
        kept = [m for m in measure["enum"] if m not in event_counts or event_counts[m] in named]
        properties["measure"] = {**measure, "enum": kept}
    if len(behaviors) < 2:
        return
    for field, value in (("base_event", behaviors[0]), ("target_event", behaviors[1])):
        allowed = _enum_of(properties.get(field))
        if value in allowed:
            properties[field] = {
                "type": "string",
                "enum": [value],
                "description": properties[field].get("description", ""),
            }


def _enum_of(schema: Any) -> list[Any]:
    """The values an (optional) enum property allows."""
    if not isinstance(schema, dict):
        return []
    if "enum" in schema:
        return list(schema["enum"])
    return [v for option in schema.get("anyOf", []) for v in _enum_of(option)]


def _with_filters(
    schema: dict[str, Any],
    dimensions: Mapping[str, tuple[str, list[str]]],
    evidence: str,
    question: str,
    mentions: tuple[str, ...] | None = None,
    shape: Any = None,
    ids: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``schema`` with its filters narrowed; required where a text dimension applies and the question asks
    text to contain words ("reviews mentioning delivery")."""
    narrowed = _narrow_filters(schema["properties"]["filters"], dimensions, evidence, question, mentions, shape, ids)
    if narrowed is None:
        del schema["properties"]["filters"]
        return schema
    schema["properties"]["filters"] = narrowed
    if mentions and any(kind == "text" for kind, _ in dimensions.values()):
        narrowed["minItems"] = 1
        schema["required"] = sorted({*schema.get("required", []), "filters"})
    return schema


def grounded_tools(
    tools: list[dict[str, Any]], models: Mapping[str, Any], evidence: str, question: str, latest: str | None = None
) -> list[dict[str, Any]]:
    """OpenAI-format ``tools`` with each one's parameters narrowed for this step (``grounded_parameters``);
    a tool that cannot be called yet is left out. ``models``: tool name -> its args model (or None);
    ``evidence``: the thread's questions and tool results; ``question``: the thread's questions (a
    follow-up keeps the windows and words of the questions before it); ``latest``: its last question
    (whether it asks for the window before, or moves the window back)."""
    out = []
    for tool in tools:
        function = tool["function"]
        model = models.get(function["name"])
        parameters = function.get("parameters")
        if model is None or parameters is None:
            out.append(tool)
            continue
        narrowed = grounded_parameters(parameters, model, evidence, question, latest)
        if narrowed is not None:
            out.append({**tool, "function": {**function, "parameters": narrowed}})
    return out
