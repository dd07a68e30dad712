"""Anomaly alerts on the demo shop: precision, recall and false-alarm rate with anomalies planted at known times.

Daily and hourly series of layer measures come from demo warehouses (DuckDB, several seeds) through the
same queries an alert runs. Each trial plants a few anomalies (a multiplicative spike or drop of a known
size at random times after the first five weeks) and checks every later point against the band of the
history before it, as a scheduled alert would. Precision: planted points among the flagged ones; recall:
flagged among the planted, per size; false-alarm rate: flagged share of the points of the clean series.
Holt-Winters with the forecast tool's split-conformal 95% interval is the comparison (daily only: its
weekly season at hourly grain, m=168, is too slow to refit at every point).
Run: ``nice -n 15 .venv/bin/python benchmarks/watch_anomalies.py --users 10000 --seeds 7 8 9``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from predictor.errors import NotEnoughData  # noqa: E402
from predictor.forecast import HoltWinters  # noqa: E402
from warehouse import Warehouse  # noqa: E402
from warehouse.demo import generate_demo  # noqa: E402
from warehouse.readonly import ReadOnlyWarehouse  # noqa: E402
from warehouse.safe_sql import SafeSql  # noqa: E402
from warehouse.semantic import build_layer  # noqa: E402
from watch.alerts import AlertRule, measure_series  # noqa: E402
from watch.baseline import SEASON, band  # noqa: E402

EVAL_WEEKS = 5
"""Points are checked from the sixth week on: the demo shop ramps up over its first weeks."""
SIZES = (-0.8, -0.5, -0.3, 0.5, 1.0)
SERIES = (("purchases", "day"), ("revenue", "day"), ("active_users", "day"), ("events", "hour"), ("purchases", "hour"))


def _table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


def demo_series(users: int, days: int, seed: int, root: Path) -> dict[tuple[str, str], np.ndarray]:
    """Every benchmarked measure's full series of one demo warehouse, read through the alert's query."""
    url = f"duckdb:///{root / f'demo{seed}.duckdb'}"
    warehouse = Warehouse.open(url)
    warehouse.create_schema()
    generate_demo(warehouse, users=users, days=days, seed=seed)
    warehouse.dispose()
    readonly = ReadOnlyWarehouse(url)
    safe, layer = SafeSql(readonly), build_layer(readonly)
    out = {}
    import watch.alerts as alerts

    need = alerts.history_needed
    alerts.history_needed = lambda grain: days * (24 if grain == "hour" else 1)  # read the whole span
    try:
        for measure, grain in SERIES:
            out[(measure, grain)] = measure_series(safe, layer, AlertRule(measure=measure, grain=grain)).to_numpy()
    finally:
        alerts.history_needed = need
        readonly.close()
    return out


def robust_flags(y: np.ndarray, grain: str, start: int, z: float) -> np.ndarray:
    """1 where the point lies outside the seasonal robust band of the history before it."""
    flags = np.zeros(len(y), dtype=bool)
    for t in range(start, len(y)):
        flags[t] = band(y[:t], grain, z).outside(float(y[t])) is not None
    return flags


def holt_winters_flags(y: np.ndarray, start: int) -> np.ndarray:
    """1 where the point lies outside Holt-Winters' one-step split-conformal 95% interval."""
    flags = np.zeros(len(y), dtype=bool)
    for t in range(start, len(y)):
        try:
            fc = HoltWinters.fit(y[:t], 7, 1).forecast(y[:t], 1).iloc[0]
        except NotEnoughData:
            continue
        flags[t] = not (fc["lo95"] <= y[t] <= fc["hi95"])
    return flags


def plant(y: np.ndarray, start: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[int, float]]:
    """``y`` with ``count`` anomalies of random sizes from :data:`SIZES` at random times from ``start`` on."""
    times = rng.choice(np.arange(start, len(y)), size=count, replace=False)
    planted = {int(t): float(rng.choice(SIZES)) for t in times}
    out = y.copy()
    for t, size in planted.items():
        out[t] = np.round(out[t] * (1 + size))
    return out, planted


def score(detector, series: dict, trials: int, count: int, seed: int):
    """(precision, recall per size, false-alarm rate, points checked) of one detector over the series."""
    rng = np.random.default_rng(seed)
    hits = {s: [0, 0] for s in SIZES}
    flagged_total = flagged_true = clean_flags = clean_points = 0
    for (_, grain), ys in series.items():
        for y in ys:
            start = EVAL_WEEKS * SEASON[grain]
            clean = detector(y, grain, start)
            clean_flags += int(clean[start:].sum())
            clean_points += len(y) - start
            for _ in range(trials):
                planted_y, planted = plant(y, start, count, rng)
                flags = detector(planted_y, grain, start)
                flagged_total += int(flags.sum())
                flagged_true += sum(int(flags[t]) for t in planted)
                for t, size in planted.items():
                    hits[size][0] += int(flags[t])
                    hits[size][1] += 1
    precision = flagged_true / flagged_total if flagged_total else float("nan")
    return (
        precision,
        {s: h[0] / h[1] if h[1] else float("nan") for s, h in hits.items()},
        clean_flags / clean_points,
        clean_points,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--trials", type=int, default=4, help="planted copies of each series")
    parser.add_argument("--anomalies", type=int, default=3, help="anomalies planted per daily copy (x6 hourly)")
    parser.add_argument("--z", type=float, nargs="+", default=[3.0, 4.0, 5.0])
    args = parser.parse_args()
    started = time.perf_counter()
    by_grain: dict[str, dict] = {"day": {}, "hour": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for (measure, grain), y in demo_series(args.users, args.days, seed, Path(tmp)).items():
                by_grain[grain].setdefault((measure, grain), []).append(y)
    print(
        f"demo shops: {len(args.seeds)} seeds x {args.users:,} users x {args.days} days "
        f"(built in {time.perf_counter() - started:.0f} s); sizes planted: {', '.join(f'{s:+.0%}' for s in SIZES)}\n"
    )
    header = [
        "grain",
        "detector",
        "precision",
        *(f"recall {s:+.0%}" for s in SIZES),
        "false-alarm rate",
        "clean points",
    ]
    rows = []
    for grain, series in by_grain.items():
        count = args.anomalies * (6 if grain == "hour" else 1)
        detectors = [(f"seasonal robust z={z:g}", lambda y, g, s, z=z: robust_flags(y, g, s, z)) for z in args.z]
        if grain == "day":
            detectors.append(("Holt-Winters conformal 95%", lambda y, g, s: holt_winters_flags(y, s)))
        for name, detector in detectors:
            precision, recall, false_rate, points = score(detector, series, args.trials, count, seed=1)
            rows.append(
                [grain, name, f"{precision:.2f}", *(f"{recall[s]:.2f}" for s in SIZES), f"{false_rate:.3f}", points]
            )
    _table(header, rows)
    print(
        f"\nseries: {', '.join(f'{m}/{g}' for m, g in SERIES)}; {args.trials} planted copies each; "
        f"total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
