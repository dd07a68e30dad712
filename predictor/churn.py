"""Churn (or purchase) propensity: gradient-boosted trees on RFM/behavior features, time split, calibrated.

Time split: the model learns from features before ``end - 2h`` with labels in the next ``h``
days, is calibrated on held-out users of that same window, and is evaluated out of time on
features before ``end - h`` with labels in the last ``h`` days. Users are then scored as of
the data end. Drivers: for each feature, how much the calibrated risk drops when that
feature alone is set to the population median (one extra prediction per feature).
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from predictor.errors import ModelCorrupt, NotEnoughData
from predictor.features import FEATURES, churn_labels, user_features
from predictor.registry import ModelRegistry, ModelVersion
from predictor.source import Query, data_end, events_frame

logger = logging.getLogger(__name__)

_MODEL, _SCORES = "model.pkl", "scores.parquet"


@dataclass
class ChurnConfig:
    """Label window, population and model knobs."""

    target: Literal["churn", "purchase"] = "churn"
    horizon_days: int = 14
    active_days: int = 60
    calibration_share: float = 0.3
    max_iter: int = 200
    learning_rate: float = 0.05
    seed: int = 42
    threads: int | None = None
    """OpenMP threads for the trees; None = all cores. 1 avoids spin-waiting on a crowded CPU."""


class ChurnModel:
    """Fitted trees, calibrator, feature medians; calibrated probabilities and per-feature drivers."""

    def __init__(self, trees: HistGradientBoostingClassifier, calibrator: Any, medians: pd.Series, config: ChurnConfig):
        self.trees, self.calibrator, self.medians, self.config = trees, calibrator, medians, config

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated tree probabilities."""
        with threadpool_limits(limits=self.config.threads, user_api="openmp"):
            return self.trees.predict_proba(X[list(FEATURES)].to_numpy())[:, 1]

    def proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of the target."""
        raw = self.raw(X)
        if isinstance(self.calibrator, IsotonicRegression):
            return np.clip(self.calibrator.predict(raw), 0.0, 1.0)
        return self.calibrator.predict_proba(_logit(raw).reshape(-1, 1))[:, 1]

    def drivers(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """Per row, the features whose typical (median) value would lower the risk most."""
        base = self.proba(X)
        deltas = np.zeros((len(X), len(FEATURES)))
        for j, name in enumerate(FEATURES):
            typical = X.copy()
            typical[name] = self.medians[name]
            deltas[:, j] = base - self.proba(typical)
        values, medians = X[list(FEATURES)].to_numpy(), self.medians[list(FEATURES)].to_numpy()
        out = []
        for i in range(len(X)):
            order = np.argsort(-deltas[i])[:top]
            out.append(
                [
                    {
                        "feature": FEATURES[j],
                        "value": round(float(values[i, j]), 3),
                        "median": round(float(medians[j]), 3),
                        "risk_change": round(float(deltas[i, j]), 4),
                    }
                    for j in order
                    if deltas[i, j] > 0
                ]
            )
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _population(events: pd.DataFrame, cutoff: datetime, config: ChurnConfig) -> pd.DataFrame:
    X = user_features(events, cutoff)
    return X[X["recency_days"] < config.active_days]


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs observed rate per equal-width probability bin."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "users": int(mask.sum()),
                    "predicted": round(float(p[mask].mean()), 4),
                    "observed": round(float(y[mask].mean()), 4),
                }
            )
    return rows


def fit_churn(events: pd.DataFrame, end: datetime, config: ChurnConfig) -> tuple[ChurnModel, dict[str, Any]]:
    """Fit on the earlier window, calibrate on held-out users, evaluate on the later window."""
    h = timedelta(days=config.horizon_days)
    train_cut, eval_cut = end - 2 * h, end - h
    X = _population(events, train_cut, config)
    y = churn_labels(events, X.index, train_cut, config.horizon_days, config.target).to_numpy()
    if len(X) < 50 or y.min() == y.max():
        raise NotEnoughData(
            f"{len(X)} active users before {train_cut:%Y-%m-%d} with a single label class; "
            f"need more users or a longer history than 2 x {config.horizon_days} days"
        )
    rng = np.random.default_rng(config.seed)
    is_cal = rng.random(len(X)) < config.calibration_share
    trees = HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate, random_state=config.seed, early_stopping=False
    )
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        trees.fit(X[~is_cal].to_numpy(), y[~is_cal])
        raw_cal = trees.predict_proba(X[is_cal].to_numpy())[:, 1]
    if is_cal.sum() >= 500:
        calibrator: Any = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw_cal, y[is_cal])
    else:
        calibrator = LogisticRegression().fit(_logit(raw_cal).reshape(-1, 1), y[is_cal])
    model = ChurnModel(trees, calibrator, X[~is_cal].median(), config)

    Xe = _population(events, eval_cut, config)
    ye = churn_labels(events, Xe.index, eval_cut, config.horizon_days, config.target).to_numpy()
    metrics: dict[str, Any] = {
        "train_users": int(len(X)),
        "eval_users": int(len(Xe)),
        "train_cutoff": str(train_cut),
        "eval_cutoff": str(eval_cut),
    }
    if len(Xe) and ye.min() != ye.max():
        pe, raw = model.proba(Xe), model.raw(Xe)
        metrics.update(
            base_rate=round(float(ye.mean()), 4),
            auc=round(float(roc_auc_score(ye, pe)), 4),
            auc_uncalibrated=round(float(roc_auc_score(ye, raw)), 4),
            auc_recency_only=round(
                float(roc_auc_score(ye, Xe["recency_days"] * (1 if config.target == "churn" else -1))), 4
            ),
            brier=round(float(brier_score_loss(ye, pe)), 4),
            brier_uncalibrated=round(float(brier_score_loss(ye, raw)), 4),
            brier_base_rate=round(float(brier_score_loss(ye, np.full(len(ye), y.mean()))), 4),
            calibration="isotonic" if isinstance(calibrator, IsotonicRegression) else "sigmoid",
            reliability=reliability_table(ye, pe),
        )
    return model, metrics


def _users_frame(query: Query) -> pd.DataFrame:
    users = query("SELECT u.user_id, u.country, u.device, u.channel FROM users AS u")
    users["user_id"] = users["user_id"].astype(str)
    return users.set_index("user_id")


def train_churn(query: Query, registry: ModelRegistry, config: ChurnConfig | None = None) -> ModelVersion:
    """Train, evaluate, score every active user as of the data end and save a new version."""
    config = config or ChurnConfig()
    end = data_end(query)
    if end is None:
        raise NotEnoughData("the warehouse has no events; load data first (`uba data demo`)")
    end = end + timedelta(seconds=1)
    events = events_frame(query)
    model, metrics = fit_churn(events, end, config)
    now = _population(events, end, config)
    scores = pd.DataFrame({"risk": model.proba(now)}, index=now.index)
    scores["drivers"] = [json.dumps(d) for d in model.drivers(now)]
    scores = scores.join(_users_frame(query), how="left").reset_index()
    scores["as_of"] = str(end)
    fingerprint = pd.util.hash_pandas_object(events[["user_id", "ts", "event_type"]], index=False).sum()
    with tempfile.TemporaryDirectory() as tmp:
        model_path, scores_path = Path(tmp) / _MODEL, Path(tmp) / _SCORES
        model_path.write_bytes(pickle.dumps(model))
        scores.to_parquet(scores_path, index=False)
        protocol = (
            f"time split: fit on features before end-{2 * config.horizon_days}d with labels in the next "
            f"{config.horizon_days}d, {config.calibration_share:.0%} of those users held out for calibration; "
            f"evaluated on features before end-{config.horizon_days}d, labels in the last {config.horizon_days}d; "
            f"population: users active in the {config.active_days}d before the cutoff"
        )
        return registry.save(
            config.target,
            {_MODEL: model_path, _SCORES: scores_path},
            fingerprint=f"{int(fingerprint) & 0xFFFFFFFFFFFFFFFF:016x}-{len(events)}",
            metrics=metrics,
            protocol=protocol,
            config=asdict(config),
        )


def load_churn(version: ModelVersion) -> tuple[ChurnModel, pd.DataFrame]:
    """The fitted model and the stored scores of a version; :class:`ModelCorrupt` when damaged."""
    model_path, scores_path = version.file(_MODEL), version.file(_SCORES)
    try:
        model = pickle.loads(model_path.read_bytes())
        scores = pd.read_parquet(scores_path)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, OSError) as exc:
        raise ModelCorrupt(f"cannot load {version.label} ({exc}); retrain with `uba train {version.name}`") from exc
    if not isinstance(model, ChurnModel):
        raise ModelCorrupt(f"{str(model_path)!r} does not hold a churn model; retrain with `uba train {version.name}`")
    return model, scores
