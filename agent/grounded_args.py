"""Grounded decoding: each step's argument schemas narrowed to the values the conversation names.

Measured on the dev split with the embedded 1.5B model: a third of the wrong answers came from a filter
nobody asked for (``brand = 'Apple'`` on "the best-selling brand", ``hour_of_day = 12`` on "which
hour", ``user = '77'`` on "which customer"), because the schema let it write any string where a value
goes. A model decoding under a grammar can only write what the grammar allows, so the schema the
grammar is built from (not the one in the prompt, which stays the cacheable prefix) allows, per step:

- an id argument (``user_id``, a filter on a key dimension): the id-like tokens of the conversation
  (the question, earlier questions, the tools' results), and no such tool call at all when there is
  none (find the user first);
- a filter: per dimension only the values the conversation names (``agent.grounded_filters``: listed
  values also by their aliases, "German" for DE; a bounded number with its comparison, "3 stars or fewer");
- no ``filters`` at all when no dimension has a value named;
- the window: only the windows the question names (``warehouse.semantic.windows``), required when it
  names one, none when it names no time (all data);
- the shape (``warehouse.semantic.shape``): the window before only when the question compares (required
  when it names it: "compared with the 30 days before", two adjacent months), a window moved back only
  for "the 7 days before that", a grain only when it names one (any for a trend), and only the dimensions
  it names (grouped by in a ranking), any when a ranking names none, none when it neither names nor ranks;
  a percentile only of a median measure when it names one ("the 90th percentile"), a floor on groups'
  rows when it names one ("brands with at least 30 reviews").

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
from agent.grounded_filters import FilterEvidence, id_tokens, question_numbers, shape_numbers, with_filters
from warehouse.semantic.linking import CJK as _CJK
from warehouse.semantic.linking import stem
from warehouse.semantic.shape import named_values


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
    if shape is not None:  # a number the question bounds by, floors groups at or takes a percentile of is no id
        ids = [i for i in ids if i not in shape_numbers(shape)]
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
        _narrow_units(properties, getattr(model, "session_measures", frozenset()), question)
        _narrow_people(
            properties,
            getattr(model, "event_counts", None) or {},
            getattr(model, "people_counts", frozenset()),
            shape,
            question if latest is None else latest,
        )
        _narrow_ratios(
            properties,
            getattr(model, "share_measures", None) or {},
            getattr(model, "measure_phrases", None) or {},
            set((getattr(model, "only_for", None) or {}).get("base_event", ())),
            question if latest is None else latest,
        )
        _narrow_named(
            properties,
            getattr(model, "measure_phrases", None) or {},
            set((getattr(model, "only_for", None) or {}).get("base_event", ())),
            question if latest is None else latest,
        )
    out["required"] = sorted(required)
    if not dimensions or "filters" not in properties:
        return out
    words: Mapping[str, list[str]] = getattr(model, "dimension_words", None) or {}
    aliases = getattr(model, "value_aliases", None) or {}
    value_words = {
        w.lower()
        for n, (kind, listed) in dimensions.items()
        if kind == "listed"
        for v in named_values(listed, question, aliases.get(n))
        for w in (v, *aliases.get(n, {}).get(v, []))
    }
    seen = FilterEvidence(
        evidence,
        question,
        latest=question if latest is None else latest,
        value_words=frozenset(value_words),
        mentions=shape.mentions if shape is not None else None,
        bounds=shape.bounds if shape is not None else (),
        min_rows=shape.min_rows if shape is not None else None,
        not_ids=shape_numbers(shape) if shape is not None else frozenset(),
        words={n: frozenset(stem(t) for w in ws for t in re.findall(r"\w+", w.lower())) for n, ws in words.items()},
        aliases=aliases,
        id_words={n: tuple(words.get(n, [])) for n, (kind, _) in dimensions.items() if kind == "id"},
    )
    applies: Mapping[str, list[str]] = getattr(model, "measure_dimensions", None) or {}
    only_for: Mapping[str, list[str]] = getattr(model, "only_for", None) or {}
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for measure in (properties.get("measure") or {}).get("enum", []) if applies else []:
        fields = tuple(f for f, measures in only_for.items() if measure in measures)
        groups.setdefault((tuple(applies.get(measure, dimensions)), fields), []).append(measure)
    if not groups:
        return with_filters(out, dimensions, seen)
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
            else:  # each dimension once
                props["dimensions"]["maxItems"] = min(props["dimensions"].get("maxItems", 2), len(items["enum"]))
                if shape is not None and shape.grouped:  # "which category does user 4711 view most": grouped too
                    props["dimensions"]["minItems"] = 1
                    variant["required"] = sorted({*variant.get("required", []), "dimensions"})
        if "dimensions" not in props:  # a floor on groups' rows needs groups
            props.pop("min_rows", None)
        # A rate is of two behaviors: both are part of the call (measured: "conversion rate by device" was
        # called without them, failed, and was sent again the same way).
        events = [f for f in _RATE_EVENTS if f in fields and f in props]
        if len(events) == len(_RATE_EVENTS):
            variant["required"] = sorted({*variant.get("required", []), *events})
        variant["required"] = sorted(r for r in variant.get("required", []) if r in props)
        variant = with_filters(variant, {d: dimensions[d] for d in usable if d in dimensions}, seen)
        if "share_of_all" in variant["required"]:  # the share of which rows: a filter the question names
            if "filters" not in props:
                continue
            props["filters"]["minItems"] = 1
            variant["required"] = sorted({*variant["required"], "filters"})
        variants.append(variant)
    if not variants:  # no measure can be grouped as asked: let the model choose (the compiler explains)
        return with_filters(out, dimensions, seen)
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


_RATE_EVENTS = ("base_event", "target_event")


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
        parts = set(only_for.get("share_of_all", ())) if shape.shares else set()  # a count's share of all rows
        kept = [m for m in measure["enum"] if (shares.get(m, False) or m in parts if shape.shares else m not in rates)]
        if shape.shares and len(shape.behaviors) >= 2:  # a share between two named behaviors is a rate
            kept = [m for m in kept if m in rates] or kept
        elif len(shape.behaviors) == 1 and not (shape.first or shape.next_period) and not _PEOPLE.search(question):
            # one behavior named: no rate between two ("what share of purchases happen on weekends"), unless
            # the share is of people ("the share of each channel's users who purchased": of active users)
            kept = [m for m in kept if m not in rates] or kept
        if kept:
            properties["measure"] = {**measure, "enum": kept}
    if shape.shares:
        only("share_of_all", [True], "boolean")
    else:
        properties.pop("share_of_all", None)
    _narrow_behaviors(properties, shape.behaviors, event_counts or {}, shape.next_period)
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
    if shape.compare is False or not {"last_days", "start", "end"} & set(properties):
        properties.pop("compare_previous", None)  # no comparison asked, or no window to compare with the one before
    elif shape.compare is True:
        only("compare_previous", [True], "boolean")
    if not shape.after:
        properties.pop("target_after", None)
    if shape.negated:  # "users who signed up and were never active": the ones who did not, counted
        only("without", [True], "boolean")
    else:
        properties.pop("without", None)
    if shape.first:
        only("base_first", [True], "boolean")
    else:
        properties.pop("base_first", None)
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


_PEOPLE = re.compile(r"\b(?:users?|customers?|people|shoppers?|visitors?|buyers?)\b|用户|顾客|客户", re.IGNORECASE)
"""Words for people: a share of them is a share of users (a rate), not of events."""
_SESSION_WORDS = re.compile(r"\bsessions?\b|\bvisits?\b|会话|访问", re.IGNORECASE)


def _narrow_units(properties: dict[str, Any], session_measures: frozenset[str], question: str) -> None:
    """Measures per session only for a question naming sessions or visits (measured: "what share of
    purchases happen on weekends" was answered with the share of sessions with a purchase)."""
    measure = properties.get("measure") or {}
    if session_measures and "enum" in measure and not _SESSION_WORDS.search(question):
        kept = [m for m in measure["enum"] if m not in session_measures]
        if kept:
            properties["measure"] = {**measure, "enum": kept}


_COUNTED_PEOPLE = re.compile(
    r"\b(?:how many|number of|count of|(?:the )?(?:most|fewest|least|more|fewer))\s+"
    r"(?:(?!(?:did|do|does|by|of|from|for|per|were|was|are|is|have|has|had)\b)[\w-]+\s+){0,2}?"
    r"(users?|customers?|people|shoppers?|accounts?|members?)\b|(?:多少|几个)(?:名|位|个)?(?:新)?用户|用户(?:数|最多|最少)",
    re.IGNORECASE,
)
"""People as the thing counted ("how many German users", "which country has the most customers", "用户最多")."""
_USER_BASE = re.compile(r"^(?:users?|accounts?|members?)$|用户", re.IGNORECASE)
"""The words for the user base itself: counted over all data they are the users table's rows."""


def _narrow_people(
    properties: dict[str, Any], event_counts: Mapping[str, str], people_counts: Any, shape: Any, question: str
) -> None:
    """A question counting people gets counts of people: of the one behavior it names, the users who did it
    ("how many customers bought electronics": not the purchases); naming none, active users or sign-ups
    (not events, sessions or revenue), and with no time named "users" are the user base itself, every
    registered user (its sign-ups over all data), not those with events ("which country has the most
    users" counts the users table)."""
    measure = properties.get("measure") or {}
    counted = _COUNTED_PEOPLE.search(question)
    if counted is None or "enum" not in measure or shape.shares:
        return
    if len(set(shape.behaviors)) == 1:
        doers = [m for m in measure["enum"] if m in people_counts and event_counts.get(m) == shape.behaviors[0]]
        if doers:
            properties["measure"] = {**measure, "enum": doers}
        return
    if shape.behaviors:
        return
    people = [m for m in measure["enum"] if event_counts.get(m) in {"signup", "active"}]
    windowed = bool({"last_days", "start", "end"} & set(properties))
    if not windowed and _USER_BASE.search(counted.group(1) or counted.group(0)):
        people = [m for m in people if event_counts[m] == "signup"] or people
    if people:
        properties["measure"] = {**measure, "enum": people}


_GENERIC_SHARE_WORDS = frozenset({"share", "rate", "ratio", "avg", "average", "of", "pct", "percent", "percentage"})


def _narrow_ratios(
    properties: dict[str, Any],
    shares: Mapping[str, bool],
    phrases: Mapping[str, list[str]],
    rates: set[str],
    question: str,
) -> None:
    """A measure that is a share of its own (of reviews that are positive, of sessions with a purchase) only
    when the question names what it is a share of, by a word of its name or phrases (measured: "what share
    of purchases happen on weekends" and "the channel with the highest share of its users making a
    purchase" were answered with the share of positive reviews)."""
    measure = properties.get("measure") or {}
    asked = {stem(w) for w in re.findall(r"\w+", question.lower())}

    def named(m: str) -> bool:
        texts = [m.replace("_", " "), *phrases.get(m, ())]
        if any(_CJK.search(t) and t in question for t in texts):
            return True
        words = {stem(w) for t in texts for w in re.findall(r"[a-z]+", t.lower()) if w not in _GENERIC_SHARE_WORDS}
        return bool(words & asked)

    if "enum" not in measure:
        return
    kept = [m for m in measure["enum"] if not shares.get(m) or m in rates or named(m)]
    if kept and len(kept) < len(measure["enum"]):
        properties["measure"] = {**measure, "enum": kept}


def _narrow_named(properties: dict[str, Any], phrases: Mapping[str, list[str]], rates: Any, question: str) -> None:
    """The measures the question names by a phrase of their own ("average order value", "AOV") and the
    rates (their behaviors are read apart), when it names one. Measured: "how did the average order value
    in October compare with September" was answered with the count of orders."""
    measure = properties.get("measure") or {}
    said = {p.lower() for m in measure.get("enum", []) for p in phrases.get(m, ()) if _says(p, question)}
    # a phrase inside a longer one said is not said on its own ("订单" in "平均订单金额", "orders" in "order value")
    said = {p for p in said if not any(p != q and p in q for q in said)}
    named = [m for m in measure.get("enum", []) if any(p.lower() in said for p in phrases.get(m, ()))]
    if named:
        properties["measure"] = {**measure, "enum": [m for m in measure["enum"] if m in named or m in rates]}


def _says(phrase: str, question: str) -> bool:
    """Whether ``question`` holds ``phrase`` as whole words (an acronym in its case; a plural too)."""
    if _CJK.search(phrase):  # Chinese has no word boundaries
        return phrase in question
    pattern = rf"(?<!\w){re.escape(phrase)}s?(?!\w)"
    return re.search(pattern, question, 0 if phrase.isupper() else re.IGNORECASE) is not None


def _narrow_behaviors(
    properties: dict[str, Any], behaviors: tuple[str, ...], event_counts: Mapping[str, str], next_period: bool = False
) -> None:
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
    base, target = behaviors[0], behaviors[1]
    if target == "active" and base not in {"active", "signup"} and not next_period:
        # Users who did an event were active in that window: the share is of the active users who did it
        # ("buy more often ... the share of each group's active users who purchased").
        base, target = target, base
    for field, value in (("base_event", base), ("target_event", target)):
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
