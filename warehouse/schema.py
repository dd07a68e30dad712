"""The canonical behavior schema, defined once for every engine (SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

EVENT_TYPES: tuple[str, ...] = (
    "view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "favorite",
    "purchase",
    "review",
)
"""Canonical ``events.event_type`` values; loaders map their own vocabulary onto these."""

PII_COLUMNS: frozenset[tuple[str, str]] = frozenset({("users", "email")})
"""Columns no tool may return unmasked."""

TABLE_MEANINGS: dict[str, str] = {
    "users": "one row per user",
    "items": "the catalog",
    "events": "one row per user action: count views, carts, purchases, searches here",
    "orders": "one row per order (checkout), with its total and status: for order counts and totals",
    "order_items": "the items of each order: quantity and price (revenue)",
    "reviews": "one row per customer review",
}
"""What a row of each table is, for whoever writes SQL over it (the agent's prompt, ``describe_schema``).
Measured: shown only columns, the embedded model counted purchases from ``orders``."""

users = Table(
    "users",
    metadata,
    Column("user_id", String, primary_key=True),
    Column("signup_ts", DateTime),
    Column("country", String),
    Column("device", String),
    Column("channel", String),
    Column("email", String),
)

items = Table(
    "items",
    metadata,
    Column("item_id", String, primary_key=True),
    Column("title", Text),
    Column("category", String),
    Column("brand", String),
    Column("price", Double),
)

events = Table(
    "events",
    metadata,
    Column("event_id", BigInteger, nullable=False),
    Column("user_id", String, nullable=False),
    Column("session_id", String),
    Column("ts", DateTime, nullable=False),
    Column("event_type", String, nullable=False),
    Column("item_id", String),
    Column("value", Double),
    Column("source_event", String, comment="the source's own event name"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("user_id", String, nullable=False),
    Column("ts", DateTime, nullable=False),
    Column("total", Double),
    Column("status", String),
)

order_items = Table(
    "order_items",
    metadata,
    Column("order_id", String, nullable=False),
    Column("item_id", String, nullable=False),
    Column("quantity", Integer),
    Column("price", Double),
)

reviews = Table(
    "reviews",
    metadata,
    Column("review_id", String, primary_key=True),
    Column("user_id", String),
    Column("item_id", String),
    Column("ts", DateTime),
    Column("rating", Integer),
    Column("title", Text),
    Column("body", Text),
    Column("helpful_votes", Integer),
)

# Row-store engines (PostgreSQL) need these for the analytics; DuckDB relies on zone maps
# over ts-ordered data, and ART indexes would only slow its bulk loads.
ANALYTIC_INDEXES: tuple[Index, ...] = (
    Index("ix_events_user_ts", events.c.user_id, events.c.ts),
    Index("ix_events_type_ts", events.c.event_type, events.c.ts),
    Index("ix_events_item", events.c.item_id),
    Index("ix_events_event_id", events.c.event_id, unique=True),
    Index("ix_orders_user_ts", orders.c.user_id, orders.c.ts),
    Index("ix_order_items_order", order_items.c.order_id),
    Index("ix_reviews_item", reviews.c.item_id),
)
# An Index on a table's columns attaches itself to that table, so metadata.create_all would build
# these on DuckDB too; detach them: only create_schema's row-store branch creates them.
for _index in ANALYTIC_INDEXES:
    if _index.table is not None:
        _index.table.indexes.discard(_index)

TABLE_NAMES: tuple[str, ...] = tuple(metadata.tables)
