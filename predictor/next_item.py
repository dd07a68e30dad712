"""Next item and next action from warehouse events: train the candidates, serve the best, save, load, predict."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from predictor.baselines import Popularity
from predictor.candidates import (
    EASE_MAX_MB,
    blend_scorer,
    check_candidate,
    ease_probabilities,
    neighbour_probabilities,
    sasrec_probabilities,
    score_test,
    select_next_model,
)
from predictor.ease import EASE, load_ease, save_ease
from predictor.errors import ModelCorrupt, NotEnoughData, UnknownUser
from predictor.knn import SequentialKNN, load_neighbours, save_neighbours
from predictor.registry import ModelRegistry, ModelVersion
from predictor.sasrec import SASRec, SASRecConfig, TrainedSASRec, config_dict, train_sasrec
from predictor.sequences import NO_ITEM, PAD, Sequences, Vocabulary, leave_one_out
from predictor.source import Query, events_frame, user_exists

logger = logging.getLogger(__name__)

PROTOCOL = (
    "leave-one-out per user (last event = test, second to last = validation, rest = training); "
    "HR@10/NDCG@10 over the FULL item ranking; next event type accuracy; the candidate with the best "
    "validation NDCG@10 serves"
)
_FILE = "model.pt"
_NEIGHBOURS = "neighbours.npz"
_EASE = "ease.npz"
_RECENT = 50
"""Most recent events read per prediction (the kNN's longest history setting)."""
_OCCLUDED = 10
"""Most recent item events whose removal is tried when explaining a SASRec or blend prediction."""


def sequences_from_events(frame: pd.DataFrame, vocab: Vocabulary | None = None) -> tuple[Sequences, Vocabulary]:
    """One (item, event type) sequence per user from an events frame sorted by user and time."""
    if vocab is None:
        vocab = Vocabulary.build(frame["item_id"].dropna().astype(str).unique(), sorted(frame["event_type"].unique()))
    item_index = {item: i for i, item in enumerate(vocab.items)}
    type_index = {t: i for i, t in enumerate(vocab.event_types)}
    items = frame["item_id"].map(lambda v: NO_ITEM if v is None or pd.isna(v) else item_index.get(str(v), -1))
    types = frame["event_type"].map(lambda v: type_index.get(str(v), -1))
    keep = (items >= 0) & (types >= 0)
    users = frame["user_id"].astype(str)[keep].to_numpy()
    items, types = items[keep].to_numpy(np.int64), types[keep].to_numpy(np.int64)
    if len(users) == 0:
        return Sequences([], [], []), vocab
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    bounds = np.r_[starts, len(users)]
    return Sequences(
        [users[s] for s in starts],
        [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
        [types[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
    ), vocab


def train_next(
    query: Query,
    registry: ModelRegistry,
    config: SASRecConfig | None = None,
    *,
    progress: bool = True,
    ease_max_mb: float = EASE_MAX_MB,
    serve: str | None = None,
) -> ModelVersion:
    """Train every candidate on the warehouse's events, serve the best on validation, save a new version.

    EASE is a candidate when its dense fit needs at most ``ease_max_mb`` MB. ``serve`` names the
    candidate to serve instead of the validation winner (checked before any training).
    """
    check_candidate(serve)
    config = config or SASRecConfig()
    frame = events_frame(query)
    seqs, vocab = sequences_from_events(frame)
    if sum(len(s) >= 4 for s in seqs.items) < 2:
        raise NotEnoughData(
            f"only {len(frame)} events; the next-item model needs users with 4+ events "
            "(load data with `uba data demo` or `uba data load`)"
        )
    split = leave_one_out(seqs)
    trained = train_sasrec(split.train, split.valid, vocab, config, progress=progress)
    selection = select_next_model(
        split.train,
        split.valid,
        vocab.n_items,
        trained,
        exclude_seen=config.exclude_seen,
        seed=config.seed,
        ease_max_mb=ease_max_mb,
        serve=serve,
    )
    score_test(selection, split.test, exclude_seen=config.exclude_seen)
    metrics: dict[str, Any] = {c.name: c.test for c in selection.candidates}
    metrics["sasrec"] = trained.evaluate(split.test)
    train_types = np.concatenate(split.train.types) if len(split.train) else np.empty(0, dtype=np.int64)
    majority = int(np.bincount(train_types).argmax()) if train_types.size else 0
    metrics["type_majority_accuracy"] = float(np.mean(split.test.target_types == majority))
    metrics.update(
        serving=selection.winner,
        serving_reason=selection.reason,
        serving_chosen_by="request" if serve else "validation",
        candidates=selection.table(),
        knn_config=asdict(selection.knn.config),
        ease_config=asdict(selection.ease.config) if selection.ease else None,
        not_fitted=selection.skipped,
        blend_knn_weight=selection.blend_weight,
        best_epoch=trained.best_epoch,
        epochs=len(trained.epochs),
        stopped_by=trained.stopped_by,
        train_seconds=round(trained.train_seconds, 2),
        users=len(seqs),
        items=vocab.n_items - 2,
    )
    logger.info("next-item model: %s serves (%s)", selection.winner, selection.reason)
    popularity = Popularity.fit(seqs, vocab.n_items).counts
    neighbours = selection.transitions if selection.winner == "transitions" else selection.knn
    with tempfile.TemporaryDirectory() as tmp:
        path, npz = Path(tmp) / _FILE, Path(tmp) / _NEIGHBOURS
        torch.save(
            {
                "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
                "config": config_dict(trained.config),
                "items": vocab.items,
                "event_types": vocab.event_types,
                "popularity": popularity.tolist(),
            },
            path,
        )
        save_neighbours(neighbours, npz)
        files = {_FILE: path, _NEIGHBOURS: npz}
        if selection.winner == "ease":
            files[_EASE] = Path(tmp) / _EASE
            save_ease(selection.ease, files[_EASE])
        return registry.save(
            "next",
            files,
            fingerprint=split.train.fingerprint(),
            metrics=metrics,
            protocol=PROTOCOL,
            config={**config_dict(trained.config), "serving": selection.winner},
        )


@dataclass
class NextModel:
    """A loaded next-item model: SASRec (also the next-event-type head), the serving scorer, its version."""

    trained: TrainedSASRec
    popularity: np.ndarray
    version: ModelVersion
    serving: str = "sasrec"
    neighbours: SequentialKNN | None = None
    blend_weight: float | None = None
    ease: EASE | None = None

    @classmethod
    def load(cls, version: ModelVersion) -> NextModel:
        """Load a saved version; :class:`ModelCorrupt` when its file is damaged or unreadable."""
        path = version.file(_FILE)
        serving = str(version.metrics.get("serving", "sasrec"))
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            config = SASRecConfig(**{**blob["config"], "device": "auto"})  # trained on a GPU, served anywhere
            vocab = Vocabulary(list(blob["items"]), list(blob["event_types"]))
            model = SASRec(vocab.n_items, vocab.n_types, config)
            model.load_state_dict(blob["state_dict"])
            neighbours = load_neighbours(version.file(_NEIGHBOURS)) if _NEIGHBOURS in version.files else None
            ease = load_ease(version.file(_EASE)) if _EASE in version.files else None
        except (RuntimeError, KeyError, TypeError, ValueError, EOFError, OSError) as exc:
            raise ModelCorrupt(
                f"cannot load {version.label} from {str(path)!r} ({exc}); retrain with `uba train next`"
            ) from exc
        if serving in ("knn", "transitions", "blend") and neighbours is None:
            raise ModelCorrupt(
                f"{version.label} serves {serving!r} but has no {_NEIGHBOURS}; retrain with `uba train next`"
            )
        if serving == "ease" and ease is None:
            raise ModelCorrupt(f"{version.label} serves 'ease' but has no {_EASE}; retrain with `uba train next`")
        model.to(config.resolved_device()).eval()
        return cls(
            TrainedSASRec(model, vocab, config),
            np.asarray(blob["popularity"]),
            version,
            serving,
            neighbours,
            version.metrics.get("blend_knn_weight"),
            ease,
        )

    def item_scores(self, histories: list[np.ndarray], types: list[np.ndarray]) -> torch.Tensor:
        """(users, items) scores of the serving model, each row summing to one over real items."""
        if self.serving in ("knn", "transitions"):
            return neighbour_probabilities(self.neighbours, histories)
        if self.serving == "ease":
            return ease_probabilities(self.ease, histories)
        if self.serving == "blend":
            return blend_scorer(self.neighbours, self.trained, float(self.blend_weight))(histories, types)
        if self.serving == "popularity":
            row = torch.as_tensor(self.popularity / (self.popularity.sum() or 1.0), dtype=torch.float32)
            return row.expand(len(histories), -1).clone()
        return sasrec_probabilities(self.trained, histories, types)

    def drivers(self, history: np.ndarray, types: np.ndarray, item: int, top: int = 3) -> list[tuple[int, float]]:
        """The recent items behind ``item``'s score and each one's share of the credit.

        Neighbour models and EASE: each recent item's exact term in the score. SASRec and the blend: how much
        the score drops when that one event is left out of the history (occlusion).
        """
        if self.serving in ("knn", "transitions"):
            return self.neighbours.explain(history, item, top)
        if self.serving == "ease":
            return self.ease.explain(history, item, top)
        if self.serving == "popularity" or not len(history):
            return []
        positions = range(max(0, len(history) - self.trained.config.max_len), len(history))
        keep = [p for p in positions if history[p] > NO_ITEM][-_OCCLUDED:]
        variants = [history, *(np.delete(history, p) for p in keep)]
        kinds = [types, *(np.delete(types, p) for p in keep)]
        scored = self.item_scores(variants, kinds)[:, item].numpy()
        credit: dict[int, float] = {}
        for p, drop in zip(keep, scored[0] - scored[1:], strict=True):
            if drop > 0:
                credit[int(history[p])] = credit.get(int(history[p]), 0.0) + float(drop)
        total = sum(credit.values())
        return [(i, c / total) for i, c in sorted(credit.items(), key=lambda kv: -kv[1])[:top]] if total else []


@dataclass
class NextPrediction:
    """Top-k next items (with the recent items behind each) and next-event-type probabilities for one user."""

    user_id: str
    items: list[tuple[str, float]]
    event_types: list[tuple[str, float]]
    history_events: int
    cold_start: bool
    model: str
    notes: list[str] = field(default_factory=list)
    serving: str = "sasrec"
    drivers: dict[str, list[tuple[str, float]]] = field(default_factory=dict)


def predict_next(query: Query, model: NextModel, user_id: str, k: int = 10) -> NextPrediction:
    """Predict what ``user_id`` does next from their latest events; popularity for a user with no history."""
    vocab, cfg = model.trained.vocab, model.trained.config
    recent = events_frame(query, user_id=user_id, last=max(cfg.max_len, _RECENT))
    if recent.empty and not user_exists(query, user_id):
        raise UnknownUser(f"unknown user {user_id!r}: no such user in the warehouse; check the id (user_profile)")
    seqs, _ = sequences_from_events(recent.assign(user_id=user_id), vocab)
    notes = []
    dropped = len(recent) - (len(seqs.items[0]) if len(seqs) else 0)
    if dropped:
        notes.append(f"{dropped} recent events involve items or event types the model has not seen; ignored")
    label = model.version.label
    if not len(seqs):
        order = np.argsort(-model.popularity)[:k]
        total = model.popularity.sum() or 1.0
        items = [(vocab.items[i], float(model.popularity[i] / total)) for i in order if i not in (PAD, NO_ITEM)]
        notes.append("cold start: the user has no usable history, so these are the most popular items")
        return NextPrediction(user_id, items, [], len(recent), True, label, notes, "popularity")
    history, types = seqs.items[0], seqs.types[0]
    probs = model.item_scores([history], [types])[0].float()
    probs[[PAD, NO_ITEM]] = 0.0
    top = torch.topk(probs, min(k, vocab.n_items - 2))
    items = [(vocab.items[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)]
    drivers = {
        vocab.items[i]: [(vocab.items[j], share) for j, share in model.drivers(history, types, i)]
        for i in top.indices.tolist()
    }
    _, type_logits = model.trained.score_histories([history[-cfg.max_len :]], [types[-cfg.max_len :]])
    type_logits[:, PAD] = -torch.inf
    type_probs = torch.softmax(type_logits[0].float().cpu(), 0)
    kinds = sorted(
        ((vocab.event_types[i], float(type_probs[i])) for i in range(1, vocab.n_types)), key=lambda kv: -kv[1]
    )
    return NextPrediction(user_id, items, kinds, len(history), False, label, notes, model.serving, drivers)
