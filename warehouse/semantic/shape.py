"""What a question says of a query's shape besides its window: a comparison with the window before, a
window moved back, a time grain, the dimensions it groups by, whether it asks for a share.

"How did revenue in the last 30 days compare with the 30 days before?" asks for ``compare_previous``;
"and the 7 days before that?" moves the last window back (``periods_back``); "per week", "which month",
"daily", "trend" ask for a grain, and a question naming none wants one number; "which category",
"by country", "who", two named values of one dimension ("desktop and mobile") name the dimensions to group
by, and a ranking that names none ("what sells best?") leaves the choice open; "what share of", "as a
percentage", "conversion" ask for a share measure, "how many of those went on to" allows one, and a
question with neither wants no rate. The agent narrows the
embedded model's grammar to these choices (``agent.grounded_args``) the way it narrows the window
(``warehouse.semantic.windows``): the shape comes from the question, the model chooses within it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from warehouse.semantic.bounds import bounds_named, percentile_named
from warehouse.semantic.linking import CJK as _CJK
from warehouse.semantic.linking import stem
from warehouse.semantic.windows import months_named

_UNIT = (
    r"(?:\d+\s+|(?:one|two|three|four|five|six|seven|ten|fourteen|thirty)\s+)?(?:days?|weeks?|months?|period|fortnight)"
)
_COMPARE = re.compile(
    r"\b(?:compared?|comparing|comparison|vs\.?|versus|against|relative\s+to|than|change[ds]?|changing|go(?:ne)?\s+"
    r"(?:up|down)|went\s+(?:up|down)|grow(?:n|th)?|grew|increased?|decreased?|drop(?:ped)?|rise|rose|fell|fall(?:en)?|"
    r"over\s+the\s+(?:previous|prior)|higher|lower|bigger|smaller|greater|better|worse)\b|"
    r"环比|相比|比较|对比|增长|下降|变化|更高|更低|更多|更少",
    re.IGNORECASE,
)
_BEFORE = r"(?:before|prior|previous|preceding|earlier)"
_PREVIOUS = re.compile(
    rf"\b(?:{_UNIT})\s+{_BEFORE}\b|\b(?:the\s+)?{_BEFORE}\s+(?:{_UNIT})\b|\b(?:week|month)\s+over\s+(?:week|month)\b|"
    r"之前|前一|上一|上个",
    re.IGNORECASE,
)
"""The window just before another: "the 30 days before", "the previous week", "week over week"."""
_MOVED_BACK = re.compile(rf"\b(?:{_UNIT})\s+{_BEFORE}(?:\s+(?:that|it|this|then))?\b|之前|前一", re.IGNORECASE)
_SUPERLATIVE = (
    r"\b(?:best|worst|busiest|quietest|slowest|strongest|weakest|peak|top|biggest|highest[\w-]*|"
    r"lowest[\w-]*|most[\w-]*)\s+(?:[\w-]+\s+)?"
)
"""A superlative before a grain ("the highest-revenue day", "our best week") asks for that grain."""
_GRAINS = {
    "day": re.compile(
        _SUPERLATIVE
        + r"day\b(?!\s+of)|\b(?:daily|day\s+by\s+day|(?:per|each|every|by|a|which|what|busiest|best|worst)\s+day"
        r"(?!\s+of\s+(?:the\s+)?week)(?!s?\s+(?:ago|before))|on\s+which\s+day(?!\s+of))\b|每天|每日|按天|按日|哪天|哪一天",
        re.IGNORECASE,
    ),
    "week": re.compile(
        _SUPERLATIVE
        + r"week\b(?!\s+of)|\b(?:weekly|week\s+(?:by|over)\s+week|(?:per|each|every|by|a|which|what|busiest|best|worst)"
        r"\s+week(?!\s+of\b))\b|每周|按周|哪周|哪一周",
        re.IGNORECASE,
    ),
    "month": re.compile(
        _SUPERLATIVE
        + r"month\b|\b(?:monthly|month\s+(?:by|over)\s+month|(?:per|each|every|by|a|which|what|busiest|best|"
        r"worst)\s+month)\b|每月|按月|哪个月|哪一个月",
        re.IGNORECASE,
    ),
}
_ANY_GRAIN = re.compile(
    r"\b(?:trends?|trending|over\s+time|time\s+series|timeline|evolv\w*|history)\b|趋势|走势", re.IGNORECASE
)
_RANKING = re.compile(
    r"\b(?:which|top|most|best|worst|highest|lowest|(?<!at\s)least|rank\w*|breakdown|break\s+down|split|"
    r"segment\w*|leading|biggest|largest|smallest|across|among|between)\b|哪|最|排名|排行|各|按",
    re.IGNORECASE,
)
"""A ranking or breakdown: a dimension its words name is grouped by; with none named, the model chooses."""
_WITH = frozenset({"with", "who", "that", "whose"})
_SUPERLATIVE_WORDS = frozenset(
    {
        "most",
        "highest",
        "largest",
        "biggest",
        "fewest",
        "least",
        "lowest",
        "top",
        "best",
        "worst",
        "widest",
        "longest",
        "shortest",
    }
)
_HEAD_CUES = {
    **{"which": 2, "what": 0, "top": 2, "each": 1, "per": 1, "by": 1, "every": 1, "across": 2, "among": 2},
    **{"哪": 2, "每": 1, "各": 1, "按": 0},  # 哪个品类, 每个渠道, 各国家, 按设备
}
"""Words after which a ranking names what it ranks, and how many other words may come between."""
_WHO = re.compile(r"(?:^|[.?!,;:(—–-]\s*|\band\s+)(?:who|whom|whose)\b|\bwhoever\b|谁", re.IGNORECASE)
"""A question about a person ("Who wrote the most reviews?", "find whoever spent most"), not the relative
"who" of "users who searched"."""
_SHARE = re.compile(
    r"\b(?:share|percent(?:age)?|fraction|proportion|ratio|rate)\s+of\b|(?<!by\s)\bwhat\s+(?:share|percent(?:age)?|"
    r"fraction|proportion)\b|\bas\s+an?\s+(?:share|percentage|fraction|rate)\b|\bconver(?:sion|t\w*)\b|"
    r"\b(?:return|repeat|retention)\s+rate\b|%\s+of\b|比例|占比|转化率|百分比",
    re.IGNORECASE,
)
"""A share of users or rows asked for: only measures that are shares (a rate between two behaviors, a ratio)."""
_SUBSET = re.compile(
    r"\bhow\s+many\s+of\b|\bof\s+(?:the|those|these|all)\s+(?:\w+\s+){0,2}who\b|\bwho\s+also\b|"
    r"\bwent\s+on\s+to\b|\bcame\s+back\b|\bagain\b|其中|之后|后来",
    re.IGNORECASE,
)
"""Users of one behavior counted by another ("how many of those went on to buy"): a rate may say it."""
_NEGATED = re.compile(
    r"\b(?:no|never|not|without|none|haven't|hasn't|didn't|don't|doesn't|have\s+not|has\s+not|did\s+not)\b|"
    r"没有|从未|从没|未",
    re.IGNORECASE,
)
"""Users of one behavior who did not do another ("registered users with no activity")."""
_AFTER = re.compile(
    r"\b(?:went\s+on|go\s+on|goes\s+on|later|after(?:wards)?|then|subsequently|eventually|"
    r"following\s+up|之后|后来|随后)\b|之后|后来|随后",
    re.IGNORECASE,
)
"""The target behavior after the base one ("went on to buy"), not merely also ("also bought")."""
_NEXT_PERIOD = re.compile(
    r"\b(?:next|following|subsequent)\s+(?:week|month|period|\d+\s+days)\b|\bcame\s+back|\bcome\s+back|"
    r"\breturn(?:ed|ing)?\b|\bagain\b|\bretain\w*|\bstill\s+active|下周|下个月|次周|次月|回访|留存",
    re.IGNORECASE,
)
"""The target behavior in the period right after the window ("came back the next week")."""
_FIRST = re.compile(
    r"\bfirst(?:[\s-]+ever|[\s-]+time)\b|\bfor\s+the\s+first\s+time\b|\bnew\s+(?:buyers|purchasers|reviewers)\b|"
    r"首次|第一次",
    re.IGNORECASE,
)
"""A cohort of users doing the base behavior for the first time ("first ever purchase", "first-time buyers")."""
_TOKEN = re.compile(r"[\u4e00-\u9fff]|[^\W_\u4e00-\u9fff]+", re.UNICODE)
"""A word, or one Chinese character (Chinese has no spaces: its words are runs of these tokens)."""
_MENTION = re.compile(
    r"(?<!how\s)(?<!what\s)\b(?:mention(?:s|ed|ing)?|brought\s+up|br(?:ing|ings|inging)\s+up|contain(?:s|ed|ing)?|"
    r"talk(?:s|ed|ing)?\s+about|complain(?:s|ed|ing)?\s+about|say(?:s|ing)?\s+about|said\s+about|about|"
    r"referr?(?:ing|ed)?\s+to|regarding|with\s+the\s+words?)\s+(?:the\s+words?\s+)?(?:an?\s+|the\s+|their\s+|our\s+|its\s+)?"
    r"([^\W\d_][\w-]*)(?:\s+([^\W\d_][\w-]*))?",
    re.IGNORECASE,
)
"""Text asked to contain words: "mention delivery", "brought up the packaging", "complain about sizing"."""
_QUOTED = re.compile(r"[\"“'‘]([^\"”'’]{1,40})[\"”'’]")
_NOT_MENTIONED = frozenset(
    "it them this that those these what which how in on of for last past most more less least all any anything "
    "something each every".split()
)


@dataclass(frozen=True)
class ShapeChoices:
    """The shape a question allows. ``compare``: True when it asks for the window before beside its own,
    None when it may (a change, a comparison), False when it does not; ``periods_back``: it asks for a
    window moved back; ``grains``: the grains it names, None for any (a trend); ``dimensions``: the ones it
    names, None for any (a ranking naming none), [] for none."""

    compare: bool | None = False
    periods_back: bool = False
    grains: list[str] | None = None
    dimensions: list[str] | None = None
    grouped: bool = False
    """The named dimensions are to be grouped by (a ranking naming them, or two values of one)."""
    after: bool = False
    """It asks for a behavior after another ("went on to", "later"): a rate's ``target_after``."""
    next_period: bool = False
    """It asks for the period after the window ("came back the next week"): a rate's ``target_window``."""
    shares: bool | None = False
    """True: it asks for a share (only share measures); None: it may (a rate between behaviors can say it);
    False: it asks for no share (no rate measures)."""
    behaviors: tuple[str, ...] = ()
    """The behaviors it names, in its order ("users who searched went on to buy": search, purchase): a rate's
    base comes first and its target after; only the named event types' counts are offered."""
    mentions: tuple[str, ...] = ()
    """The words it asks text to contain ("reviews that mention delivery", "containing 'size'")."""
    first: bool = False
    """It asks for users doing the base behavior for the first time: a rate's ``base_first``."""
    two_windows: bool = False
    """It names two adjacent windows without comparing them: the second is the period after the first."""
    negated: bool = False
    """It asks for users of one behavior who did not do another ("registered users with no activity"): a
    rate's ``without``."""
    percentile: int | None = None
    """The percentile it asks for instead of a median ("the 90th percentile": 90); None when it asks none."""
    bounds: tuple[tuple[str, str, str], ...] = ()
    """The comparisons it bounds a value by: (op, number, what it counts) ("3 stars or fewer": ("lte", "3",
    "star")); a bound counting something applies to the dimensions that word names."""
    min_rows: int | None = None
    """The rows each group of a ranking needs at least ("brands with at least 30 reviews": 30)."""


def _stems(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower().replace("_", " "))]


def _contains(haystack: list[str], phrase: list[str]) -> int:
    """Where ``phrase`` (stems) occurs in ``haystack`` (stems), or -1."""
    n = len(phrase)
    return next((i for i in range(len(haystack) - n + 1) if phrase and haystack[i : i + n] == phrase), -1)


def _strip(haystack: list[str], phrases: list[list[str]]) -> list[str]:
    """``haystack`` with every occurrence of the phrases (longest first) blanked out."""
    out = list(haystack)
    for phrase in sorted(phrases, key=len, reverse=True):
        while (i := _contains(out, phrase)) >= 0:
            out[i : i + len(phrase)] = [""] * len(phrase)
    return out


def named_values(values: list[str], text: str, aliases: Mapping[str, list[str]] | None = None) -> list[str]:
    """The listed ``values`` that ``text`` names as whole words (short upper-case codes only in their case:
    "US", not "us"), or by one of their ``aliases`` ("Germany", "German", "德国" for DE)."""
    out = []
    for value in values:
        short = len(value) <= 3 and value.isupper()
        for form in dict.fromkeys([value, value.replace("_", " ")]):  # paid_search: "paid search" too
            if re.search(rf"(?<![\w-]){re.escape(form)}(?![\w-])", text, flags=0 if short else re.IGNORECASE):
                out.append(value)
    aliased = aliased_values(values, text, aliases)
    return [v for v in values if v in out or v in aliased]


def aliased_values(values: list[str], text: str, aliases: Mapping[str, list[str]] | None) -> list[str]:
    """The ``values`` that ``text`` names by one of their ``aliases`` ("weekends": 0 and 6 of a weekday)."""
    return [v for v in values if any(_names(alias, text) for alias in (aliases or {}).get(v, []))]


def _names(alias: str, text: str) -> bool:
    if _CJK.search(alias):
        return alias in text
    return re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", text, re.IGNORECASE) is not None


def _occurrences(stems: list[str], dimension_words: Mapping[str, list[str]]) -> list[tuple[int, int, str]]:
    """Where each dimension's words occur: (first token, last token, dimension), in question order."""
    found = []
    for name, words in dimension_words.items():
        for phrase in (_stems(w) for w in words):
            n = len(phrase)
            found += [(i, i + n - 1, name) for i in range(len(stems) - n + 1) if phrase and stems[i : i + n] == phrase]
    return sorted(set(found))


def _heads(raw: list[str], found: list[tuple[int, int, str]]) -> list[str]:
    """The dimensions a ranking's question words point at ("which acquisition channel", "top brands",
    "what category"): the first dimension words after the cue; of a compound ("product category") the last."""
    heads = [
        name
        for first, last, name in found  # "the customer with the most orders", "the user who ... most"
        if raw[last + 1 : last + 2] and raw[last + 1] in _WITH and _SUPERLATIVE_WORDS & set(raw[last + 2 : last + 6])
    ]
    for c, token in enumerate(raw):
        reach = _HEAD_CUES.get(token)
        if reach is None:
            continue
        after = [o for o in found if c < o[0] <= c + 1 + reach]
        if not after:
            continue
        run = after[0]
        while more := [o for o in found if o[0] == run[1] + 1]:
            run = more[0]
        heads.append(run[2])
    return list(dict.fromkeys(heads))


def named_dimensions(
    question: str,
    dimension_words: Mapping[str, list[str]],
    measure_words: list[str],
    listed: Mapping[str, list[str]],
    people: str | None = None,
    aliases: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """The dimensions ``question`` names: as what it asks about (the head of its question words:
    "which shopper", "what category", or "who" for ``people``, the users' key dimension); by a word (name,
    column, synonym) elsewhere, outside a measure's words ("users" in "active users" is the measure) and
    not modifying the next word ("product" in "product category"); by two of their listed values
    ("desktop and mobile")."""
    raw = _TOKEN.findall(question.lower().replace("_", " "))
    # a dimension word inside a measure's phrase names no group ("sessions per user": a measure, not by user)
    phrases = [_stems(w) for w in measure_words if " " in w]
    heads = _heads(raw, _occurrences(_strip([stem(t) for t in raw], phrases), dimension_words))
    if people and _WHO.search(question) and people not in heads:
        heads.append(people)
    found = _occurrences(_strip(_stems(question), [_stems(w) for w in measure_words]), dimension_words)
    starts = {o[0] for o in found}
    words = [n for n in dict.fromkeys(name for first, last, name in found if last + 1 not in starts) if n not in heads]
    by_values = [
        name for name, values in listed.items() if len(named_values(values, question, (aliases or {}).get(name))) >= 2
    ]
    return heads, words, by_values


def named_behaviors(question: str, behavior_words: Mapping[str, list[str]]) -> list[str]:
    """The behaviors ``question`` names, in its order, once per mention ("active in September, also active
    in October": active, active); of overlapping words the longest ("left a review", not "review")."""
    stems = _stems(question)
    found: list[tuple[int, int, str]] = []
    for name, words in behavior_words.items():
        for word in words:
            if _CJK.search(word):
                found += [(m.start() + 10_000, m.end() + 10_000, name) for m in re.finditer(re.escape(word), question)]
                continue
            phrase = _stems(word)
            n = len(phrase)
            found += [(i, i + n, name) for i in range(len(stems) - n + 1) if phrase and stems[i : i + n] == phrase]
    kept: list[tuple[int, int, str]] = []
    for start, end, name in sorted(found, key=lambda o: (o[0], o[0] - o[1])):
        if not any(a <= start < b for a, b, _ in kept):
            kept.append((start, end, name))
    return [name for _, _, name in kept]


def _without_values(text: str, listed: Mapping[str, list[str]], behavior_words: Mapping[str, list[str]]) -> str:
    """``text`` with the listed values of several words blanked out, those naming a behavior kept."""
    for values in listed.values():
        for value in values:
            form = value.replace("_", " ")
            if " " in form and value not in behavior_words:
                text = re.sub(rf"(?<![\w-]){re.escape(form)}(?![\w-])", " ", text, flags=re.IGNORECASE)
    return text


def mentioned_words(question: str) -> list[str]:
    """What ``question`` asks text to contain: quoted words, kept in single quotes (the text holds them as
    written, not in other forms: ``'size'`` is no "sizing"; single, since a double quote inside a grammar's
    string literal breaks llama.cpp's grammar parser), and the word (and the two words) after a mention verb
    ("reviews that mention delivery", "complaining about the packaging"); with words quoted, those alone
    (they say exactly what to look for: "mention sizing? count the ones containing "size"")."""
    out = [f"'{q.strip()}'" for q in _QUOTED.findall(question) if q.strip()]
    if out:
        return list(dict.fromkeys(out))
    for m in _MENTION.finditer(question):
        first, second = m.group(1), m.group(2)
        if first.lower() in _NOT_MENTIONED:
            continue
        out.append(first)
        if second and second.lower() not in _NOT_MENTIONED:
            out.append(f"{first} {second}")
    return list(dict.fromkeys(out))


def shape_choices(
    question: str,
    latest: str,
    dimension_words: Mapping[str, list[str]],
    measure_words: list[str],
    listed: Mapping[str, list[str]],
    people: str | None = None,
    behavior_words: Mapping[str, list[str]] | None = None,
    aliases: Mapping[str, Mapping[str, list[str]]] | None = None,
) -> ShapeChoices:
    """The shape ``question`` (the thread's questions) allows; ``latest`` (its last question) alone decides
    whether the window before is asked for or the window moves back, since those change one call, and
    names the behaviors when it names two (a follow-up naming one keeps the thread's)."""
    compare_named = bool(_COMPARE.search(question))
    before = bool(_PREVIOUS.search(latest))
    compare: bool | None = True if (_COMPARE.search(latest) and before) else None if compare_named else False
    moved = compare is not True and bool(_MOVED_BACK.search(latest))
    grains = None if _ANY_GRAIN.search(question) else [g for g, pattern in _GRAINS.items() if pattern.search(question)]
    heads, words, by_values = named_dimensions(question, dimension_words, measure_words, listed, people, aliases)
    ranking = bool(_RANKING.search(question) or heads)
    # What a question asks about is grouped by, and two values of one dimension are; a dimension's word
    # elsewhere only in a ranking ("the most purchases by brand"), not in "US customers".
    named = list(dict.fromkeys([*heads, *(words if ranking and not heads else []), *by_values]))
    dimensions: list[str] | None = None if ranking and not named else named
    shares = True if _SHARE.search(latest) else None if (_SUBSET.search(question) or _SHARE.search(question)) else False
    # A value of several words names no behavior ("paid search" users did not search).
    behaviors = named_behaviors(_without_values(latest, listed, behavior_words or {}), behavior_words or {})
    if len(behaviors) < 2:
        behaviors = named_behaviors(_without_values(question, listed, behavior_words or {}), behavior_words or {})
    after, next_period, first = (
        bool(_AFTER.search(question)),
        bool(_NEXT_PERIOD.search(question)),
        bool(_FIRST.search(question)),
    )
    if len(set(behaviors)) < len(behaviors) and not (after or next_period or first or months_named(question) >= 2):
        # one behavior named twice is a behavior again only when the question says so ("again", "the next
        # week", "first-time buyers ... a second time", two months); else it is named once
        # ("buy more often ... the share who purchased")
        behaviors = list(dict.fromkeys(behaviors))
    if shares is None and len(behaviors) >= 2 and _SUBSET.search(latest):
        shares = True  # "of the users who registered, how many have ordered": users of one behavior by another
        # (or by the same one again: "of first-time buyers, how many bought a second time")
    negated = len(set(behaviors)) >= 2 and bool(_NEGATED.search(latest))
    if shares is not True and negated:
        shares = True  # "registered users with no activity": a rate's users who did not (its result says)
    return ShapeChoices(
        compare=compare,
        periods_back=moved,
        grains=grains,
        dimensions=dimensions,
        grouped=bool(named) and (ranking or bool(by_values)),
        shares=shares,
        after=after,
        next_period=next_period,
        first=first,
        negated=negated,
        behaviors=tuple(behaviors),
        mentions=tuple(mentioned_words(latest) or mentioned_words(question)),
        percentile=percentile_named(latest) if percentile_named(latest) is not None else percentile_named(question),
        bounds=tuple(bounds_named(latest)[0] or bounds_named(question)[0]),
        min_rows=bounds_named(question)[1],
    )
