"""The behavior analytics at scale, DuckDB vs chdb (ClickHouse in-process) side by side: time and peak memory.

Usage: nice -n 15 python benchmarks/warehouse_scale.py [--events 10m,100m] [--engines duckdb,chdb] [--repeat 3]

For each size, synthetic events (users ~ events/100, 90 days, a weighted event mix, purchases with
a value) are written once to Parquet with DuckDB, then bulk-ingested from that Parquet into a
DuckDB file and into a chdb directory (MergeTree ordered by event_type, ts, user_id, partitioned
by month), the step index built on each. Every analytic then runs in its own child process
through the guard and the read-only wall, so its peak memory (the child's max RSS, engine
included, read as VmHWM) is its own; time is the median of ``--repeat`` runs inside the child, after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from analytics import cases, parse_size  # noqa: E402

ENGINE_NAMES = {"duckdb": "DuckDB", "chdb": "chdb"}
MEMORY_MB = 4096
"""The read-only queries' memory budget on both engines (DuckDB memory_limit, ClickHouse max_memory_usage)."""
SKIPPED = ("paths: same, window (no step index)",)


def generate_parquet(folder: Path, events: int) -> dict[str, Path]:
    """Synthetic users, items and events as Parquet files (DuckDB writes them streaming)."""
    import duckdb

    files = {name: folder / f"{name}.parquet" for name in ("users", "items", "events")}
    if all(p.exists() for p in files.values()):
        return files
    users, items = max(100, events // 100), 5_000
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("CREATE MACRO h(i, k) AS CAST(hash(i, k) >> 1 AS BIGINT)")  # a signed pseudo-random per (row, k)
    con.execute(f"""COPY (SELECT 'u' || i AS user_id, TIMESTAMP '2026-01-01' + INTERVAL (h(i, 1) % (80 * 86400)) SECOND
        AS signup_ts, ['DE', 'US', 'FR', 'GB', 'ES', NULL][1 + h(i, 2) % 6] AS country,
        ['mobile', 'desktop'][1 + h(i, 3) % 2] AS device, ['ads', 'organic', 'email'][1 + h(i, 4) % 3] AS channel,
        'user' || i || '@example.com' AS email FROM range({users}) AS t(i)) TO '{files["users"]}' (FORMAT parquet)""")
    con.execute(f"""COPY (SELECT 'i' || i AS item_id, 'Item ' || i AS title,
        ['audio', 'kitchen', 'books', 'toys', 'garden'][1 + h(i, 5) % 5] AS category,
        ['Acme', 'Brava', 'Cielo'][1 + h(i, 6) % 3] AS brand, round(5 + (h(i, 7) % 20000) / 100.0, 2) AS price
        FROM range({items}) AS t(i)) TO '{files["items"]}' (FORMAT parquet)""")
    # event mix: view 55%, search 15%, add_to_cart 12%, remove 3%, favorite 5%, purchase 8%, review 2%
    con.execute(f"""COPY (SELECT i + 1 AS event_id, 'u' || u AS user_id, 's' || u || '-' || (sec // 1800) AS session_id,
        TIMESTAMP '2026-01-01' + INTERVAL (sec) SECOND AS ts, kind AS event_type,
        CASE WHEN kind = 'search' THEN NULL ELSE 'i' || (h(i, 8) % {items}) END AS item_id,
        CASE WHEN kind = 'purchase' THEN round(5 + (h(i, 9) % 30000) / 100.0, 2) END AS value, kind AS source_event
        FROM (SELECT i, h(i, 10) % {users} AS u, h(i, 11) % (90 * 86400) AS sec, CASE
            WHEN h(i, 12) % 100 < 55 THEN 'view' WHEN h(i, 12) % 100 < 70 THEN 'search'
            WHEN h(i, 12) % 100 < 82 THEN 'add_to_cart' WHEN h(i, 12) % 100 < 85 THEN 'remove_from_cart'
            WHEN h(i, 12) % 100 < 90 THEN 'favorite' WHEN h(i, 12) % 100 < 98 THEN 'purchase' ELSE 'review' END
            AS kind FROM range({events}) AS t(i))) TO '{files["events"]}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.close()
    return files


def load(engine: str, url: str, files: dict[str, Path]) -> float:
    """Bulk-ingest the Parquet files into a fresh warehouse and build its step index; seconds taken."""
    from warehouse import Warehouse
    from warehouse.clickhouse import insert_parquet
    from warehouse.event_steps import refresh_event_steps

    started = time.perf_counter()
    wh = Warehouse.open(url)
    wh.create_schema()
    with wh.begin() as conn:
        raw = conn.connection.dbapi_connection
        for name, path in files.items():
            if engine == "duckdb":  # ts order: DuckDB's zone maps prune by time as MergeTree's sort key does
                order = " ORDER BY ts" if name == "events" else ""
                raw.execute(f"INSERT INTO {name} SELECT * FROM read_parquet('{path}'){order}")
            else:
                columns = ", ".join(f"`{c}`" for c in _parquet_columns(path))
                insert_parquet(raw, name, columns, str(path))
        refresh_event_steps(conn)
    wh.dispose()
    return time.perf_counter() - started


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(path).names


def child(engine: str, url: str, name: str, uid: str, repeat: int) -> None:
    """Run one analytic ``repeat`` times (after a warm-up) and print its median seconds as JSON."""
    from warehouse.readonly import ReadOnlyWarehouse
    from warehouse.safe_sql import SafeSql

    safe = SafeSql(ReadOnlyWarehouse(url, timeout_s=600, memory_limit_mb=MEMORY_MB))
    fn, request = next((f, r) for n, f, r, *_ in cases(uid) if n == name)
    fn(safe, request)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(safe, request)
        times.append(time.perf_counter() - t0)
    safe.readonly.close()
    print(json.dumps({"seconds": statistics.median(times), "peak_mib": _peak_mib()}))


def _peak_mib() -> float:
    """This process's peak resident memory since its exec (VmHWM), engine included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(args: list[str]) -> tuple[float | None, float | None]:
    """(seconds, peak RSS in MiB) of one child run; None for a run that failed."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return None, None
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured["seconds"], measured["peak_mib"]


def busiest_user(files: dict[str, Path]) -> str:
    import duckdb

    return duckdb.sql(f"SELECT user_id FROM read_parquet('{files['events']}') GROUP BY 1 ORDER BY COUNT(*) DESC, 1 "
                      "LIMIT 1").fetchall()[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="10m", help="comma-separated sizes (10m,100m)")
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "results" / "warehouse_scale")
    parser.add_argument("--child", nargs=5, metavar=("ENGINE", "URL", "ANALYTIC", "USER", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, url, name, uid, repeat = args.child
        child(engine, url, name, uid, int(repeat))
        return
    engines = args.engines.split(",")
    results: dict[int, dict] = {}
    for size in (parse_size(s) for s in args.events.split(",")):
        folder = args.data_dir / f"{size}"
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        files = generate_parquet(folder, size)
        print(f"{size:,} events: Parquet ready in {time.perf_counter() - t0:.0f} s", flush=True)
        uid = busiest_user(files)
        urls = {"duckdb": f"duckdb:///{folder / 'warehouse.duckdb'}", "chdb": f"chdb:///{folder / 'chdb'}"}
        results[size] = {"load": {}, "analytics": {}}
        for engine in engines:
            if not (folder / f"{engine}.loaded").exists():
                seconds = load(engine, urls[engine], files)
                (folder / f"{engine}.loaded").write_text(f"{seconds}")
            results[size]["load"][engine] = float((folder / f"{engine}.loaded").read_text())
            print(f"{engine}: Parquet ingest + step index {results[size]['load'][engine]:.0f} s", flush=True)
        for name, *_ in cases(uid):
            if name in SKIPPED:
                continue
            for engine in engines:
                seconds, peak = run_child([engine, urls[engine], name, uid, str(args.repeat)])
                results[size]["analytics"].setdefault(name, {})[engine] = {"seconds": seconds, "peak_mib": peak}
                shown = f"{seconds:.3f} s, peak {peak:,.0f} MiB" if seconds is not None else "failed"
                print(f"{size:,} {engine:6} {name}: {shown}", flush=True)
    report(results, engines)
    (args.data_dir / "warehouse_scale.json").write_text(json.dumps(results, indent=2))


def report(results: dict, engines: list[str]) -> None:
    sizes = sorted(results)
    for size in sizes:
        print(f"\n{size:,} events; seconds (median) and peak MiB per analytic, each in its own process")
        head = "".join(f" {ENGINE_NAMES[e] + ' s':>10} {ENGINE_NAMES[e] + ' MiB':>11}" for e in engines)
        print(f"{'analytic':34}{head} {'chdb/DuckDB':>12}")
        for name, by_engine in results[size]["analytics"].items():
            cells = "".join(_cell(by_engine.get(e, {})) for e in engines)
            d, c = (by_engine.get(e, {}).get("seconds") for e in ("duckdb", "chdb"))
            print(f"{name:34}{cells} {(f'{c / d:.2f}x' if c and d else '-'):>12}")
        print("load (Parquet ingest + step index): " + ", ".join(
            f"{ENGINE_NAMES[e]} {results[size]['load'][e]:.0f} s" for e in engines))
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        print(f"\ncost growth {small:,} -> {big:,} events ({big / small:.0f}x data): time ratio per analytic")
        for name in results[big]["analytics"]:
            parts = []
            for e in engines:
                a = results[small]["analytics"].get(name, {}).get(e, {}).get("seconds")
                b = results[big]["analytics"][name].get(e, {}).get("seconds")
                parts.append(f"{ENGINE_NAMES[e]} {b / a:.1f}x" if a and b else f"{ENGINE_NAMES[e]} -")
            print(f"{name:34} " + ", ".join(parts))


def _cell(r: dict) -> str:
    s, m = r.get("seconds"), r.get("peak_mib")
    return f" {(f'{s:.3f}' if s is not None else 'failed'):>10} {(f'{m:,.0f}' if m else '-'):>11}"


if __name__ == "__main__":
    main()
