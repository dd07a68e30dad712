"""Running the question set through an Analyst and aggregating the verdicts."""

from __future__ import annotations

import logging
import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from string import Template
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage

from agent.analyst import Analyst
from evaluation.scoring import score
from evaluation.suite import EvalQuestion
from fake_llm import ScriptedChatModel, tool_call
from warehouse.readonly import ReadOnlyWarehouse
from warehouse.schema import TABLE_NAMES
from warehouse.sql_guard import sqlglot_dialect

logger = logging.getLogger(__name__)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class EvalReport:
    """Per-question results and the summary ``uba eval`` prints."""

    backend: str
    results: list[dict[str, Any]] = field(default_factory=list)
    data_intact: bool = True
    warm_up_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Accuracy (overall, by kind), tool-choice accuracy, Chinese questions answered in Chinese, LLM calls,
        tokens, latency percentiles."""
        done = [r for r in self.results if r["status"] != "skipped"]
        by_kind: dict[str, list[bool]] = {}
        for r in done:
            by_kind.setdefault(r["kind"], []).append(r["correct"])
        tool_judged = [r["tool_ok"] for r in done if r["tool_ok"] is not None]
        language_judged = [r["language_ok"] for r in done if r.get("language_ok") is not None]
        single = [r["llm_calls"] for r in done if r["single_tool"]]
        latencies = [r["latency_ms"] / 1000 for r in done]
        return {
            "backend": self.backend,
            "questions": len(self.results),
            "answered": len(done),
            "skipped": len(self.results) - len(done),
            "accuracy": sum(r["correct"] for r in done) / len(done) if done else 0.0,
            "accuracy_by_kind": {k: sum(v) / len(v) for k, v in sorted(by_kind.items())},
            "questions_by_kind": {k: len(v) for k, v in sorted(by_kind.items())},
            "tool_choice_accuracy": sum(tool_judged) / len(tool_judged) if tool_judged else None,
            "answered_in_chinese": sum(language_judged) / len(language_judged) if language_judged else None,
            "llm_calls_per_question": statistics.fmean(r["llm_calls"] for r in done) if done else 0.0,
            "llm_calls_single_tool": statistics.fmean(single) if single else None,
            "tokens_per_question": statistics.fmean(r["prompt_tokens"] + r["completion_tokens"] for r in done)
            if done
            else 0.0,
            "latency_p50_s": _percentile(latencies, 0.5),
            "latency_p95_s": _percentile(latencies, 0.95),
            "data_intact": self.data_intact,
            "warm_up_s": self.warm_up_s,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary and every result."""
        return {"summary": self.summary(), "results": self.results}


def gold_row(readonly: ReadOnlyWarehouse, sql: str | None) -> tuple | None:
    """The first row of a gold query (DuckDB SQL, transpiled for the warehouse's engine); ``None`` without one."""
    if sql is None:
        return None
    if readonly.dialect != "duckdb":
        import sqlglot

        sql = sqlglot.transpile(sql, read="duckdb", write=sqlglot_dialect(readonly.dialect))[0]
    rows = readonly.query(sql).rows
    return tuple(rows[0]) if rows else None


def _row_counts(readonly: ReadOnlyWarehouse) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {t}" for t in TABLE_NAMES)
    return {str(name): int(n) for name, n in readonly.query(sql).rows}


def _oracle_script(question: EvalQuestion) -> list:
    """What a perfect model says: the oracle calls one per turn, then the answer over the tool texts."""

    def answer(messages: list[BaseMessage]) -> str:
        start = max(
            i
            for i, m in enumerate(messages)
            if isinstance(m, HumanMessage) and not m.additional_kwargs.get("uba_feedback")
        )
        result = "\n".join(str(m.content) for m in messages[start:] if isinstance(m, ToolMessage))
        text = Template(question.oracle_answer).substitute(result=result)
        return text or "The scripted model has no answer for this question."  # a set without oracle calls

    return [*(tool_call(c.tool, **c.args) for c in question.oracle), answer]


def run_eval(
    analyst: Analyst,
    questions: Sequence[EvalQuestion],
    readonly: ReadOnlyWarehouse,
    *,
    backend: str,
    oracle: ScriptedChatModel | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> EvalReport:
    """Ask every question (threads in order), judge each answer against gold computed now by SQL."""
    report = EvalReport(backend=backend)
    tools = {t.name for t in analyst.tools_for_scope(None)}
    before = _row_counts(readonly)
    run_id = uuid.uuid4().hex[:8]
    report.warm_up_s = analyst.warm_up()  # model load and system prompt: a server start's cost, not a question's
    for question in questions:
        result: dict[str, Any] = {
            "id": question.id,
            "kind": question.kind,
            "split": question.split,
            "question": question.question,
            "thread": question.thread,
            "single_tool": question.single_step,
        }
        missing = sorted({c.tool for c in question.oracle} - tools) if oracle is not None else []
        if missing:
            result.update(status="skipped", correct=False, tool_ok=None, answer=f"tools not installed: {missing}")
            report.results.append(result)
            continue
        if oracle is not None:
            oracle.script[:] = _oracle_script(question)
        thread = f"eval-{run_id}-{question.thread}" if question.thread else None
        gold = gold_row(readonly, question.gold_sql)
        review_ids = (
            {str(r[0]) for r in readonly.query(question.review_ids_sql).rows} if question.review_ids_sql else None
        )
        answer = analyst.ask(question.question, thread_id=thread)
        result.update(score(question, answer, gold, review_ids))
        result.update(
            answer=answer.text,
            gold=[str(v) for v in gold] if gold else None,
            calls=[{"tool": s.tool, "args": s.args, "ok": s.ok, "error": s.error} for s in answer.trace],
        )
        report.results.append(result)
        if on_result is not None:
            on_result(result)
    report.data_intact = _row_counts(readonly) == before
    return report
