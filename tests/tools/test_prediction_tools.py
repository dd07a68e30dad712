"""Prediction tools over a real DuckDB demo warehouse and real trained models: text, artifacts, errors, scope."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "predictor"))
from trained_env import build_env  # noqa: E402

from predictor import ModelRegistry  # noqa: E402
from tools import ToolDeps, build_tools  # noqa: E402
from tools.artifact import ToolArtifact  # noqa: E402
from warehouse.readonly import ReadOnlyWarehouse  # noqa: E402
from warehouse.safe_sql import SafeSql  # noqa: E402


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    built = build_env(tmp_path_factory.mktemp("tools-predictor"), users=250, days=50, seed=9)
    safe = SafeSql(ReadOnlyWarehouse(built.url))
    yield built, safe
    safe.readonly.close()


def _tools(safe, registry, scope=None):
    deps = ToolDeps(readonly=safe.readonly, safe_sql=safe, user_scope=scope, models=registry)
    return {t.name: t for t in build_tools(deps)}


def call(tool, args: dict) -> ToolMessage:
    return tool.invoke({"name": tool.name, "args": args, "id": "call-1", "type": "tool_call"})


def _active_user(safe) -> str:
    rows = safe.run(
        "SELECT e.user_id, COUNT(*) AS n FROM events AS e GROUP BY 1 ORDER BY 2 DESC, 1", limit=1
    ).result.rows
    return str(rows[0][0])


def test_predict_next_text_artifact_and_citation(env):
    built, safe = env
    user = _active_user(safe)
    msg = call(_tools(safe, built.registry)["predict_next"], {"user_id": user, "k": 4})
    assert "next v1" in msg.content and "Next items:" in msg.content and "%" in msg.content
    art = msg.artifact
    assert isinstance(art, ToolArtifact) and art.tool == "predict_next"
    assert len(art.tables[0].rows) == 4 and art.citations[0].kind == "model" and art.citations[0].ref == "next v1"
    assert art.charts[0].spec["data"][0]["type"] == "bar"
    assert "Next action:" in msg.content


def test_predict_next_names_the_serving_model_and_the_recent_items_behind_each_item(env):
    built, safe = env
    user = _active_user(safe)
    msg = call(_tools(safe, built.registry)["predict_next"], {"user_id": user, "k": 3})
    serving = built.versions["next"].metrics["serving"]
    assert f"{serving} serves, chosen on validation" in msg.content
    table = msg.artifact.tables[0]
    drivers = [row[table.columns.index("because_of")] for row in table.rows]
    history = {
        str(r[0])
        for r in safe.run(
            f"SELECT e.item_id FROM events AS e WHERE e.user_id = '{user}' AND e.item_id IS NOT NULL", limit=10_000
        ).result.rows
    }
    named = [part.split(" ")[0] for cell in drivers if cell for part in cell.split("; ")]
    assert named and set(named) <= history  # every driver is an item this user actually touched
    assert "Because of recent items" in msg.content


def test_unknown_user_and_missing_model_are_messages_not_crashes(env, tmp_path):
    built, safe = env
    msg = call(_tools(safe, built.registry)["predict_next"], {"user_id": "nobody-42"})
    assert msg.status == "error" and "unknown user 'nobody-42'" in msg.content
    empty = _tools(safe, ModelRegistry(tmp_path / "none"))
    for name, args in (("predict_next", {"user_id": "1"}), ("churn_risk", {}), ("forecast", {"metric": "revenue"})):
        msg = call(empty[name], args)
        model = {"predict_next": "next", "churn_risk": "churn", "forecast": "forecast"}[name]
        assert msg.status == "error" and f"run `uba train {model}`" in msg.content


def test_corrupt_model_file_is_an_error_text(env, tmp_path):
    built, safe = env
    registry = ModelRegistry(tmp_path / "models")
    shutil.copytree(built.registry.root / "churn", registry.root / "churn")
    (registry.latest("churn").path / "model.pkl").write_bytes(b"\x80\x04garbage")
    msg = call(_tools(safe, registry)["churn_risk"], {"top_n": 3})
    assert msg.status == "error" and "uba train churn" in msg.content


def test_churn_risk_ranks_segments_and_explains_one_user(env):
    built, safe = env
    tools = _tools(safe, built.registry)
    msg = call(tools["churn_risk"], {"segment": "device", "segment_value": "mobile", "top_n": 5})
    rows = msg.artifact.tables[0].rows
    assert "churn v1" in msg.content and 0 < len(rows) <= 5
    risks = [r[1] for r in rows]
    assert risks == sorted(risks, reverse=True) and all(r[4] == "mobile" for r in rows)
    one = call(tools["churn_risk"], {"user_id": str(rows[0][0])})
    assert f"User '{rows[0][0]}': churn risk" in one.content and one.artifact.citations[0].ref == "churn v1"
    bad = call(tools["churn_risk"], {"segment": "device", "segment_value": "toaster"})
    assert bad.status == "error" and "known values" in bad.content


def test_forecast_tool_intervals(env):
    built, safe = env
    msg = call(_tools(safe, built.registry)["forecast"], {"metric": "active_users", "horizon": 5})
    table = msg.artifact.tables[0]
    assert len(table.rows) == 5 and table.columns[:2] == ["period", "forecast"]
    assert "forecast v1" in msg.content and "80%" in msg.content and "MASE" in msg.content
    assert msg.artifact.citations[0].ref == "forecast v1" and len(msg.artifact.charts[0].spec["data"]) == 4
    too_long = call(_tools(safe, built.registry)["forecast"], {"metric": "revenue", "horizon": 20, "grain": "week"})
    assert too_long.status == "error" and "at most 8" in too_long.content


def test_user_scope_only_allows_the_scoped_user(env):
    built, safe = env
    user = _active_user(safe)
    scoped = _tools(safe, built.registry, scope=user)
    assert call(scoped["predict_next"], {"user_id": user}).status != "error"
    other = call(scoped["predict_next"], {"user_id": "2" if user != "2" else "3"})
    assert other.status == "error" and f"only ask about user {user!r}" in other.content
    assert call(scoped["churn_risk"], {"top_n": 5}).status == "error"
    assert call(scoped["forecast"], {"metric": "revenue"}).status == "error"


def test_no_registry_means_no_prediction_tools(env):
    _, safe = env
    names = {t.name for t in build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe))}
    assert not names & {"predict_next", "churn_risk", "forecast"}
