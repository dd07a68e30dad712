"""The SQL and behavior tools: bounded text for the model, full artifacts, errors the model can fix, user scope."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "warehouse"))
from analytics_env import open_loaded  # noqa: E402
from behavior_data import make_tables  # noqa: E402

from tools import (  # noqa: E402
    ToolDeps,
    build_tools,
    registry,  # noqa: E402
)
from tools.analytics import ANALYTICS, analytic_tool  # noqa: E402
from tools.artifact import ToolArtifact  # noqa: E402
from tools.sql import describe_schema_tool  # noqa: E402

ANALYTIC_CALLS = {
    "trend": {"metric": "unique_users", "interval": "week", "breakdown": "device"},
    "funnel": {"steps": ["view", "add_to_cart", "purchase"], "window_hours": 48},
    "retention": {"period": "week", "periods": 3},
    "paths": {"event_type": "view", "depth": 2},
    "top_items": {"metric": "revenue", "limit": 5},
    "segment_breakdown": {"dimension": "country"},
    "user_profile": {"user_id": "u003", "recent": 5},
}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def loaded(request, tmp_path_factory):
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None
    frames = make_tables(21)
    safe, _ = open_loaded(request.param, tmp_path_factory.mktemp(f"tools{request.param}"), cluster, frames)
    yield safe, frames
    safe.readonly.close()


def _tools(safe, user_scope=None, **more):
    """The agent's tools plus every analytic and describe_schema (the CLI's and MCP's too), by name."""
    tools = {
        t.name: t for t in build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe, user_scope=user_scope, **more))
    }
    for analytic in ANALYTICS:
        tools.setdefault(analytic.name, analytic_tool(analytic, safe, user_scope=user_scope, **more))
    tools["describe_schema"] = describe_schema_tool(safe, user_scope=user_scope)
    return tools


def call(tool, args: dict) -> ToolMessage:
    return tool.invoke({"name": tool.name, "args": args, "id": "call-1", "type": "tool_call"})


def test_registry_lists_the_query_tool_first_and_the_typed_analytics_it_does_not_cover(loaded):
    safe, _ = loaded
    names = [t.name for t in build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe))]
    assert names[:5] == ["query", "funnel", "retention", "paths", "user_profile"] and "run_sql" in names
    assert not {"trend", "top_items", "segment_breakdown", "describe_schema"} & set(names)
    assert len(names) == len(set(names))


def test_duplicate_tool_names_are_rejected(loaded, monkeypatch):
    safe, _ = loaded
    monkeypatch.setattr(registry, "TOOL_FAMILIES", registry.TOOL_FAMILIES + (registry._sql_and_behavior_tools,))
    with pytest.raises(ValueError, match="duplicate tool name 'query'"):
        build_tools(ToolDeps(readonly=safe.readonly, safe_sql=safe))


def test_run_sql_text_is_bounded_and_artifact_is_complete(loaded):
    safe, frames = loaded
    msg = call(_tools(safe)["run_sql"], {"sql": "SELECT * FROM events ORDER BY event_id"})
    artifact = ToolArtifact.model_validate(msg.artifact)
    assert "(showing 20 of 200 rows; LIMIT 200 reached)" in msg.content
    assert len(msg.content) <= 4_200
    assert len(artifact.tables[0].rows) == 200
    assert artifact.tables[0].rows[0][0] == 1
    assert artifact.citations[0].kind == "sql" and "LIMIT 200" in artifact.citations[0].ref
    assert "events" in artifact.citations[0].ref


def test_a_join_with_a_misplaced_column_gets_no_rewritten_query(loaded):
    """Only a one-table query is rewritten onto another table; a join's fix is the model's to make."""
    safe, _ = loaded
    msg = call(
        _tools(safe)["run_sql"],
        {"sql": "SELECT COUNT(*) FROM orders o JOIN users u ON o.user_id = u.user_id WHERE event_type = 'view'"},
    )
    assert msg.status == "error" and msg.content.endswith(
        "'event_type' is a column of events: query that table instead"
    )


@pytest.mark.parametrize(
    "sql,expected",
    [
        ("DROP TABLE events", "error: refused: DROP"),  # a policy refusal: the agent answers it at once
        ("SELECT nope FROM events", "error: unknown column 'nope'"),
        # a column of another table in a query that is not one plain SELECT: the error names where it lives
        (
            "WITH o AS (SELECT * FROM orders) SELECT COUNT(*) FROM o WHERE event_type = 'purchase'",
            "error: unknown column 'event_type'; available columns: order_id, status, total, ts, user_id; "
            "'event_type' is a column of events: query that table instead",
        ),
        ("SELECT * FROM secrets", "error: table 'secrets' is not allowed"),
        ("SELECT pg_sleep(5)", "error: function 'pg_sleep' is not allowed"),
        ("SELECT 1; DELETE FROM users", "error: refused: found 2 statements"),
        ("SELECT 1; SELECT 2", "error: found 2 statements"),
        ("SELECT user_id + 'x' FROM events WHERE event_id = 1 AND user_id > 1", "error:"),
    ],
)
def test_run_sql_expected_failures_come_back_as_short_error_text(loaded, sql, expected):
    safe, _ = loaded
    msg = call(_tools(safe)["run_sql"], {"sql": sql})
    assert msg.content.startswith(expected), msg.content
    assert len(msg.content) < 400
    assert msg.status == "error"


@pytest.mark.parametrize(
    "sql,expected",
    [
        # a title not spelled exactly (through a join and an alias): the titles that contain its words
        (
            "SELECT COUNT(*) FROM reviews r JOIN items i ON r.item_id = i.item_id WHERE i.title = 'Item 1 '",
            "no row has items.title = 'Item 1 '; values containing it: 'Item 1', 'Item 10', 'Item 11'",
        ),
        (
            "SELECT COUNT(*) FROM orders WHERE status = '退货'",
            "no row has orders.status = '退货'; its values: {statuses}",
        ),
        # one filter with one value that fits, another with none: the model fixes both, told the value to use
        (
            "SELECT user_id FROM users WHERE channel = 'ORGANIC' AND country = 'Neverland'",
            "no row has users.channel = 'ORGANIC'; use 'organic', the one value that contains it",
        ),
        (
            "SELECT COUNT(*) FROM items WHERE title = 'Gadget Zeta'",
            "no row has items.title = 'Gadget Zeta', and no value contains all of its words",
        ),
        # an item named where its id belongs: the items whose title contains it
        (
            "SELECT COUNT(*) AS n FROM reviews WHERE item_id = 'Item 2'",
            "no row of items has item_id = 'Item 2'; items whose title contains it: 'i02' (Item 2), 'i12' (Item 12)",
        ),
        (
            "SELECT COUNT(*) AS n FROM reviews WHERE item_id = 'Gadget'",
            "no row of items has item_id = 'Gadget'; item_id is an id: to find items by name, join items and filter on title",
        ),
    ],
)
def test_a_query_that_finds_nothing_names_the_filter_values_that_exist(loaded, sql, expected):
    safe, frames = loaded
    msg = call(_tools(safe)["run_sql"], {"sql": sql})
    assert msg.status != "error", msg.content
    statuses = ", ".join(repr(v) for v in sorted(frames["orders"]["status"].unique()))
    assert expected.format(statuses=statuses) in msg.content, msg.content
    assert msg.content.count("note: ") == (2 if "Neverland" in sql else 1)
    assert "corrected:" not in msg.content


def _count(frames, table, **equal):
    rows = frames[table]
    for column, value in equal.items():
        rows = rows[rows[column] == value]
    return len(rows)


@pytest.mark.parametrize(
    "sql,expected",
    [
        # a column of another table in a one-table query: the error names the query to run, however long
        ("SELECT COUNT(*) FROM orders WHERE event_type = 'purchase'", "run this instead: SELECT COUNT(*) FROM events"),
        (
            "SELECT COUNT(*) AS purchases_over_the_whole_period FROM orders WHERE event_type = 'purchase' "
            "AND (session_id IS NULL OR session_id IS NOT NULL) AND (item_id IS NULL OR item_id IS NOT NULL) "
            "AND (value IS NULL OR value IS NOT NULL) AND (source_event IS NULL OR source_event IS NOT NULL)",
            "run this instead: SELECT COUNT(*) AS purchases_over_the_whole_period FROM events",
        ),
        ("SELECT COUNT(DISTINCT user_id) FROM users WHERE event_type = 'view'", "run this instead: SELECT"),
    ],
)
def test_a_mistake_with_one_fix_is_a_visible_retry_not_a_rewrite(loaded, sql, expected):
    """The SQL that runs is the SQL asked for: the fix comes back as an error naming the query to send."""
    safe, _ = loaded
    msg = call(_tools(safe)["run_sql"], {"sql": sql})
    assert msg.status == "error" and expected in msg.content, msg.content
    assert msg.artifact is None


@pytest.mark.parametrize(
    "sql,expected",
    [
        (
            "SELECT COUNT(*) FROM users WHERE channel = 'ORGANIC'",
            "no row has users.channel = 'ORGANIC'; use 'organic', the one value that contains it. Run the query again",
        ),
        ("SELECT COUNT(*) FROM reviews WHERE item_id = 'Item 7'", "use item_id = 'i07' (Item 7)"),
    ],
)
def test_a_value_with_one_fix_gets_a_note_and_the_query_runs_as_written(loaded, sql, expected):
    safe, _ = loaded
    msg = call(_tools(safe)["run_sql"], {"sql": sql})
    artifact = ToolArtifact.model_validate(msg.artifact)
    assert artifact.tables[0].rows == [[0]] and expected in msg.content, msg.content
    assert artifact.citations[0].ref.count("'ORGANIC'") + artifact.citations[0].ref.count("'Item 7'") == 1


def test_a_query_with_results_or_matching_values_gets_no_value_note(loaded):
    safe, frames = loaded
    status = frames["orders"]["status"].iloc[0]
    tools = _tools(safe)
    for sql in (
        f"SELECT COUNT(*) FROM orders WHERE status = '{status}'",
        f"SELECT COUNT(*) FROM orders WHERE status = '{status}' AND total < 0",
        # no orders for an id is an answer (the user bought nothing), not a misspelt value
        "SELECT COUNT(*) FROM orders WHERE user_id = 'u9999'",
    ):
        msg = call(tools["run_sql"], {"sql": sql})
        assert "note:" not in msg.content, msg.content


def test_invalid_arguments_come_back_as_error_text(loaded):
    safe, _ = loaded
    tools = _tools(safe)
    msg = call(tools["funnel"], {"steps": ["view"]})
    assert msg.content.startswith("error: invalid arguments") and "steps" in msg.content
    msg = call(tools["trend"], {"metric": "profit"})
    assert msg.content.startswith("error: invalid arguments") and "metric" in msg.content


def test_describe_schema_is_compact_and_masks_email(loaded):
    safe, frames = loaded
    msg = call(_tools(safe)["describe_schema"], {})
    assert "users(user_id" in msg.content and "email varchar (masked)" in msg.content
    assert "[one row per order (checkout)" in msg.content  # what a row is, as in the agent's prompt
    counts = frames["events"]["event_type"].value_counts()
    assert f"view ({counts['view']:,})" in msg.content
    assert f"events.ts from {frames['events']['ts'].min()}" in msg.content
    assert len(msg.content) < 2_000


@pytest.mark.parametrize("name", list(ANALYTIC_CALLS))
def test_each_analytic_tool_returns_summary_table_chart_and_sql(loaded, name):
    safe, _ = loaded
    msg = call(_tools(safe)[name], ANALYTIC_CALLS[name])
    assert not msg.content.startswith("error"), msg.content
    artifact = ToolArtifact.model_validate(msg.artifact)
    assert artifact.tool == name
    assert artifact.tables[0].rows and artifact.charts[0].spec["data"]
    assert all(c.kind == "sql" and "LIMIT" in c.ref for c in artifact.citations)
    assert "showing" in msg.content and len(msg.content) <= 4_500


def test_unknown_user_is_an_error_the_model_can_fix(loaded):
    safe, _ = loaded
    msg = call(_tools(safe)["user_profile"], {"user_id": "nobody"})
    assert msg.content.startswith("error: user 'nobody' not found")


def test_user_scope_limits_every_tool_to_one_user(loaded):
    safe, frames = loaded
    uid = "u003"
    tools = _tools(safe, user_scope=uid)
    mine = frames["events"][frames["events"]["user_id"] == uid]
    rows = ToolArtifact.model_validate(
        call(tools["run_sql"], {"sql": "SELECT user_id, COUNT(*) FROM events GROUP BY 1"}).artifact
    )
    assert rows.tables[0].rows == [[uid, len(mine)]]
    users = ToolArtifact.model_validate(call(tools["run_sql"], {"sql": "SELECT user_id FROM users"}).artifact)
    assert users.tables[0].rows == [[uid]]
    described = call(tools["describe_schema"], {}).content
    assert f"view ({(mine['event_type'] == 'view').sum():,})" in described
    top = ToolArtifact.model_validate(call(tools["top_items"], {"limit": 100}).artifact)
    assert sum(r[4] for r in top.tables[0].rows) == mine["item_id"].notna().sum()
    seg = ToolArtifact.model_validate(call(tools["segment_breakdown"], {"dimension": "device"}).artifact)
    assert sum(r[1] for r in seg.tables[0].rows) == len(mine)
    assert call(tools["user_profile"], {"user_id": uid}).content.startswith(f"User {uid}")
    assert call(tools["user_profile"], {"user_id": "u004"}).content.startswith("error: user 'u004' not found")


def test_a_cut_time_series_shows_its_first_and_latest_periods(loaded):
    safe, _ = loaded
    tools = _tools(safe, text_rows=6)
    msg = call(tools["trend"], {"interval": "day"})
    days = ToolArtifact.model_validate(msg.artifact).tables[0].rows
    assert len(days) > 6
    body = msg.content.splitlines()
    assert f"(showing first 3 and last 3 of {len(days)} rows)" == body[-1]
    assert body[2].startswith(str(days[0][0])) and body[-2].startswith(str(days[-1][0])) and "…" in body
    ranked = call(tools["run_sql"], {"sql": "SELECT event_id FROM events ORDER BY event_id"})
    assert "…" not in ranked.content and "(showing 6 of 200 rows" in ranked.content  # a ranking keeps its top rows
