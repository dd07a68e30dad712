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
