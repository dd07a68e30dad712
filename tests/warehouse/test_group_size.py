"""The minimum group size of breakdowns over users, on real DuckDB, PostgreSQL and chdb warehouses."""

from __future__ import annotations

import pandas as pd
import pytest
from analytics_env import layer_env
from behavior_data import make_tables
from engines import ENGINES

from warehouse.semantic import run_query


def _three_in_nz(seed: int) -> dict[str, pd.DataFrame]:
    """Behavior frames in which exactly three users (all active) live in NZ."""
    frames = make_tables(seed)
    active = frames["events"]["user_id"].value_counts().index
    nz = [u for u in active if u in set(frames["users"]["user_id"])][:3]
    users = frames["users"]
    users.loc[users["user_id"].isin(nz), "country"] = "NZ"
    return frames


@pytest.fixture(scope="module", params=ENGINES)
def env(request, tmp_path_factory):
    with layer_env(request.param, tmp_path_factory.mktemp(f"k{request.param}"), request, _three_in_nz(7)) as env:
        yield env


def _by_country(frames) -> pd.DataFrame:
    return frames["events"].merge(frames["users"][["user_id", "country"]], on="user_id", how="left")


def _row(result, country: str) -> pd.Series:
    return result.table[result.table["country"] == country].iloc[0]


def test_a_group_of_three_users_is_suppressed_at_five_and_shown_at_zero(env):
    safe, frames, layer, model = env
    events = _by_country(frames)
    gold = events.groupby("country").size()
    spec = model(measure="events", dimensions=["country"])
    shown = run_query(safe, layer, spec)
    assert int(_row(shown, "NZ")["value"]) == gold["NZ"] and "suppressed" not in shown.table.columns
    assert "Suppressed" not in shown.summary
    hidden = run_query(safe, layer, spec, min_group_users=5)
    nz = _row(hidden, "NZ")
    assert pd.isna(nz["value"]) and bool(nz["suppressed"])  # kept as a row, marked, its value withheld
    big = [c for c, n in events.groupby("country")["user_id"].nunique().items() if n >= 5]
    assert {c: int(_row(hidden, c)["value"]) for c in big} == {c: int(gold[c]) for c in big}
    assert not hidden.table[hidden.table["country"].isin(big)]["suppressed"].any()
    assert "NZ: suppressed" in hidden.summary and hidden.summary.index("NZ: suppressed") > hidden.summary.index(
        "(none)"
    )
    assert hidden.table.iloc[-1]["country"] == "NZ"  # listed last: its place in the ranking would hint at its value
    assert f"1 of {len(hidden.table)} rows were computed from fewer than 5 users" in hidden.summary
    assert str(gold["NZ"]) not in hidden.summary.split("NZ: ")[1].split(";")[0]


def test_the_floor_counts_users_not_rows_for_every_measure_shape(env):
    safe, frames, layer, model = env
    for spec in (
        model(measure="active_users", dimensions=["country"]),
        model(measure="avg_events_per_user", dimensions=["country"]),
        model(measure="purchase_session_share", dimensions=["country"]),
        model(measure="conversion_rate", base_event="view", target_event="purchase", dimensions=["country"]),
    ):
        result = run_query(safe, layer, spec, min_group_users=4)
        assert bool(_row(result, "NZ")["suppressed"]), spec.measure
        assert pd.isna(_row(result, "NZ")["value"]), spec.measure
        if spec.measure == "conversion_rate":  # the counts behind a rate are withheld too
            assert pd.isna(_row(result, "NZ")["base_users"]) and pd.isna(_row(result, "NZ")["both_users"])
        assert not run_query(safe, layer, spec, min_group_users=3).table.get("suppressed", pd.Series([False])).any()


def test_a_filter_narrowing_a_total_to_three_users_is_suppressed(env):
    safe, _, layer, model = env
    spec = model(measure="events", filters=[{"dimension": "country", "value": "NZ"}])
    result = run_query(safe, layer, spec, min_group_users=5)
    assert pd.isna(result.table.iloc[0]["value"]) and result.summary.count("suppressed") == 1
    assert "the only row was computed from fewer than 5 users" in result.summary


def test_a_scoped_callers_own_rows_are_not_suppressed(env):
    safe, frames, layer, model = env
    uid = frames["events"]["user_id"].value_counts().index[0]
    mine = frames["events"][frames["events"]["user_id"] == uid]
    result = run_query(safe, layer, model(measure="events", grain="month"), user_scope=uid, min_group_users=5)
    assert result.table["value"].sum() == len(mine) and "suppressed" not in result.table.columns


def test_a_funnel_segment_of_three_users_is_suppressed(env):
    from warehouse.analytics import FunnelRequest, funnel

    safe, frames, _, _ = env
    request = FunnelRequest(steps=["view", "purchase"], breakdown="country")
    open_ = funnel(safe, request)
    hidden = funnel(safe, request, min_group_users=5)
    nz = hidden.table[hidden.table["segment"] == "NZ"]
    assert len(nz) == 2 and nz["suppressed"].all() and nz["users"].isna().all() and nz["conversion"].isna().all()
    others = hidden.table[hidden.table["segment"] != "NZ"]
    entered = open_.table[open_.table["step"] == 1].set_index("segment")["users"]
    assert all(entered[s] >= 5 for s in others["segment"])  # every shown segment had at least 5 users
    assert others["users"].tolist() == open_.table[open_.table["segment"] != "NZ"]["users"].tolist()
    assert "Suppressed: 1 of" in hidden.summary


def test_retention_cohorts_below_the_floor_are_suppressed_and_left_out_of_the_pooled_share(env):
    from warehouse.analytics import RetentionRequest, retention

    safe, frames, _, _ = env
    request = RetentionRequest(period="week", periods=3)
    full = retention(safe, request)
    smallest = int(full.table["cohort_size"].min())
    hidden = retention(safe, request, min_group_users=smallest + 1)
    small = full.table["cohort_size"] <= smallest
    assert hidden.table.loc[small.to_numpy(), "suppressed"].all()
    assert hidden.table.loc[small.to_numpy(), ["cohort_size", "period_0"]].isna().all().all()
    kept = hidden.table.loc[~small.to_numpy(), "cohort_size"].astype(int).tolist()
    assert kept == full.table.loc[~small.to_numpy(), "cohort_size"].tolist()
    assert (
        f"({sum(kept):,} users" in hidden.summary and f"{int(small.sum())} of {len(full.table)} rows" in hidden.summary
    )


def test_the_agents_tools_take_the_floor_from_their_dependencies(env):
    from tools import ToolDeps, build_tools

    safe, _, layer, _ = env
    tools = {
        t.name: t for t in build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe, layer=layer, min_group_users=5))
    }
    text = tools["funnel"].invoke({"steps": ["view", "purchase"], "breakdown": "country"})
    assert "computed from fewer than 5 users" in text
    text = tools["query"].invoke({"measure": "active_users", "dimensions": ["country"]})
    assert "NZ: suppressed" in text


def test_a_comparison_with_the_window_before_suppresses_both_windows(env):
    safe, frames, layer, model = env
    spec = model(measure="events", dimensions=["country"], last_days=20, compare_previous=True)
    open_ = run_query(safe, layer, spec)
    hidden = run_query(safe, layer, spec, min_group_users=5)
    nz = _row(hidden, "NZ")
    assert pd.isna(nz["value"]) and pd.isna(nz["previous"]) and pd.isna(nz["change"])
    de, de_open = _row(hidden, "DE"), _row(open_, "DE")
    assert (de["value"], de["previous"], de["change"]) == (de_open["value"], de_open["previous"], de_open["change"])
