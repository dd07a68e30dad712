"""Seeded synthetic behavior data at any size, vectorised (numpy -> Arrow -> Parquet), for the scale benchmark.

The shape is what makes the analytics non-trivial: users sign up over the period and stay active for
a skewed lifetime (most leave within weeks, a loyal fifth stays), so weekly retention decays; their
activity is heavy-tailed (lognormal weights); events come in sessions (geometric length, seconds
apart) that start with a view or a search, some reach the cart and some of those end in a purchase of
the carted item, so the view > cart > purchase funnel and the next-step paths have real structure;
item popularity is a power law. Orders and order items follow from the purchases, reviews from the
review events. Sessions are generated in chunks of about ``CHUNK_EVENTS`` events, each from its own
``numpy`` generator seeded with (seed, chunk), so memory stays flat and a size always gives the same data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAYS = 90
START = np.datetime64("2026-01-01T00:00:00", "us")
CHUNK_EVENTS = 4_000_000
EVENTS_PER_USER = 100
ITEMS = 20_000
DAY_US = 86_400 * 1_000_000
EVENT_TYPES = ("view", "search", "add_to_cart", "remove_from_cart", "favorite", "purchase", "review")
VIEW, SEARCH, CART, REMOVE, FAVORITE, PURCHASE, REVIEW = range(len(EVENT_TYPES))
# what an event between a session's first one and its cart/purchase is, by share
FILLER = (VIEW, SEARCH, FAVORITE, REMOVE, REVIEW)
FILLER_P = (0.74, 0.14, 0.06, 0.04, 0.02)
MEAN_SESSION = 7.0
CART_SESSIONS, BUY_GIVEN_CART = 0.28, 0.35
TABLES = ("users", "items", "events", "orders", "order_items", "reviews")


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(START + us.astype("timedelta64[us]"), type=pa.timestamp("us"))


def _pick(rng: np.random.Generator, names: tuple[str, ...], p: tuple[float, ...], n: int) -> pa.Array:
    return pc.take(pa.array(names), pa.array(rng.choice(len(names), size=n, p=p)))


class Users:
    """The users table and what the event generator needs of it (activity weights, active span)."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng([seed, 0])
        self.n = n
        self.signup_us = (rng.random(n) ** 0.8 * (DAYS - 5) * DAY_US).astype(np.int64)
        loyal = rng.random(n) < 0.2
        life_days = np.where(loyal, rng.exponential(120.0, n), rng.exponential(12.0, n)) + 1.0
        self.active_until_us = np.minimum(self.signup_us + (life_days * DAY_US).astype(np.int64), DAYS * DAY_US - 1)
        weights = rng.lognormal(0.0, 1.1, n)
        self.cumulative = np.cumsum(weights / weights.sum())
        numbers = np.arange(n)
        self.table = pa.table(
            {
                "user_id": _ids("u", numbers),
                "signup_ts": _ts(self.signup_us),
                "country": pc.if_else(
                    pa.array(rng.random(n) < 0.04),
                    pa.scalar(None, pa.string()),
                    _pick(
                        rng,
                        ("US", "DE", "GB", "FR", "ES", "IT", "BR", "JP"),
                        (0.34, 0.16, 0.13, 0.1, 0.08, 0.07, 0.07, 0.05),
                        n,
                    ),
                ),
                "device": _pick(rng, ("mobile", "desktop", "tablet"), (0.58, 0.36, 0.06), n),
                "channel": _pick(rng, ("organic", "ads", "email", "referral"), (0.45, 0.3, 0.15, 0.1), n),
                "email": pc.binary_join_element_wise(_ids("user", numbers), "@example.com", ""),
            }
        )

    def pick(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` user indexes, each with probability proportional to its activity weight."""
        return np.minimum(np.searchsorted(self.cumulative, rng.random(k)), self.n - 1)


def items_table(seed: int) -> tuple[pa.Table, np.ndarray]:
    rng = np.random.default_rng([seed, 1])
    price = np.round(np.exp(rng.normal(3.3, 0.9, ITEMS)), 2)
    table = pa.table(
        {
            "item_id": _ids("i", np.arange(ITEMS)),
            "title": _ids("Item ", np.arange(ITEMS)),
            "category": _pick(
                rng,
                ("audio", "kitchen", "books", "toys", "garden", "fashion"),
                (0.15, 0.2, 0.25, 0.12, 0.1, 0.18),
                ITEMS,
            ),
            "brand": _pick(rng, ("Acme", "Brava", "Cielo", "Dorn", "Elio"), (0.3, 0.25, 0.2, 0.15, 0.1), ITEMS),
            "price": price,
        }
    )
    return table, price


def _sessions(rng: np.random.Generator, users: Users, n: int) -> dict[str, np.ndarray]:
    user = users.pick(rng, n)
    begin, end = users.signup_us[user], users.active_until_us[user]
    cart = rng.random(n) < CART_SESSIONS
    buy = cart & (rng.random(n) < BUY_GIVEN_CART)
    length = np.maximum(rng.geometric(1.0 / MEAN_SESSION, n), 1 + cart + buy)
    return {
        "user": user,
        "start": begin + (rng.random(n) * (end - begin)).astype(np.int64),
        "cart": cart,
        "buy": buy,
        "length": length,
    }


def events_chunk(
    rng: np.random.Generator, users: Users, price: np.ndarray, n_sessions: int, first_event: int, first_session: int
) -> pa.Table:
    """The events of ``n_sessions`` sessions, ids counting on from ``first_event`` / ``first_session``."""
    s = _sessions(rng, users, n_sessions)
    length = s["length"]
    offsets = np.cumsum(length) - length
    n = int(length.sum())
    session = np.repeat(np.arange(n_sessions), length)
    pos = np.arange(n) - offsets[session]
    kind = np.asarray(FILLER)[rng.choice(len(FILLER), size=n, p=FILLER_P)]
    kind[(pos == 0) & (kind != SEARCH)] = VIEW
    kind[(kind == REMOVE) & ~s["cart"][session]] = VIEW
    item = (ITEMS * rng.random(n) ** 3).astype(np.int64)  # power law: the top 1% of items get ~20% of events
    carted = np.flatnonzero(s["cart"])
    cart_at = offsets[carted] + 1 + (rng.random(carted.size) * (length[carted] - 1 - s["buy"][carted])).astype(np.int64)
    kind[cart_at] = CART
    bought = np.flatnonzero(s["buy"])
    buy_at = offsets[bought] + length[bought] - 1
    kind[buy_at] = PURCHASE
    item[buy_at] = item[cart_at[np.searchsorted(carted, bought)]]
    gap = rng.exponential(40e6, n).astype(np.int64)
    gap[pos == 0] = 0
    elapsed = np.cumsum(gap)
    ts = np.minimum(s["start"][session] + elapsed - elapsed[offsets][session], DAYS * DAY_US - 1)
    quantity = np.where(kind == PURCHASE, 1 + (rng.random(n) < 0.15) + (rng.random(n) < 0.05), 0)
    value = np.where(kind == PURCHASE, np.round(price[item] * quantity, 2), np.nan)
    event_type = pc.take(pa.array(EVENT_TYPES), pa.array(kind))
    return pa.table(
        {
            "event_id": pa.array(first_event + np.arange(n, dtype=np.int64)),
            "user_id": _ids("u", s["user"][session]),
            "session_id": _ids("s", first_session + session),
            "ts": _ts(ts),
            "event_type": event_type,
            "item_id": pc.if_else(pa.array(kind == SEARCH), pa.scalar(None, pa.string()), _ids("i", item)),
            "value": pa.array(value, from_pandas=True),
            "source_event": event_type,
            "quantity": pa.array(quantity),
        }
    )


def _orders(chunk: pa.Table, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    bought = chunk.filter(pc.equal(chunk["event_type"], "purchase"))
    n = bought.num_rows
    order_id = _ids("o", bought["event_id"].to_numpy())
    quantity = bought["quantity"]
    orders = pa.table(
        {
            "order_id": order_id,
            "user_id": bought["user_id"],
            "ts": bought["ts"],
            "total": bought["value"],
            "status": _pick(rng, ("completed", "refunded", "cancelled"), (0.93, 0.05, 0.02), n),
        }
    )
    lines = pa.table(
        {
            "order_id": order_id,
            "item_id": bought["item_id"],
            "quantity": pc.cast(quantity, pa.int32()),
            "price": pc.divide(bought["value"], pc.cast(quantity, pa.float64())),
        }
    )
    return orders, lines


def _reviews(chunk: pa.Table, rng: np.random.Generator) -> pa.Table:
    done = chunk.filter(pc.equal(chunk["event_type"], "review"))
    n = done.num_rows
    rating = rng.choice(5, size=n, p=(0.08, 0.06, 0.12, 0.3, 0.44)) + 1
    body = pc.take(
        pa.array(("broke after a week", "does what it says", "great value", "battery died", "arrived late", "love it")),
        pa.array(rng.integers(0, 6, n)),
    )
    return pa.table(
        {
            "review_id": _ids("r", done["event_id"].to_numpy()),
            "user_id": done["user_id"],
            "item_id": done["item_id"],
            "ts": done["ts"],
            "rating": pa.array(rating, pa.int32()),
            "title": pc.binary_join_element_wise(pc.cast(pa.array(rating), pa.string()), " stars", ""),
            "body": body,
            "helpful_votes": pa.array(rng.poisson(1.5, n), pa.int32()),
        }
    )


def generate(folder: Path, events: int, seed: int = 7) -> dict[str, Path]:
    """Write exactly ``events`` events and the tables that go with them as Parquet files in ``folder``."""
    files = {name: folder / f"{name}.parquet" for name in TABLES}
    if all(p.exists() for p in files.values()):
        return files
    users = Users(max(100, events // EVENTS_PER_USER), seed)
    pq.write_table(users.table, files["users"])
    items, price = items_table(seed)
    pq.write_table(items, files["items"])
    writers = {}
    written, sessions, chunk_no = 0, 0, 0
    try:
        while written < events:
            rng = np.random.default_rng([seed, 2, chunk_no])
            n_sessions = max(1, int(min(CHUNK_EVENTS, events - written) / (MEAN_SESSION + 0.5)) + 1)
            chunk = events_chunk(rng, users, price, n_sessions, written + 1, sessions)
            chunk = chunk.slice(0, events - written)
            orders, lines = _orders(chunk, rng)
            parts = {
                "events": chunk.drop_columns(["quantity"]),
                "orders": orders,
                "order_items": lines,
                "reviews": _reviews(chunk, rng),
            }
            for name, table in parts.items():
                if name not in writers:
                    writers[name] = pq.ParquetWriter(files[name], table.schema)
                writers[name].write_table(table, row_group_size=1_000_000)
            written += chunk.num_rows
            sessions += n_sessions
            chunk_no += 1
    finally:
        for writer in writers.values():
            writer.close()
    return files
