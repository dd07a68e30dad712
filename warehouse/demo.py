"""The deterministic demo shop: realistic e-commerce behavior generated with numpy and bulk-loaded."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, exists, select, text
from tqdm import tqdm

from warehouse._demo_catalog import CATEGORIES, Catalog, build_catalog, item_count
from warehouse._demo_events import CART, PURCHASE, REMOVE, REVIEW, Batch, simulate
from warehouse._demo_reviews import compose
from warehouse._demo_users import CHANNELS, COUNTRIES, DAY, DEVICES, Users, build_users
from warehouse.clickhouse import truncate as clickhouse_truncate
from warehouse.connection import Warehouse
from warehouse.errors import WarehouseError
from warehouse.event_steps import refresh_event_steps
from warehouse.schema import ANALYTIC_INDEXES, EVENT_TYPES, TABLE_NAMES, metadata

logger = logging.getLogger(__name__)

DEFAULT_END = date(2026, 10, 31)
"""The demo window's last day: fixed, so a seed gives the same data whenever it runs."""

_USERS_PER_CHUNK = 2_000  # part of the seed's meaning: changing it changes the data
_LOAD_ROWS = 500_000
_EPOCH = datetime(1970, 1, 1)


class DemoDataExists(WarehouseError):
    """The warehouse already holds data and replacing it was not asked for."""


@dataclass(frozen=True)
class DemoStats:
    """What one demo build produced."""

    users: int
    items: int
    events: int
    orders: int
    order_items: int
    reviews: int
    first_day: date
    last_day: date
    generate_seconds: float
    load_seconds: float

    @property
    def seconds(self) -> float:
        """Wall time of generation plus loading."""
        return self.generate_seconds + self.load_seconds

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **asdict(self),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "seconds": round(self.seconds, 3),
        }


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _ids(prefix: str, numbers: np.ndarray, width: int = 0) -> pa.Array:
    text = pc.cast(pa.array(numbers, type=pa.int64()), pa.string())
    if width:
        text = pc.utf8_lpad(text, width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "") if prefix else text


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype="datetime64[s]"), type=pa.timestamp("s"))


def check_demo_args(*, users: int, days: int, seed: int) -> None:
    """Raise ``ValueError`` naming the first argument of ``generate_demo`` that is out of range."""
    for name, value, low, high in (
        ("users", users, 1, 1_000_000),
        ("days", days, 1, 3_650),
        ("seed", seed, 0, 2**32 - 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(
                f"{name}={value!r} is out of range; use a whole number from {low:,} to {high:,} (CLI: --{name})"
            )


@dataclass
class _Shop:
    """Everything generated, in memory as compact arrays, before it becomes tables."""

    catalog: Catalog
    users: Users
    ts: np.ndarray
    user: np.ndarray
    session: np.ndarray
    kind: np.ndarray
    item: np.ndarray
    quantity: np.ndarray
    rating: np.ndarray
    late: np.ndarray
    order: np.ndarray  # permutation putting events in time order
    session_rank: np.ndarray  # chunk-global session number -> chronological session number


def _simulate(users: int, seed: int, start: int, end: int, progress: bool) -> _Shop:
    catalog = build_catalog(item_count(users), _rng(seed, 0))
    people = build_users(users, start, end, len(CATEGORIES), _rng(seed, 1))
    batches: list[Batch] = []
    offset = 0
    chunks = range(0, users, _USERS_PER_CHUNK)
    for k, lo in enumerate(tqdm(chunks, desc="simulating", unit="chunk", disable=not progress)):
        batch = simulate(people, lo, min(lo + _USERS_PER_CHUNK, users), catalog, end, _rng(seed, 2, k))
        batch.session += offset
        offset += batch.sessions
        batches.append(batch)

    columns: dict[str, np.ndarray] = {}
    for name in ("ts", "user", "session", "kind", "item", "quantity", "rating", "late"):
        # one column at a time, releasing each chunk's copy: peak memory stays near one copy
        columns[name] = np.concatenate([getattr(b, name) for b in batches])
        for b in batches:
            setattr(b, name, None)
    order = np.argsort(columns["ts"], kind="stable")
    seen, first = np.unique(columns["session"][order], return_index=True)
    session_rank = np.zeros(offset, dtype=np.int64)
    session_rank[seen[np.argsort(first)]] = np.arange(1, len(seen) + 1)
    return _Shop(catalog, people, order=order, session_rank=session_rank, **columns)


def _users_table(u: Users) -> pa.Table:
    return pa.table(
        {
            "user_id": _ids("", np.arange(1, u.size + 1)),
            "signup_ts": _timestamps(u.signup),
            "country": pa.array([c for c, _ in COUNTRIES]).take(pa.array(u.country)),
            "device": pa.array([d for d, _ in DEVICES]).take(pa.array(u.device)),
            "channel": pa.array([c for c, _ in CHANNELS]).take(pa.array(u.channel)),
            "email": pa.array(u.emails),
        }
    )


def _item_ids(catalog: Catalog) -> pa.Array:
    return _ids("P", np.arange(1, catalog.size + 1), 4)


def _items_table(catalog: Catalog) -> pa.Table:
    return pa.table(
        {
            "item_id": _item_ids(catalog),
            "title": pa.array(catalog.titles),
            "category": pa.array([c.name for c in CATEGORIES]).take(pa.array(catalog.category)),
            "brand": pa.array(catalog.brands),
            "price": pa.array(catalog.price),
        }
    )


def _events_tables(shop: _Shop, rows: int):
    """The events table in time order, ``rows`` at a time."""
    user_ids = _ids("", np.arange(1, shop.users.size + 1))
    item_ids = _item_ids(shop.catalog)
    types = pa.array(EVENT_TYPES)
    for lo in range(0, len(shop.order), rows):
        sel = shop.order[lo : lo + rows]
        kind, item = shop.kind[sel], shop.item[sel]
        price = shop.catalog.price[np.maximum(item, 0)]
        value = np.where(kind == PURCHASE, np.round(price * shop.quantity[sel], 2), price)
        priced = (kind == PURCHASE) | (kind == CART) | (kind == REMOVE)
        event_type = types.take(pa.array(kind))
        yield pa.table(
            {
                "event_id": pa.array(np.arange(lo + 1, lo + len(sel) + 1, dtype=np.int64)),
                "user_id": user_ids.take(pa.array(shop.user[sel])),
                "session_id": _ids("S", shop.session_rank[shop.session[sel]]),
                "ts": _timestamps(shop.ts[sel]),
                "event_type": event_type,
                "item_id": item_ids.take(pa.array(item, mask=item < 0)),
                "value": pa.array(value, mask=~priced),
                "source_event": event_type,
            }
        )


def _orders_tables(shop: _Shop, end: int, seed: int) -> tuple[pa.Table, pa.Table]:
    """Orders and their lines, one order per checkout (the purchase events of one session)."""
    sel = shop.order[shop.kind[shop.order] == PURCHASE]
    session, item, qty = shop.session_rank[shop.session[sel]], shop.item[sel], shop.quantity[sel]
    keys, first, line_order = np.unique(session, return_index=True, return_inverse=True)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(keys))
    line_order = rank[line_order]
    heads = sel[np.sort(first)]
    line_value = np.round(shop.catalog.price[item] * qty, 2)
    total = np.round(np.bincount(line_order, weights=line_value, minlength=len(keys)), 2)
    bad = np.bincount(line_order, weights=shop.catalog.mean_rating[item] < 3.0, minlength=len(keys)) > 0
    head_ts = shop.ts[heads]
    rng = _rng(seed, 4)
    returned = rng.random(len(keys)) < np.where(bad, 0.18, 0.03)
    status = np.where(head_ts > end - 4 * DAY, 2, np.where(returned, 1, 0))
    width = len(str(len(keys)))
    order_ids = _ids("O", np.arange(1, len(keys) + 1), width)
    orders = pa.table(
        {
            "order_id": order_ids,
            "user_id": _ids("", shop.user[heads].astype(np.int64) + 1),
            "ts": _timestamps(head_ts),
            "total": pa.array(total),
            "status": pa.array(["delivered", "returned", "shipped"]).take(pa.array(status)),
        }
    )
    lines = pa.table(
        {
            "order_id": order_ids.take(pa.array(line_order)),
            "item_id": _item_ids(shop.catalog).take(pa.array(item)),
            "quantity": pa.array(qty.astype(np.int32)),
            "price": pa.array(shop.catalog.price[item]),
        }
    )
    return orders, lines


def _reviews_table(shop: _Shop, seed: int) -> pa.Table:
    sel = shop.order[shop.kind[shop.order] == REVIEW]
    rng = _rng(seed, 3)
    catalog, item, rating = shop.catalog, shop.item[sel], shop.rating[sel]
    titles, bodies = [], []
    for i, r, late in zip(item.tolist(), rating.tolist(), shop.late[sel].tolist()):
        title, body = compose(
            r, catalog.nouns[i], CATEGORIES[catalog.category[i]].aspects, catalog.defect[i], late, rng
        )
        titles.append(title)
        bodies.append(body)
    extreme = (rating == 1) | (rating == 5)
    helpful = rng.poisson(np.where(extreme, 2.5, 0.8)) * (rng.random(len(sel)) < 0.6)
    return pa.table(
        {
            "review_id": _ids("R", np.arange(1, len(sel) + 1), len(str(len(sel)))),
            "user_id": _ids("", shop.user[sel].astype(np.int64) + 1),
            "item_id": _item_ids(catalog).take(pa.array(item)),
            "ts": _timestamps(shop.ts[sel]),
            "rating": pa.array(rating.astype(np.int32)),
            "title": pa.array(titles),
            "body": pa.array(bodies),
            "helpful_votes": pa.array(helpful.astype(np.int32)),
        }
    )


def _clear_or_refuse(warehouse: Warehouse, conn: Connection, replace: bool) -> None:
    # .all() drains each result: DuckDB refuses new work on a connection with an unfinished one.
    filled = [
        name for name in TABLE_NAMES if conn.execute(select(exists().select_from(metadata.tables[name]))).all()[0][0]
    ]
    if not filled:
        return
    if not replace:
        raise DemoDataExists(
            f"the warehouse at {warehouse.url!r} already holds data in {', '.join(filled)}; "
            "pass replace=True (CLI: --replace) to delete it and load the demo, or point "
            "UBA_WAREHOUSE_URL / UBA_DATA_DIR at an empty warehouse"
        )
    logger.info("deleting the existing rows of %s", ", ".join(filled))
    if warehouse.dialect == "postgresql":  # transactional there, and far faster than DELETE
        conn.execute(text(f"TRUNCATE {', '.join(TABLE_NAMES)}"))
        return
    if warehouse.dialect == "clickhouse":  # DELETE needs a WHERE there; the undo snapshot makes this revocable
        clickhouse_truncate(conn, list(TABLE_NAMES))
        return
    for name in TABLE_NAMES:
        conn.execute(metadata.tables[name].delete())


@contextmanager
def _indexes_built_after(warehouse: Warehouse, conn: Connection) -> Iterator[None]:
    """On a row store, drop the analytic indexes of the (empty) tables and build them once after the load."""
    if warehouse.dialect != "postgresql":
        yield
        return
    for index in ANALYTIC_INDEXES:
        index.drop(conn, checkfirst=True)
    yield
    for index in ANALYTIC_INDEXES:
        index.create(conn)


def generate_demo(
    warehouse: Warehouse,
    *,
    users: int = 10_000,
    days: int = 90,
    seed: int = 7,
    end: date | None = None,
    progress: bool = False,
    replace: bool = False,
) -> DemoStats:
    """Fill an empty warehouse with the demo shop's ``days`` days of behavior, ending on ``end``."""
    check_demo_args(users=users, days=days, seed=seed)
    last_day = end or DEFAULT_END
    end_ts = int((datetime.combine(last_day + timedelta(days=1), datetime.min.time()) - _EPOCH).total_seconds())
    start_ts = end_ts - days * DAY
    started = time.perf_counter()
    shop = _simulate(users, seed, start_ts, end_ts, progress)
    orders, lines = _orders_tables(shop, end_ts, seed)
    reviews = _reviews_table(shop, seed)
    generated = time.perf_counter()

    warehouse.create_schema()
    n_events = len(shop.order)
    with warehouse.begin() as conn:
        _clear_or_refuse(warehouse, conn, replace)
        with _indexes_built_after(warehouse, conn):
            warehouse.bulk_insert(conn, "users", _users_table(shop.users))
            warehouse.bulk_insert(conn, "items", _items_table(shop.catalog))
            with tqdm(total=n_events, desc="loading events", unit="row", unit_scale=True, disable=not progress) as bar:
                for chunk in _events_tables(shop, _LOAD_ROWS):
                    bar.update(warehouse.bulk_insert(conn, "events", chunk))
            warehouse.bulk_insert(conn, "orders", orders)
            warehouse.bulk_insert(conn, "order_items", lines)
            warehouse.bulk_insert(conn, "reviews", reviews)
        refresh_event_steps(conn)
    warehouse.analyze()
    loaded = time.perf_counter()
    stats = DemoStats(
        users=users,
        items=shop.catalog.size,
        events=n_events,
        orders=orders.num_rows,
        order_items=lines.num_rows,
        reviews=reviews.num_rows,
        first_day=last_day - timedelta(days=days - 1),
        last_day=last_day,
        generate_seconds=generated - started,
        load_seconds=loaded - generated,
    )
    logger.info("demo data loaded: %s", stats)
    return stats


__all__ = ["DEFAULT_END", "DemoDataExists", "DemoStats", "check_demo_args", "generate_demo"]
