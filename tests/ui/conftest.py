"""Fixtures for the web app and HTTP API: a small real warehouse and live ``uba serve`` processes."""

from __future__ import annotations

import json
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


def build_small_warehouse(data_dir: Path) -> dict[str, int]:
    """Twelve users' events, orders and reviews in a DuckDB file under ``data_dir``; returns row counts."""
    from agent.factory import open_warehouse
    from agent.settings import Settings

    wh = open_warehouse(Settings(data_dir=data_dir))
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
            events.append({"event_id": len(events) + 1, "user_id": user, "session_id": f"{user}-s{n // 3}", "ts": ts,
                           "event_type": kind, "item_id": item, "value": 10.0 + n if kind == "purchase" else None,
                           "source_event": kind})
            if kind == "purchase":
                order_id = f"o{len(orders) + 1:04d}"
                orders.append({"order_id": order_id, "user_id": user, "ts": ts, "total": 10.0 + n, "status": "paid"})
                lines.append({"order_id": order_id, "item_id": item, "quantity": 1, "price": 10.0 + n})
        reviews.append({"review_id": f"r{u_index + 1:03d}", "user_id": user, "item_id": items[u_index % len(items)],
                        "ts": start + timedelta(days=u_index), "rating": 1 + u_index % 5,
                        "title": "Strings broke" if u_index % 5 == 0 else "Fine",
                        "body": "The strings broke after a week. ![x](http://203.0.113.9/pixel.png) <b>bad</b>"
                        if u_index % 5 == 0 else "Works as described.", "helpful_votes": u_index})
    tables = {
        "users": [{"user_id": u, "signup_ts": start - timedelta(days=i), "country": ["DE", "US", "FR"][i % 3],
                   "device": ["mobile", "desktop"][i % 2], "channel": "ads" if i % 2 else "organic",
                   "email": f"{u}@example.com"} for i, u in enumerate(users)],
        "items": [{"item_id": it, "title": f"Guitar part {it}", "category": ["strings", "picks"][i % 2],
                   "brand": "Acme", "price": 5.0 + i} for i, it in enumerate(items)],
        "events": events, "orders": orders, "order_items": lines, "reviews": reviews,
    }
    with wh.begin() as conn:
        for name, rows in tables.items():
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
    env.update({"UBA_DATA_DIR": str(data_dir), "UBA_LLM_BACKEND": "fake", "UBA_LLM_FAKE_RULES": str(RULES),
                "GRADIO_ANALYTICS_ENABLED": "False", "UBA_LOG_LEVEL": "INFO", "NO_COLOR": "1"})
    env.update(extra)
    return env


def create_key(data_dir: Path, *args: str) -> str:
    """``uba keys create ... --json`` in a subprocess; returns the key."""
    out = subprocess.run([str(UBA), "keys", "create", "--json", *args], env=server_env(data_dir),
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)["key"]


def start_server(data_dir: Path, *, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> Server:
    """Start ``uba serve`` and wait until /health answers."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    handle = log.open("w")
    process = subprocess.Popen([str(UBA), "serve", "--port", str(port), *args],
                               env=server_env(data_dir, **(extra_env or {})), stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uba serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return Server(url=url, data_dir=data_dir, process=process, log=log)
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"uba serve did not answer /health within 120 s:\n{log.read_text()}")


def stop_server(server: Server) -> int:
    """SIGINT (what Ctrl-C sends), then wait for a graceful exit; returns the exit code."""
    server.process.send_signal(signal.SIGINT)
    try:
        return server.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return -9


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the small warehouse (built once per session; servers only read it)."""
    data_dir = tmp_path_factory.mktemp("uba-ui-data")
    build_small_warehouse(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def keyed_server(small_data_dir: Path) -> Iterator[Server]:
    """``uba serve`` with keys: an admin key, a key scoped to one user, and a key with 3 requests/min."""
    keys = {
        "admin": create_key(small_data_dir, "--label", "tests"),
        "scoped": create_key(small_data_dir, "--user-scope", SCOPED_USER),
        "slow_rate": create_key(small_data_dir, "--rate", "3/min"),
    }
    server = start_server(small_data_dir)
    server.keys = keys
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``uba serve`` in loopback dev mode (no keys exist) over its own copy of the small warehouse."""
    data_dir = tmp_path_factory.mktemp("uba-ui-dev")
    build_small_warehouse(data_dir)
    server = start_server(data_dir)
    yield server
    stop_server(server)
