"""Opening an input file: existence, emptiness, compression and file-type checks before anything is read."""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import pyarrow as pa

from warehouse.errors import IngestError

_SAMPLE_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class InputFile:
    """A file to ingest: its raw handle (for progress), a decompressed stream and a text sample."""

    path: Path
    fmt: str
    size: int
    compressed: bool
    sample: bytes
    kind: str  # 'text' or 'parquet'
    column_labels: dict[str, str] = field(default_factory=dict)  # canonical name -> the file's, for messages
    separator: str | None = None  # given by the user; sniffed when None
    consumed: int | None = None  # set by readers that track progress themselves (Parquet)
    _raw: BinaryIO | pa.NativeFile | None = field(default=None, repr=False)

    @property
    def unit(self) -> str:
        """What error messages count in: lines of text or rows of a Parquet file."""
        return "row" if self.kind == "parquet" else "line"

    @property
    def source_key(self) -> str:
        """What deterministic ids derive from: the format and the file's name."""
        return f"{self.fmt}:{self.path.name}"

    def open(self) -> BinaryIO:
        """A fresh binary stream of the (decompressed) content."""
        self.close()
        self._raw = self.path.open("rb")
        return cast(BinaryIO, gzip.GzipFile(fileobj=self._raw)) if self.compressed else self._raw

    def open_native(self) -> pa.NativeFile:
        """A fresh pyarrow stream of the (decompressed) content, for pyarrow's readers."""
        self.close()
        self._raw = pa.OSFile(str(self.path), "rb")
        return pa.CompressedInputStream(self._raw, "gzip") if self.compressed else self._raw

    def position(self) -> int:
        """Bytes of the file on disk consumed so far (for the progress bar)."""
        if self.consumed is not None:
            return self.consumed
        if self._raw is None or self._raw.closed:
            return self.size
        return self._raw.tell()

    def close(self) -> None:
        """Close the underlying handle."""
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def fail(self, problem: str, fix: str, *, line: int | None = None, column: str | None = None) -> IngestError:
        """An IngestError naming this file, the line and column, the problem and the fix."""
        where = str(self.path)
        if line is not None:
            where += f", {self.unit} {line:,}"
        if column is not None:
            where += f", column {self.column_labels.get(column, column)!r}"
        return IngestError(f"{where}: {problem}; {fix} (nothing was written)")

    def corrupt(self, exc: BaseException) -> IngestError:
        """The error for a compressed stream that breaks off (a truncated download)."""
        return self.fail(f"the gzip data is corrupt or truncated ({exc})", "download the file again")

    def text_sample(self) -> str:
        """The sample decoded for sniffing (undecodable bytes replaced)."""
        return self.sample.decode("utf-8", errors="replace")


def open_input(path: Path | str, fmt: str, *, expect: str = "text") -> InputFile:
    """Check ``path`` is a non-empty file of the expected kind and return it unopened."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{str(path)!r} does not exist; check the path (nothing was written)")
    if not path.is_file():
        raise IngestError(f"{str(path)!r} is not a file; give the path of one {fmt} file (nothing was written)")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE_BYTES)
    compressed = head.startswith(_GZIP_MAGIC)
    sample = _decompressed_head(path) if compressed else head
    inp = InputFile(path=path, fmt=fmt, size=size, compressed=compressed, sample=sample, kind="text")
    if not sample.strip():
        raise inp.fail("the file is empty", f"give a file with {fmt} data")
    if head.startswith(_ZIP_MAGIC) and path.suffix.lower() in (".xlsx", ".xlsm"):
        raise inp.fail("this is an Excel workbook", "save the sheet as CSV (UTF-8) and ingest that")
    if head.startswith(_ZIP_MAGIC):
        raise inp.fail("this is a zip archive", "unzip it and ingest the file inside")
    if sample.startswith(_PARQUET_MAGIC):
        inp.kind = "parquet"
    elif b"\x00" in sample[:8192]:
        raise inp.fail(
            "this is a binary file, not text", f"give the {fmt} file itself (CSV or JSON lines, optionally .gz)"
        )
    if expect == "text" and inp.kind == "parquet":
        raise inp.fail("this is a Parquet file", "use --format parquet with --map options")
    if expect == "parquet" and inp.kind != "parquet":
        raise inp.fail("this is not a Parquet file (no PAR1 magic bytes)", "use --format csv for text files")
    return inp


def _decompressed_head(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(_SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise IngestError(
            f"{str(path)!r}: the gzip data is corrupt ({exc}); download the file again (nothing was written)"
        ) from exc
