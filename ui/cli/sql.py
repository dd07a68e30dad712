"""``uba sql``: one SELECT through the SQL guard on the read-only connection; ``uba warehouse grant-readonly``."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, print_json, print_table

app = typer.Typer(help="Run guarded, read-only SQL.")
admin = typer.Typer(no_args_is_help=True, help="Warehouse administration for safe SQL.")


def _cell(value):
    from tools.tabular import cell

    return cell(value)


@app.command("sql")
def sql_cmd(
    query: Annotated[str, typer.Argument(help="One SELECT (or WITH ... SELECT) over the behavior tables.")],
    limit: Annotated[int | None, typer.Option(min=1, help="Rows to return when the query has no LIMIT.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with the SQL that ran.")] = False,
) -> None:
    """Run one read-only SELECT through the same guard the agent uses and print the rows."""
    from agent.factory import open_safe_sql
    from agent.settings import Settings

    safe = open_safe_sql(Settings())
    try:
        done = safe.run(query, limit=limit)
    finally:
        safe.readonly.close()
    rows = [[_cell(v) for v in row] for row in done.result.rows]
    if as_json:
        print_json(
            {
                "sql": done.sql,
                "columns": done.result.columns,
                "rows": rows,
                "limit": done.guarded.limit,
                "truncated": done.result.truncated,
                "seconds": round(done.result.seconds, 4),
            }
        )
        return
    print_table("result", done.result.columns, rows)
    console.print(f"{len(rows):,} rows in {done.result.seconds:.3f} s (limit {done.guarded.limit})")
    console.print("SQL that ran:", style="bold")
    console.print(done.sql, highlight=False, soft_wrap=True)


@admin.command("grant-readonly")
def grant_readonly_cmd() -> None:
    """Create or refresh the SELECT-only PostgreSQL role or ClickHouse server user that every query runs as."""
    from agent.factory import grant_readonly_role
    from agent.settings import Settings

    url = grant_readonly_role(Settings())
    console.print(f"read-only role ready: {url}")
