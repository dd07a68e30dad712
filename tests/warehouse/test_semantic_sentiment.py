"""Review sentiment as measures of the semantic layer, on DuckDB, PostgreSQL and chdb, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_env import layer_env, open_loaded
from behavior_data import make_tables
from engines import ENGINES

from warehouse.semantic import build_layer, run_query

SENTIMENT_MEASURES = {"avg_sentiment", "negative_review_share", "positive_review_share", "negative_reviews"}


def _with_sentiment(seed: int) -> dict[str, pd.DataFrame]:
    """Behavior frames plus a ``review_sentiment`` row for most reviews (some left unscored, as before a run)."""
    frames = make_tables(seed, events=4500)
    rng = np.random.default_rng(seed)
    reviews = frames["reviews"]
    scored = reviews[rng.random(len(reviews)) < 0.85]
    score = rng.uniform(-1, 1, len(scored)).round(4)
    frames["review_sentiment"] = pd.DataFrame(
        {
            "review_id": scored["review_id"].to_numpy(),
            "sentiment": np.where(score < -0.3, "negative", np.where(score > 0.3, "positive", "neutral")),
            "score": score,
            "model": "test",
            "text_hash": "h",
        }
    )
    return frames


@pytest.fixture(scope="module", params=ENGINES)
def env(request, tmp_path_factory):
    with layer_env(request.param, tmp_path_factory.mktemp(f"sent{request.param}"), request, _with_sentiment(5)) as env:
        yield env


def _scored(frames) -> pd.DataFrame:
    """Each scored review with its item's attributes (what the measures aggregate), computed by pandas."""
    rows = frames["reviews"].merge(frames["review_sentiment"], on="review_id")
    return rows.merge(frames["items"], on="item_id", how="left")


def _by(result, key: str) -> dict:
    return {
        str(k): float(v) for k, v in zip(result.table[key], result.table["value"]) if k is not None and not pd.isna(k)
    }


def test_average_sentiment_per_category_equals_pandas(env):
    safe, frames, layer, model = env
    assert SENTIMENT_MEASURES <= set(layer.measures)
    gold = _scored(frames).groupby("category")["score"].mean().round(2)
    result = run_query(safe, layer, model(measure="avg_sentiment", dimensions=["category"]))
    assert _by(result, "category") == pytest.approx(gold.to_dict())
    assert "review_sentiment" in result.queries[0]


def test_negative_share_per_month_and_brand_equals_pandas(env):
    safe, frames, layer, model = env
    rows = _scored(frames)
    rows["negative"] = (rows["sentiment"] == "negative").astype(float)
    gold = rows.groupby(rows["ts"].dt.to_period("M"))["negative"].mean().round(4)
    result = run_query(safe, layer, model(measure="negative_review_share", grain="month"))
    got = dict(zip(result.table["month"].astype(str).str[:7], result.table["value"].astype(float)))
    assert got == pytest.approx({str(k): v for k, v in gold.items()})
    by_brand = rows.groupby("brand")["negative"].mean().round(4)
    result = run_query(safe, layer, model(measure="negative_review_share", dimensions=["brand"]))
    assert _by(result, "brand") == pytest.approx(by_brand.to_dict())
    assert "%" in result.summary  # a share is said as a percentage


def test_average_sentiment_per_weekday_numbers_sunday_0_on_every_engine(env):
    safe, frames, layer, model = env
    rows = _scored(frames)
    gold = rows.groupby((rows["ts"].dt.dayofweek + 1) % 7)["score"].mean().round(2)  # pandas: Monday 0
    result = run_query(safe, layer, model(measure="avg_sentiment", dimensions=["weekday"]))
    assert {int(float(k)): v for k, v in _by(result, "weekday").items()} == pytest.approx(gold.to_dict())


def test_negative_review_counts_per_item_in_a_window_with_a_rating_filter(env):
    safe, frames, layer, model = env
    rows = _scored(frames)
    last = frames["events"]["ts"].max().normalize()
    start = last - pd.Timedelta(days=29)
    window = rows[(rows["ts"] >= start) & (rows["ts"] < last + pd.Timedelta(days=1)) & (rows["rating"] <= 3)]
    gold = window[window["sentiment"] == "negative"].groupby("item_id").size()
    result = run_query(
        safe,
        layer,
        model(
            measure="negative_reviews",
            dimensions=["item"],
            last_days=30,
            limit=50,
            filters=[{"dimension": "rating", "op": "lte", "value": 3}],
        ),
    )
    assert {k: int(v) for k, v in _by(result, "item").items()} == gold.to_dict()
    assert "item_title" in result.table.columns  # the item is shown with its title


def test_the_user_scope_sees_only_its_own_reviews_sentiment(env):
    safe, frames, layer, model = env
    rows = _scored(frames)
    uid = rows["user_id"].value_counts().index[0]
    mine = rows[rows["user_id"] == uid]
    result = run_query(safe, layer, model(measure="avg_sentiment"), user_scope=uid)
    assert float(result.table.iloc[0]["value"]) == pytest.approx(round(mine["score"].mean(), 2))
    assert float(result.table.iloc[0]["value"]) != pytest.approx(round(rows["score"].mean(), 2))


def test_a_warehouse_never_scored_has_no_sentiment_measures(tmp_path):
    safe, _ = open_loaded("duckdb", tmp_path, None, make_tables(3))
    try:
        layer = build_layer(safe.readonly)
    finally:
        safe.readonly.close()
    assert not SENTIMENT_MEASURES & set(layer.measures) and "avg_rating" in layer.measures


def test_every_demonstrated_sentiment_call_runs(env):
    from datetime import date

    from warehouse.semantic.demonstrations import layer_demonstrations

    safe, _, layer, model = env
    demos = [d for d in layer_demonstrations(layer, date(2026, 4, 10)) if d.args["measure"] in SENTIMENT_MEASURES]
    assert {d.args["measure"] for d in demos} == SENTIMENT_MEASURES
    assert any("of reviews that mention" in d.question for d in demos)
    ran = 0
    for d in demos:
        if "<" in str(d.args):  # a slot for a word or an id, filled from a question
            continue
        assert run_query(safe, layer, model(**d.args)).summary, d
        ran += 1
    assert ran > 40
