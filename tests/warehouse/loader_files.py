"""Small input files the loader tests write, and a fingerprint of every table."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from warehouse.schema import TABLE_NAMES, metadata

TAOBAO_ROWS = [
    ("1", "100", "7", "pv", 1511544070),
    ("1", "100", "7", "cart", 1511544100),
    ("1", "100", "7", "buy", 1511544200),
    ("2", "200", "8", "fav", 1511600000),
    ("2", "100", "7", "pv", 1511600100),
    ("3", "300", "9", "buy", 1511700000),
]

RETAILROCKET_CSV = """timestamp,visitorid,event,itemid,transactionid
1433221332117,257597,view,355908,
1433224214164,992329,view,248676,
1433221999827,111016,addtocart,318965,
1433221955914,111016,transaction,318965,4000
1433221955914,111016,transaction,2222,4000
1433222000000,5,transaction,318965,4001
"""

# ';'-separated with decimal commas, three date spellings, a cancellation, a guest, an
# accounting adjustment ('A...') and a negative quantity on a sale invoice.
UCI_CSV = """InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country
536365;85123A;WHITE HANGING HEART T-LIGHT HOLDER;6;12/1/2010 8:26;2,55;17850;United Kingdom
536365;71053;WHITE METAL LANTERN;2;12/1/2010 8:26;3,39;17850;United Kingdom
536366;22633;HAND WARMER UNION JACK;6;2010-12-01 08:28:00;1,85;NA;United Kingdom
C536379;85123A;WHITE HANGING HEART T-LIGHT HOLDER;-1;01.12.2010 09:41;2,55;17850;United Kingdom
536380;71053;WHITE METAL LANTERN;-3;2/20/11 11:39;0;;United Kingdom
A563185;B;Adjust bad debt;1;8/12/2011 14:50;11062,06;;United Kingdom
"""


def amazon_2014(rows: int = 3) -> str:
    lines = []
    for i in range(rows):
        lines.append(
            json.dumps(
                {
                    "reviewerID": f"R{i % 2}",
                    "asin": f"B00{i}",
                    "reviewerName": "x",
                    "helpful": [i, i + 1],
                    "reviewText": f"text {i}",
                    "overall": float(1 + i % 5),
                    "summary": f"sum {i}",
                    "unixReviewTime": 1393545600 + i * 86400,
                    "reviewTime": "02 28, 2014",
                }
            )
        )
    return "\n".join(lines) + "\n"


def amazon_2018() -> str:
    rows = [
        {
            "overall": 4.0,
            "verified": True,
            "reviewTime": "09 13, 2016",
            "reviewerID": "U1",
            "asin": "A1",
            "style": {"Format:": " Paperback"},
            "reviewerName": "n",
            "reviewText": "good",
            "summary": "ok",
            "unixReviewTime": 1473724800,
            "vote": "1,234",
            "image": ["http://x/1.jpg"],
        },
        {
            "overall": 2.0,
            "verified": False,
            "reviewTime": "01 02, 2017",
            "reviewerID": "U2",
            "asin": "A1",
            "reviewText": "meh",
            "summary": "meh",
        },  # no unixReviewTime, no vote
        {"overall": 5.0, "reviewerID": "U1", "asin": "A2", "unixReviewTime": 1483315200, "vote": 7},  # numeric vote
    ]
    return "\n".join(json.dumps(r) for r in rows) + "\n"


def write(path: Path, text: str, *, gz: bool = False) -> Path:
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def taobao_csv(rows=TAOBAO_ROWS) -> str:
    return "".join(",".join(map(str, row)) + "\n" for row in rows)


def fingerprint(warehouse) -> dict[str, str]:
    """A digest of every row of every table, independent of row order."""
    digests = {}
    with warehouse.engine.connect() as conn:
        for name in TABLE_NAMES:
            rows = sorted(repr(tuple(row)) for row in conn.execute(select(metadata.tables[name])))
            digests[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest() + f":{len(rows)}"
    return digests
