"""Churn, forecast and next-action models on the demo shop (DuckDB): quality against baselines and cost.

Churn: out-of-time AUC / Brier / reliability (fit before end-28d, label 14d; evaluate before
end-14d, label the last 14d). Forecast: rolling-origin MASE against seasonal naive. Next action:
leave-one-out full-ranking HR@10 / NDCG@10 of every candidate of ``uba train next`` (chosen on
validation), and predict_next latency.
Run: ``nice -n 10 .venv/bin/python benchmarks/predictor_demo.py --users 10000 --days 90``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._sasrec_options import add_sasrec_options, sasrec_config  # noqa: E402
from predictor import (  # noqa: E402
    ChurnConfig,
    ModelRegistry,
    NextModel,
    load_forecast,
    predict_next,
    train_churn,
    train_forecast,
    train_next,
    warehouse_query,
)
from warehouse import Warehouse  # noqa: E402
from warehouse.demo import generate_demo  # noqa: E402


def _table(header: list[str], rows: list[list]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--next-minutes", type=float, default=5.0, help="SASRec budget; 0 skips the next-action model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-churn", action="store_true", help="leave out the churn model (the slowest part)")
    add_sasrec_options(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="uba-bench-"))
    warehouse = Warehouse.open(f"duckdb:///{root / 'warehouse.duckdb'}")
    stats = generate_demo(warehouse, users=args.users, days=args.days, seed=args.seed)
    query, registry = warehouse_query(warehouse), ModelRegistry(root / "models")
    print(
        f"demo: {stats.users:,} users, {stats.events:,} events, {args.days} days, seed {args.seed}; CPU, "
        f"{args.threads} thread(s)\n"
    )

    cost = []
    if not args.skip_churn:
        t0 = time.perf_counter()
        churn = train_churn(query, registry, ChurnConfig(threads=args.threads))
        cost.append(
            [
                "churn: features, fit, calibrate, score + drivers for every active user",
                f"{time.perf_counter() - t0:.1f} s",
                "",
            ]
        )
        m = churn.metrics
        print(f"Churn ({churn.protocol}):")
        _table(
            ["model", "AUC", "Brier"],
            [
                ["gradient-boosted trees, isotonic/sigmoid calibrated", m["auc"], m["brier"]],
                ["same trees, uncalibrated", m["auc_uncalibrated"], m["brier_uncalibrated"]],
                ["recency only (days since last event)", m["auc_recency_only"], ""],
                [f"base rate {m['base_rate']} for everyone", 0.5, m["brier_base_rate"]],
            ],
        )
        print(f"\nReliability ({m['eval_users']:,} users, {m['calibration']} calibration):")
        _table(
            ["predicted bin", "users", "mean predicted", "observed"],
            [[r["bin"], r["users"], r["predicted"], r["observed"]] for r in m["reliability"]],
        )

    t0 = time.perf_counter()
    fc = train_forecast(query, registry)
    fc_s = time.perf_counter() - t0
    print(f"\nForecast ({fc.protocol}):")
    models = load_forecast(fc)
    rows = [
        [
            k,
            f"{v['folds']} x {v['horizon']}",
            v["mase_holt_winters"],
            v["mase_seasonal_naive"],
            f"0.80 / {v['coverage80']:.3f}",
            f"0.95 / {v['coverage95']:.3f}",
            models[k].scale,
        ]
        for k, v in fc.metrics.items()
        if "folds" in v
    ]
    daily = [v for k, v in fc.metrics.items() if k.endswith("/day") and "folds" in v]
    if daily:
        points = sum(v["points"] for v in daily)
        pooled = [sum(v[c] * v["points"] for v in daily) / points for c in ("coverage80", "coverage95")]
        rows.append(
            [
                f"all daily series ({points} points)",
                "",
                "",
                "",
                f"0.80 / {pooled[0]:.3f}",
                f"0.95 / {pooled[1]:.3f}",
                "",
            ]
        )
    _table(
        [
            "series",
            "folds x horizon",
            "MASE Holt-Winters",
            "MASE seasonal naive",
            "80% nominal / empirical",
            "95% nominal / empirical",
            "interval scale (registered model)",
        ],
        rows,
    )

    cost.append(["forecast: 6 series, grid search, conformal calibration + backtest", f"{fc_s:.1f} s", ""])
    if args.next_minutes > 0:
        t0 = time.perf_counter()
        nxt = train_next(query, registry, sasrec_config(args, args.next_minutes), progress=False)
        next_s = time.perf_counter() - t0
        n = nxt.metrics
        print(f"\nNext action ({nxt.protocol}; best epoch {n['best_epoch']} of {n['epochs']}, {n['stopped_by']}):")
        print(f"serves: {n['serving']} ({n['serving_reason']})")
        base = n["transitions"]["NDCG@10"]
        _table(
            ["model", "valid NDCG@10", "test HR@10", "test NDCG@10", "NDCG@10 vs transitions", "detail"],
            [
                [
                    r["model"] + (" (serves)" if r["serves"] else ""),
                    f"{r['valid_NDCG@10']:.4f}",
                    f"{r['test_HR@10']:.4f}",
                    f"{r['test_NDCG@10']:.4f}",
                    f"{r['test_NDCG@10'] / base:.2f}x",
                    r["detail"],
                ]
                if "valid_NDCG@10" in r
                else [r["model"], "", "", "", "", r["detail"]]
                for r in n["candidates"]
            ],
        )
        print(f"SASRec config: {nxt.config}")
        print(
            f"next event type accuracy: {n['sasrec']['type_accuracy']:.4f} "
            f"(always the most common type: {n['type_majority_accuracy']:.4f})"
        )
        model = NextModel.load(registry.latest("next"))
        users = query("SELECT DISTINCT e.user_id FROM events AS e ORDER BY 1 LIMIT 200")["user_id"].astype(str)
        lat = []
        for user in users:
            t1 = time.perf_counter()
            predict_next(query, model, user, 10)
            lat.append((time.perf_counter() - t1) * 1000)
        cost.append(
            [
                "next action: all candidates (incl. data load, SASRec-CE, kNN tuning, test)",
                f"{next_s:.1f} s",
                f"predict_next p50 {np.median(lat):.1f} ms/user (SQL + model)",
            ]
        )
    print("\nCost (CPU):")
    _table(["step", "wall time", "inference"], cost)
    warehouse.dispose()


if __name__ == "__main__":
    main()
