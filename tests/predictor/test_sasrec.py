"""SASRec-CE learns real sequential structure, predicts the next event type, and is reproducible."""

from __future__ import annotations

import numpy as np
import torch

from predictor.baselines import Popularity
from predictor.sasrec import SASRecConfig, train_sasrec
from predictor.sequences import Sequences, Vocabulary, leave_one_out

N_ITEMS = 30


def _cyclic(users: int = 120, length: int = 12, seed: int = 0) -> tuple[Sequences, Vocabulary]:
    """Each user walks item i -> i+1 (mod 30) from a random start; even items are 'view', odd 'purchase'."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary.build([str(i) for i in range(N_ITEMS)], ["view", "purchase"])
    items, types = [], []
    for _ in range(users):
        raw = (rng.integers(N_ITEMS) + np.arange(length)) % N_ITEMS
        items.append(np.array([vocab.item_index(str(i)) for i in raw]))
        types.append(np.array([vocab.type_index("purchase" if i % 2 else "view") for i in raw]))
    return Sequences([str(u) for u in range(users)], items, types), vocab


def test_learns_the_successor_rule_and_the_next_event_type():
    torch.set_num_threads(1)
    seqs, vocab = _cyclic()
    split = leave_one_out(seqs)
    config = SASRecConfig(
        hidden=32,
        blocks=1,
        max_epochs=40,
        patience=40,
        lr=5e-3,
        dropout=0.1,
        batch_size=32,
        valid_users=None,
        device="cpu",
    )
    trained = train_sasrec(split.train, split.valid, vocab, config, progress=False)
    ours = trained.evaluate(split.test, ks=(1, 10))
    popular = Popularity.fit(split.train, vocab.n_items).evaluate(split.test, ks=(1, 10))
    assert ours["HR@1"] >= 0.9, ours
    assert popular["HR@1"] < 0.2
    assert ours["type_accuracy"] >= 0.9
    assert trained.best_epoch >= 1 and trained.epochs[-1]["epoch"] <= 40


def test_same_seed_same_model_and_time_budget_stops_training():
    torch.set_num_threads(1)
    seqs, vocab = _cyclic(users=40, length=6)
    split = leave_one_out(seqs)
    config = SASRecConfig(hidden=8, blocks=1, max_epochs=2, batch_size=16, valid_users=None, device="cpu")
    a = train_sasrec(split.train, split.valid, vocab, config, progress=False)
    b = train_sasrec(split.train, split.valid, vocab, config, progress=False)
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    budget = SASRecConfig(
        hidden=8,
        blocks=1,
        max_epochs=1000,
        patience=1000,
        batch_size=16,
        valid_users=None,
        device="cpu",
        max_minutes=0.002,
    )
    stopped = train_sasrec(split.train, split.valid, vocab, budget, progress=False)
    assert stopped.stopped_by.startswith("time budget") and len(stopped.epochs) < 1000


def test_sampled_softmax_variant_trains():
    torch.set_num_threads(1)
    seqs, vocab = _cyclic(users=60, length=8)
    split = leave_one_out(seqs)
    config = SASRecConfig(hidden=16, blocks=1, max_epochs=3, batch_size=16, valid_users=None, device="cpu", negatives=8)
    trained = train_sasrec(split.train, split.valid, vocab, config, progress=False)
    assert np.isfinite(trained.epochs[-1]["loss"])


def test_learning_rate_schedules_change_the_rate_the_optimizer_uses():
    torch.set_num_threads(1)
    seqs, vocab = _cyclic(users=40, length=6)
    split = leave_one_out(seqs)
    base = dict(hidden=8, blocks=1, max_epochs=4, patience=10, batch_size=16, valid_users=None, device="cpu", lr=1e-2)
    constant = train_sasrec(split.train, split.valid, vocab, SASRecConfig(**base), progress=False)
    cosine = train_sasrec(
        split.train, split.valid, vocab, SASRecConfig(**base, lr_schedule="cosine", warmup_steps=2), progress=False
    )
    assert [e["lr"] for e in constant.epochs] == [1e-2] * 4
    rates = [e["lr"] for e in cosine.epochs]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.5e-2
    plateau = train_sasrec(split.train, split.valid, vocab, SASRecConfig(**base, lr_schedule="plateau"), progress=False)
    bad = sum(
        1
        for prev, e in zip(plateau.epochs, plateau.epochs[1:])
        if e["valid_NDCG@10"] <= max(p["valid_NDCG@10"] for p in plateau.epochs[: plateau.epochs.index(e)])
    )
    assert plateau.epochs[-1]["lr"] <= 1e-2 * 0.5 ** max(0, bad - 1) + 1e-12
