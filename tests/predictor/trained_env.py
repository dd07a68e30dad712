"""A small demo warehouse (real DuckDB file) with tiny next/churn/forecast models trained on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from predictor import ChurnConfig, ModelRegistry, SASRecConfig, train_churn, train_forecast, train_next, warehouse_query
from warehouse import Warehouse
from warehouse.demo import generate_demo

TINY = SASRecConfig(hidden=16, blocks=1, max_epochs=2, patience=2, batch_size=64, valid_users=None, device="cpu")


@dataclass
class TrainedEnv:
    """Where the warehouse and the registry are, and the versions trained."""

    url: str
    registry: ModelRegistry
    versions: dict


def build_env(root: Path, *, users: int = 300, days: int = 60, seed: int = 5) -> TrainedEnv:
    """Generate the demo shop, train one version of each model, release the write connection."""
    torch.set_num_threads(1)
    url = f"duckdb:///{root / 'warehouse.duckdb'}"
    warehouse = Warehouse.open(url)
    warehouse.create_schema()
    generate_demo(warehouse, users=users, days=days, seed=seed)
    query = warehouse_query(warehouse)
    registry = ModelRegistry(root / "models")
    versions = {
        "next": train_next(query, registry, TINY, progress=False),
        "churn": train_churn(query, registry, ChurnConfig(threads=1, max_iter=50)),
        "forecast": train_forecast(query, registry),
    }
    warehouse.dispose()
    return TrainedEnv(url, registry, versions)


def copy_data_dir(source: Path, root: Path) -> Path:
    """A copy of a trained data dir's warehouse and models under ``root`` (training there adds versions)."""
    import shutil

    shutil.copy(source / "warehouse.duckdb", root / "warehouse.duckdb")
    shutil.copytree(source / "models", root / "models")
    return root


def run_uba(args: list[str], data_dir: Path, monkeypatch):
    """``uba <args>`` in-process over ``data_dir`` (one predictor thread)."""
    from typer.testing import CliRunner

    from ui.cli import app

    monkeypatch.setenv("UBA_DATA_DIR", str(data_dir))
    monkeypatch.delenv("UBA_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("UBA_PREDICTOR_THREADS", "1")
    return CliRunner().invoke(app, args)
