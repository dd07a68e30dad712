"""Small random behavior data (with ties, nulls and unknown ids) for checking analytics against pandas."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.event_steps import refresh_event_steps
from warehouse.review_sentiment import SENTIMENT_TABLE, sentiment_metadata

EVENT_TYPES = ["view", "search", "add_to_cart", "remove_from_cart", "favorite", "purchase", "review"]
START = datetime(2026, 3, 2)


def make_tables(
    seed: int, *, users: int = 60, items: int = 15, events: int = 1500, days: int = 40
) -> dict[str, pd.DataFrame]:
    """Frames for users, items, events, orders and reviews; timestamps on whole minutes so ties occur."""
    rng = np.random.default_rng(seed)
    user_ids = [f"u{i:03d}" for i in range(users)]
    frames: dict[str, pd.DataFrame] = {}
    frames["users"] = pd.DataFrame(
        {
            "user_id": user_ids,
            "signup_ts": [START + timedelta(minutes=int(m)) for m in rng.integers(-5 * 1440, days * 1440, users)],
            "country": rng.choice(["DE", "US", "FR", None], users, p=[0.4, 0.3, 0.2, 0.1]),
            "device": rng.choice(["mobile", "desktop"], users),
            "channel": rng.choice(["ads", "organic", "email"], users),
            "email": [f"person{i}@example{i % 3}.com" for i in range(users)],
        }
    )
    frames["items"] = pd.DataFrame(
        {
            "item_id": [f"i{i:02d}" for i in range(items)],
            "title": [f"Item {i}" for i in range(items)],
            "category": rng.choice(["audio", "kitchen", "books"], items),
            "brand": rng.choice(["Acme", "Brava"], items),
            "price": rng.uniform(5, 200, items).round(2),
        }
    )
    # Some events belong to users missing from the users table, and some items to no catalog row.
    who = rng.choice(user_ids + ["ghost1", "ghost2"], events)
    weights = np.array([0.4, 0.1, 0.2, 0.05, 0.05, 0.15, 0.05])
    kind = rng.choice(EVENT_TYPES, events, p=weights)
    item = rng.choice([f"i{i:02d}" for i in range(items + 2)] + [None], events)
    minutes = rng.integers(0, days * 1440, events) // 7 * 7
    frames["events"] = pd.DataFrame(
        {
            "event_id": np.arange(1, events + 1, dtype=np.int64),
            "user_id": who,
            "session_id": [
                f"s{int(m) // 600}-{w}" if r > 0.05 else None for m, w, r in zip(minutes, who, rng.random(events))
            ],
            "ts": [START + timedelta(minutes=int(m)) for m in minutes],
            "event_type": kind,
            "item_id": item,
            "value": np.where(kind == "purchase", rng.uniform(1, 300, events).round(2), np.nan),
            "source_event": kind,
        }
    )
    n_orders = events // 20
    frames["orders"] = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n_orders)],
            "user_id": rng.choice(user_ids, n_orders),
            "ts": [START + timedelta(minutes=int(m)) for m in rng.integers(0, days * 1440, n_orders)],
            "total": rng.uniform(5, 500, n_orders).round(2),
            "status": rng.choice(["paid", "refunded"], n_orders),
        }
    )
    frames["order_items"] = pd.DataFrame(
        {
            "order_id": [f"o{i % n_orders}" for i in range(n_orders * 2)],
            "item_id": rng.choice(frames["items"]["item_id"], n_orders * 2),
            "quantity": rng.integers(1, 4, n_orders * 2),
            "price": rng.uniform(5, 200, n_orders * 2).round(2),
        }
    )
    n_reviews = events // 30
    frames["reviews"] = pd.DataFrame(
        {
            "review_id": [f"r{i}" for i in range(n_reviews)],
            "user_id": rng.choice(user_ids, n_reviews),
            "item_id": rng.choice(frames["items"]["item_id"], n_reviews),
            "ts": [START + timedelta(minutes=int(m)) for m in rng.integers(0, days * 1440, n_reviews)],
            "rating": rng.integers(1, 6, n_reviews),
            "title": ["ok"] * n_reviews,
            "body": ["fine product"] * n_reviews,
            "helpful_votes": rng.integers(0, 9, n_reviews),
        }
    )
    return frames


def load(warehouse, frames: dict[str, pd.DataFrame], *, steps: bool = True) -> None:
    """Bulk-load the frames into a warehouse with the canonical tables (and the step index unless not ``steps``)."""
    warehouse.create_schema()
    if SENTIMENT_TABLE in frames and warehouse.clickhouse is None:  # ClickHouse creates it on the first insert
        sentiment_metadata.create_all(warehouse.engine, checkfirst=True)
    with warehouse.begin() as conn:
        for name, frame in frames.items():
            warehouse.bulk_insert(conn, name, pa.Table.from_pandas(frame, preserve_index=False))
        if steps:
            refresh_event_steps(conn)  # as every loader does
    warehouse.analyze()
