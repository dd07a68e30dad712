"""A short overview of a warehouse: tables, row counts, date range, event mix, top items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import desc, func, select

from warehouse.connection import Warehouse
from warehouse.schema import events, items


@dataclass(frozen=True)
class Overview:
    """What ``uba data describe`` prints and the UI's data tab shows."""

    url: str
    row_counts: dict[str, int]
    first_event: datetime | None
    last_event: datetime | None
    event_types: dict[str, int] = field(default_factory=dict)
    top_items: list[tuple[str, str | None, int]] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {
            "url": self.url,
            "row_counts": self.row_counts,
            "first_event": self.first_event.isoformat() if self.first_event else None,
            "last_event": self.last_event.isoformat() if self.last_event else None,
            "event_types": self.event_types,
            "top_items": [{"item_id": i, "title": t, "events": n} for i, t, n in self.top_items],
        }


def describe(warehouse: Warehouse, *, top: int = 10) -> Overview:
    """Summarise the warehouse in a handful of cheap aggregate queries."""
    counts = warehouse.row_counts()
    with warehouse.engine.connect() as conn:
        first, last = conn.execute(select(func.min(events.c.ts), func.max(events.c.ts))).one()
        mix = conn.execute(
            select(events.c.event_type, func.count().label("n")).group_by(events.c.event_type).order_by(desc("n"))
        ).all()
        per_item = (
            select(events.c.item_id, func.count().label("n"))
            .where(events.c.item_id.is_not(None))
            .group_by(events.c.item_id)
            .order_by(desc("n"), events.c.item_id)
            .limit(top)
            .subquery()
        )
        top_rows = conn.execute(
            select(per_item.c.item_id, items.c.title, per_item.c.n)
            .select_from(per_item.outerjoin(items, items.c.item_id == per_item.c.item_id))
            .order_by(desc(per_item.c.n), per_item.c.item_id)
        ).all()
    return Overview(
        url=warehouse.url,
        row_counts=counts,
        first_event=first,
        last_event=last,
        event_types={row[0]: int(row[1]) for row in mix},
        top_items=[(row[0], row[1], int(row[2])) for row in top_rows],
    )
