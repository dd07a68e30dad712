"""``uba train next|churn|forecast``: train a model on the warehouse and save a new registry version."""

from __future__ import annotations

from typing import Annotated

import typer

from ui.cli._output import console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Train prediction models on the warehouse (versioned in the data dir).")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _context():
    from agent.factory import open_model_registry, open_warehouse, predictor_runtime
    from agent.settings import Settings
    from predictor import warehouse_query

    settings = Settings()
    runtime = predictor_runtime(settings)
    warehouse = open_warehouse(settings, create=False)
    return warehouse, warehouse_query(warehouse), open_model_registry(settings), runtime


def _report(version, as_json: bool, rows: list[list]) -> None:
    if as_json:
        print_json(version.to_dict())
        return
    console.print(f"saved [bold]{version.label}[/] at {version.path}")
    console.print(f"protocol: {version.protocol}", highlight=False)
    print_table("metrics", ["metric", "value"], rows)


def _run(train):
    from predictor import PredictorError

    try:
        return train()
    except PredictorError as exc:
        fail(str(exc))


@app.command("next")
def next_cmd(
    max_minutes: Annotated[
        float | None, typer.Option(help="Wall-time budget (default UBA_PREDICTOR_MAX_MINUTES).")
    ] = None,
    max_epochs: Annotated[int, typer.Option(min=1, help="Most epochs; early stopping usually ends sooner.")] = 200,
    hidden: Annotated[int, typer.Option(min=8, help="Embedding size.")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    serve: Annotated[
        str | None,
        typer.Option(
            help="Serve this candidate instead of the validation winner "
            "(popularity, transitions, knn, ease, sasrec or blend); all are still trained and reported."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Next item + next event type: train popularity, transitions, item-kNN, EASE, SASRec-CE and a blend; serve the best on validation."""
    from predictor import SASRecConfig, train_next
    from predictor.candidates import check_candidate

    _run(lambda: check_candidate(serve))  # a typo is refused before the warehouse is opened
    warehouse, query, registry, runtime = _context()
    config = SASRecConfig(
        hidden=hidden,
        max_epochs=max_epochs,
        seed=seed,
        device=runtime["device"],
        max_minutes=max_minutes or runtime["max_minutes"],
    )
    version = _run(lambda: train_next(query, registry, config, ease_max_mb=runtime["ease_max_mb"], serve=serve))
    warehouse.dispose()
    m = version.metrics
    if as_json:
        print_json(version.to_dict())
        return
    print_table(
        "next-item candidates (chosen by validation NDCG@10; test = each user's last event)",
        ["model", "valid NDCG@10", "valid HR@10", "test NDCG@10", "test HR@10", "serves", "detail"],
        [
            [
                r["model"],
                *(
                    f"{r[k]:.4f}" if k in r else ""
                    for k in ("valid_NDCG@10", "valid_HR@10", "test_NDCG@10", "test_HR@10")
                ),
                "yes" if r["serves"] else "",
                r["detail"],
            ]
            for r in m["candidates"]
        ],
    )
    rows = [
        ["serving", f"{m['serving']}: {m['serving_reason']}"],
        [
            "next event type accuracy",
            f"{m['sasrec']['type_accuracy']:.4f} (majority type {m.get('type_majority_accuracy', 0):.4f})",
        ],
        ["SASRec training", f"{m['train_seconds']} s, best epoch {m['best_epoch']} of {m['epochs']}"],
    ]
    _report(version, False, rows)


@app.command("churn")
def churn_cmd(
    horizon_days: Annotated[int, typer.Option(min=1, help="Label window after the cutoff, in days.")] = 14,
    target: Annotated[
        str, typer.Option(help="churn (no activity in the window) or purchase (bought in it).")
    ] = "churn",
    as_json: AsJson = False,
) -> None:
    """Gradient-boosted churn (or purchase) propensity with a time split and calibrated probabilities."""
    from predictor import ChurnConfig, train_churn

    if target not in ("churn", "purchase"):
        fail(f"unknown target {target!r}; use churn or purchase")
    warehouse, query, registry, runtime = _context()
    config = ChurnConfig(target=target, horizon_days=horizon_days, threads=runtime["threads"])
    version = _run(lambda: train_churn(query, registry, config))
    warehouse.dispose()
    m = version.metrics
    keys = (
        "train_users",
        "eval_users",
        "base_rate",
        "auc",
        "auc_recency_only",
        "brier",
        "brier_base_rate",
        "calibration",
    )
    _report(version, as_json, [[k, m.get(k, "")] for k in keys])


@app.command("forecast")
def forecast_cmd(as_json: AsJson = False) -> None:
    """Holt-Winters forecasts of purchases, revenue and active users, backtested against seasonal naive."""
    from predictor import train_forecast

    warehouse, query, registry, _ = _context()
    version = _run(lambda: train_forecast(query, registry))
    warehouse.dispose()
    rows = [
        [
            key,
            f"MASE {v['mase_holt_winters']} vs naive {v['mase_seasonal_naive']}, 80% cover {v['coverage80']}"
            if "mase_holt_winters" in v
            else v.get("skipped", ""),
        ]
        for key, v in version.metrics.items()
    ]
    _report(version, as_json, rows)
