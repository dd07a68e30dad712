"""Mapped sources (CSV, TSV, whitespace, JSON lines, Parquet): null keys, time formats, mappings, side tables, reports."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from tests.warehouse.loader_files import TAOBAO_ROWS, fingerprint, taobao_csv, write
from warehouse import IngestError
from warehouse.loaders import SourceMapping, ingest, load_mapping

# A session log whose anonymous visitors carry the literal NA (and other null spellings) as their user.
SESSIONS_CSV = """user,session,time,page
NA,s1,2024-05-01 10:00:00,p1
NA,s1,2024-05-01 10:01:00,p2
u7,s2,2024-05-01 11:00:00,p1
null,s3,2024-05-02 09:00:00,p3
-,,2024-05-02 09:30:00,p1
u7,s4,2024-05-03 12:00:00,NA
"""
SESSIONS = SourceMapping(
    columns={"user_id": "user", "session_id": "session", "ts": "time", "item_id": "page"},
    constants={"event_type": "view"},
)


def rows(warehouse, sql: str) -> list[tuple]:
    with warehouse.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_null_tokens_never_become_a_user(warehouse, tmp_path):
    report = ingest(warehouse, write(tmp_path / "sessions.csv", SESSIONS_CSV), "csv", spec=SESSIONS)
    assert rows(warehouse, "SELECT user_id, COUNT(*) FROM events GROUP BY 1 ORDER BY 1") == [
        ("anon-s1", 2),
        ("anon-s3", 1),
        ("u7", 2),
    ]
    assert rows(warehouse, "SELECT COUNT(*) FROM users WHERE user_id IN ('NA', 'null', '-')") == [(0,)]
    assert rows(warehouse, "SELECT COUNT(*) FROM events WHERE item_id IS NULL") == [(1,)]  # the page 'NA'
    assert report.rows_read == 6 and report.inserted["events"] == 5
    (group,) = report.skipped
    assert (group.reason, group.rows, group.samples[0]["line"], group.samples[0]["item_id"]) == (
        "null_key",
        1,
        "6",
        "p1",
    )
    assert "no user_id and no session_id" in group.detail


def test_rows_without_a_user_can_be_skipped_instead(warehouse, tmp_path):
    spec = SESSIONS.model_copy(update={"anonymous": "skip"})
    report = ingest(warehouse, write(tmp_path / "sessions.csv", SESSIONS_CSV), "csv", spec=spec)
    assert rows(warehouse, "SELECT DISTINCT user_id FROM events") == [("u7",)]
    assert report.skipped_by_reason() == {"null_key": 4}


def test_yyyymmdd_integers_are_dates_not_unix_seconds(warehouse, tmp_path):
    body = "".join(f"b{i % 3},{20240501 + i % 20},purchase\n" for i in range(30))
    ingest(
        warehouse,
        write(tmp_path / "buys.csv", "buyer,day,what\n" + body),
        "csv",
        mapping={"user_id": "buyer", "ts": "day", "event_type": "what"},
    )
    assert rows(warehouse, "SELECT MIN(ts), MAX(ts), COUNT(DISTINCT CAST(ts AS DATE)) FROM events") == [
        (datetime(2024, 5, 1), datetime(2024, 5, 20), 20)
    ]


@pytest.mark.parametrize(
    ("values", "fmt", "sample"),
    [
        (["1234567", "1234568"], "unix_s", "'1234567' reads as 1970-01-15"),  # ms-sized ids read as seconds: 1970
        ([str(int((datetime.now() + timedelta(days=400)).timestamp()))] * 2, "unix_s", "outside 1990 to today"),
    ],
)
def test_implausible_times_are_refused_unless_the_format_is_given(warehouse, tmp_path, values, fmt, sample):
    path = write(tmp_path / "e.csv", "user_id,ts,event_type\n" + "".join(f"u,{v},view\n" for v in values))
    before = fingerprint(warehouse)
    with pytest.raises(IngestError) as caught:
        ingest(warehouse, path, "csv")
    message = str(caught.value)
    assert "line 2, column 'ts'" in message and sample in message and "--ts-format" in message
    assert fingerprint(warehouse) == before
    assert ingest(warehouse, path, "csv", spec=SourceMapping(ts_format=fmt)).inserted["events"] == 2


def test_a_file_all_on_one_day_is_refused_unless_the_format_is_given(warehouse, tmp_path, monkeypatch):
    # Minutes since midnight written as YYYYMMDDhhmm would parse; written as small unix ms they all fall on one day.
    body = "".join(f"u{i % 9},{1_700_000_000_000 + i * 1000},view\n" for i in range(150))
    path = write(tmp_path / "clicks.csv", "user_id,ts,event_type\n" + body)
    monkeypatch.setattr("warehouse.loaders._csv.BLOCK_BYTES", 1024)  # the check spans every chunk of the file
    before = fingerprint(warehouse)
    with pytest.raises(IngestError, match=r"column 'ts': all 150 timestamps fall within one day \(2023-11-14"):
        ingest(warehouse, path, "csv")
    assert fingerprint(warehouse) == before
    assert ingest(warehouse, path, "csv", spec=SourceMapping(ts_format="unix_ms")).inserted["events"] == 150


def test_strftime_format_and_value_maps(warehouse, tmp_path):
    path = write(tmp_path / "log.csv", "who;when;what;cc\na;01/05/2024 10:00;CLICK;UK\nb;02/05/2024 11:30;BUY;DE\n")
    spec = SourceMapping(
        columns={"user_id": "who", "ts": "when", "event_type": "what", "country": "cc"},
        values={"event_type": {"CLICK": "view", "BUY": "purchase"}, "country": {"UK": "GB"}},
        ts_format="%d/%m/%Y %H:%M",
    )
    ingest(warehouse, path, "csv", spec=spec)
    assert rows(warehouse, "SELECT user_id, ts, event_type, source_event FROM events ORDER BY 1") == [
        ("a", datetime(2024, 5, 1, 10), "view", "CLICK"),
        ("b", datetime(2024, 5, 2, 11, 30), "purchase", "BUY"),
    ]
    assert rows(warehouse, "SELECT user_id, country FROM users ORDER BY 1") == [("a", "GB"), ("b", "DE")]


def test_whitespace_log_without_header(warehouse, tmp_path, monkeypatch):
    lines = [f"u{i % 4}   {1714557600 + i * 600}\tclick  item{i % 5}" for i in range(40)]
    path = write(tmp_path / "clicks.log", "\n".join(lines) + "\n")
    monkeypatch.setattr("warehouse.loaders._csv.BLOCK_BYTES", 256)
    spec = SourceMapping(names=["user_id", "ts", "event_type", "item_id"], values={"event_type": {"click": "view"}})
    report = ingest(warehouse, path, "csv", spec=spec)
    assert report.rows_read == 40 and report.inserted["events"] == 40 and report.inserted["items"] == 5
    assert rows(warehouse, "SELECT user_id, ts, item_id FROM events ORDER BY ts LIMIT 2") == [
        ("u0", datetime(2024, 5, 1, 10), "item0"),
        ("u1", datetime(2024, 5, 1, 10, 10), "item1"),
    ]
    assert ingest(warehouse, path, "csv", spec=spec).already_present["events"] == 40


def test_whitespace_log_short_line_is_named(warehouse, tmp_path):
    path = write(tmp_path / "clicks.log", "user_id ts event_type\nu1 1714557600 view\nu2 1714557700\n")
    before = fingerprint(warehouse)
    with pytest.raises(IngestError, match=r"clicks.log, line 3: expected 3 fields separated by whitespace, found 2"):
        ingest(warehouse, path, "csv")
    assert fingerprint(warehouse) == before


def test_uci_whitespace_header_names_the_file_columns(warehouse, tmp_path):
    path = write(
        tmp_path / "retail.txt",
        "InvoiceNo StockCode Quantity InvoiceDate UnitPrice CustomerID\n"
        "536365 85123A 6 2010-12-01 08:26:00 2.55 17850\n",
    )
    with pytest.raises(IngestError) as caught:
        ingest(warehouse, path, "uci-retail", spec=SourceMapping(separator=","))
    message = str(caught.value)
    assert "columns found: ['InvoiceNo StockCode Quantity InvoiceDate UnitPrice CustomerID']" in message
    assert "whitespace-separated" in message and "_extra" not in message


def test_key_columns_make_exact_repeats_duplicates(warehouse, tmp_path):
    body = "u1,2024-05-01 10:00:00,view,i1\nu1,2024-05-01 10:00:00,view,i1\nu1,2024-05-01 10:05:00,view,i1\n"
    path = write(tmp_path / "e.csv", "user_id,ts,event_type,item_id\n" + body)
    report = ingest(warehouse, path, "csv", spec=SourceMapping(key=["user_id", "item_id", "ts", "event_type"]))
    assert report.key == "user_id, item_id, ts, event_type"
    assert report.inserted["events"] == 2 and report.skipped_by_reason() == {"duplicate_key": 1}
    assert report.skipped[0].samples[0]["ts"] == "2024-05-01 10:00:00"


def test_orders_from_purchase_rows(warehouse, tmp_path):
    path = write(
        tmp_path / "buys.csv",
        "user_id,ts,event_type,item_id,order_id,quantity,value\n"
        "u1,2024-05-01 10:00:00,purchase,i1,o1,2,10.0\n"
        "u1,2024-05-01 10:00:05,purchase,i2,o1,1,4.5\n"
        "u2,2024-05-02 09:00:00,purchase,i1,,1,5.0\n"
        "u2,2024-05-02 09:01:00,view,i3,,,\n",
    )
    report = ingest(warehouse, path, "csv", spec=SourceMapping(orders=True))
    assert report.inserted["orders"] == 2 and report.inserted["order_items"] == 3
    assert rows(warehouse, "SELECT order_id, user_id, ts, total FROM orders WHERE order_id = 'o1'") == [
        ("o1", "u1", datetime(2024, 5, 1, 10), 14.5)
    ]
    assert rows(warehouse, "SELECT item_id, quantity, price FROM order_items WHERE order_id = 'o1' ORDER BY 1") == [
        ("i1", 2, 5.0),
        ("i2", 1, 4.5),
    ]
    assert rows(
        warehouse,
        "SELECT o.user_id, oi.item_id FROM orders o JOIN order_items oi USING (order_id) WHERE order_id LIKE 'ev-%'",
    ) == [("u2", "i1")]
    again = ingest(warehouse, path, "csv", spec=SourceMapping(orders=True))
    assert again.inserted["orders"] == again.inserted["order_items"] == 0


def test_mapping_file_with_side_tables_and_json_lines(warehouse, tmp_path):
    events = [
        {"visitor": "v1", "at": "2024-05-01T10:00:00Z", "sku": "A", "extra": {"nested": 1}},
        {"visitor": "v2", "at": "2024-05-01T11:00:00Z", "sku": "B"},
        {"visitor": "NA", "at": "2024-05-01T12:00:00Z", "sku": "B"},
    ]
    write(tmp_path / "clicks.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    write(tmp_path / "people.tsv", "id\tcc\tjoined\nv1\tIT\t2023-01-02\nv2\tFR\t2023-03-04\nv1\tIT\t2023-01-02\n")
    pd.DataFrame({"sku": ["A", "B"], "name": ["Lamp", "Desk"], "cost": [9.5, 120.0]}).to_parquet(
        tmp_path / "items.parquet"
    )
    (tmp_path / "mapping.yaml").write_text(
        "columns: {user_id: visitor, ts: at, item_id: sku}\n"
        "constants: {event_type: view}\n"
        "users: {path: people.tsv, columns: {user_id: id, country: cc, signup_ts: joined}}\n"
        "items: {path: items.parquet, columns: {item_id: sku, title: name, price: cost}}\n"
    )
    report = ingest(warehouse, tmp_path / "clicks.jsonl", "jsonl", spec=load_mapping(tmp_path / "mapping.yaml"))
    assert rows(warehouse, "SELECT user_id, country, signup_ts FROM users ORDER BY 1") == [
        ("v1", "IT", datetime(2023, 1, 2)),
        ("v2", "FR", datetime(2023, 3, 4)),
    ]
    assert rows(warehouse, "SELECT item_id, title, price FROM items ORDER BY 1") == [
        ("A", "Lamp", 9.5),
        ("B", "Desk", 120.0),
    ]
    assert rows(warehouse, "SELECT user_id, ts, item_id, event_type FROM events ORDER BY ts") == [
        ("v1", datetime(2024, 5, 1, 10), "A", "view"),
        ("v2", datetime(2024, 5, 1, 11), "B", "view"),
    ]
    assert [(g.reason, g.rows) for g in report.skipped] == [("duplicate_key", 1), ("null_key", 1)]
    assert report.skipped[0].detail == "same people.tsv: id as an earlier row"
    # every input row of every file is accounted for: 3 people rows = 2 users + 1 duplicate
    assert report.rows_read == 3 and report.side_rows_read == {"users: people.tsv": 3, "items: items.parquet": 2}
    assert report.side_rows_read["users: people.tsv"] == report.inserted["users"] + 1
    assert report.rows_read == report.inserted["events"] + 1  # the NA visitor, skipped as null_key


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("colums: {user_id: x}\n", "colums: Extra inputs are not permitted"),
        ("separator: '#'\n", "separator (--sep): separator '#' is not one of"),
        ("key: [colour]\n", "key (--key): 'colour' is not a canonical event column"),
        ("columns: [a, b]\n", "columns (--map): Input should be a valid dictionary"),
        ("columns: {user_id: [\n", "is not valid YAML"),
    ],
)
def test_bad_mapping_files(tmp_path, yaml_text, expected):
    (tmp_path / "m.yaml").write_text(yaml_text)
    with pytest.raises(IngestError, match=expected.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        load_mapping(tmp_path / "m.yaml")


def test_dry_run_previews_and_writes_nothing(warehouse, tmp_path):
    ingest(warehouse, write(tmp_path / "seed.csv", taobao_csv(TAOBAO_ROWS[:2])), "taobao")
    before = fingerprint(warehouse)
    report = ingest(warehouse, write(tmp_path / "sessions.csv", SESSIONS_CSV), "csv", spec=SESSIONS, dry_run=True)
    assert fingerprint(warehouse) == before
    assert report.dry_run and report.inserted["events"] == 5 and report.skipped_by_reason() == {"null_key": 1}
    assert [(r["user_id"], r["item_id"], r["event_type"]) for r in report.preview[:3]] == [
        ("anon-s1", "p1", "view"),
        ("anon-s1", "p2", "view"),
        ("u7", "p1", "view"),
    ]


def test_parquet_yyyymmdd_and_null_tokens(warehouse, tmp_path):
    frame = pd.DataFrame({"uid": ["1", "NA", "2"], "day": [20240105, 20240106, 20240107], "ev": ["view"] * 3})
    frame.to_parquet(tmp_path / "e.parquet")
    report = ingest(
        warehouse, tmp_path / "e.parquet", "parquet", mapping={"user_id": "uid", "ts": "day", "event_type": "ev"}
    )
    assert rows(warehouse, "SELECT user_id, ts FROM events ORDER BY ts") == [
        ("1", datetime(2024, 1, 5)),
        ("2", datetime(2024, 1, 7)),
    ]
    assert report.skipped[0].samples[0]["line"] == "2"


def test_taobao_skips_null_users_and_impossible_times_with_reasons(warehouse, tmp_path):
    bad = [("NA", "100", "7", "pv", 1511544070), ("5", "-", "7", "pv", 1511544070), ("6", "100", "7", "pv", 86400)]
    report = ingest(warehouse, write(tmp_path / "UserBehavior.csv", taobao_csv([*TAOBAO_ROWS, *bad])), "taobao")
    assert report.rows_read == 9 and report.inserted["events"] == len(TAOBAO_ROWS)
    assert [(g.reason, g.rows, g.samples[0]["line"]) for g in report.skipped] == [
        ("null_key", 1, "7"),
        ("null_key", 1, "8"),
        ("out_of_range", 1, "9"),
    ]
    assert report.skipped[0].samples[0]["user_id"] == "NA"
    assert rows(warehouse, "SELECT COUNT(*) FROM users WHERE user_id = 'NA'") == [(0,)]
