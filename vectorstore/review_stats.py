"""Review counts and rating distribution for a filter, computed by SQL on the warehouse."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Literal

from sqlalchemy import Select, and_, func, select

from vectorstore.search import ReviewFilter

logger = logging.getLogger(__name__)

Grain = Literal["day", "week", "month", "year"]


@dataclass
class ReviewStats:
    """Totals, the 1–5 star distribution and counts per period for one filter."""

    total: int
    average_rating: float | None
    ratings: dict[int, int]
    over_time: list[tuple[str, int, float | None]]
    grain: str
    sql: list[str] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=dict)
    """Reviews per sentiment (negative, neutral, positive) from ``review_sentiment``; empty before it is scored."""
    sentiment_over_time: list[tuple[str, int, float, float]] = field(default_factory=list)
    """(period, scored reviews, share negative, average score from -1 to 1) per period."""

    def to_dict(self) -> dict:
        """Plain dict for JSON output."""
        return asdict(self)


def _filtered(query: Select, flt: ReviewFilter) -> Select:
    from warehouse.schema import items, reviews

    conditions = []
    if flt.item is not None:
        conditions.append(reviews.c.item_id == flt.item)
    if flt.user is not None:
        conditions.append(reviews.c.user_id == flt.user)
    if flt.category is not None:
        query = query.select_from(reviews.join(items, items.c.item_id == reviews.c.item_id))
        conditions.append(items.c.category == flt.category)
    if flt.min_rating is not None:
        conditions.append(reviews.c.rating >= flt.min_rating)
    if flt.max_rating is not None:
        conditions.append(reviews.c.rating <= flt.max_rating)
    if flt.since is not None:
        conditions.append(reviews.c.ts >= datetime.combine(flt.since, time.min))
    if flt.until is not None:
        conditions.append(reviews.c.ts < datetime.combine(flt.until + timedelta(days=1), time.min))
    return query.where(and_(*conditions)) if conditions else query


def _runner(warehouse, user_scope: str | None = None):
    """(dialect, run) for a ``Warehouse`` (SQLAlchemy engine) or a read-only executor with ``query(sql)``."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    if hasattr(warehouse, "query"):
        dialect = make_url(warehouse.url).get_dialect()()
        return dialect, lambda sql: warehouse.query(sql, user_scope=user_scope).rows

    def run(sql: str):
        with warehouse.engine.connect() as conn:
            return conn.execute(text(sql)).all()

    return warehouse.engine.dialect, run


def review_stats(
    warehouse,
    flt: ReviewFilter = ReviewFilter(),
    *,
    grain: Grain = "month",
    max_periods: int = 120,
    user_scope: str | None = None,
) -> ReviewStats:
    """Rating distribution and review counts per ``grain`` for the reviews passing ``flt``.

    ``user_scope``: only that user's reviews count, filtered here and (on a read-only executor) by the
    engine's scoped connection too.
    """
    if user_scope is not None:
        flt = replace(flt, user=user_scope)
    from warehouse.schema import reviews

    if grain not in ("day", "week", "month", "year"):
        raise ValueError(f"grain={grain!r} is not one of day, week, month, year")
    by_rating = _filtered(select(reviews.c.rating, func.count().label("n")).select_from(reviews), flt)
    by_rating = by_rating.group_by(reviews.c.rating).order_by(reviews.c.rating)
    period = func.date_trunc(grain, reviews.c.ts).label("period")
    by_period = _filtered(
        select(period, func.count().label("n"), func.avg(reviews.c.rating).label("avg")).select_from(reviews), flt
    )
    by_period = by_period.where(reviews.c.ts.is_not(None)).group_by(period).order_by(period.desc()).limit(max_periods)
    # The SQL is rendered once with literal values, so what runs is exactly what the citation shows.
    dialect, run = _runner(warehouse, user_scope)
    sql = [str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for q in (by_rating, by_period)]
    rating_rows, period_rows = run(sql[0]), run(sql[1])
    ratings = {star: 0 for star in range(1, 6)}
    unrated = 0
    for rating, n in rating_rows:
        if rating is None:
            unrated += n
        else:
            ratings[int(rating)] = ratings.get(int(rating), 0) + int(n)
    rated = sum(ratings.values())
    average = round(sum(s * n for s, n in ratings.items()) / rated, 3) if rated else None
    over_time = [
        (p.date().isoformat() if hasattr(p, "date") else str(p), int(n), round(float(a), 3) if a is not None else None)
        for p, n, a in reversed(period_rows)
    ]
    stats = ReviewStats(
        total=rated + unrated,
        average_rating=average,
        ratings=ratings,
        over_time=over_time,
        grain=grain,
        sql=sql,
    )
    _add_sentiment(stats, dialect, run, flt, grain, max_periods)
    return stats


def _add_sentiment(stats: ReviewStats, dialect, run, flt: ReviewFilter, grain: Grain, max_periods: int) -> None:
    """Sentiment counts and per-period shares for the same filter, when the reviews have been scored."""
    from sqlalchemy import case
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.errors import WarehouseError
    from warehouse.review_sentiment import SENTIMENTS, review_sentiment
    from warehouse.schema import reviews

    scored = review_sentiment
    ids = _filtered(select(reviews.c.review_id).select_from(reviews), flt)
    by_sentiment = (
        select(scored.c.sentiment, func.count().label("n"))
        .where(scored.c.review_id.in_(ids))
        .group_by(scored.c.sentiment)
        .order_by(scored.c.sentiment)
    )
    period = func.date_trunc(grain, reviews.c.ts).label("period")
    negative = func.avg(case((scored.c.sentiment == "negative", 1.0), else_=0.0))
    by_period = (
        select(period, func.count().label("n"), negative.label("negative"), func.avg(scored.c.score).label("score"))
        .select_from(reviews.join(scored, scored.c.review_id == reviews.c.review_id))
        .where(reviews.c.review_id.in_(ids), reviews.c.ts.is_not(None))
        .group_by(period)
        .order_by(period.desc())
        .limit(max_periods)
    )
    sql = [str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for q in (by_sentiment, by_period)]
    try:
        counts, periods = run(sql[0]), run(sql[1])
    except (WarehouseError, SQLAlchemyError) as exc:  # no review_sentiment table: reviews not scored yet
        logger.debug("no review sentiment: %s", exc)
        return
    found = {str(label): int(n) for label, n in counts}
    if not found:
        return
    stats.sentiment = {label: found.get(label, 0) for label in SENTIMENTS}
    stats.sentiment_over_time = [
        (p.date().isoformat() if hasattr(p, "date") else str(p), int(n), round(float(neg), 4), round(float(sc), 4))
        for p, n, neg, sc in reversed(periods)
    ]
    stats.sql += sql


def item_titles(warehouse) -> list[tuple[str, str]]:
    """Every (item_id, title) of the catalogue, for recognising an item named in a question."""
    from warehouse.schema import items

    dialect, run = _runner(warehouse)
    sql = str(select(items.c.item_id, items.c.title).compile(dialect=dialect))
    return [(str(i), str(t)) for i, t in run(sql) if i is not None and t]
