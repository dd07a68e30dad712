"""PostgreSQL's half of the engine wall: a SELECT-only role that reads masking, scoping views and nothing else.

The role has no privilege on the warehouse tables themselves; it reads ``uba_reader.<table>``
views (owned by the admin) that mask ``users.email`` and keep only the rows of the user named
by the session's ``uba.user_scope`` (set at connection start; unset means unscoped). Nothing a
single read-only statement can do changes that setting: ``set_config`` and procedural code are
revoked, so is the view of other sessions and the right to signal them; the role's
``work_mem``, ``temp_file_limit`` and ``statement_timeout`` are fixed on the role.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import make_url

from warehouse.errors import ConnectionFailed
from warehouse.sql_policy import USER_SCOPE_FILTERS, SqlPolicy, text_pii_mask

logger = logging.getLogger(__name__)

READONLY_ROLE = "uba_reader"
VIEW_SCHEMA = "uba_reader"
SCOPE_SETTING = "uba.user_scope"
_SCOPE = f"current_setting('{SCOPE_SETTING}', true)"

# Functions that change settings, show or signal other sessions: revoked from PUBLIC in the warehouse database
# (superusers keep them; the admin role gets set_config back).
_REVOKED_FUNCTIONS = (
    "pg_catalog.set_config(text, text, boolean)",
    "pg_catalog.pg_terminate_backend(integer, bigint)",
    "pg_catalog.pg_cancel_backend(integer)",
    "pg_catalog.pg_stat_get_activity(integer)",
    "pg_catalog.pg_stat_get_backend_activity(integer)",
    "pg_catalog.pg_stat_get_backend_pid(integer)",
    "pg_catalog.pg_stat_get_backend_userid(integer)",
    "pg_catalog.pg_stat_get_backend_client_addr(integer)",
)
_REVOKED_VIEWS = ("pg_catalog.pg_stat_activity", "pg_catalog.pg_locks")


def scope_options(user_scope: str | None) -> str:
    """The libpq ``options`` fragment that sets the session's user scope (escaped for libpq)."""
    if user_scope is None:
        return ""
    escaped = user_scope.replace("\\", "\\\\").replace(" ", "\\ ")
    return f" -c {SCOPE_SETTING}={escaped}"


def view_sql(policy: SqlPolicy, table: str, present: list[str]) -> str:
    """``CREATE OR REPLACE VIEW`` for ``table``: its allow-listed columns, PII masked, rows of the scope only."""
    columns = policy.wall_columns(
        table, present, text=lambda ident: f"CASE WHEN {_SCOPE} IS NULL THEN {ident} ELSE {text_pii_mask(ident)} END"
    )
    sql = (
        f'CREATE OR REPLACE VIEW {VIEW_SCHEMA}."{table}" WITH (security_barrier) AS '
        f'SELECT {columns} FROM public."{table}"'
    )
    where = USER_SCOPE_FILTERS.get(table)
    if where:
        sql += f" WHERE {_SCOPE} IS NULL OR (" + where.format(schema="public").replace(":user", _SCOPE) + ")"
    return sql


def grant_readonly(
    admin_url: str,
    *,
    role: str = READONLY_ROLE,
    timeout_s: float = 10.0,
    work_mem: str = "32MB",
    temp_file_limit: str = "256MB",
    tables: tuple[str, ...] | None = None,
) -> str:
    """Create (or refresh) the reader role and its views with ``admin_url``'s user; the role's URL."""
    import psycopg
    from psycopg import sql as pgsql

    url = make_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise ConnectionFailed(
            f"grant-readonly is for PostgreSQL warehouses, not {url.get_backend_name()!r}; "
            "DuckDB is opened read-only by file mode"
        )
    if not url.database:
        raise ConnectionFailed(f"{url.render_as_string()!r} names no database; add /DBNAME to the warehouse URL")
    policy = SqlPolicy.canonical()
    wanted = tables or tuple(policy.tables)
    ident = pgsql.Identifier(role)
    conninfo: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    with psycopg.connect(**{k: v for k, v in conninfo.items() if v is not None}, autocommit=True) as conn:
        run = conn.execute
        if not run("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            run(pgsql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(ident))
        for setting, value in (
            ("default_transaction_read_only", "on"),
            ("statement_timeout", f"{int(timeout_s * 1000)}ms"),
            ("work_mem", work_mem),
            ("temp_file_limit", temp_file_limit),
            ("idle_in_transaction_session_timeout", f"{int(timeout_s * 1000) + 1000}ms"),
            ("search_path", VIEW_SCHEMA),
        ):
            try:
                run(
                    pgsql.SQL("ALTER ROLE {} SET {} = {}").format(
                        ident, pgsql.Identifier(setting), pgsql.Literal(value)
                    )
                )
            except psycopg.errors.InsufficientPrivilege:
                logger.warning("could not fix %s for %r (needs a superuser); the reader may change it", setting, role)
        db = pgsql.Identifier(url.database)
        run(pgsql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, ident))
        run(pgsql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        run(pgsql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        run(pgsql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(ident))
        run(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(VIEW_SCHEMA)))
        run(pgsql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(pgsql.Identifier(VIEW_SCHEMA)))
        run(pgsql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(pgsql.Identifier(VIEW_SCHEMA), ident))
        present: dict[str, list[str]] = {}
        for table, column in run(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ):
            present.setdefault(table, []).append(column)
        granted = []
        for table in wanted:
            if table not in present:
                continue  # e.g. a warehouse loaded before the step index existed: paths use the window query
            run(view_sql(policy, table, present[table]))
            run(pgsql.SQL("GRANT SELECT ON {} TO {}").format(pgsql.Identifier(VIEW_SCHEMA, table), ident))
            granted.append(table)
        for function in _REVOKED_FUNCTIONS:
            run(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
        for view in _REVOKED_VIEWS:
            run(f"REVOKE SELECT ON {view} FROM PUBLIC")
        run("REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC")
        admin = run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (admin and admin[0]):
            run(pgsql.SQL("GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO CURRENT_USER"))
    logger.info(
        "read-only role %r may SELECT the views %s.{%s} in %r", role, VIEW_SCHEMA, ", ".join(granted), url.database
    )
    return url.set(username=role, password=None).render_as_string(hide_password=False)
