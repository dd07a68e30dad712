"""``/v1/watch``: saved reports and anomaly alerts of the caller's key, run on schedules by ``uba serve``.

A report is saved from an answer of a thread (its typed tool calls, not its text) or from query specs;
it runs with the saving key's user scope, never a wider one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ui.api.errors import ApiError
from watch import AlertRule, SavedCall, UnknownReport, WatchError, calls_from_trace

router = APIRouter(tags=["watch"])


class WatchCreate(BaseModel):
    """A report (from a thread's answer, tool calls or query specs) or an alert, with its schedule."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=120)
    schedule: str = Field(description="crontab line in UTC ('0 8 * * mon') or @hourly, @daily, @weekly, @monthly")
    webhook: str | None = Field(None, description="POST each run (alerts: each firing) here, Slack-compatible JSON")
    thread_id: str | None = Field(None, description="save the calls of this thread's answer (X-Thread-Id)")
    turn: int | None = Field(None, ge=1, description="which answer of the thread (seq); default the latest")
    calls: list[SavedCall] = Field(default_factory=list, description="tool calls, e.g. from an Answer's trace")
    queries: list[dict[str, Any]] = Field(default_factory=list, description="query specs (the query tool's args)")
    alert: AlertRule | None = Field(None, description="alert on a measure instead of a report")

    @model_validator(mode="after")
    def _one_source(self):
        given = [bool(self.thread_id), bool(self.calls or self.queries), self.alert is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of thread_id, calls/queries or alert")
        return self


def _watch(request: Request):
    return request.app.state.watch


def _answer_calls(request: Request, owner: str, body: WatchCreate) -> list[SavedCall]:
    thread = request.app.state.runs.threads.get(body.thread_id, owner)
    if thread is None or not thread["turns"]:
        raise ApiError(
            404,
            f"no answered thread {body.thread_id!r} for this key; thread ids come back in the "
            "X-Thread-Id header of /v1/ask",
            param="thread_id",
        )
    turns = [t for t in thread["turns"] if body.turn is None or t["seq"] == body.turn]
    if not turns:
        raise ApiError(404, f"thread {body.thread_id!r} has no turn {body.turn}", param="turn")
    return calls_from_trace(turns[-1]["answer"].get("trace") or [])


def _with_latest(watch, reports) -> list[dict[str, Any]]:
    latest: dict[str, Any] = {}
    for run in watch.store.runs(limit=500, owner=reports[0].owner) if reports else []:
        latest.setdefault(run.report_id, run.to_dict())
    return [r.to_dict() | {"latest_run": latest.get(r.report_id)} for r in reports]


@router.get("/v1/watch", summary="The caller's saved reports and alerts with their latest runs")
async def list_reports(request: Request) -> dict[str, Any]:
    """Only the key's own reports."""
    caller = request.app.state.auth.caller(request)
    watch = _watch(request)
    return {"reports": _with_latest(watch, watch.store.reports(caller.owner))}


@router.post("/v1/watch", status_code=201, summary="Save a report or an alert")
async def add_report(body: WatchCreate, request: Request) -> dict[str, Any]:
    """422 names a bad schedule, measure, argument or webhook; the report runs with the key's user scope."""
    caller = request.app.state.auth.caller(request)
    watch = _watch(request)
    try:
        if body.alert is not None:
            report = await run_in_threadpool(
                watch.add_alert,
                body.name,
                body.alert,
                body.schedule,
                webhook=body.webhook,
                owner=caller.owner,
                user_scope=caller.user_scope,
            )
        else:
            calls = (
                _answer_calls(request, caller.owner, body)
                if body.thread_id
                else [*body.calls, *(SavedCall(tool="query", args=q) for q in body.queries)]
            )
            report = await run_in_threadpool(
                watch.add_report,
                body.name,
                calls,
                body.schedule,
                webhook=body.webhook,
                owner=caller.owner,
                user_scope=caller.user_scope,
            )
    except WatchError as exc:
        raise ApiError(422, str(exc)) from None
    return report.to_dict()


@router.post("/v1/watch/{report_id}/run", summary="Run a report or alert now (no model call)")
async def run_report(report_id: str, request: Request) -> dict[str, Any]:
    """The run: status ok, alert or error, its text, tables and charts; webhook delivery happens in the background."""
    caller = request.app.state.auth.caller(request)
    try:
        run = await run_in_threadpool(_watch(request).run, report_id, owner=caller.owner)
    except UnknownReport as exc:
        raise ApiError(404, str(exc.args[0])) from None
    return run.to_dict()


@router.get("/v1/watch/{report_id}/runs", summary="A report's latest runs, newest first")
async def list_runs(report_id: str, request: Request, limit: int = 20) -> dict[str, Any]:
    """Up to ``limit`` runs (1-200)."""
    caller = request.app.state.auth.caller(request)
    watch = _watch(request)
    try:
        watch.store.get(report_id, caller.owner)
    except UnknownReport as exc:
        raise ApiError(404, str(exc.args[0])) from None
    runs = watch.store.runs(report_id, limit=max(1, min(limit, 200)))
    return {"runs": [r.to_dict() for r in runs]}


@router.delete("/v1/watch/{report_id}", summary="Delete a report or alert and its runs")
async def remove_report(report_id: str, request: Request) -> dict[str, Any]:
    """The scheduler drops it within a minute."""
    caller = request.app.state.auth.caller(request)
    try:
        report = _watch(request).store.remove(report_id, caller.owner)
    except UnknownReport as exc:
        raise ApiError(404, str(exc.args[0])) from None
    return {"removed": report.report_id}
