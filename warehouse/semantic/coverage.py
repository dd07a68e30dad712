"""What the data cannot say: a question asking for a quantity no word of the layer or the schema names.

"What's the average age of our buyers?" on a warehouse without an age column: a small model answers from
the nearest measure ("the average rating ... is 3"). The layer knows every word it can answer for (its
measures, dimensions, values, behaviors and synonyms, the schema's tables and columns), so a question
whose asked-for quantity ("the average ___ of", "what's our ___ on") ends in a word none of them has is
answered with "the data has no ___" and no number (also the attribute a "which ___" question ranks, the
thing a measured "time" or "rate" is of, and an action people are counted by). The head of the asked
phrase counts ("customer acquisition cost": cost; of "delivery time", delivery too), and words of statistics and time (percentile, share, week) are always known,
so "the 90th percentile of events per session" still goes to the tools. An operator whose data has the
thing under another name adds that name as a synonym in the layer file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from warehouse.semantic.layer import SemanticLayer
from warehouse.semantic.linking import stem

_AFTER = (
    r"(?=\s+(?:of|on|for|in|per|by|from|across|among|over|during|last|this|at|to|with|between|since|"
    r"was|is|were|are|been|has|have|had|do|does|did|compare[ds]?|differ\w*|vs|versus|look\w*|go\w*|went|"
    r"change[ds]?)\b|\s*[?.!,;]|\s*$)"
)
_OPENERS = r"(?!(?:that|this|these|those|it|he|she|they|we|you|i|there|in|on|at|for|of|to|by|from)\b)"
_PHRASE = rf"({_OPENERS}(?:[a-z][\w'-]*\s+){{0,3}}?[a-z][\w-]*)"
_ASKED = (
    re.compile(rf"(?<!\bon\s)\b(?:average|mean|median|total|typical|overall)\s+{_PHRASE}{_AFTER}", re.IGNORECASE),
    re.compile(
        rf"\bwhat(?:'s|’s|\s+is|\s+was|\s+are|\s+were|\s+will\s+be)\s+(?:the\s+|our\s+|my\s+|its\s+|their\s+)?"
        rf"{_PHRASE}{_AFTER}",
        re.IGNORECASE,
    ),
)
_WHICH = re.compile(rf"\bwhich\s+{_PHRASE}{_AFTER}", re.IGNORECASE)
"""The attribute a ranking asks for ("which discount code was used most"): its words up to a verb, so it
counts as missing only when none of them is known ("which brand brought in": brand)."""
"""The asked-for quantity: "the average ___ of", "what's our ___ on", "what was the ___?"."""
_KNOWN = (
    "number count total sum average mean median percentile quantile share rate ratio percentage percent "
    "proportion fraction amount value change growth difference trend distribution breakdown split top most "
    "best worst highest lowest peak figure metric kpi stat statistic level volume size length duration time "
    "day week month year hour weekday weekend date period window today yesterday range answer reason status "
    "one thing difference lift increase decrease drop rise result list name many much way kind type part "
    "people person customer user shopper visitor buyer member account thing stuff everything anything it "
    "them this that these those which who what when where why how next prediction forecast risk chance "
    "probability likelihood churn action step path funnel cohort retention segment group breakdown "
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday"
).split()
"""Words every question may ask for: statistics, time, people and the analyst's own tools."""
_WORD = re.compile(r"[a-z0-9]+")
_GENERIC = frozenset("time rate value size amount cost length duration score level volume number count".split())
"""Heads that say how something is measured, not what: "the average delivery time" asks for delivery, so
the words before such a head must be known too ("order value", "session length" are)."""
_FUNCTION = frozenset("is are was were be been has have had do does did can could will would should one ones".split())
"""Words after "which" that are no attribute ("which is best rated")."""
_FILLER = frozenset("the our my its their a an per each daily weekly monthly yearly".split())
_DID = re.compile(
    r"\bhow\s+many\s+(?:of\s+(?:our|the)\s+)?(?:users|customers|people|shoppers|visitors|members|buyers|accounts)"
    r"\s+(?:have\s+|had\s+)?([a-z]{3,}ed)\b",
    re.IGNORECASE,
)
"""People counted by what they did ("how many users unsubscribed from the newsletter"): the verb must be a
behavior or another word the data knows."""
_OWN_COSTS = re.compile(
    r"\b(?:we|our\s+(?:company|business|team))\s+(?:spend|spent|pay|paid|invest(?:ed)?)\b|"
    r"\b(?:ad|ads|advertising|marketing|acquisition)\s+(?:spend|spending|budget|costs?)\b",
    re.IGNORECASE,
)
"""The business's own spending ("how much did we spend on ads"): behavior data holds what customers spent."""
_ACTIVITY = frozenset(
    "logged engaged interacted shopped browsed stayed remained used returned acquired based located referred".split()
)
"""Verbs of being active in general (any event answers them) or of where users came from or are."""


def _root(word: str) -> str:
    """``stem`` until it holds still: ratings -> rating -> rat, as rating -> rat."""
    while (shorter := stem(word)) != word:
        word = shorter
    return word


def _stems(texts: Iterable[str]) -> set[str]:
    return {_root(w) for text in texts for w in _WORD.findall(text.lower().replace("_", " "))}


class Coverage:
    """The words one layer (and its schema) can answer for; ``missing`` finds a question's asked-for
    quantity that none of them names."""

    def __init__(self, layer: SemanticLayer, schema_words: Iterable[str] = ()) -> None:
        texts: list[str] = [*_KNOWN, *schema_words]
        for m in layer.measures.values():
            texts += [m.name, m.description, *m.synonyms]
        for d in layer.dimensions.values():
            texts += [d.name, d.column, d.description, *d.synonyms, *d.values]
            texts += [w for words in d.aliases.values() for w in words]
        for name, words in layer.behaviors.items():
            texts += [name, *words]
        texts += layer.event_types
        self.known = _stems(texts)
        self.measure_words = _stems(w for m in layer.measures.values() for w in (m.name, *m.synonyms))
        self.nouns = (
            _stems([*schema_words, *(w for d in layer.dimensions.values() for w in (d.name, d.column, *d.synonyms))])
            | self.measure_words
        )
        """Words naming an attribute or a quantity (not a behavior's verb): what a modifier may modify."""

    def missing(self, question: str) -> str | None:
        """The asked-for phrase whose head word the data has no name for ("profit margin"), else None.
        Questions in Chinese are left to the model (no word boundaries to read the phrase from)."""
        if re.search(r"[\u4e00-\u9fff]", question):
            return None
        for pattern in _ASKED:
            for m in pattern.finditer(question):
                phrase = m.group(1).strip()
                words = _WORD.findall(phrase.lower())
                if not words or words[-1].isdigit():
                    continue
                if _root(words[-1]) not in self.known:
                    return phrase
                if words[-1] in _GENERIC and any(
                    _root(w) not in self.known for w in words[:-1] if w not in _FILLER and not w.isdigit()
                ):
                    return phrase
        for m in _DID.finditer(question):
            verb = m.group(1).lower()
            if verb not in _ACTIVITY and _root(verb) not in self.known:
                return f"{verb} event"
        if _OWN_COSTS.search(question) and "cost" not in self.measure_words:
            return "our own costs (ad or marketing spend)"
        for m in _WHICH.finditer(question):
            phrase = m.group(1).strip()
            words = [w for w in _WORD.findall(phrase.lower()) if not w.isdigit()]
            if words and not any(_root(w) in self.known for w in words):
                return phrase
            # "which gender buys more": the attribute asked for is the word after "which", unknown, and
            # not the modifier of a known attribute ("which acquisition channel")
            if (
                words
                and words[0] not in _FUNCTION
                and _root(words[0]) not in self.known
                and (len(words) == 1 or _root(words[1]) not in self.nouns)
            ):
                return words[0]
        return None
