"""The composition root: the only place that reads Settings and wires engines, tools and models."""

from __future__ import annotations

from agent.settings import Settings
from warehouse import Warehouse


def open_warehouse(settings: Settings, *, create: bool = True) -> Warehouse:
    """The warehouse named by the settings, with the canonical tables in place when ``create``."""
    warehouse = Warehouse.open(settings.resolved_warehouse_url())
    if create:
        warehouse.create_schema()
    return warehouse
