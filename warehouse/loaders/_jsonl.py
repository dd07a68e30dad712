"""JSON lines read a block of whole lines at a time, with the line that breaks named."""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.json as pajson

from warehouse.loaders._files import InputFile

BLOCK_BYTES = 8 * 1024 * 1024


def check_first_line(inp: InputFile, what: str) -> None:
    """Raise unless the sample starts like JSON lines."""
    if not inp.text_sample().lstrip().startswith("{"):
        raise inp.fail("this is not JSON lines (the first line does not start with '{')", f"give {what}", line=1)


def tables(
    inp: InputFile, schema: pa.Schema | None = None, *, block_bytes: int | None = None
) -> Iterator[tuple[int, pa.Table]]:
    """``(first line number, table)`` per block; ``schema`` fixes the fields read (others are ignored)."""
    line = 1
    for block in _blocks(inp, block_bytes or BLOCK_BYTES):
        yield line, _parse(inp, block, line, schema)
        line += block.count(b"\n")


def _blocks(inp: InputFile, size: int) -> Iterator[bytes]:
    """Whole lines, about ``size`` bytes at a time."""
    stream = inp.open()
    carry = b""
    while chunk := _read(inp, stream, size):
        chunk = carry + chunk
        cut = chunk.rfind(b"\n") + 1
        carry = chunk[cut:]
        if cut:
            yield chunk[:cut]
    if carry.strip():
        yield carry + b"\n"


def _read(inp: InputFile, stream, size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise inp.corrupt(exc) from exc


def _parse(inp: InputFile, block: bytes, line: int, schema: pa.Schema | None) -> pa.Table:
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore") if schema else None
    try:
        return pajson.read_json(io.BytesIO(block), parse_options=options)
    except pa.ArrowInvalid:
        return _parse_slowly(inp, block, line, schema)


def _parse_slowly(inp: InputFile, block: bytes, line: int, schema: pa.Schema | None) -> pa.Table:
    """Line by line, for blocks with odd types (a numeric vote) or to name the line that breaks."""
    rows = []
    for offset, raw in enumerate(block.splitlines()):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            python_dict = raw.lstrip().startswith(b"{'")
            hint = " (Python dict syntax: convert it with ast.literal_eval first)" if python_dict else ""
            raise inp.fail(f"not valid JSON: {exc.msg}{hint}", "fix or remove that line", line=line + offset) from exc
        if not isinstance(record, dict):
            raise inp.fail("the line is not a JSON object", "give one JSON object per line", line=line + offset)
        try:
            if schema is None:
                rows.append(
                    {k: None if v is None else (v if isinstance(v, str) else json.dumps(v)) for k, v in record.items()}
                )
            else:
                rows.append({field.name: _coerce(record.get(field.name), field.type) for field in schema})
        except (TypeError, ValueError) as exc:
            problem = f"a field has an unexpected type ({exc})"
            raise inp.fail(problem, "fix or remove that line", line=line + offset) from exc
    if schema is None:
        names = list(dict.fromkeys(k for row in rows for k in row))
        return pa.table({n: pa.array([row.get(n) for row in rows], pa.string()) for n in names})
    return pa.Table.from_pylist(rows, schema=schema)


def _coerce(value, kind: pa.DataType):
    if value is None:
        return None
    if pa.types.is_string(kind):
        return str(value)
    if pa.types.is_list(kind):
        return [int(v) for v in value]
    return float(value) if pa.types.is_floating(kind) else int(value)
