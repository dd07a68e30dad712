"""Full-ranking metrics on hand-built cases where HR, NDCG and MRR are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from predictor.ranking import evaluate_full_ranking, metrics_from_ranks, target_ranks


def test_ranks_count_every_higher_score():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.3], [0.4, 0.3, 0.2, 0.1]])
    assert target_ranks(scores, torch.tensor([2, 0])).tolist() == [1, 0]


def test_ties_count_against_the_target():
    # a constant scorer ranks the target last, not first
    scores = torch.zeros(1, 5)
    assert target_ranks(scores, torch.tensor([3])).tolist() == [4]


def test_hr_ndcg_mrr_known_values():
    ranks = np.array([0, 1, 9, 10, 50])  # 0-based
    m = metrics_from_ranks(ranks, ks=(10,))
    assert m["HR@10"] == pytest.approx(3 / 5)
    expected_ndcg = (1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(11)) / 5
    assert m["NDCG@10"] == pytest.approx(expected_ndcg)
    assert m["MRR@10"] == pytest.approx((1 + 1 / 2 + 1 / 10) / 5)
    assert metrics_from_ranks(ranks, ks=(1,))["HR@1"] == pytest.approx(1 / 5)


def test_full_ranking_excludes_padding_and_optionally_seen_items():
    # columns: 0 = padding (scored highest, must never compete), items 1..4
    table = torch.tensor([[9.0, 0.2, 0.8, 0.6, 0.1], [9.0, 0.9, 0.1, 0.7, 0.3]])
    histories = [np.array([2]), np.array([1])]
    targets = np.array([3, 3])

    def score_rows(rows):
        return table[rows]

    plain = evaluate_full_ranking(score_rows, histories, targets, ks=(1, 2), excluded_columns=(0,))
    assert plain["HR@1"] == 0.0 and plain["HR@2"] == 1.0  # target is 2nd for both users
    seen = evaluate_full_ranking(score_rows, histories, targets, ks=(1,), exclude_seen=True, excluded_columns=(0,))
    assert seen["HR@1"] == 1.0  # the item ranked above it was already in each history
    assert seen["NDCG@1"] == 1.0


def test_exclude_seen_keeps_a_target_that_was_seen_before():
    table = torch.tensor([[0.0, 0.9, 0.1]])
    m = evaluate_full_ranking(
        lambda rows: table[rows], [np.array([1])], np.array([1]), ks=(1,), exclude_seen=True, excluded_columns=(0,)
    )
    assert m["HR@1"] == 1.0
