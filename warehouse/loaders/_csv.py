"""Streaming CSV reading with pyarrow: sniffed delimiter and encoding, string columns, line numbers."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

from warehouse.errors import IngestError
from warehouse.loaders._files import InputFile

logger = logging.getLogger(__name__)

BLOCK_BYTES = 16 * 1024 * 1024
_DELIMITERS = (",", ";", "\t", "|")


def encoding_of(inp: InputFile) -> str:
    """``utf-8`` when the sample decodes as UTF-8, else ``latin-1`` (older exports, e.g. UCI's)."""
    try:
        inp.sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(inp.sample) - 4:  # not just a character cut by the sample's end
            return "latin-1"
    return "utf-8"


def first_line(inp: InputFile) -> str:
    """The first line of the file, without a byte-order mark."""
    text = inp.sample.decode(encoding_of(inp), errors="replace").lstrip("\ufeff")
    return text.splitlines()[0] if text else ""


def sniff_delimiter(inp: InputFile) -> str:
    """The most frequent of ``, ; TAB |`` in the first line (``,`` when none occurs)."""
    line = first_line(inp)
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def split_line(line: str, delimiter: str) -> list[str]:
    """One CSV line's fields, stripped."""
    return [field.strip() for field in next(csv.reader([line], delimiter=delimiter), [])]


def csv_batches(
    inp: InputFile,
    *,
    names: list[str],
    has_header: bool,
    delimiter: str,
    newlines_in_values: bool = False,
    block_size: int | None = None,
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(first line number, table of string columns)`` chunks; empty values are null."""
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    options = {
        "read_options": pacsv.ReadOptions(
            column_names=names, skip_rows=1 if has_header else 0, block_size=block_size or BLOCK_BYTES,
            encoding=encoding_of(inp),
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=newlines_in_values, invalid_row_handler=on_invalid
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    }
    line = 2 if has_header else 1
    try:
        reader = pacsv.open_csv(inp.open_native(), **options)
        for batch in reader:
            if invalid:
                raise _located(inp, delimiter, len(names), has_header)
            if batch.num_rows:
                yield line, pa.Table.from_batches([batch])
                line += batch.num_rows
        if invalid:
            raise _located(inp, delimiter, len(names), has_header)
    except pa.ArrowInvalid as exc:
        raise _located(inp, delimiter, len(names), has_header, detail=str(exc)) from exc
    except (OSError, EOFError) as exc:  # pyarrow's gzip stream breaking off
        raise inp.corrupt(exc) from exc
    finally:
        inp.close()
    if line == (2 if has_header else 1):
        raise inp.fail("the file has no data rows", f"give a file with {inp.fmt} rows after the header")


def _located(inp: InputFile, delimiter: str, width: int, has_header: bool, detail: str = "") -> IngestError:
    """Re-scan the file with the csv module to name the first malformed line."""
    stream = io.TextIOWrapper(inp.open(), encoding=encoding_of(inp), errors="replace", newline="")
    try:
        return _first_malformed(inp, stream, delimiter, width, has_header, detail)
    except (OSError, EOFError) as exc:
        return inp.corrupt(exc)
    finally:
        inp.close()


def _first_malformed(
    inp: InputFile, stream: io.TextIOWrapper, delimiter: str, width: int, has_header: bool, detail: str
) -> IngestError:
    reader = csv.reader(stream, delimiter=delimiter)
    for row in reader:
        if reader.line_num == 1 and has_header or not row:
            continue
        if len(row) != width:
            return inp.fail(
                f"expected {width} fields separated by {delimiter!r}, found {len(row)}",
                "fix or remove that line (a wrong --format or a stray delimiter?)",
                line=reader.line_num,
            )
    return inp.fail(f"the CSV cannot be parsed ({detail})", "check it is a well-formed CSV file, UTF-8 encoded")
