"""Anomaly alerts: a layer measure per day or hour checked against its seasonal band, and the segments that moved."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql
from warehouse.semantic import SemanticLayer, run_query, spec_model
from warehouse.semantic.query import fmt
from watch.baseline import DEFAULT_Z, SEASONS, Band, Grain, band, history_needed
from watch.errors import WatchError

logger = logging.getLogger(__name__)

SEGMENT_DIMENSIONS = 6
TOP_SEGMENTS = 3
CHART_POINTS = {"day": 42, "hour": 72}


class AlertRule(BaseModel):
    """What an alert watches: one measure of the layer per day or hour, optionally filtered."""

    model_config = ConfigDict(extra="forbid")
    measure: str = Field(description="a measure of the semantic layer (`uba layer show`)")
    grain: Grain = Field("day", description="check each day, or each hour")
    filters: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=3,
        description="query-spec filters, e.g. {'dimension': 'country', 'value': 'DE'}",
    )
    z: float | None = Field(None, gt=0, le=20, description="band half-width in robust standard deviations")


class Segment(BaseModel):
    """One value of a dimension and how far it moved from its own expected value."""

    dimension: str
    value: str
    actual: float
    expected: float
    change: float
    share_of_gap: float | None = None


class AlertCheck(BaseModel):
    """The checked point: value, expected range, whether it fired and what moved most."""

    measure: str
    grain: Grain
    period: str
    value: float
    expected: float
    low: float
    high: float
    direction: Literal["above", "below"] | None
    segments: list[Segment] = Field(default_factory=list)
    text: str
    chart: dict[str, Any]


def check_rule(rule: AlertRule, layer: SemanticLayer) -> AlertRule:
    """``rule`` with its measure and filters validated against the layer; WatchError naming the fix."""
    if rule.measure not in layer.measures:
        raise WatchError(f"measure {rule.measure!r} does not exist; known measures: {', '.join(layer.measures)}")
    if layer.measures[rule.measure].agg == "rate":
        raise WatchError(
            f"measure {rule.measure!r} is a conversion rate, which has no daily series; watch a count or sum instead"
        )
    if rule.grain == "hour" and "hour_of_day" not in layer.dimensions:
        raise WatchError("hourly alerts need the layer's hour_of_day dimension; put it back or use grain day")
    _spec(layer, rule, grain="day", last_days=1)  # the filters must name the layer's dimensions and values
    return rule


def _spec(layer: SemanticLayer, rule: AlertRule, **fields):
    try:
        return spec_model(layer)(measure=rule.measure, filters=[*rule.filters, *fields.pop("extra", [])], **fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise WatchError(f"alert on {rule.measure!r} is invalid: {problems}") from None


def _query(safe: SafeSql, layer: SemanticLayer, spec, user_scope: str | None):
    try:
        return run_query(safe, layer, spec, user_scope=user_scope)
    except WarehouseError as exc:
        raise WatchError(f"the alert's query failed: {exc}") from None


def measure_series(safe: SafeSql, layer: SemanticLayer, rule: AlertRule, *, user_scope: str | None = None) -> pd.Series:
    """The measure per day (or hour) over the baseline's history and the checked point, zero-filled."""
    days = history_needed(rule.grain) // (24 if rule.grain == "hour" else 1) + 1
    if rule.grain == "day":
        result = _query(safe, layer, _spec(layer, rule, grain="day", last_days=days), user_scope)
        index = pd.to_datetime(result.table["day"]) if len(result.table) else pd.DatetimeIndex([])
    else:
        result = _query(
            safe, layer, _spec(layer, rule, grain="day", dimensions=["hour_of_day"], last_days=days), user_scope
        )
        table = result.table
        index = (
            pd.to_datetime(table["day"]) + pd.to_timedelta(table["hour_of_day"].astype(int), unit="h")
            if len(table)
            else pd.DatetimeIndex([])
        )
    values = pd.Series(result.table["value"].astype(float).to_numpy() if len(result.table) else [], index=index)
    start, end = (pd.Timestamp(d) for d in result.details["window"])
    last = values.index.max() if len(values) else end
    freq = "D" if rule.grain == "day" else "h"
    full = pd.date_range(start, last if rule.grain == "hour" else end, freq=freq)
    return values.groupby(level=0).sum().reindex(full, fill_value=0.0)


def evaluate(
    safe: SafeSql, layer: SemanticLayer, rule: AlertRule, *, user_scope: str | None = None, z: float = DEFAULT_Z
) -> AlertCheck:
    """Check the series' last point against the band of the weeks before it; the segments when it fired."""
    check_rule(rule, layer)
    series = measure_series(safe, layer, rule, user_scope=user_scope)
    if len(series) < 2:
        raise WatchError(f"{rule.measure!r} has no {rule.grain}ly history in the warehouse yet")
    try:
        expected = band(series.to_numpy()[:-1], rule.grain, rule.z or z)
    except ValueError as exc:
        raise WatchError(f"cannot check {rule.measure!r}: {exc}") from None
    at, value = series.index[-1], float(series.iloc[-1])
    direction = expected.outside(value)
    segments = _segments(safe, layer, rule, at, value - expected.expected, direction, user_scope) if direction else []
    period = str(at.date()) if rule.grain == "day" else at.strftime("%Y-%m-%d %H:00")
    return AlertCheck(
        measure=rule.measure,
        grain=rule.grain,
        period=period,
        value=value,
        expected=expected.expected,
        low=expected.low,
        high=expected.high,
        direction=direction,
        segments=segments,
        text=_text(layer, rule, period, value, expected, direction, segments),
        chart=_chart(rule, series, expected),
    )


def _segments(
    safe: SafeSql,
    layer: SemanticLayer,
    rule: AlertRule,
    at: pd.Timestamp,
    gap: float,
    direction: str,
    user_scope: str | None,
) -> list[Segment]:
    """The dimension values whose own change went furthest the alert's way (vs the same weekday/hour before)."""
    measure = layer.measure(rule.measure)
    filtered = {f.get("dimension") for f in rule.filters}
    dims = [
        d.name
        for d in layer.dimensions.values()
        if d.values and d.entity != "time" and not d.text and d.name not in filtered and layer.applies(measure, d)
    ][:SEGMENT_DIMENSIONS]
    day: date = at.date()
    weeks = SEASONS["day"] if rule.grain == "day" else SEASONS["hour"]
    extra = [{"dimension": "hour_of_day", "op": "eq", "value": float(at.hour)}] if rule.grain == "hour" else []
    found: list[Segment] = []
    for name in dims:
        spec = _spec(
            layer, rule, grain="day", dimensions=[name], start=day - timedelta(days=7 * weeks), end=day, extra=extra
        )
        table = _query(safe, layer, spec, user_scope).table
        if table.empty:
            continue
        table = table.assign(day=pd.to_datetime(table["day"]).dt.date)
        wide = table.pivot_table(index="day", columns=name, values="value", aggfunc="sum").fillna(0.0)
        if wide.shape[1] < 2:
            continue  # one value (the measure's own event type, say) says nothing about where it moved
        before = [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]
        base = wide.reindex(before, fill_value=0.0).median(axis=0)
        now = wide.reindex([day], fill_value=0.0).iloc[0]
        for value, actual in now.items():
            change = float(actual) - float(base.get(value, 0.0))
            share = change / gap if gap and measure.agg in {"count", "sum", "count_distinct"} else None
            found.append(
                Segment(
                    dimension=name,
                    value=str(value),
                    actual=float(actual),
                    expected=float(base.get(value, 0.0)),
                    change=change,
                    share_of_gap=None if share is None else round(share, 3),
                )
            )
    sign = 1.0 if direction == "above" else -1.0
    found = [s for s in found if sign * s.change > 0]
    return sorted(found, key=lambda s: -sign * s.change)[:TOP_SEGMENTS]


def _text(
    layer: SemanticLayer,
    rule: AlertRule,
    period: str,
    value: float,
    b: Band,
    direction: str | None,
    segments: list[Segment],
) -> str:
    measure = layer.measure(rule.measure)
    name = rule.measure.replace("_", " ")
    scope = "".join(f" ({f.get('dimension')} {f.get('op') or 'matches'} {f.get('value')!r})" for f in rule.filters)
    head = (
        f"{name}{scope} in {period}: {fmt(measure, value)}, expected {fmt(measure, b.low)} to "
        f"{fmt(measure, b.high)} (typical {fmt(measure, b.expected)})"
    )
    if direction is None:
        return head + "; within the expected range."
    moved = "; ".join(
        f"{s.dimension} {s.value}: {fmt(measure, s.actual)} vs {fmt(measure, s.expected)} typical "
        f"({'+' if s.change >= 0 else '-'}{fmt(measure, abs(s.change))}"
        + (f", {100 * s.share_of_gap:.0f}% of the gap" if s.share_of_gap is not None else "")
        + ")"
        for s in segments
    )
    return f"ALERT: {head}; {direction} the expected range." + (f" Moved most: {moved}." if moved else "")


def _chart(rule: AlertRule, series: pd.Series, b: Band) -> dict[str, Any]:
    tail = series.iloc[-CHART_POINTS[rule.grain] :]
    x = [str(t.date()) if rule.grain == "day" else t.strftime("%Y-%m-%d %H:00") for t in tail.index]
    return {
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": rule.measure, "x": x, "y": [float(v) for v in tail]},
            {
                "type": "scatter",
                "mode": "lines",
                "name": "expected range",
                "x": [x[-1], x[-1]],
                "y": [b.low, b.high],
                "line": {"width": 8},
                "opacity": 0.4,
            },
            {"type": "scatter", "mode": "markers", "name": "typical", "x": [x[-1]], "y": [b.expected]},
        ],
        "layout": {"title": {"text": f"{rule.measure} per {rule.grain}: last point vs its expected range"}},
    }
