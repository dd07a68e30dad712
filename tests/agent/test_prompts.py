"""Every prompt renders; the rendering is pinned by snapshots so prompt edits are reviewable diffs.

Regenerate after an intended prompt change: ``UBA_UPDATE_SNAPSHOTS=1 pytest tests/agent/test_prompts.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from agent import prompt

SNAPSHOTS = Path(__file__).parent / "snapshots"
EXAMPLE_TOOLS = {e["tool"]: None for e in yaml.safe_load(prompt._text("examples.yaml"))}
CONTEXT = dict(
    dialect="duckdb",
    first_date="2026-08-03",
    last_date="2026-10-31",
    schema_summary="Tables (rows): columns\n- events (1,234): event_id, ts",
    max_steps=6,
    row_limit=20,
)


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UBA_UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"snapshot {name} is missing; create it with UBA_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; review, then UBA_UPDATE_SNAPSHOTS=1"


def test_system_prompt_snapshot():
    _check("system_prompt.txt", prompt.system_prompt(schemas=EXAMPLE_TOOLS, **CONTEXT))


def test_feedback_and_failure_texts_snapshot():
    values = dict(
        name="trend",
        tools="trend, run_sql",
        problems="interval: bad",
        numbers="42",
        detail="boom",
        max_steps=6,
        seconds=180,
        what="profit margin",
    )
    lines = []
    for key in ("unknown_tool", "invalid_args", "empty_reply", "echo_reply", "ungrounded"):
        template = prompt._data("feedback.yaml")[key]
        wanted = {k: v for k, v in values.items() if f"${k}" in template}
        lines.append(f"[{key}] {prompt.feedback(key, **wanted)}")
    for question in ("How many?", "多少？"):
        lines.append(f"[answer_hint {question}] {prompt.feedback('answer_hint', question=question)}")
        lines.append(
            f"[followup_hint {question}] {prompt.feedback('followup_hint', question=question, last_call='query {}')}"
        )
        for key, template in prompt._data("feedback.yaml")["failure"]["en"].items():
            wanted = {k: v for k, v in values.items() if f"${k}" in template}
            lines.append(f"[failure.{key} {question}] {prompt.failure(key, question, **wanted)}")
    _check("feedback.txt", "\n".join(lines) + "\n")


def test_the_static_part_comes_first_and_does_not_change_with_the_data():
    a = prompt.system_prompt(schemas=EXAMPLE_TOOLS, **CONTEXT)
    b = prompt.system_prompt(schemas=EXAMPLE_TOOLS, **{**CONTEXT, "last_date": "2027-01-01", "schema_summary": "x"})
    static = a.split("## The data")[0]
    assert b.startswith(static) and len(static) > 1000


def test_substitution_is_strict():
    with pytest.raises(prompt.PromptError, match="missing variables"):
        prompt.render("context.md", dialect="duckdb")
    with pytest.raises(prompt.PromptError, match="unexpected"):
        prompt.feedback("empty_reply", surplus=1)


def test_every_example_fits_the_real_tool_it_calls(analyst_parts):
    from agent.tool_runner import ToolRunner

    runner = ToolRunner(analyst_parts["tools_for_scope"](None))
    for example in yaml.safe_load(prompt._text("examples.yaml")):
        if example["tool"] in runner.names and runner.schema(example["tool"]) is not None:
            runner.schema(example["tool"]).model_validate(example["args"])
    rendered = analyst_parts["system_text"]
    assert all(f"Call: {name} " in rendered for name in runner.names if name in EXAMPLE_TOOLS)


def test_the_prompt_lists_what_you_can_ask_with_the_values_filters_must_spell(analyst_parts, facts):
    """The semantic layer is the data context: its measures, and each few-valued dimension with its values."""
    text = analyst_parts["system_text"].split("## What you can ask", 1)[1]
    line = next(x for x in text.splitlines() if x.startswith("- order_status: "))
    assert sorted(line.split("[", 1)[1].rstrip("]").split(", ")) == sorted(facts["statuses"])
    measures = {
        name
        for line in text.split("Dimensions", 1)[0].splitlines()
        if line.startswith("- ")
        for name in line[2:].split(":", 1)[0].split(", ")
    }
    assert {"purchases", "users_who_purchased", "revenue", "median_events_per_session"} <= measures
    assert "- device: " in text and "- category: " in text
    brand = next(x for x in text.splitlines() if x.startswith("- brand: "))
    assert ("[" in brand) == (facts["brands"] <= 15)  # a dimension with many values is not listed


@pytest.mark.parametrize(
    ("backend", "rows_setting", "rows"), [("local", None, 8), ("vllm", None, 20), ("local", 12, 12)]
)
def test_the_model_reads_a_tool_result_within_the_backends_budget(demo_settings, backend, rows_setting, rows):
    from agent.factory import build_analyst
    from fake_llm import ScriptedChatModel

    settings = demo_settings.model_copy(update={"llm_backend": backend, "agent_result_rows": rows_setting})
    analyst = build_analyst(settings, model=ScriptedChatModel(), checkpointer=False)
    assert f"tables show at most {rows} rows" in analyst.system_text
    run_sql = {t.name: t for t in analyst.tools_for_scope(None)}["run_sql"]
    msg = run_sql.invoke(
        {"name": "run_sql", "args": {"sql": "SELECT event_id FROM events"}, "id": "c1", "type": "tool_call"}
    )
    assert f"(showing {rows} of 200 rows" in msg.content
    assert len(msg.artifact.tables[0].rows) == 200  # the Answer keeps every row


def test_the_data_part_says_what_a_row_of_each_table_is(analyst_parts):
    """Measured: shown only columns, the embedded model counted purchases from orders."""
    from warehouse.schema import TABLE_MEANINGS, TABLE_NAMES

    data_part = analyst_parts["system_text"].split("## The data", 1)[1]
    for name in TABLE_NAMES:
        line = next(x for x in data_part.splitlines() if x.startswith(f"- {name} ("))
        assert line.endswith(f"[{TABLE_MEANINGS[name]}]"), line
