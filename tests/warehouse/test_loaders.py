"""Each loader maps its format into the canonical tables, atomically and idempotently, on both engines."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import text

from tests.warehouse.loader_files import (
    RETAILROCKET_CSV,
    TAOBAO_ROWS,
    UCI_CSV,
    amazon_2014,
    amazon_2018,
    fingerprint,
    taobao_csv,
    write,
)
from warehouse.loaders import FORMATS, ingest


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def rows(warehouse, sql: str) -> list[tuple]:
    with warehouse.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_formats_are_listed():
    assert set(FORMATS) == {"amazon-reviews", "taobao", "retailrocket", "uci-retail", "csv", "tsv", "jsonl", "parquet"}


def test_taobao_maps_behaviors_items_and_orders(warehouse, tmp_path):
    report = ingest(warehouse, write(tmp_path / "UserBehavior.csv", taobao_csv()), "taobao")
    assert report.rows_read == 6
    assert rows(warehouse, "SELECT source_event, event_type, COUNT(*) FROM events GROUP BY 1, 2 ORDER BY 1") == [
        ("buy", "purchase", 2),
        ("cart", "add_to_cart", 1),
        ("fav", "favorite", 1),
        ("pv", "view", 2),
    ]
    assert rows(warehouse, "SELECT item_id, category FROM items ORDER BY 1") == [
        ("100", "7"),
        ("200", "8"),
        ("300", "9"),
    ]
    assert rows(warehouse, "SELECT user_id FROM users ORDER BY 1") == [("1",), ("2",), ("3",)]
    assert rows(
        warehouse,
        "SELECT o.user_id, o.ts, oi.item_id, oi.quantity FROM orders o JOIN order_items oi USING (order_id) ORDER BY 1",
    ) == [("1", utc(1511544200), "100", 1), ("3", utc(1511700000), "300", 1)]


def test_taobao_in_many_chunks_equals_one_chunk(warehouse, tmp_path, monkeypatch):
    many = [
        (str(u % 7), str(i % 13), str(i % 3), ("pv", "cart", "fav", "buy")[i % 4], 1511544070 + i)
        for i in range(400)
        for u in (i,)
    ]
    path = write(tmp_path / "UserBehavior.csv", taobao_csv(many))
    monkeypatch.setattr("warehouse.loaders._csv.BLOCK_BYTES", 512)  # dozens of chunks
    report = ingest(warehouse, path, "taobao")
    assert report.inserted == {"users": 7, "items": 13, "events": 400, "orders": 100, "order_items": 100, "reviews": 0}
    assert rows(warehouse, "SELECT COUNT(DISTINCT event_id) FROM events") == [(400,)]


def test_ingest_twice_changes_nothing(warehouse, tmp_path):
    path = write(tmp_path / "UserBehavior.csv", taobao_csv())
    first = ingest(warehouse, path, "taobao")
    before = fingerprint(warehouse)
    second = ingest(warehouse, path, "taobao")
    assert fingerprint(warehouse) == before
    assert set(second.inserted.values()) == {0}
    assert second.already_present["events"] == first.inserted["events"] == len(TAOBAO_ROWS)


def test_a_grown_file_adds_only_its_new_lines(warehouse, tmp_path):
    path = write(tmp_path / "UserBehavior.csv", taobao_csv(TAOBAO_ROWS[:4]))
    ingest(warehouse, path, "taobao")
    write(path, taobao_csv())
    report = ingest(warehouse, path, "taobao")
    assert report.inserted["events"] == 2 and report.already_present["events"] == 4
    assert rows(warehouse, "SELECT COUNT(*) FROM events") == [(len(TAOBAO_ROWS),)]


def test_retailrocket_events_and_transactions(warehouse, tmp_path):
    ingest(warehouse, write(tmp_path / "events.csv", RETAILROCKET_CSV), "retailrocket")
    assert rows(warehouse, "SELECT source_event, event_type, COUNT(*) FROM events GROUP BY 1, 2 ORDER BY 1") == [
        ("addtocart", "add_to_cart", 1),
        ("transaction", "purchase", 3),
        ("view", "view", 2),
    ]
    assert rows(warehouse, "SELECT order_id, user_id, ts FROM orders ORDER BY 1") == [
        ("4000", "111016", utc(1433221955.914)),
        ("4001", "5", utc(1433222000)),
    ]
    assert rows(warehouse, "SELECT order_id, item_id, quantity FROM order_items ORDER BY 1, 2") == [
        ("4000", "2222", 1),
        ("4000", "318965", 1),
        ("4001", "318965", 1),
    ]
    assert rows(warehouse, "SELECT COUNT(*) FROM users") == [(4,)]
    assert rows(warehouse, "SELECT COUNT(*) FROM items") == [(4,)]


def test_uci_retail_messy_csv(warehouse, tmp_path):
    report = ingest(warehouse, write(tmp_path / "retail.csv", UCI_CSV), "uci-retail")
    assert [(g.reason, g.detail, g.rows, [s["invoice"] for s in g.samples]) for g in report.skipped] == [
        ("bad_value", "not a sale or cancellation invoice (e.g. 'A…' bad-debt adjustments)", 1, ["A563185"]),
        ("out_of_range", "stock adjustment: quantity <= 0 on a sale invoice", 1, ["536380"]),
    ]
    assert report.skipped[1].samples[0]["line"] == "6"
    assert rows(warehouse, "SELECT order_id, user_id, ts, total, status FROM orders ORDER BY 1") == [
        ("536365", "17850", datetime(2010, 12, 1, 8, 26), pytest.approx(6 * 2.55 + 2 * 3.39, abs=1e-4), "completed"),
        ("536366", "guest-536366", datetime(2010, 12, 1, 8, 28), pytest.approx(11.1, abs=1e-4), "completed"),
        ("C536379", "17850", datetime(2010, 12, 1, 9, 41), pytest.approx(-2.55, abs=1e-4), "cancelled"),
    ]
    assert rows(warehouse, "SELECT event_type, source_event, COUNT(*) FROM events GROUP BY 1, 2 ORDER BY 1") == [
        ("purchase", "sale", 3),
        ("remove_from_cart", "cancellation", 1),
    ]
    assert rows(warehouse, "SELECT order_id, item_id, quantity FROM order_items WHERE quantity < 0") == [
        ("C536379", "85123A", -1)
    ]
    assert rows(warehouse, "SELECT user_id, country FROM users ORDER BY 1") == [
        ("17850", "United Kingdom"),
        ("guest-536366", "United Kingdom"),
    ]
    assert rows(warehouse, "SELECT title FROM items WHERE item_id = '22633'") == [("HAND WARMER UNION JACK",)]


def test_uci_lines_shared_by_two_extracts_load_once(warehouse, tmp_path):
    lines = UCI_CSV.splitlines()
    ingest(warehouse, write(tmp_path / "a.csv", "\n".join(lines[:3]) + "\n"), "uci-retail")
    report = ingest(warehouse, write(tmp_path / "b.csv", "\n".join([lines[0], *lines[2:5]]) + "\n"), "uci-retail")
    assert report.already_present["events"] == 1 and report.inserted["events"] == 2
    assert rows(warehouse, "SELECT COUNT(*) FROM events") == [(4,)]
    assert rows(warehouse, "SELECT COUNT(*) FROM order_items") == [(4,)]


def test_amazon_2014_layout(warehouse, tmp_path):
    path = write(tmp_path / "reviews.json", amazon_2014(5))
    report = ingest(warehouse, path, "amazon-reviews")
    assert report.inserted["reviews"] == report.inserted["events"] == 5
    assert rows(warehouse, "SELECT COUNT(*), SUM(helpful_votes), SUM(rating) FROM reviews") == [(5, 10, 15)]
    assert rows(warehouse, "SELECT COUNT(*) FROM users") == [(2,)]
    assert rows(warehouse, "SELECT COUNT(*), COUNT(title) FROM items") == [(5, 0)]
    assert rows(warehouse, "SELECT DISTINCT event_type, source_event FROM events") == [("review", "review")]


def test_amazon_2018_layout(warehouse, tmp_path):
    ingest(warehouse, write(tmp_path / "Books_5.json", amazon_2018()), "amazon-reviews")
    assert rows(
        warehouse, "SELECT review_id, user_id, item_id, ts, rating, title, body, helpful_votes FROM reviews ORDER BY 1"
    ) == [
        ("U1-A1-1473724800", "U1", "A1", datetime(2016, 9, 13), 4, "ok", "good", 1234),
        ("U1-A2-1483315200", "U1", "A2", datetime(2017, 1, 2), 5, None, None, 7),
        ("U2-A1-1483315200", "U2", "A1", datetime(2017, 1, 2), 2, "meh", "meh", 0),
    ]
    assert rows(warehouse, "SELECT user_id, item_id, value FROM events ORDER BY 1, 2") == [
        ("U1", "A1", 4.0),
        ("U1", "A2", 5.0),
        ("U2", "A1", 2.0),
    ]


def test_amazon_repeated_review_loads_once(warehouse, tmp_path):
    text_ = amazon_2014(2)
    report = ingest(warehouse, write(tmp_path / "r.json", text_ + text_), "amazon-reviews")
    assert report.inserted["reviews"] == report.inserted["events"] == 2
    assert [(g.reason, g.rows, g.detail) for g in report.skipped] == [
        ("duplicate_key", 2, "same reviewer, product and review time as an earlier row")
    ]
    assert report.rows_read == 4 and report.skipped[0].samples[0]["review_id"] == "R0-B000-1393545600"


def test_amazon_same_product_reviewed_twice_is_two_reviews(warehouse, tmp_path):
    """As in All Beauty 2018: repeats of (reviewer, product, time) are duplicates; a later review is not."""
    first = {"reviewerID": "R1", "asin": "P1", "overall": 5.0, "unixReviewTime": 1500000000, "reviewText": "love it"}
    later = {**first, "overall": 2.0, "unixReviewTime": 1540000000, "reviewText": "it broke"}
    other = {**first, "reviewerID": "R2"}
    records = [first, first, later, other, first, later]
    report = ingest(
        warehouse, write(tmp_path / "All_Beauty.json", "".join(json.dumps(r) + "\n" for r in records)), "amazon-reviews"
    )
    distinct = {(r["reviewerID"], r["asin"], r["unixReviewTime"]) for r in records}
    assert report.inserted["reviews"] == report.inserted["events"] == len(distinct) == 3
    assert report.rows_read == 6 and report.skipped_by_reason() == {"duplicate_key": 3}
    assert rows(warehouse, "SELECT user_id, rating, body FROM reviews WHERE user_id = 'R1' ORDER BY ts") == [
        ("R1", 5, "love it"),
        ("R1", 2, "it broke"),
    ]


def test_csv_with_column_and_event_mapping(warehouse, tmp_path):
    path = write(
        tmp_path / "clicks.csv",
        "visitor,time,action,sku,cat,amount\n"
        "u1,2024-05-01 10:00:00,click,i1,shoes,\n"
        "u1,2024-05-01T10:05:00+02:00,basket,i1,shoes,\n"
        "u2,1714557600,order,i2,hats,19.5\n"
        "u2,1714557660000,search,,,\n",
    )
    ingest(
        warehouse,
        path,
        "csv",
        mapping={
            "user_id": "visitor",
            "ts": "time",
            "event_type": "action",
            "item_id": "sku",
            "category": "cat",
            "value": "amount",
        },
        event_map={"click": "view", "basket": "add_to_cart", "order": "purchase"},
    )
    assert rows(
        warehouse, "SELECT user_id, ts, event_type, source_event, item_id, value FROM events ORDER BY ts, user_id"
    ) == [
        ("u1", datetime(2024, 5, 1, 8, 5), "add_to_cart", "basket", "i1", None),
        ("u1", datetime(2024, 5, 1, 10, 0), "view", "click", "i1", None),
        ("u2", datetime(2024, 5, 1, 10, 0), "purchase", "order", "i2", 19.5),
        ("u2", datetime(2024, 5, 1, 10, 1), "search", "search", None, None),
    ]
    assert rows(warehouse, "SELECT item_id, category FROM items ORDER BY 1") == [("i1", "shoes"), ("i2", "hats")]


def test_parquet_with_native_types(warehouse, tmp_path):
    frame = pd.DataFrame(
        {
            "uid": [1, 2, 2],
            "when": pd.to_datetime(["2024-01-01 12:00", "2024-01-02 00:00", "2024-01-03 00:00"]).tz_localize("UTC"),
            "what": ["view", "buy", "view"],
            "item": ["a", "b", "a"],
            "session_id": ["s1", "s2", "s3"],
        }
    )
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    report = ingest(
        warehouse,
        path,
        "parquet",
        mapping={"user_id": "uid", "ts": "when", "event_type": "what", "item_id": "item"},
        event_map={"buy": "purchase"},
    )
    assert report.inserted["events"] == 3
    assert rows(warehouse, "SELECT user_id, ts, event_type, session_id FROM events ORDER BY ts") == [
        ("1", datetime(2024, 1, 1, 12), "view", "s1"),
        ("2", datetime(2024, 1, 2), "purchase", "s2"),
        ("2", datetime(2024, 1, 3), "view", "s3"),
    ]


def test_progress_bar_and_report(warehouse, tmp_path, capsys):
    report = ingest(warehouse, write(tmp_path / "UserBehavior.csv", taobao_csv()), "taobao", progress=True)
    assert "ingest UserBehavior.csv" in capsys.readouterr().err
    summary = report.to_dict()
    assert summary["rows_read"] == 6 and summary["inserted"]["events"] == 6 and summary["elapsed_s"] >= 0
    json.dumps(summary)


def test_amazon_gz_matches_plain(tmp_path, duckdb_url):
    from warehouse import Warehouse

    text_ = amazon_2014(4)
    counts = []
    for name, gz in (("a.json", False), ("b.json.gz", True)):
        wh = Warehouse.open(duckdb_url.replace("warehouse.duckdb", f"{name}.duckdb"))
        wh.create_schema()
        ingest(wh, write(tmp_path / name, text_, gz=gz), "amazon-reviews")
        counts.append(rows(wh, "SELECT review_id, ts, rating, helpful_votes FROM reviews ORDER BY 1"))
        wh.dispose()
    assert counts[0] == counts[1] and len(counts[0]) == 4
    assert Counter(gzip.decompress((tmp_path / "b.json.gz").read_bytes()).decode().splitlines()) == Counter(
        text_.splitlines()
    )


def test_taobao_header_line_is_tolerated(warehouse, tmp_path):
    path = write(tmp_path / "UserBehavior.csv", "user_id,item_id,category_id,behavior_type,timestamp\n" + taobao_csv())
    assert ingest(warehouse, path, "taobao").inserted["events"] == len(TAOBAO_ROWS)


@pytest.mark.postgres
def test_postgres_indexes_survive_a_load_and_a_failed_load(pg_url, tmp_path):
    """Loads into an empty table drop and rebuild the events indexes inside the transaction."""
    from sqlalchemy import inspect

    from warehouse import IngestError, Warehouse

    warehouse = Warehouse.open(pg_url)
    warehouse.create_schema()

    def indexes():
        return sorted(ix["name"] for ix in inspect(warehouse.engine).get_indexes("events"))

    before = indexes()
    assert "ix_events_event_id" in before
    with pytest.raises(IngestError):
        ingest(warehouse, write(tmp_path / "bad.csv", taobao_csv([*TAOBAO_ROWS, ("1", "2", "3", "pv", "x")])), "taobao")
    assert indexes() == before
    ingest(warehouse, write(tmp_path / "UserBehavior.csv", taobao_csv()), "taobao")
    assert indexes() == before
    warehouse.dispose()


def test_uci_online_retail_ii_header(warehouse, tmp_path):
    path = write(
        tmp_path / "online_retail_II.csv",
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom\n"
        "C489449,22087,PAPER BUNTING WHITE LACE,-12,2009-12-01 10:33:00,2.95,16321.0,Australia\n",
    )
    ingest(warehouse, path, "uci-retail")
    assert rows(warehouse, "SELECT order_id, user_id, status FROM orders ORDER BY 1") == [
        ("489434", "13085", "completed"),
        ("C489449", "16321", "cancelled"),
    ]
