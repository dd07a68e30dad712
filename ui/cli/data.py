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
    print_table(
        "top items by events", ["item_id", "title", "events"], [[i, t, f"{n:,}"] for i, t, n in overview.top_items]
    )


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
        stats = generate_demo(
            warehouse, users=users, days=days, seed=seed, end=last_day, replace=replace, progress=not as_json
        )
    finally:
        warehouse.dispose()
    if as_json:
        print_json({"warehouse": warehouse.url, **stats.to_dict()})
        return
    console.print(f"demo data in {warehouse.url}: {stats.first_day} to {stats.last_day}, seed {seed}")
    print_table(
        "rows loaded",
        ["table", "rows"],
        [
            [name, f"{getattr(stats, name):,}"]
            for name in ("users", "items", "events", "orders", "order_items", "reviews")
        ],
    )
    console.print(
        f"generated in {stats.generate_seconds:.1f} s, loaded in {stats.load_seconds:.1f} s "
        f"({stats.events / max(stats.seconds, 1e-9):,.0f} events/s)"
    )


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs = {}
    for value in values or []:
        left, sep, right = value.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise typer.BadParameter(f"{option} {value!r} is not NAME=VALUE; write e.g. {option} user_id=visitor")
        pairs[left.strip()] = right.strip()
    return pairs


def _value_maps(values: list[str] | None) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for value in values or []:
        column, sep, pair = value.partition(":")
        if not sep or "=" not in pair:
            raise typer.BadParameter(
                f"--value-map {value!r} is not COLUMN:FROM=TO; write e.g. --value-map country:UK=GB"
            )
        maps.setdefault(column.strip(), {}).update(_pairs([pair], "--value-map"))
    return maps


@app.command("ingest")
def ingest_cmd(
    path: Annotated[Path, typer.Argument(help="The file to load: .csv, .tsv, .txt, .json(l)(.gz), .parquet.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="amazon-reviews, taobao, retailrocket, uci-retail, or a mapped csv, tsv, jsonl, parquet.",
        ),
    ],
    mapping_file: Annotated[
        Path | None, typer.Option("--mapping", help="A YAML mapping file (see docs/ingest.md); flags override it.")
    ] = None,
    maps: Annotated[
        list[str] | None, typer.Option("--map", help="Rename: canonical=column, e.g. --map user_id=visitor.")
    ] = None,
    consts: Annotated[
        list[str] | None, typer.Option("--const", help="A constant column, e.g. --const event_type=view.")
    ] = None,
    event_maps: Annotated[
        list[str] | None, typer.Option("--event-map", help="name=event_type, e.g. --event-map click=view.")
    ] = None,
    value_maps: Annotated[
        list[str] | None, typer.Option("--value-map", help="column:from=to, e.g. --value-map country:UK=GB.")
    ] = None,
    sep: Annotated[
        str | None, typer.Option("--sep", help="Separator: ',', ';', tab, '|' or whitespace (sniffed if absent).")
    ] = None,
    ts_format: Annotated[
        str | None,
        typer.Option("--ts-format", help="iso, yyyymmdd, unix_s, unix_ms, unix_us, unix_ns or a strftime pattern."),
    ] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", help="Columns that identify one event; repeats are skipped.")
    ] = None,
    orders: Annotated[bool, typer.Option("--orders", help="Build orders from purchase rows.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the first mapped rows and the report; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load one file into the warehouse: all of it or nothing; re-running it changes nothing."""
    from agent.settings import Settings
    from warehouse.loaders import SourceMapping, ingest, load_mapping

    values = _value_maps(value_maps)
    if event_maps:
        values.setdefault("event_type", {}).update(_pairs(event_maps, "--event-map"))
    spec = (load_mapping(mapping_file) if mapping_file else SourceMapping()).merged(
        columns=_pairs(maps, "--map"),
        constants=_pairs(consts, "--const"),
        values=values,
        separator=sep,
        ts_format=ts_format,
        key=key,
        orders=orders,
    )
    warehouse = _warehouse()
    try:
        report = ingest(
            warehouse,
            path,
            fmt,
            spec=spec,
            dry_run=dry_run,
            progress=not as_json,
            keep_review_pii=Settings().review_keep_pii,
        )
    finally:
        warehouse.dispose()
    if as_json:
        print_json({"warehouse": warehouse.url, **report.to_dict()})
        return
    _print_report(report, warehouse.url)


def _print_report(report, url: str) -> None:
    if report.preview:
        columns = list(report.preview[0])
        print_table(
            f"first {len(report.preview)} mapped rows",
            columns,
            [[row.get(c) for c in columns] for row in report.preview],
        )
    verb = "would load" if report.dry_run else "into"
    sides = "".join(f", {n:,} rows of {name}" for name, n in report.side_rows_read.items())
    console.print(
        f"{report.path} ({report.format}) {verb} {url}: {report.rows_read:,} rows read{sides}, "
        f"{report.rows_skipped:,} skipped; duplicate key: {report.key}"
    )
    print_table(
        "rows per table",
        ["table", "inserted", "already present"],
        [[name, f"{report.inserted[name]:,}", f"{report.already_present[name]:,}"] for name in report.inserted],
    )
    if report.skipped:
        print_table(
            "rows skipped",
            ["reason", "detail", "rows", "sample"],
            [
                [g.reason, g.detail, f"{g.rows:,}", "; ".join(_sample_text(s) for s in g.samples)]
                for g in report.skipped
            ],
        )
    if report.dry_run:
        console.print("dry run: nothing was written")
    console.print(f"done in {report.elapsed_s:.1f} s ({report.rows_per_s:,.0f} rows/s)")


def _sample_text(sample: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sample.items())
