"""UCI Online Retail invoice lines (InvoiceNo, StockCode, Quantity, InvoiceDate, UnitPrice, CustomerID, ...)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.loaders._columns import NULL_TOKENS, require_columns
from warehouse.loaders._csv import csv_batches, first_line, separator_hint, sniff_delimiter, split_line
from warehouse.loaders._files import InputFile
from warehouse.loaders._ids import content_ids
from warehouse.loaders._ingest import Batch
from warehouse.loaders._uci_dates import parse_invoice_dates

# Header spellings of the original file and of "Online Retail II", normalised to one name each.
_ALIASES = {
    "invoiceno": "invoice", "invoice": "invoice", "stockcode": "stock_code", "description": "description",
    "quantity": "quantity", "invoicedate": "invoice_date", "unitprice": "unit_price", "price": "unit_price",
    "customerid": "customer_id", "country": "country",
}  # fmt: skip
REQUIRED = ["invoice", "stock_code", "quantity", "invoice_date", "unit_price", "customer_id"]
_MISSING_CUSTOMER = set(NULL_TOKENS)
GUEST_PREFIX = "guest-"
_LABELS = {
    "invoice": "InvoiceNo",
    "stock_code": "StockCode",
    "quantity": "Quantity",
    "invoice_date": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
    "description": "Description",
    "country": "Country",
}
KEY = "invoice, stock code, quantity, price, customer and time (identical lines stay distinct)"


def read(inp: InputFile) -> Iterator[Batch]:
    """Orders per invoice (``C…`` invoices cancelled), a purchase or cancellation event per line, users, items."""
    delimiter = sniff_delimiter(inp)
    header = split_line(first_line(inp), delimiter)
    names = [_ALIASES.get(re.sub(r"[^a-z]", "", h.lower()), h) for h in header]
    inp.column_labels = {**_LABELS, **{name: h for name, h in zip(names, header, strict=True)}}
    require_columns(inp, names, REQUIRED, found=header, hint=separator_hint(header))
    # The largest public file has 541,909 lines: it is read whole, so orders aggregate over all of it.
    chunks = [chunk.to_pandas() for _, chunk in csv_batches(inp, names=names, has_header=True, delimiter=delimiter)]
    frame = pd.concat(chunks, ignore_index=True)
    frame["line"] = np.arange(2, len(frame) + 2)
    yield _batch(inp, frame)


def _batch(inp: InputFile, frame: pd.DataFrame) -> Batch:
    rows = len(frame)
    skipped: list = []
    frame["invoice"] = frame["invoice"].fillna("").str.strip()
    kind = frame["invoice"].str.extract(r"^(C?)\d+$", expand=False)
    other = kind.isna()
    if other.any():
        skipped.append(
            ("bad_value", "not a sale or cancellation invoice (e.g. 'A…' bad-debt adjustments)", _sample(frame[other]))
        )
        frame, kind = frame[~other], kind[~other]
    frame = frame.assign(cancelled=kind.eq("C"))
    frame["quantity"] = _numbers(inp, frame, "quantity", integer=True)
    frame["unit_price"] = _numbers(inp, frame, "unit_price")
    adjustment = ~frame["cancelled"] & (frame["quantity"] <= 0)
    if adjustment.any():
        skipped.append(
            ("out_of_range", "stock adjustment: quantity <= 0 on a sale invoice", _sample(frame[adjustment]))
        )
        frame = frame[~adjustment]
    frame["ts"] = parse_invoice_dates(inp, frame["invoice_date"], frame["line"])
    stock = frame["stock_code"].str.strip()
    if stock.isna().any():
        line = int(frame.loc[stock.isna(), "line"].iloc[0])
        raise inp.fail("the value is empty", "every invoice line needs a StockCode", line=line, column="StockCode")
    frame["item_id"] = stock
    frame["user_id"] = _customers(frame)
    frame["value"] = (frame["quantity"] * frame["unit_price"]).round(2)
    key = frame["invoice"] + "|" + frame["item_id"] + "|" + frame["quantity"].astype(str) + "|"
    key = key + frame["unit_price"].astype(str) + "|" + frame["user_id"] + "|" + frame["ts"].astype(str)
    key = key + "|" + frame.groupby(key).cumcount().astype(str)  # identical lines stay distinct
    # Ids come from the line's content, not its position: the same invoice line in two extracts loads once.
    events = pd.DataFrame(
        {
            "event_id": content_ids(inp.fmt, key).to_numpy(),
            "user_id": frame["user_id"],
            "ts": frame["ts"],
            "event_type": np.where(frame["cancelled"], "remove_from_cart", "purchase"),
            "item_id": frame["item_id"],
            "value": frame["value"],
            "source_event": np.where(frame["cancelled"], "cancellation", "sale"),
        }
    )
    per_invoice = frame.groupby("invoice", sort=False)
    orders = (
        pd.DataFrame(
            {
                "user_id": per_invoice["user_id"].first(),
                "ts": per_invoice["ts"].min(),
                "total": per_invoice["value"].sum().round(2),
                "status": np.where(per_invoice["cancelled"].first(), "cancelled", "completed"),
            }
        )
        .rename_axis("order_id")
        .reset_index()
    )
    order_items = frame[["invoice", "item_id", "quantity", "unit_price"]].set_axis(
        ["order_id", "item_id", "quantity", "price"], axis=1
    )
    order_items["_event_id"] = events["event_id"].to_numpy()  # a line is written once, with its event
    has_country = "country" in frame
    users = frame.groupby("user_id", sort=False)["country"].first().reset_index() if has_country else frame[["user_id"]]
    return Batch(
        tables={
            "users": _table(users),
            "items": _table(_items(frame)),
            "events": _table(events),
            "orders": _table(orders),
            "order_items": _table(order_items.astype({"quantity": "int32"})),
        },
        rows=rows,
        skipped=skipped,
    )


def _numbers(inp: InputFile, frame: pd.DataFrame, column: str, *, integer: bool = False) -> pd.Series:
    text = frame[column].fillna("").str.strip().str.replace(" ", "", regex=False)
    # The last of '.' or ',' is the decimal mark (2.55, 2,55, 1.234,50); any earlier one groups thousands.
    text = text.str.replace(r"[.,](?=\d*[.,])", "", regex=True).str.replace(",", ".", regex=False)
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() | (integer & (values % 1 != 0))
    if bad.any():
        first = bad.idxmax()
        value = frame.at[first, column]
        problem = "the value is empty" if not value else f"{value!r} is not a {'whole number' if integer else 'number'}"
        line = int(frame.at[first, "line"])
        raise inp.fail(problem, "fix or remove that row", line=line, column=column)
    return values.astype("int64") if integer else values.astype("float64")


def _customers(frame: pd.DataFrame) -> pd.Series:
    """CustomerID as text ('17850.0' -> '17850'); rows without one belong to a guest per invoice."""
    raw = frame["customer_id"].fillna("").str.strip().str.replace(r"\.0+$", "", regex=True)
    missing = raw.str.lower().isin(_MISSING_CUSTOMER)
    return raw.where(~missing, GUEST_PREFIX + frame["invoice"])


def _items(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per StockCode: first non-empty description, median positive unit price."""
    description = frame["description"].str.strip() if "description" in frame else pd.Series(None, index=frame.index)
    price = frame["unit_price"].where(frame["unit_price"] > 0)
    per_item = frame.assign(title=description.replace("", None), price=price)
    grouped = per_item.groupby("item_id", sort=False)
    return pd.DataFrame({"title": grouped["title"].first(), "price": grouped["price"].median()}).reset_index()


def _sample(frame: pd.DataFrame) -> pa.Table:
    """Skipped lines as the file spells them, for the report's sample."""
    columns = ["line", *(c for c in _LABELS if c in frame)]
    return pa.Table.from_pandas(frame[columns].astype(str), preserve_index=False)


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
