"""The attack corpus against the three walls: every attack runs with the SQL guard on and with it off.

With the guard on, an attack is refused or returns nothing it must not. With the guard off the
SQL goes straight to the read-only connection: the engine wall alone (DuckDB's masked reader
copy and scoped databases, PostgreSQL's reader role and views, chdb's readonly=1 sessions with
row filters over masked copies) must still keep raw e-mails,
other users' rows, other sessions, files and settings out of reach, and leave every table as it was.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import chdb
import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from analytics_env import SERVER_FIXTURES, open_loaded  # noqa: E402
from behavior_data import make_tables  # noqa: E402
from engines import ENGINES  # noqa: E402

from warehouse.clickhouse import ClickHouseUrl  # noqa: E402
from warehouse.errors import GuardRejected, QueryFailed  # noqa: E402

TIMEOUT_S = 3.0
GRACE_S = 12.0  # DuckDB checks for an interrupt between vectors; a string bomb's vector can take seconds
PLANTED_EMAIL = ".private@mailbox.example"
PLANTED_PHONE = "+1 555 010 "


@dataclass(frozen=True)
class Attack:
    """One hostile query; ``{warehouse}``, ``{tmp}`` and ``{scope}`` are filled in per environment."""

    name: str
    sql: str
    engine: str  # duckdb, postgres, chdb or all
    scoped: bool = True
    writes: str | None = None  # a file the attack tries to create (relative to tmp)


A = Attack
ATTACKS = [
    # -- masking: raw e-mail addresses --------------------------------------------------------------
    A("email-unscoped", "SELECT email FROM users", "all", scoped=False),
    A("star-unscoped", "SELECT * FROM users", "all", scoped=False),
    A("string-agg-email", "SELECT string_agg(email, ',') FROM users", "all", scoped=False),
    A("email-via-cte", "WITH x AS (SELECT * FROM users) SELECT lower(email) FROM x", "all", scoped=False),
    A("email-other-users", "SELECT email FROM users WHERE user_id <> '{scope}'", "all"),
    A("duck-main-users", "SELECT email FROM main.users", "duckdb", scoped=False),
    A("pg-public-users", "SELECT email FROM public.users", "postgres", scoped=False),
    A("pg-public-agg", "SELECT string_agg(email, ',') FROM public.users", "postgres", scoped=False),
    A(
        "pg-query-to-xml",
        "SELECT query_to_xml('SELECT email FROM public.users', true, true, '')",
        "postgres",
        scoped=False,
    ),
    A("pg-ctid", "SELECT ctid, email FROM public.users", "postgres", scoped=False),
    # -- the warehouse file and other files -------------------------------------------------------------
    A(
        "duck-read-blob-warehouse",
        "SELECT regexp_extract(CAST(content AS VARCHAR), 'person[0-9]+@example[0-9][.]com') "
        "FROM read_blob('{warehouse}')",
        "duckdb",
        scoped=False,
    ),
    A("duck-read-blob-warehouse-scoped", "SELECT content FROM read_blob('{warehouse}')", "duckdb"),
    A("duck-read-text-warehouse", "SELECT content FROM read_text('{warehouse}')", "duckdb", scoped=False),
    A("duck-read-blob-reader-scoped", "SELECT content FROM read_blob('{warehouse_dir}/*.duckdb')", "duckdb"),
    A("duck-glob", "SELECT * FROM glob('{warehouse_dir}/*')", "duckdb", scoped=False),
    A("duck-read-csv-passwd", "SELECT * FROM read_csv('/etc/passwd')", "duckdb", scoped=False),
    A("duck-replacement-scan", "SELECT * FROM '/etc/passwd'", "duckdb", scoped=False),
    A("duck-read-parquet", "SELECT * FROM read_parquet('{warehouse}')", "duckdb", scoped=False),
    A("duck-sniff-csv", "SELECT * FROM sniff_csv('{warehouse}')", "duckdb", scoped=False),
    A("duck-attach-warehouse", "ATTACH '{warehouse}' AS w (READ_ONLY)", "duckdb"),
    A("duck-databases", "SELECT path FROM duckdb_databases()", "duckdb"),
    A("duck-database-list", "SELECT * FROM pragma_database_list", "duckdb"),
    A("pg-read-file", "SELECT pg_read_file('/etc/passwd')", "postgres", scoped=False),
    A("pg-read-binary-file", "SELECT pg_read_binary_file('global/pg_control')", "postgres", scoped=False),
    A("pg-ls-dir", "SELECT pg_ls_dir('.')", "postgres", scoped=False),
    A("pg-lo-import", "SELECT lo_import('/etc/passwd')", "postgres", scoped=False),
    A("pg-dblink", "SELECT * FROM dblink('host=127.0.0.1', 'SELECT 1') AS t(a int)", "postgres", scoped=False),
    # -- writes: tables and files ------------------------------------------------------------------------
    A("copy-to-file", "COPY users TO '{tmp}/leak.csv'", "all", scoped=False, writes="leak.csv"),
    A(
        "copy-into-temp-dir",
        "COPY (SELECT * FROM users) TO '{warehouse}.tmp/leak.csv'",
        "duckdb",
        scoped=False,
        writes="TEMP/leak.csv",
    ),
    A("copy-scoped", "COPY (SELECT * FROM events) TO '{tmp}/scoped.csv'", "all", writes="scoped.csv"),
    A("duck-export", "EXPORT DATABASE '{tmp}/dump'", "duckdb", scoped=False, writes="dump"),
    A("pg-copy-program", "COPY users TO PROGRAM 'id'", "postgres", scoped=False),
    A("pg-copy-program-query", "COPY (SELECT 1) TO PROGRAM 'touch {tmp}/pwned'", "postgres", writes="pwned"),
    A("delete-events", "DELETE FROM events", "all"),
    A("update-email", "UPDATE users SET email = 'x'", "all", scoped=False),
    A("insert-user", "INSERT INTO users (user_id) VALUES ('evil')", "all"),
    A("create-table", "CREATE TABLE evil AS SELECT * FROM users", "all"),
    A("drop-table", "DROP TABLE reviews", "all"),
    A("pg-temp-table", "CREATE TEMP TABLE t AS SELECT * FROM users", "postgres"),
    A("pg-chained-write", "SET transaction_read_only = off; INSERT INTO users (user_id) VALUES ('evil')", "postgres"),
    # -- settings the reader must not change -------------------------------------------------------------
    A("duck-external-access", "SET enable_external_access = true", "duckdb"),
    A("duck-unlock", "SET lock_configuration = false", "duckdb"),
    A("duck-memory-limit", "SET memory_limit = '100GB'", "duckdb"),
    A("duck-temp-directory", "SET temp_directory = '{tmp}'", "duckdb"),
    A("duck-install", "INSTALL httpfs", "duckdb"),
    A("duck-load", "LOAD httpfs", "duckdb"),
    A(
        "pg-set-config-scope",
        "SELECT set_config('uba.user_scope', NULL, false), (SELECT COUNT(DISTINCT user_id) FROM events)",
        "postgres",
    ),
    A("pg-set-config-timeout", "SELECT set_config('statement_timeout', '0', false)", "postgres"),
    A("pg-set-config-work-mem", "SELECT set_config('work_mem', '4GB', false)", "postgres"),
    A(
        "pg-do-block",
        "DO $$ BEGIN RAISE EXCEPTION '%', (SELECT string_agg(email, ',') FROM public.users); END $$",
        "postgres",
    ),
    A("pg-set-role", "SET ROLE postgres", "postgres"),
    A("pg-session-authorization", "SET SESSION AUTHORIZATION postgres", "postgres"),
    A("pg-alter-role", "ALTER ROLE uba_reader SET search_path = public", "postgres"),
    A("pg-authid", "SELECT rolname, rolpassword FROM pg_catalog.pg_authid", "postgres"),
    # -- other sessions ----------------------------------------------------------------------------------
    A("pg-stat-activity", "SELECT query FROM pg_stat_activity", "postgres"),
    A(
        "pg-backend-activity",
        "SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() AS s",
        "postgres",
    ),
    A("pg-terminate", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "postgres"),
    A("pg-terminate-blind", "SELECT pg_terminate_backend(b) FROM generate_series(1, 400000) AS b", "postgres"),
    A("pg-cancel", "SELECT pg_cancel_backend(1)", "postgres"),
    A("pg-locks", "SELECT * FROM pg_locks", "postgres"),
    # -- row scope ---------------------------------------------------------------------------------------
    A("scope-events", "SELECT DISTINCT user_id FROM events", "all"),
    A("scope-users", "SELECT user_id, email FROM users", "all"),
    A(
        "scope-orders-join",
        "SELECT DISTINCT o.user_id FROM order_items AS oi JOIN orders AS o ON o.order_id = oi.order_id",
        "all",
    ),
    A(
        "scope-union",
        "SELECT user_id FROM events UNION SELECT user_id FROM reviews UNION SELECT user_id FROM orders",
        "all",
    ),
    A(
        "scope-lateral",
        "SELECT u.user_id, x.n FROM users AS u, LATERAL (SELECT COUNT(*) AS n FROM events AS e "
        "WHERE e.user_id = u.user_id) AS x",
        "all",
    ),
    A("scope-review-text", "SELECT user_id, title, body FROM reviews", "all"),
    A("scope-review-text-all", "SELECT body FROM reviews WHERE user_id <> '{scope}'", "all"),
    A("duck-scope-main", "SELECT DISTINCT user_id FROM main.events", "duckdb"),
    A("pg-scope-public", "SELECT DISTINCT user_id FROM public.events", "postgres"),
    A("pg-scope-view-schema", "SELECT DISTINCT user_id FROM uba_reader.events", "postgres"),
    A("scope-steps", "SELECT DISTINCT user_id FROM event_steps", "all"),
    # -- resources ---------------------------------------------------------------------------------------
    A("string-bomb", "SELECT length(string_agg(repeat('x', 100000000), '')) FROM generate_series(1, 30)", "all"),
    A(
        "cross-join",
        "SELECT SUM(LENGTH(a.user_id || b.session_id || c.event_type)) FROM events a, events b, events c",
        "all",
        scoped=False,
    ),
    A("pg-sleep", "SELECT pg_sleep(600)", "postgres", scoped=False),
    A("rows-from", "SELECT * FROM ROWS FROM (generate_series(1, 2))", "all"),
    # -- ClickHouse: table functions, raw and private tables, settings, other sessions, paths ----------
    A("ch-file-passwd", "SELECT * FROM file('/etc/passwd', 'LineAsString')", "chdb", scoped=False),
    A("ch-file-warehouse", "SELECT * FROM file('{warehouse}/**', 'LineAsString')", "chdb", scoped=False),
    A("ch-url", "SELECT * FROM url('http://127.0.0.1:9/x.csv', 'CSV', 'a String')", "chdb", scoped=False),
    A("ch-s3", "SELECT * FROM s3('http://127.0.0.1:9/b/x.csv', 'CSV', 'a String')", "chdb", scoped=False),
    A("ch-remote-users", "SELECT email FROM remote('127.0.0.1', '{db}', 'users')", "chdb", scoped=False),
    A("ch-cluster", "SELECT * FROM cluster('default', system.one)", "chdb", scoped=False),
    A("ch-executable", "SELECT * FROM executable('id', 'TSV', 'x String')", "chdb", scoped=False),
    A("ch-merge-users", "SELECT email FROM merge('{db}', '^users$')", "chdb", scoped=False),
    A(
        "ch-postgresql",
        "SELECT * FROM postgresql('127.0.0.1:5432', 'postgres', 'users', 'postgres', '')",
        "chdb",
        scoped=False,
    ),
    A("ch-raw-users", "SELECT email FROM {db}.users", "chdb", scoped=False),
    A("ch-raw-users-agg", "SELECT groupArray(email) FROM {db}.users", "chdb", scoped=False),
    A("ch-private-reviews-scoped", "SELECT body FROM {db}_uba_private.reviews", "chdb"),
    A("ch-private-masked-scoped", "SELECT DISTINCT user_id FROM {db}_uba_private.reviews_masked", "chdb"),
    A("ch-raw-events-scoped", "SELECT DISTINCT user_id FROM {db}.events", "chdb"),
    A("ch-raw-steps-scoped", "SELECT DISTINCT user_id FROM {db}.event_steps", "chdb"),
    A("ch-settings-clause", "SELECT DISTINCT user_id FROM events SETTINGS additional_table_filters = {{}}", "chdb"),
    A("ch-set-readonly", "SET readonly = 0", "chdb"),
    A("ch-set-filters", "SET additional_table_filters = {{}}", "chdb"),
    A("ch-chained-write", "SELECT 1; INSERT INTO {db}.users (user_id) VALUES ('evil')", "chdb"),
    A(
        "ch-insert-function",
        "INSERT INTO FUNCTION file('{tmp}/leak.csv', 'CSV') SELECT * FROM users",
        "chdb",
        scoped=False,
        writes="leak.csv",
    ),
    A("ch-into-outfile", "SELECT * FROM users INTO OUTFILE '{tmp}/out.csv'", "chdb", scoped=False, writes="out.csv"),
    A("ch-alter-delete", "ALTER TABLE {db}.events DELETE WHERE 1", "chdb"),
    A("ch-truncate", "TRUNCATE TABLE {db}.events", "chdb"),
    A("ch-detach", "DETACH TABLE {db}.users", "chdb"),
    A("ch-optimize", "OPTIMIZE TABLE {db}.events FINAL", "chdb"),
    A("ch-create-user", "CREATE USER evil IDENTIFIED WITH no_password", "chdb"),
    A("ch-kill", "KILL QUERY WHERE 1", "chdb"),
    A("ch-system", "SYSTEM DROP MARK CACHE", "chdb"),
    A("ch-processes", "SELECT query FROM system.processes", "chdb"),
    A("ch-query-log", "SELECT query FROM system.query_log", "chdb"),
    A("ch-paths", "SELECT data_paths, metadata_path FROM system.tables", "chdb", scoped=False),
    A("ch-disks", "SELECT path FROM system.disks", "chdb", scoped=False),
    A("ch-memory-bomb", "SELECT length(groupArray(repeat('x', 1000000))) FROM numbers(100000)", "chdb"),
    A("ch-sleep", "SELECT sleepEachRow(1) FROM numbers(30)", "chdb", scoped=False),
    A("ch-scalar-file", "SELECT file('/etc/passwd')", "chdb", scoped=False),
    A("ch-scalar-file-warehouse", "SELECT file('{warehouse}/**')", "chdb", scoped=False),
    A("ch-server-path", "SELECT getServerSetting('path')", "chdb", scoped=False),
    A("ch-chained-read", "SELECT 1; SELECT email FROM merge('{db}', '^users$')", "chdb", scoped=False),
    A("ch-loop-scoped", "SELECT DISTINCT user_id FROM loop('{db}', 'events') LIMIT 100", "chdb"),
    A("ch-format", "SELECT email FROM users FORMAT Vertical", "chdb", scoped=False),
]


def _cases():
    for attack in ATTACKS:
        engines = ["duckdb", "postgres", "chdb"] if attack.engine == "all" else [attack.engine]
        for engine in engines:
            for guard in ("guard-on", "guard-off"):
                marks = [pytest.mark.postgres] if engine == "postgres" else []
                yield pytest.param(engine, attack, guard, id=f"{engine}-{attack.name}-{guard}", marks=marks)


CASES = list(_cases())


def _frames():
    frames = make_tables(11)
    reviews = frames["reviews"]
    reviews["body"] = [
        f"great, mail me at {u}{PLANTED_EMAIL} or call {PLANTED_PHONE}{i:04d}" for i, u in enumerate(reviews["user_id"])
    ]
    return frames


@pytest.fixture(scope="module")
def envs(request, tmp_path_factory):
    """Loaded warehouses by engine, built on first use."""
    built: dict[str, tuple] = {}

    def get(engine: str):
        if engine not in built:
            cluster = request.getfixturevalue(SERVER_FIXTURES[engine]) if engine in SERVER_FIXTURES else None
            frames = _frames()
            tmp = tmp_path_factory.mktemp(f"wall-{engine}")
            safe, admin_url = open_loaded(engine, tmp, cluster, frames, timeout_s=TIMEOUT_S)
            scope = str(frames["reviews"]["user_id"].iloc[0])
            built[engine] = (safe, admin_url, frames, scope, tmp)
        return built[engine]

    yield get
    for safe, *_ in built.values():
        safe.readonly.close()


def fingerprint(engine: str, admin_url: str) -> dict[str, str]:
    """Every table's digest, read as the owner (not through either wall)."""
    url = make_url(admin_url)
    if engine == "chdb":
        target = ClickHouseUrl.parse(admin_url)
        conn = chdb.connect(target.path)
        try:
            cursor = conn.cursor()
            cursor.execute(f"SELECT name FROM system.tables WHERE database = '{target.database}' ORDER BY 1")
            names = [r[0] for r in cursor.fetchall()]
            digests = {}
            for n in names:
                cursor.execute(f"SELECT * FROM `{target.database}`.`{n}`")
                digests[n] = _digest(cursor.fetchall())
            return digests
        finally:
            conn.close()
    if engine == "postgres":
        with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
                )
            ]
            return {n: _digest(conn.execute(f'SELECT * FROM public."{n}"').fetchall()) for n in names}
    with duckdb.connect(url.database, read_only=True) as conn:
        names = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {n: _digest(conn.execute(f'SELECT * FROM "{n}"').fetchall()) for n in names}


def _digest(rows) -> str:
    return f"{len(rows)}:" + hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()


def leaks(rows, frames, scope: str | None, warehouse: str) -> list[str]:
    """What a result shows that the caller must never see."""
    raw = set(frames["users"]["email"])
    users = set(frames["users"]["user_id"]) | set(frames["events"]["user_id"])
    found = []
    for row in rows:
        for value in row:
            text = value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
            if any(address in text for address in raw):
                found.append(f"raw e-mail in {text[:80]!r}")
            if "root:x:0:0" in text:
                found.append("/etc/passwd content")
            if warehouse in text and not text.endswith(".tmp"):
                found.append(f"the warehouse file's path {text[:120]!r}")
            if scope is not None:
                if text in users and text != scope:
                    found.append(f"another user's id {text!r}")
                if PLANTED_EMAIL in text or PLANTED_PHONE in text:
                    found.append(f"contact details in review text {text[:80]!r}")
    return found


@pytest.mark.parametrize(("engine", "attack", "guard"), CASES)
def test_attack_is_contained(envs, engine, attack, guard):
    safe, admin_url, frames, scope, tmp = envs(engine)
    warehouse = "/nonexistent"
    if engine == "duckdb":
        warehouse = make_url(admin_url).database
    elif engine == "chdb":
        warehouse = ClickHouseUrl.parse(admin_url).path
    if attack.writes and attack.writes.startswith("TEMP/"):
        Path(warehouse + ".tmp").mkdir(exist_ok=True)  # the directory that once let COPY write raw e-mails
    database = ClickHouseUrl.parse(admin_url).database if engine == "chdb" else ""
    sql = attack.sql.format(
        warehouse=warehouse, warehouse_dir=str(Path(warehouse).parent), tmp=tmp, scope=scope, db=database
    )
    user_scope = scope if attack.scoped else None
    before = fingerprint(engine, admin_url)
    started = time.perf_counter()
    try:
        if guard == "guard-on":
            rows = safe.run(sql, user_scope=user_scope).result.rows
        else:
            rows = safe.readonly.query(sql, user_scope=user_scope).rows
    except GuardRejected:
        assert guard == "guard-on", "only the guard refuses with GuardRejected"
        rows = []
    except QueryFailed:
        rows = []
    elapsed = time.perf_counter() - started
    assert not leaks(rows, frames, user_scope, warehouse)
    assert elapsed < TIMEOUT_S + GRACE_S, f"ran {elapsed:.1f} s against a {TIMEOUT_S} s timeout"
    if attack.writes:
        target = (
            (Path(warehouse + ".tmp") / attack.writes[5:]) if attack.writes.startswith("TEMP/") else tmp / attack.writes
        )
        assert not target.exists(), f"{target} was written"
    assert fingerprint(engine, admin_url) == before


@pytest.mark.parametrize("engine", ENGINES)
def test_scoped_counts_come_from_the_engine_alone(envs, engine):
    """Without the guard, a scoped connection counts only its user's rows, and masks text contact details."""
    safe, _, frames, scope, _ = envs(engine)
    ev, rv = frames["events"], frames["reviews"]
    assert safe.readonly.query("SELECT COUNT(*) FROM events", user_scope=scope).rows[0][0] == int(
        (ev["user_id"] == scope).sum()
    )
    assert safe.readonly.query("SELECT COUNT(*) FROM users", user_scope=scope).rows[0][0] == 1
    bodies = [r[0] for r in safe.readonly.query("SELECT body FROM reviews", user_scope=scope).rows]
    assert len(bodies) == int((rv["user_id"] == scope).sum()) > 0
    assert all("[email]" in b and "[phone]" in b for b in bodies), bodies
    # the unscoped analyst sees every row, e-mails masked
    assert safe.readonly.query("SELECT COUNT(*) FROM events").rows[0][0] == len(ev)
    emails = [r[0] for r in safe.readonly.query("SELECT email FROM users").rows]
    assert len(emails) == len(frames["users"]) and all("***@example" in e for e in emails)


@pytest.mark.postgres
def test_pg_reader_cannot_see_or_stop_another_session(envs):
    """A victim's query (with its scope) runs; a second reader session neither sees its SQL nor can end it."""
    safe, *_ = envs("postgres")
    outcome: dict[str, object] = {}

    def victim():
        try:
            outcome["rows"] = safe.readonly.query("SELECT 'victim-secret' AS s, pg_sleep(1.5)", user_scope="u001").rows
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcome["error"] = exc

    thread = threading.Thread(target=victim)
    thread.start()
    time.sleep(0.4)
    for sql in (
        "SELECT query FROM pg_stat_activity",
        "SELECT pg_stat_get_backend_activity(s) FROM pg_stat_get_backend_idset() AS s",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    ):
        with pytest.raises(QueryFailed, match="permission denied"):
            safe.readonly.query(sql)
    thread.join()
    assert "error" not in outcome and outcome["rows"][0][0] == "victim-secret"


@pytest.mark.postgres
def test_pg_reader_cannot_lift_its_limits(envs):
    safe, *_ = envs("postgres")
    limits = (
        "SELECT current_setting('work_mem'), current_setting('statement_timeout'), current_setting('temp_file_limit')"
    )
    fixed = safe.readonly.query(limits).rows[0]
    assert fixed == ("32MB", f"{TIMEOUT_S:g}s", "256MB")
    for sql in ("SELECT set_config('work_mem', '4GB', false)", "SELECT set_config('statement_timeout', '0', true)"):
        with pytest.raises(QueryFailed, match="permission denied"):
            safe.readonly.query(sql)
    with pytest.raises(QueryFailed):
        safe.readonly.query("SET work_mem = '4GB'; SELECT pg_sleep(60)")  # one statement per connection
    assert safe.readonly.query(limits).rows[0] == fixed


def test_duckdb_reader_is_locked(envs):
    safe, admin_url, _, scope, _ = envs("duckdb")
    for user_scope in (None, scope):
        settings = dict(
            safe.readonly.query(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration', "
                "'temp_directory', 'memory_limit', 'allowed_directories')",
                user_scope=user_scope,
            ).rows
        )
        assert settings["enable_external_access"] == "false" and settings["lock_configuration"] == "true"
        assert settings["temp_directory"] == "" and settings["allowed_directories"] == "[]"
        assert settings["memory_limit"].endswith(("MiB", "GiB"))


def test_chdb_reader_is_locked(envs):
    """Every chdb reader session runs readonly=1 with its limits and row filters, and cannot change them."""
    safe, _, _, scope, _ = envs("chdb")
    wanted = ("readonly", "max_execution_time", "max_memory_usage", "max_result_rows", "join_use_nulls")
    for user_scope in (None, scope):
        values = safe.readonly.query(
            "SELECT " + ", ".join(f"toString(getSetting('{n}'))" for n in wanted), user_scope=user_scope
        ).rows[0]
        assert dict(zip(wanted, values)) == {
            "readonly": "1",
            "max_execution_time": f"{TIMEOUT_S:g}",
            "join_use_nulls": "true",
            "max_memory_usage": str(safe.readonly.memory_limit_mb * 1024 * 1024),
            "max_result_rows": str(safe.readonly.max_rows + 1),
        }
        for sql in (
            "SET max_execution_time = 0",
            "SELECT 1 SETTINGS max_memory_usage = 0",
            "SELECT 1 SETTINGS additional_table_filters = {}",
        ):
            with pytest.raises(QueryFailed, match="read-?only"):
                safe.readonly.query(sql, user_scope=user_scope)
