"""``uba ask`` and ``uba chat`` through the console app, on the rule-driven fake backend."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ui.cli import app

RULES = """
- match: reviews
  tool: review_stats
  args: {}
  answer: "Review counts: $result"
- match: hello
  answer: "Hello! Ask me about the behavior data."
"""


@pytest.fixture
def cli_env(demo_url, tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    monkeypatch.setenv("UBA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("UBA_WAREHOUSE_URL", demo_url)
    monkeypatch.setenv("UBA_LLM_BACKEND", "fake")
    monkeypatch.setenv("UBA_LLM_FAKE_RULES", str(rules))


def test_ask_json_returns_the_answer_contract(cli_env, facts, analyst_parts):
    result = CliRunner().invoke(app, ["ask", "how many reviews are there?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["status"] == "ok" and answer["trace"][0]["tool"] == "review_stats"
    assert answer["tables"] and answer["usage"]["llm_calls"] == 2 and answer["thread_id"]
    assert set(answer) >= {"text", "tables", "charts", "citations", "trace", "usage"}


def test_ask_prints_text_tables_and_sources(cli_env, analyst_parts):
    result = CliRunner().invoke(app, ["ask", "how many reviews are there?"])
    assert result.exit_code == 0, result.output
    assert "Review counts:" in result.output and "LLM calls" in result.output


def test_chat_streams_and_remembers_the_thread(cli_env, analyst_parts):
    result = CliRunner().invoke(app, ["chat", "--thread", "c1"], input="hello\nhow many reviews?\n\n")
    assert result.exit_code == 0, result.output
    assert "Hello! Ask me about the behavior data." in result.output
    assert "… review_stats(" in result.output
    from agent.factory import build_analyst, open_checkpointer
    from agent.settings import Settings

    settings = Settings()
    analyst = build_analyst(settings, checkpointer=open_checkpointer(settings))
    assert [q for q, _ in analyst.history("c1")] == ["hello", "how many reviews?"]
