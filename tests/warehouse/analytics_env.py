"""Loaded read-only warehouses on DuckDB, PostgreSQL and chdb for the analytics and security tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from behavior_data import load, make_tables
from engines import new_chdb_url

from warehouse import Warehouse
from warehouse.readonly import ReadOnlyWarehouse, grant_readonly
from warehouse.safe_sql import SafeSql

SERVER_FIXTURES = {"postgres": "pg_cluster", "chdb": "chdb_root"}
"""The session fixture each engine's warehouses live in (none for DuckDB files)."""


def open_loaded(kind: str, tmp: Path, server, frames, *, timeout_s: float = 10.0) -> tuple[SafeSql, str]:
    """Load ``frames`` into a fresh warehouse of ``kind``; a guarded read-only runner and the admin URL.

    ``server`` is the PostgreSQL cluster or the chdb directory (see ``SERVER_FIXTURES``)."""
    if kind == "duckdb":
        url = f"duckdb:///{tmp / 'warehouse.duckdb'}"
    else:
        url = new_chdb_url(server) if kind == "chdb" else server.new_database()
    writer = Warehouse.open(url)
    load(writer, frames)
    writer.dispose()
    readonly_url = grant_readonly(url, timeout_s=timeout_s) if kind == "postgres" else url
    return SafeSql(ReadOnlyWarehouse(readonly_url, timeout_s=timeout_s)), url


def loaded_envs(kind: str, tmp_factory, request, seeds) -> dict[int, tuple[SafeSql, dict]]:
    """One loaded warehouse per seed on ``kind``."""
    cluster = request.getfixturevalue(SERVER_FIXTURES[kind]) if kind in SERVER_FIXTURES else None
    envs = {}
    for seed in seeds:
        frames = make_tables(seed)
        safe, _ = open_loaded(kind, tmp_factory.mktemp(f"{kind}{seed}"), cluster, frames)
        envs[seed] = (safe, frames)
    return envs


@contextmanager
def layer_env(kind: str, tmp: Path, request, frames) -> Iterator[tuple]:
    """(safe runner, frames, semantic layer, spec model) over ``frames`` loaded into a fresh ``kind`` warehouse."""
    from warehouse.semantic import build_layer, spec_model

    server = request.getfixturevalue(SERVER_FIXTURES[kind]) if kind in SERVER_FIXTURES else None
    safe, _ = open_loaded(kind, tmp, server, frames)
    try:
        layer = build_layer(safe.readonly)
        yield safe, frames, layer, spec_model(layer)
    finally:
        safe.readonly.close()
