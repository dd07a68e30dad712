"""The Gradio web app: streaming chat with the agent's steps, evidence panels and a data overview."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from agent.answer import AnswerToken, FinalAnswer, StepFinished, StepStarted
from ui.api.auth import Authenticator, Caller
from ui.api.errors import ApiError
from ui.web.evidence import citations_markdown, figures, sql_text, step_message, table_frames
from ui.web.markdown import safe_markdown
from ui.web.reports import reports_tab, save_row

logger = logging.getLogger(__name__)

MAX_TABLES = 3
MAX_CHARTS = 2
EXAMPLES = [
    "How many purchases were made per week?",
    "What share of users who viewed an item added it to the cart and then bought it?",
    "What do 1-star reviews complain about?",
    "Which items sell the most?",
]
_CSS = """
#uba-header p { margin: 0; }
.uba-example { min-width: 0 !important; }
"""


def _web_caller(auth: Authenticator, request: gr.Request | None) -> Caller:
    if request is None or not request.username:
        if auth.mode == "none":
            return Caller(owner="web")
        # Keys were created after this page was served without a sign-in: fail closed.
        raise gr.Error("API keys are in use now; restart `uba serve` and sign in with a key")
    key = auth.keys.get(request.username)
    if key is None or not key.active:
        raise gr.Error("this key was revoked; reload the page and sign in with another key")
    return Caller(owner=f"key:{key.key_id}", user_scope=key.user_scope, rate_per_min=key.rate_per_min)


def _evidence_updates(answer=None) -> list[Any]:
    """Updates for the table slots, chart slots, citations and SQL (everything hidden when no answer)."""
    frames = table_frames(answer) if answer else []
    charts = figures(answer) if answer else []
    updates: list[Any] = []
    for i in range(MAX_TABLES):
        if i < len(frames):
            title, frame = frames[i]
            updates.append(gr.update(value=frame, label=title, visible=True))
        else:
            updates.append(gr.update(value=None, visible=False))
    for i in range(MAX_CHARTS):
        if i < len(charts):
            title, figure = charts[i]
            updates.append(gr.update(value=figure, label=title, visible=True))
        else:
            updates.append(gr.update(value=None, visible=False))
    sql = sql_text(answer) if answer else ""
    updates.append(gr.update(value=citations_markdown(answer) if answer else "", visible=answer is not None))
    updates.append(gr.update(visible=bool(sql)))
    updates.append(gr.update(value=sql))
    return updates


def _overview_view(overview: Callable[[], Any] | None) -> list[Any]:
    if overview is None:
        return ["_No warehouse is configured._", None, None, None]
    try:
        o = overview()
    except Exception as exc:  # noqa: BLE001 - the tab shows what is wrong instead of breaking the page
        logger.warning("data overview failed: %s", exc)
        return [f"**The warehouse cannot be described:** {safe_markdown(str(exc))}", None, None, None]
    summary = f"**Warehouse:** `{o.url}`  \n**Events from** {o.first_event or '—'} **to** {o.last_event or '—'}"
    counts = pd.DataFrame([[k, v] for k, v in o.row_counts.items()], columns=["table", "rows"])
    mix = pd.DataFrame([[k, v] for k, v in o.event_types.items()], columns=["event_type", "events"])
    chart = go.Figure(go.Bar(x=list(o.event_types), y=list(o.event_types.values())))
    chart.update_layout(title="Event mix", margin={"l": 40, "r": 20, "t": 50, "b": 40})
    return [summary, counts, mix, chart]


_MODEL_STATE = {
    "warming": "⏳ The model is warming up (loading, reading its instructions); a question asked now waits for it.",
    "ready": "✓ The model is ready.",
    "failed": "✗ The model could not be started: {error}",
}


def model_state_line(runs: Any) -> str:
    """The status line under the header: warming, ready or failed (with the reason)."""
    state = runs.state
    return _MODEL_STATE[state].format(error=safe_markdown(str(runs.build_error or "")))


def _layer_view(layer: Callable[[], str] | None) -> str:
    if layer is None:
        return "_No semantic layer is configured._"
    lines = [f"    {line}" if line.startswith("-") else f"\n**{line}**\n" for line in layer().splitlines()]
    return safe_markdown("\n".join(lines).replace("    - ", "- "))


def build_web(
    runs: Any,
    *,
    llm: str,
    overview: Callable[[], Any] | None,
    auth: Authenticator,
    layer: Callable[[], str] | None = None,
    watch: Any = None,
):
    """The Blocks of the web app, its theme and CSS (for ``gr.mount_gradio_app``)."""
    mode_note = "dev mode: no API keys (loopback only)" if auth.mode == "none" else "signed in with an API key"

    async def respond(question: str, history: list, thread_id: str | None, request: gr.Request) -> AsyncIterator:
        question = (question or "").strip()
        if not question:
            raise gr.Error("type a question or click an example")
        caller = _web_caller(auth, request)
        try:
            thread_id = runs.admit(caller, question, thread_id or None)
        except ApiError as exc:
            raise gr.Error(exc.message) from None
        history = [*history, {"role": "user", "content": safe_markdown(question)}]
        yield [history, thread_id, "", *_evidence_updates()]
        where: dict[int, int] = {}
        args_of: dict[int, dict] = {}
        text, text_at = "", None
        events = runs.events(caller, question, thread_id, surface="web")
        try:
            async for event in events:
                if isinstance(event, StepStarted):
                    where[event.step], args_of[event.step] = len(history), event.args
                    history.append(step_message(event.step, event.tool, event.args))
                elif isinstance(event, StepFinished):
                    message = step_message(
                        event.step,
                        event.tool,
                        args_of.get(event.step, {}),
                        duration_ms=event.duration_ms,
                        ok=event.ok,
                        error=event.error,
                    )
                    if event.step in where:
                        history[where[event.step]] = message
                    else:
                        history.append(message)
                elif isinstance(event, AnswerToken):
                    text += event.text
                    if text_at is None:
                        text_at = len(history)
                        history.append({})
                    history[text_at] = {"role": "assistant", "content": safe_markdown(text)}
                elif isinstance(event, FinalAnswer):
                    answer = event.answer
                    final = {"role": "assistant", "content": safe_markdown(answer.text)}
                    if text_at is None:
                        history.append(final)
                    else:
                        history[text_at] = final
                    yield [list(history), thread_id, "", *_evidence_updates(answer)]
                    return
                yield [list(history), thread_id, "", *_evidence_updates()]
        except ApiError as exc:
            raise gr.Error(exc.message) from None
        finally:
            await events.aclose()

    with gr.Blocks(title="uba — User Behavior Analyst", analytics_enabled=False) as blocks:
        gr.Markdown(
            f"## uba — the User Behavior Analyst\nAnswering: **`{llm}`** · {mode_note} · "
            "every number comes from a cited query, quote or model.",
            elem_id="uba-header",
        )
        model_state = gr.Markdown(model_state_line(runs), elem_id="uba-model-state")
        poll = gr.Timer(2.0)

        def refresh_state() -> list[Any]:
            return [model_state_line(runs), gr.Timer(active=runs.state != "ready")]

        poll.tick(refresh_state, None, [model_state, poll], api_name=False, queue=False)
        thread = gr.State(None)
        with gr.Tab("Ask"):
            chatbot = gr.Chatbot(
                label="Conversation",
                height=460,
                elem_id="uba-chat",
                sanitize_html=True,
                feedback_options=None,
                buttons=["copy"],
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="Ask about user behavior, reviews or forecasts…",
                    show_label=False,
                    scale=6,
                    elem_id="uba-question",
                    max_lines=4,
                )
                ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="uba-ask")
                new_button = gr.Button("New conversation", scale=1)
            with gr.Row():
                example_buttons = [gr.Button(text, size="sm", elem_classes=["uba-example"]) for text in EXAMPLES]
            tables = [
                gr.Dataframe(
                    visible=False, interactive=False, elem_classes=["uba-table"], wrap=True, show_search="search"
                )
                for _ in range(MAX_TABLES)
            ]
            charts = [gr.Plot(visible=False, elem_classes=["uba-chart"]) for _ in range(MAX_CHARTS)]
            citations = gr.Markdown(visible=False, elem_id="uba-citations", sanitize_html=True)
            with gr.Accordion("SQL behind the numbers", open=False, visible=False) as sql_box:
                sql = gr.Code(language="sql", interactive=False, elem_id="uba-sql")
            if watch is not None:
                save_row(watch, runs, lambda r: _web_caller(auth, r), thread)
        with gr.Tab("Data") as data_tab:
            summary = gr.Markdown(elem_id="uba-overview")
            with gr.Row():
                counts = gr.Dataframe(label="Rows per table", interactive=False)
                mix = gr.Dataframe(label="Events by type", interactive=False)
            mix_chart = gr.Plot(label="Event mix")
            gr.Markdown("_As of when the server started._")
        if watch is not None:
            reports_tab(watch, auth, lambda r: _web_caller(auth, r))
        with gr.Tab("What you can ask"):
            gr.Markdown(
                "Every measure can be asked over a time window, per day/week/month, compared with the "
                "window before, filtered and ranked by the dimensions."
            )
            gr.Markdown(_layer_view(layer), elem_id="uba-layer")

        outputs = [chatbot, thread, question, *tables, *charts, citations, sql_box, sql]
        ask_button.click(respond, [question, chatbot, thread], outputs, api_name="ask")
        question.submit(respond, [question, chatbot, thread], outputs, api_name=False)
        for button, text in zip(example_buttons, EXAMPLES, strict=True):
            button.click(lambda t=text: t, None, question, api_name=False, queue=False).then(
                respond, [question, chatbot, thread], outputs, api_name=False
            )
        new_button.click(lambda: [[], None, "", *_evidence_updates()], None, outputs, api_name=False, queue=False)
        overview_outputs = [summary, counts, mix, mix_chart]
        data_tab.select(lambda: _overview_view(overview), None, overview_outputs, api_name="overview")
        blocks.load(lambda: _overview_view(overview), None, overview_outputs, api_name=False)
        blocks.load(refresh_state, None, [model_state, poll], api_name=False, queue=False)

    theme = gr.themes.Default(primary_hue="indigo")
    return blocks, theme, _CSS
