"""The stored review vectors held in memory, row-aligned with the keyword index, for exact filtered search."""

from __future__ import annotations

import logging
import time

import numpy as np

from vectorstore.keyword import KeywordIndex

logger = logging.getLogger(__name__)

_PAGE = 5000


class VectorMatrix:
    """A copy of every vector in the Chroma collection, one row per keyword-index row.

    Built from Chroma (the store of record) for one state of the keyword index; the review index
    drops it when that state changes, so it is never older than the keyword index it filters with.
    """

    def __init__(self, keyword: KeywordIndex, vectors: np.ndarray, present: np.ndarray) -> None:
        self.keyword = keyword
        self.revision = keyword.revision
        self.vectors = vectors
        self.present = present

    @classmethod
    def load(cls, collection, keyword: KeywordIndex) -> VectorMatrix:
        """Every stored vector, read from ``collection`` in pages and placed at its keyword-index row."""
        started = time.perf_counter()
        rows = keyword.row_of
        vectors: np.ndarray | None = None
        present = np.zeros(len(keyword), bool)
        offset = 0
        while True:
            page = collection.get(include=["embeddings"], limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not len(ids):
                break
            block = np.asarray(page["embeddings"], np.float32)
            if vectors is None:
                vectors = np.zeros((len(keyword), block.shape[1]), np.float32)
            at = np.fromiter((rows.get(i, -1) for i in ids), np.int64, len(ids))
            known = at >= 0  # a row Chroma holds but the keyword index does not know has no metadata to filter on
            vectors[at[known]] = block[known]
            present[at[known]] = True
            offset += len(ids)
        if vectors is None:
            vectors = np.zeros((len(keyword), 0), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)  # cosine, as the collection's space is
        logger.info("loaded %s review vectors into memory in %.2f s", int(present.sum()), time.perf_counter() - started)
        return cls(keyword, vectors, present)

    def current(self, keyword: KeywordIndex) -> bool:
        """Whether this matrix was built for ``keyword`` in its present state."""
        return self.keyword is keyword and self.revision == keyword.revision

    def nearest(self, vector: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` rows among ``rows`` closest to ``vector`` as (review id, cosine similarity), best first."""
        rows = rows[self.present[rows]]
        if 2 * len(rows) > len(self.present):
            scores = (self.vectors @ np.asarray(vector, np.float32))[rows]  # cheaper than copying most rows
        else:
            scores = self.vectors[rows] @ np.asarray(vector, np.float32)
        ids = self.keyword.ids
        return [(ids[rows[t]], s) for t, s in top_k(scores / _norm(vector), k)]


def _norm(vector: np.ndarray) -> float:
    return max(float(np.linalg.norm(vector)), 1e-12)


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Positions and values of the ``k`` highest scores, highest first (ties by position)."""
    if len(scores) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]
    else:
        top = np.argsort(-scores, kind="stable")
    return [(int(t), float(scores[t])) for t in top]


def nearest_of(ids: list[str], vectors, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The ``k`` of ``ids`` whose ``vectors`` are closest to ``vector`` by cosine similarity, best first."""
    if not len(ids):
        return []
    block = np.asarray(vectors, np.float32)
    norms = np.maximum(np.linalg.norm(block, axis=1), 1e-12)
    scores = block @ np.asarray(vector, np.float32) / norms / _norm(vector)
    return [(ids[t], s) for t, s in top_k(scores, k)]
