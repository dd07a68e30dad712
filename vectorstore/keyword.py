"""BM25 keyword index over the same normalized review texts, persisted as one .npz file."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+(?:[-.'’/]\w+)*")
_SPLIT = re.compile(r"[-.'’/]")
_STOPWORDS = frozenset(
    "a an and are as at be but by for from had has have i if in into is it its me my of on or so "
    "that the their them then there these they this to was were will with you your".split()
)
_FIELDS = ("item", "category", "user")


def _stem(token: str) -> str:
    # Light plural folding (strings→string) without a stemmer dependency.
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens; compounds like ``X-200`` also yield ``x200`` so either spelling matches."""
    tokens: list[str] = []
    for match in _TOKEN.findall(text.lower()):
        parts = [p for p in _SPLIT.split(match) if p]
        if len(parts) > 1:
            tokens.append("".join(parts))
        tokens.extend(_stem(p) for p in parts if p not in _STOPWORDS)
    return tokens


@dataclass(frozen=True)
class KeywordFilter:
    """Metadata filters applied to keyword candidates, mirroring the vector store's ``where``."""

    item: str | None = None
    category: str | None = None
    user: str | None = None
    min_rating: int | None = None
    max_rating: int | None = None
    since: int | None = None
    until: int | None = None


class KeywordIndex:
    """Okapi BM25 over a sparse term-frequency matrix; rows are added, replaced and removed by id."""

    def __init__(self, path: Path | None = None, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.path = path
        self.k1, self.b = k1, b
        self.generation = ""
        self._vocab: dict[str, int] = {}
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._hashes: list[str] = []
        self._meta: dict[str, list] = {f: [] for f in _FIELDS}
        self._rating: list[int] = []
        self._date: list[int] = []
        self._tf = sparse.csr_matrix((0, 0), dtype=np.float32)
        self._pending: list[sparse.csr_matrix] = []
        self._csc: sparse.csc_matrix | None = None
        self._arrays: dict[str, np.ndarray] | None = None
        self._masks: dict[KeywordFilter, np.ndarray | None] = {}
        self.revision = 0
        """Bumped by every change to the rows (what a cache built on them checks)."""

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        """Review ids in row order."""
        return self._ids

    @property
    def row_of(self) -> dict[str, int]:
        """Review id → row."""
        return self._row

    def hashes(self) -> dict[str, str]:
        """Review id → text hash of what is indexed."""
        return dict(zip(self._ids, self._hashes))

    def upsert(self, ids: list[str], texts: list[str], hashes: list[str], metadatas: list[dict]) -> None:
        """Add rows, replacing any with the same id."""
        self.delete([i for i in ids if i in self._row])
        rows, cols, vals = [], [], []
        for r, text in enumerate(texts):
            counts: dict[int, int] = {}
            for token in tokenize(text):
                col = self._vocab.setdefault(token, len(self._vocab))
                counts[col] = counts.get(col, 0) + 1
            rows.extend([r] * len(counts))
            cols.extend(counts)
            vals.extend(counts.values())
        new = sparse.csr_matrix((np.asarray(vals, np.float32), (rows, cols)), shape=(len(texts), len(self._vocab)))
        self._pending.append(new)  # stacked lazily: one copy per flush, not one per batch
        for review_id, digest, meta in zip(ids, hashes, metadatas):
            self._row[review_id] = len(self._ids)
            self._ids.append(review_id)
            self._hashes.append(digest)
            for f in _FIELDS:
                self._meta[f].append(meta.get(f) or "")
            self._rating.append(int(meta.get("rating", -1)))
            self._date.append(int(meta.get("date", -1)))
        self._invalidate()

    def delete(self, ids: list[str]) -> None:
        """Remove rows by id (unknown ids are ignored)."""
        drop = {self._row[i] for i in ids if i in self._row}
        if not drop:
            return
        self._flush()
        keep = [r for r in range(len(self._ids)) if r not in drop]
        self._tf = self._tf[keep]
        self._ids = [self._ids[r] for r in keep]
        self._hashes = [self._hashes[r] for r in keep]
        for f in _FIELDS:
            self._meta[f] = [self._meta[f][r] for r in keep]
        self._rating = [self._rating[r] for r in keep]
        self._date = [self._date[r] for r in keep]
        self._row = {review_id: r for r, review_id in enumerate(self._ids)}
        self._invalidate()

    def _flush(self) -> None:
        if not self._pending:
            return
        width = len(self._vocab)
        blocks = [self._tf, *self._pending]
        for block in blocks:
            block.resize((block.shape[0], width))
        self._tf = sparse.vstack(blocks, format="csr")
        self._pending = []

    def _invalidate(self) -> None:
        self.revision += 1
        self._csc = None
        self._arrays = None
        self._masks: dict[KeywordFilter, np.ndarray | None] = {}

    def _prepare(self) -> None:
        if self._csc is not None:
            return
        self._flush()
        self._csc = self._tf.tocsc()
        lengths = np.asarray(self._tf.sum(axis=1)).ravel().astype(np.float32)
        avg = float(lengths.mean()) if len(lengths) else 1.0
        self._arrays = {
            "norm": self.k1 * (1 - self.b + self.b * lengths / max(avg, 1e-9)),
            "rating": np.asarray(self._rating, np.int64),
            "date": np.asarray(self._date, np.int64),
            **{f: np.asarray(self._meta[f], dtype=object) for f in _FIELDS},
        }

    def _mask(self, flt: KeywordFilter) -> np.ndarray | None:
        # A hybrid search asks twice per filter (vector side, keyword side); keep the last few.
        if flt not in self._masks:
            if len(self._masks) >= 8:
                self._masks.pop(next(iter(self._masks)))
            self._masks[flt] = self._compute_mask(flt)
        return self._masks[flt]

    def _compute_mask(self, flt: KeywordFilter) -> np.ndarray | None:
        a = self._arrays
        mask = None

        def both(m: np.ndarray) -> None:
            nonlocal mask
            mask = m if mask is None else mask & m

        for f in _FIELDS:
            if getattr(flt, f) is not None:
                both(a[f] == getattr(flt, f))
        if flt.min_rating is not None:
            both(a["rating"] >= flt.min_rating)
        if flt.max_rating is not None:
            both((a["rating"] <= flt.max_rating) & (a["rating"] >= 0))
        if flt.since is not None:
            both(a["date"] >= flt.since)
        if flt.until is not None:
            both((a["date"] <= flt.until) & (a["date"] >= 0))
        return mask

    def matching(self, flt: KeywordFilter) -> tuple[int, Callable[[str], bool]]:
        """How many rows pass ``flt``, and a test of whether a review id does (unknown ids do not)."""
        self._prepare()
        mask = self._mask(flt)
        if mask is None:
            return len(self._ids), self._row.__contains__
        row = self._row
        return int(mask.sum()), lambda review_id: review_id in row and bool(mask[row[review_id]])

    def rows(self, flt: KeywordFilter) -> np.ndarray:
        """The rows passing ``flt``, ascending."""
        self._prepare()
        mask = self._mask(flt)
        return np.arange(len(self._ids)) if mask is None else np.flatnonzero(mask)

    def search(self, query: str, k: int, flt: KeywordFilter = KeywordFilter()) -> list[tuple[str, float]]:
        """The ``k`` best (id, BM25 score) pairs among rows passing ``flt``; only rows sharing a term."""
        if not self._ids:
            return []
        self._prepare()
        n = len(self._ids)
        scores = np.zeros(n, np.float32)
        indptr, indices, data = self._csc.indptr, self._csc.indices, self._csc.data
        norm = self._arrays["norm"]
        for token in set(tokenize(query)):
            col = self._vocab.get(token)
            if col is None or col >= len(indptr) - 1:
                continue
            lo, hi = indptr[col], indptr[col + 1]
            if lo == hi:
                continue
            rows, tf = indices[lo:hi], data[lo:hi]
            df = hi - lo
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
            scores[rows] += idf * tf * (self.k1 + 1) / (tf + norm[rows])
        mask = self._mask(flt)
        if mask is not None:
            scores[~mask] = 0
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(self._ids[r], float(scores[r])) for r in hits]

    def save(self) -> None:
        """Write the index atomically to its path (a crash leaves the previous file intact)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._flush()
        tf = self._tf.tocsr()
        vocab = sorted(self._vocab, key=self._vocab.get)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                data=tf.data,
                indices=tf.indices,
                indptr=tf.indptr,
                shape=np.asarray(tf.shape),
                vocab=np.asarray(vocab, dtype=str),
                ids=np.asarray(self._ids, dtype=str),
                hashes=np.asarray(self._hashes, dtype=str),
                rating=np.asarray(self._rating, np.int64),
                date=np.asarray(self._date, np.int64),
                generation=np.asarray(self.generation),
                **{f: np.asarray(self._meta[f], dtype=str) for f in _FIELDS},
            )
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, path: Path) -> KeywordIndex:
        """The index saved at ``path``, or an empty one bound to it when there is none."""
        index = cls(path)
        if not path.exists():
            return index
        with np.load(path, allow_pickle=False) as z:
            index._tf = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            index._vocab = {t: i for i, t in enumerate(z["vocab"].tolist())}
            index._ids = z["ids"].tolist()
            index._hashes = z["hashes"].tolist()
            index._rating = z["rating"].tolist()
            index._date = z["date"].tolist()
            index.generation = str(z["generation"])
            for f in _FIELDS:
                index._meta[f] = z[f].tolist()
        index._row = {review_id: r for r, review_id in enumerate(index._ids)}
        return index
