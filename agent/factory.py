"""The composition root: the only place that reads Settings and wires engines, tools and models."""

from __future__ import annotations

from agent.settings import Settings
from warehouse import Warehouse


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
        # The analyst only reads: one read-only connection for the prompt's data context and the tools
        # (DuckDB allows a single configuration per file and process).
        from warehouse.readonly import ReadOnlyWarehouse

        readonly = ReadOnlyWarehouse(settings.resolved_warehouse_url())
    if tools_for_scope is None:
        tools_for_scope = _tools_for_scope(settings, readonly)
    if checkpointer is None:
        checkpointer = open_checkpointer(settings)
    limits = Limits(
        max_steps=settings.agent_max_steps,
        max_seconds=settings.agent_max_seconds,
        history_turns=settings.agent_history_turns,
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
        row_limit=20,
    )
    return Analyst(model, tools_for_scope, system_text, limits=limits, checkpointer=checkpointer)


def _tools_for_scope(settings: Settings, readonly):
    """Every tool package present, built for one user scope (``None``: unscoped)."""
    import logging

    try:
        from tools import build_tools
    except ImportError:  # the tools package is wired in as its parts land
        logging.getLogger(__name__).warning("tools.build_tools is not available; the agent has no tools")
        return lambda user_scope: []

    cache: dict = {}

    def tools_for(user_scope):
        if user_scope not in cache:
            cache[user_scope] = build_tools(_tool_deps(settings, readonly, user_scope))
        return cache[user_scope]

    return tools_for


def _tool_deps(settings: Settings, readonly, user_scope):
    from tools import ToolDeps

    return ToolDeps(readonly=readonly, user_scope=user_scope)
