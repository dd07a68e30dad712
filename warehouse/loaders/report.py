"""The ingest report: what one ingest read, wrote and skipped, and why (the contract the CLI and API print)."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, Field

from warehouse.schema import TABLE_NAMES

SkipReason = Literal["duplicate_key", "null_key", "bad_value", "out_of_range"]
"""Why an input row was not written."""

SAMPLES = 3
"""Rows kept as a sample of each skip group."""

PREVIEW_ROWS = 10
"""Mapped rows a report shows (``--dry-run``)."""


class SkipGroup(BaseModel):
    """Rows skipped for one reason and one detail (e.g. duplicate_key / same reviewer, product and time)."""

    reason: SkipReason
    detail: str = Field(description="what exactly was wrong, in words")
    rows: int = 0
    samples: list[dict[str, str | None]] = Field(default_factory=list, description="a few of the skipped rows")


class IngestReport(BaseModel):
    """What one ingest did: rows read, rows written per table, rows skipped by reason with samples."""

    path: str
    format: str
    dry_run: bool = False
    key: str = Field("", description="what makes two input rows the same record (the duplicate key)")
    rows_read: int = 0
    side_rows_read: dict[str, int] = Field(
        default_factory=dict, description="input rows of each side-table file (users, items), by file name"
    )
    inserted: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    already_present: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(TABLE_NAMES, 0))
    skipped: list[SkipGroup] = Field(default_factory=list)
    preview: list[dict[str, str | None]] = Field(default_factory=list, description="the first mapped rows")
    elapsed_s: float = 0.0

    @property
    def rows_skipped(self) -> int:
        """Input rows not written, all reasons together."""
        return sum(group.rows for group in self.skipped)

    @property
    def rows_per_s(self) -> float:
        """Input rows read per second of the whole ingest."""
        return self.rows_read / self.elapsed_s if self.elapsed_s else 0.0

    def skipped_by_reason(self) -> dict[str, int]:
        """Rows skipped per reason."""
        counts: dict[str, int] = {}
        for group in self.skipped:
            counts[group.reason] = counts.get(group.reason, 0) + group.rows
        return counts

    def skip(self, reason: SkipReason, detail: str, rows: pa.Table) -> None:
        """Count ``rows`` as skipped for ``reason``/``detail`` and keep the first few as a sample."""
        if rows.num_rows == 0:
            return
        group = next((g for g in self.skipped if g.reason == reason and g.detail == detail), None)
        if group is None:
            group = SkipGroup(reason=reason, detail=detail)
            self.skipped.append(group)
        group.rows += rows.num_rows
        room = SAMPLES - len(group.samples)
        if room > 0:
            group.samples.extend(as_text_rows(rows.slice(0, room)))

    def to_dict(self) -> dict:
        """JSON-ready form (the ``--json`` output)."""
        return {
            **self.model_dump(mode="json"),
            "elapsed_s": round(self.elapsed_s, 3),
            "rows_skipped": self.rows_skipped,
            "rows_per_s": round(self.rows_per_s),
        }


def as_text_rows(table: pa.Table) -> list[dict[str, str | None]]:
    """Rows of ``table`` as dicts of text, for samples and previews."""
    return [{k: None if v is None else str(v) for k, v in row.items()} for row in table.to_pylist()]


__all__ = ["PREVIEW_ROWS", "IngestReport", "SkipGroup", "SkipReason", "as_text_rows"]
