"""Tool calls written into message text are found in every shape small models produce."""

import pytest

from agent.text_calls import TextCall, parse_text_calls

KNOWN = frozenset({"trend", "run_sql", "funnel"})


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "trend", "arguments": {"event_type": "purchase"}}\n```',
        '<tool_call>\n{"name": "trend", "arguments": {"event_type": "purchase"}}\n</tool_call>',
        '<tools>{"name": "trend", "arguments": {"event_type": "purchase"}}</tools>',
        '{"name": "trend", "arguments": {"event_type": "purchase"}}',
        '{"name": "trend", "arguments": "{\\"event_type\\": \\"purchase\\"}"}',
        '{"type": "function", "function": {"name": "trend", "parameters": {"event_type": "purchase"}}}',
        "Let me check.\n```\n{'name': 'trend', 'arguments': {'event_type': 'purchase'}}\n```",
        'I will call {"name": "trend", "arguments": {"event_type": "purchase"}} now.',
        '<tool_call>{"name": "trend", "arguments": {"event_type": "purchase"}}',  # unclosed tag
    ],
)
def test_one_call_in_any_shape(text):
    assert parse_text_calls(text, KNOWN) == [TextCall("trend", {"event_type": "purchase"})]


def test_several_calls_in_one_message():
    text = (
        '<tool_call>{"name": "trend", "arguments": {"event_type": "view"}}</tool_call>\n'
        '<tool_call>{"name": "run_sql", "arguments": {"sql": "SELECT 1"}}</tool_call>'
    )
    assert [c.name for c in parse_text_calls(text, KNOWN)] == ["trend", "run_sql"]
    listed = '[{"name": "trend", "arguments": {}}, {"name": "funnel", "arguments": {"steps": ["view"]}}]'
    assert [c.name for c in parse_text_calls(listed, KNOWN)] == ["trend", "funnel"]


def test_an_unknown_tool_in_call_shape_is_still_a_call_so_the_model_hears_about_it():
    assert parse_text_calls('{"name": "drop_table", "arguments": {"t": "users"}}', KNOWN)[0].name == "drop_table"


@pytest.mark.parametrize(
    "text",
    [
        "Purchases rose 12% to 1,234 last week.",
        "The top item is {Widget} with 40 views.",
        'Here is the row: {"name": "Widget", "price": 3.5}',
        '```json\n{"name": "Widget", "price": 3.5}\n```',
        "",
    ],
)
def test_plain_answers_are_not_calls(text):
    assert parse_text_calls(text, KNOWN) == []


@pytest.mark.parametrize(
    "text",
    [
        'call: run_sql {"sql": "SELECT 1", "limit": null}',
        'Call: run_sql {"sql": "SELECT 1", "limit": null}',
        'run_sql({"sql": "SELECT 1", "limit": null})',
    ],
)
def test_a_tool_name_followed_by_its_arguments_is_a_call(text):
    assert parse_text_calls(text, KNOWN) == [TextCall("run_sql", {"sql": "SELECT 1", "limit": None})]


def test_one_select_in_a_sql_block_reads_as_run_sql_and_nothing_else_does() -> None:
    from agent.text_calls import describes_tools, sql_block_call

    call = sql_block_call("Use this:\n```sql\nSELECT AVG(total) FROM orders;\n```")
    assert call is not None and (call.name, call.args) == ("run_sql", {"sql": "SELECT AVG(total) FROM orders"})
    assert sql_block_call("```sql\nDROP TABLE orders\n```") is None  # not a query (the guard would refuse it anyway)
    assert sql_block_call("```sql\nSELECT 1\n```\nor\n```sql\nSELECT 2\n```") is None  # ambiguous
    assert sql_block_call("SELECT 1") is None
    assert describes_tools("I called the `trend` function.", {"trend"})
    assert describes_tools("the funnel tool shows", {"funnel"})
    assert not describes_tools("The funnel shows 8,831 users entering.", {"funnel"})


def test_arguments_in_a_fence_after_one_named_tool_are_a_call_to_it() -> None:
    text = (
        "I'll use the `search_reviews` function with the following arguments:\n```json\n"
        '{\n  "query": "Acme X200",\n  "k": 1\n}\n```\nThis will return the top review.'
    )
    (call,) = parse_text_calls(text, {"search_reviews", "trend"})
    assert (call.name, call.args) == ("search_reviews", {"query": "Acme X200", "k": 1})
    both = 'Either `trend` or `funnel` with:\n```json\n{"event_type": "view"}\n```'
    assert parse_text_calls(both, {"trend", "funnel"}) == []  # which tool is meant is unclear
    data = 'The result:\n```json\n{"views": 5}\n```'
    assert parse_text_calls(data, {"trend"}) == []  # no tool named: data, not a call
