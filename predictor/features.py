"""Recency/frequency/monetary and behavior features per user as of a cutoff, from events strictly before it."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

FEATURES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "events_7d",
    "events_30d",
    "events_90d",
    "active_days_30d",
    "sessions_30d",
    "views_30d",
    "searches_30d",
    "carts_30d",
    "favorites_30d",
    "purchases_90d",
    "purchases_total",
    "revenue_90d",
    "days_since_purchase",
    "cart_to_purchase_90d",
    "trend_14d",
)
"""Feature names, in model column order."""

_NEVER = 9999.0


def user_features(events: pd.DataFrame, cutoff: datetime) -> pd.DataFrame:
    """One row per user with any event before ``cutoff``; only events with ``ts < cutoff`` are read."""
    cutoff = pd.Timestamp(cutoff)
    ev = events.loc[
        pd.to_datetime(events["ts"]) < cutoff, ["user_id", "ts", "event_type", "value", "session_id"]
    ].copy()
    if ev.empty:
        return pd.DataFrame(columns=list(FEATURES), index=pd.Index([], name="user_id"), dtype=float)
    ev["ts"] = pd.to_datetime(ev["ts"])
    ev["user_id"] = ev["user_id"].astype(str)
    age = (cutoff - ev["ts"]).dt.total_seconds() / 86400.0
    ev["age"] = age
    g = ev.groupby("user_id", sort=True)
    out = pd.DataFrame(index=g.size().index)
    out["recency_days"] = g["age"].min()
    out["tenure_days"] = g["age"].max()

    def count(mask: pd.Series) -> pd.Series:
        return ev[mask].groupby("user_id").size().reindex(out.index, fill_value=0).astype(float)

    out["events_7d"] = count(age < 7)
    out["events_30d"] = count(age < 30)
    out["events_90d"] = count(age < 90)
    recent = ev[age < 30]
    out["active_days_30d"] = (
        recent.assign(day=recent["ts"].dt.floor("D"))
        .groupby("user_id")["day"]
        .nunique()
        .reindex(out.index, fill_value=0)
        .astype(float)
    )
    out["sessions_30d"] = (
        recent.groupby("user_id")["session_id"].nunique().reindex(out.index, fill_value=0).astype(float)
    )
    kind = ev["event_type"]
    out["views_30d"] = count((kind == "view") & (age < 30))
    out["searches_30d"] = count((kind == "search") & (age < 30))
    out["carts_30d"] = count((kind == "add_to_cart") & (age < 30))
    out["favorites_30d"] = count((kind == "favorite") & (age < 30))
    out["purchases_90d"] = count((kind == "purchase") & (age < 90))
    out["purchases_total"] = count(kind == "purchase")
    buys = ev[(kind == "purchase") & (age < 90)]
    out["revenue_90d"] = buys.groupby("user_id")["value"].sum(min_count=1).reindex(out.index).fillna(0.0).astype(float)
    last_buy = ev[kind == "purchase"].groupby("user_id")["age"].min()
    out["days_since_purchase"] = last_buy.reindex(out.index).fillna(_NEVER)
    out["cart_to_purchase_90d"] = out["purchases_90d"] / (count((kind == "add_to_cart") & (age < 90)) + 1.0)
    out["trend_14d"] = count(age < 14) / (count((age >= 14) & (age < 28)) + 1.0)
    out.index.name = "user_id"
    return out[list(FEATURES)].astype(float)


def churn_labels(events: pd.DataFrame, users: pd.Index, start: datetime, days: float, target: str) -> pd.Series:
    """1 when the user churned (no event) or, for ``target='purchase'``, bought in [start, start + days)."""
    start = pd.Timestamp(start)
    ts = pd.to_datetime(events["ts"])
    window = events[(ts >= start) & (ts < start + pd.Timedelta(days=days))]
    if target == "purchase":
        active = set(window.loc[window["event_type"] == "purchase", "user_id"].astype(str))
        return pd.Series(np.isin(users, list(active)).astype(int), index=users)
    active = set(window["user_id"].astype(str))
    return pd.Series((~np.isin(users, list(active))).astype(int), index=users)
