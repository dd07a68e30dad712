"""The warehouse engines every warehouse test runs on, and fresh chdb databases (one chdb directory per process)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres), "chdb"]
"""DuckDB, PostgreSQL (the suite's throwaway cluster) and ClickHouse in process (chdb)."""

_CHDB_DATABASES = itertools.count()


def new_chdb_url(root: Path) -> str:
    """URL of a fresh, empty database in the session's chdb directory."""
    return f"chdb://{root}?database=uba_test_{next(_CHDB_DATABASES)}"
