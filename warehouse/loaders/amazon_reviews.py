"""Amazon review JSON lines (McAuley, UCSD): the 2014 and 2018 layouts, plain or gzipped."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._columns import first_index
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import content_ids
from warehouse.loaders._ingest import Batch
from warehouse.loaders._jsonl import check_first_line, tables

BLOCK_BYTES = 8 * 1024 * 1024
SCHEMA = pa.schema(
    [
        ("reviewerID", pa.string()),
        ("asin", pa.string()),
        ("overall", pa.float64()),
        ("summary", pa.string()),
        ("reviewText", pa.string()),
        ("unixReviewTime", pa.int64()),
        ("reviewTime", pa.string()),
        ("helpful", pa.list_(pa.int64())),  # 2014: [helpful votes, total votes]
        ("vote", pa.string()),  # 2018: "1,234"
    ]
)
KEY = "reviewer, product and review time"
"""A reviewer may review the same product again later: only the same time too makes a duplicate."""


def read(inp: InputFile) -> Iterator[Batch]:
    """A review, a ``review`` event (value = rating), the reviewer and the product per line."""
    check_first_line(inp, "a reviews_*.json(.gz) file")
    for line, table in tables(inp, SCHEMA, block_bytes=BLOCK_BYTES):
        yield _batch(inp, table, line)


def _batch(inp: InputFile, table: pa.Table, line: int) -> Batch:
    for column in ("reviewerID", "asin", "overall"):
        index = first_index(pc.is_null(table[column]))
        if index is not None:
            raise inp.fail("the field is missing", f"every review needs {column!r}", line=line + index, column=column)
    ts = _timestamps(inp, table, line)
    seconds = pc.cast(pc.divide(pc.cast(ts, pa.int64()), 1_000_000), pa.string())
    review_id = pc.binary_join_element_wise(table["reviewerID"], table["asin"], seconds, "-")
    rating = pc.cast(pc.round(table["overall"]), pa.int32())
    reviews = pa.table(
        {
            "review_id": review_id,
            "user_id": table["reviewerID"],
            "item_id": table["asin"],
            "ts": ts,
            "rating": rating,
            "title": table["summary"],
            "body": table["reviewText"],
            "helpful_votes": _helpful_votes(table),
        }
    )
    events = pa.table(
        {
            # From the review key, not the line: a review repeated in the file, or in another file, loads once.
            "event_id": content_ids(inp.fmt, review_id),
            "user_id": table["reviewerID"],
            "ts": ts,
            "event_type": pa.repeat("review", table.num_rows),
            "item_id": table["asin"],
            "value": pc.cast(rating, pa.float64()),
            "source_event": pa.repeat("review", table.num_rows),
        }
    )
    return Batch(
        tables={
            "users": pa.table({"user_id": pc.unique(table["reviewerID"])}),
            "items": pa.table({"item_id": pc.unique(table["asin"])}),  # titles live in the separate metadata files
            "reviews": reviews,
            "events": events,
        },
        rows=table.num_rows,
        primary="reviews",
    )


def _timestamps(inp: InputFile, table: pa.Table, line: int) -> pa.Array:
    """``unixReviewTime`` (seconds), else ``reviewTime`` ("02 28, 2014")."""
    from_text = pc.strptime(table["reviewTime"], format="%m %d, %Y", unit="us", error_is_null=True)
    seconds = pc.cast(pc.multiply(table["unixReviewTime"], 1_000_000), pa.timestamp("us"))
    ts = pc.coalesce(seconds, from_text)
    index = first_index(pc.is_null(ts))
    if index is not None:
        value = table["reviewTime"][index].as_py()
        raise inp.fail(
            f"no review time (unixReviewTime missing, reviewTime {value!r})",
            "give unixReviewTime in seconds or reviewTime as 'MM DD, YYYY'",
            line=line + index,
            column="unixReviewTime",
        )
    return ts


def _helpful_votes(table: pa.Table) -> pa.Array:
    """2014: first number of ``helpful``; 2018: ``vote`` without thousands separators; else 0."""
    lists = table["helpful"]
    has = pc.fill_null(pc.greater(pc.list_value_length(lists), 0), False)
    safe = pc.if_else(has, lists, pa.scalar([0], pa.list_(pa.int64())))
    from_helpful = pc.if_else(has, pc.list_element(safe, 0), pa.scalar(None, pa.int64()))
    vote = pc.replace_substring(table["vote"], ",", "")
    vote = pc.if_else(pc.fill_null(pc.match_substring_regex(vote, r"^\d+$"), False), vote, pa.scalar(None, pa.string()))
    return pc.cast(pc.coalesce(from_helpful, pc.cast(vote, pa.int64()), pa.scalar(0, pa.int64())), pa.int32())
