"""Percentiles, bounds on a value and a floor on groups' rows, on DuckDB, PostgreSQL and chdb, against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_env import layer_env
from behavior_data import make_tables
from engines import ENGINES

from warehouse.semantic import LayerError, run_query


@pytest.fixture(scope="module", params=ENGINES)
def env(request, tmp_path_factory):
    frames = make_tables(13, events=4500)
    with layer_env(request.param, tmp_path_factory.mktemp(f"bounds{request.param}"), request, frames) as env:
        yield env


def _run(env, **spec):
    safe, _, layer, model = env
    return run_query(safe, layer, model(**spec))


def _as_loaded(env, sql: str, columns: list[str]) -> pd.DataFrame:
    """Rows as the engine holds them (its types and NULLs), for the pandas side of a comparison."""
    return pd.DataFrame(env[0].readonly.query(sql).rows, columns=columns)


def test_a_percentile_of_events_per_session_interpolates_like_the_median(env):
    events = _as_loaded(env, "SELECT session_id FROM events", ["session_id"])
    per_session = events.groupby("session_id", dropna=False).size().to_numpy()
    for p in (90, 25):
        result = _run(env, measure="median_events_per_session", percentile=p)
        assert float(result.table.iloc[0]["value"]) == pytest.approx(np.percentile(per_session, p), abs=0.01)
        assert f"{p}th percentile of events per session" in result.summary
    median = _run(env, measure="median_events_per_session").table.iloc[0]["value"]
    assert float(median) == pytest.approx(np.percentile(per_session, 50), abs=0.01)


def test_a_percentile_of_another_measure_is_refused_naming_the_ones_that_have_it(env):
    with pytest.raises(LayerError, match="percentile is for median measures.*median_events_per_session"):
        _run(env, measure="avg_events_per_session", percentile=90)


def test_reviews_bounded_by_their_rating(env):
    reviews = env[1]["reviews"]
    for op, keep in (
        ("lte", reviews["rating"] <= 3),
        ("lt", reviews["rating"] < 3),
        ("gte", reviews["rating"] >= 4),
        ("gt", reviews["rating"] > 4),
    ):
        bound = 4 if op.startswith("g") else 3
        result = _run(env, measure="reviews", filters=[{"dimension": "rating", "op": op, "value": bound}])
        assert int(result.table.iloc[0]["value"]) == int(keep.sum()), op
    words = _run(env, measure="reviews", filters=[{"dimension": "rating", "op": "lte", "value": 3}])
    assert "rating at most 3" in words.summary


def test_a_rating_outside_the_listed_ones_is_refused_listing_them(env):
    with pytest.raises(LayerError, match=r"rating has no value '30'; its values: .*5"):
        _run(env, measure="reviews", filters=[{"dimension": "rating", "value": "30"}])


def test_a_floor_keeps_only_groups_with_enough_rows(env):
    frames = env[1]
    reviews = frames["reviews"].merge(frames["items"], on="item_id")
    counts = reviews.groupby("brand").size()
    floor = int(counts.median()) + 1
    kept = counts[counts >= floor].index
    gold = reviews[reviews["brand"].isin(kept)].groupby("brand")["rating"].mean().sort_values(ascending=False)
    result = _run(env, measure="avg_rating", dimensions=["brand"], min_rows=floor, limit=50)
    assert sorted(result.table["brand"]) == sorted(kept)
    assert [round(float(v), 2) for v in result.table["value"]] == [round(v, 2) for v in gold]
    assert f"(groups with at least {floor} reviews)" in result.summary
    with pytest.raises(LayerError, match="min_rows .* needs dimensions"):
        _run(env, measure="avg_rating", min_rows=floor)
