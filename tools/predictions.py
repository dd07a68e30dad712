"""Prediction tools: next items/actions, churn risk and metric forecasts from trained, versioned models.

Every answer names the model version it came from; a missing or damaged model is a short error
the LLM can relay ("run `uba train next`"), never a crash. A caller scoped to one end user may
only ask about that user: global lists and business forecasts are refused.
"""

from __future__ import annotations

import json
import logging
import re
from typing import ClassVar, Literal

import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from predictor import (
    ModelRegistry,
    NextModel,
    PredictorError,
    forecast_metric,
    load_churn,
    load_forecast,
    predict_next,
)
from predictor.forecast import MAX_HORIZON, metric_series
from predictor.source import sql_literal
from tools.artifact import Chart, Citation, ToolArtifact
from tools.sql import _validation_text
from tools.tabular import table_from_frame, table_text
from warehouse.errors import WarehouseError
from warehouse.safe_sql import SafeSql

logger = logging.getLogger(__name__)

_QUERY_ROWS = 10_000
_CHOSEN = {"validation": "chosen on validation", "request": "asked for at training (`uba train next --serve`)"}


class PredictNextArgs(BaseModel):
    """Arguments of ``predict_next``."""

    user_id: str = Field(min_length=1, max_length=200, description="The user's id, exactly as stored.")
    k: int = Field(5, ge=1, le=20, description="How many likely next items to return.")

    id_fields: ClassVar[tuple[str, ...]] = ("user_id",)
    """Arguments whose value must be an id the conversation names (``agent.grounded_args``)."""
    asked_for: ClassVar[re.Pattern[str]] = re.compile(
        r"\b(?:do|does|doing|buy|view|purchase|click)\s+next\b|\bnext\s+(?:action|step|thing|move|purchase|item|event|"
        r"click)s?\b|\b(?:likely|going|expected)\s+to\s+(?:do|buy|view|purchase)\b|"
        r"\bpredict\w*\b(?!.*\b(?:revenue|sales|active\s+users|next\s+(?:week|month))\b)|下一步|接下来",
        re.IGNORECASE,
    )
    """A question asking for a user's next actions: after the step that found the user, this call is next
    (``agent.graph``)."""

    def grounded_values(self) -> list[str]:
        """The user id must come from the question or an earlier result (``agent.tool_runner``)."""
        return [self.user_id]


class ChurnRiskArgs(BaseModel):
    """Arguments of ``churn_risk``."""

    user_id: str | None = Field(None, min_length=1, max_length=200, description="One user's id; omit to rank users.")
    segment: Literal["country", "device", "channel"] | None = Field(
        None, description="Rank only users with this attribute equal to segment_value."
    )
    segment_value: str | None = Field(None, max_length=100, description="The attribute value, e.g. 'US' or 'mobile'.")
    top_n: int = Field(10, ge=1, le=50, description="How many highest-risk users to list.")

    id_fields: ClassVar[tuple[str, ...]] = ("user_id",)
    """Arguments whose value must be an id the conversation names (``agent.grounded_args``)."""
    asked_for: ClassVar[re.Pattern[str]] = re.compile(
        r"\bchurn\s+(?:risk|probability|score)|\b(?:at|high)[\s-]risk\b|\brisk\s+of\s+churn|\b(?:likely|going|about)\s+to\s+"
        r"(?:churn|leave|quit|stop)\b|\bwill\s+(?:churn|leave)\b|流失风险|可能流失",
        re.IGNORECASE,
    )
    """A question asking who will churn: after the step that found the users, this call is next."""

    def grounded_values(self) -> list[str]:
        """A user id, when given, must come from the question or an earlier result."""
        return [self.user_id] if self.user_id else []


class ForecastArgs(BaseModel):
    """Arguments of ``forecast``."""

    metric: Literal["purchases", "revenue", "active_users"] = Field(description="The metric to forecast.")
    horizon: int = Field(7, ge=1, le=28, description="How many periods ahead (at most 28 days or 8 weeks).")
    grain: Literal["day", "week"] = Field("day", description="Daily or weekly (Monday-started) periods.")

    asked_for: ClassVar[re.Pattern[str]] = re.compile(
        r"\bforecast\w*|\bproject(?:ed|ion)s?\b|\b(?:predict\w*|expect\w*)\b.*\bnext\s+(?:week|month|\d+\s+days)\b|"
        r"预测.*(?:收入|销量|购买|活跃)",
        re.IGNORECASE,
    )
    """A question asking for a metric's future: after the steps before it, this call is next."""


def _query(safe: SafeSql, scope: str | None):
    def query(sql: str) -> pd.DataFrame:
        done = safe.run(sql, limit=_QUERY_ROWS, user_scope=scope)
        return pd.DataFrame.from_records(done.result.rows, columns=done.result.columns)

    return query


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def _bar(title: str, labels: list, values: list, x_title: str) -> Chart:
    spec = {
        "data": [{"type": "bar", "orientation": "h", "x": values, "y": [str(v) for v in labels]}],
        "layout": {"title": {"text": title}, "xaxis": {"title": {"text": x_title}}, "yaxis": {"autorange": "reversed"}},
    }
    return Chart(title=title, spec=spec)


class PredictionTools:
    """The three prediction tools over one registry and one guarded query path; models cached per version."""

    def __init__(self, registry: ModelRegistry, safe: SafeSql, user_scope: str | None = None) -> None:
        self.registry, self.safe, self.scope = registry, safe, user_scope
        self._cache: dict[str, object] = {}

    def _load(self, name: str, loader):
        version = self.registry.latest(name)
        key = str(version.path)
        if key not in self._cache:
            self._cache[key] = loader(version)
        return version, self._cache[key]

    def _check_scope(self, user_id: str | None, what: str) -> None:
        if self.scope is not None and user_id != self.scope:
            raise ToolException(f"error: this caller may only ask about user {self.scope!r}; {what} is not available")

    def predict_next(self, args: PredictNextArgs) -> tuple[str, ToolArtifact]:
        """Top-k next items and next-action probabilities for one user."""
        self._check_scope(args.user_id, f"predictions for user {args.user_id!r}")
        query = _query(self.safe, self.scope)
        version, model = self._load("next", NextModel.load)
        pred = predict_next(query, model, args.user_id, args.k)
        because = {i: d for i, d in pred.drivers.items() if d}
        titles = _titles(query, [i for i, _ in pred.items] + [j for d in because.values() for j, _ in d])
        items = pd.DataFrame(
            {
                "rank": range(1, len(pred.items) + 1),
                "item_id": [i for i, _ in pred.items],
                "title": [titles.get(i) for i, _ in pred.items],
                "probability" if pred.serving == "sasrec" else "score": [round(p, 4) for _, p in pred.items],
                "because_of": [
                    "; ".join(f"{_named(j, titles)} {_pct(s)}" for j, s in pred.drivers.get(i, []))
                    for i, _ in pred.items
                ],
            }
        )
        kinds = pd.DataFrame(pred.event_types, columns=["next_event_type", "probability"]).round(4)
        serving = version.metrics.get("serving", "sasrec")
        test = version.metrics.get(serving, {})
        quality = (
            (
                f"{serving} serves, {_CHOSEN.get(version.metrics.get('serving_chosen_by'), _CHOSEN['validation'])}; "
                f"test NDCG@10 {test.get('NDCG@10', 0):.3f}, "
                f"HR@10 {test.get('HR@10', 0):.3f} vs transitions "
                f"{version.metrics.get('transitions', {}).get('HR@10', 0):.3f}"
            )
            if test
            else "no test metrics"
        )
        head = f"Model {version.label} ({quality}); user {args.user_id!r}, {pred.history_events} recent events used."
        lines = [head, *pred.notes]
        lines.append("Next items: " + ", ".join(f"{_named(i, titles)} {_pct(p)}" for i, p in pred.items))
        if because:
            lines.append(
                "Because of recent items (share of the score): "
                + "; ".join(
                    f"{i} <- " + ", ".join(f"{_named(j, titles)} {_pct(s)}" for j, s in d) for i, d in because.items()
                )
            )
        if pred.event_types:
            lines.append("Next action: " + ", ".join(f"{t} {_pct(p)}" for t, p in pred.event_types[:4]))
        tables = [table_from_frame(f"next items for user {args.user_id}", items)]
        if not kinds.empty:
            tables.append(table_from_frame(f"next action for user {args.user_id}", kinds))
        artifact = ToolArtifact(
            tool="predict_next",
            tables=tables,
            charts=[
                _bar(
                    f"next-item {items.columns[3]}, user {args.user_id}",
                    items["item_id"].tolist(),
                    items.iloc[:, 3].tolist(),
                    items.columns[3],
                )
            ],
            citations=[Citation(kind="model", ref=version.label, detail=f"predict_next {args.model_dump()}")],
        )
        return "\n".join(lines), artifact

    def churn_risk(self, args: ChurnRiskArgs) -> tuple[str, ToolArtifact]:
        """Calibrated churn probability of one user, or the highest-risk users (optionally of a segment)."""
        if self.scope is not None:
            self._check_scope(args.user_id, "ranking other users")
        version, (_, scores) = self._load("churn", load_churn)
        as_of = str(scores["as_of"].iloc[0]) if len(scores) else "?"
        horizon = version.config.get("horizon_days", "?")
        auc = version.metrics.get("auc")
        head = (
            f"Model {version.label} (probability of no activity in the {horizon} days after {as_of}; "
            f"out-of-time AUC {auc}, Brier {version.metrics.get('brier')})."
        )
        cite = Citation(kind="model", ref=version.label, detail=f"churn_risk {args.model_dump(exclude_none=True)}")
        if args.user_id is not None:
            row = scores[scores["user_id"] == args.user_id]
            if row.empty:
                raise ToolException(
                    f"error: user {args.user_id!r} is not in the scored population of {version.label} (no activity in the "
                    f"{version.config.get('active_days', '?')} days before {as_of}, unknown, or new since training)"
                )
            risk = float(row["risk"].iloc[0])
            drivers = json.loads(row["drivers"].iloc[0])
            frame = pd.DataFrame(drivers or [], columns=["feature", "value", "median", "risk_change"])
            text = f"{head}\nUser {args.user_id!r}: churn risk {_pct(risk)}. " + (
                "Top drivers (risk drop if typical): "
                + ", ".join(
                    f"{d['feature']}={d['value']} (median {d['median']}, -{_pct(d['risk_change'])})" for d in drivers
                )
                if drivers
                else "No feature raises the risk above a typical user's."
            )
            return text, ToolArtifact(
                tool="churn_risk",
                tables=[table_from_frame(f"churn drivers, user {args.user_id}", frame)],
                charts=[
                    _bar(
                        f"churn drivers, user {args.user_id}",
                        frame["feature"].tolist(),
                        frame["risk_change"].tolist(),
                        "risk drop if typical",
                    )
                ],
                citations=[cite],
            )
        chosen = scores
        label = "all scored users"
        if args.segment is not None:
            if args.segment_value is None:
                raise ToolException("error: segment needs segment_value, e.g. segment='country', segment_value='US'")
            chosen = scores[scores[args.segment].astype(str) == args.segment_value]
            label = f"{args.segment}={args.segment_value}"
            if chosen.empty:
                known = sorted(scores[args.segment].dropna().astype(str).unique())[:20]
                raise ToolException(f"error: no scored users with {label}; known values: {known}")
        top = chosen.sort_values("risk", ascending=False).head(args.top_n)
        frame = pd.DataFrame(
            {
                "user_id": top["user_id"],
                "churn_risk": top["risk"].round(4),
                "top_driver": [(json.loads(d)[0]["feature"] if json.loads(d) else "") for d in top["drivers"]],
                "country": top["country"],
                "device": top["device"],
                "channel": top["channel"],
            }
        )
        table = table_from_frame(f"highest churn risk, {label}", frame)
        text = (
            f"{head}\n{label}: {len(chosen)} users, mean risk {_pct(float(chosen['risk'].mean()))}, "
            f"{int((chosen['risk'] >= 0.5).sum())} at 50% or more.\n" + table_text(table, max_rows=args.top_n)
        )
        return text, ToolArtifact(
            tool="churn_risk",
            tables=[table],
            charts=[
                _bar(f"churn risk, {label}", frame["user_id"].tolist(), frame["churn_risk"].tolist(), "probability")
            ],
            citations=[cite],
        )

    def forecast(self, args: ForecastArgs) -> tuple[str, ToolArtifact]:
        """Point forecast with 80%/95% intervals for a business metric."""
        if self.scope is not None:
            raise ToolException("error: forecasts of business metrics are not available to a caller scoped to one user")
        if args.horizon > MAX_HORIZON[args.grain]:
            raise ToolException(
                f"error: horizon {args.horizon} is too long for grain {args.grain!r}; at most {MAX_HORIZON[args.grain]}"
            )
        version, models = self._load("forecast", load_forecast)
        query = _query(self.safe, None)
        table_df = forecast_metric(query, models, args.metric, args.grain, args.horizon)
        history = metric_series(query, args.metric, args.grain).tail(8 * (7 if args.grain == "day" else 1))
        back = version.metrics.get(f"{args.metric}/{args.grain}", {})
        quality = (
            (
                f"backtest MASE {back['mase_holt_winters']} vs seasonal naive {back['mase_seasonal_naive']}, "
                f"80% interval coverage {back['coverage80']}"
            )
            if "mase_holt_winters" in back
            else "not backtested"
        )
        total = table_df["forecast"].sum()
        text = (
            f"Model {version.label} (Holt-Winters; {quality}). {args.metric} per {args.grain}, next {args.horizon}: "
            f"total {total:,.1f}.\n"
            + "\n".join(
                f"{r.period}: {r.forecast:,.1f} (80% {r.lo80:,.1f}-{r.hi80:,.1f}; 95% {r.lo95:,.1f}-{r.hi95:,.1f})"
                for r in table_df.head(14).itertuples()
            )
        )
        rounded = table_df.round(2)
        return text, ToolArtifact(
            tool="forecast",
            tables=[table_from_frame(f"{args.metric} forecast per {args.grain}", rounded)],
            charts=[_forecast_chart(args.metric, history, rounded)],
            citations=[Citation(kind="model", ref=version.label, detail=f"forecast {args.model_dump()}")],
        )


def _named(item_id: str, titles: dict[str, str]) -> str:
    """``id (title)`` when the item has a title, else the id."""
    return f"{item_id} ({titles[item_id]})" if titles.get(item_id) else item_id


def _titles(query, item_ids: list[str]) -> dict[str, str]:
    if not item_ids:
        return {}
    frame = query(
        f"SELECT i.item_id, i.title FROM items AS i WHERE i.item_id IN ({', '.join(map(sql_literal, item_ids))})"
    )
    return {str(k): v for k, v in zip(frame["item_id"], frame["title"], strict=True) if v is not None}


def _forecast_chart(metric: str, history: pd.Series, table: pd.DataFrame) -> Chart:
    periods = [str(p) for p in table["period"]]
    spec = {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "history",
                "x": [str(d.date()) for d in history.index],
                "y": [float(v) for v in history],
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "95% upper",
                "x": periods,
                "y": table["hi95"].tolist(),
                "line": {"width": 0},
                "showlegend": False,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": "95% interval",
                "x": periods,
                "y": table["lo95"].tolist(),
                "fill": "tonexty",
                "line": {"width": 0},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "forecast",
                "x": periods,
                "y": table["forecast"].tolist(),
            },
        ],
        "layout": {"title": {"text": f"{metric} forecast"}, "yaxis": {"title": {"text": metric}}},
    }
    return Chart(title=f"{metric} forecast", spec=spec)


def _wrap(name: str, description: str, args_model: type[BaseModel], method) -> BaseTool:
    def run(**kwargs) -> tuple[str, ToolArtifact]:
        try:
            return method(args_model(**kwargs))
        except (PredictorError, WarehouseError) as exc:
            raise ToolException(f"error: {exc}") from None

    return StructuredTool.from_function(
        func=run,
        name=name,
        description=description,
        args_schema=args_model,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_validation_text,
    )


def build_predictor_tools(deps) -> list[BaseTool]:
    """``predict_next``, ``churn_risk`` and ``forecast`` for ``deps`` (needs ``models`` and ``safe_sql``/``readonly``)."""
    registry = getattr(deps, "models", None)
    if registry is None:
        return []
    safe = getattr(deps, "safe_sql", None) or SafeSql(deps.readonly)
    tools = PredictionTools(registry, safe, getattr(deps, "user_scope", None))
    return [
        _wrap(
            "predict_next",
            "Predict a user's most likely next items and next action from their recent events.",
            PredictNextArgs,
            tools.predict_next,
        ),
        _wrap(
            "churn_risk",
            "Score churn risk for one user, or list the highest-risk users of a segment, with drivers.",
            ChurnRiskArgs,
            tools.churn_risk,
        ),
        _wrap(
            "forecast",
            "Forecast daily or weekly purchases, revenue or active users with prediction intervals.",
            ForecastArgs,
            tools.forecast,
        ),
    ]
