"""``uba serve``: the web app and the HTTP API on one port (127.0.0.1:7860 by default)."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from ui.cli._output import console, err_console, fail

logger = logging.getLogger(__name__)

app = typer.Typer(help="Serve the web app and the HTTP API.")


def _layer_snapshot(settings):
    """The web app's "What you can ask": the semantic layer as the agent's prompt lists it."""
    from agent.factory import open_readonly_warehouse, open_semantic_layer
    from warehouse import WarehouseError

    try:
        readonly = open_readonly_warehouse(settings)
        try:
            text = open_semantic_layer(settings, readonly).describe()
        finally:
            readonly.close()
    except WarehouseError as exc:
        text = f"The semantic layer is unavailable: {exc}"
    return lambda: text


def _overview_snapshot(settings):
    """The data tab's overview, taken once before the analyst opens the warehouse read-only."""
    from agent.factory import open_warehouse
    from warehouse import WarehouseError
    from warehouse.describe import describe

    try:
        warehouse = open_warehouse(settings, create=False)
        try:
            overview = describe(warehouse)
        finally:
            warehouse.dispose()  # DuckDB: a writer's handle would block the read-only connections
    except (WarehouseError, OSError) as exc:
        problem = exc

        def unavailable():
            raise RuntimeError(f"{problem}; build the warehouse first (uba data demo) and restart uba serve")

        return unavailable
    except Exception as exc:  # an empty or foreign database: the tab says so, the server still starts
        logger.warning("cannot describe the warehouse: %s", exc)
        message = f"cannot describe the warehouse ({type(exc).__name__}: {exc}); load data with `uba data demo`"

        def failed():
            raise RuntimeError(message)

        return failed
    return lambda: overview


def _warm(app) -> None:
    """Build the analyst (load the model, its static prompt) in the background; /health says ``warming``
    until then and questions sent meanwhile wait for it."""
    from ui.api.errors import ApiError

    try:
        app.state.runs.warm()
        logger.info("analyst ready")
        console.print("model: ready", highlight=False)
    except ApiError as exc:
        logger.warning("the analyst could not be built yet: %s", exc.message)
    except Exception:
        logger.exception("building the analyst failed; questions will answer 503 until it works")


@app.callback(invoke_without_command=True)
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (UBA_SERVE_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (UBA_SERVE_PORT).")] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="Serve only the HTTP API.")] = False,
) -> None:
    """Run the web app (/ui/), the HTTP API (/v1/..., /docs, /metrics) and MCP (/mcp) until Ctrl-C."""
    import uvicorn

    from agent.settings import Settings
    from ui.api import create_app

    overrides = {k: v for k, v in {"serve_host": host, "serve_port": port}.items() if v is not None}
    settings = Settings(**overrides)
    try:
        api = create_app(
            settings,
            overview_factory=_overview_snapshot(settings),
            layer_factory=_layer_snapshot(settings),
            web=not no_web,
        )
    except ValueError as exc:
        fail(str(exc))
    base = f"http://{settings.serve_host}:{settings.serve_port}"
    if api.state.auth.mode == "none":
        err_console.print(
            "[yellow]dev mode:[/] no API keys are required because the server listens on a loopback "
            "address and no key exists; `uba keys create` turns keys on.",
            highlight=False,
            soft_wrap=True,
        )
    elif not api.state.auth.keys.has_active():
        err_console.print(
            "[yellow]no API key exists yet:[/] every call will be refused until you create one with `uba keys create`.",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print("API keys required: send 'Authorization: Bearer <key>' (keys: `uba keys list`).")
    console.print(f"LLM: {api.state.llm_label}", highlight=False)
    if not no_web:
        console.print(f"web app:  {base}/ui/", highlight=False, soft_wrap=True)
    console.print(
        f"HTTP API: {base}/v1/chat/completions  ·  {base}/v1/ask  ·  docs {base}/docs", highlight=False, soft_wrap=True
    )
    console.print(f"MCP:      {base}/mcp (streamable HTTP; the same key as the API)", highlight=False, soft_wrap=True)
    console.print("model: warming up (questions sent now wait for it; /health says when it is ready)", highlight=False)
    threading.Thread(target=_warm, args=(api,), name="uba-warm", daemon=True).start()
    scheduler = None
    if settings.watch_scheduler:
        from watch import WatchScheduler

        scheduler = WatchScheduler(api.state.watch)
        scheduler.start()
        console.print(
            f"reports:  {len(scheduler.next_runs())} scheduled (`uba watch list`; GET {base}/v1/watch)",
            highlight=False,
            soft_wrap=True,
        )
    config = uvicorn.Config(
        api,
        host=settings.serve_host,
        port=settings.serve_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    try:
        server.run()  # SIGINT/SIGTERM: stop accepting, finish running requests, then exit
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it already handled once the graceful shutdown is done
    finally:
        if scheduler is not None:
            scheduler.shutdown()
    if not server.started:
        fail(
            f"could not listen on {settings.serve_host}:{settings.serve_port}; is the port in use? "
            "Pick another with --port or UBA_SERVE_PORT"
        )
    console.print("stopped")
