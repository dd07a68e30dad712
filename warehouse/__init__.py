"""Behavior tables: schema, connections, demo data, loaders."""

from warehouse.connection import Warehouse
from warehouse.errors import ConnectionFailed, GuardRejected, IngestError, QueryFailed, QueryTimeout, WarehouseError
from warehouse.schema import EVENT_TYPES, PII_COLUMNS, TABLE_NAMES

__all__ = [
    "EVENT_TYPES",
    "PII_COLUMNS",
    "TABLE_NAMES",
    "ConnectionFailed",
    "GuardRejected",
    "IngestError",
    "QueryFailed",
    "QueryTimeout",
    "Warehouse",
    "WarehouseError",
]
