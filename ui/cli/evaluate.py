"""``uba eval``: the behavior question set through the agent, scored against gold SQL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(help="Evaluate the agent.")


@app.command("eval")
def eval_cmd(
    backend: Annotated[
        str | None, typer.Option("--backend", help="local, vllm, openai, or fake (oracle replay).")
    ] = None,
    question_set: Annotated[
        str, typer.Option("--set", help="Bundled set: regression, analyst or analyst-taobao.")
    ] = "regression",
    questions: Annotated[
        Path | None, typer.Option("--questions", help="A YAML question file instead of --set.")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="dev or test (analyst sets); default: both.")] = None,
    kinds: Annotated[str | None, typer.Option("--kinds", help="Only these kinds (classes), comma-separated.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many questions.")] = None,
    per_class: Annotated[int | None, typer.Option("--per-class", min=1, help="Only the first N of each class.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="JSON report path (default: <data dir>/eval/).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Ask every question, judge numbers, tool choice and refusals; print a table and write JSON."""
    from agent.factory import build_evaluation
    from agent.settings import Settings
    from evaluation import load_questions, run_eval, select

    settings = Settings(**({"llm_backend": backend} if backend else {}))
    wanted = {k.strip() for k in kinds.split(",")} if kinds else None
    try:
        selected = select(
            load_questions(questions or question_set), split=split, kinds=wanted, limit=limit, per_class=per_class
        )
    except ValueError as exc:
        fail(str(exc))
    if not selected:
        fail("no questions selected; check --set, --split, --kinds and --questions")
    analyst, readonly, oracle = build_evaluation(settings)

    def show(result: dict) -> None:
        if not as_json:
            mark = "[green]✓[/]" if result["correct"] else "[red]✗[/]"
            console.print(
                f"{mark} {result['id']:<34} {result['latency_ms'] / 1000:6.1f} s  "
                f"{result['llm_calls']} calls  {','.join(result['tools_called']) or '-'}",
                highlight=False,
            )

    report = run_eval(analyst, selected, readonly, backend=settings.llm_backend, oracle=oracle, on_result=show)
    summary = report.summary()
    path = out or settings.data_dir / "eval" / f"eval-{settings.llm_backend}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    if as_json:
        print_json({**summary, "report": str(path)})
        return
    counts = summary["questions_by_kind"]
    print_table(
        "accuracy by class",
        ["class", "questions", "correct"],
        [[k, str(counts[k]), f"{v:.0%}"] for k, v in summary["accuracy_by_kind"].items()],
    )
    tool_acc = summary["tool_choice_accuracy"]
    single = summary["llm_calls_single_tool"]
    scope = f"set {questions or question_set}" + (f" · split {split}" if split else "")
    print_table(
        f"uba eval · backend {summary['backend']} · {scope}",
        ["measure", "value"],
        [
            ["questions answered (skipped)", f"{summary['answered']} ({summary['skipped']})"],
            ["correct", f"{summary['accuracy']:.0%}"],
            ["tool choice", "n/a" if tool_acc is None else f"{tool_acc:.0%}"],
            [
                "Chinese questions answered in Chinese",
                "n/a" if summary["answered_in_chinese"] is None else f"{summary['answered_in_chinese']:.0%}",
            ],
            ["LLM calls / question", f"{summary['llm_calls_per_question']:.2f}"],
            ["LLM calls / single-step question", "n/a" if single is None else f"{single:.2f}"],
            ["tokens / question", f"{summary['tokens_per_question']:.0f}"],
            ["latency p50 / p95", f"{summary['latency_p50_s']:.1f} s / {summary['latency_p95_s']:.1f} s"],
            ["warm-up before the first question", f"{summary['warm_up_s']:.1f} s"],
            ["data intact after unsafe requests", "yes" if summary["data_intact"] else "NO"],
        ],
    )
    console.print(f"report: {path}")
