"""Sequential item-kNN: items that follow (or precede) the user's recent items in other users' sequences.

A closed-form model, fitted in seconds on a CPU: for every pair of items ``d <= window`` steps
apart in a training sequence, the forward pair (earlier -> later) counts ``1 / d`` and the
backward pair ``backward / d``. The similarity divides the count by ``f_i ** source_norm *
f_j ** target_norm`` (``f`` = item frequency; the second exponent discounts popular targets).
A user's score for item ``j`` sums the similarities from their last ``history`` items, the
latest weighted 1 and each older one ``decay`` times less. With ``window=1, backward=0,
history=1`` and no normalisation it is the first-order transition table. Every score is a sum
of per-history-item terms, so the recent items that drove a prediction are exact, not guessed.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from scipy import sparse

from predictor.ranking import FullRanking
from predictor.sequences import NO_ITEM, PAD, HeldOut, Sequences

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KNNConfig:
    """How neighbours are counted, normalised and combined."""

    window: int = 3
    backward: float = 0.5
    source_norm: float = 0.5
    target_norm: float = 0.25
    history: int = 10
    decay: float = 0.6


KNN_GRID: dict[str, tuple] = {
    "window": (1, 3, 8, 20),
    "backward": (0.0, 0.25, 0.5, 1.0),
    "source_norm": (0.0, 0.5, 1.0),
    "target_norm": (-0.25, 0.0, 0.25, 0.5),
    "history": (1, 3, 10, 50),
    "decay": (0.3, 0.6, 0.9),
}
"""Values tried on validation by :func:`tune_knn`; counting (window/backward) is refit per pair,
the rest re-weights the same counts. A negative ``target_norm`` favours popular targets."""


def _pair_counts(train: Sequences, n_items: int, window: int) -> list[sparse.csr_matrix]:
    """One forward-pair count matrix per distance 1..window (distance weights applied later)."""
    out = []
    for d in range(1, window + 1):
        src = [s[:-d] for s in train.items if len(s) > d]
        dst = [s[d:] for s in train.items if len(s) > d]
        rows = np.concatenate(src) if src else np.empty(0, dtype=np.int64)
        cols = np.concatenate(dst) if dst else np.empty(0, dtype=np.int64)
        keep = (rows > NO_ITEM) & (cols > NO_ITEM)
        out.append(
            sparse.csr_matrix(
                (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
                shape=(n_items, n_items),
                dtype=np.float32,
            )
        )
    return out


@dataclass
class SequentialKNN(FullRanking):
    """A fitted item-to-item similarity matrix and item popularity (for ties and cold items)."""

    similarity: sparse.csr_matrix
    popularity: np.ndarray
    config: KNNConfig

    @classmethod
    def fit(
        cls,
        train: Sequences,
        n_items: int,
        config: KNNConfig | None = None,
        *,
        _counts: list[sparse.csr_matrix] | None = None,
    ) -> SequentialKNN:
        """Count neighbour pairs in ``train`` and normalise them into similarities."""
        config = config or KNNConfig()
        counts = _counts if _counts is not None else _pair_counts(train, n_items, config.window)
        forward = sum(
            (c * (1.0 / d) for d, c in enumerate(counts[: config.window], start=1)),
            sparse.csr_matrix((n_items, n_items), dtype=np.float32),
        )
        pairs = (forward + config.backward * forward.T.tocsr()) if config.backward else forward
        flat = np.concatenate(train.items) if len(train) else np.empty(0, dtype=np.int64)
        freq = np.bincount(flat, minlength=n_items).astype(np.float64)
        freq[[PAD, NO_ITEM]] = 0.0
        safe = np.maximum(freq, 1.0)
        left = sparse.diags((safe**-config.source_norm).astype(np.float32))
        right = sparse.diags((safe**-config.target_norm).astype(np.float32))
        similarity = (left @ pairs @ right).tocsr()
        similarity.eliminate_zeros()
        return cls(similarity.astype(np.float32), freq, config)

    def _weights(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last ``history`` real items and their recency weights (latest = 1)."""
        recent = history[history > NO_ITEM][-self.config.history :]
        ages = np.arange(len(recent))[::-1]
        return recent, (self.config.decay**ages).astype(np.float32)

    def scores(self, histories: list[np.ndarray]) -> torch.Tensor:
        """(users, items) scores; popularity, scaled below any neighbour score, breaks ties."""
        rows, cols, vals = [], [], []
        for i, h in enumerate(histories):
            recent, w = self._weights(np.asarray(h))
            rows.append(np.full(len(recent), i))
            cols.append(recent)
            vals.append(w)
        query = sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.empty(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.empty(0, np.int64),
                    np.concatenate(cols) if cols else np.empty(0, np.int64),
                ),
            ),
            shape=(len(histories), self.similarity.shape[0]),
            dtype=np.float32,
        )
        dense = (query @ self.similarity).toarray()
        positive = self.similarity.data[self.similarity.data > 0]
        floor = float(positive.min()) * float(self.config.decay**self.config.history) if positive.size else 1.0
        tie = (self.popularity / (self.popularity.max() + 1.0) * floor * 1e-3).astype(np.float32)
        return torch.from_numpy(dense + tie)

    def explain(self, history: np.ndarray, item: int, top: int = 3) -> list[tuple[int, float]]:
        """The recent items that contributed most to ``item``'s score, with their share of it."""
        recent, w = self._weights(np.asarray(history))
        if not len(recent):
            return []
        parts = w * self.similarity[recent][:, [item]].toarray().ravel()
        per_item: dict[int, float] = {}
        for it, p in zip(recent.tolist(), parts.tolist(), strict=True):
            per_item[it] = per_item.get(it, 0.0) + p
        total = sum(per_item.values())
        if total <= 0:
            return []
        ranked = sorted(per_item.items(), key=lambda kv: -kv[1])[:top]
        return [(it, p / total) for it, p in ranked if p > 0]


def tune_knn(
    train: Sequences, valid: HeldOut, n_items: int, *, exclude_seen: bool = False, grid: dict[str, tuple] | None = None
) -> tuple[SequentialKNN, list[dict[str, Any]]]:
    """Coordinate search over ``grid`` on validation NDCG@10: the best model and every trial."""
    grid = grid or KNN_GRID
    counts = _pair_counts(train, n_items, max(grid["window"]))
    best, best_score, trials = KNNConfig(), -1.0, []
    seen: dict[KNNConfig, float] = {}
    for _round, key in itertools.product(range(2), grid):
        for value in grid[key]:
            config = replace(best, **{key: value})
            if config not in seen:
                model = SequentialKNN.fit(train, n_items, config, _counts=counts)
                seen[config] = model.evaluate(valid, exclude_seen=exclude_seen)["NDCG@10"]
                trials.append({**asdict(config), "valid_NDCG@10": seen[config]})
                logger.info("kNN %s: valid NDCG@10 %.4f", config, seen[config])
            if seen[config] > best_score:
                best, best_score = config, seen[config]
    return SequentialKNN.fit(train, n_items, best, _counts=counts), trials


def save_neighbours(model: SequentialKNN, path) -> None:
    """Write the similarity matrix, popularity and config to one ``.npz`` file (no pickles)."""
    sim = model.similarity
    with open(path, "wb") as handle:
        np.savez(
            handle,
            data=sim.data,
            indices=sim.indices,
            indptr=sim.indptr,
            shape=np.asarray(sim.shape),
            popularity=model.popularity,
            config=np.asarray(json.dumps(asdict(model.config))),
        )


def load_neighbours(path) -> SequentialKNN:
    """Read a file written by :func:`save_neighbours`."""
    with np.load(path, allow_pickle=False) as blob:
        shape = tuple(int(v) for v in blob["shape"])
        sim = sparse.csr_matrix((blob["data"], blob["indices"], blob["indptr"]), shape=shape)
        return SequentialKNN(sim, blob["popularity"], KNNConfig(**json.loads(str(blob["config"]))))
