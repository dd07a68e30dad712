"""EASE serving end to end: `uba train next --serve ease` on a real DuckDB warehouse, then the agent's tool."""

from __future__ import annotations

import json

import numpy as np
import pytest
from langchain_core.messages import ToolMessage
from trained_env import copy_data_dir, run_uba

from predictor import ModelRegistry, NextModel
from predictor.ease import load_ease
from predictor.sequences import NO_ITEM
from tools import ToolDeps, build_tools
from warehouse.readonly import ReadOnlyWarehouse
from warehouse.safe_sql import SafeSql


@pytest.fixture(scope="module")
def ease_dir(trained_data_dir, tmp_path_factory):
    return copy_data_dir(trained_data_dir[0], tmp_path_factory.mktemp("ease-serving"))


_uba = run_uba


def test_unknown_candidate_is_refused_before_training(ease_dir, monkeypatch):
    done = _uba(["train", "next", "--serve", "eaze"], ease_dir, monkeypatch)
    assert done.exit_code == 2 and "unknown next-item model 'eaze'" in done.output and "ease" in done.output
    assert [v.version for v in ModelRegistry(ease_dir / "models").versions("next")] == [1]  # nothing trained


def test_served_ease_predicts_and_explains_through_the_agent_tool(ease_dir, monkeypatch):
    args = ["train", "next", "--serve", "ease", "--max-epochs", "1", "--hidden", "16", "--json"]
    trained = _uba(args, ease_dir, monkeypatch)
    assert trained.exit_code == 0, trained.output
    meta = json.loads(trained.stdout)["metrics"]
    assert meta["serving"] == "ease" and meta["serving_chosen_by"] == "request"
    assert "asked for (serve=ease)" in meta["serving_reason"]
    assert [r["model"] for r in meta["candidates"] if r["serves"]] == ["ease"]

    registry = ModelRegistry(ease_dir / "models")
    version = registry.latest("next")
    assert version.version == 2 and "ease.npz" in version.files
    safe = SafeSql(ReadOnlyWarehouse(f"duckdb:///{ease_dir / 'warehouse.duckdb'}"))
    try:
        user, rows = _busy_user(safe)
        tools = {t.name: t for t in build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe, models=registry))}
        msg: ToolMessage = tools["predict_next"].invoke(
            {"name": "predict_next", "args": {"user_id": user, "k": 5}, "id": "call-1", "type": "tool_call"}
        )
        titles = dict(safe.run("SELECT i.item_id, i.title FROM items AS i", limit=100_000).result.rows)
    finally:
        safe.readonly.close()
    assert msg.status != "error", msg.content
    assert "ease serves, asked for at training" in msg.content and "next v2" in msg.content

    # the same top five, independently: the saved EASE weights applied to the user's items read with SQL
    vocab = NextModel.load(version).trained.vocab
    index = {item: i for i, item in enumerate(vocab.items)}
    history = np.array([index[str(i)] for i in rows if i is not None and str(i) in index], dtype=np.int64)
    scores = load_ease(version.file("ease.npz")).scores([history])[0].numpy()
    scores[: NO_ITEM + 1] = -np.inf
    expected = [vocab.items[i] for i in np.argsort(-scores, kind="stable")[:5]]
    table = msg.artifact.tables[0]
    assert [str(r[table.columns.index("item_id")]) for r in table.rows] == expected

    # every prediction is explained by items of this user's history, shown by their warehouse titles
    touched = {str(i) for i in rows if i is not None}
    cells = [r[table.columns.index("because_of")] for r in table.rows]
    assert all(cells), cells
    for cell in cells:
        for part in cell.split("; "):
            item_id = part.split(" ")[0]
            assert item_id in touched and f"{item_id} ({titles[item_id]})" in part and part.endswith("%")
    assert "Because of recent items" in msg.content and titles[cells[0].split(" ")[0]] in msg.content


def _busy_user(safe) -> tuple[str, list]:
    """A user with many item events (all within the 50 recent events a prediction reads), items oldest first."""
    user = str(
        safe.run(
            "SELECT e.user_id, COUNT(e.item_id) AS n FROM events AS e GROUP BY 1 HAVING COUNT(*) <= 50 "
            "ORDER BY 2 DESC, 1",
            limit=1,
        ).result.rows[0][0]
    )
    rows = safe.run(
        f"SELECT e.item_id FROM events AS e WHERE e.user_id = '{user}' ORDER BY e.ts, e.event_id", limit=1000
    ).result.rows
    return user, [r[0] for r in rows]
