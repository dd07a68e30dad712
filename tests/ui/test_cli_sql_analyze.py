"""``uba sql`` and ``uba analyze`` against a real DuckDB warehouse: tables, JSON with the SQL that ran, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "warehouse"))
from behavior_data import load, make_tables  # noqa: E402

from ui.cli import app  # noqa: E402
from warehouse import Warehouse  # noqa: E402

UBA = Path(sys.executable).parent / "uba"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    frames = make_tables(31)
    writer = Warehouse.open(url)
    load(writer, frames)
    writer.dispose()
    return {"UBA_DATA_DIR": str(root), "UBA_WAREHOUSE_URL": url}, frames


def test_sql_prints_rows_and_the_sql_that_ran(env, monkeypatch):
    variables, frames = env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    out = CliRunner().invoke(app, ["sql", "SELECT COUNT(*) AS n FROM events", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["rows"] == [[len(frames["events"])]]
    assert payload["sql"].endswith("LIMIT 200") and 'main."events"' in payload["sql"]


def test_analyze_commands_print_tables_and_json(env, monkeypatch):
    variables, frames = env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    out = runner.invoke(app, ["analyze", "top-items", "--metric", "events", "--limit", "3", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    counts = frames["events"].dropna(subset=["item_id"])["item_id"].value_counts()
    assert payload["rows"][0][4] == counts.max()
    assert payload["sql"] and payload["chart"]["data"]
    for args in (["trend", "--interval", "week", "--breakdown", "country"],
                 ["funnel", "--steps", "view,add_to_cart,purchase"],
                 ["retention", "--period", "day", "--periods", "3"],
                 ["paths", "--event-type", "view", "--depth", "2"],
                 ["segments", "--dimension", "device"],
                 ["user", "u001", "--recent", "3"]):
        out = runner.invoke(app, ["analyze", *args])
        assert out.exit_code == 0, (args, out.output)
        assert "SQL that ran" in out.output


def test_refusals_and_bad_options_exit_cleanly(env):
    variables, _ = env
    environ = {**os.environ, **variables}
    refused = subprocess.run([str(UBA), "sql", "DELETE FROM events"], capture_output=True, text=True, env=environ,
                             timeout=120)
    assert refused.returncode == 2 and "DELETE statements are not allowed" in refused.stderr
    bad = subprocess.run([str(UBA), "analyze", "funnel", "--steps", "view"], capture_output=True, text=True,
                         env=environ, timeout=120)
    assert bad.returncode == 2 and "--steps" in bad.stderr
