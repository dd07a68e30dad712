"""Loaders for public behavior-data formats: each maps its source into the canonical schema."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from warehouse.connection import Warehouse
from warehouse.errors import IngestError
from warehouse.loaders import amazon_reviews, mapped, retailrocket, taobao, uci_retail
from warehouse.loaders._files import InputFile, open_input
from warehouse.loaders._ingest import Batch, IngestReport, write_batches

logger = logging.getLogger(__name__)

_Reader = Callable[..., Iterator[Batch]]

# format -> (reader, input kind, whether event ids are unique per line)
_LOADERS: dict[str, tuple[_Reader, str, bool]] = {
    "amazon-reviews": (amazon_reviews.read, "text", False),
    "taobao": (taobao.read, "text", True),
    "retailrocket": (retailrocket.read, "text", True),
    "uci-retail": (uci_retail.read, "text", False),
    "csv": (mapped.read_csv, "text", False),
    "parquet": (mapped.read_parquet, "parquet", False),
}

FORMATS: tuple[str, ...] = tuple(_LOADERS)
"""The formats ``ingest`` understands."""


def ingest(
    warehouse: Warehouse,
    path: Path | str,
    fmt: str,
    *,
    mapping: Mapping[str, str] | None = None,
    event_map: Mapping[str, str] | None = None,
    progress: bool = False,
) -> IngestReport:
    """Load one file of format ``fmt`` into the warehouse atomically and idempotently.

    One transaction: on any error (raised as ``IngestError`` naming file, line, column and fix)
    nothing is written. Ids are deterministic and rows whose key is already stored are skipped,
    so loading the same file again inserts nothing. ``mapping`` (canonical column -> file column)
    and ``event_map`` (source event name -> canonical event type) apply to ``csv`` and ``parquet``.
    """
    if fmt not in _LOADERS:
        raise IngestError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    reader, kind, unique_events = _LOADERS[fmt]
    if (mapping or event_map) and fmt not in ("csv", "parquet"):
        raise IngestError(f"--map and --event-map apply to --format csv or parquet, not {fmt!r}; drop them")
    inp: InputFile = open_input(path, fmt, expect=kind)
    options = {"mapping": dict(mapping or {}), "event_map": dict(event_map or {})} if fmt in ("csv", "parquet") else {}
    try:
        return write_batches(warehouse, inp, reader(inp, **options), unique_events=unique_events, progress=progress)
    finally:
        inp.close()


__all__ = ["FORMATS", "IngestReport", "ingest"]
