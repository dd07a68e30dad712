"""The public text-to-SQL gold queries (Spider dev, defog sql-eval) on DuckDB copies of their SQLite databases."""

from __future__ import annotations

import csv
import math
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

_TYPE_MAP = (
    ("INT", "BIGINT"),
    ("REAL", "DOUBLE"),
    ("FLOA", "DOUBLE"),
    ("DOUB", "DOUBLE"),
    ("NUMERIC", "DOUBLE"),
    ("DECIMAL", "DOUBLE"),
    ("BOOL", "BOOLEAN"),
    ("DATETIME", "TIMESTAMP"),
    ("TIMESTAMP", "TIMESTAMP"),
    ("DATE", "DATE"),
)


@dataclass(frozen=True)
class GoldQuery:
    """One gold SQL of a corpus, in its source dialect."""

    corpus: str
    database: str
    sql: str
    dialect: str


def spider_queries(root: Path) -> list[GoldQuery]:
    """The 1,034 Spider-dev gold queries (MySQL dialect)."""
    with open(root / "test_queries.csv", newline="") as fh:
        return [GoldQuery("spider", row["database"], row["sql"], "mysql") for row in csv.DictReader(fh)]


def defog_queries(root: Path) -> list[GoldQuery]:
    """Every gold alternative of defog's SQLite questions whose database was built."""
    built = {p.stem for p in (root / "sqlite_built").glob("*.sqlite") if p.stat().st_size > 0}
    out = []
    with open(root / "questions" / "questions_gen_sqlite.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["db_name"] not in built:
                continue
            for statement in row["query"].split(";"):
                if statement.strip():
                    out.append(GoldQuery("defog", row["db_name"], statement.strip(), "sqlite"))
    return out


def _duck_type(declared: str) -> str:
    upper = (declared or "").upper()
    for needle, duck in _TYPE_MAP:
        if needle in upper:
            return duck
    return "VARCHAR"


def sqlite_to_duckdb(sqlite_path: Path, duck_path: Path) -> dict[str, list[str]]:
    """Copy every table (declared types, values cast leniently) into a new DuckDB file; its columns."""
    src = sqlite3.connect(sqlite_path)
    dst = duckdb.connect(str(duck_path))
    columns: dict[str, list[str]] = {}
    try:
        names = [
            r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        for name in names:
            info = src.execute(f'PRAGMA table_info("{name}")').fetchall()
            cols = [(row[1], _duck_type(row[2])) for row in info]
            columns[name] = [c for c, _ in cols]
            frame = pd.read_sql_query(f'SELECT * FROM "{name}"', src).astype(object)
            frame = frame.where(frame.notna(), None).map(lambda v: None if v is None else str(v))
            frame.columns = [f"c{i}" for i in range(len(cols))]
            ddl = ", ".join(f'"{c}" {t}' for c, t in cols)
            dst.execute(f'CREATE TABLE "{name}" ({ddl})')
            if len(frame):
                dst.register("_src", frame)
                casts = ", ".join(f"TRY_CAST(c{i} AS {t})" for i, (_, t) in enumerate(cols))
                dst.execute(f'INSERT INTO "{name}" SELECT {casts} FROM _src')
                dst.unregister("_src")
    finally:
        src.close()
        dst.close()
    return columns


def to_duckdb(query: GoldQuery) -> str:
    """The gold SQL transpiled from its source dialect into DuckDB's."""
    return sqlglot.transpile(query.sql, read=query.dialect, write="duckdb")[0]


def has_order_by(sql: str) -> bool:
    """Whether the outermost query orders its rows."""
    root = sqlglot.parse_one(sql, read="duckdb")
    return isinstance(root, exp.Query) and root.args.get("order") is not None


def _norm(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def normalized(rows, ordered: bool):
    """Rows comparable across runs: floats rounded; a multiset unless ``ordered``."""
    clean = [tuple(_norm(v) for v in row) for row in rows]
    return clean if ordered else Counter(clean)
