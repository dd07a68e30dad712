"""``uba mcp``: the analyst's tools and ``ask`` as an MCP server on stdio; ``uba mcp audit``: who called what."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import err_console, print_json, print_table

app = typer.Typer(help="Serve the analyst over the Model Context Protocol (stdio); see the audit log.")

LOCAL_OWNER = "local:stdio"
"""The owner of stdio calls in the audit log and thread store (the operator running ``uba mcp``)."""


@app.callback(invoke_without_command=True)
def mcp(
    ctx: typer.Context,
    user_scope: Annotated[
        str | None,
        typer.Option(
            "--user-scope", help="Confine every tool and answer to this end user's rows, as a scoped API key does."
        ),
    ] = None,
) -> None:
    """Serve MCP on stdin/stdout for one client (Claude Desktop, an IDE, an agent framework) until it closes."""
    if ctx.invoked_subcommand is not None:
        return
    import anyio

    from agent.factory import build_analyst_parts
    from agent.settings import Settings
    from ui.api.app import api_db_path, build_runs
    from ui.api.audit import AuditLog
    from ui.api.auth import Caller
    from ui.api.metrics import Metrics
    from ui.mcp import McpService, serve_stdio

    settings = Settings()
    if user_scope is not None and not user_scope.strip():
        raise typer.BadParameter("--user-scope is empty; pass the end user's id, e.g. --user-scope 4711")
    parts = build_analyst_parts(settings)
    service = McpService(
        build_runs(settings, parts.analyst, Metrics()),
        AuditLog(api_db_path(settings)),
        parts=parts,
        local_caller=Caller(owner=LOCAL_OWNER, user_scope=user_scope),
    )
    err_console.print(
        f"uba MCP server on stdio (data dir {settings.data_dir}, user scope "
        f"{user_scope or 'all users'}); stdout carries only the protocol.",
        highlight=False,
    )
    anyio.run(serve_stdio, service)


@app.command("audit")
def audit_cmd(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of the latest calls to show.")] = 50,
    key_id: Annotated[str | None, typer.Option("--key", help="Only the calls made with this key id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The latest MCP calls: when, which key and scope, the tool and its arguments, the outcome."""
    from agent.settings import Settings
    from ui.api.app import api_db_path
    from ui.api.audit import AuditLog

    entries = AuditLog(api_db_path(Settings())).recent(limit, owner=f"key:{key_id}" if key_id else None)
    if as_json:
        print_json([e.__dict__ for e in entries])
        return
    print_table(
        "MCP calls (newest first)",
        ["at", "surface", "caller", "scope", "call", "arguments", "outcome", "ms"],
        [
            [
                e.at,
                e.surface,
                e.owner,
                e.user_scope or "all",
                e.action,
                str(e.args)[:60],
                e.outcome,
                f"{e.duration_ms:.0f}",
            ]
            for e in entries
        ],
    )
