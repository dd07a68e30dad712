"""Loaders for public behavior-data formats and mapped generic files: each maps its source into the canonical schema."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from collections.abc import Mapping as MappingOf
from pathlib import Path

from warehouse.connection import Warehouse
from warehouse.errors import IngestError
from warehouse.loaders import amazon_reviews, mapped, retailrocket, taobao, uci_retail
from warehouse.loaders._files import InputFile, open_input
from warehouse.loaders._ingest import Batch, write_batches
from warehouse.loaders.mapping import SideTable, SourceMapping, load_mapping
from warehouse.loaders.report import IngestReport, SkipGroup
from warehouse.redaction import Redactor

logger = logging.getLogger(__name__)

_Reader = Callable[..., Iterator[Batch]]

# format -> (reader, input kind, whether event ids are unique per line, the duplicate key in words)
_LOADERS: dict[str, tuple[_Reader, str, bool, str]] = {
    "amazon-reviews": (amazon_reviews.read, "text", False, amazon_reviews.KEY),
    "taobao": (taobao.read, "text", True, "the line (every line is its own event)"),
    "retailrocket": (retailrocket.read, "text", True, "the line (every line is its own event)"),
    "uci-retail": (uci_retail.read, "text", False, uci_retail.KEY),
    "csv": (mapped.read, "text", False, ""),
    "tsv": (mapped.read, "text", False, ""),
    "jsonl": (mapped.read, "text", False, ""),
    "parquet": (mapped.read, "parquet", False, ""),
}
MAPPED = ("csv", "tsv", "jsonl", "parquet")
"""Formats read through a mapping (columns, constants, value maps, ...)."""

FORMATS: tuple[str, ...] = tuple(_LOADERS)
"""The formats ``ingest`` understands."""


def ingest(
    warehouse: Warehouse,
    path: Path | str,
    fmt: str,
    *,
    spec: SourceMapping | None = None,
    mapping: MappingOf[str, str] | None = None,
    event_map: MappingOf[str, str] | None = None,
    dry_run: bool = False,
    progress: bool = False,
    keep_review_pii: bool = False,
) -> IngestReport:
    """Load one file of format ``fmt`` into the warehouse atomically and idempotently.

    One transaction: on any error (raised as ``IngestError`` naming file, line, column and fix)
    nothing is written; with ``dry_run`` nothing is written either way and the report previews the
    first mapped rows. Rows repeating a key are skipped and reported. ``spec`` (a mapping file's
    content) applies to the mapped formats; ``mapping`` (canonical column -> file column) and
    ``event_map`` (source event name -> event type) are shorthands merged into it.
    Review titles and bodies are stored with e-mail addresses, phone numbers, links, card, IBAN and IP
    numbers replaced by placeholders (``warehouse.redaction``) unless ``keep_review_pii``.
    """
    if fmt not in _LOADERS:
        raise IngestError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    reader, kind, unique_events, key = _LOADERS[fmt]
    spec = (spec or SourceMapping()).merged(
        columns=dict(mapping or {}), values={"event_type": dict(event_map or {})} if event_map else None
    )
    if fmt not in MAPPED and _mapped_fields(spec):
        raise IngestError(
            f"{', '.join(_mapped_fields(spec))} apply to --format {' / '.join(MAPPED)}, not {fmt!r}; drop them "
            "(only a separator applies to every text format)"
        )
    inp: InputFile = open_input(path, fmt, expect=kind)
    inp.separator = spec.separator
    options = {"spec": spec} if fmt in MAPPED else {}
    try:
        redactor = None if keep_review_pii else Redactor()
        return write_batches(
            warehouse,
            inp,
            reader(inp, **options),
            unique_events=unique_events,
            key=key,
            dry_run=dry_run,
            progress=progress,
            redactor=redactor,
        )
    finally:
        inp.close()


def _mapped_fields(spec: SourceMapping) -> list[str]:
    """The mapping fields set beyond a separator (what only the mapped formats accept)."""
    return [name for name in spec.model_fields_set if name != "separator"]


__all__ = ["FORMATS", "MAPPED", "IngestReport", "SideTable", "SkipGroup", "SourceMapping", "ingest", "load_mapping"]
