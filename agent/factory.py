"""The composition root: the only place that reads Settings and wires engines, tools and models."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.settings import Settings
from warehouse import Warehouse

logger = logging.getLogger(__name__)


def open_warehouse(settings: Settings, *, create: bool = True) -> Warehouse:
    """The warehouse named by the settings, with the canonical tables in place when ``create``."""
    warehouse = Warehouse.open(settings.resolved_warehouse_url())
    if create:
        warehouse.create_schema()
    return warehouse


def build_embedder(settings: Settings):
    """The review embedder named by the settings (the model loads on first use, offline)."""
    from vectorstore import Embedder

    return Embedder(
        settings.embedding_model,
        device=settings.embedding_device,
        threads=settings.embedding_threads,
        batch_size=settings.embedding_batch_size,
        max_tokens=settings.embedding_max_tokens,
        quantize=settings.embedding_quantize,
    )


def open_review_index(settings: Settings):
    """The review index: a Chroma directory in the data dir, or the Chroma server at ``chroma_url``."""
    from vectorstore import ReviewIndex

    return ReviewIndex.open(
        settings.data_dir / "reviews",
        chroma_url=settings.chroma_url,
        collection=settings.reviews_collection,
        embedder=lambda: build_embedder(settings),
    )


def open_checkpointer(settings: Settings):
    """Conversation memory keyed by thread id: SQLite in the data dir, or PostgreSQL (see ``memory_url``)."""
    from agent.memory import open_checkpointer as _open

    url = settings.memory_url
    if url is None:
        warehouse_url = settings.resolved_warehouse_url()
        if warehouse_url.startswith("postgresql"):
            url = warehouse_url
        else:
            url = f"sqlite:///{(settings.data_dir / 'memory.sqlite').resolve()}"
    return _open(url)


def open_readonly_warehouse(settings: Settings):
    """The read-only connection the analyst, its tools and the evaluation's gold SQL share.

    The analyst only reads; DuckDB allows a single configuration per file and process, so every
    reader in the process opens it this way.
    """
    from warehouse.readonly import ReadOnlyWarehouse

    return ReadOnlyWarehouse(
        resolved_readonly_url(settings),
        timeout_s=settings.query_timeout_s,
        max_rows=settings.sql_max_limit,
        max_bytes=settings.max_result_bytes,
        memory_limit_mb=settings.query_memory_mb,
    )


open_readonly = open_readonly_warehouse


def resolved_readonly_url(settings: Settings) -> str:
    """``readonly_url``, else the warehouse URL (PostgreSQL: as the SELECT-only role, no password; a ClickHouse
    server: as that user, on the reader database ``<db>_uba_reader``)."""
    from sqlalchemy.engine import make_url

    if settings.readonly_url:
        return settings.readonly_url
    url = settings.resolved_warehouse_url()
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(username=settings.readonly_role, password=None).render_as_string(hide_password=False)
    if parsed.get_backend_name() == "clickhouse":
        reader = parsed.set(username=settings.readonly_role, database=f"{parsed.database or 'default'}_uba_reader")
        return reader._replace(password=None).render_as_string(hide_password=False)  # set(password=None) keeps it
    return url


def grant_readonly_role(settings: Settings) -> str:
    """Create or refresh the SELECT-only role (PostgreSQL) or user (a ClickHouse server) with the warehouse
    URL's (admin) user; its URL."""
    from warehouse.readonly import grant_readonly

    url = settings.resolved_warehouse_url()
    if url.startswith("clickhouse"):
        from warehouse.clickhouse_grants import grant_readonly_clickhouse

        return grant_readonly_clickhouse(
            url,
            user=settings.readonly_role,
            timeout_s=settings.query_timeout_s,
            memory_limit_mb=settings.query_memory_mb,
            max_rows=settings.sql_max_limit,
        )
    return grant_readonly(url, role=settings.readonly_role, timeout_s=settings.query_timeout_s)


def open_safe_sql(settings: Settings, readonly=None):
    """The SQL guard (limits from the settings) in front of the read-only connection."""
    from warehouse.safe_sql import SafeSql
    from warehouse.sql_guard import SqlGuard

    readonly = readonly or open_readonly_warehouse(settings)
    guard = SqlGuard(
        readonly.dialect,
        default_limit=min(settings.sql_default_limit, settings.sql_max_limit),
        max_limit=settings.sql_max_limit,
        view_schema=readonly.view_schema,
    )
    return SafeSql(readonly, guard)


LOCAL_RESULT_ROWS, LOCAL_RESULT_CHARS = 8, 1_500
"""The embedded model's view of a tool result's table. Measured on a 2-core CPU: prompt evaluation runs at
~25 tokens/s and Qwen2.5 spends a token per digit, so a 20-row result (~1,200 tokens) took ~50 s to read,
the largest part of a question's latency."""


def result_budget(settings: Settings) -> tuple[int, int]:
    """(rows, characters) of one tool result's table that the model reads, for the configured backend."""
    from tools.tabular import TEXT_CHARS, TEXT_ROWS

    local = settings.llm_backend == "local"
    rows = settings.agent_result_rows or (LOCAL_RESULT_ROWS if local else TEXT_ROWS)
    chars = settings.agent_result_chars or (LOCAL_RESULT_CHARS if local else TEXT_CHARS)
    return rows, chars


def build_tool_deps(settings: Settings, *, readonly=None, user_scope: str | None = None, reviews=None, layer=None):
    """What ``tools.build_tools`` needs, from the settings."""
    from tools import ToolDeps

    readonly = readonly or open_readonly_warehouse(settings)
    rows, chars = result_budget(settings)
    return ToolDeps(
        readonly=readonly,
        safe_sql=open_safe_sql(settings, readonly),
        user_scope=user_scope,
        settings=settings,
        reviews=reviews,
        models=open_model_registry(settings),
        layer=layer or open_semantic_layer(settings, readonly),
        text_rows=rows,
        text_chars=chars,
        min_group_users=min_group_users(settings, user_scope),
    )


def min_group_users(settings: Settings, user_scope: str | None) -> int:
    """The minimum group size of breakdowns over users for a caller: the scoped one for an end user's key."""
    return settings.min_group_users_scoped if user_scope is not None else settings.min_group_users


def semantic_layer_path(settings: Settings):
    """The operator's layer file: the setting, else ``semantic.yaml`` in the data dir when it exists."""
    if settings.semantic_layer is not None:
        return settings.semantic_layer
    default = settings.data_dir / "semantic.yaml"
    return default if default.exists() else None


def open_semantic_layer(settings: Settings, readonly=None):
    """The semantic layer of the warehouse, extended by the operator's file (``warehouse.semantic``)."""
    from warehouse.semantic import build_layer

    return build_layer(readonly or open_readonly_warehouse(settings), semantic_layer_path(settings))


def open_model_registry(settings: Settings):
    """The versioned model registry in ``<data dir>/models``."""
    from predictor import ModelRegistry

    return ModelRegistry(settings.data_dir / "models")


def build_prediction_tools(settings: Settings, *, user_scope: str | None = None):
    """The prediction tools' engine-facing object (``PredictionTools``) for the CLI."""
    from tools.predictions import PredictionTools
    from warehouse.safe_sql import SafeSql

    predictor_runtime(settings)
    readonly = open_readonly_warehouse(settings)
    return PredictionTools(
        open_model_registry(settings), open_safe_sql(settings, readonly) or SafeSql(readonly), user_scope
    )


def predictor_runtime(settings: Settings) -> dict:
    """Thread and device knobs for training and prediction, applied to torch here."""
    import torch

    if settings.predictor_threads:
        torch.set_num_threads(settings.predictor_threads)
    threads = settings.predictor_threads or None
    return {
        "device": settings.predictor_device,
        "threads": threads,
        "max_minutes": settings.predictor_max_minutes,
        "ease_max_mb": settings.predictor_ease_max_mb,
    }


def build_evaluation(settings: Settings):
    """(analyst, read-only warehouse, oracle model or None) for ``uba eval``; memory stays in-process.

    With the ``fake`` backend the model is an oracle that replays each question's ideal calls.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from fake_llm import ScriptedChatModel

    readonly = open_readonly_warehouse(settings)
    oracle = ScriptedChatModel() if settings.llm_backend == "fake" else None
    analyst = build_analyst(settings, model=oracle, readonly=readonly, checkpointer=InMemorySaver())
    return analyst, readonly, oracle


def build_analyst(settings: Settings, *, model=None, tools_for_scope=None, readonly=None, checkpointer=None):
    """The Analyst service wired from the settings; explicit arguments replace the built parts."""
    from agent.analyst import Analyst
    from agent.data_context import data_context
    from agent.graph import Limits
    from agent.prompt import system_prompt
    from agent.tool_runner import ToolRunner

    if model is None:
        from agent.llm import build_chat_model

        model = build_chat_model(settings)
    if readonly is None:
        readonly = open_readonly_warehouse(settings)
    layer = open_semantic_layer(settings, readonly)
    if tools_for_scope is None:
        tools_for_scope = _tools_for_scope(settings, readonly, layer)
    if checkpointer is None:
        checkpointer = open_checkpointer(settings)
    limits = Limits(
        max_steps=settings.agent_max_steps,
        max_seconds=settings.agent_max_seconds,
        history_turns=settings.agent_history_turns,
        first_step=settings.agent_first_step,
        answer_hint=settings.agent_answer_hint,
        answer_after_results=settings.agent_answer_after_results,
    )
    runner = ToolRunner(tools_for_scope(None))
    context = data_context(readonly)
    system_text = system_prompt(
        schemas={name: runner.schema(name) for name in runner.names},
        dialect=context.dialect,
        first_date=context.first_date,
        last_date=context.last_date,
        schema_summary=context.schema_summary,
        max_steps=limits.max_steps,
        row_limit=result_budget(settings)[0],
        layer=layer.describe(),
    )
    linker = schema_linker(settings, layer) if settings.agent_schema_linking else None
    shown = (
        demonstrations(
            settings, layer, {name: runner.schema(name) for name in runner.names}, last_day=context.last_date
        )
        if settings.agent_demonstrations
        else None
    )
    return Analyst(
        model,
        tools_for_scope,
        system_text,
        limits=limits,
        checkpointer=checkpointer,
        linker=linker,
        demonstrations=shown,
        lacks=coverage(layer) if settings.agent_abstain else None,
    )


def coverage(layer) -> Callable[[str], str | None]:
    """Question -> the quantity it asks for that neither the layer nor the schema names
    (``warehouse.semantic.coverage``), or None."""
    from warehouse.schema import metadata
    from warehouse.semantic.coverage import Coverage

    words = [t.name for t in metadata.tables.values()] + [c.name for t in metadata.tables.values() for c in t.columns]
    return Coverage(layer, words).missing


def schema_linker(settings: Settings, layer) -> Callable[[str], str]:
    """Question -> the layer's nearest entries as prompt lines (``warehouse.semantic.linking``), with the
    review embedder's vectors (by name words alone when it cannot load)."""
    from warehouse.semantic.linking import Linker

    linker = Linker(layer, build_embedder(settings).embed)
    return lambda question: linker.link(question).describe()


def demonstrations(settings: Settings, layer, schemas: dict, *, last_day: str | None = None) -> Callable[[str], str]:
    """Question -> the nearest demonstrations as prompt lines (``warehouse.semantic.demonstrations``): the
    layer's generated ``query`` calls and ``prompts/demonstrations.yaml``, kept where the tool exists and the
    arguments validate, matched with the review embedder's vectors (none shown when it cannot load)."""
    from pydantic import ValidationError

    from agent import prompt
    from agent.tool_runner import REPLY_TOOL
    from warehouse.semantic.demonstrations import Demonstration, demonstration_index

    schemas = {**schemas, REPLY_TOOL: None}
    extra = [Demonstration(d["question"], d["tool"], d["args"]) for d in prompt.demonstrations(schemas)]

    def accepts(d: Demonstration) -> bool:
        if d.tool not in schemas:
            return False
        try:
            schemas[d.tool] is None or schemas[d.tool].model_validate(d.args)
        except ValidationError:
            return False
        return True

    from datetime import date

    index = demonstration_index(
        layer,
        extra,
        build_embedder(settings).embed,
        accepts=accepts,
        last_day=date.fromisoformat(last_day[:10]) if last_day else None,
        k=settings.agent_demonstrations,
    )
    return index.describe


@dataclass(frozen=True)
class AnalystParts:
    """The lazily built parts one process serves: they share one read-only connection and one tool list
    per scope. The tools and the layer need no model, so a surface serving them alone (MCP) needs no LLM."""

    analyst: Callable[[], Any]
    """Builds the Analyst (loads the model) over the shared tools."""
    tools_for_scope: Callable[[str | None], list]
    """The agent's tools for a user scope (``None``: unscoped)."""
    layer: Callable[[], Any]
    """The semantic layer the tools query."""
    schema_text: Callable[[str | None], str]
    """The allow-listed schema, event types and date range as a user scope sees them."""
    readonly: Callable[[], Any] = lambda: None
    """The shared read-only connection."""


def build_analyst_parts(settings: Settings) -> AnalystParts:
    """The analyst, its tools per scope and its semantic layer, wired from the settings on first use."""
    import threading

    lock = threading.Lock()
    parts: dict = {}

    def opened() -> dict:
        with lock:
            if "tools" not in parts:
                readonly = open_readonly_warehouse(settings)
                layer = open_semantic_layer(settings, readonly)
                parts.update(readonly=readonly, layer=layer, tools=_tools_for_scope(settings, readonly, layer))
            return parts

    def tools_for_scope(user_scope: str | None):
        tools = opened()["tools"]
        with lock:
            return tools(user_scope)

    def analyst():
        return build_analyst(settings, readonly=opened()["readonly"], tools_for_scope=tools_for_scope)

    def schema_text(user_scope: str | None) -> str:
        from tools.sql import describe_schema_result

        return describe_schema_result(open_safe_sql(settings, opened()["readonly"]), user_scope=user_scope)[0]

    return AnalystParts(
        analyst=analyst,
        tools_for_scope=tools_for_scope,
        layer=lambda: opened()["layer"],
        schema_text=schema_text,
        readonly=lambda: opened()["readonly"],
    )


def _tools_for_scope(settings: Settings, readonly, layer):
    """Every registered tool (``tools.build_tools``), built once per user scope (``None``: unscoped)."""
    import logging

    from tools import build_tools

    reviews = None
    if settings.chroma_url or (settings.data_dir / "reviews").exists():
        reviews = open_review_index(settings)
    else:
        logging.getLogger(__name__).info(
            "no review index in %s; run `uba index reviews` to enable search_reviews", settings.data_dir
        )
    cache: dict = {}

    def tools_for(user_scope):
        if user_scope not in cache:
            cache[user_scope] = build_tools(
                build_tool_deps(settings, readonly=readonly, user_scope=user_scope, reviews=reviews, layer=layer)
            )
        return cache[user_scope]

    return tools_for


def build_watch(settings: Settings, parts: AnalystParts | None = None):
    """Saved reports and alerts (``watch``) over the analyst's tools and layer: the same engines, no model."""
    from watch import Watch, WatchDeps, WatchStore
    from watch.delivery import WebhookSender

    parts = parts or build_analyst_parts(settings)
    readonly = {}

    def safe_sql():
        if "safe" not in readonly:
            readonly["safe"] = open_safe_sql(settings, parts.readonly())
        return readonly["safe"]

    sender = WebhookSender(retries=settings.watch_webhook_retries, backoff_s=settings.watch_webhook_backoff_s)
    ui_url = f"http://{settings.serve_host}:{settings.serve_port}/ui/"
    return Watch(
        WatchDeps(
            store=WatchStore.in_data_dir(settings.data_dir),
            tools_for_scope=parts.tools_for_scope,
            safe_sql=safe_sql,
            layer=parts.layer,
            sender=sender,
            z=settings.watch_anomaly_z,
            ui_url=ui_url,
        )
    )
