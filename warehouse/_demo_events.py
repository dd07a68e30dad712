"""The demo shop's behavior, vectorised: sessions, the view → cart → purchase funnel, reviews."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse._demo_catalog import Catalog
from warehouse._demo_users import DAY, DOW_WEIGHT, Users, time_of_day
from warehouse.schema import EVENT_TYPES

VIEW, SEARCH, CART, REMOVE, FAVORITE, PURCHASE, REVIEW = (
    EVENT_TYPES.index(name)
    for name in ("view", "search", "add_to_cart", "remove_from_cart", "favorite", "purchase", "review")
)
LATE_SHIPPING_DAYS = (30, 16)
"""Orders placed between these many days before the window's end shipped late (a carrier delay)."""

_MAX_INTENSITY = 2.0 * DOW_WEIGHT.max()


@dataclass
class Batch:
    """Events of one chunk of users; ``session`` is chunk-local (0..sessions-1)."""

    ts: np.ndarray  # int64 epoch seconds
    user: np.ndarray  # int32 user index
    session: np.ndarray  # int64 chunk-local session number
    kind: np.ndarray  # int8 index into EVENT_TYPES
    item: np.ndarray  # int32 item index, -1 for none
    quantity: np.ndarray  # int8, purchase events only (0 elsewhere)
    rating: np.ndarray  # int8, review events only (0 elsewhere)
    late: np.ndarray  # bool, review events whose order shipped late
    sessions: int


def _within_group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = np.repeat(total[starts] - values[starts], counts)
    return total - before


def _sessions(users: Users, idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Session starts and their user indices: a thinned Poisson process per user, plus the signup visit."""
    a, b = users.active_from[idx], users.active_to[idx]
    span = np.maximum(b - a, 0)
    n_candidates = rng.poisson(users.rate[idx] * span / DAY * _MAX_INTENSITY)
    user = np.repeat(idx, n_candidates)
    t = np.repeat(a, n_candidates) + (rng.random(len(user)) * np.repeat(span, n_candidates)).astype(np.int64)
    age_days = (t - users.signup[user]) / DAY
    dow = (t // DAY + 3) % 7
    keep = rng.random(len(user)) * _MAX_INTENSITY < (0.4 + 1.6 * np.exp(-age_days / 6.0)) * DOW_WEIGHT[dow]
    user, t = user[keep], t[keep]
    t = t // DAY * DAY + time_of_day(len(t), rng)
    newcomer = idx[users.new[idx] & (users.active_to[idx] > users.signup[idx])]
    user = np.concatenate([newcomer, user])
    t = np.concatenate([users.signup[newcomer], t])
    t = np.maximum(t, users.signup[user] + 1)
    keep = t < users.active_to[user]
    return t[keep], user[keep].astype(np.int32)


def _pick_items(user: np.ndarray, users: Users, catalog: Catalog, rng: np.random.Generator) -> np.ndarray:
    """Items by Zipf popularity, leaning towards each user's favorite category."""
    cdf = np.cumsum(catalog.popularity)
    bounds = catalog.category_bounds()
    edges = np.concatenate([[0.0], cdf])
    cat = users.favorite_category[user]
    lo, hi = edges[bounds[cat]], edges[bounds[cat + 1]]
    u = rng.random(len(user))
    u = np.where(rng.random(len(user)) < 0.45, lo + u * (hi - lo), u)
    return np.minimum(np.searchsorted(cdf, u, side="right"), catalog.size - 1).astype(np.int32)


def _reviews(p_ts: np.ndarray, p_item: np.ndarray, catalog: Catalog, end: int, rng: np.random.Generator) -> tuple:
    """Which purchases get reviewed, when, with what rating: from the item's quality, written after delivery."""
    in_window = p_ts < end
    late = in_window & (p_ts >= end - LATE_SHIPPING_DAYS[0] * DAY) & (p_ts < end - LATE_SHIPPING_DAYS[1] * DAY)
    rating = np.clip(np.rint(rng.normal(catalog.mean_rating[p_item], 0.85)), 1, 5)
    # a late delivery costs a star more often than not
    rating = np.where(late & (rng.random(len(p_ts)) < 0.6), np.maximum(rating - 1, 1), rating).astype(np.int8)
    reviewed = in_window & (rng.random(len(p_ts)) < np.where(rating <= 2, 0.55, 0.38))
    delivery = rng.integers(2, 6, len(p_ts)) * DAY + np.where(late, rng.integers(8, 13, len(p_ts)) * DAY, 0)
    r_ts = p_ts + delivery + (rng.exponential(4.0, len(p_ts)) * DAY).astype(np.int64)
    return reviewed & (r_ts < end), r_ts, rating, late


def simulate(users: Users, lo: int, hi: int, catalog: Catalog, end: int, rng: np.random.Generator) -> Batch:
    """All events of users ``lo..hi-1`` up to ``end`` (epoch seconds, exclusive)."""
    idx = np.arange(lo, hi)
    start_ts, s_user = _sessions(users, idx, rng)
    n_sessions = len(start_ts)
    session_ids = np.arange(n_sessions, dtype=np.int64)

    # Views: a geometric number per session, spaced by exponential gaps.
    n_views = rng.geometric(1 / 4.6, n_sessions)
    v_session = np.repeat(session_ids, n_views)
    v_user = s_user[v_session]
    gaps = (rng.exponential(70.0, len(v_session)) + 8).astype(np.int64)
    v_ts = start_ts[v_session] + _within_group_cumsum(gaps, n_views)
    v_item = _pick_items(v_user, users, catalog, rng)
    last_view = np.maximum.reduceat(v_ts, np.cumsum(n_views) - n_views) if n_sessions else v_ts[:0]

    has_search = rng.random(n_sessions) < 0.45
    q_session = session_ids[has_search]

    fav = rng.random(len(v_session)) < 0.035
    quality = 0.8 + 0.1 * (catalog.mean_rating - 3.0)  # ratings are visible, but only nudge
    cart = rng.random(len(v_session)) < users.cart_p[v_user] * quality[v_item]
    c_ts = v_ts[cart] + rng.integers(15, 240, cart.sum())
    c_session, c_user, c_item = v_session[cart], v_user[cart], v_item[cart]

    bought = rng.random(len(c_ts)) < users.buy_p[c_user]
    same_session = rng.random(len(c_ts)) < 0.65
    # An item carted twice in a session is bought once at that session's checkout.
    checkout_lines = np.flatnonzero(bought & same_session)
    _, first = np.unique(c_session[checkout_lines] * catalog.size + c_item[checkout_lines], return_index=True)
    repeat = np.ones(len(checkout_lines), dtype=bool)
    repeat[first] = False
    bought[checkout_lines[repeat]] = False
    checkout = last_view + 300 + rng.integers(60, 600, n_sessions)
    delay = np.maximum(np.exp(rng.normal(np.log(18 * 3600), 1.1, len(c_ts))), 3600).astype(np.int64)
    p_ts = np.where(same_session, checkout[c_session], c_ts + delay)[bought]
    delayed = bought & ~same_session
    p_session = c_session[bought].copy()
    p_session[~same_session[bought]] = n_sessions + np.arange(delayed.sum())
    p_user, p_item = c_user[bought], c_item[bought]
    quantity = rng.choice(3, size=len(p_ts), p=[0.88, 0.09, 0.03]).astype(np.int8) + 1
    removed = ~bought & (rng.random(len(c_ts)) < 0.3)

    reviews, r_ts, rating, late = _reviews(p_ts, p_item, catalog, end, rng)
    n_reviews = int(reviews.sum())
    first_review_session = n_sessions + int(delayed.sum())

    parts = [
        # (ts, user, session, kind, item, quantity, rating, late)
        (start_ts[has_search], s_user[has_search], q_session, SEARCH, None, None, None, None),
        (v_ts, v_user, v_session, VIEW, v_item, None, None, None),
        (
            v_ts[fav] + rng.integers(5, 60, fav.sum()),
            v_user[fav],
            v_session[fav],
            FAVORITE,
            v_item[fav],
            None,
            None,
            None,
        ),
        (c_ts, c_user, c_session, CART, c_item, None, None, None),
        (
            c_ts[removed] + rng.integers(30, 900, removed.sum()),
            c_user[removed],
            c_session[removed],
            REMOVE,
            c_item[removed],
            None,
            None,
            None,
        ),
        (p_ts, p_user, p_session, PURCHASE, p_item, quantity, None, None),
        (
            r_ts[reviews],
            p_user[reviews],
            first_review_session + np.arange(n_reviews),
            REVIEW,
            p_item[reviews],
            None,
            rating[reviews],
            late[reviews],
        ),
    ]
    return _assemble(parts, end, first_review_session + n_reviews)


def _assemble(parts: list[tuple], end: int, sessions: int) -> Batch:
    def column(position: int, dtype, fill) -> np.ndarray:
        return np.concatenate(
            [
                np.full(len(p[0]), fill, dtype=dtype) if p[position] is None else np.asarray(p[position], dtype=dtype)
                for p in parts
            ]
        )

    ts = np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[3], dtype=np.int8) for p in parts])
    batch = Batch(
        ts=ts,
        user=column(1, np.int32, 0),
        session=column(2, np.int64, 0),
        kind=kind,
        item=column(4, np.int32, -1),
        quantity=column(5, np.int8, 0),
        rating=column(6, np.int8, 0),
        late=column(7, bool, False),
        sessions=sessions,
    )
    keep = batch.ts < end
    for name in ("ts", "user", "session", "kind", "item", "quantity", "rating", "late"):
        setattr(batch, name, getattr(batch, name)[keep])
    return batch
