"""The official MCP SDK's client against ``uba mcp`` spawned over stdio, on a demo DuckDB with trained models."""

from __future__ import annotations

import json
import shutil
import subprocess

import anyio
import pytest
from mcp import MCPError

from tests.ui.conftest import UBA, server_env
from tests.ui.mcp_client import Facts, assert_confined, call_args, error_text, rows, stdio_session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stdio_dir(mcp_demo_dir, tmp_path_factory):
    """A copy of the demo data dir that only the stdio servers of this module use."""
    target = tmp_path_factory.mktemp("uba-mcp-stdio") / "data"
    shutil.copytree(mcp_demo_dir, target)
    return target


@pytest.fixture(scope="module")
def facts(mcp_demo_dir) -> Facts:
    return Facts.of(mcp_demo_dir)


@pytest.fixture(scope="module")
def transcript(stdio_dir, facts):
    """One stdio session: the tool list, a call of every tool, bad calls, the resources."""
    scoped, _ = facts.pair()
    out: dict = {}

    async def talk():
        async with stdio_session(stdio_dir) as session:
            out["tools"] = (await session.list_tools()).tools
            listed = {tool.name for tool in out["tools"]}
            out["calls"] = {
                name: await session.call_tool(name, args) for name, args in call_args(scoped).items() if name in listed
            }
            out["bad"] = {
                "retention": await session.call_tool("retention", {"period": "year"}),
                "run_sql": await session.call_tool("run_sql", {}),
                "funnel": await session.call_tool("funnel", {"steps": ["view"], "colour": "red"}),
                "ask": await session.call_tool("ask", {"question": ""}),
            }
            try:
                await session.call_tool("drop_table", {"name": "events"})
            except MCPError as exc:
                out["unknown"] = exc
            out["resources"] = (await session.list_resources()).resources
            out["schema"] = (await session.read_resource("uba://schema")).contents[0]
            out["examples"] = (await session.read_resource("uba://examples")).contents[0]
            out["layer"] = (await session.read_resource("uba://semantic-layer")).contents[0]
            out["review_text"] = await session.call_tool("run_sql", {"sql": "SELECT title, body FROM reviews"})
            out["review_count"] = await session.call_tool("run_sql", {"sql": "SELECT COUNT(*) AS n FROM reviews"})

    anyio.run(talk)
    return out


def _enums_sorted(schema):
    """The schema with each enum's values sorted: two ``Literal``s of the same values in another order compare
    equal, so a process that met one first (this one: the analytics' event types) may render the layer's
    in that order (same values, same validation)."""
    if isinstance(schema, dict):
        return {k: sorted(v, key=str) if k == "enum" else _enums_sorted(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_enums_sorted(v) for v in schema]
    return schema


def test_every_registry_tool_is_listed_with_the_agents_own_schema(transcript, stdio_dir):
    from agent.factory import build_tool_deps, open_review_index
    from agent.settings import Settings
    from tools import build_tools

    settings = Settings(data_dir=stdio_dir)
    agent_tools = build_tools(build_tool_deps(settings, reviews=open_review_index(settings)))
    listed = {tool.name: tool for tool in transcript["tools"]}
    assert list(listed) == [t.name for t in agent_tools] + ["ask"]
    for tool in agent_tools:
        expected = tool.args_schema.model_json_schema()
        assert _enums_sorted(listed[tool.name].input_schema) == _enums_sorted(expected), tool.name
        assert listed[tool.name].description == tool.description
        assert listed[tool.name].annotations.read_only_hint is True
    assert listed["ask"].input_schema["required"] == ["question"]


def test_every_tool_answers_from_the_data(transcript, facts):
    calls = transcript["calls"]
    assert set(calls) == {tool.name for tool in transcript["tools"]}, "give every new tool arguments in call_args"
    failed = {name: r.content[0].text for name, r in calls.items() if r.is_error}
    assert failed == {}
    assert rows(calls["run_sql"]) == [[facts.total_events]] == rows(calls["query"])
    assert "Model next v1" in calls["predict_next"].content[0].text
    assert "Model forecast v1" in calls["forecast"].content[0].text
    assert calls["search_reviews"].structured_content["citations"][0]["kind"] == "review"

    ask = calls["ask"].structured_content
    assert ask["text"].startswith("Events per user") and ask["status"] == "ok" and ask["thread_id"]
    assert len(ask["sql"]) == 1 and "FROM" in ask["sql"][0] and "events" in ask["sql"][0]
    per_user = {row[0]: row[1] for row in ask["tables"][0]["rows"]}
    assert per_user and all(facts.events[user] == n for user, n in per_user.items())
    assert calls["ask"].content[0].text == ask["text"] and "SQL run:" in calls["ask"].content[1].text


def test_bad_arguments_get_an_error_naming_the_field_and_the_fix(transcript):
    bad = transcript["bad"]
    retention = error_text(bad["retention"])
    assert retention.startswith("invalid arguments for retention") and "period" in retention and "'week'" in retention
    assert "sql: Field required" in error_text(bad["run_sql"])
    funnel = error_text(bad["funnel"])
    assert "steps" in funnel and "colour" in funnel
    assert "question" in error_text(bad["ask"])
    unknown = transcript["unknown"]
    assert unknown.code == -32602 and "no tool named 'drop_table'" in unknown.message and "run_sql" in unknown.message


def test_resources_give_the_schema_and_examples_that_call_real_tools(transcript):
    assert {str(r.uri) for r in transcript["resources"]} == {"uba://schema", "uba://examples", "uba://semantic-layer"}
    assert transcript["layer"].text.startswith("Measures:") and "- events:" in transcript["layer"].text
    schema = transcript["schema"].text
    assert "events(" in schema and "email varchar (masked)" in schema and "events.ts from" in schema
    examples = json.loads(transcript["examples"].text)["examples"]
    names = {tool.name for tool in transcript["tools"]}
    assert len(examples) >= 5 and all(e["tool"] in names and e["question"] for e in examples)


def test_results_with_review_text_are_marked_untrusted(transcript):
    text = transcript["review_text"]
    assert text.meta == {"uba/untrusted": True} and text.structured_content["untrusted"] is True
    assert text.content[0].text.startswith("Untrusted data") and all(c.meta for c in text.content)
    assert "<" not in text.content[1].text  # markup defanged
    search = transcript["calls"]["search_reviews"]
    assert search.meta == {"uba/untrusted": True}
    for plain in (transcript["review_count"], transcript["calls"]["query"]):
        assert plain.meta is None and plain.structured_content["untrusted"] is False


def test_the_audit_log_records_each_call_and_its_outcome(transcript, stdio_dir):
    done = subprocess.run(
        [str(UBA), "mcp", "audit", "--limit", "500", "--json"],
        env=server_env(stdio_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    entries = [e for e in json.loads(done.stdout) if e["owner"] == "local:stdio" and e["user_scope"] is None]
    outcomes = {(e["action"], e["outcome"]) for e in entries}
    assert {
        ("run_sql", "ok"),
        ("ask", "ok"),
        ("retention", "invalid"),
        ("drop_table", "unknown"),
        ("resource:uba://schema", "ok"),
    } <= outcomes
    assert all(e["surface"] == "mcp-stdio" for e in entries)
    assert any(e["args"] == {"sql": "SELECT COUNT(*) AS n FROM reviews"} for e in entries)


def test_a_user_scoped_stdio_server_confines_every_tool(stdio_dir, facts, transcript):
    scoped, other = facts.pair()

    async def talk():
        async with stdio_session(stdio_dir, "--user-scope", scoped) as session:
            return await assert_confined(session, facts, scoped, other)

    tried = anyio.run(talk)
    assert tried >= {tool.name for tool in transcript["tools"]}, "try every new tool in assert_confined"
