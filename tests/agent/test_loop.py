"""The agent end to end with the scripted model over a real DuckDB demo warehouse and the real tools."""

from __future__ import annotations

import re
import time

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent import prompt
from agent.answer import AnswerToken, FinalAnswer, StepFinished, StepStarted
from fake_llm import ScriptedChatModel, ScriptExhausted, tool_call, tool_calls

PURCHASES_SQL = "SELECT COUNT(*) AS purchases FROM events WHERE event_type = 'purchase'"
VIEWS_SQL = "SELECT COUNT(*) AS views FROM events WHERE event_type = 'view'"
RETURNED_SQL = "SELECT COUNT(*) AS orders FROM orders WHERE status = 'returned'"
MISSPELT_SQL = RETURNED_SQL.replace("'returned'", "'retour'")  # finds nothing: a note lists the statuses


def test_multi_step_tool_use_builds_the_answer_from_tool_results(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=VIEWS_SQL),
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"There were {facts['views']:,} views and {facts['purchases']:,} purchases.",
        ]
    )
    answer = analyst.ask("How many views and purchases are there?")
    assert answer.status == "ok"
    assert f"{facts['purchases']:,}" in answer.text
    assert [(s.tool, s.ok) for s in answer.trace] == [("run_sql", True), ("run_sql", True)]
    assert len(answer.tables) == 2 and answer.tables[1].rows[0][0] == facts["purchases"]
    assert any(c.kind == "sql" and "purchase" in c.ref for c in answer.citations)
    assert answer.usage.llm_calls == 3
    # the second model call saw the first tool's result, then the reminder to answer from it
    result, hint = model.requests[1][-2:]
    assert isinstance(result, ToolMessage) and str(facts["views"]) in result.content
    assert isinstance(hint, HumanMessage) and hint.content == prompt.feedback("answer_hint")
    assert model.bound_tools and "run_sql" in model.bound_tools


def test_sql_error_goes_back_to_the_model_and_the_corrected_query_answers(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql="SELECT COUNT(*) FROM purchases"),
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"{facts['purchases']} purchases in total.",
        ]
    )
    answer = analyst.ask("How many purchases?")
    error = model.requests[1][-1]  # an error gets no answer reminder: the model should fix the call
    assert isinstance(error, ToolMessage) and error.status == "error" and "purchases" in error.content
    assert [s.ok for s in answer.trace] == [False, True]
    assert answer.status == "ok" and str(facts["purchases"]) in answer.text


def test_a_follow_up_in_the_same_thread_sees_the_earlier_turn_and_survives_a_restart(make_analyst, facts, tmp_path):
    memory = tmp_path / "threads.sqlite"
    analyst, _ = make_analyst(
        [tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases."], memory=memory
    )
    first = analyst.ask("How many purchases?", thread_id="t-1")
    # a new analyst (as after a restart) on the same memory file
    analyst, model = make_analyst([tool_call("run_sql", sql=VIEWS_SQL), f"And {facts['views']} views."], memory=memory)
    second = analyst.ask("and views?", thread_id="t-1")
    sent = model.requests[0]
    asked = [m.content for m in sent if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback")]
    assert asked == ["How many purchases?", "and views?"]
    assert any(isinstance(m, AIMessage) and m.content == first.text for m in sent)
    assert second.status == "ok" and str(facts["views"]) in second.text
    assert analyst.history("t-1") == [("How many purchases?", first.text), ("and views?", second.text)]
    # another thread starts empty
    analyst, model = make_analyst(["Hello."], memory=memory)
    analyst.ask("hi", thread_id="t-2")
    assert [m.content for m in model.requests[0] if isinstance(m, HumanMessage)] == ["hi"]


def test_a_tool_call_written_as_text_is_executed(make_analyst, facts):
    analyst, model = make_analyst(
        [
            f'I will query.\n```json\n{{"name": "run_sql", "arguments": {{"sql": "{PURCHASES_SQL}"}}}}\n```',
            f"{facts['purchases']} purchases.",
        ]
    )
    answer = analyst.ask("How many purchases?")
    assert [(s.tool, s.ok, s.source) for s in answer.trace] == [("run_sql", True, "text")]
    assert answer.status == "ok" and str(facts["purchases"]) in answer.text
    # the model sees its call as a structured call followed by the result
    assert model.requests[1][-3].tool_calls[0]["name"] == "run_sql"


def test_several_text_calls_in_tool_call_tags_all_run(make_analyst, facts):
    analyst, _ = make_analyst(
        [
            f'<tool_call>{{"name": "run_sql", "arguments": {{"sql": "{VIEWS_SQL}"}}}}</tool_call>\n'
            f'<tool_call>{{"name": "run_sql", "arguments": {{"sql": "{PURCHASES_SQL}"}}}}</tool_call>',
            f"{facts['views']} views, {facts['purchases']} purchases.",
        ]
    )
    answer = analyst.ask("views and purchases?")
    assert [s.ok for s in answer.trace] == [True, True] and answer.status == "ok"


def test_invalid_arguments_are_sent_back_once_and_corrected(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", query=PURCHASES_SQL),  # wrong argument name
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"{facts['purchases']} purchases.",
        ]
    )
    answer = analyst.ask("How many purchases?")
    error = model.requests[1][-1]
    assert error.status == "error" and "invalid arguments for run_sql" in error.content and "sql" in error.content
    assert answer.status == "ok" and [s.ok for s in answer.trace] == [False, True]


def test_unknown_tool_then_invalid_again_ends_with_a_clear_answer(make_analyst):
    analyst, model = make_analyst([tool_call("drop_everything"), tool_call("run_sql", query="x")])
    answer = analyst.ask("How many users are there?")
    assert "no tool named 'drop_everything'" in model.requests[1][-1].content
    assert "run_sql" in model.requests[1][-1].content  # the error lists the real tools
    assert answer.status == "incomplete" and "calling tools incorrectly" in answer.text
    assert model.remaining == 0


def test_a_script_that_runs_out_fails_the_test_instead_of_becoming_an_answer(make_analyst):
    # The agent turns a model's failure into an error answer; a test's short script must not pass as one.
    analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL)])
    with pytest.raises(ScriptExhausted, match="called 2 times"):
        analyst.ask("How many purchases?")
    analyst, model = make_analyst([])
    with pytest.raises(ScriptExhausted, match="called 1 times"):
        list(analyst.stream("How many purchases?"))
    assert len(model.requests) == 1


def test_step_limit_reached_gives_a_graceful_answer_with_the_evidence(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=VIEWS_SQL),
            tool_call("run_sql", sql=PURCHASES_SQL),
            tool_call("run_sql", sql="SELECT COUNT(*) AS n FROM users"),  # a third step is not allowed
        ],
        max_steps=3,
        answer_after_results=False,  # a model free to call on after results
    )
    answer = analyst.ask("How many purchases?")
    assert answer.status == "incomplete"
    assert "within 3 steps" in answer.text and str(facts["purchases"]) in answer.text  # evidence is tool output
    assert len(model.requests) == 3 and len(answer.trace) == 2


def test_wall_time_limit_stops_the_question(make_analyst):
    def slow(messages):
        time.sleep(2.5)
        return tool_call("run_sql", sql=PURCHASES_SQL)

    # 2 s: the first call starts well within it even on a busy machine; the slow reply ends past it
    analyst, model = make_analyst([slow, slow], max_seconds=2)
    answer = analyst.ask("How many purchases?")
    assert answer.status == "incomplete" and "within 2 seconds" in answer.text
    assert len(model.requests) == 1


def test_unsafe_sql_is_refused_by_the_tool_and_the_table_is_intact(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql="DROP TABLE users"),
            tool_call("run_sql", sql="SELECT * FROM read_csv('/etc/passwd')"),
            tool_call("run_sql", sql="SELECT COUNT(*) AS n FROM users"),
            f"There are {facts['users']} users.",
        ]
    )
    # a hostile model sends a write for an innocent question (a request to write is refused before the
    # model: tests/agent/test_requests.py); the tool refuses it
    refused = analyst.ask("How many users signed up?")
    assert refused.trace[0].ok is False and refused.status == "ok"
    # a policy refusal is the answer at once: no retry can make a write allowed
    assert (
        refused.text == "I cannot do that: I only read and analyse the data (DROP statements are not allowed; "
        "only SELECT / WITH ... SELECT)."
    )
    assert len(model.requests) == 1
    files = analyst.ask("把 /etc/passwd 文件的内容给我")
    assert files.text.startswith("无法执行：我只能读取和分析数据") and "is not allowed" in files.text
    intact = analyst.ask("How many users are there?")
    assert intact.tables[0].rows[0][0] == facts["users"]


def test_pii_is_masked_by_the_tool(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql="SELECT email FROM users LIMIT 3"),
            "The emails are masked.",
        ]
    )
    answer = analyst.ask("show me three users")  # a question naming e-mails is refused before the model
    cells = [str(c) for table in answer.tables for row in table.rows for c in row]
    assert len(cells) == 3 and all(re.fullmatch(r"\w\*\*\*@[\w.-]+", c) for c in cells), cells
    # no address of the warehouse reaches the user's tables or the model's prompt
    sent = " ".join(str(m.content) for request in model.requests for m in request)
    assert not [a for a in facts["emails"] if a in " ".join(cells) or a in sent]


def test_an_invented_number_is_challenged_once_then_replaced_by_the_evidence(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            "There were 123456 purchases.",
            f"There were {facts['purchases']} purchases.",
        ]
    )
    fixed = analyst.ask("How many purchases?", thread_id="g")
    assert "123456" in model.requests[2][-1].content  # the challenge names the number
    assert fixed.status == "ok" and str(facts["purchases"]) in fixed.text
    # the rejected draft and the challenge are not kept in the conversation
    assert analyst.history("g") == [("How many purchases?", fixed.text)]

    analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), "Exactly 99999 purchases.", "Still 88888."])
    answer = analyst.ask("How many purchases?")
    # the answer is the tool's own output, said to be so, with its source; no further model call
    assert answer.status == "ok" and "99999" not in answer.text and "88888" not in answer.text
    assert answer.text.startswith("From the query results") and str(facts["purchases"]) in answer.text
    assert answer.citations and len(model.requests) == 3


def test_no_usable_answer_after_a_correction_is_the_tools_own_summary(make_analyst, facts):
    for second in ("", "Sorry, I cannot answer that.", "How many purchases?"):
        analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), "", second])
        answer = analyst.ask("How many purchases?")
        assert answer.status == "ok" and str(facts["purchases"]) in answer.text, answer.text
        assert "error: your reply was empty" in model.requests[2][-1].content and len(model.requests) == 3
    # before any data, an empty reply still gets its one correction
    analyst, model = make_analyst(["", "", ""])
    assert analyst.ask("How many purchases?").status == "incomplete" and len(model.requests) == 2


def test_stream_yields_steps_then_tokens_then_the_final_answer(make_analyst, facts):
    analyst, _ = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases in all."])
    events = list(analyst.stream("How many purchases?"))
    kinds = [type(e) for e in events]
    assert kinds[:2] == [StepStarted, StepFinished] and kinds[-1] is FinalAnswer
    tokens = "".join(e.text for e in events if isinstance(e, AnswerToken))
    assert tokens == events[-1].answer.text


def test_llm_failure_gives_a_clear_answer_and_the_next_question_works(make_analyst, facts):
    analyst, _ = make_analyst(
        [
            ConnectionError("connection refused"),
            "",  # empty reply
            "",
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"{facts['purchases']} purchases.",
        ]
    )
    down = analyst.ask("How many purchases?", thread_id="f")
    assert down.status == "error" and "language model failed" in down.text and "connection refused" in down.text
    empty = analyst.ask("How many purchases?", thread_id="f")
    assert empty.status == "incomplete" and "no usable reply" in empty.text
    ok = analyst.ask("How many purchases?", thread_id="f")
    assert ok.status == "ok" and str(facts["purchases"]) in ok.text


def test_a_reply_that_only_repeats_the_question_is_sent_back_once(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            "How many purchases were there?",  # the question echoed instead of an answer
            f"There were {facts['purchases']:,} purchases.",
            tool_call("run_sql", sql=PURCHASES_SQL),
            "how many purchases were there",
            "How many purchases were there ?",
        ]
    )
    fixed = analyst.ask("How many purchases were there?", thread_id="e1")
    assert fixed.status == "ok" and f"{facts['purchases']:,}" in fixed.text
    assert "repeated the question" in model.requests[2][-1].content
    echoed = analyst.ask("How many purchases were there?", thread_id="e2")
    assert echoed.status == "ok" and echoed.text.startswith("From the query results")
    assert str(facts["purchases"]) in echoed.text  # the tool's own output answers instead


def test_a_reply_that_repeats_the_answer_reminder_is_sent_back(make_analyst, facts):
    from agent import prompt

    reminder = prompt.feedback("answer_hint", question="一共有多少次购买？")
    analyst, model = make_analyst(
        [tool_call("run_sql", sql=PURCHASES_SQL), reminder[8:80], f"一共有 {facts['purchases']} 次购买。"]
    )
    fixed = analyst.ask("一共有多少次购买？")
    assert fixed.status == "ok" and str(facts["purchases"]) in fixed.text and "工具结果" not in fixed.text
    assert "repeated the question or the instruction" in model.requests[2][-1].content


def test_a_query_shown_in_a_sql_block_instead_of_called_is_run(make_analyst, facts):
    analyst, model = make_analyst(
        [
            f"You can use the `run_sql` function with this query:\n\n```sql\n{PURCHASES_SQL};\n```",
            f"There were {facts['purchases']:,} purchases.",
        ]
    )
    answer = analyst.ask("How many purchases were there?")
    assert answer.status == "ok" and f"{facts['purchases']:,}" in answer.text
    assert [(s.tool, s.ok) for s in answer.trace] == [("run_sql", True)]
    assert answer.usage.llm_calls == 2


def test_a_reply_describing_the_tools_is_sent_back_once_for_the_answer(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            "To find the number of purchases, I used the `run_sql` function with a COUNT query.",
            f"There were {facts['purchases']:,} purchases.",
            "To find it we can use the `query` function with measure purchases.",  # no call made
            "I would use the query tool.",
        ]
    )
    fixed = analyst.ask("How many purchases were there?", thread_id="d1")
    assert fixed.status == "ok" and fixed.text == f"There were {facts['purchases']:,} purchases."
    assert "do not describe the tools" in model.requests[2][-1].content
    assert "instead of making it" not in model.requests[2][-1].content
    described = analyst.ask("How many purchases were there?", thread_id="d2")
    assert "instead of making it" in model.requests[4][-1].content
    assert described.status == "incomplete" and not described.trace
    model.script[:] = [
        tool_call("run_sql", sql=PURCHASES_SQL),
        f"I used the `run_sql` function: there were {facts['purchases']:,} purchases.",
    ]
    narrated = analyst.ask("How many purchases were there?", thread_id="d3")
    assert narrated.status == "ok" and narrated.usage.llm_calls == 2  # it holds the number: accepted as is
    model.script[:] = [
        tool_call("user_profile", user_id="100"),
        "I called the `user_profile` function for user 100; it returned their country and device.",
        "User 100 lives in the country shown in the profile.",
    ]
    echoed = analyst.ask("Where does user 100 live?", thread_id="d4")  # its only number is the question's
    assert "do not describe the tools" in model.requests[-1][-1].content and echoed.usage.llm_calls == 3


def test_chinese_questions_get_chinese_failure_texts(make_analyst):
    analyst, _ = make_analyst([TimeoutError("timed out")])
    answer = analyst.ask("上周有多少购买？")
    assert answer.status == "error" and "语言模型出错" in answer.text


def test_parallel_calls_in_one_message_run_in_order(make_analyst, facts):
    analyst, _ = make_analyst(
        [
            tool_calls(("run_sql", {"sql": VIEWS_SQL}), ("run_sql", {"sql": PURCHASES_SQL})),
            f"{facts['views']} views and {facts['purchases']} purchases.",
        ]
    )
    answer = analyst.ask("views and purchases")
    assert [t.rows[0][0] for t in answer.tables] == [facts["views"], facts["purchases"]]


@pytest.mark.postgres
def test_memory_on_postgresql_keeps_a_follow_up(make_analyst, pg_url, facts):
    from agent.analyst import Analyst
    from agent.memory import open_checkpointer

    saver = open_checkpointer(pg_url)  # SQLAlchemy-style URL, as the warehouse setting has it
    try:
        first, _ = make_analyst([])
        analyst = Analyst(
            ScriptedChatModel(script=[tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases."]),
            first.tools_for_scope,
            first.system_text,
            checkpointer=saver,
        )
        analyst.ask("How many purchases?", thread_id="pg-1")
        model = ScriptedChatModel(script=["As I said, the count above."])
        again = Analyst(model, first.tools_for_scope, first.system_text, checkpointer=saver)
        again.ask("remind me?", thread_id="pg-1")
        sent = [
            m.content
            for m in model.requests[0]
            if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback")
        ]
        assert sent == ["How many purchases?", "remind me?"]
    finally:
        saver.conn.close()


def test_scoped_threads_are_separate_namespaces(make_analyst):
    analyst, model = make_analyst(["Hi A.", "Hi B."])
    analyst.ask("hello from A", thread_id="shared", user_scope="42")
    analyst.ask("hello from B", thread_id="shared", user_scope="43")
    assert [m.content for m in model.requests[1] if isinstance(m, HumanMessage)] == ["hello from B"]
    assert analyst.history("shared", user_scope="42") == [("hello from A", "Hi A.")]


def test_a_repeated_call_is_not_rerun_and_the_model_is_asked_to_answer(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            tool_call("run_sql", sql=PURCHASES_SQL),  # the same call again
            f"{facts['purchases']} purchases.",
        ],
        answer_after_results=False,  # a model free to call on after results
    )
    answer = analyst.ask("How many purchases?")
    assert answer.status == "ok" and [s.ok for s in answer.trace] == [True, False]
    assert "already called" in model.requests[2][-1].content
    assert model.request_kwargs[2].get("tool_choice") == "none"  # the answer step may not call tools
    assert model.request_kwargs[0].get("tool_choice") == "required"  # no data yet: a call (or reply) is due
    assert "tool_choice" not in model.request_kwargs[1]  # with data, the model chooses


def test_after_the_results_a_question_asks_for_the_answer_comes_without_tools(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            tool_call("run_sql", sql=VIEWS_SQL),  # a wandering second call: not run
            f"{facts['purchases']:,} purchases.",
        ]
    )
    answer = analyst.ask("How many purchases?")
    assert [(s.tool, s.ok) for s in answer.trace] == [("run_sql", True)]
    assert model.request_kwargs[1].get("tool_choice") == "none"  # one question, its data in: answer
    # two behaviors counted side by side: both results before the answer
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=VIEWS_SQL),
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"{facts['views']} views and {facts['purchases']} purchases.",
        ]
    )
    both = analyst.ask("How many views and purchases are there?")
    assert [s.ok for s in both.trace] == [True, True] and "tool_choice" not in model.request_kwargs[1]
    assert model.request_kwargs[2].get("tool_choice") == "none"


def test_the_last_step_asks_for_an_answer_without_tools(make_analyst, facts):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=VIEWS_SQL),
            f"{facts['views']} views.",
        ],
        max_steps=2,
    )
    answer = analyst.ask("How many views?")
    assert answer.status == "ok" and model.request_kwargs[1].get("tool_choice") == "none"


def test_async_stream_and_events_serialise_for_the_api(make_analyst, facts):
    import asyncio

    from pydantic import TypeAdapter

    from agent.answer import Event

    analyst, _ = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases."])

    async def collect():
        return [e async for e in analyst.astream("How many purchases?")]

    events = asyncio.run(collect())
    adapter = TypeAdapter(Event)
    again = [adapter.validate_json(adapter.dump_json(e)) for e in events]
    assert again == events and isinstance(events[-1], FinalAnswer)
    assert events[-1].answer.tables[0].rows[0][0] == facts["purchases"]


def test_the_model_sees_no_huge_length_bounds_but_the_tool_still_enforces_them(make_analyst):
    analyst, model = make_analyst([tool_call("run_sql", sql="SELECT 1 " + " " * 30_000), "Too long."])
    answer = analyst.ask("run a long query")
    sent = model.request_kwargs[0]["tools"]
    assert "maxLength" not in str([t for t in sent if t["function"]["name"] == "run_sql"])
    assert answer.trace[0].ok is False and "invalid arguments" in answer.trace[0].error


def test_a_direct_reply_answers_without_tools_and_shows_the_reply_tool(make_analyst):
    analyst, model = make_analyst([tool_call("reply", text="Hello! Ask me about your users' behavior.")])
    answer = analyst.ask("hello")
    assert answer.status == "ok" and answer.text == "Hello! Ask me about your users' behavior."
    assert answer.trace == []  # the reply is not a tool step
    bound = [t["function"]["name"] for t in model.request_kwargs[0]["tools"]]
    assert bound[-1] == "reply" and "run_sql" in bound


def test_a_reply_after_a_tool_error_still_must_be_a_call(make_analyst):
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql="SELECT SUM(amount) FROM sales"),
            tool_call("reply", text="There is no sales table; revenue is in orders.total."),
        ]
    )
    answer = analyst.ask("What were total sales?")
    assert answer.text.startswith("There is no sales table") and [s.ok for s in answer.trace] == [False]
    assert model.request_kwargs[1].get("tool_choice") == "required"  # still no data: call or reply


def test_a_direct_reply_with_numbers_no_tool_returned_is_not_shown(make_analyst):
    analyst, _ = make_analyst(
        [
            tool_call("reply", text="You had 12345 purchases."),
            tool_call("reply", text="You had 12345 purchases."),
        ]
    )
    answer = analyst.ask("How many purchases?")
    assert "12345" not in answer.text and answer.status == "incomplete"


def test_auto_first_step_lets_the_model_write_text(make_analyst):
    analyst, model = make_analyst(["Hello! Ask me about your data."], first_step="auto")
    assert analyst.ask("hello").text == "Hello! Ask me about your data."
    assert "tool_choice" not in model.request_kwargs[0]


def test_a_tool_named_reply_is_rejected_at_build_time():
    from langchain_core.tools import tool

    from agent.tool_runner import ToolRunner

    @tool
    def reply(text: str) -> str:
        """Echo."""
        return text

    with pytest.raises(ValueError, match="reserved"):
        ToolRunner([reply])


def test_a_chinese_question_gets_the_answer_reminder_in_chinese(make_analyst, facts):
    """Measured: after the English reminder the embedded model answered 3 of 4 Chinese questions in English."""
    question = "一共有多少次购买？"
    analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), f"一共有 {facts['purchases']} 次购买。"])
    assert analyst.ask(question).status == "ok"
    reminder = model.requests[1][-1]
    assert reminder.content == prompt.feedback("answer_hint", question=question) != prompt.feedback("answer_hint")
    assert reminder.content.startswith("现在用中文回答")


def test_the_answer_reminder_is_sent_but_never_stored(make_analyst, facts):
    hint = prompt.feedback("answer_hint")
    analyst, model = make_analyst(
        [
            tool_call("run_sql", sql=PURCHASES_SQL),
            f"{facts['purchases']} purchases.",
            tool_call("run_sql", sql=VIEWS_SQL),
            f"{facts['views']} views.",
        ]
    )
    first = analyst.ask("How many purchases?", thread_id="t-hint")
    assert first.status == "ok"
    assert sum(m.content == hint for m in model.requests[1]) == 1
    # the follow-up sees the earlier call, result and answer, but not the earlier reminder
    analyst.ask("and views?", thread_id="t-hint")
    follow_up = model.requests[2]
    assert any(isinstance(m, ToolMessage) for m in follow_up)
    assert not any(m.content == hint for m in follow_up)
    analyst, model = make_analyst(
        [tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} again."], answer_hint=False
    )
    analyst.ask("How many purchases?")
    assert not any(m.content == hint for m in model.requests[1])


def test_a_later_question_in_a_thread_is_reminded_of_the_last_call_to_edit_it(make_analyst, facts):
    """The thread remembers its last query: a follow-up sees that call, so what it does not change stays."""
    analyst, model = make_analyst(
        [
            tool_call("query", measure="purchases", last_days=7),
            f"{facts['purchases']} purchases.",
            tool_call("query", measure="purchases", last_days=7, periods_back=1),
            "Counted.",
            tool_call("run_sql", sql=VIEWS_SQL),
            f"{facts['views']} 次浏览。",
        ]
    )
    analyst.ask("How many purchases in the last week?", thread_id="t-follow")
    assert not any("The last call was" in str(m.content) for request in model.requests for m in request)
    analyst.ask("and the 7 days before?", thread_id="t-follow")
    first_step, answer_step = model.requests[2], model.requests[3]
    hint = prompt.feedback("followup_hint", last_call='query {"last_days": 7, "measure": "purchases"}')
    assert isinstance(first_step[-1], HumanMessage) and first_step[-1].content == hint
    assert first_step[-2].content == "and the 7 days before?"
    assert not any(m.content == hint for m in answer_step)  # only before the first call of the question
    analyst.ask("那浏览呢？", thread_id="t-follow")
    chinese = model.requests[4]
    edited = 'query {"last_days": 7, "measure": "purchases", "periods_back": 1}'
    assert chinese[-1].content == prompt.feedback("followup_hint", question="那浏览呢？", last_call=edited)
    assert not any(m.content == hint for m in chinese)  # sent, never stored


def test_a_failed_call_sent_again_unchanged_ends_the_question_at_once(make_analyst, facts):
    bad = "SELECT COUNT(DISTINCT user_id) FROM users WHERE last_seen >= DATE '2026-01-01'"
    analyst, model = make_analyst([tool_call("run_sql", sql=bad)] * 6)
    answer = analyst.ask("How many users were active?")
    assert answer.status == "incomplete"
    assert "repeated a tool call that had failed" in answer.text and "unknown column 'last_seen'" in answer.text
    # the repeat is not run again: one failing step, two model calls instead of the step limit's six
    assert [s.ok for s in answer.trace] == [False] and answer.usage.llm_calls == 2
    assert model.remaining == 4
    # the next question works
    analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases."])
    assert analyst.ask("How many purchases?").status == "ok"


def test_an_answer_may_cite_the_data_range_from_the_system_prompt(make_analyst, facts, analyst_parts):
    first, last = analyst_parts["system_text"].split("Data covers ", 1)[1].split(".", 1)[0].split(" to ")
    analyst, _ = make_analyst(
        [tool_call("run_sql", sql=PURCHASES_SQL), f"{facts['purchases']} purchases between {first} and {last}."]
    )
    answer = analyst.ask("How many purchases are in the data?")
    assert answer.status == "ok" and first in answer.text and last in answer.text


def test_a_result_with_a_note_gets_a_reminder_to_follow_it_instead_of_answering(make_analyst):
    analyst, model = make_analyst(
        [tool_call("run_sql", sql=MISSPELT_SQL), tool_call("run_sql", sql=RETURNED_SQL), "Counted them all."]
    )
    answer = analyst.ask("Which orders were returned? Count them.")
    noted, reminder = model.requests[1][-2:]
    assert "note: no row has orders.status = 'retour'; its values: " in noted.content and "'returned'" in noted.content
    assert isinstance(reminder, HumanMessage) and reminder.content == prompt.feedback("note_hint")
    assert model.requests[2][-1].content == prompt.feedback("answer_hint")  # the corrected result has no note
    # both results stay as they ran (no rewritten history); the answer's evidence is the corrected run
    results = [m for m in model.requests[2] if isinstance(m, ToolMessage)]
    assert "note:" in results[0].content and "note:" not in results[1].content
    assert "'returned'" in answer.citations[-1].ref


def test_a_backends_own_keys_on_a_call_reach_the_next_request_and_memory(make_analyst, facts, tmp_path):
    """The embedded model keeps the tokens it wrote for a call in ``additional_kwargs`` to replay them
    into the next prompt (agent/_llamacpp.py); the loop must pass them on with the call it stores."""
    call = tool_call("run_sql", sql=PURCHASES_SQL)
    call.additional_kwargs["uba_llama_tokens"] = {"model": "m.gguf", "calls": "[]", "ids": [1, 2, 3]}
    memory = tmp_path / "threads.sqlite"
    analyst, model = make_analyst([call, f"{facts['purchases']} purchases."], memory=memory)
    analyst.ask("How many purchases?", thread_id="t-1")
    stored = [m for m in model.requests[1] if isinstance(m, AIMessage) and m.tool_calls]
    assert stored and stored[0].additional_kwargs["uba_llama_tokens"]["ids"] == [1, 2, 3]
    analyst, model = make_analyst(["Hello."], memory=memory)
    analyst.ask("hi", thread_id="t-1")
    again = [m for m in model.requests[0] if isinstance(m, AIMessage) and m.tool_calls]
    assert again and again[0].additional_kwargs["uba_llama_tokens"]["ids"] == [1, 2, 3]


def test_the_layer_entries_nearest_the_question_are_shown_beside_its_first_call_only(make_analyst, facts):
    links = "measures: purchases (number of purchase events)"
    analyst, model = make_analyst(
        [
            tool_call("query", measure="purchases"),
            f"{facts['purchases']} purchases.",
            tool_call("query", measure="views"),
            f"{facts['views']} views.",
        ],
        linker=lambda question: links if "purchase" in question else "",
    )
    analyst.ask("How many purchases?", thread_id="t-link")
    first, answer_step = model.requests[0], model.requests[1]
    hint = prompt.feedback("linking_hint", links=links)
    assert first[-1].content == hint and first[-2].content == "How many purchases?"
    assert not any(m.content == hint for m in answer_step)
    analyst.ask("and views?", thread_id="t-link")  # no links for it: only the follow-up hint
    later = model.requests[2]
    assert later[-1].content.startswith(prompt.feedback("followup_hint", last_call="X").split("X")[0])
    assert not any(m.content == hint for m in later)  # sent, never stored


def test_an_id_nobody_gave_is_sent_back_and_the_call_with_a_found_id_runs(make_analyst, demo_url):
    import duckdb

    with duckdb.connect(demo_url.removeprefix("duckdb:///"), read_only=True) as con:
        top = con.execute(
            "SELECT user_id FROM events WHERE event_type = 'purchase' GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
    analyst, model = make_analyst(
        [
            tool_call("user_profile", user_id="77777"),  # a guess: the question names no user
            tool_call("query", measure="purchases", dimensions=["user"], limit=1),
            tool_call("user_profile", user_id=str(top)),
            f"Our top buyer is user {top}.",
        ]
    )
    answer = analyst.ask("Who is our top buyer, and where are they from?")
    error = model.requests[1][-1]
    assert isinstance(error, ToolMessage) and error.status == "error"
    assert "'77777'" in error.content and "appear nowhere" in error.content
    assert [(s.tool, s.ok) for s in answer.trace] == [("user_profile", False), ("query", True), ("user_profile", True)]
    assert answer.status == "ok"
    # an id the question gives is grounded
    analyst, _ = make_analyst([tool_call("user_profile", user_id=str(top)), f"User {top}."])
    assert analyst.ask(f"Show me user {top}").trace[0].ok


def test_a_number_asked_for_and_not_given_is_asked_for_once(make_analyst, facts):
    analyst, model = make_analyst(
        [tool_call("run_sql", sql=PURCHASES_SQL), "好的，请提供工具结果。", f"一共有 {facts['purchases']} 次购买。"]
    )
    answer = analyst.ask("一共有多少次购买？")
    assert "问题问的是一个数字" in model.requests[2][-1].content  # the correction, in the question's language
    assert answer.status == "ok" and answer.text == f"一共有 {facts['purchases']} 次购买。"
    # a question that asks for no number may be answered without one
    analyst, model = make_analyst([tool_call("run_sql", sql=PURCHASES_SQL), "Audio sells best."])
    assert analyst.ask("Which category sells best?").text == "Audio sells best." and len(model.requests) == 2
