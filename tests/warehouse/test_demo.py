"""The demo generator on DuckDB and PostgreSQL: deterministic, plausible, internally consistent, atomic."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect, select

from warehouse import Warehouse
from warehouse._demo_reviews import ASPECTS
from warehouse.demo import DEFAULT_END, DemoDataExists, check_demo_args, generate_demo
from warehouse.schema import ANALYTIC_INDEXES, TABLE_NAMES, metadata

KEYS = {
    "users": ["user_id"],
    "items": ["item_id"],
    "events": ["event_id"],
    "orders": ["order_id"],
    "order_items": ["order_id", "item_id"],
    "reviews": ["review_id"],
}


def read(warehouse: Warehouse, table: str) -> pd.DataFrame:
    """A whole table as a DataFrame in key order, money rounded to cents (DuckDB FLOAT is 32-bit)."""
    columns = [c.name for c in metadata.tables[table].columns]
    with warehouse.engine.connect() as conn:
        if warehouse.dialect == "duckdb":  # DuckDB's own Arrow path: fast for the larger shops
            frame = conn.connection.dbapi_connection.execute(f"SELECT {', '.join(columns)} FROM {table}").df()
        else:
            frame = pd.DataFrame(conn.execute(select(metadata.tables[table])).mappings().all(), columns=columns)
    for column in ("price", "value", "total"):
        if column in frame:
            frame[column] = frame[column].astype(float).round(2)
    return frame.sort_values(KEYS[table]).reset_index(drop=True)


def read_all(warehouse: Warehouse) -> dict[str, pd.DataFrame]:
    return {name: read(warehouse, name) for name in TABLE_NAMES}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A mid-sized demo shop on DuckDB for the shape checks (3,000 users over 6 weeks, ~190k events)."""
    path = tmp_path_factory.mktemp("shop") / "warehouse.duckdb"
    wh = Warehouse.open(f"duckdb:///{path}")
    generate_demo(wh, users=3000, days=42, seed=11)
    tables = read_all(wh)
    wh.dispose()
    return tables


def test_same_seed_gives_identical_data_on_both_engines(warehouse: Warehouse, tmp_path: Path) -> None:
    stats = generate_demo(warehouse, users=300, days=30, seed=7)
    reference = Warehouse.open(f"duckdb:///{tmp_path / 'reference.duckdb'}")
    generate_demo(reference, users=300, days=30, seed=7)
    ours, theirs = read_all(warehouse), read_all(reference)
    reference.dispose()
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(ours[name], theirs[name], check_dtype=False, obj=name)
    assert len(ours["events"]) == stats.events > 1000
    assert stats.last_day == DEFAULT_END
    assert ours["events"]["ts"].min().date() >= date(2026, 10, 2)
    assert ours["events"]["ts"].max().date() <= DEFAULT_END


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    tables = []
    for seed in (1, 2):
        wh = Warehouse.open(f"duckdb:///{tmp_path / f'seed{seed}.duckdb'}")
        generate_demo(wh, users=200, days=20, seed=seed)
        tables.append(read_all(wh))
        wh.dispose()
    assert not tables[0]["events"].equals(tables[1]["events"])
    assert not tables[0]["users"]["email"].equals(tables[1]["users"]["email"])


def test_funnel_is_strict_and_conversion_plausible(shop: dict[str, pd.DataFrame]) -> None:
    events = shop["events"]
    assert events["event_id"].is_unique
    assert events["ts"].is_monotonic_increasing, "events are stored in time order"

    def preceded(later: str, earlier: str) -> bool:
        # every `later` event has an `earlier` event of the same user and item strictly before it
        a = events[events.event_type == later][["user_id", "item_id", "ts"]].sort_values("ts")
        b = events[events.event_type == earlier][["user_id", "item_id", "ts"]].sort_values("ts")
        b = b.rename(columns={"ts": "before"})
        matched = pd.merge_asof(
            a, b, left_on="ts", right_on="before", by=["user_id", "item_id"], allow_exact_matches=False
        )
        return bool(matched["before"].notna().all())

    assert preceded("add_to_cart", "view")
    assert preceded("purchase", "add_to_cart")
    assert preceded("remove_from_cart", "add_to_cart")
    assert preceded("review", "purchase")

    # Per-week user conversion: of users who viewed something in a week, the share who bought that
    # week. E-commerce sites convert 1-5% of sessions; per user-week that lands around 2-12%.
    flags = events.assign(
        week=events["ts"].dt.to_period("W"), viewed=events.event_type == "view", bought=events.event_type == "purchase"
    )
    per_user_week = flags.groupby(["user_id", "week"])[["viewed", "bought"]].max()
    weekly = (per_user_week.viewed & per_user_week.bought).sum() / per_user_week.viewed.sum()
    assert 0.02 <= weekly <= 0.12, weekly
    per_session = flags.groupby("session_id")[["viewed", "bought"]].max()
    session_rate = (per_session.viewed & per_session.bought).sum() / per_session.viewed.sum()
    assert 0.01 <= session_rate <= 0.06, session_rate
    # Over the whole window many more users buy at least once, and many of them buy again.
    buyers = events.loc[events.event_type == "purchase", "user_id"].nunique()
    viewers = events.loc[events.event_type == "view", "user_id"].nunique()
    assert 0.05 <= buyers / viewers <= 0.4, buyers / viewers
    orders_per_buyer = shop["orders"].groupby("user_id").size()
    assert 0.15 <= (orders_per_buyer > 1).mean() <= 0.8
    # Time from cart to purchase ranges from minutes (same session) to days.
    carts = events[events.event_type == "add_to_cart"].groupby(["user_id", "item_id"])["ts"].min()
    buys = events[events.event_type == "purchase"].groupby(["user_id", "item_id"])["ts"].min()
    gaps = (buys - carts.reindex(buys.index)).dropna()
    assert gaps.min() < pd.Timedelta(minutes=20) and gaps.max() > pd.Timedelta(days=1)


def test_retention_seasonality_and_popularity_are_plausible(shop: dict[str, pd.DataFrame]) -> None:
    events, users = shop["events"], shop["users"]
    start, end = events["ts"].min(), events["ts"].max()
    # Newcomers from the first 10 days: active again in their second week, and in their fifth.
    cohort = users[(users.signup_ts >= start) & (users.signup_ts < start + pd.Timedelta(days=10))]
    assert len(cohort) > 50
    joined = events.merge(cohort[["user_id", "signup_ts"]], on="user_id")
    age = joined["ts"] - joined["signup_ts"]

    def active_share(first_day: int) -> float:
        window = (age >= pd.Timedelta(days=first_day)) & (age < pd.Timedelta(days=first_day + 7))
        return joined.loc[window, "user_id"].nunique() / len(cohort)

    week1, week4 = active_share(7), active_share(28)
    assert 0.15 <= week1 <= 0.7, week1
    assert 0.05 <= week4 < week1, (week1, week4)
    # Churners: a good share of users seen in the first week are never seen in the last two.
    first_week = set(events.loc[events.ts < start + pd.Timedelta(days=7), "user_id"])
    last_two = set(events.loc[events.ts > end - pd.Timedelta(days=14), "user_id"])
    assert len(first_week - last_two) / len(first_week) >= 0.2
    # Weekends are busier than weekdays.
    per_day = events.groupby(events["ts"].dt.normalize()).size()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    weekday = per_day[per_day.index.dayofweek < 5].mean()
    assert weekend > 1.1 * weekday
    # Power-law popularity: the top tenth of items gets a large share of views, no single item dominates.
    views = events[events.event_type == "view"].groupby("item_id").size().sort_values(ascending=False)
    top_tenth = views.iloc[: max(len(shop["items"]) // 10, 1)].sum() / views.sum()
    assert 0.3 <= top_tenth <= 0.8 and views.iloc[0] / views.sum() < 0.1
    assert 150 <= len(shop["items"]) <= 2000


def test_orders_match_purchase_events(shop: dict[str, pd.DataFrame]) -> None:
    events, orders, lines, items = shop["events"], shop["orders"], shop["order_items"], shop["items"]
    assert orders["order_id"].is_unique
    assert not lines.duplicated(["order_id", "item_id"]).any()
    line_total = (lines["price"] * lines["quantity"]).groupby(lines["order_id"]).sum()
    assert (orders.set_index("order_id")["total"] - line_total).abs().max() < 0.011
    priced = lines.merge(items[["item_id", "price"]], on="item_id", suffixes=("", "_list"))
    assert (priced["price"] - priced["price_list"]).abs().max() < 0.005
    # The same multiset of (user, ts, item, amount) on both sides.
    purchases = events[events.event_type == "purchase"]
    from_events = purchases[["user_id", "ts", "item_id", "value"]].rename(columns={"value": "amount"})
    joined = lines.merge(orders, on="order_id")
    from_orders = joined.assign(amount=(joined["price"] * joined["quantity"]).round(2))[
        ["user_id", "ts", "item_id", "amount"]
    ]
    key = ["user_id", "ts", "item_id", "amount"]
    left = from_events.sort_values(key).reset_index(drop=True)
    right = from_orders.sort_values(key).reset_index(drop=True)
    assert len(left) == len(right) > 50
    pd.testing.assert_frame_equal(left[key[:3]], right[key[:3]], check_dtype=False)
    assert (left["amount"] - right["amount"]).abs().max() < 0.011
    # Cart events carry the list price.
    carts = events[events.event_type == "add_to_cart"].merge(items[["item_id", "price"]], on="item_id")
    assert (carts["value"] - carts["price"]).abs().max() < 0.005
    assert events.loc[events.event_type == "view", "value"].isna().all()
    assert set(orders["status"]) <= {"delivered", "returned", "shipped"}


POSITIVE = re.compile(r"\b(love|excellent|great|perfect|fantastic|recommend|solid|happy|superb|lovely)\b", re.I)
NEGATIVE = re.compile(r"\b(terrible|disappoint\w*|waste|avoid|broke|cheap|poor|leaks?|died|refund|return\w*)\b", re.I)


def test_reviews_follow_the_item_and_the_rating(shop: dict[str, pd.DataFrame]) -> None:
    reviews, events = shop["reviews"], shop["events"]
    assert len(reviews) > 100 and reviews["rating"].between(1, 5).all()
    assert reviews["body"].nunique() > 0.8 * len(reviews), "review texts are varied"
    review_events = events[events.event_type == "review"][["user_id", "item_id", "ts"]]
    pd.testing.assert_frame_equal(
        reviews[["user_id", "item_id", "ts"]].sort_values(["ts", "user_id"]).reset_index(drop=True),
        review_events.sort_values(["ts", "user_id"]).reset_index(drop=True),
        check_dtype=False,
    )
    # Sentiment words agree with the stars.
    tone = reviews["body"].map(lambda b: len(POSITIVE.findall(b)) - len(NEGATIVE.findall(b)))
    assert reviews.loc[tone > 0, "rating"].mean() >= 3.8
    assert reviews.loc[tone < 0, "rating"].mean() <= 2.6
    # Ratings depend on the item: the per-item means spread far wider than noise around one mean.
    per_item = reviews.groupby("item_id")["rating"].agg(["mean", "size"])
    assert per_item.loc[per_item["size"] >= 3, "mean"].std() > 0.5


def test_demo_questions_have_answers(shop: dict[str, pd.DataFrame]) -> None:
    reviews, items = shop["reviews"], shop["items"]
    reviews = reviews.merge(items[["item_id", "title"]], on="item_id", suffixes=("", "_item"))
    x200 = reviews[reviews.title_item == "Acme X200 Wireless Headphones"]
    assert len(x200) >= 10 and x200["rating"].mean() < 3.0
    low = x200[x200.rating <= 2]
    assert low["body"].str.contains("battery", case=False).mean() > 0.5
    praise = "|".join(re.escape(phrase) for phrase in ASPECTS["battery"][0])
    assert not x200["body"].str.contains(praise).any(), "nobody praises the X200's battery"
    blender = reviews[reviews.title_item == "Kitchenly BlendPro 500 Blender"]
    assert blender["body"].str.contains("leak", case=False).any()
    assert reviews["body"].str.contains("late|stuck in transit|took forever", case=False).sum() >= 5


def test_users_have_fake_pii_emails(shop: dict[str, pd.DataFrame]) -> None:
    users = shop["users"]
    assert users["email"].notna().all() and users["email"].is_unique
    assert users["email"].str.fullmatch(r"[a-z]+\.[a-z]+\d+@([a-z]+\.)?example\.(com|org|net)").all()
    assert {"mobile", "desktop"} <= set(users["device"]) and users["country"].nunique() >= 8
    assert users["channel"].nunique() >= 5
    # About a third of the users signed up before the window.
    before = (users["signup_ts"] < shop["events"]["ts"].min()).mean()
    assert 0.2 <= before <= 0.4


def test_refuses_a_warehouse_with_data_and_leaves_it_unchanged(warehouse: Warehouse) -> None:
    generate_demo(warehouse, users=100, days=10, seed=3)
    before = read_all(warehouse)
    with pytest.raises(DemoDataExists, match="replace=True"):
        generate_demo(warehouse, users=120, days=12, seed=4)
    after = read_all(warehouse)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)
    stats = generate_demo(warehouse, users=120, days=12, seed=4, replace=True)
    counts = warehouse.row_counts()
    assert counts["users"] == 120 and counts["events"] == stats.events
    assert not read(warehouse, "events").equals(before["events"])


@pytest.mark.parametrize("kwargs", [{"users": 0}, {"days": -1}, {"seed": -5}, {"users": 2.5}])
def test_rejects_bad_arguments(kwargs: dict) -> None:
    args = {"users": 10, "days": 10, "seed": 1} | kwargs
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name}="):
        check_demo_args(**args)


def _uba(args: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> tuple:
    """Run the ``uba`` entry point in-process: (exit code, stdout, stderr)."""
    from ui.cli import main

    monkeypatch.setenv("UBA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("UBA_WAREHOUSE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["uba", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_builds_the_demo_and_refuses_to_overwrite(tmp_path: Path, monkeypatch, capsys) -> None:
    code, out, err = _uba(
        ["data", "demo", "--users", "150", "--days", "14", "--seed", "5"], tmp_path, monkeypatch, capsys
    )
    assert code == 0, err
    assert "events" in out and "reviews" in out
    wh = Warehouse.open(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    counts = wh.row_counts()
    wh.dispose()
    assert counts["users"] == 150 and f"{counts['events']:,}" in out
    code, out, err = _uba(["data", "demo", "--users", "150", "--days", "14"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "--replace" in err
    code, out, err = _uba(["data", "demo", "--if-empty"], tmp_path, monkeypatch, capsys)
    assert code == 0 and "left as it is" in out
    code, out, err = _uba(["data", "demo", "--users", "0"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "--users" in err
    code, out, err = _uba(["data", "demo", "--end", "2026-02-30"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "YYYY-MM-DD" in err
    code, out, err = _uba(
        ["data", "demo", "--users", "150", "--days", "14", "--seed", "6", "--replace", "--json"],
        tmp_path,
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["users"] == 150


def test_a_failure_mid_load_leaves_nothing_behind(warehouse: Warehouse, monkeypatch) -> None:
    real_insert = warehouse.bulk_insert

    def failing_insert(conn, table, data):
        if table == "orders":  # users, items and every events chunk are already in
            raise OSError("disk full")
        return real_insert(conn, table, data)

    monkeypatch.setattr(warehouse, "bulk_insert", failing_insert)
    with pytest.raises(OSError, match="disk full"):
        generate_demo(warehouse, users=100, days=10, seed=3)
    assert set(warehouse.row_counts().values()) == {0}
    assert analytic_indexes(warehouse) == expected_indexes(warehouse)


def analytic_indexes(warehouse: Warehouse) -> set[str]:
    if warehouse.dialect != "postgresql":
        return set()
    inspector = inspect(warehouse.engine)
    return {ix["name"] for table in TABLE_NAMES for ix in inspector.get_indexes(table)}


def expected_indexes(warehouse: Warehouse) -> set[str]:
    return {ix.name for ix in ANALYTIC_INDEXES} if warehouse.dialect == "postgresql" else set()


@pytest.mark.postgres
def test_postgres_indexes_are_in_place_after_a_load(pg_url: str) -> None:
    warehouse = Warehouse.open(pg_url)
    generate_demo(warehouse, users=80, days=7, seed=2)
    generate_demo(warehouse, users=90, days=7, seed=2, replace=True)
    assert analytic_indexes(warehouse) == expected_indexes(warehouse) != set()
    assert warehouse.row_counts()["users"] == 90
    warehouse.dispose()
