"""Next-item candidates compared on validation: popularity, transitions, sequential kNN, EASE, SASRec-CE, a blend.

Every candidate is a scorer ``(histories, types) -> (users, items)`` fitted on the training
prefixes only; the one with the best validation NDCG@10 serves, and test metrics (the last
event, never used for a choice) are reported for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from predictor.baselines import Popularity
from predictor.ease import EASE, ease_memory_mb, tune_ease
from predictor.errors import PredictorError
from predictor.knn import KNNConfig, SequentialKNN, tune_knn
from predictor.ranking import RankingMetrics, evaluate_full_ranking
from predictor.sasrec import TrainedSASRec
from predictor.sequences import NO_ITEM, PAD, HeldOut, Sequences, subsample

logger = logging.getLogger(__name__)

Scorer = Callable[[list[np.ndarray], list[np.ndarray]], torch.Tensor]
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
EASE_MAX_MB = 2048.0
"""Default memory cap of an EASE fit; a larger catalogue skips EASE (Amazon Beauty's 54k items need ~68 GB)."""
CANDIDATES = ("popularity", "transitions", "knn", "ease", "sasrec", "blend")
"""Every candidate's name, in the order the comparison table lists them."""
TRANSITIONS_AS_KNN = KNNConfig(window=1, backward=0.0, source_norm=0.0, target_norm=0.0, history=1, decay=1.0)
"""The first-order transition table written as a neighbour model (same scores), so it can serve."""


def neighbour_probabilities(knn: SequentialKNN, histories: list[np.ndarray]) -> torch.Tensor:
    """kNN scores scaled to sum to one per user (comparable with a softmax)."""
    scores = knn.scores(histories)
    scores[:, [PAD, NO_ITEM]] = 0.0
    return scores / scores.sum(1, keepdim=True).clamp_min(1e-12)


def ease_probabilities(ease: EASE, histories: list[np.ndarray]) -> torch.Tensor:
    """EASE scores with negatives clipped to zero, scaled to sum to one per user (a ranking score)."""
    scores = ease.scores(histories).clamp_min(0.0)
    scores[:, [PAD, NO_ITEM]] = 0.0
    return scores / scores.sum(1, keepdim=True).clamp_min(1e-12)


def sasrec_probabilities(sasrec: TrainedSASRec, histories: list[np.ndarray], types: list[np.ndarray]) -> torch.Tensor:
    """SASRec's softmax over real items, on the CPU."""
    logits = sasrec.score_histories(histories, types)[0].float().cpu()
    logits[:, [PAD, NO_ITEM]] = -torch.inf
    return torch.softmax(logits, 1)


def blend_scorer(knn: SequentialKNN, sasrec: TrainedSASRec, weight: float) -> Scorer:
    """``weight`` x kNN probabilities + (1 - ``weight``) x SASRec probabilities."""
    return lambda h, t: weight * neighbour_probabilities(knn, h) + (1.0 - weight) * sasrec_probabilities(sasrec, h, t)


def evaluate_scorer(
    scorer: Scorer, held: HeldOut, ks: tuple[int, ...] = (10,), *, exclude_seen: bool = False
) -> RankingMetrics:
    """Full-ranking HR/NDCG/MRR of a scorer on held-out next items."""
    return evaluate_full_ranking(
        lambda rows: scorer(held.histories[rows], held.history_types[rows]),
        held.histories,
        held.target_items,
        ks=ks,
        exclude_seen=exclude_seen,
        excluded_columns=(PAD, NO_ITEM),
        batch_size=256,
    )


@dataclass
class Candidate:
    """One fitted candidate: how it scores, how it did on validation, what it is."""

    name: str
    scorer: Scorer
    valid: RankingMetrics
    detail: str
    test: RankingMetrics = field(default_factory=dict)


@dataclass
class Selection:
    """Every candidate, the winner on validation NDCG@10 and why."""

    candidates: list[Candidate]
    winner: str
    reason: str
    knn: SequentialKNN
    transitions: SequentialKNN
    blend_weight: float | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)
    ease: EASE | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    """Candidates not fitted, with the reason (shown in the comparison table)."""

    def candidate(self, name: str) -> Candidate:
        """The candidate called ``name``."""
        return next(c for c in self.candidates if c.name == name)

    def table(self) -> list[dict[str, Any]]:
        """One JSON-ready row per candidate: validation and test metrics, detail, whether it serves."""
        return [
            {
                "model": c.name,
                "serves": c.name == self.winner,
                "detail": c.detail,
                **{f"valid_{k}": round(v, 4) for k, v in c.valid.items() if k != "users"},
                **{f"test_{k}": round(v, 4) for k, v in c.test.items() if k != "users"},
            }
            for c in self.candidates
        ] + [{"model": name, "serves": False, "detail": f"not fitted: {why}"} for name, why in self.skipped.items()]


def select_next_model(
    train: Sequences,
    valid: HeldOut,
    n_items: int,
    sasrec: TrainedSASRec | None = None,
    *,
    exclude_seen: bool = False,
    tune_users: int | None = 8192,
    seed: int = 42,
    ease_max_mb: float = EASE_MAX_MB,
    serve: str | None = None,
) -> Selection:
    """Fit the candidates on ``train``, tune and choose on ``valid`` (NDCG@10); test is scored later.

    EASE is fitted only when its dense fit fits in ``ease_max_mb``; otherwise the table says why not.
    ``serve`` names the candidate to serve instead of the validation winner (every candidate is still
    fitted and reported); :class:`PredictorError` when it is unknown or was not fitted.
    """
    check_candidate(serve)
    tune = subsample(valid, tune_users, np.random.default_rng(seed))
    popularity = Popularity.fit(train, n_items)
    transitions = SequentialKNN.fit(train, n_items, TRANSITIONS_AS_KNN)
    knn, trials = tune_knn(train, tune, n_items, exclude_seen=exclude_seen)

    def ev(scorer: Scorer) -> RankingMetrics:
        return evaluate_scorer(scorer, valid, exclude_seen=exclude_seen)

    c = knn.config
    candidates = [
        Candidate(
            "popularity",
            lambda h, t: popularity.scores(h),
            ev(lambda h, t: popularity.scores(h)),
            "training-count order",
        ),
        Candidate(
            "transitions",
            lambda h, t: transitions.scores(h),
            ev(lambda h, t: transitions.scores(h)),
            "first-order item-to-item counts from the last item",
        ),
        Candidate(
            "knn",
            lambda h, t: knn.scores(h),
            ev(lambda h, t: knn.scores(h)),
            f"sequential item-kNN (window {c.window}, backward {c.backward}, target norm {c.target_norm}, "
            f"last {c.history} items, decay {c.decay}; {len(trials)} settings tried on validation)",
        ),
    ]
    ease, skipped = None, {}
    if ease_memory_mb(n_items) <= ease_max_mb:
        ease, ease_trials = tune_ease(train, tune, n_items, exclude_seen=exclude_seen)
        trials += ease_trials
        e = ease.config
        candidates.append(
            Candidate(
                "ease",
                lambda h, t: ease.scores(h),
                ev(lambda h, t: ease.scores(h)),
                f"EASE (l2 {e.l2:g}, last {e.history} items, decay {e.decay}; "
                f"{len(ease_trials)} settings tried on validation)",
            )
        )
    else:
        skipped["ease"] = (
            f"{n_items - 2:,} items need ~{ease_memory_mb(n_items):,.0f} MB for the dense EASE fit, "
            f"over the {ease_max_mb:,.0f} MB cap (UBA_PREDICTOR_EASE_MAX_MB)"
        )
    weight = None
    if sasrec is not None:
        candidates.append(
            Candidate(
                "sasrec",
                lambda h, t: sasrec.score_histories(h, t)[0].cpu(),
                ev(lambda h, t: sasrec.score_histories(h, t)[0].cpu()),
                f"SASRec-CE, best epoch {sasrec.best_epoch} of {len(sasrec.epochs)}",
            )
        )
        scored = {
            w: evaluate_scorer(blend_scorer(knn, sasrec, w), tune, exclude_seen=exclude_seen)["NDCG@10"]
            for w in BLEND_WEIGHTS
        }
        weight = max(scored, key=scored.get)
        trials += [{"blend_knn_weight": w, "valid_NDCG@10": s} for w, s in scored.items()]
        blend = blend_scorer(knn, sasrec, weight)
        candidates.append(
            Candidate("blend", blend, ev(blend), f"{weight:.1f} x kNN + {1 - weight:.1f} x SASRec-CE probabilities")
        )
    ranked = sorted(candidates, key=lambda cand: -cand.valid["NDCG@10"])
    best, second = ranked[0], ranked[1]
    reason = (
        f"highest validation NDCG@10 ({best.valid['NDCG@10']:.4f} vs {second.name} "
        f"{second.valid['NDCG@10']:.4f}) over {int(best.valid['users'])} validation events"
    )
    if serve is not None and serve != best.name:
        fitted = {c.name: c for c in candidates}
        if serve not in fitted:
            why = skipped.get(serve, "it needs the SASRec-CE model, which was not trained")
            raise PredictorError(f"cannot serve {serve!r}: {why}; choose one of {', '.join(fitted)}")
        reason = (
            f"asked for (serve={serve}); validation NDCG@10 {fitted[serve].valid['NDCG@10']:.4f} vs the best, "
            f"{best.name}, {best.valid['NDCG@10']:.4f}"
        )
        best = fitted[serve]
    return Selection(candidates, best.name, reason, knn, transitions, weight, trials, ease, skipped)


def check_candidate(name: str | None) -> None:
    """:class:`PredictorError` naming the choices when ``name`` is not a candidate (``None`` passes)."""
    if name is not None and name not in CANDIDATES:
        raise PredictorError(f"unknown next-item model {name!r}; choose one of {', '.join(CANDIDATES)}")


def score_test(selection: Selection, test: HeldOut, ks: tuple[int, ...] = (10,), *, exclude_seen: bool = False) -> None:
    """Fill every candidate's test metrics (reported, never used to choose)."""
    for cand in selection.candidates:
        cand.test = evaluate_scorer(cand.scorer, test, ks, exclude_seen=exclude_seen)
