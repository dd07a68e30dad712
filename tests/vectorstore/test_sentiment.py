"""Review sentiment written at index time into a real DuckDB warehouse from a real Chroma directory."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from tests.vectorstore.conftest import load_reviews, review_rows
from vectorstore import ReviewFilter, ReviewIndex, index_reviews, review_stats
from vectorstore.sentiment import EmbeddingSentiment, VaderSentiment, star_sentiment
from vectorstore.sentiment_table import score_reviews

GOOD = [
    "Absolutely love it, sounds fantastic and works perfectly.",
    "Excellent quality, highly recommend it.",
    "Great value, I am very happy with this purchase.",
    "Wonderful tone, best strings I have used.",
]
BAD = [
    "Terrible, it broke after a day and support ignored me.",
    "Awful quality, a complete waste of money.",
    "Horrible noise, returned it, very disappointed.",
    "Worst purchase ever, cheap and useless.",
]
MEH = [
    "It is okay, does the job, nothing special.",
    "Average product, fine for the price I guess.",
    "Decent but not great, some good and some bad points.",
    "Mixed feelings, it works but feels average.",
]


def _sentiment_rows(warehouse) -> dict[str, tuple[str, float, str]]:
    with warehouse.engine.connect() as conn:
        return {
            r: (s, sc, m)
            for r, s, sc, m in conn.execute(text("SELECT review_id, sentiment, score, model FROM review_sentiment"))
        }


def test_few_rated_reviews_are_scored_by_vader_and_rescored_only_when_their_text_changes(
    review_warehouse, embedder, tmp_path
):
    index = ReviewIndex.open(tmp_path / "reviews", embedder=embedder)
    index_reviews(review_warehouse, index)
    report = score_reviews(review_warehouse, index, tmp_path / "models" / "sentiment.npz")
    assert report.model.startswith("vader") and report.scored == 60 and not report.trained
    rows = _sentiment_rows(review_warehouse)
    stored = {i: doc for i, _, doc in index.stored(include_documents=True)}
    expected = VaderSentiment().score(list(stored.values()))
    assert {i: rows[i][0] for i in stored} == dict(zip(stored, expected.labels))  # VADER on the indexed text

    again = score_reviews(review_warehouse, index, tmp_path / "models" / "sentiment.npz")
    assert (again.scored, again.unchanged) == (0, 60)
    with review_warehouse.begin() as conn:
        conn.execute(
            text("UPDATE reviews SET body = 'Horrible, broke at once, a waste of money.' WHERE review_id = 'r0001'")
        )
        conn.execute(text("DELETE FROM reviews WHERE review_id = 'r0002'"))
    index_reviews(review_warehouse, index)
    third = score_reviews(review_warehouse, index, tmp_path / "models" / "sentiment.npz")
    assert (third.scored, third.deleted, third.unchanged) == (1, 1, 58)
    rows = _sentiment_rows(review_warehouse)
    assert rows["r0001"][0] == "negative" and "r0002" not in rows and len(rows) == 59


def _rated_reviews(n: int) -> list[dict]:
    rows = []
    for k in range(n):
        rating = (5, 1, 3, 4, 2)[k % 5]
        texts = GOOD if rating >= 4 else BAD if rating <= 2 else MEH
        rows.append(
            {
                **review_rows(1)[0],
                "review_id": f"s{k:04d}",
                "user_id": f"u{k % 9}",
                "item_id": ("i-amp", "i-mic")[k % 2],
                "ts": datetime(2024, 1, 1) + timedelta(days=k),
                "rating": rating,
                "title": "",
                "body": f"{texts[k % 4]} (order {k})",
            }
        )
    return rows


def test_enough_rated_reviews_train_the_classifier_which_is_saved_and_grouped_by_stats(duckdb_url, embedder, tmp_path):
    from warehouse import Warehouse

    warehouse = Warehouse.open(duckdb_url)
    warehouse.create_schema()
    load_reviews(warehouse, _rated_reviews(250))
    index = ReviewIndex.open(tmp_path / "reviews", embedder=embedder)
    index_reviews(warehouse, index)
    path = tmp_path / "models" / "sentiment.npz"
    report = score_reviews(warehouse, index, path)
    assert report.trained and report.model == "minilm-logreg-250" and path.exists()
    rows = _sentiment_rows(warehouse)
    agree = np.mean([rows[i][0] == star_sentiment(m["rating"]) for i, m, _ in index.stored()])
    assert agree > 0.95  # the texts say what the stars say

    model = EmbeddingSentiment.load(path)
    page = index.collection.get(ids=["s0000", "s0001"], include=["embeddings"])
    assert model.score(None, np.asarray(page["embeddings"])).labels == [rows["s0000"][0], rows["s0001"][0]]
    assert not score_reviews(warehouse, index, path).trained  # loaded, not trained again

    stats = review_stats(warehouse, ReviewFilter(item="i-mic", since="2024-03-01"))
    with warehouse.engine.connect() as conn:
        counted = dict(
            conn.execute(
                text(
                    "SELECT s.sentiment, COUNT(*) FROM review_sentiment s JOIN reviews r USING (review_id) "
                    "WHERE r.item_id = 'i-mic' AND r.ts >= '2024-03-01' GROUP BY 1"
                )
            ).all()
        )
    assert stats.sentiment == {k: counted.get(k, 0) for k in ("negative", "neutral", "positive")}
    assert sum(n for _, n, _, _ in stats.sentiment_over_time) == sum(counted.values())
    assert any("review_sentiment" in sql for sql in stats.sql)
    with warehouse.engine.connect() as conn:
        own = dict(
            conn.execute(
                text(
                    "SELECT s.sentiment, COUNT(*) FROM review_sentiment s JOIN reviews r USING (review_id) "
                    "WHERE r.user_id = 'u1' GROUP BY 1"
                )
            ).all()
        )
    warehouse.dispose()

    from warehouse.readonly import ReadOnlyWarehouse

    readonly = ReadOnlyWarehouse(duckdb_url)  # what the agent's review_stats reads: the same counts
    try:
        assert review_stats(readonly, ReviewFilter(item="i-mic", since="2024-03-01")).sentiment == stats.sentiment
        assert review_stats(readonly, user_scope="u1").sentiment == {
            k: own.get(k, 0) for k in ("negative", "neutral", "positive")
        }
    finally:
        readonly.close()


def test_stats_have_no_sentiment_before_any_scoring(review_warehouse):
    assert review_stats(review_warehouse).sentiment == {}


def test_classifier_needs_every_class():
    vectors = np.random.default_rng(0).normal(size=(40, 8))
    with pytest.raises(ValueError, match="too few neutral"):
        EmbeddingSentiment.fit(vectors, ["positive", "negative"] * 20)
