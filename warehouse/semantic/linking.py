"""Schema linking: the measures, dimensions and values of the layer closest to a question.

The prompt lists the whole layer; a small model still picks a measure that merely sounds near (the
events count for "median events per session", a day grain for "hour of the day"). Linking ranks the
layer's entries against the question by meaning (sentence embeddings, injected by the caller so this
module needs no model) and by the words of their names, and finds dimension values the question
names. The agent shows the top entries next to the question; the model still chooses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from warehouse.semantic.layer import Dimension, Measure, SemanticLayer

logger = logging.getLogger(__name__)

Embed = Callable[[list[str]], np.ndarray]
"""Texts -> unit-length vectors, one row per text."""

_WORD = re.compile(r"[a-z0-9]+")
_WINDOW = re.compile(
    r"\b(?:(?:the\s+)?(?:last|past|previous|next|first|final|these|those)\s+)?\d+\s+"
    r"(?:days?|weeks?|months?|hours?)(?:\s+(?:before|after|earlier|prior|ago))?\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    "a an and any by did do does each for from had has have how in is it its many much of on or per "
    "the their them they to was were what which who with".split()
)


CJK = re.compile(r"[\u4e00-\u9fff]")
"""A Chinese character: text holding one has no word boundaries to read words by."""


def stem(word: str) -> str:
    """A rough stem of a lower-case word: purchases, purchased, purchase -> purchas; leaking -> leak."""
    for suffix, keep in (
        ("ies", "y"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: len(word) - len(suffix)] + keep
            break
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word


def words(text: str) -> set[str]:
    """Content words of ``text``, lower-cased and roughly stemmed (purchases, purchased, purchase -> purchas)."""
    return {stem(w) for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP}


@dataclass(frozen=True)
class Grain:
    """A time grain of the query spec (one row per period), linked like an entry of the layer."""

    name: str
    description: str
    synonyms: tuple[str, ...] = ()


GRAINS = (
    Grain("day", "one row per day", ("daily",)),
    Grain("week", "one row per week", ("weekly",)),
    Grain("month", "one row per month", ("monthly",)),
)
_GRAIN_WORDS = r"\b(?:{adverb}|(?:per|each|every|by|which|what)\s+{grain})\b"


def _entry_text(entry: Measure | Dimension) -> str:
    synonyms = f" ({', '.join(entry.synonyms)})" if entry.synonyms else ""
    return f"{entry.name.replace('_', ' ')}: {entry.description}{synonyms}"


@dataclass(frozen=True)
class Links:
    """What linking found for one question, best first."""

    measures: list[Measure] = field(default_factory=list)
    dimensions: list[Dimension] = field(default_factory=list)
    values: list[tuple[str, str]] = field(default_factory=list)
    """(dimension, value) pairs the question names."""
    grains: list[Grain] = field(default_factory=list)

    def describe(self) -> str:
        """One line per kind, empty when nothing was found."""
        lines = []
        if self.measures:
            lines.append("measures: " + "; ".join(f"{m.name} ({m.description})" for m in self.measures))
        if self.dimensions:
            lines.append("dimensions: " + "; ".join(f"{d.name} ({d.description})" for d in self.dimensions))
        if self.grains:
            lines.append("grain: " + "; ".join(f"{g.name} ({g.description})" for g in self.grains))
        if self.values:
            lines.append("values: " + "; ".join(f"{d} = {v}" for d, v in self.values))
        return "\n".join(lines)


class Linker:
    """Ranks one layer's entries against questions; the entries' vectors are computed once."""

    def __init__(
        self,
        layer: SemanticLayer,
        embed: Embed | None = None,
        *,
        measures: int = 3,
        dimensions: int = 2,
        min_score: float = 0.35,
    ) -> None:
        self.layer = layer
        self._embed = embed
        self._top = {"measures": measures, "dimensions": dimensions}
        self.min_score = min_score
        self._entries: dict[str, list[Measure | Dimension]] = {
            "measures": list(layer.measures.values()),
            "dimensions": list(layer.dimensions.values()),
        }
        self._words = {kind: [words(e.name) for e in entries] for kind, entries in self._entries.items()}
        self._vectors: dict[str, list[np.ndarray]] | None = None

    def _vectors_of(self) -> dict[str, list[np.ndarray]] | None:
        """Per kind, per entry: the vectors of its description line and of each synonym (an entry scores
        by its best text, so a synonym phrased as users ask is not drowned by a long description)."""
        if self._embed is None:
            return None
        if self._vectors is None:
            self._vectors = {}
            for kind, entries in self._entries.items():
                texts = [[_entry_text(e), *e.synonyms] for e in entries]
                flat = self._embed([t for group in texts for t in group])
                bounds = np.cumsum([0, *(len(g) for g in texts)])
                self._vectors[kind] = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return self._vectors

    def _scores(self, kind: str, asked: set[str], question_vector: np.ndarray | None) -> np.ndarray:
        """Best cosine similarity over the entry's texts (when embeddings are on) plus half the share of
        the entry's name words asked."""
        # the share of the name's words asked, ties going to the name that matches more of them
        lexical = np.array(
            [len(asked & w) / len(w) + 0.05 * len(asked & w) if w else 0.0 for w in self._words[kind]], dtype=np.float32
        )
        vectors = self._vectors_of()
        if vectors is None or question_vector is None:
            return lexical
        return np.array([float((v @ question_vector).max()) for v in vectors[kind]]) + 0.5 * lexical

    def link(self, question: str) -> Links:
        """The top measures and dimensions scoring at least ``min_score``, the grain the question asks
        for in words (daily, per week, which month) and the values it names.

        A time window ("the last 30 days", "the 2 weeks before") is the query's window, not a grain or a
        time dimension, so it is left out of what is linked."""
        text = _WINDOW.sub(" ", question)
        asked = words(text)
        vector = None
        if self._embed is not None and asked:
            try:
                vector = self._embed([text])[0]
            except Exception as exc:  # noqa: BLE001 - linking is a hint: go on by name words alone
                logger.warning(
                    "schema linking without embeddings: the embedder failed (%s: %s)", type(exc).__name__, exc
                )
                self._embed = None
        found: dict[str, list] = {}
        for kind in ("measures", "dimensions"):
            entries = self._entries[kind]
            scores = self._scores(kind, asked, vector)
            order = np.argsort(-scores, kind="stable")[: self._top[kind]]
            found[kind] = [entries[i] for i in order if scores[i] >= self.min_score]
        grains = [
            g for g in GRAINS if re.search(_GRAIN_WORDS.format(adverb=g.synonyms[0], grain=g.name), text, re.IGNORECASE)
        ]
        return Links(
            measures=found["measures"], dimensions=found["dimensions"], values=self._values(question), grains=grains
        )

    def _values(self, question: str) -> list[tuple[str, str]]:
        """Listed dimension values the question names as whole words (short codes only in their case)."""
        out = []
        for dim in self.layer.dimensions.values():
            if dim.name == "event_type":  # event types are measures of their own (purchases, users_who_purchased)
                continue
            for value in dim.values:
                short = len(value) <= 3 and value.isupper()
                pattern = rf"(?<![\w-]){re.escape(value)}(?![\w-])"
                if re.search(pattern, question, flags=0 if short else re.IGNORECASE):
                    out.append((dim.name, value))
        return out
