"""Next item and next action from warehouse events: train SASRec-CE + baselines, save, load, predict."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from predictor.baselines import Popularity, Transitions
from predictor.errors import ModelCorrupt, NotEnoughData, UnknownUser
from predictor.registry import ModelRegistry, ModelVersion
from predictor.sasrec import SASRec, SASRecConfig, TrainedSASRec, config_dict, train_sasrec
from predictor.sequences import NO_ITEM, PAD, Sequences, Vocabulary, leave_one_out
from predictor.source import Query, events_frame, user_exists

logger = logging.getLogger(__name__)

PROTOCOL = ("leave-one-out per user (last event = test, second to last = validation, rest = training); "
            "HR@10/NDCG@10 over the FULL item ranking; next event type accuracy")
_FILE = "model.pt"


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


def train_next(query: Query, registry: ModelRegistry, config: SASRecConfig | None = None, *,
               progress: bool = True) -> ModelVersion:
    """Train on every event in the warehouse, evaluate on held-out last events, save a new version."""
    frame = events_frame(query)
    seqs, vocab = sequences_from_events(frame)
    if sum(len(s) >= 4 for s in seqs.items) < 2:
        raise NotEnoughData(f"only {len(frame)} events; the next-item model needs users with 4+ events "
                            "(load data with `uba data demo` or `uba data load`)")
    split = leave_one_out(seqs)
    trained = train_sasrec(split.train, split.valid, vocab, config, progress=progress)
    metrics: dict[str, Any] = {"sasrec": trained.evaluate(split.test)}
    for name, baseline in (("popularity", Popularity.fit(split.train, vocab.n_items)),
                           ("transitions", Transitions.fit(split.train, vocab.n_items))):
        metrics[name] = baseline.evaluate(split.test)
    train_types = np.concatenate(split.train.types) if len(split.train) else np.empty(0, dtype=np.int64)
    majority = int(np.bincount(train_types).argmax()) if train_types.size else 0
    metrics["type_majority_accuracy"] = float(np.mean(split.test.target_types == majority))
    metrics.update(best_epoch=trained.best_epoch, epochs=len(trained.epochs), stopped_by=trained.stopped_by,
                   train_seconds=round(trained.train_seconds, 2), users=len(seqs), items=vocab.n_items - 2)
    popularity = Popularity.fit(seqs, vocab.n_items).counts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _FILE
        torch.save({"state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
                    "config": config_dict(trained.config), "items": vocab.items,
                    "event_types": vocab.event_types, "popularity": popularity.tolist()}, path)
        return registry.save("next", {_FILE: path}, fingerprint=split.train.fingerprint(), metrics=metrics,
                             protocol=PROTOCOL, config=config_dict(trained.config))


@dataclass
class NextModel:
    """A loaded next-item model and the registry version it came from."""

    trained: TrainedSASRec
    popularity: np.ndarray
    version: ModelVersion

    @classmethod
    def load(cls, version: ModelVersion) -> NextModel:
        """Load a saved version; :class:`ModelCorrupt` when its file is damaged or unreadable."""
        path = version.file(_FILE)
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            config = SASRecConfig(**{**blob["config"], "device": "auto"})  # trained on a GPU, served anywhere
            vocab = Vocabulary(list(blob["items"]), list(blob["event_types"]))
            model = SASRec(vocab.n_items, vocab.n_types, config)
            model.load_state_dict(blob["state_dict"])
        except (RuntimeError, KeyError, TypeError, ValueError, EOFError, OSError) as exc:
            raise ModelCorrupt(f"cannot load {version.label} from {str(path)!r} ({exc}); "
                               "retrain with `uba train next`") from exc
        model.to(config.resolved_device()).eval()
        return cls(TrainedSASRec(model, vocab, config), np.asarray(blob["popularity"]), version)


@dataclass
class NextPrediction:
    """Top-k next items and next-event-type probabilities for one user."""

    user_id: str
    items: list[tuple[str, float]]
    event_types: list[tuple[str, float]]
    history_events: int
    cold_start: bool
    model: str
    notes: list[str] = field(default_factory=list)


def predict_next(query: Query, model: NextModel, user_id: str, k: int = 10) -> NextPrediction:
    """Predict what ``user_id`` does next from their latest events; popularity for a user with no history."""
    vocab, cfg = model.trained.vocab, model.trained.config
    recent = events_frame(query, user_id=user_id, last=cfg.max_len)
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
        return NextPrediction(user_id, items, [], len(recent), True, label, notes)
    scores, type_logits = model.trained.score_histories(seqs.items, seqs.types)
    scores[:, [PAD, NO_ITEM]] = -torch.inf
    type_logits[:, PAD] = -torch.inf
    probs = torch.softmax(scores[0].float(), 0)
    top = torch.topk(probs, min(k, vocab.n_items - 2))
    items = [(vocab.items[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)]
    type_probs = torch.softmax(type_logits[0].float(), 0)
    kinds = sorted(((vocab.event_types[i], float(type_probs[i])) for i in range(1, vocab.n_types)),
                   key=lambda kv: -kv[1])
    return NextPrediction(user_id, items, kinds, len(seqs.items[0]), False, label, notes)
