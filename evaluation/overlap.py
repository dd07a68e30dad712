"""Whether a prompt example paraphrases an evaluation question (an example that does inflates the score)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_STOPWORDS = frozenset(
    "a an the of in on at to for by and or is are was were be been do does did what which who whom how many much "
    "me my our we us you your i it its this that these those there their they them with from as any all please "
    "tell show give".split()
)
_CJK = re.compile(r"[\u4e00-\u9fff]")

OVERLAP_THRESHOLD = 0.6
"""Token-set Jaccard similarity from which an example counts as a paraphrase of a question."""


def normalize(text: str) -> str:
    """Lower case, NFKC, numbers as ``#``, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\d+(?:[.,]\d+)*", "#", text)
    text = re.sub(r"[^\w#\u4e00-\u9fff]+", " ", text)
    return " ".join(text.split())


def tokens(text: str) -> set[str]:
    """Content words of ``text``; Chinese as character bigrams (it has no spaces)."""
    norm = normalize(text)
    words = {w for w in norm.split() if w not in _STOPWORDS and not _CJK.search(w)}
    cjk = "".join(_CJK.findall(norm))
    return words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two texts' content tokens (1.0 when the normalized texts are equal)."""
    if normalize(a) == normalize(b):
        return 1.0
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def overlaps(
    examples: Iterable[str], questions: Iterable[tuple[str, str]], threshold: float = OVERLAP_THRESHOLD
) -> list[tuple[str, str, float]]:
    """(example, question id, similarity) for every pair at or above ``threshold``."""
    qs = list(questions)
    return [(ex, qid, round(s, 2)) for ex in examples for qid, text in qs if (s := similarity(ex, text)) >= threshold]
