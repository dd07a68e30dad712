"""Timestamps by declared or detected format, and the ranges that show a format was guessed wrong."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.loaders._columns import first_index, split
from warehouse.loaders._files import InputFile

FORMATS = ("iso", "yyyymmdd", "unix_s", "unix_ms", "unix_us", "unix_ns")
"""Named timestamp formats; any other ``ts_format`` containing ``%`` is a strftime pattern."""
EARLIEST = datetime(1990, 1, 1)
"""Behavior data before this is taken for a misread format."""
ONE_DAY_MIN_ROWS = 100
"""From this many rows on, a file whose events all fall within one day is taken for a misread format."""

_UNIT_MICROS = {"unix_s": 1_000_000, "unix_ms": 1_000, "unix_us": 1, "unix_ns": 0.001}
_ACCEPTED = "ISO 8601 (2024-05-01 13:45:00), YYYYMMDD or unix seconds/ms/us/ns"


def latest() -> datetime:
    """Behavior data after this (now, plus a day of clock skew) is taken for a misread format."""
    return datetime.now() + timedelta(days=1)


def parse(inp: InputFile, column: pa.ChunkedArray, line: int, *, fmt: str | None, name: str = "ts") -> pa.Array:
    """Timestamps (UTC, naive) from native, numeric or text values; refuses implausible years unless ``fmt`` is given."""
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        series = column.to_pandas()
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = series.astype("datetime64[us]")
    else:
        text = (column if pa.types.is_string(column.type) else pc.cast(column, pa.string())).to_pandas()
        text = text.str.strip()
        stamps = _explicit(text, fmt) if fmt else _detected(text)
    result = pa.array(stamps.astype("datetime64[us]"))
    bad = first_index(pc.is_null(result))
    if bad is not None:
        value = column[bad].as_py()
        fix = f"write {name} as {fmt!r} values" if fmt else f"write {name} as {_ACCEPTED}, or pass --ts-format"
        problem = "the timestamp is empty" if value is None else f"{value!r} is not a timestamp"
        raise inp.fail(problem, fix, line=line + bad, column=name)
    if not fmt:
        _refuse_outside(inp, result, column, line, name)
    return result


def _explicit(text: pd.Series, fmt: str) -> pd.Series:
    if fmt in _UNIT_MICROS:
        numbers = pd.to_numeric(text, errors="coerce")
        return pd.to_datetime((numbers * _UNIT_MICROS[fmt]).round(), unit="us", errors="coerce")
    if fmt == "yyyymmdd":
        return pd.to_datetime(text.str.replace(r"\.0+$", "", regex=True), format="%Y%m%d", errors="coerce")
    if fmt == "iso":
        return _iso(text)
    return pd.to_datetime(text, format=fmt, errors="coerce", utc=True).dt.tz_localize(None)


def _detected(text: pd.Series) -> pd.Series:
    """Per value: 8-digit dates as YYYYMMDD, other numbers as unix time in the unit their size shows, text as ISO."""
    numbers = pd.to_numeric(text, errors="coerce")
    size = numbers.abs()
    scale = np.select([size < 1e11, size < 1e14, size < 1e17], [1_000_000, 1_000, 1], 0.001)
    stamps = pd.to_datetime((numbers * scale).round(), unit="us", errors="coerce").astype("datetime64[us]")
    dated = text.str.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(\.0+)?").fillna(False)
    if dated.any():
        days = pd.to_datetime(text[dated].str[:8], format="%Y%m%d", errors="coerce")
        stamps[dated] = days.astype("datetime64[us]")
    textual = numbers.isna() & text.notna()
    if textual.any():
        stamps[textual] = _iso(text[textual]).astype("datetime64[us]")
    return stamps


def _iso(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce").dt.tz_localize(None)


def _refuse_outside(inp: InputFile, stamps: pa.Array, original: pa.ChunkedArray, line: int, name: str) -> None:
    index = first_index(outside_range(stamps))
    if index is not None:
        value, read = original[index].as_py(), stamps[index].as_py()
        raise inp.fail(
            f"{value!r} reads as {read:%Y-%m-%d %H:%M}, outside {EARLIEST:%Y} to today: the time format looks misread",
            f"pass --ts-format (one of {', '.join(FORMATS)}, or a strftime pattern) to say how {name} is written",
            line=line + index,
            column=name,
        )


class DaySpan:
    """The earliest and latest timestamp of a whole file, to refuse one whose events all fall on one day."""

    def __init__(self, inp: InputFile, name: str) -> None:
        self.inp, self.name = inp, name
        self.low = self.high = None
        self.rows = 0
        self.sample = None

    def add(self, stamps: pa.Array, original: pa.ChunkedArray) -> None:
        if len(stamps) == 0:
            return
        low, high = pc.min(stamps).as_py(), pc.max(stamps).as_py()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        self.rows += len(stamps)
        if self.sample is None:
            self.sample = original[0].as_py()

    def check(self) -> None:
        """Raise when at least ``ONE_DAY_MIN_ROWS`` rows all fall within 24 hours."""
        if (
            self.rows >= ONE_DAY_MIN_ROWS
            and self.low is not None
            and self.high is not None
            and self.high - self.low < timedelta(days=1)
        ):
            raise self.inp.fail(
                f"all {self.rows:,} timestamps fall within one day ({self.low:%Y-%m-%d}; first value {self.sample!r}):"
                " the time format looks misread",
                f"pass --ts-format (one of {', '.join(FORMATS)}, or a strftime pattern) to say how {self.name} is"
                " written; passing it also accepts a one-day file",
                column=self.name,
            )


def outside_range(stamps: pa.Array) -> pa.Array:
    """A mask of timestamps before 1990 or after now (for formats whose unit is fixed: skipped, not refused)."""
    return pc.or_(
        pc.less(stamps, pa.scalar(EARLIEST, pa.timestamp("us"))),
        pc.greater(stamps, pa.scalar(latest(), pa.timestamp("us"))),
    )


def drop_outside(chunk: pa.Table, ts: str, skipped: list, detail: str) -> pa.Table:
    """``chunk`` without rows whose timestamp ``ts`` is before 1990 or after now; those are skipped."""
    kept, dropped = split(chunk, outside_range(chunk[ts]))
    if dropped.num_rows:
        skipped.append(("out_of_range", detail, dropped))
    return kept
