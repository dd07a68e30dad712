"""Demonstrations: example questions with the call that answers them, generated from the layer, and the
ones nearest a question.

A small model copies the shape of a call it is shown far better than it composes one from a list of
measures (DAIL-SQL, Vanna: retrieved question/query pairs). The static few-shot examples are a dozen
shapes; this bank has one short question per measure and shape the layer can answer (a total, a
grain, a ranking by each dimension that applies, a filter on a listed value, two values compared,
the window before, a text filter, a rate between two behaviors), phrased from the layer's own names,
so an operator's layer file brings its own. The agent shows the nearest few beside a question; the
model still writes the call, and its values and window come from the question.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from warehouse.semantic.layer import ENTITY_ROWS, Dimension, Measure, SemanticLayer
from warehouse.semantic.linking import _WINDOW, Embed, words
from warehouse.semantic.spec import ADDITIVE

logger = logging.getLogger(__name__)

QUERY_TOOL = "query"
GRAINS = ("day", "week", "month")
TEXT_PLACEHOLDER = "<word>"
"""A text filter's value in a demonstration: visibly a slot, so a copied value fails the grounding check."""
ID_PLACEHOLDER = "<user id>"
"""A user id in a demonstration: shown only for a question that names an id to fill it with."""
_ID = re.compile(r"(?<![\w.-])\d{2,}(?![\w.-]|\s*(?:days?|weeks?|months?|years?|hours?|%|st|nd|rd|th)\b)")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")


@dataclass(frozen=True)
class Demonstration:
    """A question and the call that answers it."""

    question: str
    tool: str
    args: dict[str, Any]
    variants: tuple[str, ...] = ()
    """The same question in other words (a dimension's synonyms); it is matched by its nearest wording."""

    def line(self, question: str | None = None) -> str:
        return f"Q: {question or self.question}\nCall: {self.tool} {json.dumps(self.args, ensure_ascii=False)}"

    @property
    def wordings(self) -> tuple[str, ...]:
        return (self.question, *self.variants)

    @property
    def needs_id(self) -> bool:
        return ID_PLACEHOLDER in json.dumps(self.args)


def _noun(measure: Measure) -> str:
    return measure.name.replace("avg_", "average_").replace("_", " ")


def _dimension_noun(dimension: Dimension) -> str:
    return dimension.name.replace("_", " ")


def event_phrases(layer: SemanticLayer) -> dict[str, str]:
    """Per event type, the past-tense phrase of its "users who ..." measure (purchase -> purchased)."""
    out = {}
    for event_type in layer.event_types:
        out[event_type] = f"did {event_type.replace('_', ' ')}"
        for m in layer.measures.values():
            if (
                m.agg == "count_distinct"
                and m.column == "user_id"
                and m.where == f"event_type = '{event_type}'"
                and m.name.startswith("users_who_")
            ):
                out[event_type] = m.name.removeprefix("users_who_").replace("_", " ")
    return out


def _month_window(last_day: date | None) -> tuple[str, dict[str, str]] | None:
    """The last whole calendar month of the data (its name, start and end), for "in <month>" windows."""
    if last_day is None:
        return None
    end = last_day if (last_day + timedelta(days=1)).day == 1 else last_day.replace(day=1) - timedelta(days=1)
    return end.strftime("%B"), {"start": end.replace(day=1).isoformat(), "end": end.isoformat()}


def _measure_demonstrations(layer: SemanticLayer, m: Measure, last_day: date | None) -> Iterable[Demonstration]:
    noun = _noun(m)
    by_user = "user" if "user" in layer.dimensions and layer.applies(m, layer.dimensions["user"]) else None

    def q(question: str, **args: Any) -> Demonstration:
        return Demonstration(question, QUERY_TOOL, {"measure": m.name, **args})

    totals = [
        f"How many {n} in total?" if m.format == "count" else f"What is the {n} overall?" for n in (noun, *m.synonyms)
    ]
    yield Demonstration(totals[0], QUERY_TOOL, {"measure": m.name}, tuple(totals[1:]))
    yield q(f"{noun.capitalize()} in the last 7 days versus the 7 days before?", last_days=7, compare_previous=True)
    month = _month_window(last_day)
    if month is not None:
        yield q(f"{noun.capitalize()} in {month[0]}?", **month[1])
    for grain in GRAINS:
        yield q(f"Which {grain} had the highest {noun}?", grain=grain)
    for d in layer.dimensions.values():
        if d.text or not layer.applies(m, d) or (d.name == "user" and m.column == "user_id"):
            continue  # (distinct users per user is 1)
        ranking = [f"Which {name} has the highest {noun}?" for name in (_dimension_noun(d), *d.synonyms)]
        yield Demonstration(
            ranking[0], QUERY_TOOL, {"measure": m.name, "dimensions": [d.name], "limit": 5}, tuple(ranking[1:])
        )
        if by_user and d.entity in {"items", "time"} and d.name != "item" and m.entity == "events" and m.agg == "count":
            yield q(
                f"Which {_dimension_noun(d)} has the highest {noun} for user {ID_PLACEHOLDER}?",
                dimensions=[d.name],
                limit=5,
                filters=[{"dimension": by_user, "value": ID_PLACEHOLDER}],
            )
        if d.values and d.name != "event_type":
            first = d.values[0]
            yield q(
                f"{noun.capitalize()} for {_dimension_noun(d)} {first}?",
                filters=[{"dimension": d.name, "value": first}],
            )
            if m.agg in ADDITIVE:
                yield q(
                    f"What share of {noun} come from {_dimension_noun(d)} {first}?",
                    share_of_all=True,
                    filters=[{"dimension": d.name, "value": first}],
                )
            if len(d.values) > 1:
                pair = d.values[1]
                yield q(
                    f"{noun.capitalize()}: {first} versus {pair} ({_dimension_noun(d)})?",
                    dimensions=[d.name],
                    filters=[{"dimension": d.name, "op": "in", "value": [first, pair]}],
                )
    if m.agg == "median":
        yield q(f"What is the 90th percentile of {noun.removeprefix('median ')}?", percentile=90)
    if m.agg in {"avg", "median"}:
        floor = next((d for d in layer.dimensions.values() if d.entity == "items" and layer.applies(m, d)), None)
        if floor is not None:
            rows = ENTITY_ROWS.get(m.entity, (m.entity, ""))[0].replace("_", " ")
            yield q(
                f"Among {_dimension_noun(floor)} values with at least 50 {rows}, which has the highest {noun}?",
                dimensions=[floor.name],
                min_rows=50,
                limit=5,
            )
    for d in layer.dimensions.values():
        if d.text and layer.applies(m, d):
            rows = ENTITY_ROWS.get(m.entity, (m.entity, ""))[0]  # scored reviews are reviews
            yield q(
                f"What is the {noun} of {rows} that mention {TEXT_PLACEHOLDER}?",
                filters=[{"dimension": d.name, "op": "contains", "value": TEXT_PLACEHOLDER}],
            )


def _rate_demonstrations(layer: SemanticLayer, m: Measure) -> Iterable[Demonstration]:
    phrases = event_phrases(layer)
    bases = {**phrases, "active": "were active", "signup": "signed up"}
    targets = {**phrases, "active": "were active"}

    def q(question: str, base: str, target: str, **args: Any) -> Demonstration:
        return Demonstration(
            question, QUERY_TOOL, {"measure": m.name, "base_event": base, "target_event": target, **args}
        )

    for base, base_words in bases.items():
        for target, target_words in targets.items():
            if base == target and base != "active":
                continue
            yield q(f"What share of users who {base_words} also {target_words}?", base, target)
            if base not in {"active", "signup"} and target != "active":
                yield q(
                    f"Of the users who {base_words}, what share went on to {target.replace('_', ' ')}?",
                    base,
                    target,
                    target_after=True,
                )
    for event, did in phrases.items():
        yield q(
            f"Of the users who {did} for the first time in the last 30 days, how many {did} again?",
            event,
            event,
            base_first=True,
            last_days=30,
        )
    for grain, days in (("week", 7), ("month", 30)):
        yield q(
            f"Of the users active in a {grain}, what share were active again the next {grain}?",
            "active",
            "active",
            target_window="next",
            last_days=days,
        )
        yield q(
            f"What share of users who signed up in a {grain} were active the {grain} after?",
            "signup",
            "active",
            target_window="next",
            last_days=days,
        )
    for d in layer.dimensions.values():
        if not d.text and d.entity == "users" and d.values and layer.applies(m, d):
            buyer = "purchase" if "purchase" in phrases else next(iter(phrases), "active")
            yield q(
                f"Which {_dimension_noun(d)} has the highest share of its users who "
                f"{targets.get(buyer, 'were active')}?",
                "active",
                buyer,
                dimensions=[d.name],
                limit=5,
            )


def layer_demonstrations(layer: SemanticLayer, last_day: date | None = None) -> list[Demonstration]:
    """The layer file's own examples, then every generated demonstration of the ``query`` tool over
    ``layer``; ``last_day`` (the data's) adds month windows."""
    out = [Demonstration(e.question, e.tool, e.args) for e in layer.examples]
    for m in layer.measures.values():
        out += _rate_demonstrations(layer, m) if m.agg == "rate" else _measure_demonstrations(layer, m, last_day)
    return out


class DemonstrationIndex:
    """The demonstrations nearest a question, by the meaning of their questions (vectors computed once)."""

    def __init__(
        self, demonstrations: list[Demonstration], embed: Embed, *, k: int = 3, min_score: float = 0.45
    ) -> None:
        self.demonstrations = demonstrations
        self._embed: Embed | None = embed
        self.k = k
        self.min_score = min_score
        self._vectors: np.ndarray | None = None
        self._owner = np.zeros(0, dtype=np.int64)
        self._words: list[set[str]] = []

    def _matrix(self) -> np.ndarray | None:
        if self._vectors is None and self._embed is not None and self.demonstrations:
            texts = [w for d in self.demonstrations for w in d.wordings]
            self._owner = np.repeat(np.arange(len(self.demonstrations)), [len(d.wordings) for d in self.demonstrations])
            self._words = [words(t) for t in texts]
            self._vectors = np.asarray(self._embed(texts), dtype=np.float32)
        return self._vectors

    def nearest(self, question: str) -> list[tuple[Demonstration, str]]:
        """Up to ``k`` (demonstration, its wording nearest the question) scoring at least ``min_score``:
        the meaning of the wording plus a third of the share of its words the question uses. One per
        tool, measure and argument names, so the few shown differ. A window phrase is left out of the
        match (windows are the question's own); a demonstration with a user-id slot is eligible only
        when the question names an id. Empty when the embedder cannot run."""
        text = _WINDOW.sub(" ", question)
        asked = words(text)
        try:
            matrix = self._matrix()
            if matrix is None or not asked or self._embed is None:
                return []
            vector = np.asarray(self._embed([text]), dtype=np.float32)[0]
        except Exception as exc:  # noqa: BLE001 - demonstrations are a hint: go on without them
            logger.warning("no demonstrations: the embedder failed (%s: %s)", type(exc).__name__, exc)
            self._embed = None
            return []
        has_id = any(not _YEAR.match(n) for n in _ID.findall(text))
        lexical = np.array([len(asked & w) / len(w) if w else 0.0 for w in self._words], dtype=np.float32)
        slots = np.array([self.demonstrations[o].needs_id for o in self._owner], dtype=np.float32)
        scores = matrix @ vector + lexical / 3 + (0.1 * slots if has_id else 0.0)
        out: list[tuple[Demonstration, str]] = []
        shapes: set[str] = set()
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] < self.min_score or len(out) >= self.k:
                break
            d = self.demonstrations[self._owner[i]]
            shape = f"{d.tool}{d.args.get('measure', '')}" + ",".join(sorted(d.args))
            if shape not in shapes and (has_id or not d.needs_id):
                shapes.add(shape)
                wording = d.wordings[int(i - np.searchsorted(self._owner, self._owner[i]))]
                out.append((d, wording))
        return out

    def describe(self, question: str) -> str:
        """The nearest demonstrations as prompt lines, '' when none."""
        return "\n\n".join(d.line(wording) for d, wording in self.nearest(question))


def demonstration_index(
    layer: SemanticLayer,
    extra: list[Demonstration],
    embed: Embed,
    *,
    last_day: date | None = None,
    accepts: Callable[[Demonstration], bool] = lambda d: True,
    **options: Any,
) -> DemonstrationIndex:
    """The index over the layer's demonstrations and ``extra`` ones (other tools, refusals), keeping those
    ``accepts`` takes (a tool that exists, arguments that validate)."""
    kept = [d for d in [*layer_demonstrations(layer, last_day), *extra] if accepts(d)]
    return DemonstrationIndex(kept, embed, **options)
