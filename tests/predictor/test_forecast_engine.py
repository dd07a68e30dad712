"""Holt-Winters against seasonal naive on series with known structure; metric series equal pandas on both engines."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from predictor.forecast import HoltWinters, backtest, metric_series, seasonal_naive
from predictor.intervals import conformal_quantile
from predictor.source import warehouse_query


def test_trend_plus_week_beats_seasonal_naive_and_intervals_cover():
    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = 100 + 1.5 * t + 20 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 3, len(t))
    result = backtest(y, 7, 7, folds=4)
    assert result["mase_holt_winters"] < 0.5 * result["mase_seasonal_naive"]
    assert result["coverage95"] >= 0.7


def test_seasonal_naive_repeats_the_last_week():
    y = np.arange(14, dtype=float)
    assert seasonal_naive(y, 7, 9).tolist() == [7, 8, 9, 10, 11, 12, 13, 7, 8]


def test_constant_series_is_forecast_exactly():
    model = HoltWinters.fit(np.full(60, 5.0), 7, 7)
    out = model.forecast(np.full(60, 5.0), 7)
    assert np.allclose(out["forecast"], 5.0) and np.allclose(out["hi95"], 5.0)


def test_metric_series_matches_pandas(warehouse):
    start = datetime(2026, 3, 2)  # a Monday
    rng = np.random.default_rng(1)
    n = 400
    ts = [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 21, n)]
    kinds = rng.choice(["view", "purchase"], n)
    users = rng.choice(["a", "b", "c", "d"], n)
    value = np.round(rng.uniform(1, 50, n), 2)
    table = pa.table(
        {
            "event_id": np.arange(n, dtype=np.int64),
            "user_id": users,
            "session_id": users,
            "ts": ts,
            "event_type": kinds,
            "item_id": ["x"] * n,
            "value": value,
        }
    )
    with warehouse.begin() as conn:
        warehouse.bulk_insert(conn, "events", table)
    query = warehouse_query(warehouse)
    frame = table.to_pandas()
    frame["day"] = frame["ts"].dt.floor("D")
    buys = frame[frame["event_type"] == "purchase"]
    got = metric_series(query, "revenue", "day")
    want = buys.groupby("day")["value"].sum().reindex(got.index, fill_value=0.0)
    assert np.allclose(got.to_numpy(), want.to_numpy())
    active = metric_series(query, "active_users", "day")
    assert np.array_equal(
        active.to_numpy(), frame.groupby("day")["user_id"].nunique().reindex(active.index, fill_value=0).to_numpy()
    )
    weekly = metric_series(query, "purchases", "week")
    assert weekly.index[0].weekday() == 0 and weekly.sum() <= len(buys)


def _coverage_on_fresh_data(make_series, seeds: range, n_train: int = 84, horizon: int = 7) -> tuple[float, float]:
    hits80, hits95 = [], []
    for seed in seeds:
        y = make_series(np.random.default_rng(seed), n_train + horizon)
        out = HoltWinters.fit(y[:n_train], 7, horizon).forecast(y[:n_train], horizon)
        actual = y[n_train:]
        hits80 += list((actual >= out["lo80"]) & (actual <= out["hi80"]))
        hits95 += list((actual >= out["lo95"]) & (actual <= out["hi95"]))
    return float(np.mean(hits80)), float(np.mean(hits95))


def test_intervals_cover_at_the_nominal_rate_under_known_noise():
    def weekly_with_gaussian_noise(rng, n):
        t = np.arange(n)
        return 200 + 30 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 8, n)

    cover80, cover95 = _coverage_on_fresh_data(weekly_with_gaussian_noise, range(24))
    assert 0.72 <= cover80 <= 0.88, cover80
    assert 0.89 <= cover95 <= 0.995, cover95


def test_intervals_follow_noise_that_grows_with_the_level():
    def growing_with_relative_noise(rng, n):
        t = np.arange(n)
        level = 50 * np.exp(t / 60) * (1 + 0.3 * np.sin(2 * np.pi * t / 7))
        return level * (1 + rng.normal(0, 0.1, n))

    cover80, cover95 = _coverage_on_fresh_data(growing_with_relative_noise, range(100, 124))
    assert 0.72 <= cover80 <= 0.9, cover80
    assert 0.89 <= cover95 <= 1.0, cover95


def test_conformal_quantile_takes_the_finite_sample_order_statistic():
    scores = np.arange(1.0, 10.0)  # n = 9
    assert conformal_quantile(scores, 0.9) == 9.0  # ceil(10 * 0.9) = 9th smallest
    assert conformal_quantile(scores, 0.8) == 8.0
    assert conformal_quantile(scores, 0.1) == 1.0  # floor(10 * 0.1) = 1st smallest
    assert conformal_quantile(scores, 0.975) == 9.0  # beyond the sample: the largest
    assert conformal_quantile(np.empty(0), 0.9) == 0.0
