"""The analyst's behavior analytics at scale, DuckDB vs chdb (ClickHouse in-process) side by side: time and peak memory.

Usage: nice -n 19 python benchmarks/warehouse_scale.py [--sizes 10M,100M] [--engines duckdb,chdb] [--repeat 1]
       [--data-dir /tmp/uba-warehouse-scale] [--results FILE.json] [--out FILE.md] [--keep-data]

For each size, seeded synthetic users, items, events, orders and reviews (``_scale_data.py``: skewed
activity, churn, sessions with a real funnel) are written once to Parquet, then bulk-ingested into a
DuckDB file and into a chdb directory (MergeTree ordered by event_type, ts, user_id, partitioned by
month) and the step index built on each. Every operation the agent runs (the typed analytics and the
semantic layer's ``run_query``) then runs in its own child process, through the SQL guard and the
read-only wall, as the agent runs it. Time: wall seconds and CPU seconds (user + system of the
child, all engine threads: on a shared machine the CPU figure is the one that other jobs do not
inflate), of the first (cold) run and the median of ``--repeat`` runs after it. Memory: that child's peak resident set (VmHWM from /proc/self/status, read at its end:
Python, the engine and the result frames together). Loads run in a child too, under
``--load-memory-mb``. Results accumulate in
``--results`` by size, so a later run at another size adds to the same tables; the data is deleted
after each size unless ``--keep-data``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _scale_data import generate  # noqa: E402
from analytics import cases as analytic_cases  # noqa: E402
from analytics import parse_size  # noqa: E402

ENGINE_NAMES = {"duckdb": "DuckDB", "chdb": "chdb"}
SKIPPED = ("paths: same, window (no step index)",)
BYTES_PER_EVENT = 320  # Parquet + DuckDB file + chdb parts, with headroom (243 measured at 10M)
QUERIES = {  # the semantic layer's specs, as the agent's ``query`` tool sends them
    "query: revenue by country, 30 d": {"measure": "revenue", "dimensions": ["country"], "last_days": 30},
    "query: weekly active users": {"measure": "active_users", "grain": "week"},
    "query: purchases 7 d vs 7 d before": {"measure": "purchases", "last_days": 7, "compare_previous": True},
    "query: view>purchase rate, 30 d": {
        "measure": "conversion_rate",
        "base_event": "view",
        "target_event": "purchase",
        "last_days": 30,
    },
}


def operations(uid: str) -> list[str]:
    return [*(name for name, *_ in analytic_cases(uid) if name not in SKIPPED), *QUERIES]


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


# --- children: each measures one thing in a fresh process --------------------------------------------
def _peak_mib() -> float:
    """This process's peak resident memory since its exec (VmHWM), engine included."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: this benchmark needs Linux")


def child_load(engine: str, url: str, folder: str, memory_mb: str) -> dict:
    """Bulk-ingest the Parquet files into a fresh warehouse, then build its step index."""
    from _scale_data import TABLES

    from warehouse import Warehouse
    from warehouse.clickhouse import insert_parquet
    from warehouse.event_steps import refresh_event_steps

    t0, c0 = time.perf_counter(), _cpu_s()
    wh = Warehouse.open(url)
    wh.create_schema()
    with wh.begin() as conn:
        raw = conn.connection.dbapi_connection
        _cap_memory(engine, raw, memory_mb, folder)
        for name in TABLES:
            path = Path(folder) / f"{name}.parquet"
            columns = ", ".join(_parquet_columns(path))
            if engine == "duckdb":  # ts order: DuckDB's zone maps prune by time as MergeTree's sort key does
                order = " ORDER BY ts" if name == "events" else ""
                raw.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM read_parquet('{path}'){order}")
            else:
                insert_parquet(raw, name, ", ".join(f"`{c}`" for c in columns.split(", ")), str(path))
        t1, c1 = time.perf_counter(), _cpu_s()
        refresh_event_steps(conn)
    wh.dispose()
    if engine == "duckdb":  # fold the WAL into the file now, or every read-only open would replay it
        import duckdb

        duckdb.connect(url.removeprefix("duckdb:///")).execute("CHECKPOINT").close()
    return {
        "ingest_s": t1 - t0,
        "steps_s": time.perf_counter() - t1,
        "ingest_cpu_s": c1 - c0,
        "steps_cpu_s": _cpu_s() - c1,
        "load_avg": os.getloadavg()[0],
    }


def _cap_memory(engine: str, raw, memory_mb: str, folder: str) -> None:
    """Hold the load to ``memory_mb`` (DuckDB spills to ``folder``; ClickHouse sorts and groups externally past half)."""
    half = int(memory_mb) * 2**19
    if engine == "duckdb":
        raw.execute(f"SET memory_limit = '{memory_mb}MB'")
        raw.execute(f"SET temp_directory = '{Path(folder) / 'spill'}'")
        return
    cursor = raw.cursor()
    try:
        cursor.execute(
            f"SET max_memory_usage = {int(memory_mb) * 2**20}, max_bytes_before_external_sort = {half}, "
            f"max_bytes_before_external_group_by = {half}"
        )
    finally:
        cursor.close()


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(path).names


def child_operation(url: str, name: str, uid: str, repeat: int, memory_mb: int) -> dict:
    """Run one operation once (cold), then ``repeat`` times; the first and the median seconds."""
    from warehouse.readonly import ReadOnlyWarehouse
    from warehouse.safe_sql import SafeSql

    safe = SafeSql(ReadOnlyWarehouse(url, timeout_s=600, memory_limit_mb=memory_mb))
    if name in QUERIES:
        from warehouse.semantic import build_layer, run_query, spec_model

        layer = build_layer(safe.readonly)
        spec = spec_model(layer)(**QUERIES[name])

        def call() -> object:
            return run_query(safe, layer, spec)
    else:
        fn, request = next((f, r) for n, f, r, *_ in analytic_cases(uid) if n == name)

        def call() -> object:
            return fn(safe, request)

    wall, cpu = [], []
    for _ in range(1 + repeat):
        t0, c0 = time.perf_counter(), _cpu_s()
        call()
        wall.append(time.perf_counter() - t0)
        cpu.append(_cpu_s() - c0)
    safe.readonly.close()
    warm = slice(1, None) if repeat else slice(0, 1)
    return {
        "first_s": wall[0],
        "seconds": statistics.median(wall[warm]),
        "first_cpu_s": cpu[0],
        "cpu_s": statistics.median(cpu[warm]),
        "load_avg": os.getloadavg()[0],
    }


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process, all its threads: the engine's worker threads run inside it."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(*args: str) -> dict:
    """One child's measurement plus its peak MiB; ``error`` holds a failed run's exception line (SQLAlchemy
    ends its tracebacks with a link, not the cause)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(args)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception|Failed)\b", line)]
        return {"error": (raised or lines)[-1][:300], "exit_status": done.returncode}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(args: list[str]) -> None:
    kind, *rest = args
    if kind == "load":
        measured = child_load(*rest)
    else:
        url, name, uid, repeat, memory_mb = rest
        measured = child_operation(url, name, uid, int(repeat), int(memory_mb))
    print(json.dumps({**measured, "peak_mib": _peak_mib()}))


# --- the parent ---------------------------------------------------------------------------------------
def busiest_user(events: Path) -> str:
    import duckdb

    return duckdb.sql(
        f"SELECT user_id FROM read_parquet('{events}') GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"
    ).fetchall()[0][0]


def measure_size(size: int, engines: list[str], args: argparse.Namespace) -> dict:
    folder = args.data_dir / size_label(size)
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < size * BYTES_PER_EVENT:
        sys.exit(
            f"{folder} has {free / 2**30:.0f} GiB free; {size_label(size)} events need about "
            f"{size * BYTES_PER_EVENT / 2**30:.0f} GiB: free space or pass --data-dir on a bigger disk"
        )
    out: dict = {
        "events": size,
        "memory_mb": args.memory_mb,
        "load_memory_mb": args.load_memory_mb,
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "load": {},
        "ops": {},
    }
    try:
        t0 = time.perf_counter()
        files = generate(folder, size, seed=args.seed)
        out["parquet_s"] = time.perf_counter() - t0
        out["parquet_mib"] = sum(p.stat().st_size for p in files.values()) / 2**20
        print(f"{size:,} events: Parquet ({out['parquet_mib']:,.0f} MiB) in {out['parquet_s']:.0f} s", flush=True)
        uid = busiest_user(files["events"])
        urls = {"duckdb": f"duckdb:///{folder / 'warehouse.duckdb'}", "chdb": f"chdb:///{folder / 'chdb'}"}
        for engine in engines:
            out["load"][engine] = run_child("load", engine, urls[engine], str(folder), str(args.load_memory_mb))
            print(f"{size:,} {engine:6} load: {out['load'][engine]}", flush=True)
        loaded = [e for e in engines if "error" not in out["load"][e]]  # a failed load leaves nothing to measure
        for name in operations(uid):
            for engine in loaded:
                got = run_child("op", urls[engine], name, uid, str(args.repeat), str(args.memory_mb))
                out["ops"].setdefault(name, {})[engine] = got
                print(f"{size:,} {engine:6} {name}: {got}", flush=True)
        out["disk_mib"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    finally:
        if not args.keep_data:
            shutil.rmtree(folder, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10M", help="comma-separated event counts (10M,100M; 500k)")
    parser.add_argument("--engines", default="duckdb,chdb")
    parser.add_argument("--repeat", type=int, default=1, help="warm runs per operation after the cold one (median)")
    parser.add_argument(
        "--memory-mb", type=int, default=4096, help="the read-only queries' memory budget, both engines"
    )
    parser.add_argument("--load-memory-mb", type=int, default=8192, help="the loads' memory budget, both engines")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/uba-warehouse-scale"))
    parser.add_argument("--keep-data", action="store_true", help="keep the Parquet files and warehouses")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "warehouse_scale.json")
    parser.add_argument("--out", type=Path, help="also write the tables as Markdown to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return
    engines = [e.strip() for e in args.engines.split(",")]
    unknown = [e for e in engines if e not in ENGINE_NAMES]
    if unknown:
        sys.exit(f"unknown engine {unknown[0]!r}: choose from {', '.join(ENGINE_NAMES)}")
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    results["machine"] = machine()
    for size in (parse_size(s) for s in args.sizes.split(",")):
        results[str(size)] = measure_size(size, engines, args)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2))
    from _scale_report import markdown

    text = markdown(results, engines)
    print("\n" + text)
    if args.out:
        args.out.write_text(text)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    from importlib.metadata import version

    mem = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return (
        f"{model}, {len(os.sched_getaffinity(0))} cores, {mem / 2**20:.0f} GiB RAM; "
        f"DuckDB {version('duckdb')}, chdb {version('chdb')}"
    )


if __name__ == "__main__":
    main()
