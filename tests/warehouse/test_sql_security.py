"""Attacks on the SQL path are refused and leave every table unchanged, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from analytics_env import open_loaded  # noqa: E402
from behavior_data import make_tables  # noqa: E402

from warehouse.errors import GuardRejected, PolicyRefused, QueryFailed, QueryTimeout  # noqa: E402

TIMEOUT_S = 2.0

WRITES = [
    "DROP TABLE events",
    "DELETE FROM events",
    "UPDATE users SET country = 'XX'",
    "INSERT INTO users (user_id) VALUES ('evil')",
    "CREATE TABLE evil AS SELECT * FROM users",
    "ALTER TABLE users ADD COLUMN evil TEXT",
    "TRUNCATE events",
    "SELECT 1; DROP TABLE events",
    "COMMIT; INSERT INTO users (user_id) VALUES ('evil'); SELECT 1",
    "SELECT * FROM events; DELETE FROM events",
    "/* harmless */ DrOp /**/ TaBlE\n\t events",
    "sElEcT 1 ;\n ;  dElEtE\tfRoM users",
    "SELECT 1;/**/DROP TABLE users--",
    "WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x",
    "SELECT * INTO evil FROM users",
    "SELECT * FROM users FOR UPDATE",
    "BEGIN; DELETE FROM events; COMMIT",
    "MERGE INTO users u USING users s ON u.user_id = s.user_id WHEN MATCHED THEN DELETE",
]

ENGINE_FUNCTIONS = [
    # DuckDB
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "COPY users TO '/tmp/uba-leak.csv'",
    "ATTACH '/tmp/evil.duckdb' AS evil",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SELECT getenv('HOME')",
    "SELECT current_setting('threads')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_tables()",
    "CALL pragma_version()",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM read_json('http://example.com/x.json')",
    # PostgreSQL
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('/')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)",
    "SELECT pg_sleep(600)",
    "SELECT pg_sleep_for('10 minutes')",
    "COPY users TO PROGRAM 'id'",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "SET ROLE postgres",
    "RESET ROLE",
    "SET SESSION AUTHORIZATION postgres",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_terminate_backend(1)",
    "SELECT version()",
    "SELECT current_user",
    "SELECT txid_current()",
    "SELECT nextval('seq')",
    "SELECT query_to_xml('DELETE FROM events', true, true, '')",
    # SQLite
    "ATTACH DATABASE '/tmp/x.db' AS x",
    "PRAGMA writable_schema = 1",
    "SELECT load_extension('/tmp/evil.so')",
]

OUTSIDE_ALLOW_LIST = [
    "SELECT * FROM secrets",
    "SELECT password FROM users",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_authid",
    "SELECT * FROM pg_shadow",
    "SELECT * FROM main.sqlite_master",
    "SELECT * FROM other.public.users",
    "SELECT u.ssn FROM users u",
    "WITH t AS (SELECT 1 AS a) SELECT * FROM t, secrets",
    "SELECT * FROM (WITH secrets AS (SELECT 1) SELECT * FROM secrets) x, secrets",
]

PII_PROBES = [
    "SELECT email FROM users",
    "SELECT * FROM users",
    "SELECT u.email AS e FROM users AS u",
    "SELECT lower(email) FROM users",
    'SELECT "email" FROM "users"',
    "SELECT email FROM main.users",
    "SELECT email FROM public.users",
    "WITH users AS (SELECT * FROM users) SELECT email FROM users",
    "SELECT (SELECT max(email) FROM users) AS m",
    "SELECT string_agg(email, ',') FROM users",
    "SELECT t.* FROM users t",
    "SELECT email FROM users UNION ALL SELECT email FROM users",
]


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request, tmp_path_factory):
    cluster = request.getfixturevalue("pg_cluster") if request.param == "postgres" else None
    frames = make_tables(5)
    safe, admin_url = open_loaded(
        request.param, tmp_path_factory.mktemp(request.param), cluster, frames, timeout_s=TIMEOUT_S
    )
    yield request.param, safe, admin_url, frames
    safe.readonly.close()


def fingerprint(kind: str, safe, admin_url: str) -> dict[str, str]:
    """A digest of every table (and the list of tables), read independently of the guard."""
    if kind == "postgres":
        url = make_url(admin_url)
        with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
                )
            ]
            return {name: _digest(conn.execute(f'SELECT * FROM "{name}"').fetchall()) for name in names} | {
                "_roles": _digest(conn.execute("SELECT rolname, rolsuper FROM pg_roles").fetchall())
            }
    names = [r[0] for r in safe.readonly.query("SELECT table_name FROM information_schema.tables ORDER BY 1").rows]
    return {name: _digest(safe.readonly.query(f'SELECT * FROM "{name}"').rows) for name in names}


def _digest(rows) -> str:
    return f"{len(rows)}:" + hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()


@pytest.fixture(scope="module")
def before(env):
    kind, safe, admin_url, _ = env
    return fingerprint(kind, safe, admin_url)


@pytest.mark.parametrize("sql", WRITES + ENGINE_FUNCTIONS + OUTSIDE_ALLOW_LIST)
def test_attack_is_refused_and_tables_unchanged(env, before, sql):
    kind, safe, admin_url, _ = env
    with pytest.raises(GuardRejected) as refused:
        safe.run(sql)
    assert 10 < len(str(refused.value)) < 300
    assert fingerprint(kind, safe, admin_url) == before


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_is_a_policy_refusal_not_a_fixable_mistake(env, sql):
    """The agent answers a policy refusal at once instead of letting the model retry."""
    with pytest.raises(PolicyRefused):
        env[1].run(sql)


@pytest.mark.parametrize("sql", ["SELECT * FROM sales", "SELECT nope FROM users", "SELEC 1"])
def test_a_fixable_mistake_is_not_a_policy_refusal(env, sql):
    with pytest.raises(GuardRejected) as rejected:
        env[1].run(sql)
    assert not isinstance(rejected.value, PolicyRefused)


@pytest.mark.parametrize("sql", PII_PROBES)
def test_email_only_ever_leaves_masked(env, sql):
    _, safe, _, frames = env
    raw = set(frames["users"]["email"])
    foreign_schema = "public." if safe.dialect == "duckdb" else "main."
    if foreign_schema in sql:
        with pytest.raises(GuardRejected, match="not allowed"):
            safe.run(sql)
        return
    run = safe.run(sql)
    cells = [str(v) for row in run.result.rows for v in row]
    assert cells, "the probe returned nothing to inspect"
    assert not any(address in cell for cell in cells for address in raw)
    assert any("***@example" in cell for cell in cells)


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE events",
        "DELETE FROM events",
        "UPDATE users SET country = 'XX'",
        "INSERT INTO users (user_id) VALUES ('evil')",
        "CREATE TABLE evil (a INT)",
        "ALTER TABLE users ADD COLUMN evil TEXT",
    ],
)
def test_readonly_connection_refuses_writes_without_the_guard(env, before, sql):
    kind, safe, admin_url, _ = env
    with pytest.raises(QueryFailed):
        safe.readonly.query(sql)
    assert fingerprint(kind, safe, admin_url) == before


def test_readonly_connection_refuses_engine_escapes_without_the_guard(env, before, tmp_path):
    kind, safe, admin_url, _ = env
    if kind == "duckdb":
        attempts = [
            f"COPY users TO '{tmp_path / 'leak.csv'}'",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"ATTACH '{tmp_path / 'evil.duckdb'}' AS evil",
            "SET enable_external_access = true",
            "INSTALL httpfs",
            "SELECT * FROM '/etc/passwd'",
        ]
    else:
        attempts = [
            "SELECT pg_read_file('/etc/passwd')",
            "COPY users TO PROGRAM 'id'",
            "SET ROLE postgres",
            "SELECT lo_import('/etc/passwd')",
            f"COPY users TO '{tmp_path / 'leak.csv'}'",
            "SET default_transaction_read_only = off; SET transaction_read_only = off; "
            "INSERT INTO users (user_id) VALUES ('evil')",
            "CREATE TEMP TABLE t AS SELECT 1",
            "ALTER ROLE uba_reader SUPERUSER",
        ]
    for sql in attempts:
        with pytest.raises(QueryFailed):
            safe.readonly.query(sql)
    assert not (tmp_path / "leak.csv").exists()
    assert fingerprint(kind, safe, admin_url) == before


def test_cross_join_is_stopped_by_the_timeout(env, before):
    kind, safe, admin_url, _ = env
    started = time.perf_counter()
    with pytest.raises(QueryTimeout):
        # 1,500^3 = 3.4e9 rows with a string concatenation each: minutes on any engine.
        safe.run("SELECT SUM(LENGTH(a.user_id || b.session_id || c.event_type)) FROM events a, events b, events c")
    assert time.perf_counter() - started < TIMEOUT_S + 4
    assert fingerprint(kind, safe, admin_url) == before


@pytest.mark.postgres
def test_pg_sleep_is_stopped_by_the_statement_timeout_even_without_the_guard(env):
    kind, safe, _, _ = env
    if kind != "postgres":
        pytest.skip("pg_sleep is a PostgreSQL function")
    with pytest.raises(GuardRejected):
        safe.run("SELECT pg_sleep(600)")
    started = time.perf_counter()
    with pytest.raises(QueryTimeout):
        safe.readonly.query("SELECT pg_sleep(600)")
    assert time.perf_counter() - started < TIMEOUT_S + 4


def test_a_literal_format_pattern_runs_and_a_wide_one_is_refused(env):
    kind, safe, _, frames = env
    fn = "printf" if kind == "duckdb" else "format"
    user = frames["users"].sort_values("user_id").iloc[0]
    run = safe.run(f"SELECT {fn}('%s:%s', user_id, country) AS label FROM users WHERE user_id = '{user.user_id}'")
    assert [tuple(r) for r in run.result.rows] == [(f"{user.user_id}:{user.country}",)]
    with pytest.raises(GuardRejected, match="widths under"):
        safe.run(f"SELECT {fn}('%100000000s', user_id) FROM users")


def test_row_cap_and_forced_limit(env):
    _, safe, _, frames = env
    assert len(safe.run("SELECT * FROM events").result.rows) == 200
    assert len(safe.run("SELECT * FROM events LIMIT 5").result.rows) == 5
    assert safe.run("SELECT * FROM events LIMIT 999999").guarded.limit == 10_000
    assert len(safe.run("SELECT * FROM events", limit=100_000).result.rows) == len(frames["events"])


def test_user_scope_hides_other_users_rows(env):
    _, safe, _, frames = env
    uid = "u003"
    mine = frames["events"][frames["events"]["user_id"] == uid]
    probes = {
        "SELECT COUNT(*) FROM events": len(mine),
        "SELECT COUNT(DISTINCT user_id) FROM events": 1,
        "SELECT COUNT(*) FROM users": 1,
        "SELECT COUNT(*) FROM events WHERE user_id <> 'u003'": 0,
        "SELECT COUNT(*) FROM orders": int((frames["orders"]["user_id"] == uid).sum()),
        "SELECT COUNT(*) FROM (SELECT * FROM events UNION ALL SELECT * FROM main.events) x": 2 * len(mine),
        "WITH orders AS (SELECT order_id FROM order_items) SELECT COUNT(*) FROM orders": int(
            frames["order_items"]["order_id"]
            .isin(frames["orders"][frames["orders"]["user_id"] == uid]["order_id"])
            .sum()
        ),
    }
    for sql, expected in probes.items():
        sql = sql.replace("main.events", "public.events") if safe.dialect == "postgresql" else sql
        assert safe.run(sql, user_scope=uid).result.rows[0][0] == expected, sql


def test_date_bounds_run_as_written(env):
    """The guard accepts, refuses or adds a limit; it never changes what a bound means. A query for
    "October 1-30" (``ts < '2026-10-31'``) counts October 1-30, and ``ts = DATE 'd'`` counts midnight."""
    _, safe, _, frames = env
    ts = frames["events"]["ts"]
    month_ends = ts[ts.dt.is_month_end].dt.normalize()
    assert not month_ends.empty, "the data needs events on a month's last day"
    last = month_ends.max()
    first = last.replace(day=1)
    a, b = first.date().isoformat(), last.date().isoformat()
    cases = {
        f"SELECT COUNT(*) AS n FROM events WHERE ts >= DATE '{a}' AND ts < DATE '{b}'": (ts >= first) & (ts < last),
        f"SELECT COUNT(*) AS n FROM events WHERE ts BETWEEN '{a}' AND '{b}'": (ts >= first) & (ts <= last),
        f"SELECT COUNT(*) AS n FROM events e WHERE e.ts <= DATE '{b}' AND e.ts >= '{a}'": (ts >= first) & (ts <= last),
        f"SELECT COUNT(*) AS n FROM events WHERE ts = DATE '{b}'": ts == last,
    }
    assert int(((ts >= last) & (ts < last + pd.Timedelta(days=1))).sum()) > int((ts == last).sum())
    for sql, expected in cases.items():
        done = safe.run(sql)
        assert done.result.rows[0][0] == int(expected.sum()), sql
        assert b in done.sql and (last + pd.Timedelta(days=1)).date().isoformat() not in done.sql
