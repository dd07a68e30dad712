"""review_themes on a real Chroma directory: planted complaint topics come back as counted, named, quoted themes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sklearn.metrics import adjusted_rand_score

from tests.vectorstore.conftest import embedder, load_reviews, review_rows, review_warehouse  # noqa: F401 (fixtures)
from tools.review_themes import review_themes_tool
from vectorstore import ReviewFilter, ReviewIndex, index_reviews
from vectorstore.themes import review_themes

# Three complaints and the words a theme about each must be named by; each review varies the wording.
TOPICS = {
    "battery": (
        ["battery", "charge", "charging"],
        [
            "The battery died after {n} days and it will not hold a charge anymore.",
            "Battery life is terrible, barely {n} hours before it needs charging again.",
            "After {n} weeks the battery stopped charging completely.",
        ],
    ),
    "shipping": (
        ["shipping", "arrived", "late", "delivery", "box"],
        [
            "Shipping took {n} days longer than promised and the box arrived crushed.",
            "It arrived {n} days late, the delivery was a mess.",
            "Delivery was late by {n} days and the package arrived damaged.",
        ],
    ),
    "strings": (
        ["strings", "rust", "string", "tone"],
        [
            "The strings went dead and rusty after {n} days of playing.",
            "These strings lose their tone within {n} days and start to rust.",
            "String {n} snapped while tuning and the rest rusted quickly.",
        ],
    ),
}
PER_TOPIC = 15


def topic_rows() -> tuple[list[dict], dict[str, str]]:
    rows, topic_of = [], {}
    for t, (name, (_, templates)) in enumerate(TOPICS.items()):
        for n in range(PER_TOPIC):
            review_id = f"{name}-{n:02d}"
            topic_of[review_id] = name
            rows.append(
                {
                    "review_id": review_id,
                    "user_id": f"u{n}",
                    "item_id": "i-amp",
                    "ts": datetime(2025, 3, 1) + timedelta(days=n + 20 * t),
                    "rating": 1 + n % 2,
                    "title": "Disappointed",
                    "body": templates[n % 3].format(n=n + 2),
                    "helpful_votes": 0,
                }
            )
    return rows, topic_of


@pytest.fixture(scope="module")
def themed(tmp_path_factory, embedder):
    from warehouse import Warehouse

    path = tmp_path_factory.mktemp("themes")
    warehouse = Warehouse.open(f"duckdb:///{path / 'wh.duckdb'}")
    warehouse.create_schema()
    rows, topic_of = topic_rows()
    # plus the 60 fixture reviews, a third of them 1-2 stars about other things
    load_reviews(warehouse, review_rows())
    load_reviews(warehouse, rows, items=False)
    index = ReviewIndex.open(path / "reviews", embedder=embedder)
    index_reviews(warehouse, index)
    yield warehouse, index, topic_of
    warehouse.dispose()


def _call(tool, args: dict):
    return tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})


def test_planted_complaints_come_back_as_named_counted_quoted_themes(themed):
    _, index, topic_of = themed
    message = _call(review_themes_tool(index), {"item": "i-amp", "max_rating": 2, "since": "2025-03-01", "k": 3})
    assert message.status != "error"
    art = message.artifact
    table = art.tables[0]
    assert sorted(r[2] for r in table.rows) == [PER_TOPIC] * 3  # each planted topic is one whole theme
    assert [r[3] for r in table.rows] == [pytest.approx(1 / 3, abs=1e-4)] * 3
    named = set()
    for label, _keywords, _count, _share, avg, quoted in table.rows:
        ids = quoted.split(", ")
        assert len(ids) == 3
        topics = {topic_of[i] for i in ids}
        assert len(topics) == 1  # the quotes of a theme are reviews of that theme
        topic = topics.pop()
        assert any(w in label.split(" · ") or w in label for w in TOPICS[topic][0]), (label, topic)
        named.add(topic)
        assert 1.0 <= avg <= 2.0
    assert named == set(TOPICS)
    assert {c.ref for c in art.citations} == {i for r in table.rows for i in r[5].split(", ")}
    assert all(c.kind == "review" and c.detail for c in art.citations)
    bar = art.charts[0].spec["data"][0]
    assert bar["type"] == "bar" and sorted(bar["x"]) == [PER_TOPIC] * 3 and len(bar["y"]) == 3
    assert "45 reviews" in message.content and message.content.count("<review ") == 9


def test_filters_hold_for_every_theme_member_and_seeds_agree(themed):
    _, index, topic_of = themed
    flt = ReviewFilter(item="i-amp", max_rating=2, since="2025-03-01")
    first, second = review_themes(index, flt, k=3, seed=0), review_themes(index, flt, k=3, seed=1)
    assert first.matched == first.clustered == 3 * PER_TOPIC
    assert set(first.review_ids) == set(topic_of)  # the 60 fixture reviews are from 2024
    truth = [list(TOPICS).index(topic_of[i]) for i in first.review_ids]
    assert adjusted_rand_score(truth, first.assignment) == pytest.approx(1.0)
    by_id = dict(zip(second.review_ids, second.assignment))
    assert adjusted_rand_score(first.assignment, [by_id[i] for i in first.review_ids]) == pytest.approx(1.0)


def test_too_few_reviews_and_bad_arguments_are_told_to_the_model(themed):
    _, index, _ = themed
    few = _call(review_themes_tool(index), {"item": "i-mic", "max_rating": 1, "until": "2024-01-10"})
    assert "too few to group into themes" in few.content and few.artifact.tables == []
    bad = _call(review_themes_tool(index), {"min_rating": 4, "max_rating": 2})
    assert bad.status == "error" and "exceeds max_rating" in bad.content
