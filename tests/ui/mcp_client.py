"""The official MCP SDK's client against uba: sessions over stdio and HTTP, the facts to check answers
against (computed straight from the DuckDB file), and the tool calls and attacks both transports run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx2
import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.ui.conftest import UBA, server_env


@asynccontextmanager
async def stdio_session(data_dir: Path, *args: str) -> AsyncIterator[ClientSession]:
    """A session with ``uba mcp ARGS`` spawned on ``data_dir`` (fake LLM by the server tests' rules)."""
    params = StdioServerParameters(command=str(UBA), args=["mcp", *args], env=server_env(data_dir))
    with (data_dir / "mcp-stdio.log").open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, key: str | None) -> AsyncIterator[ClientSession]:
    """A session with the streamable HTTP endpoint ``url`` (…/mcp), sending ``key`` as a bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@dataclass(frozen=True)
class Facts:
    """Numbers about the demo data, from the DuckDB file itself."""

    events: dict[str, int]
    purchases: dict[str, int]
    orders: dict[str, int]
    reviews: dict[str, int]
    emails: dict[str, str]
    total_events: int

    @classmethod
    def of(cls, data_dir: Path) -> Facts:
        con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
        try:

            def per_user(sql: str) -> dict[str, int]:
                return {str(u): int(n) for u, n in con.execute(sql).fetchall()}

            return cls(
                events=per_user("SELECT user_id, COUNT(*) FROM events GROUP BY user_id"),
                purchases=per_user("SELECT user_id, COUNT(*) FROM events WHERE event_type = 'purchase' GROUP BY 1"),
                orders=per_user("SELECT user_id, COUNT(*) FROM orders GROUP BY user_id"),
                reviews=per_user("SELECT user_id, COUNT(*) FROM reviews GROUP BY user_id"),
                emails={str(u): e for u, e in con.execute("SELECT user_id, email FROM users").fetchall()},
                total_events=con.execute("SELECT COUNT(*) FROM events").fetchone()[0],
            )
        finally:
            con.close()

    def pair(self) -> tuple[str, str]:
        """Two users with purchases, orders and reviews: the scoped one and the other one."""
        both = sorted(
            (u for u in self.reviews if self.purchases.get(u) and self.orders.get(u)),
            key=lambda u: (-self.reviews[u], -self.orders[u], u),
        )
        return both[0], both[1]


ASK_ALL_USERS = "How many events do all users have?"
"""Answered by the scripted model's rules with run_sql: events per user."""


def call_args(scoped: str) -> dict[str, dict]:
    """Valid arguments for every tool uba serves (a new tool must be added here to be called)."""
    return {
        "describe_schema": {},
        "run_sql": {"sql": "SELECT COUNT(*) AS n FROM events"},
        "query": {"measure": "events"},
        "trend": {"metric": "events", "interval": "week"},
        "funnel": {"steps": ["view", "add_to_cart", "purchase"]},
        "retention": {"cohort_by": "first_event", "period": "week"},
        "paths": {"event_type": "view"},
        "top_items": {"metric": "events", "event_type": "purchase", "limit": 5},
        "segment_breakdown": {"dimension": "device"},
        "user_profile": {"user_id": scoped},
        "search_reviews": {"query": "arrived broken", "k": 3},
        "review_stats": {},
        "review_themes": {},
        "predict_next": {"user_id": scoped, "k": 3},
        "churn_risk": {"user_id": scoped},
        "forecast": {"metric": "purchases", "horizon": 7},
        "ask": {"question": ASK_ALL_USERS},
    }


def rows(result: types.CallToolResult, table: int = 0) -> list[list]:
    """The rows of one table of a tool result (the structured content)."""
    assert not result.is_error, result.content[0].text
    return result.structured_content["tables"][table]["rows"]


def column(result: types.CallToolResult, name: str, table: int = 0) -> list:
    """One column of a tool result's table."""
    tab = result.structured_content["tables"][table]
    return [row[tab["columns"].index(name)] for row in tab["rows"]]


def error_text(result: types.CallToolResult) -> str:
    """The text of a result that must be an error."""
    assert result.is_error, json.dumps(result.structured_content)[:500]
    return result.content[0].text


async def assert_confined(session: ClientSession, facts: Facts, scoped: str, other: str) -> set[str]:
    """Try to read ``other``'s rows through every tool of a session scoped to ``scoped``; the tools tried."""
    tried: set[str] = set()

    async def call(name: str, args: dict) -> types.CallToolResult:
        tried.add(name)
        return await session.call_tool(name, args)

    sql_attacks = {
        "SELECT COUNT(*) AS n FROM events": [[facts.events[scoped]]],
        f"SELECT COUNT(*) AS n FROM events WHERE user_id = '{other}'": [[0]],
        f"SELECT user_id FROM events WHERE user_id IN (SELECT user_id FROM users WHERE user_id = '{other}')": [],
        f"SELECT user_id FROM users WHERE user_id = '{scoped}' UNION SELECT user_id FROM users WHERE user_id = '{other}'": [
            [scoped]
        ],
        f"SELECT COUNT(*) AS n FROM (SELECT * FROM orders UNION ALL SELECT * FROM orders WHERE user_id = '{other}') o": [
            [facts.orders[scoped]]
        ],
        "WITH o AS (SELECT * FROM orders) SELECT COUNT(*) AS n FROM o": [[facts.orders[scoped]]],
        "SELECT COUNT(DISTINCT user_id) AS n FROM (SELECT user_id FROM events UNION SELECT user_id FROM orders "
        "UNION SELECT user_id FROM reviews) AS x": [[1]],
        f"SELECT r.user_id FROM reviews r JOIN users u ON u.user_id = r.user_id WHERE u.user_id IN ('{scoped}', "
        f"'{other}') GROUP BY r.user_id": [[scoped]],
        "SELECT COUNT(*) AS n FROM reviews WHERE user_id <> (SELECT MIN(user_id) FROM reviews WHERE user_id = "
        f"'{scoped}')": [[0]],
    }
    for sql, expected in sql_attacks.items():
        assert rows(await call("run_sql", {"sql": sql})) == expected, sql
    emails = rows(await call("run_sql", {"sql": "SELECT user_id, email FROM users"}))
    assert [r[0] for r in emails] == [scoped] and emails[0][1] != facts.emails[scoped]  # one row, masked

    assert rows(await call("query", {"measure": "events"})) == [[facts.events[scoped]]]
    by_user = await call("query", {"measure": "orders", "dimensions": ["user"], "limit": 200})
    assert rows(by_user) == [[scoped, facts.orders[scoped]]]
    filtered = await call("query", {"measure": "events", "filters": [{"dimension": "user", "value": other}]})
    assert rows(filtered) in ([], [[0]], [[None]])

    names = {tool.name for tool in (await session.list_tools()).tools}
    if "trend" in names:
        trend = await call("trend", {"metric": "events", "interval": "week"})
        assert sum(column(trend, "value")) == facts.events[scoped]
    if "top_items" in names:
        top = await call("top_items", {"metric": "events", "event_type": "purchase", "limit": 50})
        assert sum(column(top, "event_count")) == facts.purchases[scoped]
    funnel = await call("funnel", {"steps": ["view", "purchase"]})
    assert column(funnel, "users")[0] == 1
    retention = await call("retention", {"cohort_by": "first_event", "period": "week"})
    assert sum(column(retention, "cohort_size")) == 1
    paths = await call("paths", {"event_type": "view"})
    assert sum(column(paths, "occurrences")) <= facts.events[scoped]
    if "segment_breakdown" in names:
        segments = await call("segment_breakdown", {"dimension": "device"})
        assert sum(column(segments, "users")) == 1 and sum(column(segments, "events")) == facts.events[scoped]
    assert "not found" in error_text(await call("user_profile", {"user_id": other}))
    assert not (await call("user_profile", {"user_id": scoped})).is_error
    hits = await call("search_reviews", {"query": "quality", "k": 20})
    assert set(column(hits, "user_id")) <= {scoped, None}
    stats = await call("review_stats", {})
    assert not stats.is_error and "user_id" not in json.dumps(stats.structured_content["tables"])
    if "review_themes" in names:
        themes = await call("review_themes", {})
        assert not themes.is_error, themes.content[0].text
        for table in themes.structured_content["tables"]:
            if "user_id" in table["columns"]:
                assert {r[table["columns"].index("user_id")] for r in table["rows"]} <= {scoped, None}
    assert "may only ask about user" in error_text(await call("predict_next", {"user_id": other}))
    assert not (await call("predict_next", {"user_id": scoped})).is_error
    assert "may only ask about user" in error_text(await call("churn_risk", {"top_n": 10}))
    assert "may only ask about user" in error_text(await call("churn_risk", {"user_id": other}))
    assert "scoped to one user" in error_text(await call("forecast", {"metric": "purchases"}))
    if "describe_schema" in names:
        assert f"{facts.total_events:,}" not in (await call("describe_schema", {})).content[-1].text
    schema = (await session.read_resource("uba://schema")).contents[0].text
    assert "events.event_type values" in schema and f"{facts.total_events:,}" not in schema

    answer = await call("ask", {"question": ASK_ALL_USERS})
    assert rows(answer) == [[scoped, facts.events[scoped]]]
    return tried
