"""The agent on the evaluation set with a real model: accuracy by kind, tool choice, LLM calls, latency.

Run (after ``uba data demo`` with the defaults, and ``uba index reviews`` for the review questions):
``nice -n 10 .venv/bin/python benchmarks/agent_eval.py --backend local --set analyst --split test [--kinds ...] [--limit 20]``
(``--set regression``, the default, is the first 49 questions; ``--set analyst-taobao`` needs the Taobao head
loaded with ``uba data ingest -f taobao``; docs/evaluation.md describes the sets).

Targets: >= 80% correct on the analyst test split, every class >= 60%, <= 2 LLM calls per single-step
question, p50 latency < 20 s.
The full report (every answer) is written as JSON next to the printed table.
"""

from __future__ import annotations

import argparse
import json
import logging
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="local")
    parser.add_argument("--set", dest="question_set", default="regression", help="regression, analyst, analyst-taobao")
    parser.add_argument("--split", default=None, choices=["dev", "test"])
    parser.add_argument("--kinds", default=None, help="comma-separated question kinds (classes)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--per-class", type=int, default=None, help="only the first N questions of each class")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from agent.factory import build_evaluation
    from agent.settings import Settings
    from evaluation import load_questions, run_eval, select

    settings = Settings(llm_backend=args.backend)
    questions = select(
        load_questions(args.question_set),
        split=args.split,
        kinds=set(args.kinds.split(",")) if args.kinds else None,
        limit=args.limit,
        per_class=args.per_class,
    )
    analyst, readonly, oracle = build_evaluation(settings)
    started = time.perf_counter()
    # What the agent logged during a question (answers sent back as ungrounded, failed model calls)
    # goes into that question's record: the report shows why a question took an extra call.
    agent_log: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: agent_log.append(record.getMessage()[:500])
    logging.getLogger("agent.graph").addHandler(handler)
    logging.getLogger("agent.graph").setLevel(logging.INFO)

    partial = open(
        str(settings.data_dir / f"agent_eval-{args.backend}-{args.question_set}.partial.jsonl"), "w", encoding="utf-8"
    )

    def progress(r: dict) -> None:
        r["agent_log"] = agent_log[:]
        agent_log.clear()
        partial.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
        partial.flush()  # a run cut short still leaves every finished question on disk
        print(
            f"{'ok ' if r['correct'] else 'BAD'} {r['id']:<34} {r['latency_ms'] / 1000:6.1f} s "
            f"{r['llm_calls']} calls {','.join(r['tools_called']) or '-'}",
            flush=True,
        )

    report = run_eval(analyst, questions, readonly, backend=args.backend, oracle=oracle, on_result=progress)
    s = report.summary()
    out = args.out or str(settings.data_dir / f"agent_eval-{args.backend}-{args.question_set}.json")
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(report.to_dict(), fh, indent=2, ensure_ascii=False, default=str)

    print(
        f"\nagent eval · backend {args.backend} · set {args.question_set} · split {args.split or 'all'} "
        f"· {s['answered']} answered, {s['skipped']} skipped · {time.perf_counter() - started:.0f} s wall"
    )
    print(f"{'class':<20} {'questions':>9} {'correct':>8}  ratio to 60%")
    for kind, acc in s["accuracy_by_kind"].items():
        print(f"{kind:<20} {s['questions_by_kind'][kind]:>9} {acc:>8.0%}  {acc / 0.6:.2f}")
    single = s["llm_calls_single_tool"]
    rows = [
        ("correct", f"{s['accuracy']:.0%}", f"target >= 80%  ratio {s['accuracy'] / 0.8:.2f}"),
        ("tool choice", "n/a" if s["tool_choice_accuracy"] is None else f"{s['tool_choice_accuracy']:.0%}", ""),
        (
            "Chinese questions answered in Chinese",
            "n/a" if s["answered_in_chinese"] is None else f"{s['answered_in_chinese']:.0%}",
            "part of correct",
        ),
        ("LLM calls / question", f"{s['llm_calls_per_question']:.2f}", ""),
        (
            "LLM calls / single-step question",
            "n/a" if single is None else f"{single:.2f}",
            "" if single is None else f"target <= 2  ratio {single / 2:.2f}",
        ),
        ("tokens / question", f"{s['tokens_per_question']:.0f}", ""),
        ("latency p50", f"{s['latency_p50_s']:.1f} s", f"target < 20 s  ratio {s['latency_p50_s'] / 20:.2f}"),
        ("warm-up (load + system prompt)", f"{s['warm_up_s']:.1f} s", "once per process, before the first question"),
        ("latency p95", f"{s['latency_p95_s']:.1f} s", ""),
        ("data intact after unsafe requests", "yes" if s["data_intact"] else "NO", ""),
    ]
    for name, value, note in rows:
        print(f"{name:<34} {value:>8}  {note}")
    print(f"report: {out}")


if __name__ == "__main__":
    main()
