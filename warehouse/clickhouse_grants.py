"""The read-only user of a ClickHouse server: a settings profile that fixes the limits, definer views, one grant.

``uba warehouse grant-readonly`` runs these statements as the admin user of ``UBA_WAREHOUSE_URL``
(``readonly_setup_sql`` prints them for a DBA to run instead). The reader user gets a profile with
``readonly = 1`` (no writes, no DDL, no table functions, no SET) and the time, memory and result
limits as ``CONST`` constraints, and may SELECT only ``<db>_uba_reader``: views with
``SQL SECURITY DEFINER`` that read the warehouse as the admin, ``users.email`` masked. Without a
grant on any source (``FILE``, ``URL``, ``S3``, ``REMOTE``...) no table function can read anything.
"""

from __future__ import annotations

import logging

from warehouse.clickhouse import ClickHouseUrl
from warehouse.clickhouse_sql import clickhouse_sql
from warehouse.clickhouse_wall import ServerReader
from warehouse.errors import ConnectionFailed
from warehouse.sql_policy import SqlPolicy

logger = logging.getLogger(__name__)

READER_USER = "uba_reader"
PROFILE = "uba_reader_profile"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


def readonly_setup_sql(
    database: str,
    present: dict[str, list[str]],
    *,
    user: str = READER_USER,
    password: str = "",
    admin: str = "default",
    timeout_s: float = 10.0,
    memory_limit_mb: int = 2048,
    max_rows: int = 10_000,
) -> list[str]:
    """Every statement that creates (or refreshes) the reader profile, user, views and grant."""
    policy = SqlPolicy.canonical()
    reader = f"{database}_uba_reader"
    limits = {
        "max_execution_time": f"{timeout_s:g}",
        "max_memory_usage": str(memory_limit_mb * 1024 * 1024),
        "max_result_rows": str(max_rows + 1),
        "result_overflow_mode": "'break'",
        "join_use_nulls": "1",
        "aggregate_functions_null_for_empty": "1",
        "readonly": "1",
    }
    profile = ", ".join(f"{k} = {v} CONST" for k, v in limits.items())
    auth = f"IDENTIFIED WITH sha256_password BY '{password}'" if password else "IDENTIFIED WITH no_password"
    statements = [
        f"CREATE SETTINGS PROFILE OR REPLACE {_ident(PROFILE)} SETTINGS {profile}",
        f"CREATE USER IF NOT EXISTS {_ident(user)} {auth} SETTINGS PROFILE {_ident(PROFILE)}",
        f"ALTER USER {_ident(user)} SETTINGS PROFILE {_ident(PROFILE)} DEFAULT DATABASE {_ident(reader)}",
        f"CREATE DATABASE IF NOT EXISTS {_ident(reader)}",
    ]
    for name in (n for n in policy.tables if n in present):
        columns = clickhouse_sql(f"SELECT {policy.wall_columns(name, present[name])}", read="postgres")
        statements.append(
            f"CREATE OR REPLACE VIEW {_ident(reader)}.{_ident(name)} DEFINER = {_ident(admin)} SQL SECURITY DEFINER "
            f"AS {columns} FROM {_ident(database)}.{_ident(name)}"
        )
    statements += [f"REVOKE ALL ON *.* FROM {_ident(user)}", f"GRANT SELECT ON {_ident(reader)}.* TO {_ident(user)}"]
    return statements


def grant_readonly_clickhouse(
    admin_url: str,
    *,
    user: str = READER_USER,
    password: str = "",
    timeout_s: float = 10.0,
    memory_limit_mb: int = 2048,
    max_rows: int = 10_000,
) -> str:
    """Run the setup on a ClickHouse server with ``admin_url``'s user; the reader's URL."""
    import clickhouse_connect

    target = ClickHouseUrl.parse(admin_url)
    if target.kind != "server":
        raise ConnectionFailed("grant-readonly is for a ClickHouse server; chdb's wall is built by the reader itself")
    url = target.server
    # the reader's own connection arguments, as the admin: the same port default and TLS (?secure=true)
    reader = ServerReader(target, timeout_s=timeout_s, max_rows=max_rows, memory_limit_mb=memory_limit_mb)
    client = clickhouse_connect.get_client(**reader.client_arguments())
    present: dict[str, list[str]] = {}
    for table, column in client.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String} ORDER BY table, position",
        parameters={"db": target.database},
    ).result_rows:
        present.setdefault(table, []).append(column)
    for sql in readonly_setup_sql(
        target.database,
        present,
        user=user,
        password=password,
        admin=url.username or "default",
        timeout_s=timeout_s,
        memory_limit_mb=memory_limit_mb,
        max_rows=max_rows,
    ):
        client.command(sql)
    logger.info("ClickHouse reader %r may SELECT %s_uba_reader.*", user, target.database)
    return url.set(username=user, password=password or None, database=f"{target.database}_uba_reader").render_as_string(
        hide_password=True
    )
