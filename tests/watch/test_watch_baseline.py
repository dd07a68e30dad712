"""The seasonal robust band on series with a weekly pattern, a trend and Poisson noise."""

from __future__ import annotations

import numpy as np
import pytest

from watch.baseline import band, flag


def _series(days: int, seed: int = 0, growth: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekly = np.array([1.0, 0.9, 0.9, 1.0, 1.1, 1.4, 1.3])[t % 7]
    return rng.poisson(80 * weekly * (1 + growth) ** t).astype(float)


def test_a_growing_weekly_series_raises_no_alarm_and_a_planted_drop_does():
    y = _series(120)
    assert [t for t, _ in flag(y, "day", start=56)] == []
    dropped = y.copy()
    dropped[90] *= 0.4
    spiked = y.copy()
    spiked[100] *= 2.0
    assert [(t, b.outside(dropped[t])) for t, b in flag(dropped, "day", start=56)] == [(90, "below")]
    assert [(t, b.outside(spiked[t])) for t, b in flag(spiked, "day", start=56)] == [(100, "above")]


def test_the_band_follows_the_weekday_and_an_earlier_anomaly_does_not_widen_it():
    y = _series(70, growth=0.0)
    saturday = band(y[:68], "day")  # index 68 is a Saturday of the pattern (phase 5: 1.4x)
    monday = band(y[:65], "day")  # phase 2: 0.9x
    assert saturday.expected > monday.expected * 1.3
    spoiled = y.copy()
    spoiled[61] = 0.0  # an outage the week before
    assert band(spoiled[:68], "day").high == pytest.approx(saturday.high, rel=0.1)


def test_hourly_bands_use_the_hour_of_the_week_and_too_little_history_is_refused():
    hours = np.arange(24 * 7 * 5)
    rate = 5 + 20 * np.exp(-((hours % 24 - 14) ** 2) / 18)  # a busy afternoon, quiet nights
    y = np.random.default_rng(3).poisson(rate).astype(float)
    night, peak = band(y[: 24 * 28 + 3], "hour"), band(y[: 24 * 28 + 14], "hour")
    assert night.expected < peak.low and peak.expected > night.high
    with pytest.raises(ValueError, match="three weeks"):
        band(y[:100], "hour")
