"""The loaders on the real public files in ../shared/data, checked against counts computed here with the stdlib."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.conftest import shared_data
from tests.warehouse.loader_files import fingerprint
from warehouse.loaders import SourceMapping, ingest
from warehouse.loaders.taobao import BEHAVIORS

AMAZON = "amazon-musical-instruments-5core-2014/reviews_Musical_Instruments_5.json.gz"
TAOBAO = "taobao-userbehavior-head/UserBehavior_head4321.csv"
UCI_SAMPLE = "uci-online-retail-sample/online_retail_sample_rhozon.csv"
BEAUTY = "amazon-beauty-bert4rec-format/beauty.txt"
YOOCHOOSE = "yoochoose-100k-session-rec/yoochoose-clicks-100k_train_full.txt"
UCI_HEAD = "uci-online-retail-sample/OnlineRetail_head_kristina.csv"


def rows(warehouse, sql: str) -> list[tuple]:
    with warehouse.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_amazon_musical_instruments(warehouse):
    path = shared_data(AMAZON)
    with gzip.open(path, "rt") as handle:
        records = [json.loads(line) for line in handle]
    report = ingest(warehouse, path, "amazon-reviews")
    assert (len(records), len({r["reviewerID"] for r in records}), len({r["asin"] for r in records})) == (
        10_261,
        1_429,
        900,
    )
    distinct = {(r["reviewerID"], r["asin"], r["unixReviewTime"]) for r in records}
    assert report.inserted["reviews"] == report.inserted["events"] == len(distinct) == 10_261
    assert report.rows_read == len(records) and report.skipped_by_reason().get("duplicate_key", 0) == len(
        records
    ) - len(distinct)
    assert warehouse.row_counts() == {
        "users": 1_429,
        "items": 900,
        "events": 10_261,
        "orders": 0,
        "order_items": 0,
        "reviews": 10_261,
    }
    stars = Counter(int(r["overall"]) for r in records)
    assert dict(rows(warehouse, "SELECT rating, COUNT(*) FROM reviews GROUP BY rating")) == stars
    assert rows(warehouse, "SELECT SUM(helpful_votes) FROM reviews") == [(sum(r["helpful"][0] for r in records),)]
    first = records[0]
    assert rows(
        warehouse,
        f"SELECT title, body FROM reviews WHERE review_id = '{first['reviewerID']}-{first['asin']}-{first['unixReviewTime']}'",
    ) == [(first["summary"], first["reviewText"])]


def test_taobao_head(warehouse):
    path = shared_data(TAOBAO)
    with path.open(newline="") as handle:
        lines = list(csv.reader(handle))
    report = ingest(warehouse, path, "taobao")
    assert report.rows_read == len(lines) == 4_321
    expected = Counter((BEHAVIORS[behavior], behavior) for _, _, _, behavior, _ in lines)
    got = rows(warehouse, "SELECT event_type, source_event, COUNT(*) FROM events GROUP BY 1, 2")
    assert {(t, s): n for t, s, n in got} == expected
    assert expected[("view", "pv")] == 3_926  # as SOURCE.txt states
    assert warehouse.row_counts()["users"] == len({line[0] for line in lines}) == 43
    assert warehouse.row_counts()["items"] == len({line[1] for line in lines})
    assert warehouse.row_counts()["orders"] == expected[("purchase", "buy")]
    before = fingerprint(warehouse)
    assert set(ingest(warehouse, path, "taobao").inserted.values()) == {0}
    assert fingerprint(warehouse) == before


def _uci_expectations(path, delimiter):
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle, delimiter=delimiter))
    guest = [r for r in lines if r["CustomerID"] in ("", "NA")]
    return {
        "lines": len(lines),
        "orders": len({r["InvoiceNo"] for r in lines}),
        "cancelled_orders": len({r["InvoiceNo"] for r in lines if r["InvoiceNo"].startswith("C")}),
        "cancel_lines": sum(r["InvoiceNo"].startswith("C") for r in lines),
        "users": len({r["CustomerID"] for r in lines if r not in guest} | {"g" + r["InvoiceNo"] for r in guest}),
        "guest_users": len({r["InvoiceNo"] for r in guest}),
        "items": len({r["StockCode"] for r in lines}),
        "revenue": sum(int(r["Quantity"]) * float(r["UnitPrice"].replace(",", ".")) for r in lines),
    }


@pytest.mark.parametrize(("relative", "delimiter"), [(UCI_SAMPLE, ";"), (UCI_HEAD, ",")], ids=["sample", "head"])
def test_uci_online_retail(warehouse, relative, delimiter):
    path = shared_data(relative)
    expected = _uci_expectations(path, delimiter)
    if relative == UCI_HEAD:
        assert expected["cancel_lines"] == 10  # the random sample has none; the head has ten
    report = ingest(warehouse, path, "uci-retail")
    assert report.rows_read == expected["lines"] and not report.skipped, report.skipped
    counts = warehouse.row_counts()
    assert (counts["events"], counts["order_items"]) == (expected["lines"], expected["lines"])
    assert (counts["orders"], counts["users"], counts["items"]) == (
        expected["orders"],
        expected["users"],
        expected["items"],
    )
    assert rows(warehouse, "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'") == [
        (expected["cancelled_orders"],)
    ]
    assert rows(warehouse, "SELECT COUNT(*) FROM events WHERE event_type = 'remove_from_cart' AND value <= 0") == [
        (expected["cancel_lines"],)
    ]
    assert rows(warehouse, "SELECT COUNT(*) FROM users WHERE user_id LIKE 'guest-%'") == [(expected["guest_users"],)]
    (revenue,) = rows(warehouse, "SELECT SUM(total) FROM orders")[0]
    assert revenue == pytest.approx(expected["revenue"], rel=1e-5)


def test_yoochoose_sessions_without_users(warehouse):
    """A TSV of (session, item, unix seconds) clicks: no user column, so each session is an anonymous visitor."""
    path = shared_data(YOOCHOOSE)
    with path.open(newline="") as handle:
        lines = list(csv.DictReader(handle, delimiter="\t"))
    spec = SourceMapping(
        columns={"session_id": "SessionId", "item_id": "ItemId", "ts": "Time"}, constants={"event_type": "view"}
    )
    report = ingest(warehouse, path, "tsv", spec=spec)
    assert report.rows_read == report.inserted["events"] == len(lines) and not report.skipped
    sessions = {r["SessionId"] for r in lines}
    assert warehouse.row_counts()["users"] == len(sessions)
    assert rows(warehouse, "SELECT COUNT(*) FROM events WHERE user_id = 'anon-' || session_id") == [(len(lines),)]
    first, last = min(float(r["Time"]) for r in lines), max(float(r["Time"]) for r in lines)
    ((low, high),) = rows(warehouse, "SELECT MIN(ts), MAX(ts) FROM events")
    assert (low - datetime(1970, 1, 1)).total_seconds() == pytest.approx(first, abs=1e-3)
    assert (high - datetime(1970, 1, 1)).total_seconds() == pytest.approx(last, abs=1e-3)


def test_beauty_whitespace_pairs(warehouse):
    """beauty.txt: 'user item' pairs separated by a space, no header and no time: a constant time, declared."""
    path = shared_data(BEAUTY)
    pairs = [line.split() for line in path.read_text().splitlines() if line.strip()]
    spec = SourceMapping(
        names=["user_id", "item_id"], constants={"event_type": "purchase", "ts": "2018-10-01"}, ts_format="iso"
    )
    report = ingest(warehouse, path, "csv", spec=spec)
    assert report.rows_read == report.inserted["events"] == len(pairs) == 353_962
    counts = warehouse.row_counts()
    assert (
        (counts["users"], counts["items"])
        == (len({u for u, _ in pairs}), len({i for _, i in pairs}))
        == (40_226, 54_542)
    )
