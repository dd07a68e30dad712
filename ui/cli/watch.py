"""``uba watch add|list|run|remove``: saved reports and anomaly alerts, run on schedules by ``uba serve``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Saved reports and anomaly alerts (run on schedules by `uba serve`).")


def _watch():
    from agent.factory import build_watch
    from agent.settings import Settings

    return build_watch(Settings())


def _calls(queries: list[str], answer: Path | None):
    from pydantic import ValidationError

    from watch import SavedCall, calls_from_trace

    calls = []
    if answer is not None:
        try:
            calls.extend(calls_from_trace(json.loads(answer.read_text()).get("trace") or []))
        except (OSError, json.JSONDecodeError, AttributeError) as exc:
            raise typer.BadParameter(
                f"--answer {str(answer)!r} is not an Answer JSON file ({exc}); save one with "
                "`uba ask --json ... > answer.json`"
            ) from None
    for text in queries:
        try:
            body = json.loads(text)
            calls.append(SavedCall.model_validate(body if "tool" in body else {"tool": "query", "args": body}))
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise typer.BadParameter(
                f"--query {text!r} is not a query spec as JSON ({exc}); write e.g. "
                '\'{"measure": "purchases", "last_days": 7}\''
            ) from None
    return calls


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="What the report is called.")],
    schedule: Annotated[
        str,
        typer.Option("--schedule", help="Crontab line (UTC), e.g. '0 8 * * mon', or @hourly/@daily/@weekly/@monthly."),
    ],
    query: Annotated[
        list[str] | None,
        typer.Option("--query", help="A query spec as JSON (repeatable), or {'tool': ..., 'args': ...}."),
    ] = None,
    answer: Annotated[
        Path | None,
        typer.Option("--answer", help="Save the calls of an Answer JSON file (`uba ask --json`, POST /v1/ask)."),
    ] = None,
    alert: Annotated[str | None, typer.Option("--alert", help="Alert on this measure instead of a report.")] = None,
    grain: Annotated[str, typer.Option("--grain", help="Alert: check each day or each hour.")] = "day",
    alert_filter: Annotated[
        list[str] | None,
        typer.Option("--filter", help='Alert filter as JSON, e.g. \'{"dimension": "country", "value": "DE"}\'.'),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each run (alerts: each firing) here as Slack-compatible JSON.")
    ] = None,
    user_scope: Annotated[str | None, typer.Option("--user-scope", help="Run over one end user's rows only.")] = None,
    owner: Annotated[
        str, typer.Option("--owner", help="Whose list it shows in: dev (loopback dev mode) or key:<id> for an API key.")
    ] = "dev",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Save a report (query specs or an answer's calls) or an alert (a measure against its expected range)."""
    from pydantic import ValidationError

    from watch import AlertRule, WatchError

    watch = _watch()
    try:
        if alert is not None:
            if query or answer:
                fail("give --alert, or --query/--answer for a report, not both")
            try:
                rule = AlertRule(measure=alert, grain=grain, filters=[json.loads(f) for f in alert_filter or []])
            except (ValidationError, json.JSONDecodeError) as exc:
                raise typer.BadParameter(f"invalid alert: {exc}") from None
            report = watch.add_alert(name, rule, schedule, webhook=webhook, owner=owner, user_scope=user_scope)
        else:
            calls = _calls(query or [], answer)
            report = watch.add_report(name, calls, schedule, webhook=webhook, owner=owner, user_scope=user_scope)
    except WatchError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"saved {report.kind} {report.report_id} ({report.name}), schedule {report.schedule!r}; "
        f"`uba watch run {report.report_id}` runs it now",
        highlight=False,
        soft_wrap=True,
    )


@app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every saved report and alert with its schedule and latest run."""
    watch = _watch()
    reports = watch.store.reports()
    latest = {}
    for run in watch.store.runs(limit=500):
        latest.setdefault(run.report_id, run)
    if as_json:
        print_json(
            [
                r.to_dict() | {"latest_run": latest[r.report_id].to_dict() if r.report_id in latest else None}
                for r in reports
            ]
        )
        return
    print_table(
        "saved reports and alerts",
        ["id", "kind", "name", "schedule", "webhook", "owner", "latest run"],
        [
            [
                r.report_id,
                r.kind,
                r.name,
                r.schedule,
                r.webhook or "",
                r.owner,
                f"{latest[r.report_id].status} {latest[r.report_id].started_at}" if r.report_id in latest else "never",
            ]
            for r in reports
        ],
    )


@app.command("run")
def run_cmd(
    report_id: Annotated[str, typer.Argument(help="The id from `uba watch list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run one report or alert now (no model call) and deliver it to its webhook."""
    from watch import UnknownReport

    watch = _watch()
    try:
        run = watch.run(report_id)
    except UnknownReport as exc:
        fail(str(exc.args[0]))
    if run.delivery == "queued":
        watch.deps.sender.join(timeout_s=120)
        run = watch.store.runs(report_id, limit=1)[0]
    if as_json:
        print_json(run.to_dict())
    else:
        console.print(run.text, highlight=False, markup=False, soft_wrap=True)
        if run.delivery:
            console.print(f"webhook: {run.delivery}", highlight=False, markup=False)
    if run.status == "error":
        raise typer.Exit(1)


@app.command("remove")
def remove_cmd(report_id: Annotated[str, typer.Argument(help="The id from `uba watch list`.")]) -> None:
    """Delete a report or alert and its runs; `uba serve` stops scheduling it within a minute."""
    from agent.settings import Settings
    from watch import UnknownReport, WatchStore

    try:
        report = WatchStore.in_data_dir(Settings().data_dir).remove(report_id)
    except UnknownReport as exc:
        fail(str(exc.args[0]))
    console.print(f"removed {report.kind} {report.report_id} ({report.name})", highlight=False)
