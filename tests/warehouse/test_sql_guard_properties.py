"""Property tests: any text yields the guard's own error or one SELECT with a bounded LIMIT that changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

sys.path.insert(0, str(Path(__file__).parent))
from behavior_data import make_tables  # noqa: E402
from test_sql_security import fingerprint, open_loaded  # noqa: E402

from warehouse.errors import GuardRejected, QueryFailed  # noqa: E402
from warehouse.sql_guard import MAX_LIMIT, SqlGuard  # noqa: E402

FRAGMENTS = [
    "SELECT",
    "select",
    "*",
    "FROM",
    "events",
    "users",
    "items",
    "orders",
    "reviews",
    "order_items",
    "secrets",
    "WHERE",
    "user_id",
    "email",
    "event_type",
    "=",
    "'view'",
    "1",
    "LIMIT",
    "20000",
    "5",
    ";",
    "--",
    "/*",
    "*/",
    "DROP",
    "TABLE",
    "DELETE",
    "INSERT",
    "INTO",
    "UPDATE",
    "SET",
    "VALUES",
    "(",
    ")",
    ",",
    "UNION",
    "ALL",
    "WITH",
    "x",
    "AS",
    "JOIN",
    "ON",
    "COUNT(*)",
    "GROUP BY",
    "ORDER BY",
    "read_csv('/etc/passwd')",
    "pg_sleep(1)",
    "COPY",
    "ATTACH",
    "PRAGMA",
    "COMMIT",
    "BEGIN",
    "\n",
    "\t",
    "main.",
    "e.",
    "e",
    "OFFSET",
    "FETCH FIRST 3 ROWS ONLY",
    "CASE WHEN",
    "THEN",
    "END",
    "lower(",
    "'a''b'",
    '"users"',
    "RETURNING",
]

sql_like = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=14).map(" ".join)
any_text = st.one_of(sql_like, st.text(max_size=200))


def _assert_safe_shape(sql: str) -> None:
    statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    assert len(statements) == 1
    root = statements[0]
    assert isinstance(root, (exp.Select, exp.SetOperation))
    limit = root.args["limit"]
    assert isinstance(limit, exp.Limit) and int(limit.expression.this) <= MAX_LIMIT
    for node in root.walk():
        assert not isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Command, exp.Into))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text, limit=st.one_of(st.none(), st.integers(1, 10**9)))
def test_guard_yields_its_error_or_one_bounded_select(text, limit):
    guard = SqlGuard("duckdb")
    try:
        guarded = guard.check(text, limit=limit)
    except GuardRejected:
        return
    _assert_safe_shape(guarded.sql)
    assert guarded.limit <= MAX_LIMIT


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path_factory):
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None
    safe, admin_url = open_loaded(
        request.param, tmp_path_factory.mktemp(f"prop{request.param}"), cluster, make_tables(9), timeout_s=5.0
    )
    yield request.param, safe, admin_url
    safe.readonly.close()


def test_accepted_statements_leave_the_database_unchanged(env):
    kind, safe, admin_url = env
    before = fingerprint(kind, safe, admin_url)
    executed = []

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(text=sql_like)
    def run_any(text):
        try:
            done = safe.run(text)
        except (GuardRejected, QueryFailed):
            return
        executed.append(done.sql)
        assert len(done.result.rows) <= done.guarded.limit

    run_any()
    assert fingerprint(kind, safe, admin_url) == before
