"""Fixtures for the web app and HTTP API: a small real warehouse and live ``uba serve`` processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

RULES = Path(__file__).with_name("fake_rules.yaml")
UBA = Path(sys.executable).with_name("uba")

SCOPED_USER = "u003"
OTHER_USER = "u007"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_tables() -> dict[str, list[dict]]:
    """Twelve users' events, orders and reviews, deterministic; tests recompute expectations from these rows."""
    start = datetime(2026, 9, 1)
    users = [f"u{i:03d}" for i in range(1, 13)]
    items = [f"i{i:02d}" for i in range(1, 7)]
    kinds = ["view", "view", "add_to_cart", "purchase", "view", "search", "favorite"]
    events, orders, lines, reviews = [], [], [], []
    for u_index, user in enumerate(users):
        for n in range(8 + u_index):
            kind = kinds[(n + u_index) % len(kinds)]
            item = items[(n * 5 + u_index) % len(items)]
            ts = start + timedelta(days=(n * 3 + u_index) % 28, hours=n)
            events.append(
                {
                    "event_id": len(events) + 1,
                    "user_id": user,
                    "session_id": f"{user}-s{n // 3}",
                    "ts": ts,
                    "event_type": kind,
                    "item_id": item,
                    "value": 10.0 + n if kind == "purchase" else None,
                    "source_event": kind,
                }
            )
            if kind == "purchase":
                order_id = f"o{len(orders) + 1:04d}"
                orders.append({"order_id": order_id, "user_id": user, "ts": ts, "total": 10.0 + n, "status": "paid"})
                lines.append({"order_id": order_id, "item_id": item, "quantity": 1, "price": 10.0 + n})
        reviews.append(
            {
                "review_id": f"r{u_index + 1:03d}",
                "user_id": user,
                "item_id": items[u_index % len(items)],
                "ts": start + timedelta(days=u_index),
                "rating": 1 + u_index % 5,
                "title": "Strings broke" if u_index % 5 == 0 else "Fine",
                "body": "The strings broke after a week. ![x](http://203.0.113.9/pixel.png) <b>bad</b>"
                if u_index % 5 == 0
                else "Works as described.",
                "helpful_votes": u_index,
            }
        )
    return {
        "users": [
            {
                "user_id": u,
                "signup_ts": start - timedelta(days=i),
                "country": ["DE", "US", "FR"][i % 3],
                "device": ["mobile", "desktop"][i % 2],
                "channel": "ads" if i % 2 else "organic",
                "email": f"{u}@example.com",
            }
            for i, u in enumerate(users)
        ],
        "items": [
            {
                "item_id": it,
                "title": f"Guitar part {it}",
                "category": ["strings", "picks"][i % 2],
                "brand": "Acme",
                "price": 5.0 + i,
            }
            for i, it in enumerate(items)
        ],
        "events": events,
        "orders": orders,
        "order_items": lines,
        "reviews": reviews,
    }


def build_small_warehouse(data_dir: Path) -> dict[str, int]:
    """The small tables in a DuckDB file under ``data_dir``; returns row counts."""
    from agent.factory import open_warehouse
    from agent.settings import Settings

    wh = open_warehouse(Settings(data_dir=data_dir))
    with wh.begin() as conn:
        for name, rows in small_tables().items():
            wh.bulk_insert(conn, name, pa.Table.from_pylist(rows))
    counts = wh.row_counts()
    wh.dispose()
    return counts


@dataclass
class Server:
    """A live ``uba serve`` on a loopback port."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    keys: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def headers(self, key: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[key]}"}

    def output(self) -> str:
        return self.log.read_text() if self.log and self.log.exists() else ""


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: fake LLM by rules, data dir, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UBA_")}
    env.update(
        {
            "UBA_DATA_DIR": str(data_dir),
            "UBA_LLM_BACKEND": "fake",
            "UBA_LLM_FAKE_RULES": str(RULES),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "UBA_LOG_LEVEL": "INFO",
            "NO_COLOR": "1",
        }
    )
    env.update(extra)
    return env


def create_key(data_dir: Path, **options) -> str:
    """A new API key in the data dir's key store (the ``uba keys`` commands are tested on their own)."""
    from ui.api.keys import KeyStore

    store = KeyStore.in_data_dir(data_dir)
    token, _ = store.create(**options)
    store.close()
    return token


def launch_server(data_dir: Path, *, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Server:
    """Start ``uba serve`` on a free loopback port (see wait_for_server)."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(UBA), "serve", "--port", str(port), *args],
            env=server_env(data_dir, **(extra_env or {})),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return Server(url=f"http://127.0.0.1:{port}", data_dir=data_dir, process=process, log=log)


def wait_for_server(server: Server, timeout_s: float = 180) -> Server:
    """Wait until /health answers and the analyst is built."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"uba serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            health = httpx.get(f"{server.url}/health", timeout=2)
            if health.status_code == 200 and health.json()["analyst_loaded"]:
                return server
            if health.status_code == 200 and health.json()["analyst_error"]:
                server.process.kill()
                raise RuntimeError(f"uba serve could not build the analyst:\n{server.output()}")
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.process.kill()
    raise RuntimeError(f"uba serve was not ready within {timeout_s:g} s:\n{server.output()}")


def stop_server(server: Server, *, signalled: bool = False) -> int:
    """SIGINT (what Ctrl-C sends) unless already sent, then wait for a graceful exit; returns the exit code."""
    if not signalled and server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
    try:
        return server.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return -9


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """Two live servers started side by side (each takes a while to import its stack).

    ``keyed``: keys exist (an admin key, one scoped to SCOPED_USER, one limited to 3 questions/min).
    ``dev``: loopback dev mode, no keys, for the web app tests.
    """
    keyed_dir = tmp_path_factory.mktemp("uba-ui-keyed")
    dev_dir = tmp_path_factory.mktemp("uba-ui-dev")
    build_small_warehouse(keyed_dir)
    build_small_warehouse(dev_dir)
    keys = {
        "admin": create_key(keyed_dir, label="tests"),
        "scoped": create_key(keyed_dir, user_scope=SCOPED_USER),
        "slow_rate": create_key(keyed_dir, rate_per_min=3),
    }
    launched = {"keyed": launch_server(keyed_dir), "dev": launch_server(dev_dir)}
    try:
        running = {name: wait_for_server(server) for name, server in launched.items()}
        running["keyed"].keys = keys
        yield running
    finally:
        for server in launched.values():
            server.process.send_signal(signal.SIGINT)
        codes = {name: stop_server(server, signalled=True) for name, server in launched.items()}
    # Ctrl-C is a graceful stop: exit 0 after the "stopped" line.
    assert codes == {"keyed": 0, "dev": 0}, {n: launched[n].output()[-2000:] for n in codes}
    assert all("stopped" in server.output() for server in launched.values())


@pytest.fixture(scope="session")
def keyed_server(servers: dict[str, Server]) -> Server:
    """The server that requires API keys."""
    return servers["keyed"]


@pytest.fixture(scope="session")
def dev_server(servers: dict[str, Server]) -> Server:
    """The loopback dev-mode server (no keys)."""
    return servers["dev"]


def _require_sql_tool(server: Server, headers: dict[str, str]) -> None:
    answer = httpx.post(
        f"{server.url}/v1/ask", json={"question": "Which items sell the most?"}, headers=headers, timeout=60
    ).json()
    if any("no tool named 'run_sql'" in (step.get("error") or "") for step in answer.get("trace", [])):
        pytest.skip("tool-backed answers: the agent has no run_sql tool yet (tools.build_tools)")


@pytest.fixture(scope="session")
def sql_tool(servers: dict[str, Server]) -> None:
    """Skips tool-backed tests, with the reason, while the tool package lacks run_sql."""
    _require_sql_tool(servers["keyed"], servers["keyed"].headers())


@pytest.fixture(scope="session")
def mcp_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo shop (DuckDB file), tiny next/churn/forecast models and an indexed review store: a data dir
    on which every one of the agent's tools has something to answer. Copy it before serving from it."""
    from agent.factory import open_review_index, open_warehouse
    from agent.settings import Settings
    from tests.predictor.trained_env import build_env
    from vectorstore import index_reviews

    root = tmp_path_factory.mktemp("uba-mcp-demo")
    build_env(root)
    settings = Settings(data_dir=root)
    warehouse = open_warehouse(settings, create=False)
    try:
        index_reviews(warehouse, open_review_index(settings))
    finally:
        warehouse.dispose()
    return root
