"""`uba index reviews` and `uba reviews search|stats` on a data dir built from real components."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.vectorstore.conftest import load_reviews, review_rows
from ui.cli import app


def test_index_then_search_and_stats_from_the_cli(tmp_path):
    from warehouse import Warehouse

    wh = Warehouse.open(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.create_schema()
    load_reviews(wh, review_rows())
    wh.dispose()
    env = {"UBA_DATA_DIR": str(tmp_path), "UBA_WAREHOUSE_URL": None, "UBA_CHROMA_URL": None}
    runner = CliRunner()

    first = runner.invoke(app, ["index", "reviews", "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["embedded"] == 60
    second = runner.invoke(app, ["index", "reviews", "--json"], env=env)
    assert json.loads(second.stdout)["embedded"] == 0 and json.loads(second.stdout)["unchanged"] == 60

    found = runner.invoke(
        app,
        [
            "reviews",
            "search",
            "battery door broke",
            "--category",
            "Effects",
            "--max-rating",
            "4",
            "--since",
            "2024-02-01",
            "-k",
            "3",
            "--json",
        ],
        env=env,
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and all(
        h["category"] == "Effects" and h["rating"] <= 4 and h["date"] >= "2024-02-01" for h in hits
    )
    assert "battery door" in hits[0]["snippet"]

    stats = runner.invoke(app, ["reviews", "stats", "--item", "i-ped", "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout)["total"] == 12

    bad = runner.invoke(app, ["reviews", "search", "amp", "--min-rating", "5", "--max-rating", "1"], env=env)
    assert bad.exit_code != 0
