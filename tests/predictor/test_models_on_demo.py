"""Training and inference on a generated demo warehouse (real DuckDB file): next item, churn, forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictor import (
    ModelCorrupt,
    NextModel,
    UnknownUser,
    forecast_metric,
    load_churn,
    load_forecast,
    predict_next,
    warehouse_query,
)
from predictor.features import FEATURES, churn_labels, user_features
from predictor.source import events_frame
from warehouse import Warehouse


@pytest.fixture(scope="module")
def env(trained_data_dir):
    return trained_data_dir[1]


@pytest.fixture(scope="module")
def query(env):
    warehouse = Warehouse.open(env.url)
    yield warehouse_query(warehouse)
    warehouse.dispose()


def test_next_model_records_protocol_metrics_and_fingerprint(env):
    v = env.versions["next"]
    assert v.label == "next v1" and len(v.fingerprint) == 64 and "FULL item ranking" in v.protocol
    for name in ("sasrec", "popularity", "transitions"):
        assert 0.0 <= v.metrics[name]["HR@10"] <= 1.0 and v.metrics[name]["users"] > 100
    assert 0.0 < v.metrics["sasrec"]["type_accuracy"] <= 1.0 and 0.0 < v.metrics["type_majority_accuracy"] < 1.0


def test_predict_next_for_an_active_user(env, query):
    model = NextModel.load(env.registry.latest("next"))
    events = events_frame(query)
    user = events["user_id"].value_counts().index[0]
    pred = predict_next(query, model, str(user), k=5)
    assert len(pred.items) == 5 and not pred.cold_start and pred.model == "next v1"
    probs = [p for _, p in pred.items]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    catalogue = set(query("SELECT i.item_id FROM items AS i")["item_id"].astype(str))
    assert {i for i, _ in pred.items} <= catalogue
    assert {t for t, _ in pred.event_types} <= set(events["event_type"]) and sum(
        p for _, p in pred.event_types
    ) == pytest.approx(1.0, abs=1e-4)


def test_cold_start_and_unknown_user(env, query):
    model = NextModel.load(env.registry.latest("next"))
    users = set(query("SELECT u.user_id FROM users AS u")["user_id"].astype(str))
    idle = sorted(users - set(events_frame(query)["user_id"].astype(str)))
    if idle:
        pred = predict_next(query, model, idle[0], k=3)
        assert pred.cold_start and len(pred.items) == 3 and "cold start" in pred.notes[0]
    with pytest.raises(UnknownUser, match="'no-such-user'"):
        predict_next(query, model, "no-such-user", k=3)


def test_churn_features_ignore_everything_after_the_cutoff(query):
    events = events_frame(query)
    cutoff = events["ts"].min() + (events["ts"].max() - events["ts"].min()) / 2
    before = user_features(events, cutoff)
    later = events["ts"] >= cutoff
    scrambled = events.copy()
    scrambled.loc[later, "event_type"] = "purchase"
    scrambled.loc[later, "value"] = 1e6
    extra = events[later].assign(user_id="ghost")
    assert before.equals(user_features(pd.concat([scrambled, extra]), cutoff))
    assert list(before.columns) == list(FEATURES)
    # labels come only from the window after the cutoff
    labels = churn_labels(events, before.index, cutoff, 7, "churn")
    window = events[(events["ts"] >= cutoff) & (events["ts"] < cutoff + pd.Timedelta(days=7))]
    assert set(labels[labels == 0].index) == set(window["user_id"].astype(str)) & set(before.index)


def test_churn_model_is_calibrated_scored_and_explained(env):
    v = env.versions["churn"]
    m = v.metrics
    assert m["auc"] > 0.6 and 0 <= m["brier"] < m["brier_base_rate"]
    assert pd.Timestamp(m["train_cutoff"]) < pd.Timestamp(m["eval_cutoff"])
    assert sum(r["users"] for r in m["reliability"]) == m["eval_users"]
    model, scores = load_churn(env.registry.latest("churn"))
    assert scores["risk"].between(0, 1).all() and len(scores) > 50
    assert {"country", "device", "channel", "drivers", "as_of"} <= set(scores.columns)


def test_forecast_series_and_intervals(env, query):
    v = env.versions["forecast"]
    daily = v.metrics["purchases/day"]
    assert daily["folds"] >= 1 and daily["mase_holt_winters"] > 0 and daily["mase_seasonal_naive"] > 0
    models = load_forecast(env.registry.latest("forecast"))
    table = forecast_metric(query, models, "revenue", "day", 10)
    assert len(table) == 10
    assert (table["lo95"] <= table["lo80"]).all() and (table["lo80"] <= table["forecast"]).all()
    assert (table["forecast"] <= table["hi80"]).all() and (table["hi80"] <= table["hi95"]).all()


def test_damaged_model_file_is_a_clear_error(env, tmp_path):
    import shutil

    from predictor import ModelRegistry

    registry = ModelRegistry(tmp_path / "models")
    shutil.copytree(env.registry.root / "next", registry.root / "next")
    path = registry.latest("next").path / "model.pt"
    path.write_bytes(np.random.default_rng(0).bytes(200))
    with pytest.raises(ModelCorrupt, match="uba train next"):
        NextModel.load(registry.latest("next"))
