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


def test_a_count_where_the_filters_hold_as_a_share_of_all_rows(env):
    safe = env[0]
    rows = safe.readonly.query("SELECT ts, event_type FROM events").rows
    events = pd.DataFrame(rows, columns=["ts", "event_type"])
    purchases = events[events["event_type"] == "purchase"]
    weekend = pd.to_datetime(purchases["ts"]).dt.dayofweek.isin([5, 6])  # pandas: Monday 0 ... Sunday 6
    result = _run(
        env,
        measure="purchases",
        share_of_all=True,
        filters=[{"dimension": "weekday", "op": "in", "value": ["0", "6"]}],
    )
    row = result.table.iloc[0]
    assert (int(row["part"]), int(row["whole"])) == (int(weekend.sum()), len(purchases))
    assert float(row["value"]) == pytest.approx(weekend.mean(), abs=0.0001)
    assert f"{100 * weekend.mean():.1f}% ({int(weekend.sum()):,} of {len(purchases):,})" in result.summary
    assert len(result.queries) == 2  # the filtered rows and all of them, both shown


def test_a_share_of_all_rows_per_group_ranks_by_the_share(env):
    frames = env[1]
    events = frames["events"].merge(frames["users"], on="user_id")
    buyers = events[events["event_type"] == "purchase"].drop_duplicates("user_id")
    gold = buyers.groupby("channel")["device"].apply(lambda d: (d == "mobile").mean()).sort_values(ascending=False)
    result = _run(
        env,
        measure="users_who_purchased",
        share_of_all=True,
        dimensions=["channel"],
        filters=[{"dimension": "device", "value": "mobile"}],
    )
    assert list(result.table["channel"]) == list(gold.index)
    assert [round(float(v), 4) for v in result.table["value"]] == [round(v, 4) for v in gold]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"measure": "avg_rating", "filters": [{"dimension": "rating", "value": "5"}]}, "counts and sums"),
        ({"measure": "purchases"}, "needs a filter"),
    ],
)
def test_a_share_of_all_rows_that_cannot_be_said_is_refused_naming_why(env, spec, message):
    with pytest.raises(LayerError, match=message):
        _run(env, share_of_all=True, **spec)


def test_a_rate_says_how_many_did_not(env):
    result = _run(env, measure="conversion_rate", base_event="signup", target_event="active")
    row = result.table.iloc[0]
    did_not = int(row["base_users"]) - int(row["both_users"])
    assert f"; {did_not:,} were never active)" in result.summary


def test_first_time_buyers_and_the_share_who_bought_again(env):
    safe, _, layer, _ = env
    rows = safe.readonly.query("SELECT user_id, ts, event_type FROM events WHERE event_type = 'purchase'").rows
    purchases = pd.DataFrame(rows, columns=["user_id", "ts", "event_type"]).assign(ts=lambda f: pd.to_datetime(f["ts"]))
    last = pd.to_datetime(safe.readonly.query("SELECT MAX(ts) FROM events").rows[0][0]).normalize()
    start = last - pd.Timedelta(days=29)
    per_user = purchases.groupby("user_id")["ts"].agg(["min", "count"])
    cohort = per_user[per_user["min"] >= start]
    result = _run(
        env, measure="conversion_rate", base_event="purchase", target_event="purchase", base_first=True, last_days=30
    )
    row = result.table.iloc[0]
    assert (int(row["base_users"]), int(row["both_users"])) == (len(cohort), int((cohort["count"] >= 2).sum()))
    assert "for the first time" in result.summary and "again" in result.summary
    everyone = _run(env, measure="conversion_rate", base_event="purchase", target_event="purchase", last_days=30)
    assert int(everyone.table.iloc[0]["base_users"]) >= len(cohort)  # who bought in the window, first or not


def test_first_time_users_need_a_window_and_an_event(env):
    with pytest.raises(LayerError, match=r"base_first needs a window \(last_days or start/end\)"):
        _run(env, measure="conversion_rate", base_event="purchase", target_event="purchase", base_first=True)
    with pytest.raises(LayerError, match="base_first is for an event"):
        _run(env, measure="conversion_rate", base_event="signup", target_event="active", base_first=True, last_days=7)
