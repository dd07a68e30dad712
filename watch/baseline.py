"""The seasonal robust baseline: the band a point of a daily or hourly series is expected to fall in.

On the square-root scale (where a count's noise hardly depends on its level) the last weeks are split
by median polish into a level per week and an effect per phase (weekday, or hour of the week), with a
trend (Theil-Sen slope of the levels). The expected point is the last level moved on by the trend plus
its phase's effect; the band's half-width is ``z`` robust standard
deviations of what is left (1.4826 x its median absolute deviation). Medians keep one earlier anomaly
from moving the band.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Grain = Literal["day", "hour"]
SEASON: dict[str, int] = {"day": 7, "hour": 24 * 7}
"""Points per season: a week of days, a week of hours."""
SEASONS: dict[str, int] = {"day": 8, "hour": 4}
"""Weeks of history the baseline reads."""
MIN_SEASONS = 3
DEFAULT_Z = 4.0
SPREAD_FLOOR = 0.5
"""Least half-width unit on the square-root scale: a Poisson count's noise there."""


@dataclass(frozen=True)
class Band:
    """Where a point was expected: the median and the band's bounds."""

    expected: float
    low: float
    high: float

    def outside(self, value: float) -> Literal["above", "below"] | None:
        """Whether ``value`` lies above or below the band (None: inside)."""
        if value > self.high:
            return "above"
        if value < self.low:
            return "below"
        return None


def history_needed(grain: Grain) -> int:
    """Points of history before the checked point that the baseline uses (fewer, down to 3 weeks, still work)."""
    return SEASON[grain] * SEASONS[grain]


def _theil_sen(levels: np.ndarray) -> float:
    """The median of pairwise slopes: a trend one odd week cannot tilt."""
    pairs = [(levels[j] - levels[i]) / (j - i) for i in range(len(levels)) for j in range(i + 1, len(levels))]
    return float(np.median(pairs)) if pairs else 0.0


def _median_polish(rows: np.ndarray, sweeps: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(week levels, phase effects) of a weeks x phases table by Tukey's median polish: one odd point moves
    neither its week's level (taken after the phase effects are removed) nor its phase's effect."""
    levels, phase = np.zeros(rows.shape[0]), np.zeros(rows.shape[1])
    for _ in range(sweeps):
        levels = np.median(rows - phase, axis=1)
        phase = np.median(rows - levels[:, None], axis=0)
    return levels, phase


def band(history: np.ndarray, grain: Grain, z: float = DEFAULT_Z) -> Band:
    """The band of the point right after ``history``; ValueError with fewer than three weeks of history."""
    season = SEASON[grain]
    weeks = min(SEASONS[grain], len(history) // season)
    if weeks < MIN_SEASONS:
        raise ValueError(
            f"{len(history)} {grain}s of history are too few; the baseline needs at least "
            f"{MIN_SEASONS * season} (three weeks)"
        )
    # On the square-root scale a count's noise is about the same at every level (night hours and peak days).
    rows = np.sqrt(np.maximum(np.asarray(history[-weeks * season :], dtype=float), 0.0)).reshape(weeks, season)
    levels, phase = _median_polish(rows)
    residuals = rows - levels[:, None] - phase
    spread = max(1.4826 * float(np.median(np.abs(residuals))), SPREAD_FLOOR)
    # A week's median sits mid-week; the next point starts the week after the last one.
    ahead = (season + 1) / 2 / season
    centre = levels[-1] + _theil_sen(levels) * ahead + phase[0]
    low, high = max(centre - z * spread, 0.0), max(centre + z * spread, 0.0)
    return Band(expected=max(centre, 0.0) ** 2, low=low**2, high=high**2)


def flag(series: np.ndarray, grain: Grain, start: int, z: float = DEFAULT_Z) -> list[tuple[int, Band]]:
    """Every point from index ``start`` on that lies outside the band of the history before it."""
    flagged = []
    for t in range(start, len(series)):
        b = band(series[:t], grain, z)
        if b.outside(float(series[t])):
            flagged.append((t, b))
    return flagged
