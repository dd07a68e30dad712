"""Fixtures for the review index: one embedding model per run, small review sets, a real Chroma server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

VENV_BIN = Path(sys.executable).parent

ITEMS = [
    # item_id, title, category
    ("i-amp", "Fender Blues Junior amplifier", "Amplifiers"),
    ("i-mic", "Shure SM57 microphone", "Microphones"),
    ("i-str", "Elixir Nanoweb guitar strings", "Strings"),
    ("i-ped", "Boss DS-1 distortion pedal", "Effects"),
    ("i-tun", "Snark SN-5 clip-on tuner", "Accessories"),
]

_PHRASES = {
    "i-amp": ["the amp hums loudly at high volume", "warm tube tone for blues", "speaker rattles after a month"],
    "i-mic": ["the SM57 is a workhorse on snare", "cable noise on the XLR jack", "clear vocals on stage"],
    "i-str": ["strings last for months without rust", "the coating flakes off quickly", "bright tone, easy on fingers"],
    "i-ped": ["classic crunchy distortion", "the battery door broke", "noisy when the gain is up"],
    "i-tun": ["tuner clip is flimsy and snapped", "accurate and fast to read", "display hard to see in sunlight"],
}


def review_rows(n: int = 60, start: datetime = datetime(2024, 1, 1)) -> list[dict]:
    """Deterministic reviews: items, users, ratings and dates spread out, texts with item-specific phrases."""
    rows = []
    item_ids = [i for i, _, _ in ITEMS]
    for k in range(n):
        item = item_ids[k % len(item_ids)]
        phrase = _PHRASES[item][k % 3]
        rows.append(
            {
                "review_id": f"r{k:04d}",
                "user_id": f"u{k % 7}",
                "item_id": item,
                "ts": start + timedelta(days=3 * k, hours=k % 5),
                "rating": 1 + (7 * (k // 5) + k) % 5,
                "title": f"Review {k} of {item}",
                "body": f"{phrase}. Bought it in week {k}; {'would buy again' if k % 2 else 'sent it back'}.",
                "helpful_votes": k % 4,
            }
        )
    return rows


def items_table() -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"item_id": i, "title": t, "category": c, "brand": t.split()[0], "price": 10.0 + n}
            for n, (i, t, c) in enumerate(ITEMS)
        ]
    )


def load_reviews(warehouse, rows: list[dict], *, items: bool = True) -> None:
    """Insert ``rows`` into ``reviews`` (and the catalogue into ``items``) in one transaction."""
    schema = pa.schema(
        [
            ("review_id", pa.string()),
            ("user_id", pa.string()),
            ("item_id", pa.string()),
            ("ts", pa.timestamp("us")),
            ("rating", pa.int32()),
            ("title", pa.string()),
            ("body", pa.string()),
            ("helpful_votes", pa.int32()),
        ]
    )
    with warehouse.begin() as conn:
        if items:
            warehouse.bulk_insert(conn, "items", items_table())
        warehouse.bulk_insert(conn, "reviews", pa.Table.from_pylist(rows, schema=schema))


@pytest.fixture(scope="session")
def embedder():
    """One all-MiniLM-L6-v2 embedder for the whole run (loading it takes a second or two)."""
    from vectorstore import Embedder

    return Embedder()


@pytest.fixture
def review_warehouse(duckdb_url):
    """A DuckDB warehouse with 60 deterministic reviews over five items."""
    from warehouse import Warehouse

    wh = Warehouse.open(duckdb_url)
    wh.create_schema()
    load_reviews(wh, review_rows())
    yield wh
    wh.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> Iterator[str]:
    """URL of a real `chroma run` server on loopback, started once per run."""
    chroma = VENV_BIN / "chroma"
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "")
    if not chroma.is_file():
        pytest.skip("Chroma server tests: the `chroma` CLI (from the chromadb package) is not installed")
    path = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = open(path / "server.log", "wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"chroma run did not come up: {(path / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
