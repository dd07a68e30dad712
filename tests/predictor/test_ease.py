"""EASE: the closed form, exact explanations, the memory cap, and quality on a real public dataset."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from predictor.baselines import Transitions
from predictor.candidates import score_test, select_next_model
from predictor.ease import EASE, EASEConfig, load_ease, save_ease
from predictor.sequences import Sequences, Vocabulary, leave_one_out

MUSIC = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "amazon-musical-instruments-5core-2014"
    / "reviews_Musical_Instruments_5.json.gz"
)


def _seqs(rows: list[list[int]]) -> Sequences:
    items = [np.array(r, dtype=np.int64) for r in rows]
    return Sequences([str(i) for i in range(len(items))], items, [np.ones_like(s) for s in items])


def test_weights_solve_the_ridge_problem_with_a_zero_diagonal():
    rng = np.random.default_rng(0)
    train = _seqs([list(rng.integers(2, 12, size=rng.integers(2, 7))) for _ in range(80)])
    model = EASE.fit(train, 12, EASEConfig(l2=5.0))
    x = np.zeros((len(train), 12))
    for u, s in enumerate(train.items):
        x[u, s] = 1.0
    b = model.weights.astype(np.float64)
    assert np.allclose(np.diag(b), 0.0)
    # independent check: each column j minimises ||x_j - X b_j||^2 + l2 ||b_j||^2 with b_jj = 0
    for j in range(2, 12):
        others = [i for i in range(2, 12) if i != j]
        a = x[:, others]
        expected = np.linalg.solve(a.T @ a + 5.0 * np.eye(len(others)), a.T @ x[:, j])
        assert np.allclose(b[others, j], expected, atol=1e-4)


def test_scores_are_sums_of_explained_terms_and_round_trip(tmp_path):
    train = _seqs([[2, 3, 4], [2, 4, 5], [3, 4, 2], [5, 3, 4]])
    model = EASE.fit(train, 6, EASEConfig(l2=1.0, history=10, decay=0.5))
    history = np.array([3, 2, 3])  # 3 is the latest: weight 1; 2 weighs 0.5; the older 3 is not counted twice
    scores = model.scores([history])[0].numpy()
    assert scores[4] == pytest.approx(model.weights[3, 4] + 0.5 * model.weights[2, 4], abs=1e-5)
    drivers = model.explain(history, 4)
    assert {i for i, _ in drivers} <= {2, 3} and sum(s for _, s in drivers) == pytest.approx(1.0)
    save_ease(model, tmp_path / "e.npz")
    back = load_ease(tmp_path / "e.npz")
    assert back.config == model.config and np.allclose(back.scores([history]).numpy(), scores)


def test_catalogue_over_the_memory_cap_is_skipped_with_a_reason():
    rng = np.random.default_rng(1)
    split = leave_one_out(_seqs([list(rng.integers(2, 40, size=6)) for _ in range(100)]))
    chosen = select_next_model(split.train, split.valid, 40, ease_max_mb=0.001)
    assert "ease" not in [c.name for c in chosen.candidates] and chosen.ease is None
    row = next(r for r in chosen.table() if r["model"] == "ease")
    assert not row["serves"] and "MB" in row["detail"] and "UBA_PREDICTOR_EASE_MAX_MB" in row["detail"]


def _music() -> tuple[Sequences, Vocabulary]:
    per_user: dict[str, list] = defaultdict(list)
    with gzip.open(MUSIC, "rt") as handle:
        for line in handle:
            r = json.loads(line)
            per_user[r["reviewerID"]].append((r["unixReviewTime"], r["asin"]))
    ordered = {u: [a for _, a in sorted(v, key=lambda t: t[0])] for u, v in per_user.items()}
    vocab = Vocabulary.build([a for v in ordered.values() for a in v], ["review"])
    items = [np.array([vocab.item_index(a) for a in v], dtype=np.int64) for v in ordered.values()]
    return Sequences(list(ordered), items, [np.ones_like(s) for s in items]), vocab


@pytest.mark.skipif(
    not MUSIC.exists(), reason=f"{MUSIC} is absent (public Amazon Musical Instruments, see shared/data)"
)
def test_ease_is_tuned_on_validation_and_beats_transitions_on_held_out_music_users():
    seqs, vocab = _music()
    split = leave_one_out(seqs)
    chosen = select_next_model(split.train, split.valid, vocab.n_items, exclude_seen=True)
    score_test(chosen, split.test, exclude_seen=True)
    ease = chosen.candidate("ease")
    assert len([t for t in chosen.trials if t.get("model") == "ease"]) >= 6
    base = Transitions.fit(split.train, vocab.n_items).evaluate(split.test, exclude_seen=True)["NDCG@10"]
    assert ease.test["NDCG@10"] > 1.03 * base
    assert chosen.candidate(chosen.winner).valid["NDCG@10"] == max(c.valid["NDCG@10"] for c in chosen.candidates)
