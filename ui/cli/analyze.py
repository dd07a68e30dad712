"""``uba analyze``: the typed behavior analytics from the command line, no LLM involved."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(
    no_args_is_help=True, help="Behavior analytics: trend, funnel, retention, paths, top items, segments, user."
)

Start = Annotated[str | None, typer.Option(help="First day included, YYYY-MM-DD.")]
End = Annotated[str | None, typer.Option(help="Last day included, YYYY-MM-DD.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON with the SQL that ran.")]


def _run(name: str, request_cls, fn, as_json: bool, **fields) -> None:
    from pydantic import ValidationError

    from agent.factory import open_safe_sql
    from agent.settings import Settings
    from tools.tabular import cell

    try:
        request = request_cls(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"--{'.'.join(map(str, e['loc'])).replace('_', '-')}: {e['msg']}" for e in exc.errors())
        fail(f"invalid {name} options: {problems}")
    safe = open_safe_sql(Settings())
    try:
        result = fn(safe, request)
    finally:
        safe.readonly.close()
    if as_json:
        print_json(result.to_dict())
        return
    rows = [[cell(v) for v in row] for row in result.table.itertuples(index=False, name=None)]
    print_table(name, [str(c) for c in result.table.columns], rows)
    console.print(result.summary, highlight=False, markup=False)
    console.print("SQL that ran:", style="bold")
    console.print(result.sql, highlight=False, markup=False, soft_wrap=True)


@app.command("trend")
def trend_cmd(
    metric: Annotated[str, typer.Option(help="events | unique_users | revenue")] = "events",
    event_type: Annotated[
        str | None, typer.Option(help="Only this event type; all (the default) counts every type.")
    ] = None,
    interval: Annotated[str, typer.Option(help="day | week | month")] = "day",
    breakdown: Annotated[str | None, typer.Option(help="country | device | channel | category")] = None,
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """A metric per day, week or month."""
    from warehouse.analytics import TrendRequest, trend

    _run(
        "trend",
        TrendRequest,
        trend,
        as_json,
        metric=metric,
        event_type=event_type,
        interval=interval,
        breakdown=breakdown,
        start=start,
        end=end,
    )


@app.command("funnel")
def funnel_cmd(
    steps: Annotated[str, typer.Option(help="Comma-separated event types in order, e.g. view,add_to_cart,purchase")],
    window_hours: Annotated[int, typer.Option(help="Conversion window from the first step, hours.")] = 168,
    breakdown: Annotated[str | None, typer.Option(help="country | device | channel")] = None,
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """Ordered per-user conversion through event steps."""
    from warehouse.analytics import FunnelRequest, funnel

    _run(
        "funnel",
        FunnelRequest,
        funnel,
        as_json,
        steps=[s.strip() for s in steps.split(",") if s.strip()],
        window_hours=window_hours,
        breakdown=breakdown,
        start=start,
        end=end,
    )


@app.command("retention")
def retention_cmd(
    cohort_by: Annotated[str, typer.Option(help="signup | first_event")] = "signup",
    cohort_event: Annotated[str | None, typer.Option(help="With first_event: the event that starts a cohort.")] = None,
    return_event: Annotated[str | None, typer.Option(help="Event that counts as returning; default any.")] = None,
    period: Annotated[str, typer.Option(help="day | week")] = "week",
    periods: Annotated[int, typer.Option(help="Periods after the cohort period.")] = 8,
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """A cohort retention table."""
    from warehouse.analytics import RetentionRequest, retention

    _run(
        "retention",
        RetentionRequest,
        retention,
        as_json,
        cohort_by=cohort_by,
        cohort_event=cohort_event,
        return_event=return_event,
        period=period,
        periods=periods,
        start=start,
        end=end,
    )


@app.command("paths")
def paths_cmd(
    event_type: Annotated[str, typer.Option(help="The anchor event.")],
    direction: Annotated[str, typer.Option(help="next | previous")] = "next",
    depth: Annotated[int, typer.Option(help="Steps to follow (1-3).")] = 1,
    across_sessions: Annotated[bool, typer.Option(help="Follow the user across sessions.")] = False,
    top: Annotated[int, typer.Option(help="Paths to show.")] = 10,
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """The most common next or previous steps around an event."""
    from warehouse.analytics import PathsRequest, paths

    _run(
        "paths",
        PathsRequest,
        paths,
        as_json,
        event_type=event_type,
        direction=direction,
        depth=depth,
        within_session=not across_sessions,
        top_n=top,
        start=start,
        end=end,
    )


@app.command("top-items")
def top_items_cmd(
    metric: Annotated[str, typer.Option(help="events | unique_users | revenue")] = "events",
    event_type: Annotated[
        str | None, typer.Option(help="Only this event type; all (the default) counts every type.")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: Annotated[int, typer.Option(help="Items to show.")] = 10,
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """The leading items."""
    from warehouse.analytics import TopItemsRequest, top_items

    _run(
        "top_items",
        TopItemsRequest,
        top_items,
        as_json,
        metric=metric,
        event_type=event_type,
        category=category,
        limit=limit,
        start=start,
        end=end,
    )


@app.command("segments")
def segments_cmd(
    dimension: Annotated[str, typer.Option(help="country | device | channel | category | brand")],
    conversion_event: Annotated[str, typer.Option(help="Event that counts as converted.")] = "purchase",
    sort_by: Annotated[
        str, typer.Option(help="events | users | converted_users | conversion_rate | revenue")
    ] = "events",
    start: Start = None,
    end: End = None,
    as_json: Json = False,
) -> None:
    """Segments side by side: activity, conversion, revenue."""
    from warehouse.analytics import SegmentRequest, segment_breakdown

    _run(
        "segment_breakdown",
        SegmentRequest,
        segment_breakdown,
        as_json,
        dimension=dimension,
        conversion_event=conversion_event,
        sort_by=sort_by,
        start=start,
        end=end,
    )


@app.command("user")
def user_cmd(
    user_id: Annotated[str, typer.Argument(help="The user's id.")],
    recent: Annotated[int, typer.Option(help="Latest events to list.")] = 20,
    as_json: Json = False,
) -> None:
    """One user's profile and recent timeline (email masked)."""
    from warehouse.analytics import UserProfileRequest, user_profile

    _run("user_profile", UserProfileRequest, user_profile, as_json, user_id=user_id, recent=recent)
