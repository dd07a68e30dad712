"""Full-ranking evaluation: the rank of each held-out item among all items, and HR/NDCG/MRR at k."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from predictor.sequences import NO_ITEM, PAD, HeldOut

__all__ = ["RankingMetrics", "evaluate_full_ranking", "metrics_from_ranks", "target_ranks"]

RankingMetrics = dict[str, float]


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each row's target among all columns; ties count against the target.

    ``scores`` is (users, items) with excluded items at ``-inf``; ``targets`` is (users,).
    An item scored equal to the target is ranked ahead of it, so a constant scorer gets no
    credit from lucky tie-breaking.
    """
    target_scores = scores.gather(1, targets.view(-1, 1))
    ahead = (scores >= target_scores).sum(dim=1) - 1
    return ahead


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = (10,)) -> RankingMetrics:
    """HR@k, NDCG@k and MRR@k (one relevant item per user) from 0-based ranks."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no ranks to evaluate; the evaluation split is empty")
    out: RankingMetrics = {}
    for k in ks:
        hit = ranks < k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0).mean())
        out[f"MRR@{k}"] = float(np.where(hit, 1.0 / (ranks + 1.0), 0.0).mean())
    out["users"] = float(ranks.size)
    return out


def evaluate_full_ranking(
    score_rows: Callable[[slice], torch.Tensor],
    histories: list[np.ndarray],
    targets: np.ndarray,
    *,
    ks: Sequence[int] = (10,),
    exclude_seen: bool = False,
    excluded_columns: Sequence[int] = (0,),
    batch_size: int = 1024,
) -> RankingMetrics:
    """Score every item for each history, rank the target over the FULL item set, average HR/NDCG/MRR.

    ``score_rows(rows)`` returns (rows, n_columns) scores for that slice of users; columns in
    ``excluded_columns`` (padding, "no item") never compete, and with ``exclude_seen`` neither
    do items already in the user's history (except the target itself if it was seen).
    """
    ranks: list[np.ndarray] = []
    targets = np.asarray(targets, dtype=np.int64)
    for start in range(0, len(histories), batch_size):
        chunk = histories[start : start + batch_size]
        with torch.no_grad():
            scores = score_rows(slice(start, start + len(chunk))).float().clone()
            tgt = torch.as_tensor(targets[start : start + batch_size], device=scores.device)
            if excluded_columns:
                scores[:, list(excluded_columns)] = -torch.inf
            if exclude_seen:
                rows = np.concatenate([np.full(len(h), i) for i, h in enumerate(chunk)]) if chunk else np.empty(0)
                cols = np.concatenate(list(chunk)) if chunk else np.empty(0)
                if rows.size:
                    r = torch.as_tensor(rows, dtype=torch.long, device=scores.device)
                    c = torch.as_tensor(cols, dtype=torch.long, device=scores.device)
                    keep = scores.gather(1, tgt.view(-1, 1)).squeeze(1)
                    scores[r, c] = -torch.inf
                    scores.scatter_(1, tgt.view(-1, 1), keep.view(-1, 1))
            ranks.append(target_ranks(scores, tgt).cpu().numpy())
    return metrics_from_ranks(np.concatenate(ranks) if ranks else np.empty(0), ks)


class FullRanking:
    """``evaluate`` for a scorer of histories (``scores(histories) -> (users, items)``): full-ranking
    metrics of the held-out items, padding and "no item" never ranked."""

    def scores(self, histories: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, held: HeldOut, ks: tuple[int, ...] = (10,), *, exclude_seen: bool = False) -> RankingMetrics:
        """Full-ranking metrics of the held-out items."""
        return evaluate_full_ranking(
            lambda rows: self.scores(held.histories[rows]),
            held.histories,
            held.target_items,
            ks=ks,
            exclude_seen=exclude_seen,
            excluded_columns=(PAD, NO_ITEM),
            batch_size=256,
        )
