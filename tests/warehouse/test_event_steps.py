"""The step index behind the paths analytic: built by every load, used only while fresh, never wrong."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from behavior_data import load, make_tables  # noqa: E402

from warehouse import Warehouse  # noqa: E402
from warehouse.analytics import PathsRequest, paths  # noqa: E402
from warehouse.demo import generate_demo  # noqa: E402
from warehouse.event_steps import BUCKETED_TABLE, STEPS_TABLE, refresh_event_steps, user_buckets  # noqa: E402
from warehouse.loaders import ingest  # noqa: E402
from warehouse.readonly import ReadOnlyWarehouse, grant_readonly  # noqa: E402
from warehouse.safe_sql import SafeSql  # noqa: E402

REQUESTS = [
    PathsRequest(event_type="view", top_n=50),
    PathsRequest(event_type="purchase", direction="previous", depth=3, within_session=False, top_n=50),
]


def _safe(url: str) -> SafeSql:
    readonly_url = grant_readonly(url) if url.startswith("postgresql") else url
    return SafeSql(ReadOnlyWarehouse(readonly_url))


def _answers(url: str, user_scope: str | None = None) -> tuple[list, list[bool]]:
    safe = _safe(url)
    try:
        results = [paths(safe, r, user_scope=user_scope) for r in REQUESTS]
    finally:
        safe.readonly.close()
    return [r.table.values.tolist() for r in results], [r.details["step_index"] for r in results]


def _count(wh: Warehouse, table: str) -> int:
    with wh.begin() as conn:
        return conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def test_the_demo_load_builds_a_fresh_index(warehouse_url):
    wh = Warehouse.open(warehouse_url)
    stats = generate_demo(wh, users=150, days=20, seed=5)
    assert _count(wh, STEPS_TABLE) == stats.events
    wh.dispose()
    _, used = _answers(warehouse_url)
    assert used == [True, True]


def test_a_stale_or_missing_index_falls_back_to_the_same_answer(warehouse_url):
    wh = Warehouse.open(warehouse_url)
    load(wh, make_tables(21))
    wh.dispose()  # DuckDB: one configuration per open file
    fresh, used = _answers(warehouse_url)
    assert used == [True, True]

    # Events written behind uba's back: the index no longer matches, the window answers instead.
    with wh.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (event_id, user_id, session_id, ts, event_type) "
                "VALUES (999999, 'u001', 'late', TIMESTAMP '2030-01-01 00:00:00', 'view')"
            )
        )
    wh.dispose()
    stale, used = _answers(warehouse_url)
    assert used == [False, False]
    view_counts = {tuple(row[1:-2]): row[-2] for row in stale[0]}
    before = {tuple(row[1:-2]): row[-2] for row in fresh[0]}
    assert view_counts[("(end)",)] == before[("(end)",)] + 1  # the new view, alone in its session, is counted

    with wh.begin() as conn:
        # PostgreSQL: the reader's view of the table goes with it (grant-readonly recreates it)
        conn.execute(text(f"DROP TABLE {STEPS_TABLE}" + (" CASCADE" if wh.dialect == "postgresql" else "")))
    wh.dispose()
    missing, used = _answers(warehouse_url)
    assert used == [False, False] and missing == stale
    wh.dispose()


def test_a_scoped_query_reads_only_that_users_steps(warehouse_url):
    wh = Warehouse.open(warehouse_url)
    frames = make_tables(22)
    load(wh, frames)
    wh.dispose()
    scoped, used = _answers(warehouse_url, user_scope="u003")
    assert used == [True, True]
    anchors = frames["events"].query("user_id == 'u003' and event_type == 'view'")
    assert sum(row[-2] for row in scoped[0]) == len(anchors)
    with wh.begin() as conn:  # the window over the user's own events says the same
        conn.execute(text(f"TRUNCATE TABLE {STEPS_TABLE}"))  # ClickHouse: DELETE needs a WHERE
    wh.dispose()
    window, used = _answers(warehouse_url, user_scope="u003")
    assert used == [False, False] and window == scoped
    wh.dispose()


def test_a_file_load_rebuilds_the_index(warehouse_url, tmp_path):
    wh = Warehouse.open(warehouse_url)
    load(wh, make_tables(23), steps=False)
    assert _count(wh, STEPS_TABLE) == 0
    csv = tmp_path / "more.csv"
    pacsv.write_csv(
        pa.table(
            {
                "user_id": ["u900", "u900"],
                "ts": [datetime(2026, 4, 1, 10), datetime(2026, 4, 1, 11)],
                "event_type": ["view", "purchase"],
            }
        ),
        csv,
    )
    ingest(wh, csv, "csv")
    assert _count(wh, STEPS_TABLE) == _count(wh, "events")
    wh.dispose()
    _, used = _answers(warehouse_url)
    assert used == [True, True]


def _steps(wh: Warehouse) -> list[tuple]:
    with wh.begin() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {STEPS_TABLE} ORDER BY event_id")).fetchall()]


def test_clickhouse_builds_the_index_in_user_buckets_with_the_same_rows(chdb_url):
    wh = Warehouse.open(chdb_url)
    frames = make_tables(24, users=80, events=3000)
    load(wh, frames, steps=False)
    with wh.begin() as conn:
        assert refresh_event_steps(conn, chunk_events=10**9) == 3000  # one statement over all events
    whole = _steps(wh)
    with wh.begin() as conn:
        assert user_buckets(3000, 350) == 9
        assert refresh_event_steps(conn, chunk_events=350) == 3000  # nine buckets of users
    assert _steps(wh) == whole
    with wh.begin() as conn:  # the scratch copy partitioned by bucket is gone with the rebuild
        assert conn.execute(text(f"EXISTS TABLE {BUCKETED_TABLE}")).scalar_one() == 0
    first_of_user = [row for row in whole if row[-3] is None]  # u_prev_1: no event before it for that user
    assert len(first_of_user) == frames["events"]["user_id"].nunique()
    wh.dispose()
    _, used = _answers(chdb_url)
    assert used == [True, True]
