"""Next-item baselines: global popularity and first-order item-to-item transitions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse

from predictor.ranking import FullRanking
from predictor.sequences import NO_ITEM, PAD, Sequences


@dataclass
class Popularity(FullRanking):
    """Scores every item by its count in the training sequences."""

    counts: np.ndarray

    @classmethod
    def fit(cls, train: Sequences, n_items: int) -> Popularity:
        """Count training occurrences of each item."""
        flat = np.concatenate(train.items) if len(train) else np.empty(0, dtype=np.int64)
        counts = np.bincount(flat, minlength=n_items).astype(np.float64)
        counts[[PAD, NO_ITEM]] = 0.0
        return cls(counts)

    def scores(self, histories: list[np.ndarray]) -> torch.Tensor:
        """The same popularity row for every history."""
        row = torch.as_tensor(self.counts, dtype=torch.float32)
        return row.expand(len(histories), -1)


@dataclass
class Transitions(FullRanking):
    """Scores items by how often they followed the user's last item in training; popularity breaks ties."""

    matrix: sparse.csr_matrix
    popularity: Popularity

    @classmethod
    def fit(cls, train: Sequences, n_items: int) -> Transitions:
        """Count consecutive (item -> next item) pairs in the training sequences."""
        src = [s[:-1] for s in train.items if len(s) > 1]
        dst = [s[1:] for s in train.items if len(s) > 1]
        rows = np.concatenate(src) if src else np.empty(0, dtype=np.int64)
        cols = np.concatenate(dst) if dst else np.empty(0, dtype=np.int64)
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_items, n_items), dtype=np.float32
        )
        return cls(matrix, Popularity.fit(train, n_items))

    def scores(self, histories: list[np.ndarray]) -> torch.Tensor:
        """Transition counts from each history's last item, plus popularity scaled below one count."""
        last = np.array([h[-1] if len(h) else PAD for h in histories], dtype=np.int64)
        counts = self.matrix[last].toarray()
        pop = self.popularity.counts
        tie_break = (pop / (pop.max() + 1.0)).astype(np.float32)
        return torch.from_numpy(counts + tie_break)
