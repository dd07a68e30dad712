"""Errors raised by the warehouse; each message names the problem and the fix."""


class WarehouseError(Exception):
    """Base class for warehouse errors."""


class ConnectionFailed(WarehouseError):
    """The warehouse URL cannot be opened."""


class IngestError(WarehouseError):
    """An input file cannot be loaded; nothing was written."""
