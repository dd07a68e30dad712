"""Agent fixtures: one real DuckDB demo warehouse per run, the real tools over it, an analyst factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fake_llm import ScriptedChatModel


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """A small demo warehouse (DuckDB file) and facts about it computed independently with plain SQL."""
    import duckdb

    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    path = tmp_path_factory.mktemp("agent-demo") / "warehouse.duckdb"
    url = f"duckdb:///{path}"
    warehouse = Warehouse.open(url)
    warehouse.create_schema()
    generate_demo(warehouse, users=300, days=30, seed=3)
    warehouse.dispose()
    # Read before any tool opens the file: DuckDB allows one configuration per file and process.
    with duckdb.connect(str(path), read_only=True) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        facts = {
            "users": one("SELECT COUNT(*) FROM users"),
            "purchases": one("SELECT COUNT(*) FROM events WHERE event_type = 'purchase'"),
            "views": one("SELECT COUNT(*) FROM events WHERE event_type = 'view'"),
            "orders": one("SELECT COUNT(*) FROM orders"),
            "statuses": [r[0] for r in conn.execute("SELECT DISTINCT status FROM orders").fetchall()],
            "brands": one("SELECT COUNT(DISTINCT brand) FROM items"),
            "top_category": conn.execute(
                "SELECT i.category, COUNT(*) FROM events e JOIN items i USING (item_id) "
                "WHERE e.event_type = 'purchase' GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
            ).fetchone(),
            "de_users": one("SELECT COUNT(*) FROM users WHERE country = 'DE'"),
            "emails": {r[0] for r in conn.execute("SELECT email FROM users").fetchall()},
        }
    return url, facts


@pytest.fixture(scope="session")
def demo_url(demo_db) -> str:
    return demo_db[0]


@pytest.fixture(scope="session")
def facts(demo_db) -> dict:
    """Independent counts over the demo warehouse."""
    return demo_db[1]


@pytest.fixture(scope="session")
def demo_settings(demo_url: str, tmp_path_factory: pytest.TempPathFactory):
    from agent.settings import Settings

    return Settings(data_dir=tmp_path_factory.mktemp("agent-data"), warehouse_url=demo_url, llm_backend="fake")


@pytest.fixture(scope="session")
def analyst_parts(demo_settings) -> dict:
    """The system prompt and the tools, built once by the composition root (tools are read-only)."""
    from agent.factory import build_analyst

    analyst = build_analyst(demo_settings, model=ScriptedChatModel(), checkpointer=False)
    return {"system_text": analyst.system_text, "tools_for_scope": analyst.tools_for_scope, "lacks": analyst.lacks}


@pytest.fixture
def make_analyst(analyst_parts: dict, tmp_path: Path) -> Iterator[Callable[..., tuple]]:
    """``make_analyst(script, **limits)`` -> (analyst, model): real tools, SQLite memory, the scripted model."""
    from agent.analyst import Analyst
    from agent.graph import Limits
    from agent.memory import open_checkpointer

    savers = []

    def make(script: list, *, memory: Path | None = None, linker=None, lacks=None, **limits):
        model = ScriptedChatModel(script=list(script))
        saver = open_checkpointer(f"sqlite:///{memory or tmp_path / 'memory.sqlite'}")
        savers.append(saver)
        analyst = Analyst(
            model,
            analyst_parts["tools_for_scope"],
            analyst_parts["system_text"],
            limits=Limits(**limits),
            checkpointer=saver,
            linker=linker,
            lacks=lacks,
        )
        return analyst, model

    yield make
    for saver in savers:
        saver.conn.close()
