"""The official MCP SDK's client against /mcp of a live ``uba serve`` (streamable HTTP) with the scripted model."""

from __future__ import annotations

import json
import shutil
import subprocess

import anyio
import httpx
import pytest
from mcp import MCPError

from tests.ui.conftest import UBA, create_key, launch_server, server_env, stop_server, wait_for_server
from tests.ui.mcp_client import ASK_ALL_USERS, Facts, assert_confined, call_args, column, http_session

pytestmark = pytest.mark.slow

_INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def facts(mcp_demo_dir) -> Facts:
    return Facts.of(mcp_demo_dir)


@pytest.fixture(scope="module")
def served(mcp_demo_dir, facts, tmp_path_factory):
    """``uba serve --no-web`` on a copy of the demo data dir, with an admin, a scoped and a slow key."""
    data_dir = tmp_path_factory.mktemp("uba-mcp-http") / "data"
    shutil.copytree(mcp_demo_dir, data_dir)
    scoped, _ = facts.pair()
    keys = {
        "admin": create_key(data_dir, label="admin"),
        "scoped": create_key(data_dir, user_scope=scoped),
        "slow": create_key(data_dir, rate_per_min=3),
        "revoked": create_key(data_dir, label="to revoke"),
    }
    server = launch_server(data_dir, args=("--no-web",))
    try:
        wait_for_server(server)
        server.keys = keys
        yield server
    finally:
        assert stop_server(server) == 0, server.output()[-2000:]


def _url(server) -> str:
    return f"{server.url}/mcp"


def test_http_lists_and_calls_every_tool_with_an_api_key(served, facts):
    scoped, _ = facts.pair()

    async def talk():
        async with http_session(_url(served), served.keys["admin"]) as session:
            names = [t.name for t in (await session.list_tools()).tools]
            return names, {
                name: await session.call_tool(name, args) for name, args in call_args(scoped).items() if name in names
            }

    names, calls = anyio.run(talk)
    assert set(names) == set(calls) and names[-1] == "ask" and "run_sql" in names and "forecast" in names
    assert {name: r.content[0].text for name, r in calls.items() if r.is_error} == {}
    assert column(calls["run_sql"], "n") == [facts.total_events] == column(calls["query"], "value")
    assert calls["ask"].structured_content["text"].startswith("Events per user")


def test_a_scoped_key_sees_only_its_users_rows_through_every_tool(served, facts):
    scoped, other = facts.pair()

    async def talk():
        async with http_session(_url(served), served.keys["scoped"]) as session:
            names = {t.name for t in (await session.list_tools()).tools}
            return names, await assert_confined(session, facts, scoped, other)

    names, tried = anyio.run(talk)
    assert tried >= names, "try every new tool in assert_confined"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer uba_000000000000_notarealkeynotarealkey"},
        {"Authorization": "Bearer sk-something"},
        {"X-API-Key": "nope"},
    ],
)
def test_a_missing_or_unknown_key_is_refused(served, headers):
    response = httpx.post(_url(served), json=_INIT, headers={**_ACCEPT, **headers}, timeout=10)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "API key" in response.json()["error"]["message"]


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def test_the_sdk_client_without_a_key_cannot_connect(served):
    async def talk():
        async with http_session(_url(served), None) as session:
            await session.list_tools()

    with pytest.raises(BaseException) as caught:  # the SDK raises from its task group
        anyio.run(talk)
    assert any(isinstance(leaf, MCPError) for leaf in _leaves(caught.value)), repr(caught.value)


def test_a_revoked_key_is_refused_on_its_next_request(served):
    from ui.api.keys import KeyStore

    token = served.keys["revoked"]
    key_id = token.split("_")[1]

    async def talk():
        async with http_session(_url(served), token) as session:
            first = await session.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
            store = KeyStore.in_data_dir(served.data_dir)
            store.revoke(key_id)
            store.close()
            with pytest.raises(MCPError):
                await session.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
            return first

    assert column(anyio.run(talk), "one") == [1]


def test_a_session_answers_only_the_key_that_opened_it(served):
    opened = httpx.post(_url(served), json=_INIT, headers={**_ACCEPT, **served.headers("admin")}, timeout=10)
    session_id = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    headers = {**_ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
    stolen = httpx.post(_url(served), json=listing, headers={**headers, **served.headers("scoped")}, timeout=10)
    assert stolen.status_code == 404
    httpx.delete(_url(served), headers={**headers, **served.headers("admin")}, timeout=10)


def test_the_keys_rate_limit_covers_mcp_calls(served):
    async def talk():
        async with http_session(_url(served), served.keys["slow"]) as session:
            for _ in range(3):
                assert not (await session.call_tool("run_sql", {"sql": "SELECT 1 AS one"})).is_error
            with pytest.raises(MCPError) as refused:
                await session.call_tool("run_sql", {"sql": "SELECT 1 AS one"})
            return refused.value

    refused = anyio.run(talk)
    assert refused.code == -32029 and "rate limit of 3 requests per minute" in refused.message
    assert refused.data["status"] == 429 and refused.data["retry_after_s"] >= 1


def test_mcp_calls_are_audited_and_counted(served, facts):
    scoped, _ = facts.pair()

    async def talk():
        async with http_session(_url(served), served.keys["scoped"]) as session:
            await session.call_tool("run_sql", {"sql": "SELECT COUNT(*) AS n FROM orders"})
            await session.call_tool("forecast", {"metric": "revenue"})
            await session.call_tool("ask", {"question": ASK_ALL_USERS})

    anyio.run(talk)
    key_id = served.keys["scoped"].split("_")[1]
    done = subprocess.run(
        [str(UBA), "mcp", "audit", "--key", key_id, "--limit", "1000", "--json"],
        env=server_env(served.data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    entries = json.loads(done.stdout)
    assert entries and all(e["owner"] == f"key:{key_id}" and e["user_scope"] == scoped for e in entries)
    assert all(e["surface"] == "mcp-http" for e in entries)
    latest = [(e["action"], e["outcome"], e["args"]) for e in entries[:3]]
    assert latest == [
        ("ask", "ok", {"question": ASK_ALL_USERS}),
        ("forecast", "error", {"metric": "revenue"}),
        ("run_sql", "ok", {"sql": "SELECT COUNT(*) AS n FROM orders"}),
    ]
    metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
    assert 'uba_mcp_calls_total{action="run_sql",outcome="ok"}' in metrics
