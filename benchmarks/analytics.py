"""Each behavior analytic on DuckDB vs the same question in pandas vs PostgreSQL, and the SQL guard's overhead.

Usage: nice -n 10 python benchmarks/analytics.py [--events 10m] [--engines duckdb,pandas,postgres]
The demo warehouse (seed 7, 90 days) is generated once into --data-dir and reused.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from warehouse import Warehouse  # noqa: E402
from warehouse.analytics import (  # noqa: E402
    FunnelRequest,
    PathsRequest,
    RetentionRequest,
    SegmentRequest,
    TopItemsRequest,
    TrendRequest,
    UserProfileRequest,
    funnel,
    paths,
    retention,
    segment_breakdown,
    top_items,
    trend,
    user_profile,
)
from warehouse.analytics._base import run  # noqa: E402
from warehouse.analytics.funnel import compile_funnel  # noqa: E402
from warehouse.analytics.paths import compile_paths  # noqa: E402
from warehouse.analytics.retention import compile_retention  # noqa: E402
from warehouse.analytics.segment_breakdown import compile_segments  # noqa: E402
from warehouse.analytics.top_items import compile_top_items  # noqa: E402
from warehouse.analytics.trend import compile_trend  # noqa: E402
from warehouse.analytics.user_profile import compile_user_profile  # noqa: E402
from warehouse.event_steps import FRESHNESS_SQL, refresh_event_steps  # noqa: E402
from warehouse.readonly import ReadOnlyWarehouse, grant_readonly  # noqa: E402
from warehouse.safe_sql import SafeSql  # noqa: E402

EVENTS_PER_USER = 103.0  # the demo generator's rate over 90 days (benchmarks/warehouse_load.py)
DAYS = 90
SEED = 7
WEEK = pd.Timedelta(days=7)


def parse_size(text: str) -> int:
    """'10m' -> 10_000_000, '500k' -> 500_000."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


# --- the same questions in pandas --------------------------------------------------------------
def pd_trend(f):
    ev = f["events"].merge(f["users"][["user_id", "country"]], on="user_id", how="left")
    return ev.groupby([ev["ts"].dt.floor("D"), ev["country"].fillna("(none)")]).size()


def pd_funnel(f):
    ev = f["events"]
    cur = ev[ev["event_type"] == "view"].groupby("user_id")["ts"].min().rename("t1").reset_index()
    window = pd.Timedelta(hours=168)
    for k, step in ((2, "add_to_cart"), (3, "purchase")):
        cand = ev.loc[ev["event_type"] == step, ["user_id", "ts"]]
        m = cur.merge(cand, on="user_id", how="inner")
        m = m[(m["ts"] > m[f"t{k - 1}"]) & (m["ts"] <= m["t1"] + window)]
        cur = cur.merge(
            m.groupby("user_id")["ts"].min().rename(f"t{k}"), left_on="user_id", right_index=True, how="left"
        )
    return [cur[f"t{k}"].notna().sum() for k in (1, 2, 3)], [(cur[f"t{k}"] - cur[f"t{k - 1}"]).median() for k in (2, 3)]


def pd_retention(f):
    users = f["users"].dropna(subset=["signup_ts"])
    day = users["signup_ts"].dt.floor("D")
    cohort = pd.DataFrame({"user_id": users["user_id"], "cohort": day - pd.to_timedelta(day.dt.day_of_week, unit="D")})
    ev = f["events"]
    eday = ev["ts"].dt.floor("D")
    act = pd.DataFrame(
        {"user_id": ev["user_id"], "week": eday - pd.to_timedelta(eday.dt.day_of_week, unit="D")}
    ).drop_duplicates()
    m = cohort.merge(act, on="user_id")
    m["period"] = (m["week"] - m["cohort"]) // WEEK
    m = m[(m["period"] >= 0) & (m["period"] <= 8)]
    counts = m.groupby(["cohort", "period"])["user_id"].nunique().unstack(fill_value=0)
    return counts.div(cohort.groupby("cohort").size(), axis=0)


def pd_paths(f):
    ev = f["events"].sort_values(["user_id", "session_id", "ts", "event_id"])
    nxt = ev.groupby(["user_id", "session_id"], dropna=False, sort=False)["event_type"].shift(-1).fillna("(end)")
    return nxt[ev["event_type"] == "view"].value_counts().head(10)


def pd_top_items(f):
    ev = f["events"]
    buy = ev[(ev["event_type"] == "purchase") & ev["item_id"].notna()]
    g = buy.groupby("item_id").agg(
        event_count=("ts", "size"), unique_users=("user_id", "nunique"), revenue=("value", "sum")
    )
    return g.nlargest(10, "revenue").join(f["items"].set_index("item_id")[["title", "category", "brand"]])


def pd_segments(f):
    ev = f["events"].merge(f["users"][["user_id", "country"]], on="user_id", how="left")
    ev["country"] = ev["country"].fillna("(none)")
    g = ev.groupby("country")
    buy = ev[ev["event_type"] == "purchase"].groupby("country")
    return pd.DataFrame(
        {
            "events": g.size(),
            "users": g["user_id"].nunique(),
            "converted": buy["user_id"].nunique(),
            "revenue": buy["value"].sum(),
        }
    )


def pd_user(f, uid):
    ev = f["events"]
    mine = ev[ev["user_id"] == uid]
    return (
        f["users"][f["users"]["user_id"] == uid],
        mine["event_type"].value_counts(),
        f["orders"][f["orders"]["user_id"] == uid]["total"].agg(["size", "sum"]),
        f["reviews"][f["reviews"]["user_id"] == uid]["rating"].agg(["size", "mean"]),
        mine.sort_values(["ts", "event_id"], ascending=False).head(20),
    )


def cases(uid: str):
    """(name, engine function, request, SQL compiler, pandas function)."""
    return [
        (
            "trend: events/day by country",
            trend,
            TrendRequest(interval="day", breakdown="country"),
            compile_trend,
            pd_trend,
        ),
        (
            "funnel: view>cart>purchase, 7 d",
            funnel,
            FunnelRequest(steps=["view", "add_to_cart", "purchase"]),
            compile_funnel,
            pd_funnel,
        ),
        (
            "retention: weekly signup cohorts",
            retention,
            RetentionRequest(period="week", periods=8),
            compile_retention,
            pd_retention,
        ),
        ("paths: next step after view", paths, PathsRequest(event_type="view"), compile_paths, pd_paths),
        (
            "paths: same, window (no step index)",
            paths_by_window,
            PathsRequest(event_type="view"),
            lambda r: compile_paths(r, steps=False),
            None,
        ),
        ("top_items: by revenue", top_items, TopItemsRequest(metric="revenue"), compile_top_items, pd_top_items),
        ("segments: by country", segment_breakdown, SegmentRequest(dimension="country"), compile_segments, pd_segments),
        ("segments: by category", segment_breakdown, SegmentRequest(dimension="category"), compile_segments, None),
        (
            "user_profile: one user",
            user_profile,
            UserProfileRequest(user_id=uid),
            lambda r: compile_user_profile(r)[-1],
            lambda f: pd_user(f, uid),
        ),
    ]


AD_HOC = [
    "SELECT event_type, COUNT(*) AS n FROM events GROUP BY 1 ORDER BY n DESC",
    "SELECT u.country, COUNT(DISTINCT e.user_id) FROM events e JOIN users u ON u.user_id = e.user_id "
    "WHERE e.event_type = 'purchase' AND e.ts >= '2026-10-01' GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "WITH buyers AS (SELECT DISTINCT user_id FROM events WHERE event_type = 'purchase') "
    "SELECT i.category, SUM(e.value) FROM events e JOIN items i ON i.item_id = e.item_id "
    "WHERE e.user_id IN (SELECT user_id FROM buyers) GROUP BY 1",
    "SELECT email, signup_ts FROM users ORDER BY signup_ts DESC LIMIT 5",
]


def paths_by_window(safe, request):
    """The paths answer computed by the window over ``events`` (what runs while the step index is stale)."""
    return run(safe, compile_paths(request, steps=False), None)


def ensure_step_index(path: Path) -> None:
    """Build the step index of a warehouse file made before it existed; prints the build time."""
    wh = Warehouse.open(f"duckdb:///{path}")
    with wh.begin() as conn:
        try:
            n, steps, top, steps_top = conn.execute(text(FRESHNESS_SQL)).one()
            fresh = n == steps and top == steps_top
        except DBAPIError:
            fresh = False
    if not fresh:
        t0 = time.perf_counter()
        with wh.begin() as conn:
            rows = refresh_event_steps(conn)
        print(f"step index built for {rows:,} events in {time.perf_counter() - t0:.1f} s", flush=True)
    wh.dispose()


def guard_ms(guard, sql: str, n: int = 50) -> tuple[float, float]:
    """(wall ms, CPU ms) per check of ``sql``, mean of ``n``."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        guard.check(sql, limit=10_000)
    return (time.perf_counter() - w0) * 1000 / n, (time.process_time() - c0) * 1000 / n


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_duckdb(path: Path, events: int) -> None:
    from warehouse.demo import generate_demo

    users = max(100, int(events / EVENTS_PER_USER))
    wh = Warehouse.open(f"duckdb:///{path}")
    t0 = time.perf_counter()
    stats = generate_demo(wh, users=users, days=DAYS, seed=SEED, progress=True)
    wh.dispose()
    print(f"built {path}: {stats.events:,} events, {users:,} users in {time.perf_counter() - t0:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=parse_size, default=parse_size("10m"), help="target events (10m, 1m, 500k)")
    parser.add_argument("--engines", default="duckdb,pandas,postgres")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "benchmarks" / "results" / "analytics")
    parser.add_argument("--repeat", type=int, default=3, help="runs per analytic on DuckDB (median reported)")
    args = parser.parse_args()
    engines = set(args.engines.split(","))
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = args.data_dir / f"demo_{args.events}.duckdb"
    if not path.exists():
        build_duckdb(path, args.events)
    ensure_step_index(path)
    con = duckdb.connect(str(path), read_only=True)
    n_events = con.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    uid = con.execute("SELECT user_id FROM events GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1").fetchone()[0]
    frames = {}
    if "pandas" in engines:
        t0 = time.perf_counter()
        frames = {t: con.execute(f"SELECT * FROM {t}").df() for t in ("events", "users", "items", "orders", "reviews")}
        print(f"pandas: loaded {n_events:,} events into DataFrames in {time.perf_counter() - t0:.1f} s", flush=True)
    con.close()
    results = {name: {} for name, *_ in cases(uid)}

    safe = SafeSql(ReadOnlyWarehouse(f"duckdb:///{path}", timeout_s=600))
    overhead = []
    for name, fn, req, compile_sql, _ in cases(uid):
        sql = compile_sql(req)
        overhead.append(guard_ms(safe.guard, sql))
        if "duckdb" in engines:
            results[name]["duckdb"] = timed(lambda f=fn, r=req: f(safe, r), args.repeat)
            print(f"duckdb  {name}: {results[name]['duckdb']:.3f} s", flush=True)
    ad_hoc = [guard_ms(safe.guard, sql) for sql in AD_HOC]
    safe.readonly.close()

    for name, *_, pandas_fn in cases(uid):
        if frames and pandas_fn:
            results[name]["pandas"] = timed(lambda p=pandas_fn: p(frames), 1)
            print(f"pandas  {name}: {results[name]['pandas']:.3f} s", flush=True)
    frames.clear()

    if "postgres" in engines:
        run_postgres(results, uid, args.events)

    report(results, overhead, ad_hoc, n_events, args.data_dir / "analytics.json")


def run_postgres(results: dict, uid: str, events: int) -> None:
    from _postgres import ThrowawayPostgres

    from warehouse.demo import generate_demo

    with ThrowawayPostgres() as pg:
        url = pg.new_database()
        wh = Warehouse.open(url)
        t0 = time.perf_counter()
        generate_demo(wh, users=max(100, int(events / EVENTS_PER_USER)), days=DAYS, seed=SEED, progress=True)
        wh.dispose()
        print(f"postgres: same demo generated and loaded in {time.perf_counter() - t0:.0f} s", flush=True)
        safe = SafeSql(ReadOnlyWarehouse(grant_readonly(url, timeout_s=600), timeout_s=600))
        for name, fn, req, *_, pandas_fn in cases(uid):
            if not pandas_fn:
                continue  # the window variant: the PostgreSQL paths row already says what the engine does
            results[name]["postgres"] = timed(lambda f=fn, r=req: f(safe, r), 1)
            print(f"postgres {name}: {results[name]['postgres']:.3f} s", flush=True)


def report(results: dict, overhead: list, ad_hoc: list, n_events: int, out: Path) -> None:
    def cell(v):
        return f"{v:8.3f}" if v is not None else "       -"

    def ratio(a, b):
        return f"{a / b:7.1f}x" if a is not None and b else "       -"

    print(f"\n{n_events:,} demo events (seed {SEED}, {DAYS} days); seconds, DuckDB = median of runs")
    print(f"{'analytic':36} {'DuckDB':>8} {'pandas':>8} {'Postgres':>8} {'pandas/DuckDB':>13} {'PG/DuckDB':>10}")
    for name, r in results.items():
        d, p, g = r.get("duckdb"), r.get("pandas"), r.get("postgres")
        print(f"{name:36} {cell(d)} {cell(p)} {cell(g)} {ratio(p, d):>13} {ratio(g, d):>10}")
    for label, rows in (("ad-hoc queries (100-250 chars)", ad_hoc), ("analytic queries (300-1,200 chars)", overhead)):
        wall, cpu = [w for w, _ in rows], [c for _, c in rows]
        print(
            f"SQL guard per check, {label}: wall mean {statistics.mean(wall):.2f} ms (max {max(wall):.2f}), "
            f"CPU mean {statistics.mean(cpu):.2f} ms (max {max(cpu):.2f}); target < 5 ms"
        )
    out.write_text(
        json.dumps(
            {"events": n_events, "seconds": results, "guard_ms_analytics": overhead, "guard_ms_ad_hoc": ad_hoc},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
