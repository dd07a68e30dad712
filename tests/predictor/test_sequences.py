"""Leave-one-out split and baselines: no test or validation interaction reaches training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from predictor.baselines import Popularity, Transitions
from predictor.next_item import sequences_from_events
from predictor.sequences import NO_ITEM, Sequences, leave_one_out, left_pad


def _seqs() -> Sequences:
    items = [np.array([2, 3, 4, 5, 6]), np.array([3, 4, 7]), np.array([2, 9])]
    return Sequences(["a", "b", "c"], items, [np.ones_like(s) for s in items])


def test_leave_one_out_holds_out_the_last_two_events():
    split = leave_one_out(_seqs())
    assert [s.tolist() for s in split.train.items] == [[2, 3, 4], [3]]
    assert split.test.target_items.tolist() == [6, 7, 9]
    assert split.valid.target_items.tolist() == [5, 4]
    assert [h.tolist() for h in split.test.histories] == [[2, 3, 4, 5], [3, 4], [2]]
    for user, train in zip(split.train.users, split.train.items, strict=True):
        full = dict(zip(_seqs().users, _seqs().items, strict=True))[user]
        assert len(train) == len(full) - 2  # neither held-out event is in training


def test_baselines_never_count_held_out_items():
    split = leave_one_out(_seqs())
    pop = Popularity.fit(split.train, 10)
    assert pop.counts[[5, 6, 7, 9]].tolist() == [0, 0, 0, 0]  # only held-out occurrences
    trans = Transitions.fit(split.train, 10)
    assert trans.matrix[4].sum() == 0  # 4 -> 5 is a validation transition
    assert trans.matrix[3, 4] == 1


def test_transitions_rank_the_observed_successor_first():
    train = Sequences(["a", "b"], [np.array([2, 3, 2, 3]), np.array([4, 2, 3])], [np.ones(4, int), np.ones(3, int)])
    scores = Transitions.fit(train, 6).scores([np.array([2])])
    assert int(scores[0].argmax()) == 3


def test_events_without_item_are_context_not_targets():
    frame = pd.DataFrame(
        {
            "user_id": ["u"] * 4,
            "event_type": ["view", "search", "add_to_cart", "purchase"],
            "item_id": ["x", None, "x", "x"],
        }
    )
    seqs, vocab = sequences_from_events(frame)
    assert seqs.items[0].tolist() == [vocab.item_index("x"), NO_ITEM, vocab.item_index("x"), vocab.item_index("x")]
    assert [vocab.event_types[t] for t in seqs.types[0]] == ["view", "search", "add_to_cart", "purchase"]


def test_left_pad_keeps_the_latest_events():
    assert left_pad([np.array([1, 2, 3]), np.array([4])], 2).tolist() == [[2, 3], [0, 4]]
