"""Bad input stops with an error naming file, line, column and fix; the warehouse is left exactly as it was."""

from __future__ import annotations

import gzip
import zipfile

import pandas as pd
import pytest

from tests.warehouse.loader_files import RETAILROCKET_CSV, UCI_CSV, amazon_2014, fingerprint, taobao_csv, write
from warehouse import IngestError
from warehouse.loaders import ingest

GOOD_TAOBAO = [(str(i % 5), str(i), "1", "pv", 1511544070 + i) for i in range(300)]


def _taobao_bad_at_end(ts="notatime", behavior="pv"):
    return taobao_csv([*GOOD_TAOBAO, ("9", "9", "1", behavior, ts)])


# name, format, file name, content (str or bytes), expected fragments of the message, options
CASES = [
    (
        "taobao bad timestamp late in the file",
        "taobao",
        "UserBehavior.csv",
        _taobao_bad_at_end(),
        ["UserBehavior.csv", "line 301", "column 'timestamp'", "'notatime'", "unix time in seconds"],
        {},
    ),
    (
        "taobao unknown behavior",
        "taobao",
        "UserBehavior.csv",
        _taobao_bad_at_end(ts=1511544070, behavior="click"),
        ["line 301", "column 'behavior_type'", "'click'", "--event-map"],
        {},
    ),
    (
        "taobao wrong field count",
        "taobao",
        "UserBehavior.csv",
        "1,2,3,pv,1511544070\n1,2,3,pv\n",
        ["line 2", "expected 5 fields"],
        {},
    ),
    (
        "taobao other layout",
        "taobao",
        "UserBehavior.csv",
        "a;b\n1;2\n",
        ["line 1", "expected 5 fields", "--format csv"],
        {},
    ),
    (
        "amazon broken JSON",
        "amazon-reviews",
        "r.json",
        amazon_2014(2) + '{"reviewerID": "x", oops}\n',
        ["r.json", "line 3", "not valid JSON"],
        {},
    ),
    ("amazon python literals", "amazon-reviews", "r.json", "{'reviewerID': 'x'}\n", ["line 1", "ast.literal_eval"], {}),
    (
        "amazon missing asin",
        "amazon-reviews",
        "r.json",
        amazon_2014(2) + '{"reviewerID": "x", "overall": 5.0, "unixReviewTime": 1}\n',
        ["line 3", "column 'asin'"],
        {},
    ),
    ("amazon given a CSV", "amazon-reviews", "r.csv", RETAILROCKET_CSV, ["r.csv", "line 1", "not JSON lines"], {}),
    (
        "retailrocket missing column",
        "retailrocket",
        "events.csv",
        "timestamp,visitorid,event,itemid\n1,2,view,3\n",
        ["events.csv", "line 1", "column 'transactionid'"],
        {},
    ),
    (
        "retailrocket bad timestamp",
        "retailrocket",
        "events.csv",
        RETAILROCKET_CSV + "12:30,1,view,2,\n",
        ["line 8", "column 'timestamp'", "'12:30'", "milliseconds"],
        {},
    ),
    (
        "uci bad date",
        "uci-retail",
        "retail.csv",
        UCI_CSV + "536999;22633;X;1;31/31/2010 8:26;1,5;1;UK\n",
        ["retail.csv", "line 8", "column 'InvoiceDate'", "'31/31/2010 8:26'", "M/D/YYYY"],
        {},
    ),
    (
        "uci bad quantity",
        "uci-retail",
        "retail.csv",
        UCI_CSV + "536999;22633;X;many;12/1/2010 8:26;1,5;1;UK\n",
        ["line 8", "column 'Quantity'", "'many'"],
        {},
    ),
    (
        "uci missing CustomerID column",
        "uci-retail",
        "retail.csv",
        "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;Country\n1;2;x;1;12/1/2010 8:26;1;UK\n",
        ["line 1", "column 'customer_id'"],
        {},
    ),
    (
        "csv unmapped event",
        "csv",
        "clicks.csv",
        "user_id,ts,event_type\nu,2024-01-01 00:00,view\nu,2024-01-01 00:01,click\n",
        ["clicks.csv", "line 3", "column 'event_type'", "--event-map click="],
        {},
    ),
    (
        "csv unparseable ts",
        "csv",
        "clicks.csv",
        "visitor,time,action\nu,2024-01-01 00:00,view\nu,yesterday,view\n",
        ["line 3", "column 'time'", "'yesterday'", "ISO 8601"],
        {"mapping": {"user_id": "visitor", "ts": "time", "event_type": "action"}},
    ),
    (
        "csv mapped column absent",
        "csv",
        "clicks.csv",
        "visitor,time,action\nu,1,view\n",
        ["line 1", "column 'who'"],
        {"mapping": {"user_id": "who", "ts": "time", "event_type": "action"}},
    ),
    (
        "header only",
        "retailrocket",
        "events.csv",
        "timestamp,visitorid,event,itemid,transactionid\n",
        ["no data rows"],
        {},
    ),
]

# Rejected from the first bytes, before a transaction starts: one engine is enough.
FILE_CASES = [
    ("empty file", "taobao", "UserBehavior.csv", "", ["UserBehavior.csv", "empty"], {}),
    ("binary file", "uci-retail", "retail.csv", b"\x00\x01\x02binary\x00" * 20, ["binary file"], {}),
    ("parquet given as csv", "csv", "e.parquet", "PARQUET", ["Parquet file", "--format parquet"], {}),
    ("text given as parquet", "parquet", "e.parquet", "user_id,ts\n", ["not a Parquet file"], {}),
    ("corrupt gzip", "amazon-reviews", "r.json.gz", gzip.compress(amazon_2014(50).encode())[:60], ["r.json.gz"], {}),
]


def _seed(warehouse, tmp_path):
    ingest(warehouse, write(tmp_path / "seed.csv", taobao_csv(GOOD_TAOBAO[:50])), "taobao")
    ingest(warehouse, write(tmp_path / "seed.json", amazon_2014(3)), "amazon-reviews")
    return warehouse


@pytest.fixture
def loaded(warehouse, tmp_path):
    """A warehouse already holding data, so 'unchanged' means something (both engines)."""
    return _seed(warehouse, tmp_path)


@pytest.fixture
def loaded_duckdb(duckdb_url, tmp_path):
    """The same on DuckDB only, for input rejected before any transaction."""
    from warehouse import Warehouse

    wh = Warehouse.open(duckdb_url)
    wh.create_schema()
    yield _seed(wh, tmp_path)
    wh.dispose()


def _file(tmp_path, name, content):
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    if content == "PARQUET":
        pd.DataFrame({"user_id": ["u"], "ts": [1], "event_type": ["view"]}).to_parquet(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _fails_cleanly(warehouse, path, fmt, expected, options):
    before = fingerprint(warehouse)
    with pytest.raises(IngestError) as caught:
        ingest(warehouse, path, fmt, **options)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, message
    assert fingerprint(warehouse) == before


@pytest.mark.parametrize(
    ("fmt", "name", "content", "expected", "options"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_names_the_problem_and_writes_nothing(
    loaded, tmp_path, monkeypatch, fmt, name, content, expected, options
):
    monkeypatch.setattr(
        "warehouse.loaders._csv.BLOCK_BYTES", 1024
    )  # several chunks: earlier ones are written, then undone
    _fails_cleanly(loaded, _file(tmp_path, name, content), fmt, expected, options)


@pytest.mark.parametrize(
    ("fmt", "name", "content", "expected", "options"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_files_are_rejected_up_front(loaded_duckdb, tmp_path, fmt, name, content, expected, options):
    _fails_cleanly(loaded_duckdb, _file(tmp_path, name, content), fmt, expected, options)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"fmt": "nope"}, "unknown format 'nope'"),
        ({"fmt": "taobao", "mapping": {"user_id": "x"}}, "columns apply to --format csv / tsv / jsonl / parquet"),
        ({"fmt": "csv", "mapping": {"colour": "x"}}, r"columns \(--map\): 'colour' is not a canonical column"),
        ({"fmt": "csv", "event_map": {"click": "tap"}}, "'tap' is not an event type"),
    ],
)
def test_bad_arguments(loaded_duckdb, tmp_path, kwargs, expected):
    loaded = loaded_duckdb
    path = write(tmp_path / "e.csv", "user_id,ts,event_type\nu,1,view\n")
    before = fingerprint(loaded)
    with pytest.raises(IngestError, match=expected):
        options = dict(kwargs)
        ingest(loaded, path, options.pop("fmt"), **options)
    assert fingerprint(loaded) == before


def test_missing_path_and_zip(loaded_duckdb, tmp_path):
    loaded = loaded_duckdb
    with pytest.raises(IngestError, match="does not exist"):
        ingest(loaded, tmp_path / "nowhere.csv", "taobao")
    archive = tmp_path / "UserBehavior.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("UserBehavior.csv", taobao_csv())
    with pytest.raises(IngestError, match="zip archive; unzip it"):
        ingest(loaded, archive, "taobao")
    workbook = tmp_path / "Online Retail.xlsx"
    workbook.write_bytes(archive.read_bytes())  # an .xlsx is a zip too
    with pytest.raises(IngestError, match="Excel workbook; save the sheet as CSV"):
        ingest(loaded, workbook, "uci-retail")


def test_failure_in_a_late_amazon_block_undoes_earlier_blocks(loaded, tmp_path, monkeypatch):
    monkeypatch.setattr("warehouse.loaders.amazon_reviews.BLOCK_BYTES", 2048)
    path = write(tmp_path / "big.json", amazon_2014(200).replace('"R1"', '"R3"') + "not json\n")
    before = fingerprint(loaded)
    with pytest.raises(IngestError, match="line 201"):
        ingest(loaded, path, "amazon-reviews")
    assert fingerprint(loaded) == before


@pytest.mark.parametrize("fmt", ["amazon-reviews", "taobao"])
def test_truncated_gzip_past_the_sample(loaded_duckdb, tmp_path, fmt):
    rows = [(str(i % 50), str(i), "1", "pv", 1511544070 + i) for i in range(40_000)]
    text_ = amazon_2014(3_000) if fmt == "amazon-reviews" else taobao_csv(rows)
    data = gzip.compress(text_.encode())
    path = tmp_path / f"cut.{fmt}.gz"
    path.write_bytes(data[: int(len(data) * 0.8)])  # the first 64 KiB decompress fine; the end is missing
    _fails_cleanly(loaded_duckdb, path, fmt, [path.name, "corrupt or truncated", "download the file again"], {})
