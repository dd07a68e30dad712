"""``uba train``, ``uba models list`` and ``uba predict`` against a real data dir (DuckDB + registry)."""

from __future__ import annotations

import json

import pytest
from trained_env import copy_data_dir, run_uba


@pytest.fixture(scope="module")
def data_dir(trained_data_dir, tmp_path_factory):
    return copy_data_dir(trained_data_dir[0], tmp_path_factory.mktemp("cli-data"))


_run = run_uba


def test_models_list_and_predict_json(data_dir, monkeypatch):
    listed = _run(["models", "list", "--json"], data_dir, monkeypatch)
    assert listed.exit_code == 0, listed.output
    assert sorted(v["name"] for v in json.loads(listed.stdout)) == ["churn", "forecast", "next"]
    churn = _run(["predict", "churn", "--top", "3", "--json"], data_dir, monkeypatch)
    payload = json.loads(churn.stdout)
    assert (
        churn.exit_code == 0 and payload["citations"][0]["ref"] == "churn v1" and len(payload["tables"][0]["rows"]) == 3
    )
    user = payload["tables"][0]["rows"][0][0]
    nxt = _run(["predict", "next", str(user), "-k", "3", "--json"], data_dir, monkeypatch)
    assert nxt.exit_code == 0, nxt.output
    assert json.loads(nxt.stdout)["citations"][0]["ref"] == "next v1"
    fc = _run(["predict", "forecast", "purchases", "--horizon", "3"], data_dir, monkeypatch)
    assert fc.exit_code == 0 and "forecast v1" in fc.stdout


def test_train_forecast_adds_a_version(data_dir, monkeypatch):
    trained = _run(["train", "forecast", "--json"], data_dir, monkeypatch)
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["version"] == 2


def test_missing_model_and_unknown_user_exit_cleanly(tmp_path, data_dir, monkeypatch):
    unknown = _run(["predict", "next", "no-such-user"], data_dir, monkeypatch)
    assert unknown.exit_code == 2 and "unknown user 'no-such-user'" in unknown.output
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "warehouse.duckdb").symlink_to(data_dir / "warehouse.duckdb")
    missing = _run(["predict", "churn"], empty, monkeypatch)
    assert missing.exit_code == 2 and "uba train churn" in missing.output


def test_train_next_prints_the_candidates_and_records_which_serves(data_dir, monkeypatch):
    trained = _run(["train", "next", "--max-epochs", "1", "--hidden", "16"], data_dir, monkeypatch)
    assert trained.exit_code == 0, trained.output
    assert "next-item candidates" in trained.output and "serving" in trained.output
    listed = json.loads(_run(["models", "list", "--json"], data_dir, monkeypatch).stdout)
    meta = max((v for v in listed if v["name"] == "next"), key=lambda v: v["version"])["metrics"]
    rows = {r["model"]: r for r in meta["candidates"]}
    assert set(rows) == {"popularity", "transitions", "knn", "ease", "sasrec", "blend"}
    assert [m for m, r in rows.items() if r["serves"]] == [meta["serving"]]
    assert rows[meta["serving"]]["valid_NDCG@10"] == max(r["valid_NDCG@10"] for r in rows.values())
    assert meta["serving"] in trained.output.split("serving")[1]
