"""``uba ask`` (one question) and ``uba chat`` (an interactive, streaming conversation)."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

import typer
from rich.markup import escape

from ui.cli._output import console, fail, print_json, print_table

logger = logging.getLogger(__name__)
app = typer.Typer(help="Ask the analyst.")

_Backend = Annotated[
    str | None, typer.Option("--backend", help="LLM backend: local, vllm, openai or fake (default: UBA_LLM_BACKEND).")
]
_Thread = Annotated[str | None, typer.Option("--thread", help="Conversation id; reuse it for follow-ups.")]


def _analyst(backend: str | None):
    from agent.factory import build_analyst
    from agent.settings import Settings

    settings = Settings(**({"llm_backend": backend} if backend else {}))
    return build_analyst(settings)


def _print_answer(answer: Any, *, with_text: bool = True) -> None:
    if with_text:
        console.print(answer.text, highlight=False, markup=False)
    for table in answer.tables:
        shown = table.rows[:20]
        title = (
            table.title
            if len(shown) == table.total_rows
            else f"{table.title} (showing {len(shown)} of {table.total_rows:,})"
        )
        print_table(title, table.columns, shown)
    for chart in answer.charts:
        console.print(f"[dim]chart: {escape(chart.title)} (open the web UI to view)[/]")
    for citation in answer.citations:
        detail = f" — {citation.detail}" if citation.detail else ""
        console.print(f"[dim]source ({citation.kind}): {escape(citation.ref + detail)}[/]", highlight=False)
    if answer.status != "ok":
        console.print(f"[yellow]status: {answer.status}[/]")
    u = answer.usage
    console.print(
        f"[dim]{u.llm_calls} LLM calls, {u.prompt_tokens}+{u.completion_tokens} tokens, "
        f"{u.latency_ms / 1000:.1f} s · thread {answer.thread_id}[/]"
    )


@app.command("ask")
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The question, in plain language (English or Chinese).")],
    thread: _Thread = None,
    backend: _Backend = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
) -> None:
    """Answer one question about the behavior data, with tables and sources."""
    if not question.strip():
        fail('the question is empty; e.g. uba ask "purchases per week over the last month"')
    answer = _analyst(backend).ask(question, thread_id=thread)
    if as_json:
        print_json(answer.model_dump(mode="json"))
    else:
        _print_answer(answer)
    if answer.status == "error":
        raise typer.Exit(1)


def _warm_up(analyst) -> None:
    try:
        analyst.warm_up()
    except Exception as exc:  # noqa: BLE001 - the first question reports the same problem clearly
        logger.warning("warm-up failed: %s", exc)


@app.command("chat")
def chat_cmd(thread: _Thread = None, backend: _Backend = None) -> None:
    """An interactive conversation: follow-up questions remember the earlier ones (empty line or Ctrl-D quits)."""
    from agent.answer import AnswerToken, FinalAnswer, StepFinished, StepStarted

    analyst = _analyst(backend)
    threading.Thread(target=_warm_up, args=(analyst,), daemon=True).start()  # while the user types
    thread_id = thread
    console.print("[dim]uba chat — ask about the behavior data; an empty line quits.[/]")
    while True:
        try:
            question = console.input("[bold]you>[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        console.print("[bold]uba>[/] ", end="")
        for event in analyst.stream(question, thread_id=thread_id):
            if isinstance(event, StepStarted):
                console.print(
                    f"[dim]… {event.tool}({escape(', '.join(f'{k}={v!r}' for k, v in event.args.items()))})[/]",
                    highlight=False,
                )
            elif isinstance(event, StepFinished) and not event.ok:
                console.print(f"[dim]  ✗ {event.tool}: {escape((event.error or '')[:120])}[/]", highlight=False)
            elif isinstance(event, AnswerToken):
                console.print(event.text, end="", highlight=False, markup=False)
            elif isinstance(event, FinalAnswer):
                console.print()
                thread_id = event.answer.thread_id
                _print_answer(event.answer, with_text=False)
