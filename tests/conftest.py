"""Shared fixtures: a real DuckDB file, a throwaway PostgreSQL 15 cluster and a chdb directory (ClickHouse in process)."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engines import ENGINES, new_chdb_url

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PG_BIN = Path(os.environ.get("UBA_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def shared_data(relative: str) -> Path:
    """A path under ../shared/data, or a skip naming what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real-data test: {path} is absent (../shared/data is provided next to the repo in CI)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; in CI (root) the cluster belongs to 'postgres'.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a loopback port, trust auth, deleted at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="uba-pg-"))
        self.port = _free_port()
        self._db_counter = itertools.count()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.datadir = self.root / "data"

    def start(self) -> None:
        subprocess.run(
            _as_cluster_owner(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        subprocess.run(
            _as_cluster_owner(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-o",
                    opts,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"uba_test_{os.getpid()}_{next(self._db_counter)}"
        # FILE_COPY: a plain copy of the tiny template, much cheaper than WAL-logging it per test.
        with psycopg.connect(self._admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.admin_url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test database, closing whatever connections a test left open."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self._admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @property
    def _admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def stop(self) -> None:
        subprocess.run(
            _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL cluster; skips with the reason when PostgreSQL 15 is not installed."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(
            f"PostgreSQL tests: {PG_BIN}/initdb not found (apt-get install postgresql-15, or set UBA_TEST_PG_BIN)"
        )
    cluster = PostgresCluster()
    deadline = time.monotonic() + 60
    cluster.start()
    while time.monotonic() < deadline:
        try:
            cluster.new_database()
            break
        except Exception:  # server still starting
            time.sleep(0.2)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    url = pg_cluster.new_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(scope="session")
def chdb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's one chdb directory (a process holds one); each test warehouse is a database in it."""
    pytest.importorskip("chdb", reason="ClickHouse tests need the chdb package (pip install -e '.[dev]')")
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def chdb_url(chdb_root: Path) -> str:
    """URL of a fresh chdb (ClickHouse) warehouse."""
    return new_chdb_url(chdb_root)


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    """URL of a fresh DuckDB file."""
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture(params=ENGINES)
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """A fresh warehouse URL on each engine: DuckDB, PostgreSQL and ClickHouse (chdb)."""
    return request.getfixturevalue({"duckdb": "duckdb_url", "postgres": "pg_url", "chdb": "chdb_url"}[request.param])


@pytest.fixture
def warehouse(warehouse_url: str):
    """An open warehouse with the canonical tables, on each engine."""
    from warehouse import Warehouse

    wh = Warehouse.open(warehouse_url)
    wh.create_schema()
    yield wh
    wh.dispose()


@pytest.fixture
def eval_demo_url(duckdb_url: str) -> str:
    """A DuckDB file holding the evaluation's demo shop (10k users, 90 days, seed 7: ~1M events)."""
    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    wh = Warehouse.open(duckdb_url)
    wh.create_schema()
    generate_demo(wh)
    wh.dispose()
    return duckdb_url


_CHAT_MODEL_ENTRY_POINTS = ("generate", "agenerate", "stream", "astream")


@pytest.fixture(autouse=True)
def _no_unplanned_llm_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any real chat-model call unless the test is marked ``real_llm``; the fake models always pass."""
    if request.node.get_closest_marker("real_llm"):
        return
    from langchain_core.language_models import BaseChatModel

    for name in _CHAT_MODEL_ENTRY_POINTS:
        original = getattr(BaseChatModel, name)

        def guarded(self, *args, _original=original, **kwargs):
            if self._llm_type.endswith("fake"):  # the scripted and the rule-driven fake models
                return _original(self, *args, **kwargs)
            pytest.fail(
                f"unplanned real LLM call to {type(self).__name__}; script it with fake_llm.ScriptedChatModel "
                "or mark the test @pytest.mark.real_llm"
            )

        monkeypatch.setattr(BaseChatModel, name, guarded)
