"""Hybrid review search: vector (Chroma) and BM25 keyword rankings fused by reciprocal rank."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

import numpy as np

from vectorstore.errors import BadFilter
from vectorstore.indexer import date_key
from vectorstore.keyword import KeywordFilter, tokenize
from vectorstore.matrix import nearest_of
from vectorstore.store import ReviewIndex

logger = logging.getLogger(__name__)

RRF_K = 60
"""Reciprocal-rank-fusion constant: a document at rank r in a list earns 1 / (RRF_K + r)."""

VECTOR_WEIGHT = 0.3
"""Share of the (min-max normalized) vector score in the hybrid score; the rest is BM25's.
Chosen on the known-item benchmark (benchmarks/reviews_retrieval.py), where it beat RRF."""

EXACT_FETCH = 200
"""A filter passing at most this many rows ranks them exactly on their vectors read from Chroma by id..."""

OVERFETCH = 2.0
"""...a broader one over-fetches ``pool * OVERFETCH / (share of rows passing)`` unfiltered neighbours..."""

MAX_OVERFETCH = 1000
"""...when that is at most this many; in between, the passing rows are ranked exactly in memory
(``ReviewIndex.matrix``), which at 100k rows beats Chroma's ``where`` several times over."""

SearchMode = Literal["hybrid", "vector", "keyword"]


@dataclass(frozen=True)
class ReviewFilter:
    """Metadata filters shared by the vector store, the keyword index and the SQL stats."""

    item: str | None = None
    category: str | None = None
    user: str | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if isinstance(value, str):
                try:
                    object.__setattr__(self, name, date.fromisoformat(value))
                except ValueError as exc:
                    raise BadFilter(f"{name}={value!r} is not a date; use YYYY-MM-DD") from exc
        for name in ("min_rating", "max_rating"):
            value = getattr(self, name)
            if value is not None and not 1 <= int(value) <= 5:
                raise BadFilter(f"{name}={value!r} is outside 1..5; ratings are 1 to 5 stars")
        if self.min_rating and self.max_rating and self.min_rating > self.max_rating:
            raise BadFilter(f"min_rating={self.min_rating!r} exceeds max_rating={self.max_rating!r}; swap them")
        if self.since and self.until and self.since > self.until:
            raise BadFilter(f"since={self.since.isoformat()!r} is after until={self.until.isoformat()!r}; swap them")

    def where(self) -> dict | None:
        """The Chroma ``where`` clause for these filters, or None."""
        clauses: list[dict] = []
        for key in ("item", "category", "user"):
            if getattr(self, key) is not None:
                clauses.append({key: getattr(self, key)})
        if self.min_rating is not None:
            clauses.append({"rating": {"$gte": int(self.min_rating)}})
        if self.max_rating is not None:
            clauses.append({"rating": {"$lte": int(self.max_rating)}})
        if self.since is not None:
            clauses.append({"date": {"$gte": date_key(self.since)}})
        if self.until is not None:
            clauses.append({"date": {"$lte": date_key(self.until)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def keyword(self) -> KeywordFilter:
        """The same filters for the keyword index."""
        return KeywordFilter(
            item=self.item,
            category=self.category,
            user=self.user,
            min_rating=self.min_rating,
            max_rating=self.max_rating,
            since=date_key(self.since),
            until=date_key(self.until),
        )


@dataclass
class ReviewHit:
    """One review found by a search."""

    review_id: str
    item_id: str | None
    category: str | None
    user_id: str | None
    rating: int | None
    date: str | None
    snippet: str
    score: float
    vector_rank: int | None
    keyword_rank: int | None

    def to_dict(self) -> dict:
        """Plain dict for JSON output."""
        return asdict(self)


def snippet(document: str, query: str, max_chars: int = 300) -> str:
    """At most ``max_chars`` of the review, starting near the first query term it contains."""
    text = document.replace("\n", " — ")
    if len(text) <= max_chars:
        return text
    lowered = text.lower()
    positions = [p for p in (lowered.find(t) for t in tokenize(query) if len(t) > 2) if p >= 0]
    start = max(0, min(positions) - max_chars // 4) if positions else 0
    start = min(start, len(text) - max_chars + 1)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    piece = text[start : start + max_chars - 2].rstrip()
    return ("…" if start > 0 else "") + piece + ("…" if start + len(piece) < len(text) else "")


def _date_text(value) -> str | None:
    if value is None:
        return None
    value = int(value)
    return f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}"


def fuse(rankings: list[list[str]], weights: list[float] | None = None, rrf_k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion: id → sum of weight / (rrf_k + rank) over the lists, best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ids, weight in zip(rankings, weights):
        for rank, review_id in enumerate(ids, start=1):
            scores[review_id] = scores.get(review_id, 0.0) + weight / (rrf_k + rank)
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))


def fuse_scores(
    vector: list[tuple[str, float]], keyword: list[tuple[str, float]], vector_weight: float = 0.5
) -> dict[str, float]:
    """Convex combination of min-max normalized scores (cosine similarity, BM25), best first."""

    def normalized(pairs: list[tuple[str, float]]) -> dict[str, float]:
        if not pairs:
            return {}
        values = [s for _, s in pairs]
        lo, hi = min(values), max(values)
        return {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in pairs}

    vec, kw = normalized(vector), normalized(keyword)
    scores = {i: vector_weight * vec.get(i, 0.0) + (1 - vector_weight) * kw.get(i, 0.0) for i in vec.keys() | kw.keys()}
    return dict(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))


def _vector_hits(
    index: ReviewIndex, vector: np.ndarray, flt: ReviewFilter, pool: int, total: int
) -> list[tuple[str, float]]:
    """The ``pool`` nearest reviews passing ``flt`` as (id, cosine similarity), best first.

    The filter is evaluated on the keyword index's metadata arrays (a mirror of every row's
    metadata). Few passing rows: their vectors are read from Chroma by id and ranked exactly. Most
    rows passing: unfiltered HNSW neighbours are over-fetched and the passing ones kept. Otherwise,
    or when the over-fetch kept too few: exact ranking over the in-memory copy of the vectors.
    """
    if flt.where() is None:
        result = index.collection.query(query_embeddings=[vector], n_results=min(pool, total), include=["distances"])
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0])]  # cosine space
    keyword, kflt = index.keyword, flt.keyword()
    passing, passes = keyword.matching(kflt)
    if passing == 0:
        return []
    if passing <= EXACT_FETCH:
        ids = [keyword.ids[r] for r in keyword.rows(kflt)]
        page = index.collection.get(ids=ids, include=["embeddings"])
        return nearest_of(page["ids"], page["embeddings"], vector, pool)
    fetch = math.ceil(pool * OVERFETCH * total / passing)
    if fetch <= MAX_OVERFETCH:
        result = index.collection.query(query_embeddings=[vector], n_results=min(fetch, total), include=["distances"])
        kept = [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0]) if passes(i)]
        if len(kept) >= min(pool, passing) or fetch >= total:
            return kept[:pool]
        logger.debug(
            "over-fetch of %s kept %s of %s wanted; ranking the passing rows in memory", fetch, len(kept), pool
        )
    return index.matrix().nearest(vector, keyword.rows(kflt), pool)


def _documents(index: ReviewIndex, ranked: list[str], k: int) -> dict[str, tuple[dict, str]]:
    """Metadata and text of the first ``k`` of ``ranked`` still in the vector store (read in small pages)."""
    found: dict[str, tuple[dict, str]] = {}
    start = 0
    while len(found) < k and start < len(ranked):
        want = ranked[start : start + k - len(found)]
        page = index.collection.get(ids=want, include=["metadatas", "documents"])
        found.update((i, (m, d)) for i, m, d in zip(page["ids"], page["metadatas"], page["documents"]))
        start += len(want)
    return found


def search_reviews(
    index: ReviewIndex,
    query: str,
    *,
    item: str | None = None,
    category: str | None = None,
    min_rating: int | None = None,
    max_rating: int | None = None,
    since: date | str | None = None,
    until: date | str | None = None,
    user: str | None = None,
    k: int = 8,
    mode: SearchMode = "hybrid",
    candidates: int = 50,
    query_vector: np.ndarray | None = None,
    snippet_chars: int = 300,
    fusion: Literal["score", "rrf"] = "score",
) -> list[ReviewHit]:
    """The ``k`` reviews best matching ``query`` among those passing every filter, best first."""
    query = (query or "").strip()
    if not query:
        raise BadFilter("query is empty; pass the words or phrase to look for")
    if not 1 <= k <= 100:
        raise BadFilter(f"k={k!r} is outside 1..100")
    flt = ReviewFilter(item, category, user, min_rating, max_rating, since, until)
    pool = max(candidates, k)
    index.refresh_if_stale()
    total = len(index.keyword)  # the mirror of the vector store (Chroma's own count takes ~20 ms at 100k rows)
    if total == 0:
        return []
    vector_hits: list[tuple[str, float]] = []
    if mode in ("hybrid", "vector"):
        index.check_embedder()
        vector = query_vector if query_vector is not None else index.embedder.embed_query(query)
        vector_hits = _vector_hits(index, np.asarray(vector, np.float32), flt, pool, total)
    keyword_hits: list[tuple[str, float]] = []
    if mode in ("hybrid", "keyword"):
        keyword_hits = index.keyword.search(query, pool, flt.keyword())
    if fusion == "rrf":
        fused = fuse([[i for i, _ in vector_hits], [i for i, _ in keyword_hits]])
    else:
        fused = fuse_scores(vector_hits, keyword_hits, VECTOR_WEIGHT if mode == "hybrid" else 0.5)
    best = list(fused)
    vector_ids = [i for i, _ in vector_hits]
    keyword_ids = [i for i, _ in keyword_hits]
    found = _documents(index, best, k)
    vector_pos = {i: r for r, i in enumerate(vector_ids, start=1)}
    keyword_pos = {i: r for r, i in enumerate(keyword_ids, start=1)}
    hits: list[ReviewHit] = []
    for review_id in best:
        if review_id not in found:
            continue  # in the keyword sidecar but no longer in the vector store (an interrupted run)
        meta, doc = found[review_id]
        hits.append(
            ReviewHit(
                review_id=review_id,
                item_id=meta.get("item"),
                category=meta.get("category"),
                user_id=meta.get("user"),
                rating=meta.get("rating"),
                date=_date_text(meta.get("date")),
                snippet=snippet(doc or "", query, snippet_chars),
                score=round(fused[review_id], 6),
                vector_rank=vector_pos.get(review_id),
                keyword_rank=keyword_pos.get(review_id),
            )
        )
        if len(hits) == k:
            break
    return hits
