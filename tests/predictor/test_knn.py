"""Sequential item-kNN: exact neighbour scores, the transition table as a special case, explanations,
validation-only selection, save/load and the public sequence-file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from predictor.baselines import Transitions
from predictor.candidates import TRANSITIONS_AS_KNN, score_test, select_next_model
from predictor.knn import KNNConfig, SequentialKNN, load_neighbours, save_neighbours, tune_knn
from predictor.sequences import PAD, Sequences, leave_one_out, read_sequence_file

BEAUTY = Path(__file__).resolve().parents[3] / "shared" / "data" / "amazon-beauty-bert4rec-format" / "beauty.txt"


def _seqs(rows: list[list[int]]) -> Sequences:
    items = [np.array(r, dtype=np.int64) for r in rows]
    return Sequences([str(i) for i in range(len(items))], items, [np.ones_like(s) for s in items])


def test_scores_are_the_counted_neighbour_sums():
    train = _seqs([[2, 3, 4], [2, 4], [3, 2]])
    config = KNNConfig(window=2, backward=0.5, source_norm=0.0, target_norm=0.0, history=2, decay=0.5)
    knn = SequentialKNN.fit(train, 6, config)
    # pairs: 2->3 (d1), 3->4 (d1), 2->4 (d2: 0.5), 2->4 (d1), 3->2 (d1); backward adds 0.5 x the reverse
    sim = knn.similarity.toarray()
    assert sim[2, 4] == pytest.approx(1.5) and sim[4, 2] == pytest.approx(0.75)
    assert sim[2, 3] == pytest.approx(1.0 + 0.5) and sim[3, 2] == pytest.approx(1.0 + 0.5)
    scores = knn.scores([np.array([3, 2])])[0].numpy()
    # latest item 2 weighs 1, item 3 weighs 0.5
    assert scores[4] == pytest.approx(1.0 * 1.5 + 0.5 * 1.0, rel=1e-4)
    drivers = knn.explain(np.array([3, 2]), 4)
    assert [i for i, _ in drivers] == [2, 3] and drivers[0][1] == pytest.approx(1.5 / 2.0)


def test_transition_table_is_a_special_case():
    rng = np.random.default_rng(0)
    train = _seqs([list(rng.integers(2, 30, size=rng.integers(2, 9))) for _ in range(200)])
    histories = [np.array(s[:-1]) for s in train.items[:50]]
    a = Transitions.fit(train, 30).scores(histories)
    b = SequentialKNN.fit(train, 30, TRANSITIONS_AS_KNN).scores(histories)
    a[:, PAD] = b[:, PAD] = 0
    # the same order of items for every user (ties broken by popularity in both)
    order = lambda s: s.sort(dim=1, descending=True, stable=True).indices[:, :10]  # noqa: E731
    assert (order(a) == order(b)).all()


def test_save_and_load_round_trip(tmp_path):
    train = _seqs([[2, 3, 4, 5], [3, 5, 2]])
    knn = SequentialKNN.fit(train, 7)
    save_neighbours(knn, tmp_path / "n.npz")
    back = load_neighbours(tmp_path / "n.npz")
    assert back.config == knn.config
    assert np.allclose(back.scores([np.array([2, 3])]).numpy(), knn.scores([np.array([2, 3])]).numpy())


def test_read_both_public_formats(tmp_path):
    (tmp_path / "pairs.txt").write_text("7 a\n7 b\n9 b\n7 c\n9 a\n")
    (tmp_path / "lines.txt").write_text("7 a b c\n9 b a\n")
    p, vp = read_sequence_file(tmp_path / "pairs.txt", "pairs")
    u, vu = read_sequence_file(tmp_path / "lines.txt", "user-per-line")
    as_ids = lambda s, v: [[v.items[i] for i in row] for row in s.items]  # noqa: E731
    assert p.users == u.users == ["7", "9"]
    assert as_ids(p, vp) == as_ids(u, vu) == [["a", "b", "c"], ["b", "a"]]
    with pytest.raises(ValueError, match="user-per-line"):
        read_sequence_file(tmp_path / "lines.txt", "pairs")
    with pytest.raises(ValueError, match="'csv'"):
        read_sequence_file(tmp_path / "lines.txt", "csv")


def test_selection_uses_validation_only():
    # users repeat the chain 2->3->4->...; the test item of every user is scrambled, validation is not
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(300):
        start = int(rng.integers(2, 20))
        chain = [2 + (start + k) % 20 for k in range(int(rng.integers(4, 8)))]
        rows.append([*chain, int(rng.integers(2, 22))])
    split = leave_one_out(_seqs(rows))
    chosen = select_next_model(split.train, split.valid, 22)
    before = {c.name: dict(c.valid) for c in chosen.candidates}
    score_test(chosen, split.test)
    assert chosen.winner in ("knn", "transitions") and chosen.candidate("popularity").valid["NDCG@10"] < 0.5
    assert {c.name: c.valid for c in chosen.candidates} == before  # scoring test changed nothing chosen
    assert chosen.candidate(chosen.winner).valid["NDCG@10"] == max(c.valid["NDCG@10"] for c in chosen.candidates)
    assert all(c.test["NDCG@10"] < c.valid["NDCG@10"] for c in chosen.candidates if c.name != "popularity")


@pytest.mark.skipif(not BEAUTY.exists(), reason=f"{BEAUTY} is absent (public Amazon Beauty, see shared/data)")
def test_knn_beats_transitions_on_held_out_beauty_users():
    seqs, vocab = read_sequence_file(BEAUTY, "pairs", max_users=8000)
    split = leave_one_out(seqs)
    grid = {
        "window": (1, 8),
        "backward": (0.0, 0.5),
        "source_norm": (0.5,),
        "target_norm": (0.0, 0.5),
        "history": (10,),
        "decay": (0.6,),
    }
    knn, trials = tune_knn(split.train, split.valid, vocab.n_items, exclude_seen=True, grid=grid)
    assert len(trials) >= 4
    ours = knn.evaluate(split.test, exclude_seen=True)["NDCG@10"]
    base = Transitions.fit(split.train, vocab.n_items).evaluate(split.test, exclude_seen=True)["NDCG@10"]
    assert ours > 1.05 * base
