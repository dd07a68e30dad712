"""The agent end to end on ClickHouse (chdb): the same demo shop as the DuckDB tests gives the same answers."""

from __future__ import annotations

import pytest

from fake_llm import ScriptedChatModel, tool_call

PURCHASES_SQL = "SELECT COUNT(*) AS purchases FROM events WHERE event_type = 'purchase'"
TOP_CATEGORY_SQL = (
    "SELECT i.category, COUNT(*) AS n FROM events e JOIN items i USING (item_id) "
    "WHERE e.event_type = 'purchase' GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
)


@pytest.fixture(scope="module")
def chdb_analyst(chdb_root, tmp_path_factory):
    """An analyst over a chdb warehouse holding the conftest's demo shop (same generator, same seed)."""
    from engines import new_chdb_url

    from agent.analyst import Analyst
    from agent.factory import build_analyst
    from agent.memory import open_checkpointer
    from agent.settings import Settings
    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    url = new_chdb_url(chdb_root)
    warehouse = Warehouse.open(url)
    warehouse.create_schema()
    generate_demo(warehouse, users=300, days=30, seed=3)
    warehouse.dispose()
    settings = Settings(data_dir=tmp_path_factory.mktemp("ch-agent"), warehouse_url=url, llm_backend="fake")
    parts = build_analyst(settings, model=ScriptedChatModel(), checkpointer=False)
    savers = []

    def make(script):
        saver = open_checkpointer(f"sqlite:///{tmp_path_factory.mktemp('ch-memory') / 'memory.sqlite'}")
        savers.append(saver)
        return Analyst(
            ScriptedChatModel(script=list(script)), parts.tools_for_scope, parts.system_text, checkpointer=saver
        )

    yield make
    for saver in savers:
        saver.conn.close()


SCRIPT = [
    tool_call("run_sql", sql=PURCHASES_SQL),
    tool_call("run_sql", sql=TOP_CATEGORY_SQL),
    tool_call("funnel", steps=["view", "add_to_cart", "purchase"]),
    tool_call("retention", period="week"),
    "Answered.",
]


def test_sql_and_typed_tools_answer_exactly_as_on_duckdb(chdb_analyst, make_analyst, facts):
    question = "Show the purchases, which category leads, the view-cart-purchase funnel and weekly retention."
    answer = chdb_analyst(SCRIPT).ask(question)
    assert answer.status == "ok", answer.text
    assert all(s.ok for s in answer.trace), [(s.tool, s.error) for s in answer.trace if not s.ok]
    assert answer.tables[0].rows[0][0] == facts["purchases"]
    assert tuple(answer.tables[1].rows[0]) == tuple(facts["top_category"])
    on_duckdb = make_analyst(SCRIPT)[0].ask(question)
    assert [t.rows for t in answer.tables] == [t.rows for t in on_duckdb.tables]
    assert len(answer.tables) == 4 and all(t.rows for t in answer.tables)


def test_a_raw_email_never_reaches_the_answer_and_a_scope_holds(chdb_analyst):
    analyst = chdb_analyst(
        [
            tool_call("run_sql", sql="SELECT email FROM users LIMIT 5"),
            "Masked.",
            tool_call("run_sql", sql="SELECT MIN(user_id) AS u FROM events"),
            "One.",
            tool_call("run_sql", sql="SELECT COUNT(DISTINCT user_id) AS n FROM events"),
            "1 user.",
        ]
    )
    masked = analyst.ask("Show five users")  # the model sends the e-mail query
    assert masked.tables and all("***@" in row[0] for row in masked.tables[0].rows)
    someone = analyst.ask("Who is the first user?").tables[0].rows[0][0]
    scoped = analyst.ask("How many users are there?", user_scope=someone)
    assert scoped.tables[0].rows[0][0] == 1  # the engine's row filters: only that user's events
