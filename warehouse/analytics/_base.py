"""What every analytic shares: the Result, request fields, SQL literals, guarded execution, chart specs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from sqlglot import exp

from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql

logger = logging.getLogger(__name__)

EventType = Literal["view", "search", "add_to_cart", "remove_from_cart", "favorite", "purchase", "review"]
ALL_EVENTS = "all"


def _all_is_none(value: Any) -> Any:
    return None if value == ALL_EVENTS else value


if TYPE_CHECKING:  # a Literal built from EventType at run time is beyond a static checker
    EventFilter = str | None
else:
    EventFilter = Annotated[
        Literal[(*get_args(EventType), ALL_EVENTS)] | None,  # one Literal: a bad value gets one error naming them all
        AfterValidator(_all_is_none),
        # The schema a caller (and a tool-calling model) sees offers "all", not null. Measured: offered null, the
        # embedded model wrote "event_type": null for "how many purchases in October" and counted every event.
        WithJsonSchema({"type": "string", "enum": [*get_args(EventType), ALL_EVENTS]}),
    ]
"""An event-type filter: one type, or ``"all"`` (or left out, or null) for every type; validated to the type or None."""
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def _in_bounds(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(
            f"date {value.isoformat()!r} is outside {FIRST_DAY} .. {LAST_DAY}; "
            "give a day within the data (or leave it out for all data)"
        )
    return value


Day = Annotated[date, AfterValidator(_in_bounds)]
"""A calendar day in a range every engine and Python's date arithmetic can hold (9999-12-31 overflowed)."""

UserDimension = Literal["country", "device", "channel"]
RESULT_ROWS = 10_000


class AnalyticsError(WarehouseError):
    """An analytic request cannot be answered as asked (the message says what to change)."""


class UnknownUser(AnalyticsError):
    """The user id is not in the warehouse (or outside the caller's scope)."""


@dataclass
class Result:
    """An analytic's answer: the table, the SQL that ran, a one-paragraph summary and a Plotly chart spec."""

    name: str
    table: pd.DataFrame
    queries: list[str]
    summary: str
    chart_spec: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def sql(self) -> str:
        """Every statement that ran, in order."""
        return ";\n\n".join(self.queries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` prints)."""
        return {
            "analytic": self.name,
            "summary": self.summary,
            "columns": [str(c) for c in self.table.columns],
            "rows": self.table.astype(object).where(self.table.notna(), None).values.tolist(),
            "sql": self.queries,
            "chart": self.chart_spec,
            "details": self.details,
        }


class DateRange(BaseModel):
    """Optional inclusive date bounds on event (or cohort) time."""

    model_config = ConfigDict(extra="forbid")

    start: Day | None = Field(None, description="First day included (YYYY-MM-DD); default: all data.")
    end: Day | None = Field(None, description="Last day included (YYYY-MM-DD); default: all data.")

    @model_validator(mode="after")
    def _ordered(self):
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}; swap them")
        return self

    def conditions(self, column: str) -> list[str]:
        """SQL conditions bounding ``column`` (a timestamp) to the range."""
        out = []
        if self.start:
            out.append(f"{column} >= {ts_literal(datetime.combine(self.start, time.min))}")
        if self.end:
            out.append(f"{column} < {ts_literal(datetime.combine(self.end + timedelta(days=1), time.min))}")
        return out

    def describe(self) -> str:
        """Human words for the range."""
        if not (self.start or self.end):
            return "all time"
        return f"{self.start or 'the start'} to {self.end or 'the end'}"


def lit(value: str) -> str:
    """A SQL string literal, quoted and escaped."""
    return exp.Literal.string(str(value)).sql()


def ts_literal(value: datetime) -> str:
    """A portable timestamp literal."""
    return f"TIMESTAMP {lit(value.strftime('%Y-%m-%d %H:%M:%S'))}"


def where(conditions: list[str]) -> str:
    """``WHERE a AND b`` or nothing."""
    return ("WHERE " + " AND ".join(conditions)) if conditions else ""


def run(safe: SafeSql, sql: str, user_scope: str | None) -> tuple[pd.DataFrame, str]:
    """Execute ``sql`` through the guard on the read-only connection; the frame and the SQL that ran."""
    done = safe.run(sql, limit=RESULT_ROWS, user_scope=user_scope)
    if done.result.truncated:
        logger.warning("analytic result capped at %d rows", len(done.result.rows))
    frame = pd.DataFrame.from_records(done.result.rows, columns=done.result.columns)
    return frame, done.sql


def line_chart(title: str, frame: pd.DataFrame, x: str, y: str, series: str | None = None) -> dict[str, Any]:
    """Plotly line chart JSON, one trace per ``series`` value."""
    groups = frame.groupby(series, sort=True) if series else [("total", frame)]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": str(name),
            "x": [str(v) for v in part[x]],
            "y": [_num(v) for v in part[y]],
        }
        for name, part in groups
    ]
    return {
        "data": data,
        "layout": {"title": {"text": title}, "xaxis": {"title": {"text": x}}, "yaxis": {"title": {"text": y}}},
    }


def bar_chart(title: str, labels: list[Any], values: list[Any], *, horizontal: bool = False) -> dict[str, Any]:
    """Plotly bar chart JSON."""
    labels = [str(v) for v in labels]
    values = [_num(v) for v in values]
    trace = (
        {"type": "bar", "x": values, "y": labels, "orientation": "h"}
        if horizontal
        else {"type": "bar", "x": labels, "y": values}
    )
    layout = {"title": {"text": title}}
    if horizontal:
        layout["yaxis"] = {"autorange": "reversed"}
    return {"data": [trace], "layout": layout}


def heatmap(title: str, x: list[str], y: list[str], z: list[list[Any]]) -> dict[str, Any]:
    """Plotly heatmap JSON."""
    return {
        "data": [
            {"type": "heatmap", "x": x, "y": y, "z": [[_num(v) for v in row] for row in z], "colorscale": "Blues"}
        ],
        "layout": {"title": {"text": title}, "yaxis": {"autorange": "reversed"}},
    }


def _num(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
