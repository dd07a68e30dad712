"""Complaint and praise themes: the reviews passing a filter clustered on their stored embeddings,
each cluster named by its most distinctive words (class-based TF-IDF) and quoted by its most
central reviews. Nothing here is generated: names are words the reviews use, counts are counted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from vectorstore.errors import BadFilter
from vectorstore.search import ReviewFilter, _date_text
from vectorstore.store import ReviewIndex

logger = logging.getLogger(__name__)

MIN_REVIEWS = 6
"""Fewest reviews to group into themes; fewer are listed as they are."""

MAX_THEMES = 12
MAX_REVIEWS = 20000
"""Most reviews clustered at once; a broader filter clusters a random sample of this size (stated)."""

LABEL_WORDS = 3
QUOTE_CHARS = 300
_PAGE = 1000


@dataclass
class ThemeQuote:
    """A review quoted for a theme: one of the closest to the theme's centre."""

    review_id: str
    item_id: str | None
    rating: int | None
    date: str | None
    text: str


@dataclass
class Theme:
    """One group of similar reviews."""

    label: str
    keywords: list[str]
    count: int
    share: float
    average_rating: float | None
    quotes: list[ThemeQuote]


@dataclass
class ThemeReport:
    """The themes of the reviews passing a filter, largest first."""

    matched: int
    clustered: int
    k: int
    seed: int
    themes: list[Theme]
    seconds: float = 0.0
    review_ids: list[str] = field(default_factory=list, repr=False)
    assignment: list[int] = field(default_factory=list, repr=False)
    """Theme position (in ``themes``) of each clustered review, aligned with ``review_ids``."""

    def to_dict(self) -> dict:
        """Plain dict for JSON output (without the per-review assignment)."""
        data = asdict(self)
        data.pop("review_ids")
        data.pop("assignment")
        return data


def default_k(n: int) -> int:
    """Themes for ``n`` reviews: about one per 25 reviews, 2 to 8."""
    return int(min(8, max(2, round(n / 25))))


def review_themes(
    index: ReviewIndex,
    flt: ReviewFilter = ReviewFilter(),
    *,
    k: int | None = None,
    seed: int = 0,
    quotes: int = 3,
    max_reviews: int = MAX_REVIEWS,
) -> ThemeReport:
    """Group the reviews passing ``flt`` into ``k`` themes (default: by their number) with counts, shares,
    keyword labels and ``quotes`` central reviews each."""
    if k is not None and not 2 <= k <= MAX_THEMES:
        raise BadFilter(f"k={k!r} is outside 2..{MAX_THEMES}; ask for between 2 and {MAX_THEMES} themes")
    started = time.perf_counter()
    index.refresh_if_stale()
    keyword = index.keyword
    rows = keyword.rows(flt.keyword())
    matrix = index.matrix()
    rows = rows[matrix.present[rows]]
    matched = len(rows)
    rng = np.random.default_rng(seed)
    if matched > max_reviews:
        rows = np.sort(rng.choice(rows, max_reviews, replace=False))
    ids = [keyword.ids[r] for r in rows]
    if len(ids) < MIN_REVIEWS:
        return ThemeReport(matched, 0, 0, seed, [], round(time.perf_counter() - started, 3))
    k = min(k or default_k(len(ids)), len(ids) // 2)
    vectors = matrix.vectors[rows]
    assignment, centres = _cluster(vectors, k, seed)
    metas, docs = _read(index, ids)
    keywords = class_keywords(docs, assignment, k)
    order = sorted(range(k), key=lambda c: (-(assignment == c).sum(), c))
    themes = []
    for c in order:
        members = np.flatnonzero(assignment == c)
        closest = members[np.argsort(-(vectors[members] @ centres[c]), kind="stable")[:quotes]]
        ratings = [metas[m].get("rating") for m in members if metas[m].get("rating") is not None]
        words = keywords[c][:LABEL_WORDS] or ["(no distinctive words)"]
        themes.append(
            Theme(
                label=" · ".join(words),
                keywords=keywords[c],
                count=len(members),
                share=round(len(members) / len(ids), 4),
                average_rating=round(float(np.mean(ratings)), 2) if ratings else None,
                quotes=[
                    ThemeQuote(
                        ids[m],
                        metas[m].get("item"),
                        metas[m].get("rating"),
                        _date_text(metas[m].get("date")),
                        _quote(docs[m]),
                    )
                    for m in closest
                ],
            )
        )
    position = {c: p for p, c in enumerate(order)}
    return ThemeReport(
        matched,
        len(ids),
        k,
        seed,
        themes,
        round(time.perf_counter() - started, 3),
        ids,
        [position[int(c)] for c in assignment],
    )


def _cluster(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K-means on the unit vectors (cosine geometry); the labels and the unit centres."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(vectors)
    centres = model.cluster_centers_.astype(np.float32)
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    return model.labels_, centres


def class_keywords(docs: list[str], assignment: np.ndarray, k: int, top: int = 8) -> list[list[str]]:
    """Each cluster's most distinctive words and two-word phrases by class-based TF-IDF (as BERTopic's c-TF-IDF):
    a term's frequency in the cluster, weighted by log(1 + average cluster size in words / its frequency overall)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(
        stop_words="english", ngram_range=(1, 2), min_df=2, token_pattern=r"(?u)\b[^\W\d_]{2,}\b"
    )
    try:
        counts = vectorizer.fit_transform(docs)
    except ValueError:  # no term in two reviews
        return [[] for _ in range(k)]
    terms = vectorizer.get_feature_names_out()
    per_class = np.vstack([np.asarray(counts[assignment == c].sum(axis=0)).ravel() for c in range(k)]).astype(
        np.float64
    )
    overall = per_class.sum(axis=0)
    average_words = per_class.sum() / k
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
    weight = tf * np.log1p(average_words / np.maximum(overall, 1.0))
    result = []
    for c in range(k):
        best = [t for t in np.argsort(-weight[c], kind="stable")[: top * 3] if per_class[c, t] >= 2]
        words: list[str] = []
        for t in best:
            term = str(terms[t])
            # a phrase whose words are already listed adds nothing; a word inside a listed phrase neither
            if any(term in w.split() or set(term.split()) <= set(w.split()) for w in words):
                continue
            words.append(term)
            if len(words) == top:
                break
        result.append(words)
    return result


def _read(index: ReviewIndex, ids: list[str]) -> tuple[list[dict], list[str]]:
    """Metadata and documents of ``ids`` from the vector store, in their order."""
    found: dict[str, tuple[dict, str]] = {}
    for start in range(0, len(ids), _PAGE):
        page = index.collection.get(ids=ids[start : start + _PAGE], include=["metadatas", "documents"])
        found.update((i, (m or {}, d or "")) for i, m, d in zip(page["ids"], page["metadatas"], page["documents"]))
    return [found.get(i, ({}, ""))[0] for i in ids], [found.get(i, ({}, ""))[1] for i in ids]


def _quote(document: str) -> str:
    text = document.replace("\n", " — ")
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"
