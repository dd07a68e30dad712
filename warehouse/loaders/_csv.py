"""Streaming CSV reading with pyarrow: sniffed delimiter and encoding, string columns, line numbers."""

from __future__ import annotations

import csv
import io
import logging
import re
import zlib
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


def sniff_delimiter(inp: InputFile, *, width: int | None = None) -> str:
    """The given separator, else the most frequent of ``, ; TAB |`` in the first line, else whitespace or ``,``.

    Whitespace wins over a delimiter when every sampled line splits on runs of blanks into the same
    number of fields (``width`` when known) and the delimiter does not: a log padded with spaces and tabs.
    """
    if inp.separator:
        return inp.separator
    line = first_line(inp)
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    lines = [text for text in inp.sample.decode(encoding_of(inp), errors="replace").splitlines()[:20][:-1] if text]
    spaced = {len(text.split()) for text in lines} or {len(line.split())}  # the sample's last line may be cut
    (blanks,) = spaced if len(spaced) == 1 else (0,)
    whitespace = blanks > 1 and blanks == (width or blanks)
    widths = {text.count(best) + 1 for text in lines}
    fits = len(widths) == 1 and widths == {width or min(widths)}
    if counts[best] and not (whitespace and not fits):
        return best
    return "whitespace" if whitespace else ","


def split_line(line: str, delimiter: str) -> list[str]:
    """One line's fields, stripped."""
    if delimiter == "whitespace":
        return line.split()
    return [field.strip() for field in next(csv.reader([line], delimiter=delimiter), [])]


def separator_hint(header: list[str]) -> str:
    """A hint when a header read as one field looks separated some other way."""
    if len(header) == 1 and len(header[0].split()) > 1:
        return "; the header reads as one column: the file looks whitespace-separated (use --sep whitespace)"
    return ""


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
    if delimiter == "whitespace":
        yield from _whitespace_batches(inp, names=names, has_header=has_header, block_size=block_size)
        return
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    options = {
        "read_options": pacsv.ReadOptions(
            column_names=names,
            skip_rows=1 if has_header else 0,
            block_size=block_size or BLOCK_BYTES,
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


def _whitespace_batches(
    inp: InputFile, *, names: list[str], has_header: bool, block_size: int | None
) -> Iterator[tuple[int, pa.Table]]:
    """Fields separated by runs of spaces or tabs (no quoting), read a block of whole lines at a time."""
    line = 1
    skip = has_header
    stream = inp.open()
    carry = b""
    try:
        while True:
            chunk = stream.read(block_size or BLOCK_BYTES)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, carry = data[:cut], data[cut:]
            if block.strip():
                table = _whitespace_block(inp, block, names, line, skip)
                start = line + 1 if skip else line
                line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
                skip = False
                if table.num_rows:
                    yield start, table
            if not chunk:
                break
    except (OSError, EOFError, zlib.error) as exc:
        raise inp.corrupt(exc) from exc
    finally:
        inp.close()
    if line <= (2 if has_header else 1):
        raise inp.fail("the file has no data rows", f"give a file with {inp.fmt} rows after the header")


def _whitespace_block(inp: InputFile, block: bytes, names: list[str], line: int, skip: bool) -> pa.Table:
    normal = re.sub(rb"(?m)^\t|\t$", b"", re.sub(rb"[ \t\r]+", b"\t", block))
    for offset, text in enumerate(normal.split(b"\n")):
        found = text.count(b"\t") + 1
        if text and found != len(names):
            raise inp.fail(
                f"expected {len(names)} fields separated by whitespace, found {found}",
                "fix or remove that line (a wrong --format or --sep?)",
                line=line + offset,
            )
    options = pacsv.ReadOptions(column_names=names, skip_rows=1 if skip else 0, encoding=encoding_of(inp))
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True, null_values=[""]
    )
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    return pacsv.read_csv(io.BytesIO(normal), read_options=options, parse_options=parse, convert_options=convert)


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
