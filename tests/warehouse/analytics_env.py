"""Loaded read-only warehouses on DuckDB and PostgreSQL for the analytics and security tests."""

from __future__ import annotations

from pathlib import Path

from behavior_data import load, make_tables

from warehouse import Warehouse
from warehouse.readonly import ReadOnlyWarehouse, grant_readonly
from warehouse.safe_sql import SafeSql


def open_loaded(kind: str, tmp: Path, pg_cluster, frames, *, timeout_s: float = 10.0) -> tuple[SafeSql, str]:
    """Load ``frames`` into a fresh warehouse of ``kind``; a guarded read-only runner and the admin URL."""
    url = f"duckdb:///{tmp / 'warehouse.duckdb'}" if kind == "duckdb" else pg_cluster.new_database()
    writer = Warehouse.open(url)
    load(writer, frames)
    writer.dispose()
    readonly_url = url if kind == "duckdb" else grant_readonly(url, timeout_s=timeout_s)
    return SafeSql(ReadOnlyWarehouse(readonly_url, timeout_s=timeout_s)), url


def loaded_envs(kind: str, tmp_factory, request, seeds) -> dict[int, tuple[SafeSql, dict]]:
    """One loaded warehouse per seed on ``kind``."""
    cluster = request.getfixturevalue("pg_cluster") if kind == "postgres" else None
    envs = {}
    for seed in seeds:
        frames = make_tables(seed)
        safe, _ = open_loaded(kind, tmp_factory.mktemp(f"{kind}{seed}"), cluster, frames)
        envs[seed] = (safe, frames)
    return envs
