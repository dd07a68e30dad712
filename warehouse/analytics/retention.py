"""Retention: cohorts by signup or first event, and the share of each cohort active in later periods.

Periods are calendar days or Monday-start weeks; period k is k buckets after the cohort's bucket.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from warehouse.analytics._base import DateRange, EventType, Result, heatmap, lit, run, where
from warehouse.group_size import GroupFloor, suppress
from warehouse.safe_sql import SafeSql

_ADJ = {"day": "daily", "week": "weekly"}


class RetentionRequest(DateRange):
    """A cohort table; start/end bound the cohort dates."""

    cohort_by: Literal["signup", "first_event"] = Field(
        "signup", description="signup = users.signup_ts; first_event = the user's first (cohort_event) event."
    )
    cohort_event: EventType | None = Field(
        None, description="With first_event: which event type starts the cohort; default any."
    )
    return_event: EventType | None = Field(None, description="Event type that counts as returning; default any.")
    period: Literal["day", "week"] = Field("week", description="Cohort and return bucket.")
    periods: int = Field(8, ge=1, le=30, description="How many periods after the cohort period to show.")


def compile_retention(request: RetentionRequest) -> str:
    """The SQL answering ``request``: one row per (cohort, period) with the cohort size and users active."""
    bucket = f"'{request.period}'"
    days = 7 if request.period == "week" else 1
    if request.cohort_by == "signup":
        cohort = (
            f"SELECT u.user_id, CAST(DATE_TRUNC({bucket}, u.signup_ts) AS DATE) AS cohort FROM users AS u "
            f"{where(['u.signup_ts IS NOT NULL', *request.conditions('u.signup_ts')])}"
        )
    else:
        first = [f"e.event_type = {lit(request.cohort_event)}"] if request.cohort_event else []
        having = " AND ".join(request.conditions("MIN(e.ts)"))
        cohort = (
            f"SELECT e.user_id, CAST(DATE_TRUNC({bucket}, MIN(e.ts)) AS DATE) AS cohort FROM events AS e "
            f"{where(first)} GROUP BY e.user_id" + (f" HAVING {having}" if having else "")
        )
    returning = [f"e.event_type = {lit(request.return_event)}"] if request.return_event else []
    activity = (
        f"SELECT DISTINCT e.user_id, CAST(DATE_TRUNC({bucket}, e.ts) AS DATE) AS active "
        f"FROM events AS e {where(returning)}"
    )
    # One (user, bucket) row per activity, so COUNT(*) per (cohort, period) counts distinct users.
    return (
        f"WITH c AS ({cohort}), a AS ({activity}), "
        f"sizes AS (SELECT c.cohort, COUNT(*) AS cohort_size FROM c GROUP BY c.cohort), "
        f"ret AS (SELECT c.cohort, CAST((a.active - c.cohort) / {days} AS INTEGER) AS period, COUNT(*) AS users "
        f"FROM c JOIN a ON a.user_id = c.user_id AND a.active >= c.cohort "
        f"AND a.active <= c.cohort + {request.periods * days} GROUP BY 1, 2) "
        f"SELECT s.cohort, s.cohort_size, r.period, r.users FROM sizes AS s "
        f"LEFT JOIN ret AS r ON r.cohort = s.cohort ORDER BY 1, 3"
    )


def _horizon(safe: SafeSql, request: RetentionRequest, user_scope: str | None) -> tuple[pd.Timestamp | None, str]:
    """The last period bucket the caller's data covers (a scoped caller's own last event: no other user's
    activity, not even its date, reaches a scope), and its SQL."""
    done = safe.run(
        f"SELECT CAST(DATE_TRUNC('{request.period}', MAX(ts)) AS DATE) AS last FROM events",
        limit=1,
        user_scope=user_scope,
    )
    last = done.result.rows[0][0] if done.result.rows else None
    return (pd.Timestamp(last) if last is not None else None), done.sql


def retention(
    safe: SafeSql, request: RetentionRequest, *, user_scope: str | None = None, min_group_users: int = 0
) -> Result:
    """Run a retention analysis; rows are (cohort, cohort_size, period_0..period_N) as shares of the cohort.

    ``min_group_users``: a cohort of fewer users is suppressed and left out of the pooled figure."""
    long, sql = run(safe, compile_retention(request), user_scope)
    period_cols = [f"period_{k}" for k in range(request.periods + 1)]
    sizes = long.groupby("cohort", sort=True)["cohort_size"].first().astype(int)
    hits = long.dropna(subset=["period"])
    counts = pd.DataFrame(0, index=sizes.index, columns=range(request.periods + 1))
    for row in hits.itertuples(index=False):
        counts.loc[row.cohort, int(row.period)] = int(row.users)
    counts.columns = period_cols
    shares = counts.div(sizes, axis=0).round(4)
    # A period after the data's last event has not happened yet: empty, not 0% retained.
    horizon, horizon_sql = _horizon(safe, request, user_scope)
    step = pd.Timedelta(days=7 if request.period == "week" else 1)
    if horizon is not None:
        for k, col in enumerate(period_cols):
            future = [pd.Timestamp(c) + k * step > horizon for c in shares.index]
            shares[col] = shares[col].astype("float64").mask(future)
    frame = pd.concat([sizes.rename("cohort_size"), shares], axis=1).reset_index()
    frame = frame[["cohort", "cohort_size", *period_cols]]
    floor = GroupFloor(min_group_users, user_scope)
    small = floor.too_small(frame["cohort_size"], counts_caller=True)
    shown = ~small.to_numpy()
    if frame.empty:
        summary = f"No cohorts in {request.describe()}."
    elif not shown.any():
        summary = f"{len(frame)} {_ADJ[request.period]} cohorts by {request.cohort_by.replace('_', ' ')}: suppressed."
    else:
        sizes, counts, shares = sizes[shown], counts[shown], shares[shown]
        seen = shares["period_1"].notna()
        size = int(sizes[seen].sum())
        p1 = (counts.loc[seen, "period_1"].sum() / size) if size else None
        pooled = (
            f"{100 * p1:.1f}% were active again in the next {request.period} (period 1, the "
            f"{int(seen.sum())} cohorts old enough pooled)"
            if p1 is not None
            else f"no cohort is old enough to have a next {request.period} yet"
        )
        summary = (
            f"{len(frame)} {_ADJ[request.period]} cohorts by {request.cohort_by.replace('_', ' ')} "
            f"({int(sizes.sum()):,} users, {request.describe()}); {pooled}."
        )
    summary += floor.note(int(small.sum()), len(frame))
    frame = suppress(frame, small, ["cohort_size", *period_cols])
    chart = heatmap(
        f"retention by {request.period}",
        period_cols,
        [str(c) for c in frame["cohort"]],
        frame[period_cols].values.tolist(),
    )
    return Result("retention", frame, [sql, horizon_sql], summary, chart)
