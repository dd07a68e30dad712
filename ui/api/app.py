"""The server: the HTTP API (FastAPI) with the Gradio web app mounted on it, wired from Settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from agent.settings import Settings
from ui.api import ask, chat, watch
from ui.api.audit import AuditLog
from ui.api.auth import Authenticator
from ui.api.errors import install_handlers
from ui.api.keys import API_DB_NAME, KeyStore
from ui.api.limits import BodySizeLimit, RateLimiter
from ui.api.metrics import Metrics, MetricsMiddleware
from ui.api.runs import Runs
from ui.api.threads import ThreadStore

logger = logging.getLogger(__name__)

WEB_PATH = "/ui"


def api_db_path(settings: Settings) -> Path:
    """Where keys and thread history live."""
    return settings.data_dir / API_DB_NAME


def llm_label(settings: Settings) -> str:
    """Which backend and model answer, in words, for /health and the UI."""
    from agent.llm import describe_model

    return describe_model(settings)


def build_runs(settings: Settings, analyst_factory: Callable[[], Any], metrics: Metrics) -> Runs:
    """The question runner of one process (threads, rate limit, timeout, concurrency from the settings)."""
    return Runs(
        analyst_factory,
        threads=ThreadStore(api_db_path(settings)),
        metrics=metrics,
        rate=RateLimiter(settings.api_rate_per_min),
        max_message_chars=settings.api_max_message_chars,
        timeout_s=settings.api_question_timeout_s,
        concurrency=settings.api_concurrency,
    )


def create_app(
    settings: Settings,
    *,
    analyst_factory: Callable[[], Any] | None = None,
    overview_factory: Callable[[], Any] | None = None,
    layer_factory: Callable[[], str] | None = None,
    web: bool = True,
    mcp: bool = True,
) -> FastAPI:
    """The API (and, with ``web``, the Gradio app under /ui; with ``mcp``, MCP at /mcp) for ``settings``;
    nothing heavy is loaded yet."""
    from agent.factory import build_analyst_parts, build_watch

    parts = None
    if analyst_factory is None:
        parts = build_analyst_parts(settings)
        analyst_factory = parts.analyst

    keys = KeyStore(api_db_path(settings))
    auth = Authenticator(keys, settings.api_auth, settings.serve_host)
    metrics = Metrics()
    app = FastAPI(
        title="uba — the User Behavior Analyst",
        version="0.1.0",
        description=(
            "Ask questions about user behavior; answers cite the SQL, reviews and models behind them. "
            "`/v1/chat/completions` speaks the OpenAI protocol; `/v1/ask` returns the Answer JSON; "
            "`/mcp` serves the Model Context Protocol (streamable HTTP). "
            "Send `Authorization: Bearer <key>` (keys come from `uba keys create`)."
        ),
    )
    install_handlers(app)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.auth = auth
    app.state.llm_label = llm_label(settings)
    app.state.model_name = f"uba/{settings.llm_backend}:{settings.llm_model}"
    app.state.runs = build_runs(settings, analyst_factory, metrics)
    app.state.watch = build_watch(settings, parts)
    app.include_router(chat.router)
    app.include_router(ask.router)
    app.include_router(watch.router)
    if mcp:
        from ui.mcp import McpService, mount_http

        app.state.mcp = McpService(app.state.runs, AuditLog(api_db_path(settings)), parts=parts)
        mount_http(
            app,
            app.state.mcp,
            app.state.auth,
            host=settings.serve_host,
            port=settings.serve_port,
            max_body_bytes=settings.api_max_body_bytes,
        )

    @app.get("/health", tags=["ops"], summary="Liveness, readiness and what answers")
    async def health() -> dict[str, Any]:
        """Always cheap: never loads the model. ``model``: ``warming`` until the model is loaded and its
        static prompt cached (questions sent meanwhile wait, outside their timeout), then ``ready``;
        ``failed`` names the problem in ``analyst_error``."""
        runs = app.state.runs
        return {
            "status": "ok",
            "model": runs.state,
            "llm": app.state.llm_label,
            "auth": auth.mode,
            "analyst_loaded": runs.loaded,
            "analyst_error": runs.build_error,
        }

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        """Requests, latency, questions, LLM calls, tool calls, errors."""
        return Response(metrics.render(), media_type=metrics.content_type)

    if web:
        import gradio as gr

        from ui.web import build_web

        blocks, theme, css = build_web(
            app.state.runs,
            llm=app.state.llm_label,
            overview=overview_factory,
            auth=app.state.auth,
            layer=layer_factory,
            watch=app.state.watch,
        )

        def web_login(username: str, password: str) -> bool:
            key = keys.verify(password)
            return key is not None and key.key_id == username

        @app.get("/", include_in_schema=False)
        async def root(request: Request) -> RedirectResponse:
            return RedirectResponse(url=f"{WEB_PATH}/")

        app = gr.mount_gradio_app(
            app,
            blocks,
            path=WEB_PATH,
            theme=theme,
            css=css,
            footer_links=["api"],
            show_error=True,
            enable_monitoring=False,
            mcp_server=False,
            ssr_mode=False,
            auth=web_login if auth.mode == "keys" else None,
            auth_message="Sign in with an API key: its id (from `uba keys list`) and the key.",
        )

    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
