"""Demo generation events/s and bulk-load rows/s on DuckDB and PostgreSQL, at 1M and 10M events.

Usage: python benchmarks/warehouse_load.py [--sizes 1m,10m] [--engines duckdb,postgres]
Each case runs in its own process (fresh warehouse, honest peak memory). "CPU s" is that process's
user+system time including DuckDB's threads (not the PostgreSQL server's): on a busy machine it says
more about the work than wall time does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

EVENTS_PER_USER = 103.0  # measured: 10,000 users over 90 days give 1,030,496 events (seed 7)
DAYS = 90
TARGET_SECONDS_1M_DUCKDB = 15.0


def parse_size(text: str) -> int:
    """'1m' -> 1_000_000, '500k' -> 500_000, '2500000' -> 2_500_000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = float(text[:-1] if scale > 1 else text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"size {text!r} must be positive, e.g. 1m or 500k")
    return int(number * scale)


def run_case(users: int, url: str) -> dict:
    """Generate and load one demo warehouse at ``url``; return its stats and peak memory."""
    from warehouse import Warehouse
    from warehouse.demo import generate_demo

    wh = Warehouse.open(url)
    wh.create_schema()
    stats = generate_demo(wh, users=users, days=DAYS, seed=7)
    rows = wh.row_counts()
    wh.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        **stats.to_dict(),
        "rows": sum(rows.values()),
        "peak_mb": round(usage.ru_maxrss / 1024),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
    }


def child(users: int, url: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--case", str(users), url], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"case users={users} url={url!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m", help="target event counts, comma-separated (1m, 10m, 500k)")
    parser.add_argument("--engines", default="duckdb,postgres", help="duckdb, postgres or both")
    parser.add_argument("--case", nargs=2, metavar=("USERS", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(int(args.case[0]), args.case[1])))
        return
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = set(engines) - {"duckdb", "postgres"}
    if unknown:
        parser.error(f"unknown engine(s) {sorted(unknown)!r}; use duckdb and/or postgres")

    results: list[tuple[int, str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="uba-bench-") as tmp:
        pg = None
        if "postgres" in engines:
            from _postgres import ThrowawayPostgres

            pg = ThrowawayPostgres().__enter__()
        try:
            for size in sizes:
                users = max(int(round(size / EVENTS_PER_USER)), 1)
                for engine in engines:
                    url = f"duckdb:///{Path(tmp) / f'{size}.duckdb'}" if engine == "duckdb" else pg.new_database()
                    print(f"running {engine} with {users:,} users (~{size:,} events) ...", file=sys.stderr, flush=True)
                    results.append((size, engine, child(users, url)))
                    if engine == "duckdb":
                        os.remove(Path(tmp) / f"{size}.duckdb")
        finally:
            if pg is not None:
                pg.__exit__(None, None, None)

    header = (
        "target",
        "engine",
        "events",
        "rows",
        "generate s",
        "events/s generated",
        "load s",
        "rows/s loaded",
        "total s",
        "CPU s",
        "peak MB",
    )
    lines = [header]
    for size, engine, r in results:
        lines.append(
            (
                f"{size / 1e6:g}M",
                engine,
                f"{r['events']:,}",
                f"{r['rows']:,}",
                f"{r['generate_seconds']:.1f}",
                f"{r['events'] / r['generate_seconds']:,.0f}",
                f"{r['load_seconds']:.1f}",
                f"{r['rows'] / r['load_seconds']:,.0f}",
                f"{r['seconds']:.1f}",
                f"{r['cpu_s']:.1f}",
                str(r["peak_mb"]),
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for k, row in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for size, engine, r in results:
        if engine == "duckdb" and size == 1_000_000:
            print(
                f"\n1M events generated and loaded into DuckDB in {r['seconds']:.1f} s: "
                f"{r['seconds'] / TARGET_SECONDS_1M_DUCKDB:.2f} of the {TARGET_SECONDS_1M_DUCKDB:g} s target"
            )


if __name__ == "__main__":
    main()
