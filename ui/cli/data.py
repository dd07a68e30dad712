"""``uba data``: build the demo warehouse, ingest public formats, describe what is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ui.cli._output import console, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Build, load and inspect the behavior warehouse.")


def _warehouse():
    from agent.factory import open_warehouse
    from agent.settings import Settings

    return open_warehouse(Settings())


@app.command("describe")
def describe_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Tables, row counts, date range, event-type counts and top items."""
    from warehouse.describe import describe

    overview = describe(_warehouse())
    if as_json:
        print_json(overview.to_dict())
        return
    console.print(f"warehouse: {overview.url}")
    console.print(f"events from {overview.first_event} to {overview.last_event}")
    print_table("rows per table", ["table", "rows"], [[k, f"{v:,}"] for k, v in overview.row_counts.items()])
    print_table("events by type", ["event_type", "events"], [[k, f"{v:,}"] for k, v in overview.event_types.items()])
    print_table("top items by events", ["item_id", "title", "events"], [[i, t, f"{n:,}"] for i, t, n in overview.top_items])


@app.command("demo")
def demo_cmd(
    users: Annotated[int, typer.Option("--users", help="Number of shop users.")] = 10_000,
    days: Annotated[int, typer.Option("--days", help="Days of behavior, ending on --end.")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same data.")] = 7,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day of the window, YYYY-MM-DD (default: a fixed date).")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Delete what the warehouse holds first.")] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the warehouse already holds data (make demo).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Build the deterministic demo shop: users, items, events, orders and reviews."""
    from datetime import date

    from warehouse.demo import check_demo_args, generate_demo

    try:
        check_demo_args(users=users, days=days, seed=seed)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    last_day = None
    if end is not None:
        try:
            last_day = date.fromisoformat(end)
        except ValueError:
            raise typer.BadParameter(f"--end {end!r} is not a date; use YYYY-MM-DD, e.g. 2026-10-31") from None
    warehouse = _warehouse()
    if if_empty and not replace and any(warehouse.row_counts().values()):
        warehouse.dispose()
        console.print(f"{warehouse.url} already holds data; left as it is (--replace rebuilds the demo)")
        return
    try:
        stats = generate_demo(warehouse, users=users, days=days, seed=seed, end=last_day, replace=replace,
                              progress=not as_json)
    finally:
        warehouse.dispose()
    if as_json:
        print_json({"warehouse": warehouse.url, **stats.to_dict()})
        return
    console.print(f"demo data in {warehouse.url}: {stats.first_day} to {stats.last_day}, seed {seed}")
    print_table("rows loaded", ["table", "rows"], [
        [name, f"{getattr(stats, name):,}"] for name in ("users", "items", "events", "orders", "order_items", "reviews")
    ])
    console.print(f"generated in {stats.generate_seconds:.1f} s, loaded in {stats.load_seconds:.1f} s "
                  f"({stats.events / max(stats.seconds, 1e-9):,.0f} events/s)")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        left, sep, right = value.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise typer.BadParameter(f"{option} {value!r} is not NAME=VALUE; write e.g. {option} user_id=visitor")
        pairs[left.strip()] = right.strip()
    return pairs


@app.command("ingest")
def ingest_cmd(
    path: Annotated[Path, typer.Argument(help="The file to load: .csv, .json(.gz), .parquet.")],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="amazon-reviews, taobao, retailrocket, uci-retail, csv or parquet."),
    ],
    maps: Annotated[
        list[str] | None, typer.Option("--map", help="csv/parquet: canonical=column, e.g. --map user_id=visitor.")
    ] = None,
    event_maps: Annotated[
        list[str] | None, typer.Option("--event-map", help="csv/parquet: name=event_type, e.g. --event-map click=view.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load one file into the warehouse: all of it or nothing; re-running it changes nothing."""
    from warehouse.loaders import ingest

    mapping, event_map = _pairs(maps, "--map"), _pairs(event_maps, "--event-map")
    warehouse = _warehouse()
    try:
        report = ingest(warehouse, path, fmt, mapping=mapping, event_map=event_map, progress=not as_json)
    finally:
        warehouse.dispose()
    if as_json:
        print_json({"warehouse": warehouse.url, **report.to_dict()})
        return
    console.print(f"{report.path} ({report.fmt}) into {warehouse.url}: {report.rows_read:,} rows read")
    print_table("rows per table", ["table", "inserted", "already present"], [
        [name, f"{report.inserted[name]:,}", f"{report.present[name]:,}"] for name in report.inserted
    ])
    if report.skipped:
        print_table("rows skipped", ["reason", "rows"], [[k, f"{v:,}"] for k, v in report.skipped.items()])
    console.print(f"done in {report.elapsed_s:.1f} s ({report.rows_per_s:,.0f} rows/s)")
