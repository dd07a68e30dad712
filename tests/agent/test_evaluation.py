"""The evaluation harness: the bundled set is sound, gold SQL runs, the oracle replay scores the tools."""

from __future__ import annotations

import re
from datetime import date

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.analyst import Analyst
from agent.answer import Answer, TraceStep
from agent.requests import refusal
from evaluation import load_questions, run_eval
from evaluation.scoring import is_refusal, score, value_found
from fake_llm import ScriptedChatModel

QUESTIONS = load_questions()


def test_the_bundled_set_covers_every_kind_and_holds_sql_not_numbers():
    assert len(QUESTIONS) >= 40
    kinds = {q.kind for q in QUESTIONS}
    assert kinds == {
        "trend",
        "funnel",
        "retention",
        "top_items",
        "segment",
        "profile",
        "sql",
        "reviews",
        "prediction",
        "followup",
        "chinese",
        "unsafe",
    }
    assert sum(q.refuse for q in QUESTIONS) >= 4
    assert any(re.search(r"[\u4e00-\u9fff]", q.question) for q in QUESTIONS)
    threads = [q.thread for q in QUESTIONS if q.thread]
    assert all(threads.count(t) >= 2 for t in threads)  # a follow-up always has its first question
    for q in QUESTIONS:
        if q.gold_sql:
            assert q.gold_sql.lstrip().upper().startswith(("SELECT", "WITH")), q.id


def test_every_gold_query_runs_on_the_demo_warehouse(analyst_parts, demo_url):
    from warehouse.readonly import ReadOnlyWarehouse

    readonly = ReadOnlyWarehouse(demo_url)
    for q in QUESTIONS:
        for sql in filter(None, (q.gold_sql, q.review_ids_sql)):
            assert readonly.query(sql).columns, q.id


def test_values_are_found_at_the_written_precision():
    assert value_found(1234, "There were 1,234 purchases.", 0.01)
    assert value_found(0.2345, "conversion was 23.5%", 0.01)
    assert not value_found(1234, "There were 1,500 purchases.", 0.01)
    assert value_found("Acme X200 Wireless Headphones", "The top item is acme x200 wireless headphones.", 0.01)
    # a country listed by its ISO code, named as people name it
    assert value_found("ES", "User 1234 is based in Spain.", 0.01) and value_found("ES", "该用户来自西班牙。", 0.01)
    assert not value_found("ES", "User 1234 is based in Portugal.", 0.01)
    # a name written between Chinese characters is a whole word; inside a longer word it is not
    assert value_found("Acme", "收藏次数最多的品牌是Acme，共2884次。", 0.01)
    assert not value_found("Acme", "The top brand is Acmeco.", 0.01)


def test_a_date_counts_in_iso_form_or_as_people_write_it_and_only_that_date():
    day = date(2026, 10, 31)
    for right in ("on 2026-10-31", "October 31st", "Oct 31, 2026", "the 31st of October", "10月31日"):
        assert value_found(day, right, 0.01), right
    for wrong in ("October 3", "Oct 31, 2025", "2026-10-30", "October 311"):
        assert not value_found(day, wrong, 0.01), wrong
    assert value_found("2026-10-31", "October 31st", 0.01)  # a gold date the SQL formatted as text


def test_a_chinese_question_answered_in_english_is_wrong():
    question = next(q for q in QUESTIONS if q.id == "zh-users-total")
    english, chinese = Answer(text="There are 10000 users."), Answer(text="一共有 10000 个用户。")
    assert score(question, english, (10000,), None)["correct"] is False
    assert score(question, english, (10000,), None)["language_ok"] is False
    assert score(question, chinese, (10000,), None)["correct"] is True
    assert score(next(q for q in QUESTIONS if q.kind == "sql"), english, (10000,), None)["language_ok"] is None


def test_refusal_needs_a_no_or_only_refused_tools():
    assert is_refusal(Answer(text="I cannot do that; the data is read-only."))
    assert is_refusal(Answer(text="Done.", trace=[TraceStep(tool="run_sql", ok=False, error="refused")]))
    assert not is_refusal(Answer(text="Done.", trace=[TraceStep(tool="run_sql", ok=True)]))


def test_oracle_replay_scores_the_tools_against_gold_sql_and_unsafe_requests_leave_data_intact(analyst_parts, demo_url):
    from warehouse.readonly import ReadOnlyWarehouse

    oracle = ScriptedChatModel()
    analyst = Analyst(
        oracle, analyst_parts["tools_for_scope"], analyst_parts["system_text"], checkpointer=InMemorySaver()
    )
    # No predictor model is trained on this small warehouse: prediction questions are judged in `uba eval`.
    replayable = [q for q in QUESTIONS if q.kind != "prediction"]
    report = run_eval(analyst, replayable, ReadOnlyWarehouse(demo_url), backend="fake", oracle=oracle)
    answered = [r for r in report.results if r["status"] != "skipped"]
    assert answered, "no question could be replayed with the installed tools"
    wrong = [(r["id"], r["answer"][:200], r["gold"]) for r in answered if not r["correct"]]
    assert not wrong
    by_id = {q.id: q for q in replayable}  # the report keeps each call, to see why an answer went wrong
    # a request to change data is refused before any model call (agent/requests.py): no call at all
    assert all(
        [c["tool"] for c in r["calls"]]
        == ([] if refusal(by_id[r["id"]].question) else [o.tool for o in by_id[r["id"]].oracle])
        for r in answered
    )
    unsafe = [r for r in answered if r["kind"] == "unsafe"]
    assert len(unsafe) == 5 and report.data_intact
    summary = report.summary()
    assert summary["accuracy"] == 1.0 and summary["llm_calls_single_tool"] == pytest.approx(2.0)
    assert summary["answered_in_chinese"] == 1.0
