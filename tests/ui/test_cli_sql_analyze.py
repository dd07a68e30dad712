"""``uba sql`` and ``uba analyze`` against a real DuckDB warehouse: tables, JSON with the SQL that ran, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
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
    for args in (
        ["trend", "--interval", "week", "--breakdown", "country"],
        ["funnel", "--steps", "view,add_to_cart,purchase"],
        ["retention", "--period", "day", "--periods", "3"],
        ["paths", "--event-type", "view", "--depth", "2"],
        ["segments", "--dimension", "device"],
        ["user", "u001", "--recent", "3"],
    ):
        out = runner.invoke(app, ["analyze", *args])
        assert out.exit_code == 0, (args, out.output)
        assert "SQL that ran" in out.output


def test_refusals_and_bad_options_exit_cleanly(env):
    variables, _ = env
    environ = {**os.environ, **variables}
    refused = subprocess.run(
        [str(UBA), "sql", "DELETE FROM events"], capture_output=True, text=True, env=environ, timeout=120
    )
    assert refused.returncode == 2 and "DELETE statements are not allowed" in refused.stderr
    bad = subprocess.run(
        [str(UBA), "analyze", "funnel", "--steps", "view"], capture_output=True, text=True, env=environ, timeout=120
    )
    assert bad.returncode == 2 and "--steps" in bad.stderr
    # a command group without its command shows its commands, not a traceback
    bare = subprocess.run([str(UBA), "layer"], capture_output=True, text=True, env=environ, timeout=120)
    assert bare.returncode == 2 and "show" in bare.stdout + bare.stderr and "Traceback" not in bare.stderr


def test_layer_show_lists_what_you_can_ask_and_query_runs_a_spec(env, monkeypatch):
    variables, frames = env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    shown = runner.invoke(app, ["layer", "show"])
    assert shown.exit_code == 0 and " purchases, " in shown.output and "- device: " in shown.output
    out = runner.invoke(app, ["query", '{"measure": "purchases", "dimensions": ["device"]}', "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    merged = frames["events"].merge(frames["users"], on="user_id", how="left")  # events of unknown users count
    gold = merged[merged["event_type"] == "purchase"].groupby("device", dropna=False).size()
    assert {row[0]: row[1] for row in payload["rows"]} == {None if pd.isna(k) else k: v for k, v in gold.items()}
    assert "GROUP BY" in payload["sql"][0]
    bad = runner.invoke(app, ["query", '{"measure": "profit"}'])
    assert bad.exit_code != 0 and "invalid query spec" in bad.output and "measure" in bad.output


def test_a_layer_file_is_checked_and_a_broken_one_refused(env, monkeypatch, tmp_path):
    variables, frames = env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    good = tmp_path / "semantic.yaml"
    good.write_text(
        "measures:\n  paid_orders:\n    description: paid orders\n    entity: orders\n"
        "    agg: count\n    where: status = 'paid'\n",
        encoding="utf-8",
    )
    out = CliRunner().invoke(app, ["layer", "check", str(good)])
    assert out.exit_code == 0 and "valid" in out.output and "1 from the file ran" in out.output
    monkeypatch.setenv("UBA_SEMANTIC_LAYER", str(good))
    out = CliRunner().invoke(app, ["query", '{"measure": "paid_orders"}', "--json"])
    assert json.loads(out.output)["rows"] == [[int((frames["orders"]["status"] == "paid").sum())]]
    broken = tmp_path / "broken.yaml"
    broken.write_text("measures:\n  paid_orders:\n    entity: orders\n    agg: count\n", encoding="utf-8")
    result = subprocess.run(
        [str(UBA), "layer", "check", str(broken)],
        capture_output=True,
        text=True,
        env={**os.environ, **variables},
        timeout=120,
    )
    assert result.returncode != 0 and "measure 'paid_orders' is invalid" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM ROWS FROM (generate_series(1, 2))",
        "SELECT " + "abs(" * 500 + "1" + ")" * 500,
        "SELECT length(string_agg(repeat('x', 100000000), '')) FROM generate_series(1, 30)",
    ],
)
def test_a_query_the_guard_cannot_check_is_a_clean_refusal(env, sql):
    """Measured: these printed a Python traceback (AttributeError, RecursionError) or ran past the timeout."""
    variables, _ = env
    done = subprocess.run(
        [str(UBA), "sql", sql], capture_output=True, text=True, env={**os.environ, **variables}, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip()
