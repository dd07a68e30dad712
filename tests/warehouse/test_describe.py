"""`uba data describe` reports what is really in the warehouse."""

import json
from collections import Counter
from datetime import datetime, timedelta

import pyarrow as pa

from warehouse.describe import describe


def _load(warehouse):
    start = datetime(2026, 3, 1, 9)
    kinds = ["view"] * 6 + ["add_to_cart"] * 3 + ["purchase"]
    items = ["i1", "i1", "i2", "i1", "i3", "i2", "i1", "i2", "i1", "i1"]
    events = pa.table(
        {
            "event_id": pa.array(range(len(kinds)), pa.int64()),
            "user_id": [f"u{n % 3}" for n in range(len(kinds))],
            "ts": pa.array([start + timedelta(hours=5 * n) for n in range(len(kinds))], pa.timestamp("us")),
            "event_type": kinds,
            "item_id": items,
        }
    )
    catalog = pa.table({"item_id": ["i1", "i2"], "title": ["Acme X200", "Blendo 5"], "price": [10.0, 20.0]})
    with warehouse.begin() as conn:
        warehouse.bulk_insert(conn, "events", events)
        warehouse.bulk_insert(conn, "items", catalog)
    return kinds, items, start


def test_describe_matches_an_independent_count(warehouse):
    kinds, items, start = _load(warehouse)
    overview = describe(warehouse, top=2)
    assert overview.row_counts["events"] == len(kinds)
    assert overview.row_counts["items"] == 2
    assert overview.event_types == dict(Counter(kinds))
    assert overview.first_event == start
    assert overview.last_event == start + timedelta(hours=5 * (len(kinds) - 1))
    expected = Counter(items).most_common(2)
    assert [(i, n) for i, _, n in overview.top_items] == expected
    assert overview.top_items[0][1] == "Acme X200"
    json.dumps(overview.to_dict())


def test_describe_an_empty_warehouse(warehouse):
    overview = describe(warehouse)
    assert overview.first_event is None and overview.event_types == {} and overview.top_items == []
