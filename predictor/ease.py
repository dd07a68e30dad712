"""EASE (Steck, WWW 2019): a closed-form item-item model, ``B = I - P / diag(P)``, ``P = (X^T X + l2 I)^-1``.

``X`` is the users x items matrix of the training sequences (1 where the user had the item), so
the model ignores order; a user's score for item ``j`` is ``sum_i w_i B[i, j]`` over the distinct
items of their last ``history`` events, weighted ``w_i = decay ** age`` of the item's latest
occurrence (``decay=1``: the plain bag of items the paper scores). ``B`` is a dense items x items
matrix: fitting holds about three of them, so a catalogue only qualifies under a memory cap
(:func:`ease_memory_mb`). Every score is a sum of one term per recent item, so the recent items
behind a prediction are exact.
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

EASE_GRID: dict[str, tuple] = {
    "l2": (10.0, 50.0, 200.0, 500.0, 1000.0, 3000.0),
    "history": (200, 10, 3),
    "decay": (1.0, 0.8, 0.5),
}
"""Values tried on validation by :func:`tune_ease`; only ``l2`` needs a new inverse."""


@dataclass(frozen=True)
class EASEConfig:
    """The ridge penalty and how a user's recent items are weighted."""

    l2: float = 500.0
    history: int = 200
    decay: float = 1.0


def ease_memory_mb(n_items: int) -> float:
    """Peak memory of a fit: the Gram matrix, its inverse and ``B``, float64 for the solve."""
    return 3 * 8 * n_items**2 / 2**20


def _gram(train: Sequences, n_items: int) -> np.ndarray:
    """``X^T X`` with ``X`` the binary users x items matrix (padding and "no item" left out)."""
    rows = np.concatenate([np.full(len(s), u) for u, s in enumerate(train.items)]) if len(train) else np.empty(0)
    cols = np.concatenate(train.items) if len(train) else np.empty(0, dtype=np.int64)
    keep = cols > NO_ITEM
    x = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(train), n_items))
    x.data[:] = 1.0  # duplicates summed by the constructor: an item counts once per user
    return (x.T @ x).toarray()


@dataclass
class EASE(FullRanking):
    """The fitted dense item-item weights and item popularity (ties, cold items)."""

    weights: np.ndarray
    popularity: np.ndarray
    config: EASEConfig

    @classmethod
    def fit(
        cls, train: Sequences, n_items: int, config: EASEConfig | None = None, *, _gram_matrix: np.ndarray | None = None
    ) -> EASE:
        """Solve the closed form on ``train`` (``config.l2`` on the diagonal; diag(B) = 0)."""
        config = config or EASEConfig()
        gram = _gram(train, n_items) if _gram_matrix is None else _gram_matrix
        g = gram.copy()
        g[np.diag_indices(n_items)] += config.l2
        p = np.linalg.inv(g)
        b = -p / np.diag(p)
        b[np.diag_indices(n_items)] = 0.0
        b[[PAD, NO_ITEM], :] = 0.0
        b[:, [PAD, NO_ITEM]] = 0.0
        popularity = np.diag(gram).astype(np.float64).copy()
        popularity[[PAD, NO_ITEM]] = 0.0
        return cls(b.astype(np.float32), popularity, config)

    def _weights(self, history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct real items of the last ``history`` events and their recency weights (latest = 1)."""
        recent = np.asarray(history)[np.asarray(history) > NO_ITEM][-self.config.history :]
        if not len(recent):
            return recent, np.empty(0, np.float32)
        newest: dict[int, int] = {}
        for age, item in enumerate(recent[::-1].tolist()):
            newest.setdefault(int(item), age)
        items = np.fromiter(newest, dtype=np.int64, count=len(newest))
        ages = np.fromiter(newest.values(), dtype=np.float64, count=len(newest))
        return items, (self.config.decay**ages).astype(np.float32)

    def scores(self, histories: list[np.ndarray]) -> torch.Tensor:
        """(users, items) scores; popularity, scaled far below any score gap, breaks ties."""
        query = np.zeros((len(histories), self.weights.shape[0]), dtype=np.float32)
        for row, h in enumerate(histories):
            items, w = self._weights(h)
            query[row, items] = w
        tie = (self.popularity / (self.popularity.max() + 1.0) * 1e-6).astype(np.float32)
        return torch.from_numpy(query @ self.weights + tie)

    def explain(self, history: np.ndarray, item: int, top: int = 3) -> list[tuple[int, float]]:
        """The recent items that raised ``item``'s score most, with their share of the positive terms."""
        items, w = self._weights(history)
        if not len(items):
            return []
        parts = w * self.weights[items, item]
        total = float(parts[parts > 0].sum())
        if total <= 0:
            return []
        order = np.argsort(-parts)[:top]
        return [(int(items[i]), float(parts[i]) / total) for i in order if parts[i] > 0]


def tune_ease(
    train: Sequences, valid: HeldOut, n_items: int, *, exclude_seen: bool = False, grid: dict[str, tuple] | None = None
) -> tuple[EASE, list[dict[str, Any]]]:
    """Coordinate search over ``grid`` on validation NDCG@10 (``l2`` first): the best model and every trial."""
    grid = grid or EASE_GRID
    gram = _gram(train, n_items)
    fitted: dict[float, EASE] = {}
    best, best_score, trials, seen = EASEConfig(), -1.0, [], {}
    for key in itertools.chain(grid, ("l2",)):
        for value in grid[key]:
            config = replace(best, **{key: value})
            if config not in seen:
                if config.l2 not in fitted:
                    fitted[config.l2] = EASE.fit(train, n_items, EASEConfig(l2=config.l2), _gram_matrix=gram)
                model = replace(fitted[config.l2], config=config)
                seen[config] = model.evaluate(valid, exclude_seen=exclude_seen)["NDCG@10"]
                trials.append({"model": "ease", **asdict(config), "valid_NDCG@10": seen[config]})
                logger.info("EASE %s: valid NDCG@10 %.4f", config, seen[config])
            if seen[config] > best_score:
                best, best_score = config, seen[config]
    return replace(fitted[best.l2], config=best), trials


def save_ease(model: EASE, path) -> None:
    """Write the weights, popularity and config to one ``.npz`` file (no pickles)."""
    with open(path, "wb") as handle:
        np.savez(
            handle,
            weights=model.weights,
            popularity=model.popularity,
            config=np.asarray(json.dumps(asdict(model.config))),
        )


def load_ease(path) -> EASE:
    """Read a file written by :func:`save_ease`."""
    with np.load(path, allow_pickle=False) as blob:
        return EASE(blob["weights"], blob["popularity"], EASEConfig(**json.loads(str(blob["config"]))))
