"""A small demo shop in a real DuckDB file, and loopback HTTP receivers for webhooks."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.settings import Settings
from warehouse import Warehouse
from warehouse.demo import generate_demo

DEMO_USERS = 2_000


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> Path:
    """A demo warehouse (2,000 users, 90 days, seed 7) built once; tests copy it into their own data dir."""
    path = tmp_path_factory.mktemp("watch-demo") / "warehouse.duckdb"
    warehouse = Warehouse.open(f"duckdb:///{path}")
    warehouse.create_schema()
    generate_demo(warehouse, users=DEMO_USERS, days=90, seed=7)
    warehouse.dispose()
    return path


@pytest.fixture
def data_dir(tmp_path, demo_file) -> Path:
    """A fresh data dir holding a copy of the demo warehouse."""
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(demo_file, root / "warehouse.duckdb")
    return root


@pytest.fixture
def settings(data_dir) -> Settings:
    """Settings over the data dir; webhook retries wait 50 ms so failing receivers finish quickly."""
    return Settings(data_dir=data_dir, llm_backend="fake", watch_webhook_backoff_s=0.05)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers each POST with the next status of ``statuses`` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)
    hold: threading.Event | None = None
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a loopback port; ``receiver.received`` holds the JSON bodies it got."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server hook name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state.hold is not None:
                state.hold.wait(10)
            status = state.statuses.pop(0) if state.statuses else 200
            state.received.append({"status": status, "body": body})
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
