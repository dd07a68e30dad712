"""The web app's Reports tab and its "save as report" row: saved reports and alerts with their latest runs."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go

from ui.api.auth import Authenticator, Caller
from ui.web.markdown import safe_markdown
from watch import UnknownReport, WatchError, calls_from_trace

logger = logging.getLogger(__name__)

COLUMNS = ["id", "kind", "name", "schedule", "latest run", "status"]


def _owners(auth: Authenticator, caller: Caller) -> list[str]:
    # In loopback dev mode the CLI's and the API's reports (owner dev) are the web user's too.
    return [caller.owner, "dev"] if auth.mode == "none" else [caller.owner]


def report_rows(watch: Any, owners: list[str]) -> pd.DataFrame:
    """One row per report of ``owners`` with its latest run."""
    rows = []
    for owner in owners:
        latest: dict[str, Any] = {}
        for run in watch.store.runs(limit=500, owner=owner):
            latest.setdefault(run.report_id, run)
        for r in watch.store.reports(owner):
            run = latest.get(r.report_id)
            rows.append(
                [r.report_id, r.kind, r.name, r.schedule, run.started_at if run else "never", run.status if run else ""]
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def run_view(watch: Any, report_id: str | None, owners: list[str]) -> tuple[str, Any]:
    """(markdown, chart figure or None) of a report's latest run."""
    if not report_id:
        return "_Pick a report (its id) to see its latest run._", None
    report = next((r for o in owners for r in watch.store.reports(o) if r.report_id == report_id), None)
    if report is None:
        return f"_No report {safe_markdown(report_id)} for you._", None
    runs = watch.store.runs(report_id, limit=1)
    if not runs:
        return f"**{safe_markdown(report.name)}** has not run yet; click Run now.", None
    run = runs[0]
    head = "🔔 **Alert**" if run.status == "alert" else f"**{safe_markdown(report.name)}** ({run.status})"
    text = f"{head} · slot {safe_markdown(run.slot)}\n\n{safe_markdown(run.text)}"
    if run.delivery:
        text += f"\n\n_webhook: {safe_markdown(run.delivery)}_"
    charts = run.payload.get("charts") or []
    figure = go.Figure(charts[0]["spec"]) if charts else None
    return text, figure


def reports_tab(watch: Any, auth: Authenticator, caller_of) -> None:
    """The Reports tab (inside a ``gr.Blocks``): the list, one report's latest run and chart, Run now."""
    with gr.Tab("Reports") as tab:
        gr.Markdown(
            "Saved reports re-run their queries on a schedule (no model call); alerts flag a measure "
            "outside its expected range and name the segments that moved. Save one from an answer "
            "under the Ask tab, or with `uba watch add`."
        )
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="uba-reports", wrap=True)
        with gr.Row():
            picked = gr.Textbox(label="Report id", scale=3, elem_id="uba-report-id")
            show = gr.Button("Show", scale=1)
            run_now = gr.Button("Run now", variant="primary", scale=1, elem_id="uba-report-run")
        detail = gr.Markdown(elem_id="uba-report-detail", sanitize_html=True)
        chart = gr.Plot(label="Chart", elem_id="uba-report-chart")

    def listing(request: gr.Request):
        return report_rows(watch, _owners(auth, caller_of(request)))

    def showing(report_id: str, request: gr.Request):
        return run_view(watch, (report_id or "").strip(), _owners(auth, caller_of(request)))

    def running(report_id: str, request: gr.Request):
        owners = _owners(auth, caller_of(request))
        report_id = (report_id or "").strip()
        if not any(r.report_id == report_id for o in owners for r in watch.store.reports(o)):
            raise gr.Error(f"no report {report_id!r} for you; pick an id from the list")
        watch.run(report_id)
        return [*run_view(watch, report_id, owners), report_rows(watch, owners)]

    tab.select(listing, None, table, api_name=False)
    show.click(showing, [picked], [detail, chart], api_name=False)
    run_now.click(running, [picked], [detail, chart, table], api_name=False)


def save_row(watch: Any, runs: Any, caller_of, thread) -> None:
    """Under the Ask tab: save the latest answer of the conversation as a scheduled report."""
    with gr.Accordion("Save this answer as a report", open=False):
        with gr.Row():
            name = gr.Textbox(label="Name", scale=3, elem_id="uba-save-name")
            schedule = gr.Textbox(
                label="Schedule (crontab, UTC)", value="0 8 * * mon", scale=2, elem_id="uba-save-schedule"
            )
            webhook = gr.Textbox(label="Webhook (optional)", scale=3)
            save = gr.Button("Save", scale=1, elem_id="uba-save")
        saved = gr.Markdown(elem_id="uba-save-result")

    def saving(name_text: str, cron: str, hook: str, thread_id: str | None, request: gr.Request) -> str:
        caller = caller_of(request)
        found = runs.threads.get(thread_id, caller.owner) if thread_id else None
        if not found or not found["turns"]:
            raise gr.Error("ask a question first; the latest answer of this conversation is what gets saved")
        try:
            calls = calls_from_trace(found["turns"][-1]["answer"].get("trace") or [])
            report = watch.add_report(
                name_text or found["turns"][-1]["question"][:120],
                calls,
                cron.strip(),
                webhook=(hook or "").strip() or None,
                owner=caller.owner,
                user_scope=caller.user_scope,
            )
        except (WatchError, UnknownReport) as exc:
            raise gr.Error(str(exc)) from None
        return f"Saved **{safe_markdown(report.name)}** as `{report.report_id}`; see the Reports tab."

    save.click(saving, [name, schedule, webhook, thread], saved, api_name=False)
