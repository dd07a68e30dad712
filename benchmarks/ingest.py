"""Ingest rows/s per format on DuckDB and PostgreSQL: the real public files and a synthetic Taobao file.

Usage: python benchmarks/ingest.py [--rows 1m] [--engines duckdb,postgres]
Each case loads one file into a fresh warehouse, then loads it again (the idempotent no-op re-run).
The real files are read from ../shared/data and skipped when absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
REAL = [
    ("amazon-reviews", "amazon-musical-instruments-5core-2014/reviews_Musical_Instruments_5.json.gz"),
    ("taobao", "taobao-userbehavior-head/UserBehavior_head4321.csv"),
    ("uci-retail", "uci-online-retail-sample/online_retail_sample_rhozon.csv"),
    ("uci-retail", "uci-online-retail-sample/OnlineRetail_head_kristina.csv"),
]


def synthetic_taobao(path: Path, rows: int, seed: int = 7) -> Path:
    """A UserBehavior.csv lookalike: Zipf item popularity, the real file's behavior mix, rows grouped by user."""
    rng = np.random.default_rng(seed)
    users = np.sort(rng.integers(1, max(rows // 100, 2), rows))
    items = rng.zipf(1.3, rows) % 4_000_000 + 1
    behavior = rng.choice(np.array(["pv", "cart", "fav", "buy"]), rows, p=[0.895, 0.055, 0.03, 0.02])
    ts = rng.integers(1_511_539_200, 1_512_316_800, rows)
    table = pa.table({"u": users, "i": items, "c": items % 9_000 + 1, "b": behavior, "t": ts})
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return path


def measure(url: str, path: Path, fmt: str) -> tuple[int, float, float]:
    """Rows read, seconds for the first load, seconds for the re-run that changes nothing."""
    from warehouse import Warehouse
    from warehouse.loaders import ingest

    wh = Warehouse.open(url)
    wh.create_schema()
    try:
        first = ingest(wh, path, fmt)
        again = ingest(wh, path, fmt)
        assert sum(again.inserted.values()) == 0, again.inserted
    finally:
        wh.dispose()
    return first.rows_read, first.elapsed_s, again.elapsed_s


def parse_rows(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1m", help="rows of the synthetic Taobao file (1m, 500k, ...)")
    parser.add_argument("--engines", default="duckdb,postgres", help="duckdb, postgres or both")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="uba-ingest-bench-") as tmp:
        cases = [(fmt, SHARED / rel) for fmt, rel in REAL if (SHARED / rel).exists()]
        rows = parse_rows(args.rows)
        print(f"writing a synthetic {rows:,}-row Taobao file ...", file=sys.stderr, flush=True)
        cases.append(("taobao", synthetic_taobao(Path(tmp) / "UserBehavior_synthetic.csv", rows)))
        pg = None
        if "postgres" in engines:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from _postgres import ThrowawayPostgres

            pg = ThrowawayPostgres().__enter__()
        try:
            for n, (fmt, path) in enumerate(cases):
                for engine in engines:
                    url = f"duckdb:///{Path(tmp) / f'{n}.duckdb'}" if engine == "duckdb" else pg.new_database()
                    print(f"{engine}: {fmt} {path.name} ...", file=sys.stderr, flush=True)
                    results.append((fmt, path.name, engine, *measure(url, path, fmt)))
        finally:
            if pg is not None:
                pg.__exit__(None, None, None)
    header = ("format", "file", "engine", "rows", "load s", "rows/s", "re-run s", "re-run rows/s")
    lines = [header] + [
        (fmt, name, engine, f"{rows:,}", f"{first:.2f}", f"{rows / first:,.0f}", f"{again:.2f}", f"{rows / again:,.0f}")
        for fmt, name, engine, rows, first, again in results
    ]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for k, row in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
