"""Split-conformal prediction intervals from out-of-sample (rolling-origin) forecast errors.

The errors come from forecasts made at many past origins with only the data before each origin;
their finite-sample conformal quantiles give intervals that cover at the nominal rate when the
future errors behave like the past ones. Errors are pooled over horizon steps after dividing by
each step's RMS (non-decreasing in the step), so a few dozen origins suffice for 95 %. The error
scale is either absolute or relative to the forecast level; which one is chosen on the later
origins' coverage when the earlier origins calibrate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVELS = {"lo95": 0.025, "lo80": 0.10, "hi80": 0.90, "hi95": 0.975}
SCALES = ("absolute", "relative")
_MIN_ORIGINS_TO_CHOOSE = 8


@dataclass
class Residuals:
    """Per horizon step: actual minus forecast, the forecast's level (floored) and the forecast origin."""

    errors: list[np.ndarray]
    levels: list[np.ndarray]
    origins: list[np.ndarray]

    def subset(self, keep: list[np.ndarray]) -> Residuals:
        """The residuals where ``keep[h]`` is true."""
        return Residuals(
            [e[k] for e, k in zip(self.errors, keep, strict=True)],
            [v[k] for v, k in zip(self.levels, keep, strict=True)],
            [o[k] for o, k in zip(self.origins, keep, strict=True)],
        )

    def scores(self, scale: str) -> list[np.ndarray]:
        """Errors in the units of ``scale`` (absolute, or divided by the forecast level)."""
        if scale not in SCALES:
            raise ValueError(f"unknown interval scale {scale!r}; expected one of {SCALES}")
        return [e / v if scale == "relative" else e for e, v in zip(self.errors, self.levels, strict=True)]


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal order statistic of ``scores`` for a one-sided ``level`` (0 when empty).

    Upper levels take the ceil((n+1)·level)-th smallest score, lower levels the
    floor((n+1)·level)-th; beyond the sample the extreme score is used (too few scores).
    """
    ordered = np.sort(np.asarray(scores, dtype=float))
    n = len(ordered)
    if n == 0:
        return 0.0
    rank = math.ceil((n + 1) * level) if level >= 0.5 else math.floor((n + 1) * level)
    return float(ordered[min(max(rank, 1), n) - 1])


def _step_scales(scores: list[np.ndarray]) -> np.ndarray:
    rms = np.array([np.sqrt(np.mean(np.square(s))) if len(s) else np.nan for s in scores])
    if np.all(np.isnan(rms)):
        return np.zeros(len(scores))
    rms = np.nan_to_num(rms, nan=float(np.nanmax(rms)))
    return np.maximum.accumulate(rms)


def conformal_quantiles(scores: list[np.ndarray]) -> dict[str, list[float]]:
    """Interval offsets per horizon step, in the units of ``scores``, for every level in :data:`LEVELS`."""
    scale = _step_scales(scores)
    pooled = [s / scale[h] for h, s in enumerate(scores) if len(s) and scale[h] > 0]
    z = np.concatenate(pooled) if pooled else np.empty(0)
    return {key: [float(conformal_quantile(z, level) * s) for s in scale] for key, level in LEVELS.items()}


def _coverage(scores: list[np.ndarray], quantiles: dict[str, list[float]]) -> tuple[float, float]:
    hits80, hits95 = [], []
    for h, s in enumerate(scores):
        hits80.append((s >= quantiles["lo80"][h]) & (s <= quantiles["hi80"][h]))
        hits95.append((s >= quantiles["lo95"][h]) & (s <= quantiles["hi95"][h]))
    return float(np.concatenate(hits80).mean()), float(np.concatenate(hits95).mean())


def calibrate(
    residuals: Residuals, check_share: float = 0.4
) -> tuple[str, dict[str, list[float]], dict[str, float | str]]:
    """(scale, per-step offsets, record): the scale whose intervals from the earlier origins cover the later ones best.

    With fewer than 8 origins the scale is absolute. The final offsets use every origin.
    """
    origins = np.unique(np.concatenate(residuals.origins)) if residuals.origins else np.empty(0)
    record: dict[str, float | str] = {
        "origins": int(len(origins)),
        "errors": int(sum(len(e) for e in residuals.errors)),
    }
    chosen, best = "absolute", math.inf
    if len(origins) >= _MIN_ORIGINS_TO_CHOOSE:
        cut = origins[int(len(origins) * (1 - check_share))]
        early = residuals.subset([o < cut for o in residuals.origins])
        late = residuals.subset([o >= cut for o in residuals.origins])
        for scale in SCALES:
            cover80, cover95 = _coverage(late.scores(scale), conformal_quantiles(early.scores(scale)))
            miss = abs(cover80 - 0.8) + abs(cover95 - 0.95)
            record[f"check_{scale}"] = f"80% {cover80:.2f}, 95% {cover95:.2f}"
            if miss < best - 1e-9:
                chosen, best = scale, miss
    record["scale"] = chosen
    return chosen, conformal_quantiles(residuals.scores(chosen)), record
