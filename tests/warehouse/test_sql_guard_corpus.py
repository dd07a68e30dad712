"""Every gold query of two public text-to-SQL corpora passes the guard and returns the unguarded rows."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).parent))
from text2sql_corpus import (  # noqa: E402
    defog_queries,
    has_order_by,
    normalized,
    spider_queries,
    sqlite_to_duckdb,
    to_duckdb,
)

from tests.conftest import shared_data  # noqa: E402
from warehouse.errors import GuardRejected, QueryFailed  # noqa: E402
from warehouse.readonly import ReadOnlyWarehouse  # noqa: E402
from warehouse.sql_guard import SqlGuard  # noqa: E402
from warehouse.sql_policy import SqlPolicy  # noqa: E402

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.slow

MIN_RUNNABLE = 0.9
"""Share of gold queries that must run unguarded on the DuckDB copies: the rest are dialect leftovers."""


def _guard_accepts(guard: SqlGuard, query) -> int:
    try:
        guard.check(to_duckdb(query), limit=10_000)
    except (GuardRejected, ValueError):
        return 0
    return 1


def _valid_tie_cut(engine, sql: str, got, reference) -> bool:
    # ORDER BY ... LIMIT n with ties at the cut has several right answers: the guarded rows must
    # be as many and all come from the same query without its LIMIT.
    root = sqlglot.parse_one(sql, read="duckdb")
    if root.args.get("limit") is None or len(got) != len(reference):
        return False
    root.set("limit", None)
    everything = normalized(engine.query(root.sql("duckdb")).rows, False)
    return not (normalized(got, False) - everything)


def _run_corpus(name: str, folder: Path, queries, tmp: Path) -> Counter:
    stats: Counter = Counter()
    failures: list[str] = []
    by_db = defaultdict(list)
    for query in queries:
        by_db[query.database].append(query)
    for database, items in by_db.items():
        duck = tmp / f"{name}_{database}.duckdb"
        source = folder / "sqlite_built" / f"{database}.sqlite"
        columns = sqlite_to_duckdb(source, duck)
        policy = SqlPolicy.from_columns(columns)
        engine = ReadOnlyWarehouse(f"duckdb:///{duck}", policy=policy)
        guard = SqlGuard("duckdb", policy)
        native = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            for query in items:
                stats["gold"] += 1
                try:
                    sql = to_duckdb(query)
                    reference = engine.query(sql)
                except (QueryFailed, ValueError) as exc:
                    stats["not runnable on DuckDB unguarded"] += 1
                    logger.info("unrunnable %s: %s (%s)", database, query.sql, exc)
                    stats["guard accepts all the same"] += _guard_accepts(guard, query)
                    continue
                # Rows equal on both sides prove nothing when there are none: the gold query on its own
                # SQLite database says whether the DuckDB copy should have returned some.
                if reference.rows:
                    stats["returns rows"] += 1
                elif _sqlite_rows(native, query.sql):
                    if not engine.query(_case_insensitive_like(sql)).rows:
                        failures.append(f"{database}: {sql} -> no rows on the DuckDB copy, some on SQLite")
                        continue
                    stats["no rows: DuckDB's LIKE is case-sensitive, SQLite's is not"] += 1
                try:
                    guarded = guard.check(sql, limit=10_000)
                    got = engine.query(guarded.sql)
                except (GuardRejected, QueryFailed) as exc:
                    failures.append(f"{database}: {sql} -> {exc}")
                    continue
                ordered = has_order_by(sql)
                if normalized(got.rows, ordered) == normalized(reference.rows, ordered):
                    stats["accepted, same rows"] += 1
                elif ordered and normalized(got.rows, False) == normalized(reference.rows, False):
                    stats["accepted, same rows (ties ordered differently)"] += 1
                elif ordered and _valid_tie_cut(engine, sql, got.rows, reference.rows):
                    stats["accepted, a different row among ties at the LIMIT"] += 1
                else:
                    failures.append(f"{database}: {sql} -> different rows")
        finally:
            engine.close()
            native.close()
    runnable = stats["gold"] - stats["not runnable on DuckDB unguarded"]
    accepted = runnable - len(failures)
    print(
        f"\n{name}: {accepted}/{runnable} runnable gold queries accepted with identical rows "
        f"({100 * accepted / max(runnable, 1):.1f}%); {dict(stats)}"
    )
    assert not failures, "\n".join(failures[:20])
    assert runnable >= MIN_RUNNABLE * stats["gold"], f"only {runnable} of {stats['gold']} gold queries ran unguarded"
    return stats


def _case_insensitive_like(sql: str) -> str:
    root = sqlglot.parse_one(sql, read="duckdb")
    return root.transform(
        lambda n: exp.ILike(this=n.this, expression=n.expression) if isinstance(n, exp.Like) else n
    ).sql("duckdb")


def _sqlite_rows(conn: sqlite3.Connection, sql: str) -> bool:
    try:
        return conn.execute(sql).fetchone() is not None
    except sqlite3.Error:
        return False  # a gold query in MySQL syntax SQLite cannot read says nothing either way


def test_spider_dev_gold_queries_pass_the_guard_unchanged(tmp_path):
    folder = shared_data("text2sql/spiderman-spider-dev")
    stats = _run_corpus("spider", folder, spider_queries(folder), tmp_path)
    assert stats["gold"] == 1034


def test_defog_gold_queries_pass_the_guard_unchanged(tmp_path):
    folder = shared_data("text2sql/defog-sql-eval")
    stats = _run_corpus("defog", folder, defog_queries(folder), tmp_path)
    assert stats["gold"] >= 300
