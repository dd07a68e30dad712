"""The layer generated from the canonical schema and what the data holds (event types, filled attributes)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from warehouse.errors import WarehouseError
from warehouse.review_sentiment import SENTIMENT_TABLE
from warehouse.semantic.chinese import DIMENSION_WORDS, MEASURE_WORDS, with_chinese_words
from warehouse.semantic.countries import country_aliases
from warehouse.semantic.layer import Dimension, Measure, SemanticLayer, extend, load_overrides

logger = logging.getLogger(__name__)

MAX_LISTED_VALUES = 15
# Plural noun and "users who ..." phrase per canonical event type; other types get generic names.
_EVENT_WORDS: dict[str, tuple[str, str, str]] = {
    "view": ("views", "users_who_viewed", "product or page views"),
    "search": ("searches", "users_who_searched", "searches"),
    "add_to_cart": ("add_to_carts", "users_who_added_to_cart", "add-to-cart events"),
    "remove_from_cart": ("cart_removals", "users_who_removed_from_cart", "remove-from-cart events"),
    "favorite": ("favorites", "users_who_favorited", "favorite (wishlist) events"),
    "purchase": ("purchases", "users_who_purchased", "purchase events (one per item bought)"),
    "review": ("review_events", "users_who_reviewed", "review-writing events"),
}

_BEHAVIOR_WORDS: dict[str, list[str]] = {
    "view": ["view", "viewed", "viewer", "looked at", "browsed", "page view", "浏览"],
    "search": ["search", "searched", "searcher", "搜索"],
    "add_to_cart": [
        "add to cart",
        "added to cart",
        "add-to-cart",
        "added to their cart",
        "carted",
        "cart add",
        "加购",
        "加入购物车",
    ],
    "remove_from_cart": ["remove from cart", "removed from cart", "cart removal", "removed from their cart"],
    "favorite": ["favorite", "favorited", "favourite", "favourited", "wishlist", "wishlisted", "收藏"],
    "purchase": [
        "purchase",
        "purchased",
        "purchaser",
        "bought",
        "buy",
        "buyer",
        "paying customer",
        "order",
        "ordered",
        "customer who paid",
        "购买",
        "下单",
    ],
    "review": ["review", "reviewed", "reviewer", "left a review", "wrote a review", "评论"],
    "signup": ["signed up", "sign up", "signup", "sign-up", "registered", "registration", "joined", "new user", "注册"],
    "active": ["active", "activity", "came back", "come back", "returned", "visited", "活跃"],
}
"""The words questions use for each canonical behavior; an event type of another warehouse is named by
its own name (``home_visit``: "home visit"), and the layer file's ``behaviors`` adds words."""


def _behaviors(event_types: list[str], has: dict[str, bool]) -> dict[str, list[str]]:
    names = [*event_types, *(["signup"] if has["users"] else []), "active"]
    return {n: list(dict.fromkeys([n.replace("_", " "), *_BEHAVIOR_WORDS.get(n, [])])) for n in names}


def _event_measures(event_types: list[str]) -> list[Measure]:
    out = [
        Measure(name="events", description="events of every type", entity="events", agg="count"),
        Measure(
            name="active_users",
            description="distinct users with any event",
            entity="events",
            agg="count_distinct",
            column="user_id",
            synonyms=["users", "visitors"],
        ),
    ]
    for event_type in event_types:
        plural, users, words = _EVENT_WORDS.get(
            event_type, (f"{event_type}_events", f"users_who_{event_type}", f"{event_type} events")
        )
        where = f"event_type = '{event_type}'"
        out.append(
            Measure(
                name=plural,
                description=f"number of {words}",
                entity="events",
                agg="count",
                where=where,
                family="number of events of that type",
            )
        )
        out.append(
            Measure(
                name=users,
                description=f"distinct users with {words}",
                entity="events",
                agg="count_distinct",
                column="user_id",
                where=where,
                family="distinct users who did it",
            )
        )
    return out


def _other_measures(has: dict[str, bool]) -> list[Measure]:
    out: list[Measure] = []
    if has["purchase_value"]:
        out.append(
            Measure(
                name="revenue",
                description="sum of purchase values (sales)",
                entity="events",
                agg="sum",
                column="value",
                where="event_type = 'purchase'",
                format="money",
                synonyms=["sales", "GMV", "spend", "amount spent"],
            )
        )
    if has["orders"]:
        out += [
            Measure(name="orders", description="number of orders (checkouts)", entity="orders", agg="count"),
            Measure(
                name="avg_order_value",
                description="average order total",
                entity="orders",
                agg="avg",
                column="total",
                format="money",
                synonyms=["AOV", "basket size"],
            ),
            Measure(
                name="median_order_value",
                description="median order total",
                entity="orders",
                agg="median",
                column="total",
                format="money",
            ),
            Measure(
                name="order_total",
                description="sum of order totals",
                entity="orders",
                agg="sum",
                column="total",
                format="money",
            ),
        ]
    if has["users"]:
        out.append(
            Measure(
                name="signups",
                description="users who signed up (by signup time)",
                entity="users",
                agg="count",
                synonyms=["new users", "registrations", "registered users", "accounts created"],
            )
        )
    if has["sessions"]:
        out += [
            Measure(
                name="sessions",
                description="distinct sessions",
                entity="events",
                agg="count_distinct",
                column="session_id",
                synonyms=["visits"],
            ),
            Measure(
                name="avg_events_per_session",
                description="mean events per session",
                entity="events",
                agg="avg",
                per="session",
                format="number",
            ),
            Measure(
                name="median_events_per_session",
                description="median events per session",
                entity="events",
                agg="median",
                per="session",
                format="number",
            ),
            Measure(
                name="avg_session_minutes",
                description="mean session length in minutes (first to last event)",
                entity="events",
                agg="avg",
                per="session",
                per_agg="duration_minutes",
                format="number",
            ),
            Measure(
                name="median_session_minutes",
                description="median session length in minutes",
                entity="events",
                agg="median",
                per="session",
                per_agg="duration_minutes",
                format="number",
            ),
        ]
    if has["sessions"] and has["purchases"]:
        out.append(
            Measure(
                name="purchase_session_share",
                description="share of sessions with a purchase",
                entity="events",
                agg="avg",
                per="session",
                per_agg="any",
                where="event_type = 'purchase'",
                format="ratio",
                synonyms=["session conversion rate", "sessions that end with a purchase"],
            )
        )
    out += [
        Measure(
            name="avg_events_per_user",
            description="mean events per active user",
            entity="events",
            agg="avg",
            per="user",
            format="number",
        ),
        Measure(
            name="median_events_per_user",
            description="median events per active user",
            entity="events",
            agg="median",
            per="user",
            format="number",
        ),
    ]
    if has["sessions"]:
        out.append(
            Measure(
                name="avg_sessions_per_user",
                description="mean distinct sessions per active user",
                entity="events",
                agg="avg",
                per="user",
                per_agg="sessions",
                format="number",
                synonyms=["sessions per user", "visits per user"],
            )
        )
    if has["orders"]:
        out += [
            Measure(
                name="avg_orders_per_user",
                description="mean orders per customer who ordered",
                entity="orders",
                agg="avg",
                per="user",
                format="number",
                synonyms=["orders per customer", "orders per user", "purchase frequency"],
            ),
            Measure(
                name="avg_spend_per_user",
                description="mean total of order totals per customer who ordered",
                entity="orders",
                agg="avg",
                per="user",
                per_agg="sum",
                column="total",
                format="money",
                synonyms=["spend per customer", "average customer spend", "revenue per customer"],
            ),
        ]
    if has["reviews"]:
        out += [
            Measure(name="reviews", description="number of reviews", entity="reviews", agg="count"),
            Measure(
                name="avg_rating",
                description="average review rating (1-5 stars)",
                entity="reviews",
                agg="avg",
                column="rating",
                format="number",
                synonyms=["stars", "score"],
            ),
        ]
    if has["review_sentiment"]:
        scored = "reviews scored by the review indexer (uba index reviews)"
        out += [
            Measure(
                name="avg_sentiment",
                description=f"average review sentiment from -1 (negative) to 1 (positive), of {scored}",
                entity="review_sentiment",
                agg="avg",
                column="score",
                format="number",
                synonyms=["sentiment", "tone of reviews"],
            ),
            Measure(
                name="negative_review_share",
                description="share of scored reviews whose sentiment is negative",
                entity="review_sentiment",
                agg="avg",
                column="CASE WHEN sentiment = 'negative' THEN 1.0 ELSE 0.0 END",
                format="ratio",
                synonyms=["complaint rate", "share of negative reviews"],
            ),
            Measure(
                name="positive_review_share",
                description="share of scored reviews whose sentiment is positive",
                entity="review_sentiment",
                agg="avg",
                column="CASE WHEN sentiment = 'positive' THEN 1.0 ELSE 0.0 END",
                format="ratio",
            ),
            Measure(
                name="negative_reviews",
                description="number of reviews whose sentiment is negative",
                entity="review_sentiment",
                agg="count",
                where="sentiment = 'negative'",
                synonyms=["complaints"],
            ),
        ]
    out.append(
        Measure(
            name="conversion_rate",
            entity="events",
            agg="rate",
            format="ratio",
            description="share of users who did base_event in the window who also did target_event in it "
            "(base_event signup: signed up in the window, target any time after; active: any event; "
            "target_window next: the target in the period right after, e.g. back the next week)",
            synonyms=[
                "what share of users who did one thing also did another",
                "percentage of users who did something that went on to do something else",
                "of the users who did this, how many also did that",
                "share of a cohort active again in the following week or month",
            ],
        )
    )
    return out


def _dimensions(values: dict[str, list[str]], has: dict[str, bool]) -> list[Dimension]:
    def attr(name: str, entity: str, column: str, description: str, **more: Any) -> Dimension:
        return Dimension(
            name=name, entity=entity, column=column, description=description, values=values.get(name, []), **more
        )

    out = [
        attr(n, "users", n, f"the user's {n}", aliases=country_aliases(values.get(n, [])) if n == "country" else {})
        for n in ("country", "device", "channel")
        if has[f"users.{n}"]
    ]
    out += [attr(n, "items", n, f"the item's {n}") for n in ("category", "brand") if has[f"items.{n}"]]
    out += [
        attr("item", "items", "item_id", "one item (id, shown with its title)", label="title", synonyms=["product"]),
        attr("user", "users", "user_id", "one user (id)", synonyms=["customer", "shopper", "buyer", "spender"]),
        attr("event_type", "events", "event_type", "the event's type"),
        attr("signup_month", "users", "STRFTIME(signup_ts, '%Y-%m')", "the month the user signed up (cohort)"),
        attr("hour_of_day", "time", "hour_of_day", "hour of the day 0-23", synonyms=["hour", "time of day"]),
        attr(
            "weekday",
            "time",
            "weekday",
            "day of the week (0 Sunday ... 6 Saturday)",
            synonyms=["day of the week", "weekday"],
            aliases=_WEEKDAY_ALIASES,
        ),
    ]
    if has["orders"]:
        out.append(attr("order_status", "orders", "status", "the order's status"))
    if has["reviews"]:
        out.append(attr("rating", "reviews", "rating", "the review's star rating", synonyms=["stars", "star rating"]))
        out.append(
            attr(
                "review_text",
                "reviews",
                "COALESCE(title, '') || ' ' || COALESCE(body, '')",
                "the review's title and text (a filter matches reviews containing it)",
                text=True,
            )
        )
    return out


_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_DAYS_ZH = ("日", "一", "二", "三", "四", "五", "六")
_WEEKDAY_ALIASES = {
    str(i): [
        day,
        f"{day}s",
        f"周{zh}",
        f"星期{zh}",
        *(["星期天", "weekend", "weekends", "周末"] if i == 0 else []),
        *(["weekend", "weekends", "周末"] if i == 6 else []),
    ]
    for i, (day, zh) in enumerate(zip(_DAYS, _DAYS_ZH, strict=True))
}
"""Words for the weekday numbers (0 Sunday ... 6 Saturday): "on Sundays", "周日", "weekends" (0 and 6)."""
_VALUE_COLUMNS = {
    "country": ("users", "country"),
    "device": ("users", "device"),
    "channel": ("users", "channel"),
    "category": ("items", "category"),
    "brand": ("items", "brand"),
    "order_status": ("orders", "status"),
    "event_type": ("events", "event_type"),
    "rating": ("reviews", "rating"),
}


def _has_sentiment(readonly: Any) -> bool:
    """Whether reviews have been scored: the indexer writes ``review_sentiment``, a warehouse may not have it yet."""
    try:
        return bool(readonly.query(f"SELECT COUNT(*) FROM {SENTIMENT_TABLE}").rows[0][0])
    except WarehouseError as exc:
        logger.debug("no review sentiment measures: %s", exc)
        return False


def generate(readonly: Any) -> SemanticLayer:
    """The layer of the warehouse behind ``readonly`` (a ReadOnlyWarehouse), from its schema and data."""

    def one(sql: str) -> Any:
        return readonly.query(sql).rows[0][0]

    event_types = [
        str(r[0])
        for r in readonly.query(
            "SELECT event_type, COUNT(*) AS n FROM events GROUP BY event_type ORDER BY n DESC, event_type"
        ).rows
    ]
    has = {
        "purchase_value": bool(one("SELECT COUNT(value) FROM events WHERE event_type = 'purchase'")),
        "orders": bool(one("SELECT COUNT(*) FROM orders")),
        "users": bool(one("SELECT COUNT(signup_ts) FROM users")),
        "sessions": bool(one("SELECT COUNT(session_id) FROM events")),
        "purchases": "purchase" in event_types,
        "reviews": bool(one("SELECT COUNT(*) FROM reviews")),
        "review_sentiment": _has_sentiment(readonly),
    }
    values: dict[str, list[str]] = {}
    for name, (table, column) in _VALUE_COLUMNS.items():
        rows = readonly.query(
            f"SELECT {column}, COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL "
            f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT {MAX_LISTED_VALUES + 1}"
        ).rows
        has[f"{table}.{column}"] = bool(rows)
        if len(rows) <= MAX_LISTED_VALUES:
            values[name] = [str(r[0]) for r in rows]
    measures = [*_event_measures(event_types), *_other_measures(has)]
    last = one("SELECT MAX(ts) FROM events")
    return SemanticLayer(
        measures={m.name: m for m in with_chinese_words(measures, MEASURE_WORDS)},
        dimensions={d.name: d for d in with_chinese_words(_dimensions(values, has), DIMENSION_WORDS)},
        event_types=event_types,
        behaviors=_behaviors(event_types, has),
        last_day=pd.Timestamp(last).date() if last is not None else None,
    )


def build_layer(readonly: Any, path: Path | None = None) -> SemanticLayer:
    """The generated layer, extended by the operator's YAML file at ``path`` when given."""
    layer = generate(readonly)
    if path is None:
        return layer
    return extend(layer, load_overrides(path), str(path))
