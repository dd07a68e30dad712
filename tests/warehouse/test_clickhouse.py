"""ClickHouse specifics: URLs, the MergeTree layout on chdb, and the server wiring (its SQL checked by ClickHouse's parser)."""

from __future__ import annotations

import sys
from pathlib import Path

import chdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from behavior_data import load, make_tables  # noqa: E402

from agent.factory import resolved_readonly_url  # noqa: E402
from agent.settings import Settings  # noqa: E402
from warehouse import Warehouse  # noqa: E402
from warehouse.clickhouse import ClickHouseUrl  # noqa: E402
from warehouse.clickhouse_grants import grant_readonly_clickhouse, readonly_setup_sql  # noqa: E402
from warehouse.clickhouse_wall import ServerReader  # noqa: E402
from warehouse.errors import ConnectionFailed  # noqa: E402
from warehouse.schema import metadata  # noqa: E402


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("chdb://somehost/data", "names a host"),
        ("chdb:///", "names no directory"),
        ("chdb:///tmp/x?database=drop;table", "letters, digits"),
        ("clickhouse:///db", "names no host"),
        ("chdb:///tmp/x?database=a&database=b", "database= 2 times"),
    ],
)
def test_a_bad_url_names_the_fix(url, problem):
    with pytest.raises(ConnectionFailed, match=problem):
        ClickHouseUrl.parse(url)


def test_events_are_a_monthly_mergetree_sorted_by_type_time_user(chdb_url):
    wh = Warehouse.open(chdb_url)
    load(wh, make_tables(5))
    wh.dispose()
    target = ClickHouseUrl.parse(chdb_url)
    conn = chdb.connect(target.path)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT name, engine, sorting_key, partition_key FROM system.tables "
            f"WHERE database = '{target.database}' ORDER BY name"
        )
        tables = {name: (engine, key, part) for name, engine, key, part in cursor.fetchall()}
        cursor.execute(
            f"SELECT uniqExact(partition) FROM system.parts WHERE database = '{target.database}' "
            "AND table = 'events' AND active"
        )
        months = cursor.fetchone()[0]
    finally:
        conn.close()
    assert tables["events"] == ("MergeTree", "event_type, ts, user_id", "toYYYYMM(ts)")
    assert set(metadata.tables) <= set(tables)
    assert months == 2  # 40 days from 2026-03-02: March and April


def test_a_server_url_reads_as_the_reader_user_on_the_reader_database():
    settings = Settings(warehouse_url="clickhouse://admin:secret@ch.internal:8443/shop?secure=true")
    readonly = resolved_readonly_url(settings)
    assert readonly == "clickhouse://uba_reader@ch.internal:8443/shop_uba_reader?secure=true"
    args = ServerReader(
        ClickHouseUrl.parse(readonly), timeout_s=10, max_rows=100, memory_limit_mb=64
    ).client_arguments()
    assert args | {"connect_timeout": 0} == {
        "host": "ch.internal",
        "port": 8443,
        "username": "uba_reader",
        "password": "",
        "database": "shop_uba_reader",
        "secure": True,
        "connect_timeout": 0,
        "send_receive_timeout": 15,
    }
    assert (
        ClickHouseUrl.parse(settings.warehouse_url).sqlalchemy_url().render_as_string(hide_password=False)
        == "clickhousedb://admin:secret@ch.internal:8443/shop?secure=true"
    )


@pytest.mark.parametrize(("query", "tls"), [("?secure=true", True), ("", False)])
def test_grant_readonly_speaks_tls_when_the_url_says_secure(query, tls):
    """The admin connection of ``uba warehouse grant-readonly`` is the reader's: a ``?secure=true`` URL opens TLS."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    first: list[bytes] = []

    def accept() -> None:  # one connection, then nothing listens: a retry is refused at once
        conn, _ = listener.accept()
        listener.close()
        with conn:
            conn.settimeout(5)
            first.append(conn.recv(16))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    with pytest.raises(Exception):  # noqa: B017 - the listener is no ClickHouse; what it received is the point
        grant_readonly_clickhouse(f"clickhouse://admin:pw@127.0.0.1:{port}/shop{query}", timeout_s=1)
    thread.join(5)
    assert first, "grant-readonly sent nothing"
    assert first[0].startswith(b"\x16") is tls  # 0x16: a TLS handshake record; plain HTTP starts with its method


def test_a_scoped_query_on_a_server_is_refused_not_run_unscoped():
    reader = ServerReader(
        ClickHouseUrl.parse("clickhouse://uba_reader@127.0.0.1:1/shop_uba_reader"),
        timeout_s=1,
        max_rows=10,
        memory_limit_mb=64,
    )
    with pytest.raises(ConnectionFailed, match="row policies"):
        reader.execute("SELECT 1", "u001")


def test_the_server_setup_is_valid_clickhouse_and_grants_only_the_reader_views(chdb_root):
    present = {
        "users": ["user_id", "signup_ts", "country", "device", "channel", "email"],
        "events": ["event_id", "user_id", "ts", "event_type"],
        "review_sentiment": ["review_id"],
    }
    statements = readonly_setup_sql("shop", present, password="pw", timeout_s=5, memory_limit_mb=512, max_rows=99)
    conn = chdb.connect(str(chdb_root))  # the process's one chdb engine; EXPLAIN AST only parses
    try:
        for sql in statements:  # ClickHouse's own parser: every statement is well-formed
            assert str(conn.query("EXPLAIN AST " + sql, "TSVRaw")).strip()
    finally:
        conn.close()
    text = "\n".join(statements)
    assert "readonly = 1 CONST" in text and "max_execution_time = 5 CONST" in text
    assert "max_memory_usage = 536870912 CONST" in text and "max_result_rows = 100 CONST" in text
    grants = [s for s in statements if s.startswith("GRANT")]
    assert grants == ["GRANT SELECT ON `shop_uba_reader`.* TO `uba_reader`"]
    views = [s for s in statements if "VIEW" in s]
    # users, events and the review sentiment the semantic layer's sentiment measures read
    assert len(views) == 3 and all("SQL SECURITY DEFINER" in v for v in views)
    assert any("`review_sentiment`" in v for v in views)
    users_view = next(v for v in views if "`users`" in v)
    assert "'***@'" in users_view and "splitByString('@'" in users_view
