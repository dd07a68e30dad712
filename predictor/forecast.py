"""Metric forecasts: additive Holt-Winters (damped trend, weekly season on daily data) with
split-conformal prediction intervals, backtested on rolling origins against the seasonal-naive forecast.
"""

from __future__ import annotations

import itertools
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from predictor.errors import ModelCorrupt, NotEnoughData
from predictor.intervals import Residuals, calibrate
from predictor.registry import ModelRegistry, ModelVersion
from predictor.source import Query

logger = logging.getLogger(__name__)

Metric = Literal["purchases", "revenue", "active_users"]
Grain = Literal["day", "week"]
METRICS: tuple[str, ...] = ("purchases", "revenue", "active_users")
SEASON = {"day": 7, "week": 1}
MAX_HORIZON = {"day": 28, "week": 8}
_FILE = "forecast.json"
_GRID = list(itertools.product((0.05, 0.1, 0.2, 0.3, 0.5, 0.7), (0.0, 0.05, 0.15), (0.05, 0.15, 0.3), (0.9, 0.98)))
_SQL = {
    "purchases": "COUNT(*) FROM events AS e WHERE e.event_type = 'purchase'",
    "revenue": "COALESCE(SUM(e.value), 0) FROM events AS e WHERE e.event_type = 'purchase'",
    "active_users": "COUNT(DISTINCT e.user_id) FROM events AS e",
}


def metric_series(query: Query, metric: str, grain: str = "day") -> pd.Series:
    """The metric per day (or Monday-started week), zero-filled; partial first/last weeks dropped."""
    if metric not in _SQL:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    period = "CAST(e.ts AS DATE)" if grain == "day" else "CAST(DATE_TRUNC('week', e.ts) AS DATE)"
    frame = query(f"SELECT {period} AS period, {_SQL[metric]} GROUP BY 1 ORDER BY 1")
    if frame.empty:
        return pd.Series(dtype=float)
    span = query("SELECT MIN(e.ts) AS first_ts, MAX(e.ts) AS last_ts FROM events AS e")
    first, last = pd.Timestamp(span.iloc[0, 0]), pd.Timestamp(span.iloc[0, 1])
    values = pd.Series(frame.iloc[:, 1].astype(float).to_numpy(), index=pd.to_datetime(frame.iloc[:, 0]))
    freq = "D" if grain == "day" else "W-MON"
    start, end = first.normalize(), last.normalize()
    if grain == "week":
        start = (start - pd.Timedelta(days=start.weekday())) + (
            pd.Timedelta(days=7) if first.weekday() else pd.Timedelta(0)
        )
        end = (
            end - pd.Timedelta(days=end.weekday()) - (pd.Timedelta(days=7) if last.weekday() != 6 else pd.Timedelta(0))
        )
    return values.reindex(pd.date_range(start, end, freq=freq), fill_value=0.0).astype(float)


def _filter(y: np.ndarray, m: int, alpha: float, beta: float, gamma: float, phi: float):
    """Run the smoother; one-step errors and the state (level, trend, season) after each point."""
    n = len(y)
    level = y[:m].mean()
    trend = (y[m : 2 * m].mean() - y[:m].mean()) / m if n >= 2 * m and m > 1 else 0.0
    season = list(y[:m] - level) if m > 1 else [0.0]
    errors = np.zeros(n)
    states = []
    for t in range(n):
        s = season[t % m] if m > 1 else 0.0
        forecast = level + phi * trend + s
        errors[t] = y[t] - forecast
        new_level = alpha * (y[t] - s) + (1 - alpha) * (level + phi * trend)
        trend = beta * (new_level - level) + (1 - beta) * phi * trend
        if m > 1:
            season[t % m] = gamma * (y[t] - new_level) + (1 - gamma) * s
        level = new_level
        states.append((level, trend, tuple(season), t + 1))
    return errors, states


def _grid_search(y: np.ndarray, m: int) -> tuple[float, float, float, float]:
    """(alpha, beta, gamma, phi) with the least one-step squared error after the first season."""
    burn = max(m, 2)
    return min(_GRID, key=lambda p: float(np.sum(_filter(y, m, *p)[0][burn:] ** 2)))


def _rolling_residuals(y: np.ndarray, m: int, horizon: int) -> tuple[Residuals, float]:
    """Out-of-sample h-step errors at every origin from the fourth season on, and the level floor.

    The parameters are re-selected on the data before the origin once per season, so no error
    comes from a model that saw its target. The floor (5 % of the mean absolute value) keeps
    relative errors finite near zero.
    """
    floor = max(0.05 * float(np.mean(np.abs(y))), 1e-9)
    start = max(3 * m, 4)
    if len(y) - start < 2:
        start = max(2 * m, 2)
    errors: list[list[float]] = [[] for _ in range(horizon)]
    levels: list[list[float]] = [[] for _ in range(horizon)]
    origins: list[list[int]] = [[] for _ in range(horizon)]
    refit_at, params, states = -len(y), None, []
    for origin in range(start, len(y)):
        if origin - refit_at >= max(m, 1):
            params, refit_at = _grid_search(y[:origin], m), origin
            _, states = _filter(y, m, *params)  # the state after step t uses y[:t + 1] only
        ahead = _project(states[origin - 1], m, params[3], horizon)
        for h in range(min(horizon, len(y) - origin)):
            errors[h].append(float(y[origin + h] - ahead[h]))
            levels[h].append(max(abs(float(ahead[h])), floor))
            origins[h].append(origin)
    as_arrays = [[np.asarray(v, dtype=float) for v in rows] for rows in (errors, levels)]
    return Residuals(*as_arrays, [np.asarray(o, dtype=np.int64) for o in origins]), floor


def _project(state, m: int, phi: float, horizon: int) -> np.ndarray:
    level, trend, season, t_next = state
    damp = np.cumsum(phi ** np.arange(1, horizon + 1))
    seas = np.array([season[(t_next + h) % m] if m > 1 else 0.0 for h in range(horizon)])
    return level + damp * trend + seas


@dataclass
class HoltWinters:
    """Fitted smoothing parameters and per-step interval offsets (absolute, or relative to the forecast)."""

    m: int
    alpha: float
    beta: float
    gamma: float
    phi: float
    quantiles: dict[str, list[float]]
    scale: str = "absolute"
    level_floor: float = 0.0
    calibration: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, y: np.ndarray, m: int, horizon: int) -> HoltWinters:
        """Grid-search the parameters on one-step squared error; intervals split-conformal from rolling origins."""
        if len(y) < max(2 * m, 4) + horizon:
            raise NotEnoughData(f"{len(y)} points are too few to fit a season of {m} and score {horizon} steps ahead")
        residuals, floor = _rolling_residuals(y, m, horizon)
        scale, quantiles, record = calibrate(residuals)
        return cls(m, *_grid_search(y, m), quantiles, scale, floor, record)

    def forecast(self, y: np.ndarray, horizon: int) -> pd.DataFrame:
        """Point forecast and 80%/95% intervals for the next ``horizon`` steps after ``y``."""
        _, states = _filter(y, self.m, self.alpha, self.beta, self.gamma, self.phi)
        point = _project(states[-1], self.m, self.phi, horizon)
        out = pd.DataFrame({"forecast": point})
        unit = np.maximum(np.abs(point), self.level_floor) if self.scale == "relative" else np.ones(horizon)
        for key, q in self.quantiles.items():
            steps = np.array([q[min(h, len(q) - 1)] for h in range(horizon)])
            out[key] = point + steps * unit
        return out.clip(lower=0.0)


def seasonal_naive(y: np.ndarray, m: int, horizon: int) -> np.ndarray:
    """Repeat the last season (the last value when ``m`` is 1)."""
    return np.array([y[len(y) - m + (h % m)] for h in range(horizon)])


def backtest(y: np.ndarray, m: int, horizon: int, folds: int = 4) -> dict[str, Any]:
    """Rolling-origin MASE of Holt-Winters and seasonal naive over the last ``folds`` windows, plus coverage."""
    ours, naive, cover80, cover95 = [], [], [], []
    for k in range(folds, 0, -1):
        origin = len(y) - k * horizon
        train, actual = y[:origin], y[origin : origin + horizon]
        if len(actual) < horizon:
            continue
        if origin <= m:
            continue
        scale = np.mean(np.abs(train[m:] - train[:-m])) or 1.0
        try:
            model = HoltWinters.fit(train, m, horizon)
        except NotEnoughData:
            continue
        fc = model.forecast(train, horizon)
        ours.append(float(np.mean(np.abs(actual - fc["forecast"].to_numpy())) / scale))
        naive.append(float(np.mean(np.abs(actual - seasonal_naive(train, m, horizon))) / scale))
        cover80.append(float(np.mean((actual >= fc["lo80"]) & (actual <= fc["hi80"]))))
        cover95.append(float(np.mean((actual >= fc["lo95"]) & (actual <= fc["hi95"]))))
    if not ours:
        raise NotEnoughData(f"{len(y)} points leave no backtest window of {horizon} steps")
    return {
        "folds": len(ours),
        "horizon": horizon,
        "mase_holt_winters": round(float(np.mean(ours)), 4),
        "mase_seasonal_naive": round(float(np.mean(naive)), 4),
        "coverage80": round(float(np.mean(cover80)), 3),
        "coverage95": round(float(np.mean(cover95)), 3),
        "points": len(ours) * horizon,
    }


def train_forecast(query: Query, registry: ModelRegistry, *, folds: int = 4) -> ModelVersion:
    """Fit every metric at daily and weekly grain, backtest each, save one version."""
    models: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    digest = []
    for metric, grain in itertools.product(METRICS, ("day", "week")):
        y = metric_series(query, metric, grain).to_numpy()
        digest.append(f"{metric}/{grain}:{len(y)}:{float(np.sum(y)):.4f}")
        m, horizon = SEASON[grain], MAX_HORIZON[grain]
        key = f"{metric}/{grain}"
        try:
            model = HoltWinters.fit(y, m, horizon)
        except NotEnoughData as exc:
            logger.warning("forecast %s skipped: %s", key, exc)
            continue
        models[key] = model.__dict__
        step = 7 if grain == "day" else 4
        try:
            metrics[key] = backtest(y, m, step, folds)
        except NotEnoughData as exc:
            metrics[key] = {"skipped": str(exc)}
    if not models:
        raise NotEnoughData("no metric has enough history to forecast; need at least ~3 weeks of daily data")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / _FILE
        path.write_text(json.dumps(models))
        protocol = (
            f"rolling-origin backtest, {folds} folds of 7 days (daily) / 4 weeks (weekly); MASE scaled by the "
            "in-sample seasonal-naive MAE (m=7 daily, m=1 weekly); 80%/95% intervals split-conformal from "
            "rolling-origin out-of-sample errors on the training data"
        )
        return registry.save(
            "forecast",
            {_FILE: path},
            fingerprint=";".join(digest),
            metrics=metrics,
            protocol=protocol,
            config={"grid": len(_GRID), "max_horizon": MAX_HORIZON},
        )


def load_forecast(version: ModelVersion) -> dict[str, HoltWinters]:
    """The fitted models of a version by ``metric/grain``; :class:`ModelCorrupt` when damaged."""
    path = version.file(_FILE)
    try:
        return {key: HoltWinters(**params) for key, params in json.loads(path.read_text()).items()}
    except (ValueError, TypeError, OSError) as exc:
        raise ModelCorrupt(f"cannot load {version.label} ({exc}); retrain with `uba train forecast`") from exc


def forecast_metric(
    query: Query, models: dict[str, HoltWinters], metric: str, grain: str, horizon: int
) -> pd.DataFrame:
    """History-conditioned forecast table: period, forecast, lo80, hi80, lo95, hi95."""
    key = f"{metric}/{grain}"
    if key not in models:
        raise NotEnoughData(
            f"the forecast model has no {key!r} (too little history when trained); "
            "load more data and run `uba train forecast`"
        )
    series = metric_series(query, metric, grain)
    out = models[key].forecast(series.to_numpy(), horizon)
    step = pd.Timedelta(days=1 if grain == "day" else 7)
    out.insert(0, "period", [(series.index[-1] + step * (h + 1)).date() for h in range(horizon)])
    return out


def last_period(series: pd.Series) -> date | None:
    """The last observed period of a series."""
    return None if series.empty else series.index[-1].date()
