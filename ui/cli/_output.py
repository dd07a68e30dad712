"""The CLI's output layer: the only place that prints."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print an error line to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    sys.exit(code)


def print_json(payload: Any) -> None:
    """Machine-readable output for ``--json``."""
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A rich table of rows."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(str(column))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
