"""The agent with the query tool end to end (scripted model, real demo DuckDB): cited numbers, visible retries."""

from __future__ import annotations

import re

from langchain_core.messages import ToolMessage

from fake_llm import tool_call


def test_a_ranking_by_a_dimension_is_answered_from_one_query_with_its_sql(make_analyst, facts):
    top, count = facts["top_category"]
    analyst, model = make_analyst(
        [tool_call("query", measure="purchases", dimensions=["category"]), f"{top} has the most purchases ({count:,})."]
    )
    answer = analyst.ask("Which category sells the most units?")
    assert answer.status == "ok" and answer.text == f"{top} has the most purchases ({count:,})."
    assert [s.tool for s in answer.trace] == ["query"] and answer.usage.llm_calls == 2
    assert answer.citations[0].kind == "sql" and "GROUP BY" in answer.citations[0].ref
    assert answer.charts and answer.tables[0].rows[0][:2] == [top, count]


def test_a_value_the_data_lacks_is_an_error_the_model_fixes_in_a_visible_retry(make_analyst, facts):
    de = facts["de_users"]
    analyst, model = make_analyst(
        [
            tool_call("query", measure="signups", filters=[{"dimension": "country", "value": "Germany"}]),
            tool_call("query", measure="signups", filters=[{"dimension": "country", "value": "DE"}]),
            f"{de:,} users come from Germany.",
        ]
    )
    answer = analyst.ask("How many users are from Germany?")
    first_error = next(m for m in model.requests[1] if getattr(m, "status", "") == "error")
    assert "country has no value 'Germany'; its values: " in first_error.content and "DE" in first_error.content
    assert answer.status == "ok" and [s.ok for s in answer.trace] == [False, True]
    assert "'DE'" in answer.citations[-1].ref


def test_an_answer_with_a_number_no_query_returned_is_not_accepted(make_analyst):
    analyst, _ = make_analyst(
        [tool_call("query", measure="orders"), "There were 123,456,789 orders.", "There were 123,456,789 orders."]
    )
    answer = analyst.ask("How many orders?")
    assert "123,456,789" not in answer.text
    assert answer.text.startswith("From the query results") and "orders, over all data" in answer.text


def test_a_breakdown_over_too_few_users_is_suppressed_and_the_answer_can_say_so(demo_settings, facts):
    from agent.factory import build_analyst
    from fake_llm import ScriptedChatModel

    settings = demo_settings.model_copy(update={"min_group_users": 5})
    script = [
        tool_call("query", measure="purchases", dimensions=["user"], limit=3),
        "Purchases per user are suppressed: each comes from fewer than 5 users.",
    ]
    model = ScriptedChatModel(script=list(script))
    answer = build_analyst(settings, model=model, checkpointer=False).ask("Purchases of the top 3 buyers?")
    seen = next(m for m in model.requests[1] if getattr(m, "type", "") == "tool").content
    assert "Suppressed: 3 of 3 rows were computed from fewer than 5 users" in seen
    assert answer.status == "ok" and answer.text == script[1]
    table = answer.tables[0]
    assert table.columns[-1] == "suppressed" and all(row[-1] is True for row in table.rows)
    assert all(row[table.columns.index("value")] is None for row in table.rows)  # no number shown, just the ids
    # the operator's default (0) shows the same breakdown
    shown = build_analyst(demo_settings, model=ScriptedChatModel(script=[script[0], "ok"]), checkpointer=False)
    assert "suppressed" not in shown.ask("Purchases of the top 3 buyers?").tables[0].columns


def test_a_ranking_answered_with_its_second_row_is_sent_back_to_name_the_first(make_analyst):
    def rows(messages):
        result = next(m for m in reversed(messages) if isinstance(m, ToolMessage)).content.split("\n", 1)[0]
        found = re.search(r"the highest is ([^:]+): ([\d,.]+); then ([^:]+): ([\d,.]+)", result)
        return found.groups()

    def second(messages):
        _, _, name, value = rows(messages)
        return f"{name} has the most purchases ({value})."

    def first(messages):
        name, value, _, _ = rows(messages)
        return f"{name} has the most purchases ({value})."

    analyst, model = make_analyst([tool_call("query", measure="purchases", dimensions=["brand"]), second, first])
    answer = analyst.ask("Which brand has the most purchases?")
    top = rows(model.requests[1])[0]
    assert top in model.requests[2][-1].content and "top one" in model.requests[2][-1].content
    assert answer.status == "ok" and answer.text.startswith(top)

    # in Chinese, a top row renamed (a translated category) is sent back too, to keep the data's name
    def renamed(messages):
        return f"排名第一的是某品牌，购买次数为 {rows(messages)[1]}。"

    analyst, model = make_analyst([tool_call("query", measure="purchases", dimensions=["brand"]), renamed, first])
    zh = analyst.ask("哪个品牌的购买次数最多？")
    assert top in model.requests[2][-1].content and zh.text.startswith(top)
    # named wrong twice: the tool's own summary answers, its first row first
    analyst, _ = make_analyst([tool_call("query", measure="purchases", dimensions=["brand"]), second, second])
    again = analyst.ask("Which brand has the most purchases?")
    assert again.text.startswith("From the query results") and f"the highest is {top}" in again.text


def test_a_comparison_answered_with_one_period_is_sent_back_for_both(make_analyst):
    def values(messages):
        result = next(m for m in reversed(messages) if isinstance(m, ToolMessage)).content.split("\n", 1)[0]
        now = re.search(r"\(last 7 days\): ([\d,.]+)", result).group(1)
        before = re.search(r"\(\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d\): ([\d,.]+);", result).group(1)
        return now, before

    def one(messages):
        return f"There were {values(messages)[0]} orders in the last 7 days."

    def both(messages):
        now, before = values(messages)
        return f"There were {now} orders in the last 7 days and {before} in the 7 days before."

    call = tool_call("query", measure="orders", last_days=7, compare_previous=True)
    analyst, model = make_analyst([call, one, both])
    answer = analyst.ask("Orders in the last 7 days versus the 7 days before?")
    before = values(model.requests[1])[1]
    note = model.requests[2][-1].content
    assert "leaves out the earlier one" in note and before in note
    assert answer.status == "ok" and before in answer.text and answer.usage.llm_calls == 3
    # both given at once: no correction
    analyst, _ = make_analyst([call, both])
    assert analyst.ask("Orders in the last 7 days versus the 7 days before?").usage.llm_calls == 2
