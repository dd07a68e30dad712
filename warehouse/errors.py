"""Errors raised by the warehouse; each message names the problem and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Correction:
    """A query rewritten to fix one unambiguous mistake, and why: what a caller may run instead."""

    sql: str
    reason: str


class WarehouseError(Exception):
    """Base class for warehouse errors."""


class ConnectionFailed(WarehouseError):
    """The warehouse URL cannot be opened."""


class IngestError(WarehouseError):
    """An input file cannot be loaded; nothing was written."""


class GuardRejected(WarehouseError):
    """The SQL guard refused a query; the message says why and what to send instead.

    ``correction``: the query that fixes it when there is exactly one (a column on the wrong table).
    """

    def __init__(self, message: str, *, correction: Correction | None = None) -> None:
        super().__init__(message)
        self.correction = correction


class PolicyRefused(GuardRejected):
    """The query asks for what uba never does (write data, read files or other databases): no retry can fix it."""


class QueryFailed(WarehouseError):
    """A query reached the database and failed there (bad column, type error, read-only refusal)."""


class QueryTimeout(QueryFailed):
    """A query ran past the statement timeout and was stopped."""
